"""The second shipped study, ONCO02 (specs/studies/solid_tumour): a new study needs only YAML.

ONCO02 is built on another design than BALLR01 (a two-arm solid-tumour trial with RECIST 1.1 PFS
and OS) and another EDC (other forms and fields, numeric codes, MM/DD/YYYY dates). The simulator
knows only BALLR01's forms, so this module writes ONCO02's raw export itself: a small deterministic
generator that keeps, per subject, what happened (randomization, scans and their overall response,
infusions, contacts, death) and writes the forms exactly as raw_dictionary.yaml documents them.
The whole pipeline then runs on it, and the PFS / OS records are compared per subject with an
expectation computed here, from the generator's own record of events, by the study's written rules
(not by the engine's code path).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialkit.define import validate_define
from trialkit.pipeline import run_pipeline, sdtm_stage, validate_stage
from trialkit.raw_dictionary import check_form, load_raw_dictionary, read_form
from trialkit.reports.build import read_adam
from trialkit.spec import study_dir

STUDY = study_dir("solid_tumour")
STUDYID = "ONCO02"
SEED = 20230331
N_SUBJECTS = 60
FIRST_RANDOMIZATION = date(2021, 3, 1)
CUTOFF = date(2023, 3, 31)                  # TS DCUTDTC in sdtm/study.yaml
SNAPSHOT = date(2023, 5, 31)                # the export is taken later: records after the cut-off exist
SITES = {"101": "DEU", "102": "FRA", "103": "GBR", "104": "ESP", "201": "AUS", "202": "ISR"}
ADEQUATE = ("CR", "PR", "SD")
MAX_GAP = 91                                # days: two missed 6-weekly assessments and a 1-week window
AE_TERMS = [("Neutropenia", "Neutrophil count decreased", "Investigations"),
            ("Tiredness", "Fatigue", "General disorders and administration site conditions"),
            ("Nausea", "Nausea", "Gastrointestinal disorders"),
            ("Diarrhoea", "Diarrhoea", "Gastrointestinal disorders"),
            ("Rash on trunk", "Rash", "Skin and subcutaneous tissue disorders"),
            ("Pneumonitis", "Pneumonitis", "Respiratory, thoracic and mediastinal disorders"),
            ("Hair loss", "Alopecia", "Skin and subcutaneous tissue disorders"),
            ("Low thyroid", "Hypothyroidism", "Endocrine disorders")]


def us(d: date) -> str:
    """A date as ONCO02's EDC writes it."""
    return d.strftime("%m/%d/%Y")


@dataclass
class Subject:
    """What happened to one subject, as the generator decided it (dates the export holds)."""
    subjid: str
    randdt: date
    scans: list[tuple[date, str]] = field(default_factory=list)      # (date, overall response), in date order
    doses: list[date] = field(default_factory=list)
    alive_contacts: list[date] = field(default_factory=list)
    death: date | None = None                                        # only a death the export reports


# ---- the raw export ----------------------------------------------------------------------------

def generate(seed: int = SEED) -> tuple[dict[str, list[dict]], list[Subject]]:
    """ONCO02's raw forms (rows as dicts, every value text) and the subjects behind them.

    Times are whole days from randomization (``np.inf``: never). Scenarios every run holds:
    subject 0 is randomized but never treated; subject 1 progresses after three missed assessments
    (PFS censors it at the last adequate one); subject 2 dies on day 30 without any assessment (a
    PFS event: within 91 days of randomization); subject 3 is lost to follow-up on day 30, before
    any assessment (PFS and OS censored early, PFS at randomization)."""
    rng = np.random.default_rng(seed)
    forms: dict[str, list[dict]] = {name: [] for name in load_raw_dictionary(STUDY).forms}
    subjects = []
    arms = rng.permutation(["A", "B"] * (N_SUBJECTS // 2))
    per_site: dict[str, int] = {}
    for i in range(N_SUBJECTS):
        site = list(SITES)[int(rng.integers(len(SITES)))]
        per_site[site] = per_site.get(site, 0) + 1
        keys = {"STUDYID": STUDYID, "SITEID": site, "SUBJID": f"{site}-{per_site[site]:03d}"}
        arm, ecog = str(arms[i]), "1" if rng.random() < 0.45 else "0"
        randdt = FIRST_RANDOMIZATION + timedelta(days=int(rng.integers(0, 365)))
        s = Subject(keys["SUBJID"], randdt)
        subjects.append(s)

        def day(t: float, origin: date = randdt) -> date:
            return origin + timedelta(days=int(t))

        forms["randomization"].append({**keys, "CTRY": SITES[site], "RANDNUM": str(5001 + i),
                                       "ICDT": us(day(-int(rng.integers(3, 21)))), "RANDDT": us(randdt),
                                       "TRTCD": arm, "ECOGSTR": ecog, "REGSTR": "ROW" if site.startswith("2") else "EUR"})
        forms["demography"].append({**keys, "AGEYRS": str(int(rng.integers(38, 82))), "SEXCD": str(int(rng.integers(1, 3))),
                                    "RACECD": str(rng.choice(["1", "1", "1", "2", "3", "4", "9"]))})
        forms["diagnosis"].append({**keys, "DXDT": us(day(-int(rng.integers(200, 1200)))),
                                   "HISTCD": str(rng.choice(["ADENO", "SQUAM", "OTHER"], p=[0.6, 0.3, 0.1])),
                                   "STAGEDX": str(rng.choice(["IV", "IIIB"], p=[0.85, 0.15]))})

        # disease course: progression is found at the first scan after it, unless death comes first
        median = (180 if arm == "A" else 120) / (1.3 if ecog == "1" else 1.0)
        t_prog = 5 + int(rng.exponential(median / np.log(2)))
        death_first = rng.random() < 0.12
        t_lost = int(rng.uniform(100, 500)) if rng.random() < 0.05 else np.inf
        if i == 1:                      # progression at week 36, after the week 18-30 scans were missed
            death_first, t_prog, t_lost = False, 42 * 6 - 10, np.inf
        elif i == 2:                    # death on day 30, before the first scan
            death_first, t_prog, t_lost = True, 30, np.inf
        elif i == 3:                    # lost on day 30, before the first scan
            t_lost = 30
        responder = rng.random() < (0.35 if arm == "A" else 0.18)
        complete = responder and rng.random() < 0.15

        t_pd = None
        for k in range(1, 30):
            t = 42 * k + int(rng.integers(-3, 4))
            if day(t) > SNAPSHOT or t > t_lost or (death_first and t >= t_prog):
                break
            if rng.random() < 0.07 or (i == 1 and 3 <= k <= 5):
                continue                                              # assessment missed
            if t >= t_prog and not death_first:
                response, t_pd = "PD", t
            elif rng.random() < 0.04:
                response = "NE"
            else:
                response = "CR" if responder and complete and k >= 3 else "PR" if responder and k >= 2 else "SD"
            if response == "PD":
                target, nontarget, new = ("PD", "NON-CR/NON-PD", "N") if rng.random() < 0.5 else ("SD", "PD", "Y")
            elif response == "NE":
                target, nontarget, new = "NE", "NE", "N"
            else:
                target, nontarget, new = response, "CR" if response == "CR" else str(rng.choice(["NON-CR/NON-PD", "NA"])), "N"
            forms["recist"].append({**keys, "VISCD": f"WK{6 * k:02d}", "SCANDT": us(day(t)), "TLRESP": target,
                                    "NTLRESP": nontarget, "NEWLES": new, "OVRESP": response})
            s.scans.append((day(t), response))
            if response == "PD":
                break
            if response in ("SD", "PR") and rng.random() < 0.15 and day(t + 14) <= SNAPSHOT and t + 14 < min(t_lost, t_prog):
                forms["recist"].append({**keys, "VISCD": "UNS", "SCANDT": us(day(t + 14)), "TLRESP": response,
                                        "NTLRESP": "NON-CR/NON-PD", "NEWLES": "N", "OVRESP": response})
                s.scans.append((day(t + 14), response))
        t_death = t_prog if death_first else t_pd + int(rng.exponential(200 / np.log(2))) if t_pd is not None else np.inf
        if np.isfinite(t_death) and t_death < t_lost and day(t_death) <= SNAPSHOT:
            s.death = day(t_death)

        # treatment every 21 days from day 1-5 until progression, death, toxicity or loss to follow-up
        t_stop, reason = np.inf, ""
        if i != 0:
            first = int(rng.integers(1, 6))
            t_tox = int(rng.uniform(60, 400)) if rng.random() < 0.1 else np.inf
            t_stop, reason = min([(t_pd if t_pd is not None else np.inf, "PD"), (t_death, "DEATH"), (t_tox, "AE"),
                                  (t_lost, "WD")], key=lambda c: c[0])
            for c in range(200):
                t = first + 21 * c + int(rng.integers(0, 3))
                if t >= t_stop or day(t) > SNAPSHOT:
                    break
                s.doses.append(day(t))
                forms["dosing"].append({**keys, "CYCLE": str(c + 1), "ADMDT": us(day(t)),
                                        "AGENT": "DRUGX" if arm == "A" else "DOCETAXEL",
                                        "DOSEADM": "200" if arm == "A" else str(rng.choice(["75", "75", "60"])),
                                        "DOSEUNIT": "mg" if arm == "A" else "mg/m2"})
        if s.doses:
            if np.isfinite(t_stop) and day(t_stop) <= SNAPSHOT:
                forms["trt_end"].append({**keys, "EOTDT": us(day(t_stop)), "EOTREAS": reason})
            # adverse events from the first infusion to 30 days after the last (the first one stops
            # treatment when toxicity does)
            first_day = (s.doses[0] - randdt).days
            last_day = int(min((s.doses[-1] - randdt).days + 30, t_death - 1, t_lost, (SNAPSHOT - randdt).days))
            for n in range(int(rng.poisson(3)) + (reason == "AE")):
                onset = int(rng.integers(first_day, max(first_day, last_day) + 1))
                stops = reason == "AE" and n == 0
                if stops:
                    onset = max(first_day, min(int(t_stop) - 3, last_day))
                verbatim, term, soc = AE_TERMS[int(rng.integers(len(AE_TERMS)))]
                grade = int(rng.choice([1, 2, 3, 4], p=[0.45, 0.35, 0.15, 0.05]))
                end = onset + int(rng.integers(2, 40))
                resolved = day(end) <= SNAPSHOT and end < t_death and end <= t_lost
                forms["adverse"].append({**keys, "AENUM": str(n + 1), "AEVERB": verbatim, "AEPT": term, "AESOCNM": soc,
                                         "AESTDT": us(day(onset)), "AEENDT": us(day(end)) if resolved else "",
                                         "GRADE": str(grade), "SERIOUS": "Y" if grade >= 3 and rng.random() < 0.5 else "N",
                                         "CAUSAL": str(rng.choice(["NOT", "UNLIKELY", "POSSIBLE", "PROBABLE"])),
                                         "ACTION": "DISC" if stops else str(rng.choice(["NONE", "NONE", "RED", "INT"])),
                                         "OUTCOME": "RES" if resolved else "NOTRES"})

        # survival follow-up every 12 weeks after the end of treatment (from randomization if never
        # treated; none while treatment goes on); a death learnt at a contact is reported on its date
        start = 0 if not s.doses else t_stop
        for j in range(1, 20):
            t = start + 84 * j + int(rng.integers(-5, 6))
            if not np.isfinite(t) or day(t) > SNAPSHOT or t >= t_death or t > t_lost:
                break
            s.alive_contacts.append(day(t))
            forms["followup"].append({**keys, "FUDT": us(day(t)), "VITSTAT": "1"})
        if s.death is not None:
            forms["death"].append({**keys, "DTHDT": us(s.death), "DTHCAUS": "PD" if t_pd is not None else "OTH"})
            forms["study_end"].append({**keys, "ENDDT": us(s.death), "ENDREAS": "DEATH"})
            if t_death > start:
                forms["followup"].append({**keys, "FUDT": us(s.death), "VITSTAT": "2"})
        elif np.isfinite(t_lost) and day(t_lost + 30) <= SNAPSHOT:
            forms["study_end"].append({**keys, "ENDDT": us(day(t_lost + 30)), "ENDREAS": "LOST"})
    return forms, subjects


def write_export(forms: dict[str, list[dict]], folder: Path) -> None:
    dictionary = load_raw_dictionary(STUDY)
    folder.mkdir(parents=True, exist_ok=True)
    for name, form in dictionary.forms.items():
        pd.DataFrame(forms[name], columns=form.columns).to_csv(folder / f"{name}.csv", index=False)


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
def export(tmp_path_factory):
    forms, subjects = generate()
    raw = tmp_path_factory.mktemp("onco02") / "raw"
    write_export(forms, raw)
    return raw, subjects


@pytest.fixture(scope="module")
def run(export, tmp_path_factory):
    raw, _ = export
    out = tmp_path_factory.mktemp("onco02_run")
    manifest = run_pipeline(STUDY, raw, out)
    return out, manifest


# ---- Test 1 -----------------------------------------------------------------------------------
def test_solid_tumour_01_generated_export_is_exactly_what_the_raw_dictionary_documents(export):
    """Test 1: every form of the dictionary is written, with its columns in order, and check_form
    finds no value that breaks the dictionary (codes, integers, MM/DD/YYYY dates, required values)."""
    raw, subjects = export
    dictionary = load_raw_dictionary(STUDY)
    assert sorted(p.stem for p in raw.glob("*.csv")) == sorted(dictionary.forms)
    for name, form in dictionary.forms.items():
        frame = read_form(raw / f"{name}.csv")
        assert list(frame.columns) == form.columns
        assert check_form(frame, form, dictionary) == [], name
    assert len(subjects) == N_SUBJECTS
    # the scenarios the generator promises are in the data
    late_pd = subjects[1]
    pd_date = next(d for d, r in late_pd.scans if r == "PD")
    assert (pd_date - max([d for d, r in late_pd.scans if r in ADEQUATE], default=late_pd.randdt)).days > MAX_GAP
    assert subjects[2].scans == [] and subjects[2].death is not None
    assert any(d > CUTOFF for s in subjects for d, _ in s.scans), "records after the cut-off are part of the export"


# ---- Test 2 -----------------------------------------------------------------------------------
def test_solid_tumour_02_pipeline_runs_clean_and_every_raw_row_is_accounted_for(export, run):
    """Test 2: run_pipeline exits 0 (no error-level finding) and the ledger reconciles: every row of
    every form landed in a dataset, none rejected, none unaccounted."""
    raw, _ = export
    out, manifest = run
    validation = json.loads((out / "validation" / "validation.json").read_text(encoding="utf-8"))
    errors = [f for f in validation["findings"] if f["severity"] == "error"]
    assert manifest["exit_code"] == 0, errors[:5]
    for counts in manifest["ledger"]["forms"]:
        rows = len(read_form(raw / f"{counts['form']}.csv"))
        assert (counts["rows_in"], counts["landed"], counts["rejected"], counts["unaccounted"]) == (rows, rows, 0, 0), counts
    assert manifest["ledger"]["rejected"] == []
    assert {"ADSL", "ADTTE", "ADRS", "ADAE", "DM", "RS", "EX", "AE", "SS", "DS"} <= set(manifest["datasets"])


# ---- Test 3 -----------------------------------------------------------------------------------
def test_solid_tumour_03_pfs_and_os_agree_with_the_expectation_for_every_subject(export, run):
    """Test 3: each subject's PFS and OS record (ADT, CNSR, EVNTDESC for events) is what the study's
    rules give on the generator's own record of the subject; AVAL = ADT - RANDDT + 1."""
    _, subjects = export
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
    pfs = adtte[adtte["PARAMCD"] == "PFS"]
    # both event kinds, both censoring kinds, and the late progression censored
    assert set(pfs["EVNTDESC"]) == {"PROGRESSIVE DISEASE", "DEATH", "LAST ADEQUATE TUMOUR ASSESSMENT", "RANDOMIZATION"}
    late = pfs[pfs["USUBJID"] == f"{STUDYID}-{subjects[1].subjid}"].iloc[0]
    assert late["CNSR"] == 1 and late["EVNTDESC"] == "LAST ADEQUATE TUMOUR ASSESSMENT"


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
    _, subjects = export
    out, _ = run
    adrs = read_adam(out / "adam")["ADRS"]
    bor = adrs[adrs["PARAMCD"] == "BOR"].set_index("USUBJID")["AVALC"]
    order = ["CR", "PR", "SD", "PD", "NE"]
    expected = {f"{STUDYID}-{s.subjid}": min((r for d, r in s.scans if d <= CUTOFF), key=order.index, default="NE")
                for s in subjects}
    assert bor.to_dict() == expected


# ---- Test 7 -----------------------------------------------------------------------------------
def test_solid_tumour_07_an_impossible_date_is_named_by_validation(export, tmp_path):
    """Test 7: one scan date set to 02/30/2022 is a TK-MAP-0002 error naming the form, row, column
    and value, and validation exits 1."""
    raw, _ = export
    dirty = tmp_path / "raw"
    shutil.copytree(raw, dirty)
    recist = read_form(dirty / "recist.csv")
    row = int((recist["VISCD"] != "UNS").to_numpy().nonzero()[0][6]) + 1     # a scheduled scan: its visit stays known
    recist.loc[row - 1, "SCANDT"] = "02/30/2022"
    recist.to_csv(dirty / "recist.csv", index=False)
    sdtm_stage(STUDY, dirty, tmp_path / "sdtm")
    run, code = validate_stage(STUDY, tmp_path / "sdtm", None, {}, rules=("trialkit",))
    findings = run.findings
    errors = [f for f in findings if f.severity == "error"]
    assert code == 1
    assert [(f.rule, f.dataset, f.row, f.variable, f.value) for f in errors] == [
        ("TK-MAP-0002", "recist.csv", row, "SCANDT", "02/30/2022")] * 3   # one per RS test mapped from the scan
    assert "impossible date" in errors[0].message
