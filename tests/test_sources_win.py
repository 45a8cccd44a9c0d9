"""A run's explicit ``sources=`` win over same-named modules an earlier run imported from elsewhere.

A plugin host running two plugins that share a package name must get each
plugin's own code, whatever kind of source each plugin comes in.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

import zrun


def plugin(tag: str) -> dict:
    return {"pkg/__init__.py": f"TAG = {tag!r}\n", "pkg/main.py": f"from pkg import TAG\nWHO = {tag!r}\n"}


@pytest.mark.parametrize("alter_sys", [False, True])
def test_run_module_second_source_wins(make_tree: Any, clean_sys: Any, alter_sys: bool) -> None:
    first, second = make_tree(plugin("A")), make_tree(plugin("B"))
    ran_a = zrun.run_module("pkg.main", sources=first.sources, alter_sys=alter_sys)
    ran_b = zrun.run_module("pkg.main", sources=second.sources, alter_sys=alter_sys)
    assert (ran_a["WHO"], ran_a["TAG"]) == ("A", "A")
    assert (ran_b["WHO"], ran_b["TAG"]) == ("B", "B")
    again = zrun.run_module("pkg.main", sources=first.sources, alter_sys=alter_sys)
    assert (again["WHO"], again["TAG"]) == ("A", "A")


def test_run_second_source_wins(make_tree: Any, clean_sys: Any) -> None:
    first, second = make_tree(plugin("A")), make_tree(plugin("B"))
    assert zrun.run("pkg.main", sources=first.sources)["WHO"] == "A"
    assert zrun.run("pkg.main", sources=second.sources)["WHO"] == "B"
    assert zrun.run("pkg.main", sources=second.sources, alter_sys=False)["TAG"] == "B"


def test_host_module_comes_back_after_the_run(make_tree: Any, clean_sys: Any) -> None:
    """The host's own ``pkg`` is shadowed for the run only: the same object afterwards."""
    host = type(sys)("pkg")
    sys.modules["pkg"] = host
    ran = zrun.run_module("pkg.main", sources=make_tree(plugin("B")).sources)
    assert ran["TAG"] == "B"
    assert sys.modules["pkg"] is host


def test_same_source_reuses_what_it_imported(make_tree: Any, clean_sys: Any) -> None:
    """Modules a run's own sources provided are not evicted: a second run over them sees the same objects."""
    tree = make_tree(plugin("A"))
    zrun.run_module("pkg.main", sources=tree.sources)
    package = sys.modules["pkg"]
    zrun.run_module("pkg.main", sources=tree.sources)
    assert sys.modules["pkg"] is package
