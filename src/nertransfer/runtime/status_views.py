"""The status of a matrix (nertransfer.runtime.status) shown: a grid for a terminal, CSV, and a coloured figure or
page (no torch)."""

from __future__ import annotations

import csv
import sys
from html import escape
from pathlib import Path
from typing import Mapping, TextIO

from nertransfer.data.files import atomic_write
from nertransfer.runtime.status import STATES, CellState, counts, records

SYMBOLS = {"not started": "·", "queued": "q", "running": "▶", "done": "✓", "failed": "✗", "invalidated": "!"}
ANSI = {"not started": "2", "queued": "36", "running": "33;1", "done": "32", "failed": "31;1", "invalidated": "35"}
COLOURS = {"not started": "#e8e8e8", "queued": "#9ecae1", "running": "#fdae6b", "done": "#74c476", "failed": "#de2d26",
           "invalidated": "#9e9ac8"}
Rows = Mapping[str, Mapping[int, CellState]]


def terminal(rows: Rows, colour: bool) -> str:
    """A compact grid (a symbol per seed), the totals, and the cells a person acts on: running, failed, out of date."""
    seeds = sorted({seed for row in rows.values() for seed in row})
    paint = (lambda state, text: f"\033[{ANSI[state]}m{text}\033[0m") if colour else (lambda state, text: text)  # noqa: E731
    width = max([len(row) for row in rows] + [4])
    lines = [f"{'':{width}}  " + " ".join(f"{seed:>2}" for seed in seeds)]
    for row, states in rows.items():
        lines.append(f"{row:{width}}  " + " ".join(
            paint(states[s].state, f"{SYMBOLS[states[s].state]:>2}") if s in states else "  " for s in seeds))
    totals = counts(rows)
    lines.append("")
    lines.append("   ".join(paint(state, f"{SYMBOLS[state]} {state} {totals[state]}") for state in STATES))
    for state in ("running", "failed", "invalidated"):
        for record in records(rows):
            if record["state"] == state:
                where = f"  log: {record['log']}" if record["log"] else ""
                lines.append(paint(state, f"{SYMBOLS[state]} {record['row']}/seed{record['seed']}: {record['detail']}") + where)
    return "\n".join(lines) + "\n"


def write_csv(rows: Rows, out: TextIO) -> None:
    writer = csv.DictWriter(out, ["row", "seed", "state", "detail", "log"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(records(rows))


def write_html(rows: Rows, path: str | Path) -> None:
    """A page of the grid, each cell coloured by its state, its detail on hover."""
    seeds = sorted({seed for row in rows.values() for seed in row})
    header = "".join(f"<th>seed {seed}</th>" for seed in seeds)
    body = []
    for row, states in rows.items():
        cells = "".join(
            f'<td style="background:{COLOURS[states[s].state]}" title="{escape(states[s].detail)}">{escape(states[s].state)}</td>'
            if s in states else "<td></td>" for s in seeds)
        body.append(f"<tr><th>{escape(row)}</th>{cells}</tr>")
    totals = ", ".join(f"{state}: {n}" for state, n in counts(rows).items())
    page = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>nertransfer status</title><style>body{{font-family:'
            f'sans-serif;font-size:13px}}td,th{{padding:2px 8px;border:1px solid #fff}}th{{text-align:left}}</style></head>'
            f"<body><p>{escape(totals)}</p><table><tr><th></th>{header}</tr>{''.join(body)}</table></body></html>\n")
    with atomic_write(path) as out:
        out.write(page)


def write_png(rows: Rows, path: str | Path) -> None:
    """A heatmap-style figure of the grid: one colour per state."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from nertransfer.analysis.rendering import save_figure

    seeds = sorted({seed for row in rows.values() for seed in row})
    grid = [[STATES.index(states[s].state) if s in states else float("nan") for s in seeds] for states in rows.values()]
    figure, plot = plt.subplots(figsize=(3 + 0.5 * len(seeds), 1.5 + 0.25 * len(rows)), dpi=100, layout="constrained")
    plot.imshow(grid, cmap=ListedColormap([COLOURS[state] for state in STATES]), vmin=-0.5, vmax=len(STATES) - 0.5,
                aspect="auto")
    plot.set_xticks(range(len(seeds)), [f"seed {seed}" for seed in seeds])
    plot.set_yticks(range(len(rows)), list(rows), fontsize=7)
    totals = counts(rows)
    figure.legend(handles=[Patch(color=COLOURS[state], label=f"{state} ({totals[state]})") for state in STATES],
                  loc="outside right upper", fontsize=7)
    save_figure(figure, Path(path))


def show(rows: Rows, out: TextIO = sys.stdout) -> None:
    out.write(terminal(rows, colour=out.isatty()))
