"""zrun's example wheel: ``hello``, a console script."""
