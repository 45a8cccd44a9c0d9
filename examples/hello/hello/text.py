"""Reads its template with importlib.resources, which works inside the archive."""

import sys

if sys.version_info >= (3, 10):
    from importlib.resources import files
else:
    from importlib_resources import files


def greeting(who: str) -> str:
    template = files(__package__).joinpath("data/template.txt").read_text(encoding="utf-8")
    return template.strip().format(who=who)
