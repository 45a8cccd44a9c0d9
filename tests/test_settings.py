"""zrun.settings: one documented list of the ZRUN_* variables, which --help shows and the code keeps to."""

from __future__ import annotations

import re
from pathlib import Path

from zrun.settings import Settings, help_text, variables

SRC = Path(__file__).resolve().parent.parent / "src" / "zrun"


def test_every_variable_read_anywhere_is_documented() -> None:
    used = {name for path in SRC.rglob("*.py") for name in re.findall(r"\bZRUN_[A-Z_]+[A-Z]\b", path.read_text(encoding="utf-8"))}
    documented = {name for name, _ in variables()}
    assert used - documented == set()
    assert documented == {"ZRUN_CACHE_DIR", "ZRUN_NO_CACHE", "ZRUN_MAX_MEMBER_SIZE", "ZRUN_VERBOSE"}


def test_each_has_a_value_and_a_line_of_help() -> None:
    for name, doc in variables():
        value, sep, text = doc.splitlines()[0].partition(": ")
        assert sep and value and text.endswith("."), name
        assert f"  {name}={value}" in help_text()


def test_typed_values() -> None:
    assert Settings({}).ZRUN_CACHE_DIR is None and Settings({"ZRUN_CACHE_DIR": "/x/../y"}).ZRUN_CACHE_DIR == "/y"
    assert [Settings({"ZRUN_NO_CACHE": value}).ZRUN_NO_CACHE for value in ("", "0", "1", "yes")] == [False, False, True, True]
    assert Settings({"ZRUN_MAX_MEMBER_SIZE": "1024"}).ZRUN_MAX_MEMBER_SIZE == 1024
    assert Settings({"ZRUN_MAX_MEMBER_SIZE": "lots"}).ZRUN_MAX_MEMBER_SIZE is None
    assert [Settings({"ZRUN_VERBOSE": value}).ZRUN_VERBOSE for value in ("", "0", "2", "yes")] == [0, 0, 2, 1]
