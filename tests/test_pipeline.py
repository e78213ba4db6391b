"""The whole run (trialkit/pipeline.py, ``trialkit run`` / ``demo``): every stage's output, the run
manifest, Dataset-JSON-only runs read by every later stage, the validator's exit code, and a run
that stops before the report when the data have errors (--force: the report under a banner)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from trialkit.cli import main, run_simulation
from trialkit.define import validate_define
from trialkit.pipeline import parse_formats, run_pipeline, sha256
from trialkit.raw_dictionary import read_form


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    """A clean 40-subject export and `trialkit run` on it: (folder with raw/ and out/, CLI result)."""
    base = tmp_path_factory.mktemp("run")
    run_simulation("ball_relapse", 40, 5, base / "raw", None, 0, 0.0)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level   # main logs to CliRunner's stream, closed after the run
    try:
        return base, CliRunner().invoke(main, ["run", str(base / "raw"), "--out", str(base / "out")])
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_pipeline_01_run_writes_every_stage_and_the_manifest(clean_run):
    """Test 1: `trialkit run` writes sdtm/, adam/ (with define.xml), validation/ (JSON, JUnit, HTML),
    report/ and manifest.json with the inputs' SHA-256, spec hashes, ledger and stage timings; the
    exit code is the validator's (0: no error finding on a clean export)."""
    tmp_path, result = clean_run
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["exit_code"] == 0 and set(manifest["seconds"]) == {"sdtm", "adam", "validate", "report"}
    raw_files = sorted(p for p in (tmp_path / "raw").iterdir() if p.is_file())
    assert manifest["inputs"] == {p.name: sha256(p) for p in raw_files}
    assert any(k.endswith("adam/ADTTE.yaml") for k in manifest["specs"])
    assert sum(f["rows_in"] for f in manifest["ledger"]["forms"]) == sum(f["landed"] + f["rejected"] for f in manifest["ledger"]["forms"])
    for folder in ("sdtm", "adam"):
        assert validate_define(out / folder / "define.xml") == []
    assert {p.name for p in (out / "validation").iterdir()} == {"validation.json", "validation.xml", "validation.html"}
    assert (out / "report" / "report.html").is_file() and (out / "report" / "table1.rtf").is_file()
    assert str(out / "report" / "report.html") in result.output


def test_pipeline_02_dataset_json_only_run_is_read_by_every_stage(clean_run, tmp_path):
    """Test 2: with --format json no XPT is written, and ADaM, validation and the report read the
    Dataset-JSON files: the same validation summary as the XPT run of the same export (test 1's)."""
    base, _ = clean_run
    xpt = json.loads((base / "out" / "manifest.json").read_text())
    js = run_pipeline("ball_relapse", base / "raw", tmp_path / "json", formats=("json",))
    assert not list((tmp_path / "json").rglob("*.xpt"))
    assert (tmp_path / "json" / "adam" / "adtte.json").is_file()
    assert js["validation"]["summary"] == xpt["validation"]["summary"]
    assert js["datasets"] == xpt["datasets"]
    report = lambda base: json.loads((base / "report" / "report.json").read_text())["tables"]
    assert report(tmp_path / "json") == report(base / "out")


def test_pipeline_03_dirty_export_exits_1_with_the_mapping_findings(tmp_path):
    """Test 3: a dirty export is validated and exits 1; the manifest counts the errors."""
    run_simulation("ball_relapse", 40, 5, tmp_path / "raw", None, 1, 0.0)
    result = CliRunner().invoke(main, ["run", str(tmp_path / "raw"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["validation"]["summary"]["error"] >= 5 and manifest["exit_code"] == 1


def test_pipeline_04_formats_are_checked():
    """Test 4: --format takes xpt, json, ndjson; anything else is a usage error naming the value."""
    assert parse_formats("xpt, json") == ("xpt", "json")
    result = CliRunner().invoke(main, ["sdtm", "raw", "--out", "x", "--format", "xpt,sas7bdat"])
    assert result.exit_code == 2 and "sas7bdat" in result.output


# ---- the run refuses to look right when the data are wrong ------------------------------------
@pytest.fixture(scope="module")
def export(clean_run) -> Path:
    """The clean 40-subject export of the reference study that ``clean_run`` ran; each test changes a
    copy of it."""
    return clean_run[0] / "raw"


def changed_copy(export: Path, folder: Path, form: str, change) -> Path:
    """A copy of the export with ``change(frame) -> frame | None`` applied to one form (None: no file)."""
    raw = folder / "raw"
    shutil.copytree(export, raw)
    frame = change(read_form(raw / f"{form}.csv"))
    if frame is None:
        (raw / f"{form}.csv").unlink()
    else:
        frame.to_csv(raw / f"{form}.csv", index=False)
    return raw


def run_cli(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize(("form", "change", "named"), [
    ("dm", lambda f: f.rename(columns={"SEX": "GENDER"}), ["dm.csv column SEX", "GENDER"]),
    ("ae", lambda f: f.drop(columns=["AETERM"]), ["ae.csv column AETERM"]),
    ("death", lambda f: None, ["death.csv", "form not in the export", "forms.death.expected"]),
    ("death", lambda f: f.iloc[0:0], ["death.csv", "header line only", "forms.death.expected"]),
], ids=["SEX-renamed", "AETERM-dropped", "death-missing", "death-header-only"])
def test_pipeline_05_raw_errors_stop_the_run_before_the_report(export, tmp_path, form, change, named):
    """Test 5: a required column renamed or dropped, or an expected form missing or header-only, made
    a normal-looking report (every subject's sex 'Missing or other', no AE, 100% 4-year OS beside 47
    deaths) and exit 0. Now the run validates, then stops before the report with exit 1: stderr names
    the file, the column or form, the spec key and where the full list is; no report.html exists."""
    raw = changed_copy(export, tmp_path, form, change)
    out = tmp_path / "out"
    result = run_cli("run", raw, "--out", out)
    assert result.exit_code == 1, result.output
    assert "the run stopped before the report" in result.stderr and "--force" in result.stderr
    for text in named:
        assert text in result.stderr, result.stderr
    assert str(out / "sdtm" / "findings.json") in result.stderr
    assert not (out / "report").exists()
    assert (out / "validation" / "validation.json").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["report"] is None and manifest["exit_code"] == 1 and manifest["stage_errors"]
    assert "report: not written" in result.stdout


def test_pipeline_06_force_writes_the_report_under_a_banner_naming_the_errors(export, clean_run, tmp_path):
    """Test 6: with --force the report is written all the same (exit 1), and the banner its pages
    carry (report.json ``banner``, passed to every page by report_stage) says it is not for use and
    names the error with file, column and spec key; a clean run has no banner."""
    raw = changed_copy(export, tmp_path, "dm", lambda f: f.rename(columns={"SEX": "GENDER"}))
    out = tmp_path / "out"
    result = run_cli("run", raw, "--out", out, "--force")
    assert result.exit_code == 1, result.output
    assert "written because of --force" in result.stderr
    report = json.loads((out / "report" / "report.json").read_text())
    assert report["banner"][0].startswith("NOT FOR USE: made with trialkit run --force")
    assert any("dm.csv column SEX" in line and "raw_dictionary.yaml:forms.dm.fields.SEX" in line for line in report["banner"])
    assert json.loads((out / "manifest.json").read_text())["forced"] is True
    clean = clean_run[0] / "out"
    assert json.loads((clean / "report" / "report.json").read_text())["banner"] == []
    manifest = json.loads((clean / "manifest.json").read_text())
    assert manifest["stage_errors"] == [] and manifest["forced"] is False


def test_pipeline_07_an_adam_error_names_the_sdtm_record_and_raw_row_behind_it(export, tmp_path):
    """Test 7: an impossible randomization date in enrol.csv stopped ADaM with 'EFS: no event and no
    censoring date for 1 subject', pointing nowhere. Now run and adam name the subject's SDTM DM
    record, the raw rows behind it (provenance.tsv) and the SDTM stage's error on enrol.csv's row and
    RANDDAT column with its value and spec key (the DS randomization milestone, where RANDDT comes
    from); run stops before the report (exit 1), adam exits 2."""
    row = 3

    def impossible(frame):
        frame.loc[row - 1, "RANDDAT"] = "31-APR-2017"
        return frame
    raw = changed_copy(export, tmp_path, "enrol", impossible)
    subject = read_form(raw / "enrol.csv").loc[row - 1, "SUBJID"]
    out = tmp_path / "out"
    result = run_cli("run", raw, "--out", out)
    assert result.exit_code == 1, result.output
    assert "ADaM: cannot be derived: dataset ADTTE" in result.stderr and "RANDDT is missing" in result.stderr
    assert f"BALLR01-{subject}: SDTM DM record " in result.stderr
    assert f"enrol.csv row {row}, dm.csv row {row}" in result.stderr
    cause = f"enrol.csv row {row} column RANDDAT: impossible date (value '31-APR-2017') [spec DS.yaml:"
    assert cause in result.stderr
    assert not (out / "adam").exists() and not (out / "report").exists()
    assert "ADaM: not written" in result.stdout and json.loads((out / "manifest.json").read_text())["adam"] is None

    alone = run_cli("adam", out / "sdtm", "--out", tmp_path / "adam")
    assert alone.exit_code == 2
    assert alone.stderr.startswith("trialkit: error: dataset ADTTE") and cause in alone.stderr


def test_pipeline_08_a_stopped_run_leaves_no_report_of_an_earlier_run(export, clean_run, tmp_path):
    """Test 8: a report written by an earlier run into the same --out (a copy of ``clean_run``'s) is
    removed when this run stops: no report.html may sit next to a manifest of data with errors."""
    out = tmp_path / "out"
    shutil.copytree(clean_run[0] / "out", out)
    assert (out / "report" / "report.html").is_file()
    raw = changed_copy(export, tmp_path, "ae", lambda f: f.drop(columns=["AETERM"]))
    manifest = run_pipeline("ball_relapse", raw, out)
    assert manifest["exit_code"] == 1 and not (out / "report").exists()
