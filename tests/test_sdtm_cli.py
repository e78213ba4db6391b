"""Tests of ``trialkit sdtm RAW --out OUT`` (trialkit.cli), run through click's CliRunner.

One study of 120 subjects is simulated once and written clean and dirty (level 2) in a module-scoped
fixture. Exit codes: 0 clean, 1 when there are findings at error level, 2 for unusable input (one
``trialkit: error:`` line on stderr).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from trialkit.cli import main
from trialkit.pipeline import simulate_stage
from trialkit.raw_dictionary import load_raw_dictionary
from trialkit.simulate.profile import load_profile
from trialkit.simulate.study import simulate_study
from trialkit.simulate.writer import write_export

STUDY = "ball_relapse"
SUBJECTS = 120
SEED = 7
ERROR_PREFIX = "trialkit: error:"


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    base = tmp_path_factory.mktemp("sdtm_cli")
    dictionary = load_raw_dictionary(STUDY)
    study = simulate_study(load_profile(STUDY), SUBJECTS, SEED)
    return {name: (base / name, write_export(study, dictionary, base / name, **kwargs))
            for name, kwargs in {"clean": {}, "dirty": {"dirty": 2}}.items()}


def cells_of(line: str) -> list[str]:
    """The cells of a row of the rich table (column rules dropped)."""
    return re.findall(r"[\w-]+", line)


def invoke(runner: CliRunner, *args):
    return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


# ---- Test 1 ------------------------------------------------------------------------------------
def test_sdtm_cli_01_clean_export_exits_0_with_the_reconciliation_table(runner, exports, tmp_path):
    """Test 1: on a clean export the command exits 0, writes the datasets, ledger.json and an empty
    findings.json, and prints the reconciliation table (every form, 'rows in') and 'findings: none'."""
    raw, manifest = exports["clean"]
    out = tmp_path / "sdtm"
    result = invoke(runner, "sdtm", raw, "--out", out)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stderr == ""
    assert "rows in" in result.stdout
    for form, info in manifest["forms"].items():
        cells = next((c for c in map(cells_of, result.stdout.splitlines()) if c and c[0] == form), None)
        assert cells == [form, str(info["rows"]), str(info["rows"]), "0", "0"], (form, result.stdout)
    assert "findings: none" in result.stdout
    assert json.loads((out / "findings.json").read_text(encoding="utf-8")) == []
    ledger = json.loads((out / "ledger.json").read_text(encoding="utf-8"))
    assert {f["form"] for f in ledger["forms"]} == set(manifest["forms"])
    assert (out / "dm.xpt").is_file() and (out / "ae.xpt").is_file()


# ---- Test 2 ------------------------------------------------------------------------------------
def test_sdtm_cli_02_dirty_export_exits_1_and_findings_json_names_the_defects(runner, exports, tmp_path):
    """Test 2: on a dirty export the command exits 1 and findings.json has an error finding at the
    file and row of every planted defect; the summary line counts the errors."""
    raw, manifest = exports["dirty"]
    out = tmp_path / "sdtm"
    result = invoke(runner, "sdtm", raw, "--out", out)
    assert result.exit_code == 1, result.stdout + result.stderr
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    errors = [f for f in findings if f["severity"] == "error"]
    assert errors
    at = {(f["source"], f["row"]) for f in errors}
    missing = [d for d in manifest["defects"] if (d["file"], d["row"]) not in at]
    assert missing == []
    assert f"{len(errors)} error" in result.stdout
    assert set(findings[0]) == {"severity", "source", "row", "column", "value", "message", "key", "subject", "kind", "record"}


# ---- Test 3 ------------------------------------------------------------------------------------
def test_sdtm_cli_03_missing_raw_folder_is_one_error_line_and_exit_2(runner, tmp_path):
    """Test 3: a RAW folder that does not exist exits 2 with one 'trialkit: error:' line naming it,
    and nothing is written."""
    raw = tmp_path / "no_such_export"
    out = tmp_path / "sdtm"
    result = invoke(runner, "sdtm", raw, "--out", out)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), result.stderr
    assert str(raw) in lines[0]
    assert result.stdout == ""
    assert not out.exists()


# ---- Test 4 ------------------------------------------------------------------------------------
def test_sdtm_cli_04_unknown_study_is_one_error_line_and_exit_2(runner, exports, tmp_path):
    """Test 4: an unknown --study exits 2 with one 'trialkit: error:' line naming the study."""
    raw, _ = exports["clean"]
    out = tmp_path / "sdtm"
    result = invoke(runner, "sdtm", "--study", "no_such_study", raw, "--out", out)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), result.stderr
    assert "no_such_study" in lines[0]
    assert not out.exists()


# ---- Test 5 ------------------------------------------------------------------------------------
def test_sdtm_cli_05_each_error_is_printed_with_file_row_column_value_and_spec_key(runner, exports, tmp_path):
    """Test 5: sdtm printed only counts ('findings: 1 error'). Now each error finding is one stderr
    line naming file, row, column and value (and the spec key where a mapping found it), the first
    20 in findings.json's order, then how many more are in findings.json, whose path stdout gives."""
    raw, _ = exports["dirty"]
    out = tmp_path / "sdtm"
    result = invoke(runner, "sdtm", raw, "--out", out)
    assert result.exit_code == 1
    errors = [f for f in json.loads((out / "findings.json").read_text(encoding="utf-8")) if f["severity"] == "error"]
    assert len(errors) > 20
    lines = result.stderr.splitlines()
    assert len(lines) == 21
    for line, f in zip(lines[:20], errors):
        assert line.startswith(f"error: {f['source']} row {f['row']} column {f['column']}: {f['message']}"), line
        if f["value"]:
            assert f"(value '{f['value']}')" in line
        if f["key"]:
            assert line.endswith(f"[spec {f['key']}]")
    assert lines[-1] == f"  and {len(errors) - 20} more in {out / 'findings.json'}"
    assert f"(all in {out / 'findings.json'})" in result.stdout
    assert "np." not in result.stderr and "Timestamp(" not in result.stderr


@pytest.fixture(scope="module")
def onco_export(tmp_path_factory) -> Path:
    raw = tmp_path_factory.mktemp("onco") / "raw"
    simulate_stage("solid_tumour", 20, 1, raw)
    return raw


# ---- Test 6 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("given", "data", "suggested"), [
    ((), "onco", "solid_tumour"),                                # --study left out: the default study
    (("--study", "solid_tumour"), "ball", "ball_relapse"),       # the wrong study
], ids=["missing-study", "wrong-study"])
def test_sdtm_cli_06_an_export_of_another_study_is_a_usage_error_before_anything_is_written(
        runner, exports, onco_export, tmp_path, given, data, suggested):
    """Test 6: a wrong or missing --study made 'SV: metadata lists no variables' and 13 empty XPTs.
    Now it is one error line, exit 2, before anything is written, naming why the export is not of
    that study and which shipped study it looks like (and listing the shipped studies)."""
    raw = onco_export if data == "onco" else exports["clean"][0]
    out = tmp_path / "sdtm"
    result = invoke(runner, "sdtm", *given, raw, "--out", out)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{ERROR_PREFIX} {raw}: not an export of study"), result.stderr
    assert f"give --study {suggested}" in lines[0] and "shipped studies: ball_relapse, solid_tumour" in lines[0]
    assert not out.exists()


# ---- Test 7 ------------------------------------------------------------------------------------
def test_sdtm_cli_07_adam_of_another_studys_sdtm_is_a_usage_error(runner, exports, tmp_path):
    """Test 7: adam with --study solid_tumour on the reference study's SDTM says DM holds BALLR01 and
    to give --study ball_relapse, exit 2, before anything is written."""
    raw, _ = exports["clean"]
    invoke(runner, "sdtm", raw, "--out", tmp_path / "sdtm")
    result = invoke(runner, "adam", "--study", "solid_tumour", tmp_path / "sdtm", "--out", tmp_path / "adam")
    assert result.exit_code == 2
    assert "DM holds STUDYID BALLR01, not ONCO02 of study solid_tumour: give --study ball_relapse" in result.stderr
    assert not (tmp_path / "adam").exists()


# ---- Test 8 ------------------------------------------------------------------------------------
def test_sdtm_cli_08_validate_summary_shows_each_rules_title(runner, exports, tmp_path):
    """Test 8: the validate terminal summary listed rule ids only; each rule that found something is
    now one line with its id, severity, title, count and datasets."""
    from trialkit.validators.rules import RULES

    raw, _ = exports["dirty"]
    invoke(runner, "sdtm", raw, "--out", tmp_path / "sdtm")
    result = invoke(runner, "validate", tmp_path / "sdtm", "--out", tmp_path / "validation.json")
    assert result.exit_code == 1
    findings = json.loads((tmp_path / "validation.json").read_text())["findings"]
    lines = result.stdout.splitlines()
    for rule_id in {f["rule"] for f in findings}:
        hits = [f for f in findings if f["rule"] == rule_id]
        line = next(x for x in lines if x.startswith(f"  {rule_id} "))
        assert f"{hits[0]['severity']}: {RULES[rule_id].title}: {len(hits)} (" in line, line
    assert any("Raw date or time cannot be converted to ISO 8601" in x for x in lines)
