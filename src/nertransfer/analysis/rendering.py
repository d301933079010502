"""Writing a table as CSV, Markdown, LaTeX and HTML, pairing means with their spread, and saving figures (no torch).

The toolkit every table of the package is written with: the zero-shot tables, the grid search,
learning curves and the analyses. pandas and matplotlib are loaded on use, so that importing the
package (as the workflow does, for the names of its outputs) stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nertransfer.data.files import atomic_file, atomic_write
from nertransfer.experiment.layout import TABLE_FORMATS

if TYPE_CHECKING:
    import pandas as pd


def mean_pm_std(table: "pd.DataFrame") -> "pd.DataFrame":
    """Pair each `*_mean` column with its `*_std` as one 'mean ± std' text column, for reading."""
    import pandas as pd

    shown = pd.DataFrame(index=table.index)
    for column in table.columns:
        if column.endswith("_mean"):
            name = column[: -len("_mean")]
            std = table[f"{name}_std"]
            shown[name.replace("_f1", " F1").replace("f1", "F1")] = [
                "–" if pd.isna(m) else f"{m:.2f}" + ("" if pd.isna(s) else f" ± {s:.2f}")
                for m, s in zip(table[column], std, strict=True)]
    return shown


LATEX = {"±": r"$\pm$", "†": r"$^\dagger$"}


def _latex(text: str) -> str:
    for sign, command in LATEX.items():
        text = text.replace(sign, command)
    return text


def write_table(table: "pd.DataFrame", stem: Path, caption: str, shown: "pd.DataFrame | None" = None,
                floatfmt: str | tuple = ".2f", note: str = "") -> list[Path]:
    """One table as `<stem>.csv`, `.md`, `.tex` and `.html` (layout.TABLE_FORMATS), each written atomically; returns
    their paths in that order.

    The CSV holds the numbers (rounded to 4 decimals, no caption). Markdown, LaTeX and HTML are for reading: the
    caption with the table, index names with spaces for underscores, numbers to 2 decimals, a missing number as
    "–" in HTML and "--" in LaTeX (in Markdown as "nan": tabulate's `missingval` replaces None only, not NaN),
    ± and † as LaTeX commands in the .tex. `shown`: what those three show instead of the numbers (e.g.
    `mean_pm_std`); `floatfmt`: the Markdown number format, or one per column (index columns first); `note`: a
    line under the Markdown and HTML table and at the end of the LaTeX caption, e.g. what a mark means.
    """
    shown = (table if shown is None else shown).rename_axis(index=[name.replace("_", " ") for name in table.index.names])
    latex = shown.map(lambda value: _latex(value) if isinstance(value, str) else value)
    paths = [stem.with_suffix(ext) for ext in TABLE_FORMATS]
    with atomic_write(paths[0]) as out:
        table.round(4).to_csv(out)
    with atomic_write(paths[1]) as out:
        markdown = shown.reset_index().to_markdown(index=False, floatfmt=floatfmt, missingval="–")
        out.write(f"{caption}\n\n{markdown}\n" + (f"\n{note}\n" if note else ""))
    with atomic_write(paths[2]) as out:
        out.write(latex.to_latex(float_format="%.2f", caption=_latex(f"{caption} {note}".strip()),
                                 label=f"tab:{stem.name.replace('_', '-')}", na_rep="--"))
    with atomic_write(paths[3]) as out:
        out.write(_html(shown, stem.name, caption, note))
    return paths


HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body {{font-family: sans-serif; font-size: 13px; margin: 1em}} table {{border-collapse: collapse}}
th, td {{padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: right}} th {{background: #f4f4f4}}
p.note {{color: #555}}</style></head>
<body><p>{caption}</p>
{table}
<p class="note">{note}</p></body></html>
"""


def _html(shown: "pd.DataFrame", title: str, caption: str, note: str) -> str:
    """A page of its own: the table as read in Markdown (2 decimals, marks), with its caption and note."""
    from html import escape

    table = shown.to_html(na_rep="–", float_format=lambda value: f"{value:.2f}", border=0)
    return HTML.format(title=escape(title), caption=escape(caption), table=table, note=escape(note))


def heatmap(table: "pd.DataFrame", path: Path, title: str, scale: tuple[float, float] = (0, 100), colors: str = "viridis",
            marks: "pd.DataFrame | None" = None, ylabel: str = "checkpoint / training language") -> Path:
    """A PNG heatmap of a matrix table (F1 x 100), each cell annotated with its value (and * where `marks` says)."""
    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, columns = table.shape
    figure, plot = plt.subplots(figsize=(max(4.0, 2.0 + 0.6 * columns), max(3.0, 1.5 + 0.4 * rows)),
                                dpi=120, layout="constrained")
    image = plot.imshow(table.to_numpy(dtype=float), cmap=colors, vmin=scale[0], vmax=scale[1], aspect="auto")
    plot.set_xticks(range(columns), table.columns)
    plot.set_yticks(range(rows), ["/".join(map(str, index)) if isinstance(index, tuple) else str(index) for index in table.index])
    plot.set_xlabel("evaluation language")
    plot.set_ylabel(ylabel)
    middle = (scale[0] + scale[1]) / 2
    for i in range(rows):
        for j in range(columns):
            value = table.iat[i, j]
            if pd.notna(value):
                dark = value < 60 if colors == "viridis" else abs(value - middle) > 0.6 * (scale[1] - middle)
                mark = "*" if marks is not None and marks.iat[i, j] else ""
                plot.text(j, i, f"{value:.0f}{mark}", ha="center", va="center", color="white" if dark else "black", fontsize=7)
    plot.set_title(title)
    figure.colorbar(image, ax=plot, label="F1" if scale[0] >= 0 else "F1 difference")
    return save_figure(figure, path)


def save_figure(figure, path: Path) -> Path:
    """Save a matplotlib figure as PNG, atomically (see `files.atomic_file`), and close it."""
    import matplotlib.pyplot as plt

    try:
        with atomic_file(path) as partial:
            figure.savefig(partial, format="png")
    finally:
        plt.close(figure)
    return path
