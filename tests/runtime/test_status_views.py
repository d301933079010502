"""Status views: the state of every cell shown as a terminal grid, CSV, an HTML page and a PNG figure."""

from __future__ import annotations

import csv
import io
import os

import matplotlib.image

from nertransfer.runtime.status import STATES, CellState
from nertransfer.runtime.status_views import COLOURS, SYMBOLS, show, terminal, write_csv, write_html, write_png

LOG = "work/logs/train/tiny/hau/base/seed2.log"
ROWS = {
    "tiny/hau/base": {2: CellState("running", "epoch 3/10, dev F1 41.2, 1 min left", LOG), 1: CellState("done")},
    "tiny/luo/base": {1: CellState("failed", "exit 1: <CUDA out of memory>", "work/logs/x.log"), 2: CellState("not started")},
    "tiny-swa/hau/base": {1: CellState("queued", "Slurm: pending")},  # no seed 2 in this row
}


def test_every_state_has_a_symbol_and_a_colour():
    assert set(SYMBOLS) == set(COLOURS) == set(STATES)


def test_the_terminal_grid_has_a_symbol_per_seed_the_totals_and_the_cells_to_act_on():
    assert terminal(ROWS, colour=False) == "\n".join([
        "                    1  2",
        "tiny/hau/base       ✓  ▶",
        "tiny/luo/base       ✗  ·",
        "tiny-swa/hau/base   q   ",
        "",
        "· not started 1   q queued 1   ▶ running 1   ✓ done 1   ✗ failed 1   ! invalidated 0",
        f"▶ tiny/hau/base/seed2: epoch 3/10, dev F1 41.2, 1 min left  log: {LOG}",
        "✗ tiny/luo/base/seed1: exit 1: <CUDA out of memory>  log: work/logs/x.log",
        ""])


def test_in_colour_each_symbol_is_painted_by_its_state_and_nothing_else_changes():
    painted = terminal(ROWS, colour=True)
    assert "\033[32m ✓\033[0m" in painted and "\033[33;1m ▶\033[0m" in painted and "\033[31;1m ✗\033[0m" in painted
    plain = painted
    for code in {f"\033[{code}m" for code in ("2", "36", "33;1", "32", "31;1", "35", "0")}:
        plain = plain.replace(code, "")
    assert plain == terminal(ROWS, colour=False)


def test_show_paints_on_a_terminal_only():
    piped = io.StringIO()
    show(ROWS, piped)
    assert piped.getvalue() == terminal(ROWS, colour=False)
    controller, tty = os.openpty()
    try:
        with open(tty, "w", encoding="utf-8", closefd=False) as out:
            show({"tiny/hau/base": {1: CellState("done")}}, out)
        assert b"\033[32m" in os.read(controller, 4096)
    finally:
        os.close(tty)
        os.close(controller)


def test_the_csv_has_a_line_per_cell_and_seed_in_order_with_its_state_detail_and_log(tmp_path):
    with open(tmp_path / "status.csv", "w", newline="", encoding="utf-8") as out:
        write_csv(ROWS, out)
    with open(tmp_path / "status.csv", newline="", encoding="utf-8") as back:
        lines = list(csv.DictReader(back))
    assert [(line["row"], line["seed"], line["state"]) for line in lines] == [
        ("tiny/hau/base", "1", "done"), ("tiny/hau/base", "2", "running"),
        ("tiny/luo/base", "1", "failed"), ("tiny/luo/base", "2", "not started"), ("tiny-swa/hau/base", "1", "queued")]
    assert lines[1]["detail"] == "epoch 3/10, dev F1 41.2, 1 min left" and lines[1]["log"] == LOG  # commas quoted
    assert (tmp_path / "status.csv").read_text(encoding="utf-8").splitlines()[0] == "row,seed,state,detail,log"


def test_the_page_colours_each_cell_by_its_state_with_its_detail_on_hover(tmp_path):
    write_html(ROWS, tmp_path / "status.html")
    page = (tmp_path / "status.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<title>nertransfer status</title>" in page
    assert "<tr><th></th><th>seed 1</th><th>seed 2</th></tr>" in page
    assert (f'<td style="background:{COLOURS["running"]}" title="epoch 3/10, dev F1 41.2, 1 min left">running</td>'
            in page)
    assert 'title="exit 1: &lt;CUDA out of memory&gt;">failed</td>' in page  # escaped
    assert (f'<tr><th>tiny-swa/hau/base</th><td style="background:{COLOURS["queued"]}" title="Slurm: pending">queued</td>'
            '<td></td></tr>' in page)
    assert "<p>not started: 1, queued: 1, running: 1, done: 1, failed: 1, invalidated: 0</p>" in page


def test_a_page_written_again_replaces_the_earlier_one_whole(tmp_path):
    write_html(ROWS, tmp_path / "status.html")
    write_html({"tiny/hau/base": {1: CellState("done")}}, tmp_path / "status.html")
    assert "failed: 0" in (tmp_path / "status.html").read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["status.html"]


def test_the_figure_is_a_png_a_column_wider_per_seed(tmp_path):
    write_png(ROWS, tmp_path / "two.png")
    write_png({row: {seed: CellState("done") for seed in range(1, 9)} for row in ROWS}, tmp_path / "eight.png")
    assert (tmp_path / "two.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (height, width, _), (height8, width8, _) = (matplotlib.image.imread(tmp_path / name).shape
                                                for name in ("two.png", "eight.png"))
    assert width8 > width and height8 == height
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eight.png", "two.png"]
