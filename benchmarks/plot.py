"""``python plot.py DATA.json OUT.png``: the report's picture, one panel per case and one per scaling series.

A scaling panel is log-log, time against size: one colour per command, one
line style per interpreter, so a cost that grows with size rises and a flat
one stays level.

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
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, ScalarFormatter

    interpreters: List[str] = data["interpreters"]
    cases: List[Dict[str, Any]] = data["cases"]
    series: List[Dict[str, Any]] = data.get("series", [])
    heights = [max(2.0, 0.42 * len(case["rows"]) * max(1, len(interpreters)) / 2 + 1.2) for case in cases] + [5.0] * len(series)
    figure, axes = plt.subplots(len(heights), 1, figsize=(10, sum(heights)), gridspec_kw={"height_ratios": heights}, squeeze=False)
    bar = 0.8 / max(1, len(interpreters))
    for axis, scaling in zip(axes[len(cases):, 0], series):
        commands = list(dict.fromkeys(line["command"] for line in scaling["lines"]))
        styles = ["-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3))]
        for line in scaling["lines"]:
            points = [(size, ms) for size, ms in zip(scaling["sizes"], line["ms"]) if ms is not None]
            if not points:
                continue
            slot = interpreters.index(line["interpreter"])
            first, colour = slot == 0, commands.index(line["command"])
            label = f"{line['label']} ({line['interpreter']})" if first else line["interpreter"] if colour == 0 else None
            axis.plot([size for size, _ in points], [ms for _, ms in points], color=f"C{colour}", linestyle=styles[slot % len(styles)],
                      marker="o", markersize=3, linewidth=1.6 if first else 1.0, label=label)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xticks(scaling["sizes"])
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        axis.yaxis.set_minor_formatter(NullFormatter())
        axis.set_xlabel(f"{scaling['axis']} (log scale)", fontsize=8)
        axis.set_ylabel("median ms (log scale)", fontsize=8)
        axis.set_title(f"{scaling['title']}: colour = command, line style = interpreter", fontsize=10, loc="left")
        axis.grid(which="both", alpha=0.3)
        axis.legend(fontsize=7, loc="upper left")
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
    handles, labels = axes[0, 0].get_legend_handles_labels()  # the bar colours; scaling panels carry their own legends
    figure.legend(handles, labels, loc="upper right", fontsize=8, ncol=max(1, len(interpreters)))
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
