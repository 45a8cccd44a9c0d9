"""The issue's targets (issue 16), each a ratio of two medians from one case of the same run, on every interpreter.

``why`` and ``close`` are the analysis written beside each target: what bounds
the ratio and what would bring it under the limit (measured; see the
analysis of issue 16). The report prints them for a target that the
measurement says is missed on some interpreter, next to the measured numbers.
Scaling points are named by position (``entries-2`` is the third archive of
the series: 100,000 entries in a full run, a few hundred with ``--quick``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from .results import InterpreterResult, Results, X


@dataclass(frozen=True)
class Target:
    key: str
    text: str
    case: str
    numerator: str
    denominator: str
    limit: float
    metric: str = "time"  # or "rss"
    since: Optional[Tuple[int, int]] = None  # the first version it applies to, when not every one
    why: str = ""
    close: str = ""


_HELLO_WHY = (
    "Both processes pay the interpreter's start-up and `runpy`, and zipimport is frozen into the interpreter, already "
    "loaded; the run itself, its modules imported, takes 0.5-0.8 ms (hello included). The rest is the modules zrun "
    "imports before the user's first line (the list under the hello-world table, from `-X importtime`): 28 of its own "
    "and `__future__`, `struct`, `_struct`, `errno`. Measured 2026-12-02 (two-file deflated hello.zip, warm cache, 41 "
    "alternated runs): before, 31 zrun modules (the bundle reader, the namespace merger and the traceback printer among "
    f"them) and on 3.15 `warnings`, `_py_warnings` and `itertools` too, 1.31{X} / 1.34{X} / 1.44{X} on 3.11 / 3.13 / 3.15; "
    f"after, 1.30{X} / 1.30{X} / 1.35{X}. Self time of what is left, on 3.11: 2.3 ms for the 19 modules of the command line, "
    "the engine, the loader family, the source protocol, the target grammar and the errors (about 50 µs a module is "
    "the fixed cost of finding and unmarshalling one, as the one-line package `__init__`s show), 0.7 ms for "
    "`zrun.zip`'s five and `struct`, 0.5 ms for the cache's three, `loading.bytecode` and `errno`, 0.08 ms for "
    "`__future__`; the run costs 14.3 ms against zipimport's 11.0."
)
_HELLO_CLOSE = (
    "Every module left on the run path is used by it, so what remains is fewer, not lazier, modules: no cache "
    "modules (and no `errno`) for an archive whose code is already known (one pack file read by the loader), "
    "no `struct` for a two-file central directory (`int.from_bytes`), no `__future__` (quoted annotations in every "
    "hello-path module), and a run pipeline whose steps live in fewer files (the pipeline issue): at ~0.1 ms a "
    "module, closing the ~3 ms gap means about two dozen fewer modules."
)
_WARM_WHY = (
    "A warm run opens the archive's one pack (`zrun/cache/packs.py`), reads its header and index, then per module one "
    "`pread`, a CRC-32 and `marshal.loads` (~3.9 µs a module on 3.11, 2 µs of it `marshal`). Finding the modules cost "
    "more: the search order's ~8 probes per module each went through the index table, and the cache key's member "
    "lookup was a bisection (~7 µs). Since issue 16's loader work (`zrun/zip/tablerows.py`) a table that has answered "
    "more lookups than a sixteenth of its names reads them all once and answers from a `dict` (a probe 0.27→0.16 µs, "
    "the key 6.8→1.2 µs), and the finder imports nothing per module (6.4→3.9 µs per `find_spec`). Measured against "
    f"main, alternated in 11 rounds (2026-12-02, CPU time): 3.11 1.22→1.01{X} (80-line) and 1.28→1.03{X} (~20-line), "
    f"3.13 1.26→1.04{X} and 1.33→1.05{X}. What is left is fixed: zrun's own start-up against `python -m` "
    "(~3 ms of wall time with no module imported, the hello-path target), ~3 % of the ~20-line case."
)
_WARM_CLOSE = (
    "Start-up, not the loader: the hello path's imports (see the hello target). Per module, what remains is "
    "Python-level work the directory case does in C (the spec, the namespace wrapper's pass, the traceback hook); "
    "handing the finder's member to the loader would save ~1 µs of the key's lookup, not measured as worth its plumbing."
)
_COLD_WHY = (
    "A cold run compiles each module once where zipimport compiles it twice (gh-141276), and since the pack (issue 16) "
    "the cache adds only marshalling each module into the pack's temporary file (~6 µs a module, buffered writes) and "
    "one rename at exit (~1 ms), not a file per module (0.1-1.2 ms each with this machine's shared I/O). Before/after, "
    f"alternated in 9 rounds (2026-12-01/02): 3.11 0.88→0.64{X} (80-line) and 1.79→0.83{X} (~20-line), 3.13 0.77→0.63{X} and "
    f"1.12→0.78{X}. The floor is compiling: with the cache off zrun is 0.59{X}/0.73{X} zipimport on 3.11 (0.57{X}/0.72{X} on "
    f"3.13), so ~20-line modules cannot reach 0.6{X} through the cache. On 3.15 the target's premise is gone: its zipimport "
    "compiles once (`_get_module_code(..., compile_source=False)` for `get_filename`), so a cold zrun run, which compiles "
    f"the same modules with the same `compile()` and then writes the pack, costs 1.1{X} zipimport with the cache off and "
    f"1.2{X} with it (2026-12-02 run)."
)
_COLD_CLOSE = (
    "Compile less: use the `__pycache__` members an archive ships (already done when they are valid), or build archives "
    "with them. The cache's own share of a cold run is now ~9-13% (cold against cache off, 3.11: 1011 against 928 ms, "
    "293 against 258 ms), mostly `marshal.dumps` of each module, which its warm runs need. Against 3.15's zipimport "
    "no cache can reach 0.6× on a first run: only bytecode shipped in the archive, compiled by nobody at run time, would."
)
_WARM_RSS_WHY = (
    "zrun's own modules and their code, the archive's index table, and the pack's index (a `dict` of one tuple per module, "
    f"0.7 MB for 2,000); the pack's code is read per module, never whole (3.11: 1.07{X}/1.12{X}, 1.05{X}/1.09{X} before)."
)
_COLD_RSS_WHY = (
    "Compiling (source bytes, ASTs) as with the cache off, plus the table of the entries spooled to the pack (~1 MB for "
    f"2,000 modules); the code itself is spooled to disk as compiled (3.11: 1.17{X}/1.18{X}; 1.15{X}/1.13{X} with a file per "
    f"module; holding code objects until exit measured 1.33{X}, their bytes 1.72{X})."
)
_INDEX_WHY = (
    "The second run reads the stored index table in place (`zrun/zip/table.py`): a bisection per lookup over 16 KiB "
    "chunks, each checked by its CRC when first read, about two dozen for one import; so its cost is zrun's own "
    "start-up, whatever the size (1,000,000 entries on 3.11: 972 ms to 32 ms CPU, 410 to 14 MiB). What is left above "
    "`python -c pass` is the hello path's imports (see the hello target). The first run no longer makes a `dict` of "
    "members: it streams the central directory into the table (`zrun/zip/streamed.py`: one `bytes` key per file, "
    "sorted, cut into columns in C) and searches the table as a later run does; 1,000,000 entries, medians of 5 "
    "alternated first runs (2026-12-02): 3.11 2.44 to 0.83 s and 419 to 164 MiB, 3.13 2.23 to 0.99 s and 400 to "
    "148 MiB; 100,000 entries: 3.11 0.24 to 0.12 s and 56 to 43 MiB."
)
_INDEX_CLOSE = (
    "Fewer modules on the run path (the hello target). For first runs: the cache's store writes its header and the "
    "table as one concatenated copy (`cache/store.py`, `head + payload`), now the first run's peak (+65 MB at 1,000,000 "
    "entries); writing the two without joining them would bring it down to the stream's own peak (133 MiB measured "
    "in-process on 3.11). The sort's keys (~100 bytes per file) "
    "are the rest; a parse in C (or a sort done in runs written to disk) would be needed below that."
)
_PYZ_WHY = (
    "Later runs skip shiv's bootstrap when this build's extraction is complete and private "
    "(`build_scripts/pyz_main.py`), so they cost less than a plain shiv app. A first run goes through shiv's "
    "bootstrap and extraction and then compiles the ~24 zrun modules a run imports (no `--compile-pyc` any more): "
    "about 20 ms on 3.11 and 24 ms on 3.13."
)
_PYZ_CLOSE = (
    "Shipped bytecode (a pyc is valid for its own interpreter version only, so a build that is the same bytes from "
    "every interpreter would need all of them at build time), or a first run that skips shiv's bootstrap as later "
    "runs do."
)

TARGETS: List[Target] = [
    Target("hello", f"hello from a zip: zrun / zipimport `-m` ≤ 1.00{X}", "hello", "zrun", "zipimport", 1.00,
           why=_HELLO_WHY, close=_HELLO_CLOSE),
    Target("pyz", f"`runner.pyz` later runs / plain shiv hello app ≤ 1.00{X}", "hello", "pyz", "shiv", 1.00,
           why=_PYZ_WHY, close=_PYZ_CLOSE),
    Target("pyz_first", f"`runner.pyz` first run / plain shiv app first run ≤ 1.3{X}", "packaged", "pyz_first", "shiv_first", 1.3,
           why=_PYZ_WHY, close=_PYZ_CLOSE),
    Target("bulk_warm", f"2,000 modules, warm cache / directory with warm `__pycache__` ≤ 1.00{X}", "bulk", "zrun_warm", "dir",
           1.00, why=_WARM_WHY, close=_WARM_CLOSE),
    Target("bulk_cold", f"2,000 80-line modules, cold cache / zipimport ≤ 0.6{X}", "bulk", "zrun_cold", "zipimport", 0.6,
           why=_COLD_WHY, close=_COLD_CLOSE),
    Target("small_cold", f"2,000 ~20-line modules, cold cache / zipimport ≤ 0.6{X}", "small", "zrun_cold", "zipimport", 0.6,
           why=_COLD_WHY, close=_COLD_CLOSE),
    Target("entries_100k", f"100,000 entries, second run / zipimport ≤ 0.1{X} (3.13+)", "entries-2", "zrun_second", "zipimport",
           0.1, since=(3, 13), why=_INDEX_WHY, close=_INDEX_CLOSE),
    Target("entries_1m", f"1,000,000 entries, second run / `python -c pass` ≤ 2{X}", "entries-3", "zrun_second", "pass", 2.0,
           why=_INDEX_WHY, close=_INDEX_CLOSE),
    Target("entries_1m_rss", f"1,000,000 entries, second run, peak RSS / `python -c pass` ≤ 1.3{X}", "entries-3", "zrun_second",
           "pass", 1.3, metric="rss", why=_INDEX_WHY, close=_INDEX_CLOSE),
    Target("rss_hello", f"peak RSS, hello: zrun / directory ≤ 1.1{X}", "hello", "zrun", "dir", 1.1, metric="rss",
           why="zrun's own modules (listed under the hello-world table) and their code objects stay resident: importing "
               "them alone adds 1.6 MiB on 3.15 (`python -c 'import zrun.cli.main, zrun.engine.run, ...'` against "
               "`python -c pass`), while the run's own Python allocations peak at 134 KiB (`tracemalloc`). Measured "
               f"2026-12-02 (GNU time, medians of 9): 1.12{X} / 1.13{X} / 1.26{X} on 3.11 / 3.13 / 3.15 before the bundle "
               "reader, the namespace merger, the traceback printer and 3.15's `warnings` left the run path, "
               f"1.12{X} / 1.10{X} / 1.25{X} after.",
           close=_HELLO_CLOSE),
    Target("rss_pyz", f"peak RSS, `runner.pyz` / plain shiv hello app ≤ 1.1{X}", "hello", "pyz", "shiv", 1.1, metric="rss",
           why=_PYZ_WHY, close=_PYZ_CLOSE),
    Target("rss_bulk_warm", f"peak RSS, 2,000 modules, warm cache / directory ≤ 1.1{X}", "bulk", "zrun_warm", "dir", 1.1,
           metric="rss", why=_WARM_RSS_WHY, close=_WARM_CLOSE),
    Target("rss_bulk_cold", f"peak RSS, 2,000 80-line modules, cold cache / directory ≤ 1.1{X}", "bulk", "zrun_cold", "dir", 1.1,
           metric="rss", why=_COLD_RSS_WHY, close=_COLD_CLOSE),
    Target("rss_small_warm", f"peak RSS, 2,000 ~20-line modules, warm cache / directory ≤ 1.1{X}", "small", "zrun_warm", "dir",
           1.1, metric="rss", why=_WARM_RSS_WHY, close=_WARM_CLOSE),
    Target("rss_small_cold", f"peak RSS, 2,000 ~20-line modules, cold cache / directory ≤ 1.1{X}", "small", "zrun_cold", "dir",
           1.1, metric="rss", why=_COLD_RSS_WHY, close=_COLD_CLOSE),
]


def applies(target: Target, run: InterpreterResult) -> bool:
    return target.since is None or run.interpreter.version >= target.since


def value(target: Target, run: InterpreterResult) -> Optional[float]:
    case = run.cases.get(target.case)
    return None if case is None else case.ratio(target.numerator, target.denominator, target.metric)


@dataclass(frozen=True)
class Verdict:
    """A target on one interpreter: the measured ratio, or why there is none."""

    target: Target
    value: Optional[float]
    applies: bool = True

    @property
    def met(self) -> Optional[bool]:
        return None if self.value is None or not self.applies else self.value <= self.target.limit

    def text(self) -> str:
        if not self.applies:
            since = self.target.since or (0, 0)
            return f"n/a (from {since[0]}.{since[1]})"
        if self.value is None:
            return "not measured"
        if self.met:
            return f"{self.value:.2f}{X} met"
        excess = (self.value / self.target.limit - 1) * 100
        return f"{self.value:.2f}{X} **missed** by {excess:.0f}%"


def verdict(target: Target, run: InterpreterResult) -> Verdict:
    return Verdict(target, value(target, run), applies(target, run))


def summary(target: Target, results: Results) -> str:
    """The target over every interpreter: met on all, or where it is missed and by how much at worst."""
    verdicts = [(run.interpreter.label, verdict(target, run)) for run in results.runs]
    judged = [(label, v) for label, v in verdicts if v.met is not None]
    if not judged:
        return "not measured"
    missed = [(label, v) for label, v in judged if not v.met]
    unmeasured = sum(v.applies and v.value is None for _, v in verdicts)
    tail = f"; {unmeasured} not measured" if unmeasured else ""
    if not missed:
        return f"**met** on all {len(judged)} measured{tail}"
    worst = max(v.value or 0.0 for _, v in missed)
    names = ", ".join(label.split()[-1] for label, _ in missed)
    return f"**missed** on {len(missed)} of {len(judged)} ({names}; worst {worst:.2f}{X} vs ≤ {target.limit:g}{X}){tail}"
