"""Build the example plugin archives: ``plugins/<name>/`` becomes ``<name>.zip``.

    python build_plugins.py DEST [--version 2.0] [NAME ...]

``greeter`` and ``crasher`` carry a ``.dist-info/entry_points.txt``, so they
declare entry points the way a wheel does. ``greeter`` also gets a generated
``greeter/version.py``: building it again with another ``--version`` is how
the host's reload is shown. Entries are sorted and dated 1980-01-01, so the
bytes change only when the code does; each archive is written to a temporary
file and moved into place with ``os.replace``, so a host never reads half an
archive.
"""

from __future__ import annotations

import argparse
import os
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

PLUGINS = Path(__file__).resolve().parent / "plugins"
NAMES = sorted(path.name for path in PLUGINS.iterdir() if path.is_dir())
_DATE = (1980, 1, 1, 0, 0, 0)


def plugin_files(name: str, version: str) -> Dict[str, bytes]:
    """The archive entries of one plugin: its source tree plus generated files."""
    root = PLUGINS / name
    files = {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    if name == "greeter":
        files["greeter/version.py"] = f"VERSION = {version!r}\n".encode()
    return files


def build_one(name: str, dest: Path, version: str = "1.0") -> Path:
    """Write ``dest/<name>.zip`` atomically and return its path."""
    target = dest / f"{name}.zip"
    partial = dest / f".{name}.zip.partial"
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, data in sorted(plugin_files(name, version).items()):
            info = zipfile.ZipInfo(entry, _DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    os.replace(partial, target)
    return target


def build(dest: str | os.PathLike[str], *, version: str = "1.0", names: Optional[Sequence[str]] = None) -> List[Path]:
    """Build the named plugins (all by default) into ``dest``."""
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    return [build_one(name, folder, version) for name in (names or NAMES)]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest")
    parser.add_argument("--version", default="1.0", help="greeter's version (default 1.0)")
    parser.add_argument("names", nargs="*", help=f"plugins to build (default: all of {', '.join(NAMES)})")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(NAMES))
    if unknown:
        parser.error(f"no such plugin: {', '.join(unknown)}")
    for path in build(args.dest, version=args.version, names=args.names):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
