"""Imported by the messy plugin; gone from ``sys.modules`` once its scope exits."""


def tidy_up() -> str:
    return "never printed: stdout was swapped"
