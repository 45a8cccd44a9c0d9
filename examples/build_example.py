"""Pack examples/hello into examples/hello.pyz, a zipapp zrun can run.

Entries are sorted and dated 1980-01-01 so the archive is the same bytes on
every machine.
"""

import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def build(source: Path = HERE / "hello", target: Path = HERE / "hello.pyz") -> Path:
    files = sorted(path for path in source.rglob("*") if path.is_file() and "__pycache__" not in path.parts)
    with open(target, "wb") as raw:
        raw.write(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
            entry = "import sys\nfrom hello.greet import main\nsys.exit(main())\n"
            archive.writestr(zipfile.ZipInfo("__main__.py", (1980, 1, 1, 0, 0, 0)), entry)
            for path in files:
                info = zipfile.ZipInfo(path.relative_to(source).as_posix(), (1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return target


if __name__ == "__main__":
    print(build(*(Path(arg) for arg in sys.argv[1:3])))
