"""The benchmark suite (``benchmarks/``) works: fixtures, alternation, the report.

One smoke test runs the whole suite in ``--quick --no-peers`` mode (tiny
fixtures, no network) and checks that the report has every case, every row
and every target. Nothing here asserts a timing: benchmarks never run as
timed tests.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest

sys.path.append(str(Path(__file__).resolve().parent.parent))  # benchmarks/ is a package beside src/, not installed

from benchmarks import fixtures, run
from benchmarks.cases import Apps, Case, Runs, cases
from benchmarks.measure import Command, Outcome, median, quantile, rotations
from benchmarks.report import render
from benchmarks.results import CaseResult, Interpreter, InterpreterResult, Results
from benchmarks.targets import TARGETS, Target, Verdict

TINY = fixtures.Sizes(modules=3, entries=10)


def test_fixtures_are_what_the_cases_expect(tmp_path: Path) -> None:
    built = fixtures.build(tmp_path, TINY)
    with zipfile.ZipFile(built.bulk_zip) as archive:
        names = set(archive.namelist())
    assert {"bulk/__main__.py", "bulk/m00000.py", "bulk/m00002.py"} <= names
    assert len(names) == TINY.modules + 2
    with zipfile.ZipFile(built.big_zip) as archive:
        assert len(archive.namelist()) == TINY.entries
        assert {"hello/__init__.py", "hello/__main__.py"} <= set(archive.namelist())
    assert (built.hello_dir / "hello" / "__main__.py").is_file()
    assert not list(built.empty.iterdir())


def test_every_command_meets_every_position_in_turn() -> None:
    commands = [Command(key, key, [], {}, Path("."), "") for key in "abc"]
    orders = [[command.key for command in order] for order in rotations(commands, 3)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]


def test_median_and_quantile() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert quantile([5.0], 0.25) == 5.0
    assert quantile([1.0, 2.0, 3.0, 4.0, 5.0], 0.75) == 4.0


def test_verdict_says_by_how_much_a_target_is_missed() -> None:
    target = Target("t", "t", "hello", "zrun", "zipimport", 1.05)
    assert Verdict(target, 1.0, "CPython 3.11").met
    assert "missed** by 20%" in Verdict(target, 1.26, "CPython 3.11").text()
    assert Verdict(target, None, None).text() == "not measured"


def _synthetic_results(tmp_path: Path) -> Results:
    """Made-up samples (not measurements) for every command of every case."""
    built = fixtures.build(tmp_path, TINY)
    apps = Apps(shiv=tmp_path / "shiv.pyz", pex="--no-peers", pex_venv="--no-peers", runner_pyz=tmp_path / "runner.pyz")
    case_list: List[Case] = cases(Path(sys.executable), built, apps, Runs(1, 1, 1, 1, 1), tmp_path)
    results: Dict[str, CaseResult] = {}
    for case in case_list:
        outcomes = {}
        for index, command in enumerate(case.commands):
            outcome = Outcome(skip=command.skip)
            if command.skip is None:
                outcome.seconds = [0.010 * (index + 1)] * 3
                outcome.rss_kib = [10_000 + index] * 3
            outcomes[command.key] = outcome
        results[case.key] = CaseResult(case, outcomes)
    interpreter = Interpreter("CPython 3.11.0", (3, 11), sys.executable, "")
    machine = {"cpu": "cpu", "cores": "2", "memory": "1 GiB", "os": "os", "date": "today", "load": "0.0/0.0/0.0"}
    meta = {"command": "python benchmarks/run.py", "zrun": "here", "peers": "none", "runs": "1"}
    return Results([InterpreterResult(interpreter, results)], machine, meta)


def test_report_names_every_row_skips_and_misses(tmp_path: Path) -> None:
    results = _synthetic_results(tmp_path)
    big = results.runs[0].cases["big"]
    big.outcomes["zipimport"] = Outcome(failure="exit 1: No module named hello")
    text = render(results, "performance.png")
    assert "| fails (expected before 3.13, whose zipimport cannot read ZIP64 archives: exit 1: No module named hello) |" in text
    for case_result in results.runs[0].cases.values():
        for command in case_result.case.commands:
            assert f"| {command.label} |" in text
    assert "| pex app, later runs | not run: --no-peers |" in text
    assert "![" in text and "performance.png" in text
    assert "### Missed targets" in text  # the made-up samples miss the first target (zrun is the 5th row)


def test_quick_suite_writes_the_whole_report(tmp_path: Path) -> None:
    """The suite end to end on tiny fixtures: every case, row and target is in the report."""
    out = tmp_path / "performance.md"
    argv = ["--quick", "--no-peers", "--out", str(out), "--work", str(tmp_path / "work")]
    if os.environ.get("ZRUN_TEST_PYZ"):
        argv += ["--pyz", os.environ["ZRUN_TEST_PYZ"]]
    assert run.main(argv) == 0
    text = out.read_text(encoding="utf-8")
    built = fixtures.build(tmp_path / "labels", fixtures.QUICK)
    apps = Apps("a", "b", "c", "d")
    for case in cases(Path(sys.executable), built, apps, Runs(1, 1, 1, 1, 1), tmp_path):
        assert f"## {case.title}" in text
        for command in case.commands:
            row = next((line for line in text.splitlines() if line.startswith(f"| {command.label} |")), None)
            assert row is not None, command.label
            assert "| fails (" not in row, row
    for target in TARGETS:
        assert f"| {target.text} |" in text
    assert "CPU:" in text and sys.version.split()[0] in text
    assert "`zrun.cli`" in text  # the modules zrun imports beyond `python -m`, from -X importtime
    assert not out.with_suffix(".png").exists()  # no throwaway venv, so no matplotlib and no plot


def test_command_line_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        run.main(["--help"])
    assert raised.value.code == 0
    assert "--quick" in capsys.readouterr().out
