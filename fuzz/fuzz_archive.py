"""Fuzz the zip reader: index any bytes, then read every member, from memory and from a file.

Only :class:`zrun.errors.ArchiveError` may come out; anything else (``struct.error``,
``zlib.error``, ``IndexError``, ``MemoryError``...) is a crash that libFuzzer saves.
Run: ``python fuzz/fuzz_archive.py [libFuzzer options] [CORPUS_DIR...]`` (atheris needed);
``fuzz/run_bounded.sh SECONDS`` does it with seeds, for CI. A crash found becomes a
regression test in ``tests/test_hostile.py`` (FUZZ_REGRESSIONS).
"""

from __future__ import annotations

import os
import sys
import tempfile

import _common  # noqa: F401 - puts src/ on sys.path
import atheris

with atheris.instrument_imports(include=["zrun"]):
    from zrun.errors import ArchiveError
    from zrun.zip.archive import Archive, clear_cache

SCRATCH = os.path.join(tempfile.mkdtemp(prefix="zrun-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None), "input.zip")


def read_all(archive: Archive) -> None:
    for name in list(archive.members):
        try:
            data = archive.read(name)
        except ArchiveError:
            continue
        if len(data) != archive.members[name].size:
            raise AssertionError(f"{name}: read {len(data)} bytes, the directory says {archive.members[name].size}")


def test_one_input(data: bytes) -> None:
    try:
        read_all(Archive.from_bytes(data, label="<fuzz>"))
    except ArchiveError:
        pass
    with open(SCRATCH, "wb") as stream:
        stream.write(data)
    clear_cache()
    try:
        read_all(Archive.open(SCRATCH))
    except ArchiveError:
        pass


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
