"""``python plot.py DATA.json OUT.png``: the report's picture, one panel per case.

Run by the suite's throwaway venv (the one matplotlib was installed into), on
the medians ``benchmarks/report.py:plot_data`` wrote; stand-alone on purpose,
so the interpreter that draws needs nothing from the suite.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List


def draw(data: Dict[str, Any], output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    interpreters: List[str] = data["interpreters"]
    cases: List[Dict[str, Any]] = data["cases"]
    heights = [max(2.0, 0.42 * len(case["rows"]) * max(1, len(interpreters)) / 2 + 1.2) for case in cases]
    figure, axes = plt.subplots(len(cases), 1, figsize=(10, sum(heights)), gridspec_kw={"height_ratios": heights}, squeeze=False)
    bar = 0.8 / max(1, len(interpreters))
    for axis, case in zip(axes[:, 0], cases):
        rows = case["rows"]
        for slot, name in enumerate(interpreters):
            positions = [index + (slot - (len(interpreters) - 1) / 2) * bar for index in range(len(rows))]
            values = [row["ms"].get(name) for row in rows]
            shown = [(p, v) for p, v in zip(positions, values) if v is not None]
            color = f"C{slot}"
            axis.barh([p for p, _ in shown], [v for _, v in shown], height=bar, color=color, label=name if axis is axes[0, 0] else None)
            for position, milliseconds in shown:
                axis.text(milliseconds, position, f" {milliseconds:.0f}", va="center", fontsize=7)
            for position, milliseconds in zip(positions, values):
                if milliseconds is None:  # failed or not run: say so rather than leave a gap
                    axis.text(0.01, position, "  not run / fails (see table)", va="center", fontsize=7, color=color,
                              transform=axis.get_yaxis_transform())
        axis.set_yticks(range(len(rows)))
        axis.set_yticklabels([row["label"] for row in rows], fontsize=8)
        axis.invert_yaxis()
        axis.set_xscale("log")
        axis.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.xaxis.set_major_formatter(ScalarFormatter())
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.margins(x=0.12)
        axis.set_xlabel("median wall time, ms (log scale; shorter is faster)", fontsize=8)
        axis.set_title(case["title"], fontsize=10, loc="left")
        axis.grid(axis="x", which="both", alpha=0.3)
    figure.legend(loc="upper right", fontsize=8, ncol=max(1, len(interpreters)))
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    figure.savefig(output, dpi=110)


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    draw(json.loads(Path(argv[0]).read_text(encoding="utf-8")), Path(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
