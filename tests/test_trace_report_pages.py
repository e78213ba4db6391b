"""trialkit.trace.report_pages: every number of report.html links to its trace page, and the pages
hold what the data say (the records counted, their subjects' raw records), checked here against
report.json, reports.cell_records and sdtm/provenance.tsv read independently.

The browser test (marker ``browser``: chromium and chromedriver, driven by selenium) clicks through
the demo's report as a reader does: a Table 1 count, then the first subject, to its raw record.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import lxml.html
import pandas as pd
import pytest

from trialkit.provenance import raw_record, read_provenance
from trialkit.reports.cell_records import RECORD, cell_records
from trialkit.trace.pages import page_name
from trialkit.xpt import read_xpt

INJECTION = "<script>alert(1)</script>"


def _report(run: Path) -> dict:
    return json.loads((run / "report" / "report.json").read_text(encoding="utf-8"))


def _count_cell(report: dict, table_id: str, prefix: str) -> tuple[str, int]:
    """The first cell of ``table_id`` under ``prefix`` showing a count ('54' or '12 (22%)')."""
    table = next(t for t in report["tables"] if t["id"] == table_id)
    return next((cid, int(text.split()[0])) for row in table["rows"] for cid, text in zip(row["cell_ids"], row["cells"])
                if cid.startswith(prefix) and re.fullmatch(r"\d+( \(\d+%\))?", text) and int(text.split()[0]) > 0)


def _page(path: Path):
    return lxml.html.fromstring(path.read_text(encoding="utf-8"))


def _listed(page) -> list[str]:
    """The USUBJIDs of a cell page's table of records, in its order."""
    return [tr.xpath("./td")[0].text_content() for tr in page.xpath("//main/table/tr[td]")]


def _raw_labels(run: Path, dataset: str, records) -> set[str]:
    """'ae.csv row 12' of each of ``records`` of SDTM ``dataset``, from provenance.tsv read here."""
    prov = read_provenance(run / "sdtm")
    mine = prov[(prov["dataset"] == dataset) & prov["record"].isin(list(records))]
    return {raw_record(f, int(r), loc) for f, r, loc in zip(mine["file"], mine["row"], mine["locator"])}


def test_01_every_computed_cell_links_to_its_page_and_fixed_text_does_not(demo):
    """Test 1: report.html has one link per computed cell of report.json (fixed texts such as
    "Reference" have none), each to trace/cells/<cell>.html, which exists; no link leaves the folder."""
    report, html = _report(demo), _page(demo / "report" / "report.html")
    computed = [cid for t in report["tables"] for cid in t["cells"]]
    fixed = [cid for t in report["tables"] for r in t["rows"] for cid in r.get("cell_ids", []) if cid not in t["cells"]]
    assert len(computed) > 300 and fixed
    links = [a.get("href") for a in html.xpath("//table[@class='tlf']//td/a")]
    assert sorted(links) == sorted(f"trace/cells/{page_name(cid)}" for cid in computed)
    assert all((demo / "report" / href).is_file() for href in links)
    for table in report["tables"]:              # the link sits on the cell that shows the number
        trs = html.xpath(f"//section[@id='{table['id']}']//tbody/tr[not(@class='group')]")
        rows = [r for r in table["rows"] if not r.get("header")]
        assert len(trs) == len(rows)
        for tr, row in zip(trs, rows):
            for td, cid, text in zip(tr.xpath("./td"), row["cell_ids"], row["cells"]):
                assert (td.xpath("./a/@href") == [f"trace/cells/{page_name(cid)}"]) == (cid in table["cells"])
                assert td.text_content() == text
    every = [h for p in (demo / "report").rglob("*.html") for h in re.findall(r'(?:href|src)="([^"]*)"', p.read_text("utf-8"))]
    assert not [h for h in every if re.match(r"[a-z]+:|/|//", h) and not h.startswith("data:")]
    manifest = json.loads((demo / "manifest.json").read_text(encoding="utf-8"))
    assert f"report/trace/cells/{page_name(computed[0])}" in manifest["files"]


@pytest.mark.parametrize("table_id, prefix", [("table1", "table1/all-patients/"),
                                              ("table2", "table2/event-free-survival/subjects-with-an-event/")])
def test_02_a_cell_page_lists_exactly_the_subjects_counted(demo, table_id, prefix):
    """Test 2: a Table 1 count and a Table 2 event count: the page lists the records cell_records
    returns, in file order, their distinct subjects as many as the number the cell shows; each
    subject links to its page, each record to its anchor there."""
    cell, shown = _count_cell(_report(demo), table_id, prefix)
    _, records = cell_records(demo / "report", demo / "adam", cell)
    page = _page(demo / "report" / "trace" / "cells" / page_name(cell))
    assert _listed(page) == list(records["USUBJID"])
    assert records["USUBJID"].nunique() == shown
    assert f"{records['USUBJID'].nunique()} subject(s)" in page.text_content()
    first = page.xpath("//main/table/tr[td]")[0]
    usubjid, record = records["USUBJID"].iloc[0], int(records[RECORD].iloc[0])
    assert first.xpath("./td[1]/a/@href") == [f"../subjects/{page_name(usubjid)}"]
    dataset = "ADSL" if table_id == "table1" else "ADTTE"
    assert first.xpath("./td[last()]/a/@href") == [f"../subjects/{page_name(usubjid)}#adam-{dataset}-{record}"]
    subject = _page(demo / "report" / "trace" / "subjects" / page_name(usubjid))
    assert subject.get_element_by_id(f"adam-{dataset}-{record}") is not None


def test_03_a_subject_page_shows_the_raw_records_of_its_dm_and_ae_records(demo):
    """Test 3: the page of a subject with adverse events names the raw file and row (provenance.tsv,
    read here) of the subject's DM record and of each AE record its ADAE records came from."""
    adae = read_xpt(demo / "adam" / "adae.xpt")[0]
    usubjid = adae["USUBJID"].value_counts().index[0]
    text = _page(demo / "report" / "trace" / "subjects" / page_name(usubjid)).text_content()
    dm, ae = read_xpt(demo / "sdtm" / "dm.xpt")[0], read_xpt(demo / "sdtm" / "ae.xpt")[0]
    dm_records = [i + 1 for i in dm.index[dm["USUBJID"] == usubjid]]
    ae_records = [i + 1 for i in ae.index[(ae["USUBJID"] == usubjid) & ae["AESEQ"].isin(adae.loc[adae["USUBJID"] == usubjid, "AESEQ"])]]
    assert len(dm_records) == 1 and len(ae_records) == (adae["USUBJID"] == usubjid).sum() > 1
    for dataset, records in (("DM", dm_records), ("AE", ae_records)):
        labels = _raw_labels(demo, dataset, records)
        assert labels and all(label in text for label in labels), (dataset, labels)
        assert all(f"SDTM {dataset} record {r}" in text for r in records)


def test_04_a_raw_value_with_markup_shows_as_text(demo, tmp_path):
    """Test 4: an AE term holding ``<script>`` in the raw export: the run's subject page and cell page
    show it as text (escaped), and no page has a script element."""
    from trialkit.pipeline import run_pipeline

    raw = tmp_path / "raw"
    shutil.copytree(demo / "raw", raw)
    ae = pd.read_csv(raw / "ae.csv", dtype=str, keep_default_na=False)
    ae.loc[0, "AETERM"] = INJECTION
    ae.to_csv(raw / "ae.csv", index=False)
    manifest = run_pipeline("ball_relapse", raw, tmp_path / "run")
    assert manifest["report"] == "report/report.html"
    subject = f"BALLR01-{ae.loc[0, 'SUBJID']}"
    page = (tmp_path / "run" / "report" / "trace" / "subjects" / page_name(subject)).read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert INJECTION in _page(tmp_path / "run" / "report" / "trace" / "subjects" / page_name(subject)).text_content()
    for path in (tmp_path / "run" / "report" / "trace").rglob("*.html"):
        assert "<script" not in path.read_text(encoding="utf-8").lower(), path


def test_05_without_a_run_folder_cell_pages_only_and_no_trace_pages_flag(runner, demo, tmp_path):
    """Test 5: `trialkit report ADAM --out` writes the cell pages, their subjects not links and a
    sentence saying where the trace stops; --no-trace-pages writes no trace/ and no links."""
    from trialkit.cli import main

    result = runner.invoke(main, ["report", str(demo / "adam"), "--out", str(tmp_path / "alone")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "alone" / "trace" / "subjects").exists()
    cell, _ = _count_cell(_report(demo), "table1", "table1/all-patients/")
    page = _page(tmp_path / "alone" / "trace" / "cells" / page_name(cell))
    assert not page.xpath("//main/table//a") and _listed(page)
    assert "the trace stops at these ADaM records" in page.text_content()
    result = runner.invoke(main, ["report", str(demo / "adam"), "--out", str(tmp_path / "plain"), "--no-trace-pages"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "plain" / "trace").exists()
    assert 'class="trace"' not in (tmp_path / "plain" / "report.html").read_text(encoding="utf-8")


def test_06_trace_cell_html_writes_the_same_page(runner, demo, tmp_path):
    """Test 6: `trialkit trace RUN --cell ID --html` writes the page report.html links to, byte for byte."""
    from trialkit.cli import main

    run = tmp_path / "run"
    shutil.copytree(demo, run, ignore=shutil.ignore_patterns("validation"))
    cell, _ = _count_cell(_report(demo), "table1", "table1/mrd-")
    target = run / "report" / "trace" / "cells" / page_name(cell)
    target.unlink()
    result = runner.invoke(main, ["trace", str(run), "--cell", cell, "--html"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == (demo / "report" / "trace" / "cells" / page_name(cell)).read_bytes()


@pytest.mark.browser
def test_07_browser_click_from_a_table1_count_to_a_raw_record(demo):
    """Test 7 (headless Chromium through chromedriver): open the demo's report.html, click the first
    Table 1 count, land on its cell page, click the first subject, and read there the raw file and row
    of the subject's DM record (provenance.tsv, read here)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)
    try:
        driver.get((demo / "report" / "report.html").as_uri())
        link = driver.find_element(By.CSS_SELECTOR, "#table1 td a.trace")
        shown = link.text
        link.click()
        WebDriverWait(driver, 30).until(expected_conditions.url_contains("/trace/cells/"))
        assert driver.find_element(By.TAG_NAME, "h1").text.endswith(f": {shown}")
        subject = driver.find_element(By.CSS_SELECTOR, "main table tr td a")
        usubjid = subject.text
        subject.click()
        WebDriverWait(driver, 30).until(expected_conditions.url_contains("/trace/subjects/"))
        body = driver.find_element(By.TAG_NAME, "body").text
    finally:
        driver.quit()
    dm = read_xpt(demo / "sdtm" / "dm.xpt")[0]
    labels = _raw_labels(demo, "DM", [int(dm.index[dm["USUBJID"] == usubjid][0]) + 1])   # dm.csv row N, and the forms merged in
    assert usubjid in body and any(label.startswith("dm.csv row ") for label in labels)
    assert all(label in body for label in labels), labels


def test_08_subject_pages_written_by_forked_workers_are_the_same_bytes(demo, tmp_path, monkeypatch):
    """Test 8: the demo's subject pages written again in batches of 20 shared among two forked
    workers (as a study of thousands is) are byte for byte the pages the demo wrote in one batch; they
    name the run folder as `demo --out` was given it, not the temporary sibling it was written in."""
    from trialkit.trace import report_pages
    from trialkit.trace.run_folder import RunFolder

    pools, forked_pool_sharing = [], report_pages.forked_pool_sharing

    def counted_pool(shared, workers):
        pools.append(workers)
        return forked_pool_sharing(shared, workers)

    monkeypatch.setattr(report_pages, "forked_pool_sharing", counted_pool)
    monkeypatch.setattr(report_pages, "BATCH", 20)
    monkeypatch.setattr(report_pages, "usable_cores", lambda: 2)
    written = demo / "report" / "trace" / "subjects"
    subjects = sorted(str(u) for u in read_xpt(demo / "adam" / "adsl.xpt")[0]["USUBJID"])
    report_pages.write_subject_pages(RunFolder(demo), tmp_path, subjects)
    assert pools == [2]
    assert f"run {demo} · " in (written / page_name(subjects[0])).read_text(encoding="utf-8")
    again = sorted(p.name for p in (tmp_path / "trace" / "subjects").glob("*.html"))
    assert again == sorted(p.name for p in written.glob("*.html")) and len(again) == len(subjects) > 100
    assert all((tmp_path / "trace" / "subjects" / name).read_bytes() == (written / name).read_bytes() for name in again)
