"""One data cut-off in every output (reports/cutoff.py) and the consistency checks between outputs
(reports/consistency.py).

The defects these tests were written against, found by a new user on the demo (seed 272):

* Table 4 (disposition) counted 14 deaths in the blinatumomab arm and Table 2 (OS) 13 events:
  subject BALLR01-0401-002 died on 2021-09-27, seven days after the cut-off, and was a death in one
  table and a censoring in the other;
* without the death form, 4-year OS was 100% while the disposition table listed 47 deaths, and the
  report went out without a word.

The expected counts are computed here from the ADaM files with plain pandas and the cut-off rule
written out (a death counts when its date is on or before ADSL.DCUTDT), not through the report's code.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from trialkit.errors import InputError, SpecError
from trialkit.pipeline import adam_stage, sdtm_stage
from trialkit.reports.build import read_adam
from trialkit.reports.consistency import ReportInconsistent, run_checks
from trialkit.reports.cutoff import cut_dataset, cutoff_date
from trialkit.reports.tables import Analysis, build_table
from trialkit.reports.tlf import Cutoff, DatedValue, load_report_spec
from trialkit.spec import study_dir
from trialkit.xpt import read_xpt, write_xpt

ARMS = {"BLIN": "Blinatumomab", "HC3": "Chemotherapy"}
LATE_DEATH = "BALLR01-0401-002"      # dies 2021-09-27 in the demo's export, after the 2021-09-20 cut-off


def trialkit(*args: str) -> subprocess.CompletedProcess:
    """The CLI as a user runs it, in a fresh process."""
    return subprocess.run([sys.executable, "-m", "trialkit.cli", *args], check=False, capture_output=True, text=True)


def tables_of(report_dir: Path) -> dict[str, dict]:
    return {t["id"]: t for t in json.loads((report_dir / "report.json").read_text(encoding="utf-8"))["tables"]}


def cells(table: dict, *path: str) -> list[str]:
    """The cells of the row at ``path`` (a group header, then the label)."""
    rows, group = table["rows"], None
    for row in rows:
        group = row["label"] if row["header"] else group
        if (group, row["label"]) == path or (len(path) == 1 and row["label"] == path[0] and not row["header"]):
            return row["cells"]
    raise AssertionError(f"no row {path} in {table['id']}")


def first_number(cell: str) -> int:
    return int(cell.split()[0])


# ---- the demo: the same cut-off everywhere, every check agrees ----------------------------------------

def test_consistency_01_demo_deaths_agree_with_os_events_by_arm(demo):
    """Test 1: on the demo, the disposition table's deaths per arm are the OS events per arm, and both
    are the deaths dated on or before the cut-off counted by hand; the late death (after the cut-off)
    is in neither. Before the fix: 14 deaths vs 13 OS events in the blinatumomab arm."""
    adsl, _ = read_xpt(demo / "adam" / "adsl.xpt", dates=True)
    itt = adsl[adsl["ITTFL"] == "Y"]
    late = itt[itt["DTHDT"] > itt["DCUTDT"]]
    assert late["USUBJID"].tolist() == [LATE_DEATH]
    dead = itt[itt["DTHDT"] <= itt["DCUTDT"]]["ARMCD"].map(ARMS).value_counts()
    tables = tables_of(demo / "report")
    disposition = [first_number(c) for c in cells(tables["table4"], "Death")[:2]]
    os_events = [first_number(c) for c in cells(tables["table2"], "Overall survival", "Subjects with an event")]
    assert disposition == os_events == [int(dead.get(arm, 0)) for arm in ARMS.values()]
    ongoing = itt[(itt["DCSREAS"] == "") | (itt["EOSDT"] > itt["DCUTDT"])]["ARMCD"].map(ARMS).value_counts()
    assert [first_number(c) for c in cells(tables["table4"], "Ongoing at the data cut-off")[:2]] == [
        int(ongoing.get(arm, 0)) for arm in ARMS.values()]


def test_consistency_02_every_output_states_the_same_cut_off(demo):
    """Test 2: every table and every figure of the demo report ends its footnotes with the one cut-off
    line (before, the figures had none), and the page header gives the same date."""
    report = json.loads((demo / "report" / "report.json").read_text(encoding="utf-8"))
    adsl, _ = read_xpt(demo / "adam" / "adsl.xpt", dates=True)
    cutoff = adsl["DCUTDT"].iloc[0].strftime("%Y-%m-%d")
    lines = {out["id"]: out["footnotes"][-1] for out in (*report["tables"], *report["figures"])}
    assert len(lines) == 9 and len(set(lines.values())) == 1, lines
    assert next(iter(lines.values())).startswith(f"Data cut-off: {cutoff}; ")
    assert report["cutoff"] == cutoff


def test_consistency_03_demo_passes_every_check(demo):
    """Test 3: every consistency check of the BALLR01 spec agrees on the demo (and `trialkit demo`
    exited 0, which the fixture asserts)."""
    checks = json.loads((demo / "report" / "report.json").read_text(encoding="utf-8"))["checks"]
    assert len(checks) == len(load_report_spec("ball_relapse").consistency) == 8
    assert [c["check"] for c in checks if not c["passed"]] == []


# ---- a planted inconsistency ---------------------------------------------------------------------------

@pytest.fixture
def planted(demo, tmp_path):
    """The demo's ADaM with one subject alive and on study at the cut-off recorded as discontinued by
    death 100 days after randomization (no death date: OS still censors it)."""
    adam = tmp_path / "adam"
    shutil.copytree(demo / "adam", adam)
    adsl, meta = read_xpt(adam / "adsl.xpt")
    alive = adsl.index[(adsl["DCSREAS"] == "") & (adsl["DTHFL"] != "Y") & (adsl["ARMCD"] == "HC3")][0]
    adsl.loc[alive, ["DCSREAS", "EOSSTT"]] = ["DEATH", "DISCONTINUED"]
    adsl.loc[alive, "EOSDT"] = adsl.loc[alive, "RANDDT"] + 100
    write_xpt(adsl, meta, adam / "adsl.xpt")
    return adam, str(adsl.loc[alive, "USUBJID"])


def test_consistency_04_planted_death_fails_the_report_and_names_the_subject(planted, tmp_path):
    """Test 4: `trialkit report` on the planted ADaM exits 1 with one line naming the failed check and
    the subject; the report is still written, with the failure at the top of the page and as the
    first title line of every RTF."""
    adam, subject = planted
    out = tmp_path / "report"
    done = trialkit("report", str(adam), "--out", str(out))
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Deaths in the disposition table are the OS events" in lines[0]
    assert f"in table4 'Death' only: {subject} (Chemotherapy)" in lines[0]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.index('class="alert inconsistent"') < page.index("<header")
    assert subject in page.split("<header")[0]
    rtf = (out / "table2.rtf").read_text(encoding="ascii")
    assert rtf.index("Inconsistent report: Deaths in the disposition table") < rtf.index("Table 2. Event-free")


def test_consistency_05_within_and_same_name_the_side_that_differs(planted):
    """Test 5: in memory, the planted subject fails exactly the checks that read the disposition's
    deaths (`same` with OS, and nothing else), and each result gives both counts by arm."""
    adam, subject = planted
    spec = load_report_spec("ball_relapse")
    analysis = Analysis(spec, read_adam(adam))
    results = run_checks(analysis, tuple(build_table(s, analysis) for s in spec.tables))
    failed = {r.check: r.detail for r in results if not r.passed}
    assert list(failed) == ["Deaths in the disposition table are the OS events"]
    detail = failed["Deaths in the disposition table are the OS events"]
    assert detail.endswith(f"in table4 'Death' only: {subject} (Chemotherapy)")
    assert "table4 'Death' 47 (Blinatumomab 13, Chemotherapy 34)" in detail


# ---- the missing death form -----------------------------------------------------------------------------

def test_consistency_06_export_without_the_death_form_fails_the_report(demo, tmp_path):
    """Test 6: without death.csv, OS has no event (4-year OS 100%) while the end-of-study form still
    says 46 subjects died by the cut-off: the report is written and `trialkit report` exits 1."""
    raw = tmp_path / "raw"
    shutil.copytree(demo / "raw", raw)
    (raw / "death.csv").unlink()
    sdtm_stage("ball_relapse", raw, tmp_path / "sdtm")
    adam_stage("ball_relapse", tmp_path / "sdtm", tmp_path / "adam")
    done = trialkit("report", str(tmp_path / "adam"), "--out", str(tmp_path / "report"))
    assert done.returncode == 1, done.stderr
    assert "Deaths in the disposition table are the OS events" in done.stderr
    tables = tables_of(tmp_path / "report")
    assert cells(tables["table2"], "Overall survival", "4-year estimate (95% CI)")[0].startswith("100%")
    assert first_number(cells(tables["table4"], "Death")[2]) == 46


# ---- the spec's checks ----------------------------------------------------------------------------------

def _spec(tmp_path, change) -> Path:
    study = tmp_path / "study"
    shutil.copytree(study_dir("ball_relapse"), study)
    path = study / "tlf" / "report.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return study


@pytest.mark.parametrize(("change", "key"), [
    (lambda d: d["consistency"][0]["same"][0].update(table="table9"), "consistency[0].same[0].table"),
    (lambda d: d["consistency"][0].update(equal=d["consistency"][0].pop("same")), "consistency[0]"),
    (lambda d: d["consistency"][5]["within"][0].update(where="TRTEMFL = 'Y'"), "consistency[5].within[0].where"),
    (lambda d: d.pop("cutoff"), "cutoff"),
    (lambda d: d["cutoff"]["adsl"].update(DTHFL={"date": "DTHDT"}), "cutoff.adsl.DTHFL"),
], ids=["unknown-table", "unknown-relation", "expression", "no-cutoff", "dated-value"])
def test_consistency_07_spec_mistakes_name_file_and_key(tmp_path, change, key):
    """Test 7: a check naming an unknown table, an unknown relation, a bad filter; a spec without a
    cut-off or with a half-written dated value: each a SpecError naming the key."""
    with pytest.raises(SpecError) as exc:
        load_report_spec(_spec(tmp_path, change))
    assert exc.value.key == key and exc.value.file.endswith("report.yaml")


@pytest.mark.parametrize(("row", "words"), [
    ("Deaths", "table4 has no row 'Deaths' (rows: Randomized"),
    ("Subjects with an event / Death", "table2 has more than one row 'Subjects with an event / Death'"),
], ids=["absent", "ambiguous"])
def test_consistency_08_a_row_the_table_lacks_or_has_twice_is_a_spec_error(demo, tmp_path, row, words):
    """Test 8: a check naming a row the table does not have, or one that two rows match (the EFS and
    the OS deaths), is a SpecError, not a silent empty count."""
    table = "table2" if "event" in row else "table4"
    study = _spec(tmp_path, lambda d: d["consistency"][0].update(same=[{"table": table, "row": row}, {"table": "table6"}]))
    spec = load_report_spec(study)
    analysis = Analysis(spec, read_adam(demo / "adam"))
    with pytest.raises(SpecError, match="consistency") as exc:
        run_checks(analysis, tuple(build_table(s, analysis) for s in spec.tables))
    assert words in str(exc.value)


def test_consistency_09_report_inconsistent_exits_1():
    """Test 9: a failed check is the exit code of findings at error level, not of unusable input."""
    assert ReportInconsistent("x").exit_code == 1


# ---- the cut-off rule on small frames -------------------------------------------------------------------

CUT = pd.Timestamp("2021-09-20")
RULE = Cutoff("DCUTDT", (DatedValue("DTHFL", "DTHDT", "N"), DatedValue("DCSREAS", "EOSDT", ""),
                         DatedValue("EOSSTT", "EOSDT", "ONGOING")), {"ADAE": "ASTDT"})


def test_consistency_10_adsl_values_dated_after_the_cut_off_read_as_before():
    """Test 10: a death and its discontinuation after the cut-off read as alive and ongoing, their
    dates blank; on or before the cut-off, or without a date, values stay as they are."""
    adsl = pd.DataFrame({
        "USUBJID": ["A", "B", "C"], "DCUTDT": [CUT] * 3,
        "DTHFL": ["Y", "Y", ""], "DTHDT": pd.to_datetime(["2021-09-27", "2021-09-20", None]),
        "DCSREAS": ["DEATH", "DEATH", "LOST TO FOLLOW-UP"], "EOSSTT": ["DISCONTINUED"] * 3,
        "EOSDT": pd.to_datetime(["2021-09-27", "2021-09-20", None])}).astype({"DCSREAS": "category"})
    out = cut_dataset("ADSL", adsl, RULE, cutoff_date(adsl, RULE))
    assert out["DTHFL"].tolist() == ["N", "Y", ""]
    assert out["DCSREAS"].tolist() == ["", "DEATH", "LOST TO FOLLOW-UP"]
    assert out["EOSSTT"].tolist() == ["ONGOING", "DISCONTINUED", "DISCONTINUED"]
    assert out["DTHDT"].isna().tolist() == [True, False, True] and out["EOSDT"].isna().tolist() == [True, False, True]
    assert adsl["DTHFL"].tolist() == ["Y", "Y", ""]          # the input is not changed


def test_consistency_11_records_after_the_cut_off_are_left_out():
    """Test 11: ADAE records dated after the cut-off are left out, those on it or undated kept; a
    dataset the rule does not name is unchanged."""
    adae = pd.DataFrame({"USUBJID": list("ABCD"), "ASTDT": pd.to_datetime(["2021-09-19", "2021-09-20", "2021-09-21", None])})
    assert cut_dataset("ADAE", adae, RULE, CUT)["USUBJID"].tolist() == ["A", "B", "D"]
    assert cut_dataset("ADXX", adae, RULE, CUT) is adae


@pytest.mark.parametrize(("dates", "words"), [
    (["2021-09-20", "2021-10-01"], "found 2 (2021-09-20, 2021-10-01)"),
    ([None, None], "found 0"),
], ids=["two", "none"])
def test_consistency_12_one_cut_off_date_or_an_input_error(dates, words):
    """Test 12: ADSL with two cut-off dates, or none, is an InputError naming DCUTDT."""
    adsl = pd.DataFrame({"USUBJID": ["A", "B"], "DCUTDT": pd.to_datetime(dates)})
    with pytest.raises(InputError) as exc:
        cutoff_date(adsl, RULE)
    assert words in str(exc.value) and exc.value.column == "DCUTDT"
