"""zrun's benchmark suite: one command, its own fixtures, every peer in the same run.

    python benchmarks/run.py [--python PATH | --python sid:PATH]... [--out docs/performance.md]
    python benchmarks/run.py --quick --no-peers            # smoke test, report on stdout

It builds its fixtures in a temporary directory (a hello package as a
directory, a zip, a stdlib zipapp, a shiv app and two pex apps; 2,000
generated modules of 80 and of ~20 lines, each as a zip and as a directory;
the scaling series: archives of 1,000 to 1,000,000 entries and packages of
10 to 10,000 modules; ``runner.pyz`` from ``build_scripts/build_pyz.py``),
installs shiv, pex and matplotlib into a throwaway venv it creates (skipped
with ``--no-peers``), times every command on every interpreter given, and
writes the report and, beside it, the plot (``docs/performance.png``).

``--python sid:/usr/bin/python3.14`` measures an interpreter of the Debian-sid
chroot (``.ci/sid``): its whole session runs inside, with peers (shiv, pex,
runner.pyz) built by a venv of its own made inside, and the fixtures then
live under the checkout (``benchmarks/.work/``), the one directory the chroot
sees.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

if not __package__:  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import fixtures, session
from benchmarks.cases import Apps, Runs
from benchmarks.peers import PLOT_PACKAGES, build_apps, clean_venv, log, make_venv, peers_for, rss_tools, versions
from benchmarks.places import Host, Place, Sid, parse_python, reaches, wrap
from benchmarks.report import load_average, machine, plot_data, render
from benchmarks.results import CaseResult, Interpreter, InterpreterResult, Results

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUT = ROOT / "docs" / "performance.md"
IN_CHECKOUT = HERE / ".work"  # fixtures of a run with a chroot interpreter (gitignored)
FULL_RUNS = Runs(hello=21, packaged=5, bulk=7, scale=3, rss=1)
QUICK_RUNS = Runs(hello=1, packaged=1, bulk=1, scale=1, rss=1)


def parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", action="append", metavar="[sid:]PATH",
                        help="an interpreter to measure; repeatable (default: the one running this); "
                        "sid:PATH is one inside the Debian-sid chroot of .ci/sid")
    parser.add_argument("--out", help=f"the report (default: {DEFAULT_OUT.relative_to(ROOT)}, or stdout with --quick); "
                        "the plot goes beside it as .png; '-' for stdout")
    parser.add_argument("--quick", action="store_true", help="tiny fixtures, 1 round, no warm-up: a smoke test, not a measurement")
    parser.add_argument("--no-peers", action="store_true",
                        help="no network: no throwaway venv, so no shiv/pex apps, no runner.pyz build (see --pyz) and no plot")
    parser.add_argument("--runs", type=int, help="timed rounds per case (default: 21 hello, 5 first runs and pex, 7 module "
                        "imports, 3 per scaling point; 1 --quick)")
    parser.add_argument("--pyz", type=Path, help="use this runner.pyz instead of building one")
    parser.add_argument("--work", type=Path, help="build fixtures here and keep them (default: a temporary directory)")
    parser.add_argument("--as-given", action="store_true",
                        help="measure each --python itself, not a venv of its own made by the suite (whose site-packages is empty)")
    return parser.parse_args(argv)


def describe(spec: str) -> Tuple[Place, Interpreter]:
    """Where ``spec`` lives, its version and build; stops the suite if it cannot run."""
    place, python = parse_python(spec)
    try:
        result = subprocess.run(wrap(place, [str(python), str(HERE / "launchers" / "describe.py")]), capture_output=True, text=True,
                                check=True)
        info = json.loads(result.stdout)
    except (OSError, subprocess.CalledProcessError, ValueError) as exc:
        raise SystemExit(f"benchmarks: cannot run --python {spec}: {exc}") from exc
    major, minor = info["version_info"]
    return place, Interpreter(f"{info['implementation']} {info['version']}", (major, minor), str(python), info["build"],
                              place.spelling)


def ordered(interpreters: List[Tuple[Place, Interpreter]]) -> List[Tuple[Place, Interpreter]]:
    """The reference interpreter (3.11) first, then the others oldest first."""
    return sorted(interpreters, key=lambda pair: (pair[1].version != (3, 11), pair[1].version))


def zrun_revision() -> str:
    """This checkout's commit, and whether ``src/`` differs from it (read-only git commands)."""
    try:
        git = ["git", "-C", str(ROOT)]
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", "src"], capture_output=True).returncode != 0
    except (OSError, subprocess.CalledProcessError):
        return "this checkout (no git)"
    return f"commit {head}" + (" with uncommitted changes in `src/`" if dirty else "")


def run_interpreter(place: Place, interpreter: Interpreter, job: session.Job) -> InterpreterResult:
    """Every case on one interpreter, measured by a session that interpreter runs where it lives."""
    folder = Path(job.folder)
    folder.mkdir(parents=True)
    job_file = folder / "job.json"
    job_file.write_text(session.encode(job), encoding="utf-8")
    argv = wrap(place, [interpreter.executable, str(HERE / "session.py"), str(job_file)])
    result = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"benchmarks: the session of {interpreter.label} failed (exit {result.returncode})")
    data = json.loads(result.stdout)
    measured = session.outcomes(data)
    results = {case.key: CaseResult(case, measured[case.key]) for case in session.job_cases(job)}
    return InterpreterResult(interpreter, results, data["extra_imports"], rss=data["rss"])


def draw(peers_python: Path, results: Results, work: Path, output: Path) -> bool:
    data = work / "plot.json"
    data.write_text(json.dumps(plot_data(results)), encoding="utf-8")
    result = subprocess.run([str(peers_python), str(HERE / "plot.py"), str(data), str(output)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        log(f"plot failed, report written without it:\n{result.stdout}")
    return result.returncode == 0


def work_directory(args: argparse.Namespace, places: Sequence[Place]) -> Path:
    """``--work``, or a new temporary directory that every place reaches (under the checkout with a chroot interpreter)."""
    if args.work is not None:
        work = Path(args.work).resolve()
        for place in places:
            if not reaches(place, work):
                raise SystemExit(f"benchmarks: --work {work}: the chroot sees only {ROOT}; choose a directory under it")
        work.mkdir(parents=True, exist_ok=True)
        return work
    inside = any(isinstance(place, Sid) for place in places)
    if inside:
        IN_CHECKOUT.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="zrun-bench-", dir=IN_CHECKOUT if inside else None))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse(argv)
    command = " ".join(["python benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)])
    out = args.out if args.out is not None else ("-" if args.quick else str(DEFAULT_OUT))
    runs = QUICK_RUNS if args.quick else FULL_RUNS
    if args.runs:
        runs = Runs(args.runs, args.runs, args.runs, args.runs, runs.rss)
    interpreters = ordered([describe(spec) for spec in (args.python or [sys.executable])])
    places: Dict[str, Place] = {type(place).__name__: place for place, _ in interpreters}
    work = work_directory(args, list(places.values()))
    start_machine = machine()
    try:
        if not args.as_given:
            log("making a venv without pip for every interpreter (--as-given measures them as they are)")
            interpreters = [(place, clean_venv(place, interpreter, work / f"venv-{index}"))
                            for index, (place, interpreter) in enumerate(interpreters)]
        sizes = fixtures.QUICK if args.quick else fixtures.FULL
        log(f"fixtures in {work}: hello, {sizes.modules:,} modules twice, archives of {sizes.entries_scale} entries, "
            f"packages of {sizes.modules_scale} modules")
        built = fixtures.build(work, sizes)
        # The apps of each place are built by a peers venv there, made by the first interpreter of that place.
        apps: Dict[str, Apps] = {}
        peer_versions: List[str] = []
        for name, place in places.items():
            python = next(Path(interpreter.executable) for where, interpreter in interpreters if where == place)
            peers = peers_for(place, python, work, wanted=not args.no_peers)
            apps[name] = build_apps(place, work / f"apps-{name.lower()}", built, peers, args.pyz)
            if isinstance(peers, Path):
                peer_versions.append(f"{versions(place, peers, ('shiv', 'pex'))} ({name.lower()})")
        plot_python: Optional[Path] = None
        if out != "-" and not args.no_peers:
            try:
                plot_python = make_venv(Host(), Path(sys.executable), work / "plot-venv", PLOT_PACKAGES)
            except fixtures.ToolError as exc:
                log(f"no plot: {exc}\n{exc.output}")
        tools = rss_tools(work, list(places.values()))
        measured = []
        for index, (place, interpreter) in enumerate(interpreters):
            job = session.Job(interpreter.executable, str(work), sizes, apps[type(place).__name__], runs,
                              str(work / f"python-{index}"), args.quick, tools)
            measured.append(run_interpreter(place, interpreter, job))
        meta = {
            "command": command,
            "zrun": zrun_revision(),
            "peers": "; ".join(peer_versions) or "not measured (--no-peers)",
            "runs": f"{runs.hello} timed rounds for hello-world start-up (after {0 if args.quick else 2} warm-up rounds), "
            f"{runs.packaged} for first runs and pex, {runs.bulk} for the module imports, {runs.scale} per point of the "
            f"scaling series (after {0 if args.quick else 1} warm-up round each); then {runs.rss} round(s) for peak RSS"
            + ("" if tools else " (not measured: GNU time not installed)"),
            "quick": "yes" if args.quick else "",
        }
        meta["load_end"] = load_average()
        results = Results(measured, start_machine, meta)
        plot: Optional[str] = None
        if out != "-" and plot_python is not None:
            png = Path(out).with_suffix(".png")
            png.parent.mkdir(parents=True, exist_ok=True)
            if draw(plot_python, results, work, png):
                plot = png.name
        text = render(results, plot)
        if out == "-":
            sys.stdout.write(text)
        else:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            Path(out).write_text(text, encoding="utf-8")
            log(f"wrote {out}" + (f" and {Path(out).with_suffix('.png')}" if plot else ""))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
