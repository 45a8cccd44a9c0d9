"""``zrun info TARGET [--json]``: what an archive, wheel, bundle or directory holds, without running it.

shiv and pex users expect to look inside an archive before trusting it. The
report is :func:`zrun.cli.inventory.describe`'s; this module prints it, as
text or as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, List

from ..errors import ZrunError
from .inventory import describe

USAGE = "usage: zrun info TARGET [--json]\n"


def text(report: Dict[str, Any], shown: str = "") -> str:
    """The human-readable form of :func:`describe`, naming the target ``shown`` as the user typed it."""
    lines = [f"{shown or report['path']}: {report['kind']}, {report['files']} files, {report['size']:,} bytes"]
    if report["compression"]:
        methods = ", ".join(f"{count} {label}" for label, count in sorted(report["compression"].items()))
        lines.append(f"  compression:     {methods}; {report['uncompressed']:,} bytes uncompressed")
    for name, version in report["metadata"].items():
        lines.append(f"  distribution:    {name} {version}")
    lines.append(f"  runs (__main__): {', '.join(report['main']) or 'none'}")
    for group in ("console_scripts", "gui_scripts"):
        for name, ref in report[group].items():
            lines.append(f"  {group[:-1].replace('_', ' ') + ':':<17}{name} = {ref}")
    for group, points in report["entry_points"].items():
        for name, ref in points.items():
            lines.append(f"  entry point:     [{group}] {name} = {ref}")
    lines.append(f"  packages:        {_listed(report['packages'])}")
    lines.append(f"  modules:         {_listed(report['modules'])}")
    for extension in report["extensions"]:
        here = "loads on this interpreter" if extension["loads_here"] else "not for this interpreter"
        lines.append(f"  extension:       {extension['member']} ({here})")
    cached = report["cache"]
    if cached is not None:
        state = "disabled by ZRUN_NO_CACHE" if cached["disabled"] else f"{cached['compiled']} of {cached['sources']} modules compiled"
        if report["extensions"]:
            state += ", extensions " + ("extracted" if cached["extensions_extracted"] else "not extracted")
        if cached["index"] is not None:
            state += ", index " + ("cached" if cached["index"] else "not cached")
        lines.append(f"  zrun cache:      {state} ({_tilde(cached['directory'])})")
    return "\n".join(lines) + "\n"


def _tilde(path: str) -> str:
    """``path`` with the home directory written ``~``, as a shell would show it."""
    home = os.path.expanduser("~")
    return "~" + path[len(home) :] if home not in ("~", os.sep) and (path == home or path.startswith(home + os.sep)) else path


def _listed(names: List[str], shown: int = 12) -> str:
    if not names:
        return "none"
    more = f" ... and {len(names) - shown} more (--json lists all)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def main(args: List[str]) -> int:
    """``zrun info TARGET [--json]``; the exit status (1: unreadable target, 2: usage error)."""
    if args[:1] in (["-h"], ["--help"]):
        sys.stdout.write(USAGE + "\nWhat an archive, wheel, bundle or directory holds, read from its index; nothing runs.\n")
        return 0
    as_json = "--json" in args
    rest = [arg for arg in args if arg != "--json"]
    if len(rest) != 1 or rest[0].startswith("-"):
        sys.stderr.write(f"{USAGE}zrun: error: info needs exactly one TARGET\n")
        return 2
    try:
        report = describe(rest[0])
    except FileNotFoundError:
        sys.stderr.write(f"zrun: error: can't open file {os.path.abspath(rest[0])!r}: [Errno 2] No such file or directory\n")
        return 2
    except (ZrunError, OSError, UnicodeDecodeError, ValueError) as exc:
        sys.stderr.write(f"zrun: error: {exc}\n")
        return 1
    sys.stdout.write(json.dumps(report, indent=2) + "\n" if as_json else text(report, rest[0]))
    return 0
