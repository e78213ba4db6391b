"""The same seed in every export format gives the same SDTM, and ``--dirty`` defects are found where
they were planted in every format (trialkit.simulate's formats read by trialkit.formats' readers).

One study of 30 subjects is simulated once and written in each format, clean and dirty (level 1:
one defect of each kind); ``trialkit sdtm`` runs on each folder. Clean: every SDTM dataset equals
the CSV run's record for record, with the same metadata, and its XPT file is byte-identical but for
the write time pyreadstat stamps in the XPT headers (so the files are not byte-identical run to run). Dirty: each planted defect has a finding naming the file and record
the simulate manifest names for that format.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from click.testing import CliRunner

from trialkit.cli import main as cli
from trialkit.raw_dictionary import load_raw_dictionary
from trialkit.simulate.profile import load_profile
from trialkit.simulate.study import simulate_study
from trialkit.simulate.writer import write_export
from trialkit.xpt import read_xpt

STUDY = "ball_relapse"
SUBJECTS = 30
SEED = 777
FORMATS = ("csv", "odm", "sas7bdat", "xpt", "xlsx")
SAS_STAMP = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """(raw folder, manifest, sdtm folder, exit code) per (format, dirty level)."""
    dictionary = load_raw_dictionary(STUDY)
    study = simulate_study(load_profile(STUDY), SUBJECTS, SEED)
    base = tmp_path_factory.mktemp("sdtm_formats")
    out = {}
    for fmt in FORMATS:
        for dirty in (0, 1):
            raw, sdtm = base / f"raw_{fmt}{dirty}", base / f"sdtm_{fmt}{dirty}"
            manifest = write_export(study, dictionary, raw, dirty=dirty, format=fmt)
            result = CliRunner().invoke(cli, ["sdtm", "--study", STUDY, str(raw), "--out", str(sdtm)])
            out[(fmt, dirty)] = (raw, manifest, sdtm, result)
    return out


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "csv"])
def test_sdtm_formats_01_same_sdtm_in_every_format(runs, fmt):
    """Test 1: clean exports of one seed give the same SDTM datasets in every format, record for record."""
    _, _, csv_out, csv_result = runs[("csv", 0)]
    _, _, out, result = runs[(fmt, 0)]
    assert csv_result.exit_code == 0, csv_result.output
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in csv_out.glob("*.xpt"))
    assert names and names == sorted(p.name for p in out.glob("*.xpt"))
    for name in names:
        expected, expected_meta = read_xpt(csv_out / name)
        got, got_meta = read_xpt(out / name)
        pd.testing.assert_frame_equal(got, expected, obj=f"{fmt} {name}")
        assert got_meta == expected_meta
        # byte for byte but for the time pyreadstat stamps in the headers (ddMONyy:hh:mm:ss)
        assert SAS_STAMP.search((out / name).read_bytes())
        assert SAS_STAMP.sub(b"", (out / name).read_bytes()) == SAS_STAMP.sub(b"", (csv_out / name).read_bytes()), name


def findings_of(out) -> list[dict]:
    findings = json.loads((out / "findings.json").read_text(encoding="utf-8"))
    return findings["findings"] if isinstance(findings, dict) else findings


def unfound(defects: list[dict], findings: list[dict]) -> list[dict]:
    """The defects no finding names by file and record (and ODM locator, where the manifest has one)."""
    return [d for d in defects
            if not any(f["source"] == d["file"] and f["row"] == d["row"] and f.get("record") == d.get("locator", f.get("record"))
                       for f in findings)]


@pytest.mark.parametrize("fmt", ["csv", "sas7bdat", "xpt", "xlsx"])
def test_sdtm_formats_02_defects_found_where_planted(runs, fmt):
    """Test 2: each defect the manifest lists (one of each kind) has a finding naming its file and
    record; a cut XPT is test 2b's."""
    _, manifest, out, result = runs[(fmt, 1)]
    assert result.exit_code == 1, result.output
    defects = [d for d in manifest["defects"] if not (fmt == "xpt" and d["kind"] == "truncated_file")]
    assert {d["kind"] for d in defects} >= {"impossible_date", "unknown_code", "missing_required", "duplicate_subject"}
    assert unfound(defects, findings_of(out)) == []


def test_sdtm_formats_02b_cut_xpt_is_found(runs):
    """Test 2b: the XPT cut inside its last observation is reported at that record."""
    _, manifest, out, _ = runs[("xpt", 1)]
    cut = [d for d in manifest["defects"] if d["kind"] == "truncated_file"]
    assert cut and unfound(cut, findings_of(out)) == []


def test_sdtm_formats_03_odm_defects_found_where_planted(runs, tmp_path):
    """Test 3: the dirty ODM, cut inside its last ItemGroupData, is refused as a whole (exit 2, the
    error naming the file and the place of the cut); with the cut subject dropped and the document
    closed, every other defect has a finding naming export.xml, the record and its ODM locator."""
    raw, manifest, _, result = runs[("odm", 1)]
    assert result.exit_code == 2
    assert "export.xml" in result.output and "truncated" in result.output
    data = (raw / "export.xml").read_bytes()
    last = data.rfind(b"<SubjectData ")
    lost = data[last:].split(b'SubjectKey="')[1].split(b'"')[0].decode()
    (cut,) = [d for d in manifest["defects"] if d["kind"] == "truncated_file"]
    assert cut["locator"].startswith(f"{lost}/")
    fixed = tmp_path / "raw"
    fixed.mkdir()
    (fixed / "export.xml").write_bytes(data[:last] + b"</ClinicalData></ODM>\n")
    rerun = CliRunner().invoke(cli, ["sdtm", "--study", STUDY, str(fixed), "--out", str(tmp_path / "sdtm")])
    assert rerun.exit_code == 1, rerun.output
    defects = [d for d in manifest["defects"] if not d["locator"].startswith(f"{lost}/")]
    assert len(defects) >= 3
    assert unfound(defects, findings_of(tmp_path / "sdtm")) == []
