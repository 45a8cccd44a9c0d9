"""The scaling series in the report: a table per series and interpreter, a row per size, and the plot's lines.

A cost that should be flat and is not shows here as a column that grows with
the first one: entries of an archive (one module imported), or modules
imported from a package of that many.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from .results import CaseResult, Results, X


def _ms(seconds: Optional[float]) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.1f}"


def _x(ratio: Optional[float]) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}{X}"


def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("--:" for _ in header) + "|", *("| " + " | ".join(row) + " |" for row in rows)]


#: The scaling tables: per series, the columns (header, case command or ratio) after the size.
ENTRIES_COLUMNS = [
    ("`-c pass` ms", ("ms", "pass")),
    ("zipimport ms", ("ms", "zipimport")),
    ("zrun first ms", ("ms", "zrun_first")),
    ("zrun second ms", ("ms", "zrun_second")),
    (f"second {X} zipimport", ("time", "zrun_second", "zipimport")),
    (f"second {X} `-c pass`", ("time", "zrun_second", "pass")),
    ("zipimport MiB", ("mib", "zipimport")),
    ("zrun second MiB", ("mib", "zrun_second")),
    (f"second RSS {X} `-c pass`", ("rss", "zrun_second", "pass")),
]
MODULES_COLUMNS = [
    ("directory ms", ("ms", "dir")),
    ("zipimport ms", ("ms", "zipimport")),
    ("zrun cold ms", ("ms", "zrun_cold")),
    ("zrun warm ms", ("ms", "zrun_warm")),
    (f"cold {X} zipimport", ("time", "zrun_cold", "zipimport")),
    (f"warm {X} directory", ("time", "zrun_warm", "dir")),
    ("directory MiB", ("mib", "dir")),
    (f"cold RSS {X} directory", ("rss", "zrun_cold", "dir")),
    (f"warm RSS {X} directory", ("rss", "zrun_warm", "dir")),
]
SERIES = [
    ("entries", "Scaling: archive entries (one import)", ENTRIES_COLUMNS,
     "One module imported from an archive of that many entries (`hello/` plus empty stored filler members; ZIP64 past "
     "65,535 entries, which zipimport before 3.13 cannot read); *second* is a run with zrun's cache filled by an earlier run."),
    ("modules", "Scaling: modules imported", MODULES_COLUMNS,
     "Every module of a package of that many 80-line modules, imported by `python -m bulk N`; *cold* is an empty zrun "
     "cache for every run, *warm* a filled one; the directory has a warm `__pycache__`."),
]


def _cell(case: Optional[CaseResult], column: Tuple[str, ...]) -> str:
    if case is None:
        return "n/a"
    kind, key = column[0], column[1]
    if kind in ("ms", "mib"):
        outcome = case.outcomes.get(key)
        if outcome is not None and outcome.failure is not None:
            return "fails"
        if kind == "ms":
            return _ms(case.median_seconds(key))
        rss = case.median_rss_kib(key)
        return "n/a" if rss is None else f"{rss / 1024:.1f}"
    return _x(case.ratio(key, column[2], "time" if kind == "time" else "rss"))


def scaling_section(results: Results) -> List[str]:
    """One table per series and interpreter: a row per size, so the growth of each cost with size shows."""
    lines: List[str] = []
    for series, title, columns, method in SERIES:
        lines += [f"## {title}", "", method, ""]
        for run in results.runs:
            points = sorted((case for case in run.cases.values() if case.case.series == series), key=lambda case: case.case.size)
            if not points:
                continue
            rows = [[f"{case.case.size:,}", *(_cell(case, column) for _, column in columns)] for case in points]
            lines += [f"### {run.interpreter.label}", "", *_table([series, *(header for header, _ in columns)], rows), ""]
            failures = {f"{case.case.size:,}: {case.label(key)}: {outcome.failure}" for case in points
                        for key, outcome in case.outcomes.items() if outcome.failure}
            if failures:
                lines += ["Failures: " + "; ".join(sorted(failures)), ""]
    return lines


def series_data(results: Results) -> List[Dict[str, Any]]:
    """Medians in ms per series, command and interpreter, for the plot's scaling panels."""
    series: List[Dict[str, Any]] = []
    if not results.runs:
        return series
    first_run = results.runs[0]
    for name, title, columns, _ in SERIES:
        keys = [column[1] for _, column in columns if column[0] == "ms"]
        points = sorted((case for case in first_run.cases.values() if case.case.series == name), key=lambda case: case.case.size)
        if not points:
            continue
        lines = []
        for key in keys:
            for run in results.runs:
                values = []
                for point in points:
                    seconds = run.cases[point.case.key].median_seconds(key)
                    values.append(None if seconds is None else seconds * 1000)
                lines.append({"label": points[0].label(key).replace("`", ""), "command": key, "interpreter": run.interpreter.label,
                              "ms": values})
        series.append({"title": title, "axis": name, "sizes": [point.case.size for point in points], "lines": lines})
    return series
