"""End-to-end tests of the SDTM stage (trialkit.sdtm.engine.run_sdtm + trialkit.sdtm.output.write_sdtm).

One study of 200 subjects is simulated once and written three times from the same seed: clean, dirty
(level 2: five defects of each documented kind) and with 5 % duplicated records. Each export is mapped
with ``run_sdtm`` and written with ``write_sdtm`` once, in module-scoped fixtures; the numbered cases
then check the reconciliation ledger, the XPT round trip, SDTM structure and values, that every planted
defect is reported where it was planted, that duplicates change nothing, and that spec errors stop the
run before anything is written.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialkit.errors import SpecError
from trialkit.findings import Finding
from trialkit.lineage import read_provenance
from trialkit.pipeline import sdtm_stage
from trialkit.raw_dictionary import load_raw_dictionary, read_form
from trialkit.sdtm.engine import (
    SdtmResult,
    dataset_columns,
    load_study_config,
    run_sdtm,
)
from trialkit.sdtm.output import dataset_meta, write_sdtm, xpt_frame
from trialkit.sdtm.standards import load_domains
from trialkit.simulate.profile import load_profile
from trialkit.simulate.study import SimulatedStudy, simulate_study
from trialkit.simulate.writer import write_export
from trialkit.spec import study_dir
from trialkit.validators.inputs import read_folder
from trialkit.xpt import read_xpt

STUDY = "ball_relapse"
SUBJECTS = 200
SEED = 20240
DUPLICATE_RATE = 0.05
PROVENANCE = re.compile(r"^_(form|row)(_\d+)?$")
ISO_DTC = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T([01]\d|2[0-3]):[0-5]\d)?)?)?$")
XPT_V5_HEADER = b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!"
SUBJECT_FORM = "enrol"  # study.yaml subjects:
PLAIN_NUMBER = re.compile(r"^\d+(\.\d+)?([Ee][-+]?\d+)?$")


@dataclass
class Run:
    """One export folder, its manifest, the SDTM result and what write_sdtm wrote."""

    raw: Path
    manifest: dict
    result: SdtmResult
    out: Path
    summary: dict


@pytest.fixture(scope="module")
def dictionary():
    return load_raw_dictionary(STUDY)


@pytest.fixture(scope="module")
def simulated() -> SimulatedStudy:
    return simulate_study(load_profile(STUDY), SUBJECTS, SEED)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, simulated, dictionary) -> dict[str, Run]:
    base = tmp_path_factory.mktemp("sdtm_engine")
    out = {}
    for name, kwargs in {"clean": {}, "dirty": {"dirty": 2}, "dup": {"duplicate_rate": DUPLICATE_RATE}}.items():
        raw = base / name / "raw"
        manifest = write_export(simulated, dictionary, raw, **kwargs)
        result = run_sdtm(STUDY, raw)
        summary = write_sdtm(result, base / name / "sdtm")
        out[name] = Run(raw, manifest, result, base / name / "sdtm", summary)
    return out


@pytest.fixture(scope="module")
def clean(runs) -> Run:
    return runs["clean"]


@pytest.fixture(scope="module")
def dirty(runs) -> Run:
    return runs["dirty"]


@pytest.fixture(scope="module")
def dup(runs) -> Run:
    return runs["dup"]


# ---- helpers -----------------------------------------------------------------------------------
def public(domain: str, frame: pd.DataFrame, specs) -> pd.DataFrame:
    """The dataset exactly as write_sdtm hands it to the XPT writer."""
    return xpt_frame(frame, dataset_meta(domain, dataset_columns(domain, frame, specs)))


def days(dtc: pd.Series) -> pd.Series:
    """Complete dates (first 10 characters) as datetime64, NaT for partial or missing ones."""
    text = dtc.astype(str)
    return pd.to_datetime(text.str.slice(0, 10).where(text.str.len() >= 10), format="%Y-%m-%d", errors="coerce")


def with_dm(frame: pd.DataFrame, dm: pd.DataFrame, *columns: str) -> pd.DataFrame:
    extra = dm.set_index("USUBJID")[list(columns)]
    return frame.join(extra, on="USUBJID", rsuffix="_DM")


def assert_reconciles(ledger: dict) -> None:
    for form in ledger["forms"]:
        assert form["unaccounted"] == 0, form
        assert form["rows_in"] == form["landed"] + form["rejected"], form


def rejections(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.message.startswith("record rejected:")]


def at(findings: list[Finding], file: str, row: int) -> list[Finding]:
    return [f for f in findings if f.source == file and f.row == row]


def explains(defect: dict, f: Finding) -> bool:
    """Whether finding ``f`` (at the defect's file and row) is the report of ``defect``."""
    if f.message == f"record rejected: subject not in {SUBJECT_FORM}":
        return True  # the record's subject was rejected, so it never reached a mapping: the rejection is its report
    kind, field = defect["kind"], defect["field"]
    if kind == "impossible_date":
        return f.message == "impossible date" and f.column == field and bool(f.key)
    if kind == "unknown_code":
        return f.column == field and (f.message == "raw dictionary: value not in codes"
                                      or f.message.startswith("value not in codelist")
                                      or f.message.startswith("value not in extensible codelist"))
    if kind == "missing_required":
        if field == "SUBJID":
            return f.message == "record rejected: no subject identifier (SUBJID empty)"
        return f.column == field and f.message == "raw dictionary: required value missing"
    if kind == "duplicate_subject":
        return f.message.startswith("record rejected: second record for the subject") and f.column == "SUBJID"
    if kind == "truncated_file":
        return f.message == "record rejected: record cut off (truncated file)"
    raise AssertionError(f"unknown defect kind {kind}")


def copy_study(tmp_path: Path) -> Path:
    folder = tmp_path / "study"
    shutil.copytree(study_dir(STUDY), folder)
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} not found exactly once in {path.name}: the shipped spec changed"
    path.write_text(text.replace(old, new), encoding="utf-8")


# ---- Test 1 ------------------------------------------------------------------------------------
def test_sdtm_engine_01_clean_run_has_no_findings_and_the_ledger_reconciles(clean):
    """Test 1: a clean export maps without a single finding; every form's rows all land, none is
    rejected or unaccounted; ledger.json and findings.json are what the result holds."""
    result = clean.result
    assert result.findings == [], [str(f) for f in result.findings[:10]]
    ledger = result.ledger.to_dict()
    assert ledger["rejected"] == []
    assert_reconciles(ledger)
    for form in ledger["forms"]:
        assert form["rows_in"] == form["landed"] == clean.manifest["forms"][form["form"]]["rows"], form
        assert form["rejected"] == 0
    assert {f["form"] for f in ledger["forms"]} == set(clean.manifest["forms"])
    assert result.ledger.unaccounted() == {}
    for dataset, records in ledger["datasets"].items():
        assert records == len(result.datasets[dataset]), dataset
    assert json.loads((clean.out / "ledger.json").read_text(encoding="utf-8")) == ledger
    assert json.loads((clean.out / "findings.json").read_text(encoding="utf-8")) == []
    assert clean.summary["errors"] == 0 and clean.summary["findings"] == 0


# ---- Test 2 ------------------------------------------------------------------------------------
def test_sdtm_engine_02_every_dataset_round_trips_through_xpt_v5(clean):
    """Test 2: every dataset is written as <domain>.xpt (v5), reads back with exactly the data handed
    to the writer, carries the SDTMIG labels and types and no provenance column; nothing else but
    ledger.json, findings.json and the provenance sidecar is written."""
    result = clean.result
    standard = load_domains()
    written = {p.name for p in clean.out.iterdir()}
    assert written == {f"{d.lower()}.xpt" for d in result.datasets} | {"ledger.json", "findings.json", "provenance.tsv"}
    for domain, frame in result.datasets.items():
        path = clean.out / f"{domain.lower()}.xpt"
        assert path.read_bytes()[:48] == XPT_V5_HEADER, domain
        expected = public(domain, frame, result.specs)
        got, meta = read_xpt(path)
        assert meta.name == domain
        assert not any(PROVENANCE.match(c) or c.startswith("_") for c in got.columns), (domain, list(got.columns))
        # no variable the engine built is lost on the way to the file
        assert [c for c in frame.columns if not c.startswith("_") and c not in got.columns] == [], domain
        pd.testing.assert_frame_equal(got, expected.reset_index(drop=True), check_exact=True, obj=domain)
        key = domain if domain in standard else "SUPPQUAL"
        assert domain in standard or domain.startswith("SUPP"), domain
        for var in meta.variables:
            ig = standard[key].variable(var.name)
            assert ig is not None, (domain, var.name)
            assert var.label == ig.label, (domain, var.name)
            assert var.type == ig.type, (domain, var.name)
        assert [v.name for v in meta.variables] == [v for v in standard[key].names if v in got.columns], domain
        assert clean.summary["datasets"][domain]["records"] == len(frame) == len(got)


# ---- Test 3 ------------------------------------------------------------------------------------
def test_sdtm_engine_03a_dm_one_record_per_subject_and_every_subject_in_dm(clean):
    """Test 3a: DM has one record per USUBJID, one per enrolled subject, and every USUBJID of every
    dataset is a DM subject."""
    ds = clean.result.datasets
    dm = ds["DM"]
    assert dm["USUBJID"].is_unique
    assert len(dm) == SUBJECTS
    subjects = set(dm["USUBJID"])
    for domain, frame in ds.items():
        if "USUBJID" in frame:
            assert set(frame["USUBJID"]) <= subjects, domain


def test_sdtm_engine_03b_seq_unique_within_subject(clean):
    """Test 3b: --SEQ is 1..n and unique within USUBJID in every dataset that has one."""
    for domain, frame in clean.result.datasets.items():
        seq = f"{domain}SEQ"
        if seq not in frame or "USUBJID" not in frame:
            continue
        assert frame[seq].notna().all(), domain
        assert not frame.duplicated(["USUBJID", seq]).any(), domain
        expected = frame.groupby("USUBJID")[seq].transform("size")
        assert (frame.groupby("USUBJID")[seq].transform("max") == expected).all(), domain


def test_sdtm_engine_03c_study_days(clean):
    """Test 3c: --DY = date - RFSTDTC + 1 on or after RFSTDTC, date - RFSTDTC before it, never 0,
    and missing for partial dates (AE has partial start dates)."""
    ds, specs = clean.result.datasets, clean.result.specs
    checked = 0
    for domain, spec in specs.items():
        frame = ds[domain]
        for dy, dtc in spec.study_days.items():
            refs = with_dm(frame[["USUBJID", dtc, dy]], ds["DM"], "RFSTDTC")
            delta = (days(refs[dtc]) - days(refs["RFSTDTC"])).dt.days
            expected = delta.where(delta < 0, delta + 1)
            assert (frame[dy] != 0).all(), (domain, dy)
            pd.testing.assert_series_equal(frame[dy].astype(float), expected.astype(float), check_names=False, obj=f"{domain}.{dy}")
            checked += frame[dy].notna().sum()
    assert checked > 1000
    ae = ds["AE"]
    partial = ae["AESTDTC"].str.len().between(4, 7)
    assert partial.sum() > 0, "the export should have AEs with partial start dates"
    assert ae.loc[partial, "AESTDY"].isna().all()
    assert ae.loc[ae["AESTDTC"].str.len() >= 10, "AESTDY"].notna().all()


def test_sdtm_engine_03d_supp_records_point_at_exactly_one_parent(clean):
    """Test 3d: each SUPP-- record's IDVAR/IDVARVAL points at exactly one parent record (DM: by
    USUBJID, IDVAR and IDVARVAL blank); QNAM is unique per parent record."""
    ds = clean.result.datasets
    supps = [d for d in ds if d.startswith("SUPP")]
    assert {"SUPPDM", "SUPPLB", "SUPPCE"} <= set(supps)
    for name in supps:
        supp = ds[name]
        assert (supp["RDOMAIN"] == name[4:]).all(), name
        parent = ds[name[4:]]
        assert not supp.duplicated(["USUBJID", "IDVAR", "IDVARVAL", "QNAM"]).any(), name
        if name == "SUPPDM":
            assert (supp["IDVAR"] == "").all() and (supp["IDVARVAL"] == "").all()
            counts = supp["USUBJID"].map(parent["USUBJID"].value_counts())
        else:
            seq = f"{name[4:]}SEQ"
            assert (supp["IDVAR"] == seq).all(), name
            keys = parent["USUBJID"] + "|" + parent[seq].astype(int).astype(str)
            counts = (supp["USUBJID"] + "|" + supp["IDVARVAL"]).map(keys.value_counts())
        assert (counts == 1).all(), (name, supp[counts != 1].head())


def test_sdtm_engine_03e_epoch_for_complete_dates(clean):
    """Test 3e: every record with a complete date gets an EPOCH of the study; records before the
    first dose (RFSTDTC) are SCREENING, those after the last dose FOLLOW-UP."""
    ds, specs = clean.result.datasets, clean.result.specs
    epochs = {e["epoch"] for e in load_study_config(STUDY).epochs}
    for domain, spec in specs.items():
        if not spec.epoch:
            continue
        frame = with_dm(ds[domain][["USUBJID", spec.epoch, "EPOCH"]], ds["DM"], "RFSTDTC", "RFXENDTC")
        day = days(frame[spec.epoch])
        complete = day.notna()
        assert complete.any(), domain
        assert frame.loc[complete, "EPOCH"].isin(epochs).all(), (domain, frame[complete & ~frame["EPOCH"].isin(epochs)].head())
        assert (frame.loc[complete & (day < days(frame["RFSTDTC"])), "EPOCH"] == "SCREENING").all(), domain
        assert (frame.loc[complete & (day > days(frame["RFXENDTC"])), "EPOCH"] == "FOLLOW-UP").all(), domain


def test_sdtm_engine_03f_unscheduled_visitnum_follows_the_previous_scheduled_visit(clean):
    """Test 3f: an unscheduled visit's VISITNUM is fractional, above the VISITNUM of the subject's
    last scheduled visit on or before its date and below the next whole number; its VISIT names the
    number, so VISIT and VISITNUM are one-to-one."""
    ds = clean.result.datasets
    seen = 0
    for domain in ("LB", "RS"):
        frame = ds[domain]
        day = days(frame[f"{domain}DTC"])
        unscheduled = frame["VISIT"].str.startswith("UNSCHEDULED")
        assert (frame.loc[unscheduled, "VISIT"] == "UNSCHEDULED " + frame.loc[unscheduled, "VISITNUM"].map("{:.2f}".format)).all()
        assert (frame.groupby("VISIT")["VISITNUM"].nunique() == 1).all(), domain
        scheduled = frame[~unscheduled & day.notna()].assign(day=day)
        assert frame.loc[~unscheduled, "VISITNUM"].mod(1).eq(0).all(), domain
        for i in np.flatnonzero(unscheduled.to_numpy()):
            rec = frame.iloc[i]
            vn = rec["VISITNUM"]
            assert vn % 1 != 0, (domain, rec["USUBJID"], vn)
            before = scheduled[(scheduled["USUBJID"] == rec["USUBJID"]) & (scheduled["day"] <= day.iloc[i])]
            previous = before.sort_values("day")["VISITNUM"].iloc[-1] if len(before) else 0.0
            assert previous < vn < previous + 1, (domain, rec["USUBJID"], rec[f"{domain}DTC"], vn, previous)
            seen += 1
    assert seen > 0, "the export should have unscheduled visits"


def test_sdtm_engine_03g_one_unscheduled_visit_has_one_visitnum(clean):
    """Test 3g: all records of one unscheduled assessment (same raw record, same subject and date)
    share one VISITNUM, in every domain, and SV lists the visit once."""
    ds = clean.result.datasets
    parts = [ds[d].loc[ds[d]["VISIT"].str.startswith("UNSCHEDULED"), ["USUBJID", "VISITNUM", "_form", "_row"]] for d in ("LB", "RS")]
    records = pd.concat(parts, ignore_index=True)
    assert (records.groupby(["_form", "_row"])["VISITNUM"].nunique() == 1).all()
    sv = ds["SV"]
    unscheduled = sv[sv["VISIT"].str.startswith("UNSCHEDULED")]
    assert not unscheduled.duplicated(["USUBJID", "SVSTDTC"]).any()


def test_sdtm_engine_03h_all_dtc_values_are_iso_8601(clean):
    """Test 3h: every --DTC value of every dataset is blank or ISO 8601 (YYYY, YYYY-MM, YYYY-MM-DD,
    optionally THH:MM), and complete dates are real calendar dates."""
    checked = 0
    for domain, frame in clean.result.datasets.items():
        for col in [c for c in frame.columns if c.endswith("DTC")]:
            values = frame[col].astype(str)
            present = values[values != ""]
            bad = present[~present.str.match(ISO_DTC)]
            assert bad.empty, (domain, col, bad.head().tolist())
            complete = present[present.str.len() >= 10]
            assert days(complete).notna().all(), (domain, col)
            checked += len(present)
    assert checked > 10000


# ---- Test 4 ------------------------------------------------------------------------------------
def test_sdtm_engine_04a_dm_arms_of_treated_and_untreated_subjects(clean):
    """Test 4a: treated subjects (with EX records) have ACTARMCD/ACTARM equal to ARMCD/ARM and no
    ARMNRS; untreated subjects have ARMNRS 'ASSIGNED, NOT TREATED' (ARMNULRS), empty ACTARMCD/ACTARM and no EX."""
    ds = clean.result.datasets
    dm = ds["DM"]
    treated = dm["USUBJID"].isin(set(ds["EX"]["USUBJID"]))
    assert treated.any() and (~treated).any()
    assert dm["ARMCD"].isin(["BLIN", "HC3"]).all()
    t, u = dm[treated], dm[~treated]
    assert (t["ACTARMCD"] == t["ARMCD"]).all() and (t["ACTARM"] == t["ARM"]).all()
    assert (t["ARMNRS"] == "").all() and (t["RFXSTDTC"] != "").all()
    assert (u["ARMNRS"] == "ASSIGNED, NOT TREATED").all()
    assert (u["ACTARMCD"] == "").all() and (u["ACTARM"] == "").all() and (u["RFXSTDTC"] == "").all()


def test_sdtm_engine_04b_dthfl_exactly_for_subjects_with_a_death_record(clean):
    """Test 4b: DTHFL is 'Y' (with DTHDTC) exactly for the subjects of death.csv, blank otherwise."""
    dm = clean.result.datasets["DM"]
    dead = set(read_form(clean.raw / "death.csv")["SUBJID"].str.strip())
    assert dead
    flagged = dm["SUBJID"].isin(dead)
    assert (dm.loc[flagged, "DTHFL"] == "Y").all() and (dm.loc[flagged, "DTHDTC"] != "").all()
    assert (dm.loc[~flagged, "DTHFL"] == "").all() and (dm.loc[~flagged, "DTHDTC"] == "").all()


def test_sdtm_engine_04c_age_from_birth_and_consent_dates_equals_the_simulated_age(clean, simulated):
    """Test 4c: AGE is the whole years from BRTHDTC (a month-only birth date counts from the 1st) to
    RFICDTC, in YEARS, and equals the simulator's true age."""
    dm = clean.result.datasets["DM"]

    def years(birth: str, ref: str) -> int:
        b = date.fromisoformat(birth + "-01" if len(birth) == 7 else birth)
        r = date.fromisoformat(ref[:10])
        return r.year - b.year - ((r.month, r.day) < (b.month, b.day))

    expected = [years(b, r) for b, r in zip(dm["BRTHDTC"], dm["RFICDTC"])]
    assert dm["AGE"].tolist() == expected
    assert (dm["AGEU"] == "YEARS").all()
    truth = np.floor(simulated.subjects.set_index("SUBJID")["age"]).reindex(dm["SUBJID"]).to_numpy()
    assert (dm["BRTHDTC"].str.len() == 7).any(), "the export should have month-only birth dates"
    assert (dm["AGE"].to_numpy() == truth).all(), dm[dm["AGE"].to_numpy() != truth][["SUBJID", "BRTHDTC", "RFICDTC", "AGE"]]


def test_sdtm_engine_04d_mrd_numeric_results_and_limits_of_detection(clean):
    """Test 4d: LB MRD records: LBSTRESN is populated exactly where LBORRES is a plain number (and is
    that number); '<1E-05' and 'PNQ' results have none; each done MRD has its SUPPLB LBLOD record."""
    ds = clean.result.datasets
    lb = ds["LB"]
    mrd = lb[lb["LBTESTCD"] == "LEUKCE"]
    numeric = mrd["LBORRES"].str.match(PLAIN_NUMBER)
    assert numeric.any() and (~numeric & (mrd["LBORRES"] != "")).any()
    assert mrd.loc[numeric, "LBSTRESN"].notna().all()
    assert mrd.loc[~numeric, "LBSTRESN"].isna().all()
    np.testing.assert_array_equal(mrd.loc[numeric, "LBSTRESN"].to_numpy(), mrd.loc[numeric, "LBORRES"].astype(float).to_numpy())
    done = mrd[mrd["LBSTAT"] != "NOT DONE"]
    lod = ds["SUPPLB"]
    lod = lod[lod["QNAM"] == "LBLOD"]
    keys = set(lod["USUBJID"] + "|" + lod["IDVARVAL"])
    missing = done[~(done["USUBJID"] + "|" + done["LBSEQ"].astype(int).astype(str)).isin(keys)]
    assert missing.empty, missing[["USUBJID", "LBSEQ", "LBORRES"]].head()
    assert (lod["QVAL"] != "").all()


# ---- Test 5 ------------------------------------------------------------------------------------
def test_sdtm_engine_05a_every_planted_defect_is_reported_where_it_was_planted(dirty):
    """Test 5a: each manifest defect has a finding (or rejection) naming its raw file and row, and
    its field where it has one: impossible date with the spec key, code outside its codes or
    codelist, required value missing, second record for the subject, record cut off."""
    findings = dirty.result.findings
    defects = dirty.manifest["defects"]
    assert {d["kind"] for d in defects} == {"impossible_date", "unknown_code", "missing_required", "duplicate_subject", "truncated_file"}
    unreported = [d for d in defects if not any(explains(d, f) for f in at(findings, d["file"], d["row"]))]
    assert unreported == [], unreported


def test_sdtm_engine_05b_dirty_ledger_reconciles(dirty):
    """Test 5b: nothing is unaccounted in the dirty run: rows_in == landed + rejected for every form,
    and each rejected row has a rejection finding at its file and row."""
    ledger = dirty.result.ledger.to_dict()
    assert_reconciles(ledger)
    for form in ledger["forms"]:
        assert form["rows_in"] == dirty.manifest["forms"][form["form"]]["rows"], form
    rejected = {(f"{r['form']}.csv", r["row"]) for r in ledger["rejected"]}
    reported = {(f.source, f.row) for f in rejections(dirty.result.findings)}
    assert rejected == reported


def test_sdtm_engine_05c_every_new_finding_is_explained_by_a_planted_defect(clean, dirty):
    """Test 5c: every finding of the dirty run that the clean run does not have sits at the file and
    row of a manifest defect, or is the rejection of a record of a subject whose enrol record a defect
    removed (a subject not in enrol)."""
    def key(f):
        return (f.source, f.row, f.column, f.message)

    new = [f for f in dirty.result.findings if key(f) not in {key(c) for c in clean.result.findings}]
    planted = {(d["file"], d["row"]) for d in dirty.manifest["defects"]}
    subject_form = load_study_config(STUDY).subject_form
    assert subject_form == SUBJECT_FORM
    lost = {d["original"] for d in dirty.manifest["defects"]
            if d["form"] == subject_form and d["field"] == "SUBJID" and d["kind"] == "missing_required"}
    unexplained = [str(f) for f in new if (f.source, f.row) not in planted
                   and not (f.message == f"record rejected: subject not in {subject_form}" and f.subject in lost)]
    assert unexplained == []
    # a planted unknown code in a field recoded through an extensible codelist (e.g. MRD METHOD "?") is
    # the raw dictionary's error plus the mapping's warning that the value was kept as collected
    assert all(f.severity == "error" or (f.kind == "codelist" and "extensible" in f.message) for f in new)


# ---- Test 6 ------------------------------------------------------------------------------------
def test_sdtm_engine_06_duplicates_are_rejected_and_change_no_dataset(clean, dup):
    """Test 6: every exported duplicate is rejected (warning: exact duplicate of an earlier record),
    nothing else is reported, the ledger reconciles and every SDTM dataset equals the clean run's."""
    duplicates = dup.manifest["duplicates"]
    assert len(duplicates) > 20
    expected = {(f"{d['form']}.csv", d["row"]) for d in duplicates}
    got = {(f.source, f.row) for f in dup.result.findings}
    assert got == expected
    assert len(dup.result.findings) == len(duplicates)
    for f in dup.result.findings:
        assert f.severity == "warning" and f.message == "record rejected: exact duplicate of an earlier record", str(f)
    assert_reconciles(dup.result.ledger.to_dict())
    assert set(dup.result.datasets) == set(clean.result.datasets)
    for domain, frame in clean.result.datasets.items():
        pd.testing.assert_frame_equal(public(domain, dup.result.datasets[domain], dup.result.specs),
                                      public(domain, frame, clean.result.specs), check_exact=True, obj=domain)


# ---- Test 7 ------------------------------------------------------------------------------------
SPEC_ERRORS = {
    "required_variable_unmapped": ("sdtm/AE.yaml", "      AETERM: {assign: AETERM}\n", "", "AE.yaml", None, "AETERM"),
    "raw_field_not_mapped": ("sdtm/study.yaml", "    MEDDRAV:", "    # MEDDRAV:", "study.yaml", "not_mapped.ae", "MEDDRAV"),
    "field_not_in_form": ("sdtm/AE.yaml", "AESPID: {assign: AESPID}", "AESPID: {assign: AESPIDX}", "AE.yaml",
                          "sources[0].variables.AESPID.assign", "AESPIDX"),
    "not_collected_of_a_domain_spec_in_study_yaml": ("sdtm/study.yaml", "  TA:\n    TATRANS:", "  AE:\n    AELLT:",
                                                     "study.yaml", "not_collected.AE", "a domain spec lists its own"),
}


@pytest.mark.parametrize("case", list(SPEC_ERRORS), ids=list(SPEC_ERRORS))
def test_sdtm_engine_07_spec_errors_stop_the_run_before_anything_is_written(tmp_path, clean, case):
    """Test 7: in a copy of the study folder, an AE required variable left unmapped, a raw field
    neither mapped nor listed under not_mapped, a mapping of a field the form lacks and a study.yaml
    not_collected entry for a domain that has its own spec are each a SpecError naming the spec file
    (and key), raised before any output file exists."""
    file, old, new, name, key, word = SPEC_ERRORS[case]
    study = copy_study(tmp_path)
    edit(study / file, old, new)
    out = tmp_path / "sdtm"
    with pytest.raises(SpecError) as err:
        sdtm_stage(str(study), clean.raw, out)
    assert Path(err.value.file).name == name
    assert Path(err.value.file).is_relative_to(study)
    if key is not None:
        assert err.value.key == key
    assert word in str(err.value)
    assert not out.exists()


# ---- Test 8 ------------------------------------------------------------------------------------
def test_sdtm_engine_08_missing_form_file_is_a_warning_and_the_rest_maps(tmp_path, clean):
    """Test 8: an export without smn.csv gives one warning finding naming it; every other form maps
    exactly as before (only CE loses its second-malignancy records) and the ledger still reconciles."""
    raw = tmp_path / "raw"
    shutil.copytree(clean.raw, raw)
    (raw / "smn.csv").unlink()
    result = run_sdtm(STUDY, raw)
    assert [(f.severity, f.source, f.row) for f in result.findings] == [("warning", "smn.csv", None)]
    assert "not in the export" in result.findings[0].message
    ledger = result.ledger.to_dict()
    assert_reconciles(ledger)
    smn = next(f for f in ledger["forms"] if f["form"] == "smn")
    assert smn["rows_in"] == 0
    clean_ledger = {f["form"]: f for f in clean.result.ledger.to_dict()["forms"]}
    for form in ledger["forms"]:
        if form["form"] != "smn":
            assert form == clean_ledger[form["form"]]
    before = clean.result.datasets
    lost = (before["CE"]["_form"] == "smn").sum()
    assert lost > 0
    assert set(result.datasets) == set(before)
    for domain, frame in result.datasets.items():
        assert len(frame) == len(before[domain]) - (lost if domain == "CE" else 0), domain
    assert not (result.datasets["CE"]["_form"] == "smn").any()
    pd.testing.assert_frame_equal(public("AE", result.datasets["AE"], result.specs), public("AE", before["AE"], clean.result.specs))


# ---- Test 9 ------------------------------------------------------------------------------------
def test_sdtm_engine_09_provenance_names_the_raw_row_behind_every_record(clean):
    """Test 9: provenance.tsv (written beside the datasets) gives each record of each dataset the raw
    form and row it came from: an AE record's AETERM is its ae.csv row's, a DM record's SUBJID its
    enrol.csv and dm.csv rows'; the raw rows named are exactly the rows the ledger says landed. It also
    names the file the user has, the locator (none for CSV) and the spec source that mapped each record."""
    provenance = pd.read_csv(clean.out / "provenance.tsv", sep="\t", dtype={"dataset": str, "form": str})
    ae, _ = read_xpt(clean.out / "ae.xpt")
    raw_ae = read_form(clean.raw / "ae.csv")
    rows = provenance[provenance["dataset"] == "AE"].sort_values("record")
    assert rows["record"].tolist() == list(range(1, len(ae) + 1)) and set(rows["form"]) == {"ae"}
    assert ae["AETERM"].tolist() == raw_ae["AETERM"].str.strip().iloc[rows["row"] - 1].tolist()
    dm, _ = read_xpt(clean.out / "dm.xpt")
    for form in ("enrol", "dm"):
        own = provenance[(provenance["dataset"] == "DM") & (provenance["form"] == form)].sort_values("record")
        raw = read_form(clean.raw / f"{form}.csv")
        assert dm["SUBJID"].iloc[own["record"] - 1].tolist() == raw["SUBJID"].iloc[own["row"] - 1].tolist()
    landed = clean.result.ledger.landed
    for form, rows in provenance.groupby("form")["row"]:
        assert set(rows) == landed[form], form
    assert "PROVENANCE" not in read_folder(clean.out)[0]       # validate does not take it for a dataset
    sidecar = read_provenance(clean.out)     # the file the user has, no locator for CSV, the spec source
    assert (sidecar["file"] == sidecar["form"] + ".csv").all() and (sidecar["locator"] == "").all()
    ds = sidecar[sidecar["dataset"] == "DS"].sort_values("record")
    assert ds["spec_source"].tolist() == clean.result.datasets["DS"]["_src"].tolist()
    assert len(set(ds["spec_source"])) > 1


# ---- Test 10 -----------------------------------------------------------------------------------
def test_sdtm_engine_10_reference_dates_of_treated_and_untreated_subjects(clean):
    """Test 10: RFSTDTC is the first dose (RFXSTDTC) and empty for a subject randomized but never
    treated (SDTMIG 3.4 DM assumption 9, CORE-000758); RFENDTC is the last dose, or the DS
    randomization date of a subject never treated: every randomized subject has one (CORE-000191)."""
    ds = clean.result.datasets
    dm = ds["DM"]
    randomized = ds["DS"][ds["DS"]["DSDECOD"] == "RANDOMIZED"].set_index("USUBJID")["DSSTDTC"]
    treated = dm["RFXSTDTC"] != ""
    assert treated.any() and (~treated).any()
    assert (dm.loc[treated, "RFSTDTC"] == dm.loc[treated, "RFXSTDTC"]).all()
    assert (dm.loc[treated, "RFENDTC"] == dm.loc[treated, "RFXENDTC"]).all()
    assert (dm.loc[~treated, "RFSTDTC"] == "").all()
    assert (dm.loc[~treated, "RFENDTC"] == dm.loc[~treated, "USUBJID"].map(randomized)).all()
    assert (dm["RFENDTC"] != "").all() and (dm["ARM"] != "").all()


def test_sdtm_engine_11_subject_elements_abut_and_carry_study_days(clean):
    """Test 11: SE elements abut, SEENDTC of each element equal to SESTDTC of the next (SDTMIG 3.4
    section 5.3, CORE-000352): screening ends at the first dose, or at randomization for a subject
    never treated, where follow-up starts; SESTDY / SEENDY are the study days of those dates."""
    ds = clean.result.datasets
    se = ds["SE"].sort_values(["USUBJID", "SESEQ"])
    following = se.groupby("USUBJID")["SESTDTC"].shift(-1)
    has_next = following.notna()
    assert has_next.sum() > len(ds["DM"])
    assert (se.loc[has_next, "SEENDTC"] == following[has_next]).all()
    assert set(se.groupby("USUBJID")["ETCD"].first()) == {"SCRN"}
    refs = with_dm(se, ds["DM"], "RFSTDTC")
    for dy, dtc in (("SESTDY", "SESTDTC"), ("SEENDY", "SEENDTC")):
        delta = (days(refs[dtc]) - days(refs["RFSTDTC"])).dt.days
        pd.testing.assert_series_equal(se[dy], delta.where(delta < 0, delta + 1).astype(float), check_names=False)
    assert se["SESTDY"].notna().sum() > len(ds["DM"])


def test_sdtm_engine_12_subject_visits_planned_occurred_and_study_days(clean):
    """Test 12: an SV visit of the trial design (TV) is pre-specified and occurred (SVPRESP = SVOCCUR =
    'Y'); an unscheduled one has both empty; SVSTDY / SVENDY are the study days of its dates."""
    ds = clean.result.datasets
    sv, tv = ds["SV"], ds["TV"]
    planned = sv["VISITNUM"].isin(set(tv["VISITNUM"]))
    assert planned.any() and (~planned).any()
    assert (sv.loc[planned, ["SVPRESP", "SVOCCUR"]] == "Y").all().all()
    assert (sv.loc[~planned, ["SVPRESP", "SVOCCUR"]] == "").all().all()
    refs = with_dm(sv, ds["DM"], "RFSTDTC")
    delta = (days(refs["SVSTDTC"]) - days(refs["RFSTDTC"])).dt.days
    pd.testing.assert_series_equal(sv["SVSTDY"], delta.where(delta < 0, delta + 1).astype(float), check_names=False)


def test_sdtm_engine_13_lobxfl_flags_the_last_result_on_or_before_the_first_dose(clean):
    """Test 13: LBLOBXFL is 'Y' on exactly one record per subject, test, specimen and method among the
    results (LBORRES present, not NOT DONE) dated on or before the day of the first dose, the latest of
    them; no other record, and no record of a subject never treated, is flagged."""
    ds = clean.result.datasets
    lb = with_dm(ds["LB"], ds["DM"], "RFXSTDTC")
    keys = ["USUBJID", "LBTESTCD", "LBSPEC", "LBMETHOD"]
    eligible = (lb["LBORRES"] != "") & (lb["LBSTAT"] != "NOT DONE") & days(lb["LBDTC"]).notna() & \
        (days(lb["LBDTC"]) <= days(lb["RFXSTDTC"]))
    flagged = lb["LBLOBXFL"] == "Y"
    assert set(lb["LBLOBXFL"]) == {"Y", ""} and not (flagged & ~eligible).any()
    assert flagged.sum() == lb[eligible].groupby(keys).ngroups > 100
    latest = lb[eligible].assign(day=days(lb["LBDTC"])).groupby(keys)["day"].transform("max")
    assert (days(lb.loc[flagged, "LBDTC"]) == latest[flagged]).all()


def test_sdtm_engine_14_every_expected_variable_is_written_empty_when_not_collected(clean):
    """Test 14: every dataset written has a column for each Expected variable of its SDTMIG 3.4
    definition (CORE-000334); those the spec lists under not_collected are empty; an Exp variable the
    spec neither maps nor explains is a warning naming the spec file and key, and is written empty."""
    standard = load_domains()
    for domain, frame in clean.result.datasets.items():
        if domain not in standard or frame.empty:
            continue
        written = set(dataset_columns(domain, frame, clean.result.specs))
        assert {v.name for v in standard[domain].variables if v.core == "Exp"} <= written, domain
    specs = clean.result.specs
    assert specs["AE"].not_collected["AELLT"] and (clean.result.datasets["AE"]["AELLT"] == "").all()
    assert clean.result.datasets["SS"]["VISITNUM"].isna().all()


def test_sdtm_engine_15_an_unexplained_expected_variable_is_a_warning(tmp_path, clean):
    """Test 15: without its not_collected reason, EX.EXDOSFRM is still written (empty) and the run warns
    once, naming EX.yaml and the key where the reason belongs; nothing else changes."""
    study = copy_study(tmp_path)
    edit(study / "sdtm" / "EX.yaml", '  EXDOSFRM: "the EDC collects dose, unit, route and frequency, not the dose form"\n', "")
    result = run_sdtm(str(study), clean.raw)
    (warning,) = result.findings
    assert (warning.severity, warning.source, warning.column, warning.key) == ("warning", "EX.yaml", "EXDOSFRM",
                                                                               "EX.yaml:not_collected")
    assert "EX.EXDOSFRM is Expected" in warning.message
    pd.testing.assert_frame_equal(public("EX", result.datasets["EX"], result.specs),
                                  public("EX", clean.result.datasets["EX"], clean.result.specs))


def test_sdtm_engine_16_an_implausible_birth_date_is_mapped_and_reported(tmp_path, clean):
    """Test 16: birth dates in 2030 and 1700 are real days: mapped as collected (AGE -14-ish and 316-ish,
    not a crash or an 'impossible date'), each a warning naming dm.csv, its row, BRTHDAT and the spec
    key; a study's plausible_dates moves the window."""
    raw = tmp_path / "raw"
    shutil.copytree(clean.raw, raw)
    dm = pd.read_csv(raw / "dm.csv", dtype=str, keep_default_na=False)
    dm.loc[0, "BRTHDAT"], dm.loc[1, "BRTHDAT"] = "01-JAN-2030", "15-JUN-1700"
    dm.to_csv(raw / "dm.csv", index=False)
    result = run_sdtm(STUDY, raw)
    found = [f for f in result.findings if f.kind == "implausible"]
    assert [(f.source, f.row, f.column, f.value) for f in found] == [("dm.csv", 1, "BRTHDAT", "2030-01-01"),
                                                                     ("dm.csv", 2, "BRTHDAT", "1700-06-15")]
    assert all(f.key.startswith("DM.yaml:") and "plausible window" in f.message for f in found)
    ages = result.datasets["DM"].set_index("BRTHDTC")["AGE"]
    assert ages["2030-01-01"] < 0 and ages["1700-06-15"] > 300
    assert [f for f in result.findings if f not in found] == []

    study = copy_study(tmp_path)
    with open(study / "sdtm" / "study.yaml", "a", encoding="utf-8") as fh:
        fh.write("\nplausible_dates: {earliest: 1600-01-01, latest: 2040-12-31}\n")
    (after_start,) = [f for f in run_sdtm(str(study), raw).findings if f.kind == "implausible"]
    assert after_start.row == 1 and "after RFSTDTC" in after_start.message
