"""``docs/performance.md`` and the plot's data, from a :class:`~benchmarks.results.Results`."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path
from typing import Any, Dict, List, Optional

from .measure import quantile
from .results import CaseResult, Results, X
from .scaling import scaling_section, series_data
from .targets import TARGETS, summary, verdict

#: Ratios that are not targets but answer the questions people ask (and the README quotes).
KEY_RATIOS = [
    ("zrun hello / `python -c pass`", "hello", "zrun", "pass"),
    ("zrun hello / zipimport hello", "hello", "zrun", "zipimport"),
    ("zrun hello / `runpy.run_module` hello", "hello", "zrun", "runpy"),
    ("zrun hello / stdlib zipapp hello", "hello", "zrun", "zipapp"),
    ("runner.pyz / plain shiv hello app", "hello", "pyz", "shiv"),
    ("runner.pyz / `python -m zrun`", "hello", "pyz", "zrun"),
    ("runner.pyz first run / plain shiv app first run", "packaged", "pyz_first", "shiv_first"),
    ("shiv app / `python -c pass`", "hello", "shiv", "pass"),
    ("pex app / `python -c pass`", "packaged", "pex", "pass"),
    ("pex `--venv` app / `python -c pass`", "packaged", "pex_venv", "pass"),
    ("2,000 modules: zipimport / directory", "bulk", "zipimport", "dir"),
    ("2,000 modules: zrun warm / directory", "bulk", "zrun_warm", "dir"),
    ("2,000 modules: zrun cold / zipimport", "bulk", "zrun_cold", "zipimport"),
    ("2,000 modules: zrun cache off / zipimport", "bulk", "zrun_off", "zipimport"),
    ("2,000 modules: zrun cold / zrun cache off (the price of writing the cache)", "bulk", "zrun_cold", "zrun_off"),
    ("2,000 ~20-line modules: zipimport / directory", "small", "zipimport", "dir"),
    ("2,000 ~20-line modules: zrun warm / directory", "small", "zrun_warm", "dir"),
    ("2,000 ~20-line modules: zrun cold / zipimport", "small", "zrun_cold", "zipimport"),
    ("2,000 ~20-line modules: zrun cache off / zipimport", "small", "zrun_off", "zipimport"),
    ("2,000 ~20-line modules: zrun cold / zrun cache off", "small", "zrun_cold", "zrun_off"),
    ("100,000 entries: zrun second run / zipimport", "entries-2", "zrun_second", "zipimport"),
    ("1,000,000 entries: zrun first run / `python -c pass`", "entries-3", "zrun_first", "pass"),
    ("1,000,000 entries: zrun second run / `python -c pass`", "entries-3", "zrun_second", "pass"),
]

#: Column headers for the commands that ratios are taken against.
SHORT = {"pass": "`-c pass`", "dir": "directory", "zipimport": "zipimport"}


def machine() -> Dict[str, str]:
    """CPU model, cores, OS and the date, as this machine reports them."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    try:
        release = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
        system = f"{release.get('PRETTY_NAME', '').strip(chr(34))} ({system})"
    except OSError:
        pass
    memory = ""
    try:
        total = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        memory = f"{int(total.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    now = datetime.datetime.now(datetime.timezone.utc)
    return {
        "load": load_average(),
        "cpu": cpu,
        "cores": str(os.cpu_count() or "?"),
        "memory": memory or "?",
        "os": system,
        "date": now.strftime("%Y-%m-%d %H:%M UTC"),
    }


def load_average() -> str:
    """The 1/5/15-minute load averages: other work on the machine is noise the medians have to absorb."""
    try:
        return "/".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "?"


def _ms(seconds: Optional[float]) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.1f}"


def _x(ratio: Optional[float]) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}{X}"


def _table(header: List[str], rows: List[List[str]], align: str) -> List[str]:
    rule = "|" + "|".join(":--" if a == "l" else "--:" for a in align) + "|"
    return ["| " + " | ".join(header) + " |", rule, *("| " + " | ".join(row) + " |" for row in rows)]


def case_table(result: CaseResult) -> List[str]:
    """One row per command: median, spread, ratios to the case's baselines, peak RSS and its ratio."""
    case = result.case
    rows = []
    for command in case.commands:
        outcome = result.outcome(command.key)
        if outcome.skip is not None:
            rows.append([command.label, f"not run: {outcome.skip}", *[""] * (len(case.baselines) + 3)])
            continue
        if not outcome.ok:
            known = f"{command.known_failure}: " if command.known_failure else ""
            rows.append([command.label, f"fails ({known}{outcome.failure or 'no samples'})", *[""] * (len(case.baselines) + 3)])
            continue
        spread = f"{quantile(outcome.seconds, 0.25) * 1000:.1f}-{quantile(outcome.seconds, 0.75) * 1000:.1f}"
        rss = result.median_rss_kib(command.key)
        rows.append([
            command.label,
            _ms(result.median_seconds(command.key)),
            spread,
            *(_x(result.ratio(command.key, baseline)) for baseline in case.baselines),
            "n/a" if rss is None else f"{rss / 1024:.1f}",
            _x(result.ratio(command.key, case.rss_baseline, "rss")),
        ])
    ratios = [f"{X} {SHORT.get(baseline, baseline)}" for baseline in case.baselines]
    header = ["command", "median ms", "p25-p75 ms", *ratios, "peak RSS MiB", f"RSS {X} {SHORT.get(case.rss_baseline, case.rss_baseline)}"]
    return _table(header, rows, "lrr" + "r" * len(ratios) + "rr")


def targets_section(results: Results) -> List[str]:
    names = [run.interpreter.label for run in results.runs]
    lines = [
        "## Targets (issue 16)",
        "",
        "Every target on every interpreter: the ratio of medians from this run, met or missed; the last column sums up.",
        "",
    ]
    rows = []
    for target in TARGETS:
        rows.append([target.text, *(verdict(target, run).text() for run in results.runs), summary(target, results)])
    lines += _table(["target", *names, "verdict"], rows, "l" + "r" * len(names) + "l")
    missed = [target for target in TARGETS if any(verdict(target, run).met is False for run in results.runs)]
    if missed:
        lines += ["", "### Missed targets: why, and what would close them", ""]
        for target in missed:
            lines += [f"- **{target.text}**: {summary(target, results)}.", f"  - *Why:* {target.why}",
                      f"  - *What would close it:* {target.close}"]
    return lines


def key_ratios_section(results: Results) -> List[str]:
    names = [run.interpreter.label for run in results.runs]
    rows = []
    for text, case_key, top, bottom in KEY_RATIOS:
        cases = [run.cases.get(case_key) for run in results.runs]
        rows.append([text, *(_x(None if case is None else case.ratio(top, bottom)) for case in cases)])
    return ["## Key ratios (medians, same run)", "", *_table(["ratio", *names], rows, "l" + "r" * len(names))]


def render(results: Results, plot: Optional[str]) -> str:
    """The whole of ``docs/performance.md``."""
    m, meta = results.machine, results.meta
    lines = [
        "# Performance",
        "",
        f"Generated by `{meta['command']}` on {m['date']}; do not edit by hand, run it again.",
        "",
        "## Machine and method",
        "",
        f"- **CPU:** {m['cpu']}, {m['cores']} cores; **memory:** {m['memory']}; **OS:** {m['os']}",
        f"- **Load average** (1/5/15 min) at the start: {m['load']}; at the end: {meta.get('load_end', '?')} "
        "(other work on the machine is noise that alternation and medians absorb, not remove)",
        f"- **zrun:** {meta['zrun']}",
        "- **Interpreters:** " + "; ".join(f"{run.interpreter.label} (`{run.interpreter.spec}`"
                                           + ("" if run.rss else ", no peak RSS: GNU time not found") + ")" for run in results.runs),
        f"- **Peers:** {meta['peers']}",
        f"- **Runs:** {meta['runs']}",
        "- **Method:** every number is whole-process wall time of a child process (spawn to exit, measured by the "
        "parent). Within a case every command runs once per round, in an order rotated by one place each round, "
        "after warm-up rounds that fill the OS cache, `__pycache__`, shiv's and pex's caches and zrun's warm cache. "
        "Peak RSS (`ru_maxrss`) comes from separate rounds through GNU `time -f %M`, a 1 MiB C wrapper (a Python "
        "parent's own memory would be folded into the child's `ru_maxrss` at `exec`). Tables give medians and the "
        "interquartile range; ratios are ratios of medians from the same run. *Cold cache* means an empty "
        "`ZRUN_CACHE_DIR` for every run. zrun runs from this checkout's `src/` (`PYTHONPATH`); runner.pyz is built "
        "from it by `build_scripts/build_pyz.py`. The 2,000 modules are copies of `benchmarks/payload/bulk_module.py` "
        "(80 lines: constants, a class, functions), so compiling dominates zipimport's cost; the ~20-line variant "
        "copies `benchmarks/payload/small_module.py`, where compiling weighs less and the fixed cost of each import "
        "(zrun's cache-file creates) more. Interpreters named `sid:PATH` run inside the Debian-sid chroot "
        "(`.ci/sid`), each measured with its peers there, by the same session code (`benchmarks/session.py`).",
        "",
    ]
    if meta.get("quick"):
        lines += ["**`--quick`: a smoke test on tiny fixtures, one round; no number below is a measurement.**", ""]
    if plot:
        lines += [f"![start-up and import times per interpreter]({plot})", ""]
    lines += targets_section(results)
    lines += ["", *key_ratios_section(results), "", *scaling_section(results)]
    for case_key, first in (results.runs[0].cases.items() if results.runs else ()):
        case = first.case
        if case.series:  # in the scaling tables
            continue
        against = "; ".join(f"{SHORT.get(key, key)} = {first.label(key)}" for key in dict.fromkeys((*case.baselines, case.rss_baseline)))
        lines += [f"## {case.title}", "", f"Ratios are against the medians of the same case: {against}.", ""]
        for run in results.runs:
            lines += [f"### {run.interpreter.label}", "", *case_table(run.cases[case_key]), ""]
            if case_key == "hello" and run.extra_imports:
                lines += [f"Modules `python -m zrun hello.zip:hello` imports that zipimport's `python -m hello` does not "
                          f"({len(run.extra_imports)}, from `-X importtime`): " + ", ".join(f"`{name}`" for name in run.extra_imports), ""]
    return "\n".join(lines).rstrip() + "\n"


def plot_data(results: Results) -> Dict[str, Any]:
    """Medians in ms per case, command and interpreter, and the scaling series, for ``benchmarks/plot.py``."""
    cases: List[Dict[str, Any]] = []
    if not results.runs:
        return {"interpreters": [], "cases": cases, "series": []}
    first_run = results.runs[0]
    for case_key, first in first_run.cases.items():
        if first.case.series:
            continue
        rows = []
        for command in first.case.commands:
            medians = {}
            for run in results.runs:
                seconds = run.cases[case_key].median_seconds(command.key)
                medians[run.interpreter.label] = None if seconds is None else seconds * 1000
            rows.append({"label": command.label.replace("`", ""), "ms": medians})
        cases.append({"title": first.case.title, "rows": rows})
    series = series_data(results)
    return {"interpreters": [run.interpreter.label for run in results.runs], "cases": cases, "series": series}
