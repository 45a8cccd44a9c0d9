"""A tiny package that zrun runs from inside a zip archive."""
