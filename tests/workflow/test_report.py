"""`snakemake --report` of the committed default run, opened as a reader would: in a real headless browser.

Needs Debian's chromium (`apt-get install chromium`; .ci/run installs it). Without it the test is
skipped, except in CI, where a missing browser is a failure.
"""

from __future__ import annotations

import base64
import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, unavailable

pytestmark = pytest.mark.slow
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
SHOW_TABLE = ("<script>setTimeout(function () {{ var path = Object.keys(results).find(function (k)"
              " {{ return k.endsWith('{name}') }});"
              " app.setView({{content: 'html', contentPath: results[path].data_uri,"
              " resultPath: path, navbarMode: 'resultinfo'}}); }},"
              " 1500);</script>")


def browser(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000", *args],
                          capture_output=True, text=True, timeout=180)


def colours(png: Path) -> int:
    """How many colours a screenshot has: a blank or error page has a handful."""
    import matplotlib.image
    import numpy as np

    pixels = matplotlib.image.imread(png)
    return len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0))


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """The report of the committed default run: its results/ in a folder with the shipped data, nothing run."""
    if BROWSER is None:
        unavailable("no chromium to open the report with (apt-get install chromium)")
    workdir = tmp_path_factory.mktemp("report")
    (workdir / "data").symlink_to(REPO / "data")
    shutil.copytree(REPO / "results", workdir / "results")
    for target in ("report.html", "report.zip"):
        result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
                                 "--report", target], capture_output=True, text=True)
        assert result.returncode == 0 and "Report created" in result.stdout + result.stderr, result.stderr[-3000:]
    return workdir


def test_the_report_holds_every_table_and_figure_with_its_caption_and_the_configuration(report):
    page = (report / "report.html").read_text()
    embedded = {name for name in re.findall(r'"results/([^"]+?\.(?:html|png))"', page)}
    committed = {p.name for p in (REPO / "results").iterdir() if p.suffix in (".html", ".png")}
    assert committed and committed <= embedded  # every rendered table and figure of the default run
    zero_shot = re.search(r'"results/zero_shot\.html".*?"data_uri":\s*"data:text/html[^,]*,([^"]+)"', page, re.S)
    assert zero_shot and "Zero-shot F1 x 100" in base64.b64decode(zero_shot.group(1)).decode()
    for caption in ("Zero-shot F1 x 100 of every fine-tuned model", "paired bootstrap over test sentences", "Overlap of each"):
        assert caption in page
    shown = html.unescape(page)  # the configuration's YAML is syntax-highlighted, its quotes escaped
    assert '"checkpoints"' in shown and "tiny-swa" in shown  # the configuration, on the report's first page
    assert (report / "report.zip").stat().st_size > 100_000


def test_the_report_opens_in_a_browser_and_shows_its_categories_and_a_rendered_table(report, tmp_path):
    dom = browser("--dump-dom", f"file://{report / 'report.html'}").stdout
    for category in ("Zero-shot F1", "In-language", "Checkpoint effects", "Overlap"):
        assert category in dom, dom[:2000]
    visible = re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S)  # not code or its highlighting's CSS
    assert "Error" not in visible[:20000]
    page = (report / "report.html").read_text()
    viewer = report / "report-table.html"  # the report, told to open the zero-shot table as a click would
    viewer.write_text(page[: page.rindex("</html>")] + SHOW_TABLE.format(name="zero_shot.html") + "</html>")
    screenshot = tmp_path / "table.png"
    browser("--window-size=1400,900", f"--screenshot={screenshot}", f"file://{viewer}")
    assert screenshot.exists() and colours(screenshot) > 50
