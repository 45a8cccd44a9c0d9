"""The benchmark suite (``benchmarks/``) works: fixtures, alternation, sessions, the report.

One smoke test runs the whole suite in ``--quick --no-peers`` mode (tiny
fixtures, no network, each interpreter's session a real child process) and
checks that the report has every case, every row, every scaling point and
every target. Nothing here asserts a timing: benchmarks never run as timed
tests.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

sys.path.append(str(Path(__file__).resolve().parent.parent))  # benchmarks/ is a package beside src/, not installed

from benchmarks import fixtures, run, session
from benchmarks.cases import Apps, Case, Runs, cases
from benchmarks.measure import Command, Outcome, median, quantile, rotations
from benchmarks.places import ROOT, Host, Sid, parse_python, reaches, wrap
from benchmarks.report import render
from benchmarks.results import CaseResult, Interpreter, InterpreterResult, Results
from benchmarks.targets import TARGETS, Target, Verdict, summary, verdict
from benchmarks.zipwriter import write_stored

TINY = fixtures.Sizes(modules=3, entries_scale=(10, 20), modules_scale=(2, 3))


def test_fixtures_are_what_the_cases_expect(tmp_path: Path) -> None:
    built = fixtures.build(tmp_path, TINY)
    assert built == fixtures.locate(tmp_path, TINY)  # a session finds what build() wrote
    for bulk, module in ((built.bulk, "bulk_module.py"), (built.small, "small_module.py")):
        with zipfile.ZipFile(bulk.zip) as archive:
            names = set(archive.namelist())
            assert archive.read("bulk/m00002.py") == (fixtures.PAYLOAD / module).read_bytes()
        assert {"bulk/__main__.py", "bulk/m00000.py", "bulk/m00002.py"} <= names
        assert len(names) == TINY.modules + 2
        assert (bulk.dir / "bulk" / "m00002.py").is_file()
    for count, path in built.entries:
        with zipfile.ZipFile(path) as archive:
            assert len(archive.namelist()) == count
            assert archive.read("hello/__main__.py") == (built.hello_dir / "hello" / "__main__.py").read_bytes()
    assert [bulk.count for bulk in built.modules] == [2, 3]
    with zipfile.ZipFile(built.modules[1].zip) as archive:
        assert len(archive.namelist()) == 3 + 2
    assert (built.hello_dir / "hello" / "__main__.py").is_file()
    assert not list(built.empty.iterdir())


def test_streaming_writer_writes_a_zip64_archive_zipfile_reads(tmp_path: Path) -> None:
    """Past 65,535 members the writer adds the ZIP64 end records, as zipfile itself would."""
    path = tmp_path / "many.zip"
    members = [("pkg/__init__.py", b"VALUE = 1\n"), ("pkg/caf\u00e9.txt", b"latte")]
    members += [(f"f/{index:06d}", b"") for index in range(70_000)]
    with open(path, "wb") as stream:
        assert write_stored(stream, iter(members)) == len(members)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        assert [info.filename for info in infos] == [name for name, _ in members]
        assert archive.read("pkg/__init__.py") == b"VALUE = 1\n"
        assert archive.read("pkg/caf\u00e9.txt") == b"latte"
        assert archive.testzip() is None
    assert path.read_bytes()[-22:-18] == b"PK\x05\x06"
    assert b"PK\x06\x06" in path.read_bytes()[-98:]  # the ZIP64 end record


def test_sid_interpreters_run_through_the_chroot_script() -> None:
    place, python = parse_python("sid:/usr/bin/python3.14")
    assert place == Sid() and python == Path("/usr/bin/python3.14")
    assert wrap(place, ["python3.14", "-c", "pass"]) == [str(ROOT / ".ci" / "sid"), "exec", str(ROOT), "python3.14", "-c", "pass"]
    assert parse_python("/usr/bin/python3") == (Host(), Path("/usr/bin/python3"))
    assert wrap(Host(), ["python3"]) == ["python3"]
    assert reaches(place, ROOT / "benchmarks" / ".work" / "x")
    assert not reaches(place, Path("/tmp/elsewhere"))
    assert reaches(Host(), Path("/tmp/elsewhere"))


def test_a_job_crosses_into_a_session_unchanged(tmp_path: Path) -> None:
    job = session.Job(sys.executable, str(tmp_path), TINY, Apps(tmp_path / "shiv.pyz", "--no-peers", "--no-peers", tmp_path / "r.pyz"),
                      Runs(1, 2, 3, 4, 5), str(tmp_path / "python-0"), True, ["/usr/bin/time"])
    assert session.decode(session.encode(job)) == job


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
    assert Verdict(target, 1.0).met
    assert Verdict(target, 1.26).text() == "1.26\N{MULTIPLICATION SIGN} **missed** by 20%"
    assert Verdict(target, None).text() == "not measured"
    assert Verdict(Target("t", "t", "big", "a", "b", 0.1, since=(3, 13)), 0.5, applies=False).text() == "n/a (from 3.13)"


def _synthetic_run(tmp_path: Path, version: Tuple[int, int] = (3, 11)) -> InterpreterResult:
    """Made-up samples (not measurements) for every command of every case."""
    built = fixtures.locate(tmp_path, fixtures.FULL)
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
    interpreter = Interpreter(f"CPython {version[0]}.{version[1]}.0", version, sys.executable, "", "sid:" if version >= (3, 14) else "")
    return InterpreterResult(interpreter, results)


def _synthetic_results(tmp_path: Path, *versions: Tuple[int, int]) -> Results:
    machine = {"cpu": "cpu", "cores": "2", "memory": "1 GiB", "os": "os", "date": "today", "load": "0.0/0.0/0.0"}
    meta = {"command": "python benchmarks/run.py", "zrun": "here", "peers": "none", "runs": "1"}
    return Results([_synthetic_run(tmp_path, version) for version in versions or [(3, 11)]], machine, meta)


def test_report_names_every_row_skips_and_misses(tmp_path: Path) -> None:
    results = _synthetic_results(tmp_path, (3, 11), (3, 15))
    big = results.runs[0].cases["entries-3"]
    big.outcomes["zipimport"] = Outcome(failure="exit 1: No module named hello")
    text = render(results, "performance.png")
    for case_result in results.runs[0].cases.values():
        if case_result.case.series:
            continue
        for command in case_result.case.commands:
            assert f"| {command.label} |" in text
    assert "| pex app, later runs | not run: --no-peers |" in text
    assert "![" in text and "performance.png" in text
    assert "### Missed targets" in text  # the made-up samples miss the first target (zrun is the 5th row)
    assert "`sid:" in text  # a chroot interpreter is named as --python names it
    scaling = text.split("## Scaling: archive entries", 1)[1].split("## Scaling: modules", 1)[0]
    assert "| 1,000,000 | " in scaling and "| 1,000 | " in scaling
    assert "| 1,000,000 | 10.0 | fails |" in scaling  # the failed zipimport of the 1M archive on 3.11
    assert "1,000,000: zipimport: `PYTHONPATH=big.zip python -m hello`: exit 1: No module named hello" in scaling
    modules = text.split("## Scaling: modules", 1)[1]
    assert "| 10,000 | " in modules and "| 10 | " in modules


def test_every_target_is_judged_on_every_interpreter(tmp_path: Path) -> None:
    results = _synthetic_results(tmp_path, (3, 9), (3, 13))
    zipimport_big = next(target for target in TARGETS if target.key == "entries_100k")
    old, new = (verdict(zipimport_big, run) for run in results.runs)
    assert old.text() == "n/a (from 3.13)" and old.met is None
    assert new.value is not None and new.met is False  # made-up: zrun_second (4th) / zipimport (2nd) = 2x
    assert summary(zipimport_big, results).startswith("**missed** on 1 of 1 (3.13.0; worst 2.00")
    hello = next(target for target in TARGETS if target.key == "hello")
    assert summary(hello, results).startswith("**missed** on 2 of 2 (3.9.0, 3.13.0;")
    text = render(results, None)
    for target in TARGETS:
        row = next(line for line in text.splitlines() if line.startswith(f"| {target.text} |"))
        assert row.count(" | ") == 3, row  # one cell per interpreter, then the verdict


def test_quick_suite_writes_the_whole_report(tmp_path: Path) -> None:
    """The suite end to end on tiny fixtures: every case, row and target is in the report."""
    out = tmp_path / "performance.md"
    argv = ["--quick", "--no-peers", "--out", str(out), "--work", str(tmp_path / "work")]
    if os.environ.get("ZRUN_TEST_PYZ"):
        argv += ["--pyz", os.environ["ZRUN_TEST_PYZ"]]
    assert run.main(argv) == 0
    text = out.read_text(encoding="utf-8")
    built = fixtures.locate(tmp_path / "labels", fixtures.QUICK)
    apps = Apps("a", "b", "c", "d")
    for case in cases(Path(sys.executable), built, apps, Runs(1, 1, 1, 1, 1), tmp_path):
        if case.series:  # a row of its series' table
            table = text.split(f"## Scaling: {'archive entries' if case.series == 'entries' else 'modules'}", 1)[1].split("\n## ", 1)[0]
            row = next((line for line in table.splitlines() if line.startswith(f"| {case.size:,} |")), None)
            assert row is not None and "fails" not in row and "n/a" not in row.split(" | ")[1], (case.key, row)
            continue
        assert f"## {case.title}" in text
        for command in case.commands:
            row = next((line for line in text.splitlines() if line.startswith(f"| {command.label} |")), None)
            assert row is not None, command.label
            assert "| fails (" not in row, row
    for target in TARGETS:
        assert f"| {target.text} |" in text
    assert "CPU:" in text and sys.version.split()[0] in text
    assert "`zrun.cli.main`" in text  # the modules zrun imports beyond `python -m`, from -X importtime
    assert "in a venv of its own" in text  # measured without the base install's site-packages
    assert not out.with_suffix(".png").exists()  # no throwaway venv, so no matplotlib and no plot


def test_command_line_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        run.main(["--help"])
    assert raised.value.code == 0
    assert "--quick" in capsys.readouterr().out
