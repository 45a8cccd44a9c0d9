"""``python benchmarks/session.py JOB.json``: every case on the interpreter running it; JSON on stdout.

One measuring session per interpreter, run by that interpreter where it
lives (on this machine, or inside the chroot through ``.ci/sid exec``), so
that its commands and their peers (zipimport, a directory, shiv, pex) are
timed side by side by a parent process in the same place. The job names only
plain values (the work directory, the sizes, the apps, the rounds); the
fixtures are found from them with :func:`benchmarks.fixtures.locate`, and the
outcomes go back as JSON, progress on stderr.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

if not __package__:  # run as a script: make the ``benchmarks`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cases import Apps, Case, Runs, cases
from benchmarks.fixtures import Sizes, locate
from benchmarks.imports import extra_imports
from benchmarks.measure import Outcome, Scratch, gnu_time, measure

APP_NAMES = ("shiv", "pex", "pex_venv", "runner_pyz")


@dataclass(frozen=True)
class Job:
    """What one session measures: plain values only, so it crosses into the chroot as JSON."""

    python: str
    work: str  # the fixtures, as :func:`benchmarks.fixtures.build` wrote them
    sizes: Sizes
    apps: Apps
    runs: Runs
    folder: str  # this interpreter's own folder: its caches, its cold-cache scratch
    quick: bool
    rss_tools: List[str]  # GNU time binaries to try first


def _app(value: Union[Path, str]) -> Dict[str, str]:
    return {"path": str(value)} if isinstance(value, Path) else {"skip": value}


def encode(job: Job) -> str:
    data = dataclasses.asdict(job)
    data["apps"] = {name: _app(getattr(job.apps, name)) for name in APP_NAMES}
    return json.dumps(data, indent=1)


def decode(text: str) -> Job:
    data = json.loads(text)
    sizes = data["sizes"]
    apps = {name: Path(value["path"]) if "path" in value else value["skip"] for name, value in data["apps"].items()}
    return Job(
        data["python"],
        data["work"],
        Sizes(sizes["modules"], tuple(sizes["entries_scale"]), tuple(sizes["modules_scale"])),
        Apps(**apps),
        Runs(**data["runs"]),
        data["folder"],
        data["quick"],
        list(data["rss_tools"]),
    )


def job_cases(job: Job) -> List[Case]:
    """The cases of ``job``, built the same way on either side (labels, keys, baselines)."""
    return cases(Path(job.python), locate(Path(job.work), job.sizes), job.apps, job.runs, Path(job.folder))


def run(job: Job) -> Dict[str, Any]:
    """Measure every case of ``job``: ``{"rss": bool, "cases": {case: {command: outcome}}, "extra_imports": [...]}``."""
    folder = Path(job.folder)
    folder.mkdir(parents=True, exist_ok=True)
    rss_via = gnu_time(*job.rss_tools)
    if rss_via is None:
        print("benchmarks: GNU time not found (Debian: apt-get install time): peak RSS not measured", file=sys.stderr)
    measured: Dict[str, Dict[str, Any]] = {}
    extra: List[str] = []
    for case in job_cases(job):
        live = sum(command.skip is None for command in case.commands)
        warmup = 0 if job.quick else case.warmup
        print(f"benchmarks: {sys.version.split()[0]}: {case.title}: {live} commands x {case.runs} rounds "
              f"(+{warmup} warm-up, +{job.runs.rss} for RSS)", file=sys.stderr, flush=True)
        outcomes = measure(case.commands, case.runs, warmup, Scratch(folder), rss_runs=job.runs.rss, rss_via=rss_via, progress=True)
        measured[case.key] = {key: dataclasses.asdict(outcome) for key, outcome in outcomes.items()}
        if case.key == "hello":
            by_key = {command.key: command for command in case.commands}
            extra = extra_imports(by_key["zrun"], by_key["zipimport"])
    return {"rss": rss_via is not None, "cases": measured, "extra_imports": extra}


def outcomes(data: Dict[str, Any]) -> Dict[str, Dict[str, Outcome]]:
    """The outcomes of :func:`run`'s JSON, per case and command."""
    return {case: {key: Outcome(**fields) for key, fields in commands.items()} for case, commands in data["cases"].items()}


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    json.dump(run(decode(Path(args[0]).read_text(encoding="utf-8"))), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
