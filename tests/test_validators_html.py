"""Tests of the HTML validation report (trialkit.validators.report.to_html) and ``validate --format html``."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from trialkit.cli import main, run_simulation
from trialkit.sdtm.engine import run_sdtm
from trialkit.sdtm.output import write_sdtm
from trialkit.validators.report import to_html, write_report
from trialkit.validators.rules import RULES, ValidationFinding

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
    for sel in ("f-dataset", "f-rule", "f-severity"):
        assert f'id="{sel}"' in page
    rows = re.findall(r'<tr data-dataset="([^"]+)" data-rule="([^"]+)" data-severity="([^"]+)">', page)
    assert rows == [(f.dataset, f.rule, f.severity) for f in FINDINGS]
    assert "display: none" not in page.split("<table id=\"findings\"")[1].split("</table>")[0]


def test_html_pass_fail_at_threshold():
    strict = to_html(FINDINGS, DATASETS, "notice")
    lenient = to_html(FINDINGS, DATASETS, "error")

    def result(page, rule_id):
        return re.search(rf"<td>{rule_id}</td>.*?<td class=\"(pass|fail)\">", page, re.DOTALL).group(1)

    assert result(lenient, "TK-HTML-0001") == "fail"
    assert result(lenient, "TK-HTML-0002") == "pass"
    assert result(strict, "TK-HTML-0002") == "fail"
    assert result(strict, "TK-HTML-0003") == "fail"


def test_html_caps_findings_with_a_note(tmp_path):
    many = [ValidationFinding("TK-HTML-0001", "error", "DM", f"finding {i}", row=i) for i in range(12)]
    page = to_html(many, ["DM"], "error", max_findings=5)
    assert page.count('<tr data-dataset="DM"') == 5
    assert "7 more were left out" in page and "JSON" in page
    assert "left out" not in to_html(many[:5], ["DM"], "error", max_findings=5)
    out = write_report(many, ["DM"], "html", tmp_path / "r" / "v.html", "error")
    assert "finding 11" in out.read_text(encoding="utf-8")   # default cap is far above 12


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
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "sdtm"), "--format", "html"], catch_exceptions=False)
    assert result.exit_code == 0 and (tmp_path / "validation.html").is_file()
