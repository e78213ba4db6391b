"""The second shipped study, ONCO02 (specs/studies/solid_tumour): a new study needs only YAML.

ONCO02 is built on another design than BALLR01 (a two-arm solid-tumour trial with RECIST 1.1 PFS
and OS) and another EDC (other forms and fields, numeric codes, MM/DD/YYYY dates). Its raw export
comes from the simulator driven by its profile.yaml (model recist_pfs; the profile's ``forms`` fill
the EDC's forms): the shipped profile for the demo, and here a variant of it with more missed
assessments, untreated subjects and early losses, so that every censoring rule is exercised. The
whole pipeline then runs on it, and the PFS / OS records are compared per subject with an
expectation computed here from the raw export alone by the study's written rules (neither the
simulator's nor the engine's code path), and with the simulator's truth.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from trialkit.cli import main
from trialkit.define import validate_define
from trialkit.pipeline import run_pipeline, sdtm_stage, simulate_stage, validate_stage
from trialkit.raw_dictionary import check_form, load_raw_dictionary, read_form
from trialkit.reports.build import read_adam
from trialkit.spec import study_dir
from trialkit.xpt import read_xpt

STUDY = study_dir("solid_tumour")
STUDYID = "ONCO02"
SEED = 20230331
N_SUBJECTS = 150
CUTOFF = date(2023, 3, 31)                  # TS DCUTDTC in sdtm/study.yaml
ADEQUATE = ("CR", "PR", "SD")
MAX_GAP = 91                                # days: two missed 6-weekly assessments and a 1-week window
# the variant: more of what the censoring rules are about
VARIANT = {("assessments", "missed"): 0.2, ("treatment", "not_treated"): 0.08,
           ("progression", "lost_to_follow_up"): 0.15, ("progression", "lost_days"): [20, 499],
           ("progression", "death_before_progression"): 0.2}


def us(text: str) -> date:
    """A date as ONCO02's EDC writes it, read back."""
    return datetime.strptime(text, "%m/%d/%Y").date()


@dataclass
class Subject:
    """What the export says happened to one subject (dates as collected)."""
    subjid: str
    randdt: date
    scans: list[tuple[date, str]] = field(default_factory=list)      # (date, overall response), in date order
    doses: list[date] = field(default_factory=list)
    alive_contacts: list[date] = field(default_factory=list)
    death: date | None = None


def subjects_of(raw: Path) -> list[Subject]:
    """Every randomized subject of a clean export, from its forms."""
    subjects = {r.SUBJID: Subject(r.SUBJID, us(r.RANDDT)) for r in read_form(raw / "randomization.csv").itertuples()}
    for r in read_form(raw / "recist.csv").itertuples():
        subjects[r.SUBJID].scans.append((us(r.SCANDT), r.OVRESP.strip().upper()))
    for r in read_form(raw / "dosing.csv").itertuples():
        subjects[r.SUBJID].doses.append(us(r.ADMDT))
    for r in read_form(raw / "followup.csv").itertuples():
        if r.VITSTAT.strip() == "1":
            subjects[r.SUBJID].alive_contacts.append(us(r.FUDT))
    for r in read_form(raw / "death.csv").itertuples():
        subjects[r.SUBJID].death = us(r.DTHDT)
    for s in subjects.values():
        s.scans.sort()
    return list(subjects.values())


# ---- the expectation, by the study's written rules --------------------------------------------

def expected_tte(s: Subject) -> dict[str, tuple[date, int, str]]:
    """PFS and OS of one subject as ADTTE.yaml's header states them: (ADT, CNSR, EVNTDESC)."""
    def last_adequate_before(when: date) -> date:
        return max([d for d, r in s.scans if r in ADEQUATE and d < when], default=s.randdt)

    events = []
    progression = next((d for d, r in s.scans if r == "PD"), None)
    for when, what in ((progression, "PROGRESSIVE DISEASE"), (s.death, "DEATH")):
        if when is not None and when <= CUTOFF and (when - last_adequate_before(when)).days <= MAX_GAP:
            events.append((when, 0, what))
    if events:
        pfs = min(events, key=lambda e: e[0])      # on the same day, progression (listed first) wins
    else:
        adequate = [d for d, r in s.scans if r in ADEQUATE and d <= CUTOFF]
        pfs = (max(adequate), 1, "LAST ADEQUATE TUMOUR ASSESSMENT") if adequate else (s.randdt, 1, "RANDOMIZATION")
    if s.death is not None and s.death <= CUTOFF:
        os_ = (s.death, 0, "DEATH")
    else:
        alive = [d for d in (s.randdt, *[d for d, _ in s.scans], *s.doses, *s.alive_contacts) if d <= CUTOFF]
        os_ = (max(alive), 1, "")
    return {"PFS": pfs, "OS": os_}


# ---- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """ONCO02's specs with the profile variant: a study folder given as --study."""
    folder = tmp_path_factory.mktemp("onco02") / "study"
    shutil.copytree(STUDY, folder)
    profile = yaml.safe_load((folder / "profile.yaml").read_text(encoding="utf-8"))
    for (section, key), value in VARIANT.items():
        profile[section][key] = value
    (folder / "profile.yaml").write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def export(study, tmp_path_factory):
    base = tmp_path_factory.mktemp("onco02_export")
    simulate_stage(study, N_SUBJECTS, SEED, base / "raw", base / "truth.csv")
    return base / "raw", subjects_of(base / "raw"), pd.read_csv(base / "truth.csv", dtype=str)


@pytest.fixture(scope="module")
def run(study, export, tmp_path_factory):
    raw, _, _ = export
    out = tmp_path_factory.mktemp("onco02_run")
    manifest = run_pipeline(study, raw, out)
    return out, manifest


def late(s: Subject, when: date) -> bool:
    """Whether an event on ``when`` comes more than MAX_GAP days after the last adequate assessment."""
    last = max([d for d, r in s.scans if r in ADEQUATE and d < when], default=s.randdt)
    return (when - last).days > MAX_GAP


# ---- Test 1 -----------------------------------------------------------------------------------
def test_solid_tumour_01_simulated_export_is_exactly_what_the_raw_dictionary_documents(export):
    """Test 1: the simulator, driven by ONCO02's profile, writes every form of the dictionary with its
    columns in order, and check_form finds no value that breaks the dictionary (codes, integers,
    MM/DD/YYYY dates, required values). The scenarios the censoring rules are about are in the data:
    a subject never treated, a progression after two missed assessments, a death before any
    assessment, a subject censored at randomization (neither an adequate assessment nor an event),
    records after the cut-off."""
    raw, subjects, truth = export
    dictionary = load_raw_dictionary(STUDY)
    assert sorted(p.stem for p in raw.glob("*.csv")) == sorted(dictionary.forms)
    for name, form in dictionary.forms.items():
        frame = read_form(raw / f"{name}.csv")
        assert list(frame.columns) == form.columns
        assert check_form(frame, form, dictionary) == [], name
    assert len(subjects) == len(truth) == N_SUBJECTS
    assert any(not s.doses for s in subjects)
    progressions = [(s, next(d for d, r in s.scans if r == "PD")) for s in subjects if any(r == "PD" for _, r in s.scans)]
    assert any(late(s, d) and d <= CUTOFF for s, d in progressions)
    assert any(s.death is not None and s.death <= CUTOFF and not s.scans for s in subjects)
    assert any(expected_tte(s)["PFS"][2] == "RANDOMIZATION" for s in subjects)
    assert any(d > CUTOFF for s in subjects for d, _ in s.scans), "records after the cut-off are part of the export"


# ---- Test 2 -----------------------------------------------------------------------------------
def test_solid_tumour_02_pipeline_runs_clean_and_every_raw_row_is_accounted_for(export, run):
    """Test 2: no stage stops the run, no trialkit rule finds an error (CORE's conformance verdict on
    the study is docs/conformance.md's subject), and the ledger reconciles: every row of every form
    landed in a dataset, none rejected, none unaccounted."""
    raw, _, _ = export
    out, manifest = run
    validation = json.loads((out / "validation" / "validation.json").read_text(encoding="utf-8"))
    errors = [f for f in validation["findings"] if f["severity"] == "error" and f["rule"].startswith("TK-")]
    assert errors == [] and manifest["stage_errors"] == [] and manifest["report"] == "report/report.html"
    for counts in manifest["ledger"]["forms"]:
        rows = len(read_form(raw / f"{counts['form']}.csv"))
        assert (counts["rows_in"], counts["landed"], counts["rejected"], counts["unaccounted"]) == (rows, rows, 0, 0), counts
    assert manifest["ledger"]["rejected"] == []
    assert {"ADSL", "ADTTE", "ADRS", "ADAE", "DM", "RS", "EX", "AE", "SS", "DS"} <= set(manifest["datasets"])


# ---- Test 3 -----------------------------------------------------------------------------------
def test_solid_tumour_03_pfs_and_os_agree_with_the_expectation_and_the_truth_for_every_subject(export, run):
    """Test 3: each subject's PFS and OS record (ADT, CNSR, EVNTDESC for events) is what the study's
    rules give on the export's record of the subject, and what the simulator's truth says;
    AVAL = ADT - RANDDT + 1. Both event kinds and both censoring kinds occur, and a late progression
    is censored at the last adequate assessment."""
    _, subjects, truth = export
    out, _ = run
    adtte = read_adam(out / "adam")["ADTTE"]
    assert len(adtte) == 2 * N_SUBJECTS
    got = {(r.USUBJID, r.PARAMCD): r for r in adtte.itertuples()}
    mismatches = []
    for s in subjects:
        for paramcd, (adt, cnsr, desc) in expected_tte(s).items():
            r = got[(f"{STUDYID}-{s.subjid}", paramcd)]
            actual = (r.ADT.date(), int(r.CNSR), r.EVNTDESC if cnsr == 0 or paramcd == "PFS" else "")
            if actual != (adt, cnsr, desc) or r.AVAL != (adt - s.randdt).days + 1:
                mismatches.append((s.subjid, paramcd, actual, (adt, cnsr, desc)))
    assert mismatches == []
    for t in truth.itertuples():
        for paramcd in ("PFS", "OS"):
            r = got[(t.USUBJID, paramcd)]
            assert (r.ADT.strftime("%Y-%m-%d"), str(int(r.CNSR))) == (getattr(t, f"{paramcd}_ADT"), getattr(t, f"{paramcd}_CNSR"))
    pfs = adtte[adtte["PARAMCD"] == "PFS"]
    assert set(pfs["EVNTDESC"]) == {"PROGRESSIVE DISEASE", "DEATH", "LAST ADEQUATE TUMOUR ASSESSMENT", "RANDOMIZATION"}
    late_pd = [s for s in subjects for d, r in s.scans if r == "PD" and d <= CUTOFF and late(s, d)]
    censored = pfs.set_index("USUBJID").loc[[f"{STUDYID}-{s.subjid}" for s in late_pd]]
    assert len(censored) and (censored["CNSR"] == 1).all()
    assert set(censored["EVNTDESC"]) <= {"LAST ADEQUATE TUMOUR ASSESSMENT", "RANDOMIZATION", "DEATH"}


# ---- Test 4 -----------------------------------------------------------------------------------
def test_solid_tumour_04_define_xml_written_and_valid_for_sdtm_and_adam(run):
    """Test 4: both define.xml files exist and validate against the Define-XML 2.1 schema."""
    out, _ = run
    for kind in ("sdtm", "adam"):
        path = out / kind / "define.xml"
        assert path.is_file()
        assert validate_define(path) == [], kind


# ---- Test 5 -----------------------------------------------------------------------------------
def test_solid_tumour_05_report_has_the_tte_orr_and_safety_tables_and_both_figures(run):
    """Test 5: report.html is written; the TTE table has a PFS and an OS block, the response table
    counts every ITT subject once, and the KM and forest figures are saved."""
    out, manifest = run
    report = out / "report"
    assert (report / "report.html").is_file() and manifest["report"] == "report/report.html"
    tables = {t["id"]: t for t in json.loads((report / "report.json").read_text(encoding="utf-8"))["tables"]}
    headers = [r["label"] for r in tables["table2"]["rows"] if r["header"]]
    assert headers == ["Progression-free survival", "Overall survival"]
    bor = {r["label"]: r["cells"] for r in tables["table4"]["rows"]}
    n = [int(c.split(" (N = ")[1].rstrip(")")) for c in tables["table4"]["columns"]]
    single = ["Complete response (CR)", "Partial response (PR)", "Stable disease (SD)", "Progressive disease (PD)",
              "Not evaluable (NE)"]
    assert [sum(int(bor[label][k].split(" ")[0]) for label in single) for k in range(2)] == n
    assert sum(n) == N_SUBJECTS
    for figure in ("figure1", "figure2"):
        assert (report / f"{figure}.png").is_file() and (report / f"{figure}.svg").is_file()


# ---- Test 6 -----------------------------------------------------------------------------------
def test_solid_tumour_06_best_overall_response_stops_at_the_cut_off(export, run):
    """Test 6: BOR is the best of CR > PR > SD > PD > NE over the scans up to the data cut-off (a scan
    after it does not count), NE without any."""
    _, subjects, _ = export
    out, _ = run
    adrs = read_adam(out / "adam")["ADRS"]
    bor = adrs[adrs["PARAMCD"] == "BOR"].set_index("USUBJID")["AVALC"]
    order = ["CR", "PR", "SD", "PD", "NE"]
    expected = {f"{STUDYID}-{s.subjid}": min((r for d, r in s.scans if d <= CUTOFF), key=order.index, default="NE")
                for s in subjects}
    assert bor.to_dict() == expected


# ---- Test 7 -----------------------------------------------------------------------------------
def test_solid_tumour_07_an_impossible_date_is_named_by_validation(study, export, tmp_path):
    """Test 7: one scan date set to 02/30/2022 is a TK-MAP-0002 error naming the form, row, column
    and value, and validation exits 1."""
    raw, _, _ = export
    dirty = tmp_path / "raw"
    shutil.copytree(raw, dirty)
    recist = read_form(dirty / "recist.csv")
    row = int((recist["VISCD"] != "UNS").to_numpy().nonzero()[0][6]) + 1     # a scheduled scan: its visit stays known
    recist.loc[row - 1, "SCANDT"] = "02/30/2022"
    recist.to_csv(dirty / "recist.csv", index=False)
    sdtm_stage(study, dirty, tmp_path / "sdtm")
    validation, code = validate_stage(study, tmp_path / "sdtm", None, {}, rules=("trialkit",))
    findings = validation.findings
    errors = [f for f in findings if f.severity == "error"]
    assert code == 1
    assert [(f.rule, f.dataset, f.row, f.variable, f.value) for f in errors] == [
        ("TK-MAP-0002", "recist.csv", row, "SCANDT", "02/30/2022")] * 3   # one per RS test mapped from the scan
    assert "impossible date" in errors[0].message


# ---- Test 8 -----------------------------------------------------------------------------------
def test_solid_tumour_08_simulate_and_demo_of_the_shipped_study_work_end_to_end(onco02_demo, tmp_path):
    """Test 8: `trialkit simulate --study solid_tumour` failed (no profile.yaml). Now it writes the
    shipped profile's default export, and `trialkit demo --study solid_tumour` (the suite's run of it)
    runs it through every stage to the report, with the validator's exit code."""
    result = CliRunner().invoke(main, ["simulate", "--study", "solid_tumour", "--out", str(tmp_path / "raw")])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ONCO02: 60 subjects, 10 forms, ")
    out, code = onco02_demo
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["study"] == "solid_tumour" and manifest["stage_errors"] == []
    assert code == manifest["exit_code"] == (1 if manifest["validation"]["summary"]["error"] else 0)
    assert (out / "report" / "report.html").is_file() and (out / "truth.csv").is_file()
    assert manifest["datasets"]["ADSL"] == 60


# ---- Test 9 -----------------------------------------------------------------------------------
def test_solid_tumour_09_every_planted_defect_is_an_error_at_its_file_and_row(study, tmp_path):
    """Test 9: --dirty 2 on ONCO02 plants every kind of defect, impossible dates in the EDC's
    MM/DD/YYYY layout included; the SDTM stage reports each as an error at its file and row."""
    manifest = simulate_stage(study, 60, 3, tmp_path / "raw", dirty=2)
    kinds = {d["kind"] for d in manifest["defects"]}
    assert kinds == {"duplicate_subject", "impossible_date", "unknown_code", "missing_required", "truncated_file"}
    dates = [d for d in manifest["defects"] if d["kind"] == "impossible_date"]
    assert all(len(d["injected"]) == 10 and d["injected"][2] == "/" for d in dates)
    _, findings = sdtm_stage(study, tmp_path / "raw", tmp_path / "sdtm")
    at = {(f.source, f.row) for f in findings if f.severity == "error"}
    assert [d for d in manifest["defects"] if (d["file"], d["row"]) not in at] == []


# ---- Test 10 ----------------------------------------------------------------------------------
def test_solid_tumour_10_serious_events_carry_their_criterion_and_every_soc_its_meddra_code(study, run):
    """Test 10: ONCO02's EDC collected AESER alone, so every serious event broke CORE-000266 (no
    seriousness criterion 'Y'). The simulated form now collects life-threatening (a serious grade 4
    event) and hospitalization (a serious grade 3 event), empty for non-serious events; AEBDSYCD and
    AESOCCD are the MedDRA code of the event's system organ class, as the profile lists them."""
    out, _ = run
    ae, _ = read_xpt(out / "sdtm" / "ae.xpt")
    serious = ae["AESER"] == "Y"
    assert serious.any() and (~serious).any()
    assert ((ae.loc[serious, "AESLIFE"] == "Y") != (ae.loc[serious, "AESHOSP"] == "Y")).all()
    assert (ae.loc[serious, "AESLIFE"] == "Y").equals(ae.loc[serious, "AETOXGR"] == "4")
    assert (ae.loc[~serious, ["AESLIFE", "AESHOSP"]] == "").all().all()
    codes = yaml.safe_load((study / "profile.yaml").read_text(encoding="utf-8"))["adverse_events"]["soc_codes"]
    assert (ae["AEBDSYCD"] == ae["AEBODSYS"].map(codes)).all() and (ae["AESOCCD"] == ae["AEBDSYCD"]).all()
