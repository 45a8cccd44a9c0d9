"""The issue's targets, each a ratio of two medians from one case of the same run.

``why`` and ``close`` are the analysis written beside each target: what bounds
the ratio and what would bring it under the limit. The report prints them for
a target that the measurement says is missed, next to the measured numbers.
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
    judged_on: Optional[Tuple[int, int]] = None  # the version that decides, when not the reference
    why: str = ""
    close: str = ""


TARGETS: List[Target] = [
    Target(
        "hello",
        f"`python -m zrun hello.zip:hello` ≤ 1.05{X} `PYTHONPATH=hello.zip python -m hello`",
        "hello",
        "zrun",
        "zipimport",
        1.05,
        why=(
            "Both processes pay the interpreter's start-up and `runpy`, and zipimport is frozen into the interpreter, "
            "already loaded. zrun then imports its own modules (CLI, target grammar, engine, finder, loader, archive "
            "reader, cache, ...) and what they need (`struct`, `gc`, the BLAKE2 hash of the cache key): the list "
            "under the hello-world table, measured with `-X importtime`. On a two-file archive that fixed cost is "
            "the whole difference."
        ),
        close=(
            "Fewer files opened on the run path: merge the small modules every run needs (target, finder, loader, "
            "engine, source) into one, and import the cache and its hash only once something is compiled, not for "
            "an archive whose code is already cached or trivially small."
        ),
    ),
    Target(
        "bulk_warm",
        f"2,000 modules from a zip, warm cache ≤ 1.15{X} a directory with warm `__pycache__`",
        "bulk",
        "zrun_warm",
        "dir",
        1.15,
        why=(
            "A warm run reads one cache file per module (open, read, header and CRC-32 check, `marshal.loads`) "
            "after hashing a key for it (BLAKE2b over archive identity, member name, CRC and size), all in "
            "Python-level loader code; the directory case is CPython's own `SourceFileLoader` with one `stat` and "
            "one read per module."
        ),
        close=(
            "One cache file per archive instead of one per module (every code object of an archive in one file, "
            "read once or memory-mapped, keyed by the archive's identity), so a warm run makes one `open` in "
            "total and no per-module hashing."
        ),
    ),
    Target(
        "bulk_cold",
        f"2,000 modules from a zip, cold cache ≤ 0.6{X} zipimport",
        "bulk",
        "zrun_cold",
        "zipimport",
        0.6,
        why=(
            "A cold run compiles each module once where zipimport compiles it twice (gh-141276): with the cache off "
            "the same run is already well under zipimport (key ratios: *zrun cache off / zipimport*). The rest is "
            "the price of filling the cache, one new file per module (folder check, temporary file, write, rename), "
            "shown as *zrun cold / zrun cache off* in the key ratios."
        ),
        close=(
            "Fewer, larger writes: collect the code compiled during a run and write it as one entry per archive "
            "(at exit), instead of a file, a folder check and a rename per module."
        ),
    ),
    Target(
        "big_second",
        f"100,000-entry archive, second run ≤ 0.1{X} zipimport (3.13: the only zipimport that reads it)",
        "big",
        "zrun_second",
        "zipimport",
        0.1,
        judged_on=(3, 13),
        why=(
            "The second run skips parsing the central directory but still rebuilds the whole index: one "
            "`marshal.loads` of every entry's name, offset, sizes, CRC and time, and a `Member` per entry "
            "(see `zrun/indexcache.py`), to import one module out of 100,000 entries; that is also why its peak "
            "RSS is several times `python -c pass`."
        ),
        close=(
            "An index that is searched without being loaded whole: a sorted name table with fixed-size records "
            "in the cache file, memory-mapped and bisected, so a run touches only the entries it imports."
        ),
    ),
    Target(
        "pyz",
        f"`python runner.pyz hello` later runs ≤ 0.8{X} a plain shiv hello app",
        "hello",
        "pyz",
        "shiv",
        0.8,
        why=(
            "runner.pyz is itself a shiv app: every run pays shiv's bootstrap (open the archive, read its "
            "`environment.json`, check the extracted `site-packages`, `site.addsitedir`) and then all of zrun's "
            "start-up, where the plain shiv app pays the bootstrap alone; so it cannot come in under a plain shiv "
            "app while it is built by shiv."
        ),
        close=(
            "A `__main__.py` of zrun's own instead of shiv's bootstrap: put the archive itself on `sys.path` and "
            "import zrun from it (zrun is pure Python; nothing needs extracting), keeping the 3.9 backports in "
            "their own folder of the archive. Its start-up would then be about zipimport's plus zrun's."
        ),
    ),
    Target(
        "rss_hello",
        f"peak RSS, `python -m zrun hello.zip:hello` ≤ 1.1{X} `python -m hello` from a directory",
        "hello",
        "zrun",
        "dir",
        1.1,
        metric="rss",
        why="zrun's own modules (listed under the hello-world table) and their code objects stay resident for the whole run.",
        close="The same as for the first target: fewer and smaller modules imported on the run path.",
    ),
    Target(
        "rss_bulk_warm",
        f"peak RSS, 2,000 modules, warm cache ≤ 1.1{X} the directory case",
        "bulk",
        "zrun_warm",
        "dir",
        1.1,
        metric="rss",
        why="Cache entries are read whole into memory before unmarshalling, on top of the modules themselves.",
        close="Reading entries into a reused buffer, or memory-mapping a per-archive cache file.",
    ),
    Target(
        "rss_bulk_cold",
        f"peak RSS, 2,000 modules, cold cache ≤ 1.1{X} the directory case",
        "bulk",
        "zrun_cold",
        "dir",
        1.1,
        metric="rss",
        why=(
            "Memory that a cold run holds on top of the modules themselves: source bytes, ASTs during compilation, "
            "marshalled copies for the cache writes. Not profiled yet: `tracemalloc` over a cold run would say "
            "which of them stays alive."
        ),
        close=(
            "Drop each module's source and marshalled bytes as soon as its entry is written, or write one entry per "
            "archive (see the cold-cache target)."
        ),
    ),
]


@dataclass(frozen=True)
class Verdict:
    target: Target
    value: Optional[float]
    judged_by: Optional[str]  # interpreter label

    @property
    def met(self) -> Optional[bool]:
        return None if self.value is None else self.value <= self.target.limit

    def text(self) -> str:
        if self.value is None:
            return "not measured"
        if self.met:
            return f"**met** ({self.value:.2f}{X})"
        excess = (self.value / self.target.limit - 1) * 100
        return f"**missed** by {excess:.0f}% ({self.value:.2f}{X} vs ≤ {self.target.limit:g}{X})"


def value(target: Target, run: InterpreterResult) -> Optional[float]:
    case = run.cases.get(target.case)
    return None if case is None else case.ratio(target.numerator, target.denominator, target.metric)


def verdict(target: Target, results: Results) -> Verdict:
    run = results.on(target.judged_on) if target.judged_on else results.reference()
    if run is None:
        return Verdict(target, None, None)
    return Verdict(target, value(target, run), run.interpreter.label)
