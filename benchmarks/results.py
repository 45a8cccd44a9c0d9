"""What one run of the suite found, and the ratios read from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .cases import Case
from .measure import Outcome, median

X = "\N{MULTIPLICATION SIGN}"  # spelled by name: ruff flags the literal as ambiguous


@dataclass(frozen=True)
class Interpreter:
    label: str  # "CPython 3.11.7"
    version: Tuple[int, int]
    executable: str
    build: str
    place: str = ""  # what ``--python`` spelled before the path: "" or "sid:"
    base: str = ""  # the interpreter ``--python`` named, when ``executable`` is a venv made from it

    @property
    def spec(self) -> str:
        """The interpreter as ``--python`` names it, and the venv measured if the suite made one."""
        named = f"{self.place}{self.base or self.executable}"
        return f"{named}`, in a venv of its own: `{self.executable}" if self.base else named


@dataclass
class CaseResult:
    case: Case
    outcomes: Dict[str, Outcome]

    def outcome(self, key: str) -> Outcome:
        return self.outcomes[key]

    def label(self, key: str) -> str:
        return next(command.label for command in self.case.commands if command.key == key)

    def median_seconds(self, key: str) -> Optional[float]:
        outcome = self.outcomes.get(key)
        return median(outcome.seconds) if outcome is not None and outcome.ok else None

    def median_rss_kib(self, key: str) -> Optional[float]:
        outcome = self.outcomes.get(key)
        return median(outcome.rss_kib) if outcome is not None and outcome.ok and outcome.rss_kib else None

    def ratio(self, numerator: str, denominator: str, metric: str = "time") -> Optional[float]:
        """Ratio of the medians of two commands of this case (``metric`` "time" or "rss")."""
        read = self.median_seconds if metric == "time" else self.median_rss_kib
        top, bottom = read(numerator), read(denominator)
        return None if top is None or bottom is None or bottom == 0 else top / bottom


@dataclass
class InterpreterResult:
    interpreter: Interpreter
    cases: Dict[str, CaseResult]
    extra_imports: List[str] = field(default_factory=list)  # what `python -m zrun` imports beyond `python -m` on a zip
    rss: bool = True  # whether its session found GNU time


@dataclass
class Results:
    runs: List[InterpreterResult]
    machine: Dict[str, str]
    meta: Dict[str, str]  # how the suite ran: mode, runs, peers' versions, zrun revision

    def reference(self) -> Optional[InterpreterResult]:
        """The interpreter targets are judged on: CPython 3.11 if measured, else the first."""
        return self.on((3, 11)) or (self.runs[0] if self.runs else None)

    def on(self, version: Tuple[int, int]) -> Optional[InterpreterResult]:
        return next((run for run in self.runs if run.interpreter.version == version), None)
