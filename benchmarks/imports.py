"""Which modules one command imports that another does not, from ``python -X importtime``.

The report prints this under the hello-world case: it is the list of what
zrun's own start-up costs beyond ``python -m`` on a zip, measured on the tree
being benchmarked rather than described from memory.
"""

from __future__ import annotations

import subprocess
from typing import List

from .measure import Command


def imported(command: Command) -> List[str]:
    """Modules ``command`` imports, in order (its interpreter is ``argv[0]``; ``-X importtime`` is added)."""
    argv = [command.argv[0], "-X", "importtime", *command.argv[1:]]
    result = subprocess.run(argv, cwd=command.cwd, env=command.env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    names = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the header line
                names.append(name)
    return names


def extra_imports(command: Command, baseline: Command) -> List[str]:
    """Modules ``command`` imports and ``baseline`` does not, in ``command``'s import order."""
    if command.skip or baseline.skip:
        return []
    seen = set(imported(baseline))
    return [name for name in imported(command) if name not in seen]
