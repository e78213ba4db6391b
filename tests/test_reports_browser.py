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
from trialkit.reports.table import CheckResult, FigureRef, Report, Row, Table

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


# --- what a reviewer sees first: the demo's pages, measured in the browser and photographed -----------

SCREEN = (1280, 900)       # the first screen of a laptop browser window


def measure(page: Path, folder: Path, script: str, *, size: tuple[int, int] = SCREEN) -> dict:
    """Load ``page`` (a self-contained HTML file, copied into ``folder``) in a frame of ``size`` CSS px
    and return what ``script`` computes from ``doc`` and ``win`` (its document and window) as JSON."""
    shutil.copy(page, folder / "page.html")
    harness = folder / "harness.html"
    harness.write_text(f"""<!DOCTYPE html><html><body style="margin:0"><pre id="result">pending</pre>
<iframe id="page" src="page.html" style="border:0; width: {size[0]}px; height: {size[1]}px"></iframe>
<script>
document.getElementById("page").addEventListener("load", function () {{
  var doc = this.contentDocument, win = this.contentWindow;
  function lines(el) {{      // the line boxes of el's text: the distinct tops of its client rects
    var r = doc.createRange(), tops = {{}}; r.selectNodeContents(el);
    Array.prototype.forEach.call(r.getClientRects(), function (b) {{ tops[Math.round(b.top)] = true; }});
    return Object.keys(tops).length; }}
  document.getElementById("result").textContent = JSON.stringify((function () {{ {script} }})());
}});
</script></body></html>""", encoding="utf-8")
    result = run_chromium(harness.as_uri(), folder / "profile", "--allow-file-access-from-files",
                          "--virtual-time-budget=20000", "--dump-dom")
    assert console_messages(result) == []
    return json.loads(lxml.html.document_fromstring(result.stdout).get_element_by_id("result").text)


def screenshot(page: Path, shot: Path, size: tuple[int, int] = SCREEN) -> Image.Image:
    """A screenshot of the first ``size`` pixels of ``page``, saved as ``shot`` (kept with the test's
    temporary files for a person to look at), checked to be a rendered page, not a blank one."""
    result = run_chromium(page.as_uri(), shot.parent / "profile-shot", "--hide-scrollbars",
                          f"--window-size={size[0]},{size[1]}", f"--screenshot={shot}")
    assert console_messages(result) == [] and shot.is_file(), result.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == size and len(image.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 20
    return image


def share_of(image: Image.Image, colour: tuple[int, int, int], box: tuple[int, int, int, int], tolerance: int = 12) -> float:
    """The share of the pixels of ``box`` that are ``colour`` (each channel within ``tolerance``)."""
    region = image.crop(box)
    hits = sum(n for n, rgb in region.getcolors(maxcolors=1 << 20) if all(abs(a - b) <= tolerance for a, b in zip(rgb, colour)))
    return hits / (region.width * region.height)


def report_from_json(path: Path, **changes) -> Report:
    """The Report a report.json holds, to render its page again with ``changes`` (e.g. a banner)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    # a table's "cells" (where each cell's result is in ars.json) is written beside the Table, not part of it
    tables = tuple(Table(**{**{k: v for k, v in t.items() if k != "cells"}, "columns": tuple(t["columns"]),
                            "footnotes": tuple(t["footnotes"]),
                            "spanners": tuple(tuple(s) for s in t["spanners"]),
                            "rows": tuple(Row(**{**r, "cells": tuple(r["cells"])}) for r in t["rows"])})
                   for t in data["tables"])
    figures = tuple(FigureRef(**{**f, "footnotes": tuple(f["footnotes"])}) for f in data["figures"])
    checks = tuple(CheckResult(**c) for c in data["checks"])
    fields = {**data, "tables": tables, "figures": figures, "checks": checks, "notes": tuple(data["notes"]),
              "banner": tuple(data["banner"])}
    return Report(**{**fields, **changes})


def test_06_demo_report_first_screen_title_once_and_readable_forest(demo, tmp_path):
    """Test 6: the demo's report.html: the window title is the heading, said once (it read
    "BALLR01: BALLR01: ..."), no study line repeats it, no alert (every check agrees), the
    contents are on the first screen; the forest plot is shown at (nearly) its own size, so its
    10 pt text is at least 12 CSS px. The screenshot of the first screen is kept."""
    found = measure(demo / "report" / "report.html", tmp_path, """
      var h1 = doc.querySelector("header h1"), img = doc.querySelector("#figure1b img");
      return {title: doc.title, h1: h1.textContent, study: doc.querySelectorAll("header .study").length,
              alerts: doc.querySelectorAll(".alert").length, said: (doc.body.innerText.match(/BALLR01/g) || []).length,
              toc: doc.querySelector("nav.toc").getBoundingClientRect().bottom, height: win.innerHeight,
              forest: img.clientWidth / img.naturalWidth};""")
    assert found["title"] == found["h1"] and found["title"].startswith("BALLR01: blinatumomab")
    assert found["study"] == 0 and found["alerts"] == 0 and found["said"] == 1
    assert found["toc"] < found["height"]
    assert found["forest"] * 10 * 4 / 3 >= 12, found
    screenshot(demo / "report" / "report.html", tmp_path / "report_first_screen.png")


def test_07_banner_is_seen_first(demo, tmp_path):
    """Test 7: the demo's report rendered again with a banner (as `trialkit run --force` gives it):
    the banner is the first thing on the first screen, every line of it visible (in the
    measured layout and as its red frame in the screenshot); without one, the screenshot has
    none of that red."""
    banner = ("SDTM: 3 errors, e.g. dm.csv row 4 column SEX: 'X' is not in the codelist; see sdtm/findings.json",
              "ADaM: 1 error, e.g. ADSL.TRTSDT after TRTEDT for 2 subjects; see adam/findings.json")
    page = write_html(report_from_json(demo / "report" / "report.json", banner=banner), tmp_path / "banner" / "report.html",
                      demo / "report")
    found = measure(page, tmp_path, """
      var box = doc.querySelector(".banner").getBoundingClientRect(), first = doc.body.firstElementChild;
      var items = Array.prototype.map.call(doc.querySelectorAll(".banner li"), function (li) {
        var r = li.getBoundingClientRect(); return [li.textContent, r.top, r.bottom]; });
      return {first: first.className, top: box.top, bottom: box.bottom, height: win.innerHeight, items: items,
              header: doc.querySelector("header").getBoundingClientRect().top};""")
    assert found["first"] == "alert banner" and 0 <= found["top"] < 40 and found["bottom"] <= found["header"]
    assert [text for text, _, _ in found["items"]] == list(banner)
    assert all(0 < top < bottom <= found["height"] for _, top, bottom in found["items"])
    red = (0xA4, 0x00, 0x1D)
    with_banner = screenshot(page, tmp_path / "report_banner_first_screen.png")
    top = (0, 0, SCREEN[0], int(found["bottom"]) + 10)
    assert share_of(with_banner, red, top) > 0.005
    assert share_of(screenshot(demo / "report" / "report.html", tmp_path / "report_plain.png"), red, top) == 0


def test_08_demo_validation_page_findings_first_ids_on_one_line(demo, tmp_path):
    """Test 8: the demo's validation.html: the verdict and the first finding are on the first screen
    (the 55 passed rules came first, the first finding 2,700 px down); no rule id wraps (one line box
    each, measured on its text); the passed rules are folded (one line, their table not visible) until
    opened, and then their ids do not wrap either."""
    found = measure(demo / "validation" / "validation.html", tmp_path, """
      var ids = Array.prototype.map.call(doc.querySelectorAll(".rule-id"), function (el) { return [el.textContent, lines(el)]; });
      var passed = doc.getElementById("passed");
      var folded = [passed.getBoundingClientRect().height, passed.querySelector("table").checkVisibility()];
      passed.open = true;
      var opened = [passed.getBoundingClientRect().height, passed.querySelector("table").checkVisibility()];
      var wrapped = Array.prototype.filter.call(passed.querySelectorAll(".rule-id"),
                                                function (el) { return lines(el) > 1; }).length;
      return {verdict: doc.getElementById("verdict").getBoundingClientRect().bottom,
              finding: doc.querySelector("tr.finding").getBoundingClientRect().bottom, height: win.innerHeight,
              ids: ids, folded: folded, opened: opened, wrapped: wrapped};""")
    assert found["verdict"] < found["finding"] < found["height"], found
    assert found["ids"] and [i for i, n in found["ids"] if n != 1] == []
    assert found["folded"][0] < 40 and found["folded"][1] is False, found["folded"]
    assert found["opened"][0] > 1000 and found["opened"][1] is True and found["wrapped"] == 0
    screenshot(demo / "validation" / "validation.html", tmp_path / "validation_first_screen.png")


def test_09_validation_page_with_100000_findings(tmp_path):
    """Test 9: a validation page of 100,000 findings (two rules, one with 5) loads without console
    messages, lists HTML_MAX_FINDINGS rows with both rules, says on the first screen how many more the
    JSON holds, and shows the first finding on the first screen."""
    from trialkit.validators.report import HTML_MAX_FINDINGS, write_report
    from trialkit.validators.rules import ValidationFinding

    findings = [ValidationFinding("TK-SDTM-0003", "error", "LB", f"LBORRES is blank on row {i}", variable="LBORRES",
                                  usubjid=f"S-{i % 2000:04d}", row=i) for i in range(99_995)]
    findings += [ValidationFinding("TK-SDTM-0010", "error", "AE", "USUBJID not in DM", usubjid=f"X-{i}") for i in range(5)]
    page = write_report(findings, ["LB", "AE"], "html", tmp_path / "big" / "validation.html", "error")
    found = measure(page, tmp_path, """
      var note = doc.querySelector(".note").getBoundingClientRect();
      return {rows: doc.querySelectorAll("tr.finding").length, rules: doc.querySelectorAll("section.rule").length,
              note: note.bottom, text: doc.querySelector(".note").textContent,
              finding: doc.querySelector("tr.finding").getBoundingClientRect().bottom, height: win.innerHeight};""")
    assert found["rows"] == HTML_MAX_FINDINGS and found["rules"] == 2
    assert f"{100_000 - HTML_MAX_FINDINGS} more are in the JSON" in found["text"]
    assert found["note"] < found["height"] and found["finding"] < found["height"], found
    screenshot(page, tmp_path / "validation_100000_first_screen.png")
