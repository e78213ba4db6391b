"""The whole run (trialkit/pipeline.py, ``trialkit run`` / ``demo``): every stage's output, the run
manifest, Dataset-JSON-only runs read by every later stage, and the validator's exit code."""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner

from trialkit.cli import main, run_simulation
from trialkit.define import validate_define
from trialkit.pipeline import parse_formats, run_pipeline, sha256


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
    report = lambda base: json.loads((base / "report" / "report.json").read_text())["tables"]  # noqa: E731
    assert report(tmp_path / "json") == report(base / "out")


def test_pipeline_03_dirty_export_exits_1_with_the_mapping_findings(tmp_path):
    """Test 3: a dirty export runs to the end and exits 1; the manifest counts the errors."""
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
