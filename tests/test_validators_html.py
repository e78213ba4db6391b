"""Tests of the HTML validation report (trialkit.validators.report.to_html) and ``validate --format html``.

The page is parsed back (lxml.html); what a reviewer sees in a browser (the first finding within the
first screen, rule ids on one line) is measured in test_reports_browser.py.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import lxml.html
import pytest
from click.testing import CliRunner

from trialkit.cli import main, run_simulation
from trialkit.sdtm.engine import run_sdtm
from trialkit.sdtm.output import write_sdtm
from trialkit.validators.report import HTML_MAX_FINDINGS, shares, to_html, write_report
from trialkit.validators.rules import RULES, Rule, RuleRun, ValidationFinding

XSS = "<script>alert(1)</script>"

FINDINGS = [
    ValidationFinding("TK-HTML-0001", "error", "DM", "AGE is missing", variable="AGE", usubjid="S-001", row=3),
    ValidationFinding("TK-HTML-0002", "warning", "AE", "odd value", variable="AETERM", usubjid="S-002",
                      seq=4.0, row=7, value=XSS),
    ValidationFinding("TK-HTML-0003", "notice", "ADTTE", "a note & more", variable="CNSR", seq=float("nan")),
]
DATASETS = ["DM", "AE", "ADTTE", "LB"]


@pytest.fixture(scope="module")
def page() -> str:
    return to_html(FINDINGS, DATASETS, "error")


def test_html_names_every_dataset_and_rule(page):
    for name in DATASETS:
        assert name in page
    for f in FINDINGS:
        assert f.rule in page
    for rule_id in RULES:   # registered rules with no findings are listed as passed
        assert rule_id in page
    assert page.lstrip().startswith("<!DOCTYPE html>")
    assert "1 error" in page and "1 warning" in page and "1 notice" in page


def test_html_escapes_values(page):
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert "a note &amp; more" in page


def test_html_is_self_contained(page):
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<link" not in page.lower()
    assert "<style>" in page and "<script>" in page   # inline CSS and JS only


def test_html_has_filters_and_all_rows_without_js(page):
    for sel in ("f-dataset", "f-severity"):
        assert f'id="{sel}"' in page
    rows = re.findall(r'<tr class="finding" data-dataset="([^"]+)" data-rule="([^"]+)" data-severity="([^"]+)">', page)
    assert rows == [(f.dataset, f.rule, f.severity) for f in FINDINGS]   # one per rule here, most severe first
    assert "display: none" not in page.split('<h2 id="findings">')[1].split("<details")[0]


def groups_of(page: str) -> dict[str, lxml.html.HtmlElement]:
    doc = lxml.html.document_fromstring(page)
    return {section.get("data-rule"): section for section in doc.xpath("//section[contains(@class, 'rule')]")}


def test_html_pass_fail_at_threshold():
    """The verdict and each rule's line in the summary follow the threshold: a warning fails at
    warning, and is listed "below error" at error."""
    strict = to_html(FINDINGS, DATASETS, "notice")
    lenient = to_html(FINDINGS, DATASETS, "error")

    def verdict(page):
        return " ".join(lxml.html.document_fromstring(page).get_element_by_id("verdict").text_content().split())

    assert verdict(lenient).startswith("Fails: 1 rule with findings at error or above")
    assert verdict(strict).startswith("Fails: 3 rules with findings at notice or above")
    assert verdict(to_html(FINDINGS[1:], DATASETS, "error")).startswith("Passes: no finding at error or above; 2 findings")
    assert verdict(to_html([], DATASETS, "error")).startswith("Passes: no findings")
    summary = lxml.html.document_fromstring(lenient).get_element_by_id("summary")
    severities = {tr.xpath("./td")[0].text_content(): " ".join(tr.xpath("./td")[1].text_content().split())
                  for tr in summary.xpath(".//tbody/tr")}
    assert severities == {"TK-HTML-0001": "error", "TK-HTML-0002": "warning (below error)",
                          "TK-HTML-0003": "notice (below error)"}


def test_html_caps_findings_with_a_note(tmp_path):
    many = [ValidationFinding("TK-HTML-0001", "error", "DM", f"finding {i}", row=i) for i in range(12)]
    page = to_html(many, ["DM"], "error", max_findings=5)
    assert page.count('<tr class="finding" data-dataset="DM"') == 5
    assert "7 more are in the JSON report" in page and "7 more findings of TK-HTML-0001 in validation.json" in page
    assert "more are in the JSON" not in to_html(many[:5], ["DM"], "error", max_findings=5)
    out = write_report(many, ["DM"], "html", tmp_path / "r" / "v.html", "error")
    assert "finding 11" in out.read_text(encoding="utf-8")   # default cap is far above 12


# --- what a reviewer reads first ----------------------------------------------------------------------

def test_html_findings_before_the_rules_that_passed():
    """The order of the page: verdict, the by-rule summary, the findings grouped by rule, and last
    the rules that found nothing, folded in <details> (55 "pass" rows came first before, 2,700 px)."""
    page = to_html(FINDINGS, DATASETS, "error")
    doc = lxml.html.document_fromstring(page)
    order = [el.get("id") for el in doc.xpath("//*[@id='verdict' or @id='summary' or @id='findings' or @id='passed']")]
    assert order == ["verdict", "summary", "findings", "passed"]
    passed = doc.get_element_by_id("passed")
    assert passed.tag == "details" and passed.get("open") is None
    ids = [td.text_content() for td in passed.xpath(".//tbody/tr/td[1]")]
    assert ids == sorted(set(RULES) - {f.rule for f in FINDINGS}) and ids
    assert "Rules that found nothing" in passed.xpath("./summary")[0].text_content()


def test_html_groups_findings_by_rule_with_title_and_rationale():
    """Each rule with findings is a section headed by its id, severity, title and count, with its
    rationale, listing its findings; most severe rule first, then the most findings. The summary
    gives the counts by severity and one line per rule with its title."""
    rule = next(r for r in RULES.values() if r.id == "TK-SDTM-0005")
    other = next(r for r in RULES.values() if r.id == "TK-SDTM-0002")
    findings = ([ValidationFinding(other.id, "warning", "AE", f"w{i}", variable="AELLT") for i in range(3)]
                + [ValidationFinding(rule.id, "error", "DM", f"e{i}", variable="SEX", usubjid=f"S-{i}") for i in range(2)])
    page = to_html(findings, ["AE", "DM"], "error")
    groups = groups_of(page)
    assert list(groups) == [rule.id, other.id]
    heading = " ".join(groups[rule.id].xpath(".//h3")[0].text_content().split())
    assert heading == f"{rule.id} error {rule.title} 2 findings"
    assert groups[rule.id].xpath(".//p[@class='rationale']")[0].text_content() == rule.rationale
    assert [tr.xpath("./td")[2].text_content() for tr in groups[rule.id].xpath(".//tbody/tr")] == ["S-0", "S-1"]
    doc = lxml.html.document_fromstring(page)
    counts = [" ".join(li.text_content().split()) for li in doc.get_element_by_id("verdict").xpath(".//li")]
    assert counts == ["5 findings", "2 error", "3 warning", "0 notice"]
    summary = doc.get_element_by_id("summary").xpath(".//tbody/tr")
    lines = [[" ".join(td.text_content().split()) for td in tr.xpath("./td")] for tr in summary]
    assert lines == [[rule.id, "error", rule.title, "2", "DM"], [other.id, "warning (below error)", other.title, "3", "AE"]]


def test_html_rule_ids_are_kept_on_one_line():
    """Rule ids (summary, group headings, passed list) carry the class whose CSS forbids wrapping."""
    page = to_html(FINDINGS, DATASETS, "error")
    assert re.search(r"\.rule-id\s*\{[^}]*white-space:\s*nowrap", page)
    doc = lxml.html.document_fromstring(page)
    for rule_id in ("TK-HTML-0001", "TK-SDTM-0001"):
        cells = doc.xpath(f"//*[normalize-space(text())='{rule_id}']")
        assert cells and all("rule-id" in (c.get("class") or "") or "rule-id" in (c.getparent().get("class") or "")
                             for c in cells), rule_id


def test_html_core_rule_fits_the_same_layout():
    """A CORE rule (CORE-000351, CDISC rule CG0151), passed as rule metadata like any other, is a
    group with its title, rationale and CDISC id; a finding of a rule without metadata is listed
    under its id."""
    core = Rule("CORE-000351", "error", "DSDECOD is not a term of NCOMPLT", "SDTMIG 3.4 section 6.2.4 (DS).",
                cdisc_id="CG0151", standard_ref="SDTMIG 3.4, DS assumption 4")
    findings = [ValidationFinding("CORE-000351", "error", "DS", "DSDECOD 'GONE' is not in NCOMPLT", variable="DSDECOD",
                                  usubjid="S-001", seq=3.0, value="GONE"),
                ValidationFinding("CORE-000999", "warning", "DM", "no metadata for this one")]
    page = to_html(findings, ["DS", "DM"], "error", rules={**RULES, core.id: core})
    groups = groups_of(page)
    assert list(groups) == ["CORE-000351", "CORE-000999"]
    refs = " ".join(groups["CORE-000351"].xpath(".//p[@class='refs']")[0].text_content().split())
    assert refs == "CDISC rule CG0151 · SDTMIG 3.4, DS assumption 4"
    assert "(rule not in the registry)" in groups["CORE-000999"].xpath(".//h3")[0].text_content()


def test_html_rules_that_did_not_run_are_not_listed_as_passed():
    """A CORE rule that did not run (not applicable to these datasets, not executable) is listed
    apart with the reason, folded, not among the rules that found nothing."""
    rules = {**RULES, "CORE-000001": Rule("CORE-000001", "error", "AE start after end", "CDISC CG0001.", cdisc_id="CG0001"),
             "CORE-000002": Rule("CORE-000002", "error", "EX dose is numeric", "CDISC CG0002.", cdisc_id="CG0002")}
    runs = [RuleRun("CORE-000001", "core", "not applicable", reason="no AE dataset"),
            RuleRun("CORE-000002", "core", "passed")]
    doc = lxml.html.document_fromstring(to_html(FINDINGS, DATASETS, "error", rules=rules, runs=runs))
    not_run = doc.get_element_by_id("not-run")
    assert not_run.tag == "details" and not_run.get("open") is None
    assert [[td.text_content() for td in tr.xpath("./td")] for tr in not_run.xpath(".//tbody/tr")] == [
        ["CORE-000001", "AE start after end", "not applicable", "no AE dataset"]]
    passed = [td.text_content() for td in doc.get_element_by_id("passed").xpath(".//tbody/tr/td[1]")]
    assert "CORE-000002" in passed and "CORE-000001" not in passed


def test_html_shares_keep_small_rules_on_the_page():
    """The cap is shared: rules with few findings are listed in full, the rest split what is left."""
    assert shares([100_000, 3, 40], 100) == [57, 3, 40]
    assert shares([10, 10], 5) == [2, 3]
    assert shares([2, 3], 100) == [2, 3]
    assert sum(shares([7, 70_000, 30_000, 1], 5000)) == 5000


def test_html_stays_usable_with_100000_findings(tmp_path):
    """With 100,000 findings the page lists HTML_MAX_FINDINGS of them, some of every rule, says how
    many more are in the JSON, and is written in seconds."""
    findings = [ValidationFinding("TK-SDTM-0003", "error", "LB", f"LBORRES is blank on row {i}", variable="LBORRES",
                                  usubjid=f"S-{i % 2000:04d}", row=i) for i in range(99_995)]
    findings += [ValidationFinding("TK-SDTM-0010", "error", "AE", "USUBJID not in DM", usubjid=f"X-{i}") for i in range(5)]
    started = time.perf_counter()
    out = write_report(findings, ["LB", "AE"], "html", tmp_path / "v.html", "error")
    assert time.perf_counter() - started < 30
    page = out.read_text(encoding="utf-8")
    assert page.count('<tr class="finding"') == HTML_MAX_FINDINGS
    assert list(groups_of(page)) == ["TK-SDTM-0003", "TK-SDTM-0010"]
    assert page.count('data-rule="TK-SDTM-0010" data-severity') == 5
    assert f"lists {HTML_MAX_FINDINGS} of the 100000 findings" in page
    assert f"{100_000 - HTML_MAX_FINDINGS} more are in the JSON" in page
    assert len(page) < 5_000_000


def test_rationales_cite_files_the_user_has():
    """Every rule's rationale that names a file names one in this repository (it cited DESIGN.md,
    which is not): the standard, or a repository file such as trialkit/ledger.py."""
    import trialkit.validators.run  # noqa: F401  registers every rule

    root = Path(__file__).resolve().parents[1]
    cited = {(r.id, name) for r in RULES.values() for name in re.findall(r"[\w./-]+\.(?:md|py|ya?ml|j2|txt)\b", r.rationale)}
    assert cited, "expected rationales citing repository files (trialkit/ledger.py, specs/standards/README.md)"
    assert [(rule_id, name) for rule_id, name in sorted(cited) if not (root / name).is_file()] == []


def test_cli_validate_writes_html(tmp_path, monkeypatch):
    run_simulation("ball_relapse", 20, 1, tmp_path / "raw", None, 0, 0.0)
    write_sdtm(run_sdtm("ball_relapse", tmp_path / "raw"), tmp_path / "sdtm")
    out = tmp_path / "X.html"
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "sdtm"), "--format", "html", "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page.lstrip().startswith("<!DOCTYPE html>") and "DM" in page and "trialkit validation report" in page
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "sdtm"), "--format", "html", "--rules", "trialkit"],
                                catch_exceptions=False)
    assert result.exit_code == 0 and (tmp_path / "validation.html").is_file()
