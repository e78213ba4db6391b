"""The analysis report page in a real browser: headless Chromium, driven through its command line.

What a parser cannot tell: that the page renders (a screenshot of the expected size that is not
blank), that the browser logs nothing to its console (no script errors, no blocked or failed
loads), that the embedded figures decode to images of their size, that the escaped markup is text
in the DOM the browser built, and that printing gives one page per output, in landscape.

Marked ``browser``: where ``chromium`` is not on PATH the run leaves these tests out and says so in
its last line (Debian/Ubuntu: ``apt-get install -y chromium``). CI installs it (.ci/run) and sets
TRIALKIT_REQUIRE_ALL=1, which refuses to start without it: these tests never skip themselves.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import lxml.html
import pandas as pd
import pytest
from PIL import Image

from trialkit.reports.figures import km_figure, save_figure
from trialkit.reports.html import write_html
from trialkit.reports.stats import km_by_group
from trialkit.reports.table import FigureRef, Report, Row, Table

pytestmark = pytest.mark.browser

INJECTION = "<script>alert(1)</script>"
WINDOW = (1280, 2000)
TIMEOUT = 60   # seconds per Chromium run; a cold start takes ~1 s

TABLE = Table(
    id="table1", title="Table 1. Outcomes", stub="Subgroup", columns=("HR (95% CI)", "Blinatumomab", "Chemotherapy"),
    spanners=(("", 1), ("MRD remission", 2)),
    rows=(Row("All patients", ("0.38 (0.22-0.65)", "49/54 (91%)", "27/56 (48%)")),
          Row("Baseline MRD", header=True),
          Row("MRD \u2265 10\u207b\u00b3", ("0.56 (0.22-1.42)", "10/11 (91%)", "1/19 (5%)"), indent=1)),
    footnotes=("HR: unstratified Cox model.",), source="tlf.yaml#table1", population="Full analysis set, N = 111")
LISTING = Table(id="table2", title="Table 2. Verbatim terms", columns=("Verbatim term", "Grade"),
                rows=(Row("1001", (INJECTION, "3")), Row("1002", ("Seizure", "3"))), source="tlf.yaml#table2")
KM_DATA = pd.DataFrame({"AVAL": [2, 5, 8, 13, 20, 26, 1, 3, 4, 6, 9, 15], "CNSR": [0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1],
                        "ARM": ["Alpha"] * 6 + ["Beta"] * 6})


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("chromium is not on PATH: the browser test needs headless Chromium "
                    "(Debian/Ubuntu: apt-get install -y chromium)", pytrace=False)
    return found


def run_chromium(url: str, profile: Path, *flags: str) -> subprocess.CompletedProcess:
    """One headless Chromium run with its own profile folder (parallel runs must not share one) and
    the page's console messages logged to stderr as ``INFO:CONSOLE...`` lines."""
    result = subprocess.run(
        [chromium(), "--headless=new", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage",
         "--no-first-run", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *flags, url],
        check=False, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, f"chromium exited with {result.returncode}:\n{result.stderr[-3000:]}"
    return result


def console_messages(result: subprocess.CompletedProcess) -> list[str]:
    """What the page wrote to the console (script errors, failed or blocked loads, warnings)."""
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    save_figure(km_figure(km_by_group(KM_DATA, "ARM", scale=1), title="EFS", landmark=None), folder / "figures" / "figure1a")
    report = Report(study="BALL-RELAPSE", title="Analysis report", cutoff="2021-09-20", tables=(TABLE, LISTING),
                    figures=(FigureRef("figure1a", "Figure 1A. Event-free survival", "figure1a.png", "figure1a.svg",
                                       footnotes=("Censored subjects are marked.",)),),
                    generated_by="trialkit test")
    write_html(report, folder / "report.html", folder / "figures")
    return folder


def test_01_console_check_catches_errors(tmp_path):
    """Test 1 (control): the console check below does see a script error and a console.error."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); undefined_fn();</script>", encoding="utf-8")
    messages = console_messages(run_chromium(bad.as_uri(), tmp_path / "profile", "--dump-dom"))
    assert any("boom" in m for m in messages) and any("Uncaught ReferenceError" in m for m in messages), messages


def test_02_screenshot_renders_without_console_messages(site, tmp_path):
    """Test 2: the screenshot is a PNG of the window size, not blank (many colours, text-dark
    pixels on a white page), and the page logged nothing to the console."""
    shot = tmp_path / "report.png"
    result = run_chromium((site / "report.html").as_uri(), tmp_path / "profile", "--hide-scrollbars",
                          f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={shot}")
    assert console_messages(result) == []
    assert shot.is_file(), result.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size == WINDOW
        grey = image.convert("L")
        histogram = grey.histogram()
    assert sum(1 for n in histogram if n) > 20                     # anti-aliased text and figure, not one flat colour
    assert histogram[255] > 0.5 * sum(histogram)                   # a white page ...
    assert sum(histogram[:100]) > 0.002 * sum(histogram)           # ... with dark text on it


def test_03_dom_after_load_has_the_injection_as_text(site, tmp_path):
    """Test 3: in the DOM Chromium built, there is no script element, and the verbatim term
    "<script>alert(1)</script>" is the text of its cell."""
    result = run_chromium((site / "report.html").as_uri(), tmp_path / "profile", "--dump-dom")
    assert console_messages(result) == []
    dom = lxml.html.document_fromstring(result.stdout)
    assert dom.xpath("//script") == []
    cells = dom.xpath("//section[@id='table2']//tbody/tr/td")
    assert [cell.text_content() for cell in cells][:2] == [INJECTION, "3"]


def test_04_figures_decode_and_numbers_align_right(site, tmp_path):
    """Test 4: loaded in a frame of a harness page (file access allowed for that run only), every
    figure is a decoded image of the SVG's size (its width and height in pt, times 4/3 for CSS
    pixels), and the numeric cells are right-aligned as the browser computes them."""
    harness = site / "harness.html"
    harness.write_text("""<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="page" src="report.html" style="width: 1280px; height: 2000px"></iframe>
<script>
document.getElementById("page").addEventListener("load", function () {
  var doc = this.contentDocument, win = this.contentWindow;
  var images = Array.prototype.map.call(doc.images, function (i) { return [i.complete, i.naturalWidth, i.naturalHeight]; });
  var align = Array.prototype.map.call(doc.querySelectorAll("td.num"),
                                       function (td) { return win.getComputedStyle(td).textAlign; });
  document.getElementById("result").textContent = JSON.stringify({images: images, align: align});
});
</script></body></html>""", encoding="utf-8")
    result = run_chromium(harness.as_uri(), tmp_path / "profile", "--allow-file-access-from-files",
                          "--virtual-time-budget=10000", "--dump-dom")
    assert console_messages(result) == []
    found = json.loads(lxml.html.document_fromstring(result.stdout).get_element_by_id("result").text)
    svg = (site / "figures" / "figure1a.svg").read_text(encoding="utf-8")
    width, height = (float(v) for v in re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"', svg).groups())
    assert found["images"] == [[True, round(width * 4 / 3), round(height * 4 / 3)]]
    assert found["align"] and set(found["align"]) == {"right"}


def test_05_print_gives_one_landscape_page_per_output(site, tmp_path):
    """Test 5: printed to PDF, each output (2 tables, 1 figure) starts its own page and fits on it:
    3 pages, wider than high."""
    pdf = tmp_path / "report.pdf"
    result = run_chromium((site / "report.html").as_uri(), tmp_path / "profile", "--no-pdf-header-footer",
                          f"--print-to-pdf={pdf}")
    assert console_messages(result) == []
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", data)) == 3
    boxes = {tuple(float(v) for v in box) for box in re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)}
    assert boxes and all(w > h for w, h in boxes), boxes
