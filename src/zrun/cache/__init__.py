"""zrun's on-disk cache: where it lives, who may trust it, and what it stores."""
