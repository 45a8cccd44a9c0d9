"""The last step of ``build_pyz.py``: shiv's archive made runner.pyz.

shiv writes a generic ``__main__.py`` and knows nothing of what only 3.9
runs. This checks that shiv's ``environment.json`` asks for nothing the fast
path of ``pyz_main.py`` would skip, then rewrites the archive with that
``__main__.py`` and 3.9's backports outside the extracted ``site-packages``,
entry by entry, so the result stays byte-identical whichever interpreter ran
the build.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

#: What ``pyz_main.py``'s fast path assumes of ``environment.json``: the settings shiv's bootstrap would act on, unset.
FAST_PATH_SETTINGS = {"preamble": None, "no_modify": False, "root": None, "script": None}
FAST_PATH_SETTINGS.update({"prepend_pythonpath": None, "extend_pythonpath": False, "always_write_cache": False})


def check_fast_path(archive: Path, entry_point: str) -> None:
    """:class:`ValueError` unless ``archive``'s ``environment.json`` is what ``pyz_main.py``'s fast path reads it as.

    The fast path finds the build id by text (``json`` would cost more than it
    saves) and skips everything the other settings would make shiv do.
    """
    with zipfile.ZipFile(archive) as opened:
        text = opened.read("environment.json").decode("utf-8")
    environment = json.loads(text)
    expected = {**FAST_PATH_SETTINGS, "entry_point": entry_point}
    wrong = {key: environment.get(key) for key, value in expected.items() if environment.get(key) != value}
    build_id = environment.get("build_id") or ""
    if len(build_id) != 64 or build_id.strip("0123456789abcdef") or text.count(f'"build_id": "{build_id}"') != 1:
        wrong["build_id"] = build_id
    if wrong:
        raise ValueError(f"shiv wrote an environment.json the fast path of pyz_main.py cannot take: {wrong}")


#: Entries read through zipimport on every run: stored, so that no run needs ``zlib`` to start.
STORED = ("__main__.py", "environment.json")


def replace_main(archive: Path, main: bytes, backports: Path) -> None:
    """Swap shiv's ``__main__.py`` for ``main``, keeping the ``#!`` line and every other entry, date and mode.

    :data:`STORED` entries are written uncompressed (the rest stay as shiv wrote them); the files
    under ``backports`` are added below its name, sorted, dated and deflated as shiv's entries.
    """
    data = archive.read_bytes()
    with zipfile.ZipFile(archive) as original:
        entries = [(info, original.read(info)) for info in original.infolist()]
    prefix = data[: min(info.header_offset for info, _ in entries)]
    partial = archive.with_name(archive.name + ".main")
    with open(partial, "wb") as stream:
        stream.write(prefix)
        with zipfile.ZipFile(stream, "w") as rewritten:
            for info, content in entries:
                if info.filename in STORED:
                    info.compress_type = zipfile.ZIP_STORED
                rewritten.writestr(info, main if info.filename == "__main__.py" else content)
            date_time = next(info.date_time for info, _ in entries if info.filename == "__main__.py")
            files = sorted((path.relative_to(backports.parent).as_posix(), path) for path in backports.rglob("*") if path.is_file())
            for name, path in files:
                added = zipfile.ZipInfo(name, date_time=date_time)
                added.compress_type = zipfile.ZIP_DEFLATED
                added.external_attr = 0o100644 << 16
                rewritten.writestr(added, path.read_bytes())
    shutil.copymode(archive, partial)
    os.replace(partial, archive)
