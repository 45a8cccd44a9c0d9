"""zrun's benchmark suite: one command, its own fixtures, every peer in the same run.

    python benchmarks/run.py [--python PATH]... [--out docs/performance.md]
    python benchmarks/run.py --quick --no-peers            # smoke test, report on stdout

It builds its fixtures in a temporary directory (a hello package as a
directory, a zip, a stdlib zipapp, a shiv app and two pex apps; 2,000
generated modules as a zip and as a directory; a 100,000-entry archive;
``runner.pyz`` from ``build_scripts/build_pyz.py``), installs shiv, pex and
matplotlib into a throwaway venv it creates (skipped with ``--no-peers``),
times every command on every interpreter given, and writes the report and,
beside it, the plot (``docs/performance.png``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple, Union

if not __package__:  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import fixtures
from benchmarks.cases import Apps, Runs, cases
from benchmarks.imports import extra_imports
from benchmarks.measure import Scratch, gnu_time, measure
from benchmarks.report import load_average, machine, plot_data, render
from benchmarks.results import CaseResult, Interpreter, InterpreterResult, Results

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUT = ROOT / "docs" / "performance.md"
PEER_PACKAGES = ("shiv>=1.0.4,<1.1", "pex", "matplotlib")
FULL_RUNS = Runs(hello=21, packaged=5, bulk=7, big=7, rss=1)
QUICK_RUNS = Runs(hello=2, packaged=1, bulk=2, big=2, rss=1)


def parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", action="append", type=Path, metavar="PATH",
                        help="an interpreter to measure; repeatable (default: the one running this)")
    parser.add_argument("--out", help=f"the report (default: {DEFAULT_OUT.relative_to(ROOT)}, or stdout with --quick); "
                        "the plot goes beside it as .png; '-' for stdout")
    parser.add_argument("--quick", action="store_true", help="tiny fixtures and 2 rounds: a smoke test, not a measurement")
    parser.add_argument("--no-peers", action="store_true",
                        help="no network: no throwaway venv, so no shiv/pex apps, no runner.pyz build (see --pyz) and no plot")
    parser.add_argument("--runs", type=int, help="timed rounds per case (default: 21 hello, 5 first runs and pex, 7 others; 2 --quick)")
    parser.add_argument("--pyz", type=Path, help="use this runner.pyz instead of building one")
    parser.add_argument("--work", type=Path, help="build fixtures here and keep them (default: a temporary directory)")
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(f"benchmarks: {message}", file=sys.stderr, flush=True)


def describe(python: Path) -> Interpreter:
    """Version and build of ``python``; stops the suite if it cannot run."""
    try:
        result = subprocess.run([str(python), str(HERE / "launchers" / "describe.py")], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"benchmarks: cannot run --python {python}: {exc}") from exc
    info = json.loads(result.stdout)
    major, minor = info["version_info"]
    return Interpreter(f"{info['implementation']} {info['version']}", (major, minor), str(python), info["build"])


def ordered(interpreters: List[Interpreter]) -> List[Interpreter]:
    """The reference interpreter (3.11) first, then the others oldest first."""
    return sorted(interpreters, key=lambda interpreter: (interpreter.version != (3, 11), interpreter.version))


def make_peers_venv(work: Path) -> Tuple[Path, str]:
    """A throwaway venv with shiv, pex and matplotlib; its python and the peers' versions."""
    location = work / "peers-venv"
    log(f"creating a throwaway venv with {', '.join(PEER_PACKAGES)} (pip, from the package index)")
    venv.create(location, with_pip=True)
    python = location / "bin" / "python"
    fixtures.run_tool([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PEER_PACKAGES])
    listed = json.loads(fixtures.run_tool([str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"]))
    versions = {item["name"].lower(): item["version"] for item in listed}
    return python, ", ".join(f"{name} {versions.get(name, '?')}" for name in ("shiv", "pex", "matplotlib"))


def build(what: str, step: Callable[[], Path]) -> Union[Path, str]:
    """Run a build ``step``; if it fails, log why and return the reason its rows are not run."""
    try:
        return step()
    except fixtures.ToolError as exc:
        log(f"{what}: {exc}\n{exc.output}")
        return f"its build failed: {exc}"


def build_apps(args: argparse.Namespace, work: Path, built: fixtures.Fixtures, peers_python: Optional[Path]) -> Apps:
    """The shiv and pex hello apps and runner.pyz, or why each is missing."""
    shiv_app: Union[Path, str] = "--no-peers"
    pex_app: Union[Path, str] = "--no-peers"
    pex_venv: Union[Path, str] = "--no-peers"
    py = peers_python
    if py is not None:
        log("building the shiv and pex hello apps")
        shiv_app = build("shiv app", lambda: fixtures.build_shiv_app(py, built, work / "hello-shiv.pyz"))
        pex_app = build("pex app", lambda: fixtures.build_pex_app(py, built, work / "hello.pex"))
        pex_venv = build("pex --venv app", lambda: fixtures.build_pex_app(py, built, work / "hello-venv.pex", venv=True))
    pyz: Union[Path, str]
    if args.pyz is not None:
        pyz = args.pyz.resolve()
    elif py is not None:
        log("building runner.pyz with build_scripts/build_pyz.py")
        pyz = build("runner.pyz", lambda: fixtures.build_runner_pyz(py, work / "runner.pyz"))
    else:
        pyz = "--no-peers (building it needs the package index); pass --pyz"
    return Apps(shiv=shiv_app, pex=pex_app, pex_venv=pex_venv, runner_pyz=pyz)


def zrun_revision() -> str:
    """This checkout's commit, and whether ``src/`` differs from it (read-only git commands)."""
    try:
        git = ["git", "-C", str(ROOT)]
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", "src"], capture_output=True).returncode != 0
    except (OSError, subprocess.CalledProcessError):
        return "this checkout (no git)"
    return f"commit {head}" + (" with uncommitted changes in `src/`" if dirty else "")


def run_interpreter(interpreter: Interpreter, built: fixtures.Fixtures, apps: Apps, runs: Runs, folder: Path, quick: bool,
                    rss_via: Optional[str]) -> InterpreterResult:
    """Every case on one interpreter; its caches (shiv, pex, zrun) live in ``folder``."""
    folder.mkdir()
    results = {}
    extra: List[str] = []
    for case in cases(Path(interpreter.executable), built, apps, runs, folder):
        live = sum(command.skip is None for command in case.commands)
        warmup = 1 if quick else case.warmup
        log(f"{interpreter.label}: {case.title}: {live} commands x {case.runs} rounds (+{warmup} warm-up, +{runs.rss} for RSS)")
        outcomes = measure(case.commands, case.runs, warmup, Scratch(folder), rss_runs=runs.rss, rss_via=rss_via, progress=True)
        results[case.key] = CaseResult(case, outcomes)
        if case.key == "hello":
            by_key = {command.key: command for command in case.commands}
            extra = extra_imports(by_key["zrun"], by_key["zipimport"])
    return InterpreterResult(interpreter, results, extra)


def draw(peers_python: Path, results: Results, work: Path, output: Path) -> bool:
    data = work / "plot.json"
    data.write_text(json.dumps(plot_data(results)), encoding="utf-8")
    result = subprocess.run([str(peers_python), str(HERE / "plot.py"), str(data), str(output)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        log(f"plot failed, report written without it:\n{result.stdout}")
    return result.returncode == 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse(argv)
    command = " ".join(["python benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)])
    out = args.out if args.out is not None else ("-" if args.quick else str(DEFAULT_OUT))
    runs = QUICK_RUNS if args.quick else FULL_RUNS
    if args.runs:
        runs = Runs(args.runs, args.runs, args.runs, args.runs, runs.rss)
    interpreters = ordered([describe(python) for python in (args.python or [Path(sys.executable)])])
    work = args.work.resolve() if args.work else Path(tempfile.mkdtemp(prefix="zrun-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    start_machine = machine()
    try:
        sizes = fixtures.QUICK if args.quick else fixtures.FULL
        log(f"fixtures in {work}: hello, {sizes.modules:,} modules, a {sizes.entries:,}-entry archive")
        built = fixtures.build(work, sizes)
        peers_python: Optional[Path] = None
        peers = "not measured (--no-peers)"
        if not args.no_peers:
            try:
                peers_python, peers = make_peers_venv(work)
            except fixtures.ToolError as exc:
                log(f"no peers, no plot: {exc}\n{exc.output}")
                peers = f"not measured: {exc}"
        apps = build_apps(args, work, built, peers_python)
        rss_via = gnu_time()
        if rss_via is None:
            log("GNU time not found (Debian: apt-get install time): peak RSS not measured")
        measured = [run_interpreter(interpreter, built, apps, runs, work / f"python-{index}", args.quick, rss_via)
                    for index, interpreter in enumerate(interpreters)]
        meta = {
            "command": command,
            "zrun": zrun_revision(),
            "peers": peers,
            "runs": f"{runs.hello} timed rounds for hello-world start-up (after {1 if args.quick else 2} warm-up rounds), "
            f"{runs.packaged} for first runs and pex, {runs.bulk} for the module import, {runs.big} for the big archive "
            "(after 1 warm-up round each); "
            f"then {runs.rss} round(s) for peak RSS"
            + ("" if rss_via else " (not measured: GNU time not installed)"),
        }
        meta["load_end"] = load_average()
        results = Results(measured, start_machine, meta)
        plot: Optional[str] = None
        if out != "-" and peers_python is not None:
            png = Path(out).with_suffix(".png")
            png.parent.mkdir(parents=True, exist_ok=True)
            if draw(peers_python, results, work, png):
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
