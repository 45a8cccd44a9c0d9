"""A well-behaved plugin that ships its own ``utils`` module, clashing with the host's."""

import utils

from .version import VERSION  # written by build_plugins.py, so a rebuild changes it


def greet(host: object) -> str:
    return f"hello from greeter {VERSION} (using {utils.WHO})"
