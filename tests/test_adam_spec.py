"""ADaM specs and the engine around them (adam/engine.py, adam/bds.py check_parameters).

Spec mistakes are tried on temporary copies of the shipped ball_relapse specs, each edited in one
place; the engine's input errors on made-up folders and on an SDTM folder built from a small
simulated study (20 subjects) whose DM is rewritten with one subject twice.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from trialkit.adam.bds import build_bds
from trialkit.adam.engine import (
    build_adsl,
    dataset_meta,
    load_adam_spec,
    read_sdtm,
    run_adam,
)
from trialkit.adam.errors import AdamError
from trialkit.cli import run_simulation
from trialkit.errors import InputError, SpecError
from trialkit.sdtm.engine import run_sdtm
from trialkit.sdtm.output import write_sdtm
from trialkit.spec import study_dir
from trialkit.xpt import read_xpt, write_xpt

SPECS = study_dir("ball_relapse") / "adam"


def _copy(tmp_path: Path, name: str, edit) -> Path:
    """The shipped spec ``name`` (ADSL, ADTTE, ADRS) as a tmp file, with ``edit(data)`` applied."""
    data = yaml.safe_load((SPECS / f"{name}.yaml").read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sdtm_dir(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("adam_spec")
    run_simulation("ball_relapse", 20, 1, base / "raw", None, 0, 0.0)
    write_sdtm(run_sdtm("ball_relapse", base / "raw"), base / "sdtm")
    return base / "sdtm"


# ---- Test 1 --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ADSL", "ADTTE", "ADRS"])
def test_spec_01_shipped_specs_load_and_round_trip(tmp_path, name):
    """Test 1: the shipped specs load, and so do their unedited tmp copies (the harness is sound)."""
    spec = load_adam_spec(_copy(tmp_path, name, lambda d: None))
    assert spec.name == name
    assert spec.labels["USUBJID"] == "Unique Subject Identifier"


# ---- Test 2 --------------------------------------------------------------------------------------
def test_spec_02_unknown_top_level_key(tmp_path):
    """Test 2: an unknown top-level key is a SpecError naming it."""
    path = _copy(tmp_path, "ADSL", lambda d: d.update(derivations=[]))
    with pytest.raises(SpecError) as exc:
        load_adam_spec(path)
    assert exc.value.key == "derivations"
    assert exc.value.file == str(path)


# ---- Test 3 --------------------------------------------------------------------------------------
def test_spec_03_label_over_40_characters(tmp_path):
    """Test 3: a label longer than 40 characters is a SpecError naming variables.X."""
    path = _copy(tmp_path, "ADSL", lambda d: d["variables"].update(AGEGR1="A" * 41))
    with pytest.raises(SpecError) as exc:
        load_adam_spec(path)
    assert exc.value.key == "variables.AGEGR1"
    # exactly 40 is fine
    load_adam_spec(_copy(tmp_path, "ADSL", lambda d: d["variables"].update(AGEGR1="A" * 40)))


# ---- Test 4 --------------------------------------------------------------------------------------
def test_spec_04_name_over_8_characters(tmp_path):
    """Test 4: a variable name longer than 8 characters is a SpecError naming variables.X."""
    path = _copy(tmp_path, "ADTTE", lambda d: d["variables"].update(EVNTDESC2="Event Description 2"))
    with pytest.raises(SpecError) as exc:
        load_adam_spec(path)
    assert exc.value.key == "variables.EVNTDESC2"


# ---- Test 5 --------------------------------------------------------------------------------------
def test_spec_05_adrs_derived_from_undeclared_parameter(tmp_path):
    """Test 5: an ADRS derived parameter whose from: names no declared parameter is a SpecError."""
    path = _copy(tmp_path, "ADRS", lambda d: d["derived"][1].update({"from": "OVRLRSP"}))
    with pytest.raises(SpecError) as exc:
        load_adam_spec(path)
    assert exc.value.key == "derived[1].from"
    assert "OVRLRSP" in str(exc.value)


# ---- Test 6 --------------------------------------------------------------------------------------
def test_spec_06_adrs_yes_if_and_best_both_given(tmp_path):
    """Test 6: a derived parameter with both yes_if: and best: (or neither) is a SpecError."""
    path = _copy(tmp_path, "ADRS", lambda d: d["derived"][2].update(yes_if="AVALC == 'CR'"))
    with pytest.raises(SpecError) as exc:
        load_adam_spec(path)
    assert exc.value.key == "derived[2]"
    neither = _copy(tmp_path, "ADRS", lambda d: d["derived"][0].pop("yes_if"))
    with pytest.raises(SpecError) as exc:
        load_adam_spec(neither)
    assert exc.value.key == "derived[0]"


# ---- Test 7 --------------------------------------------------------------------------------------
@pytest.mark.parametrize("edit, key", [
    (lambda d: d["parameters"][1].update(paramcd="MARSTAT"), "parameters[1].paramcd"),
    (lambda d: d["derived"][0].update(paramcd="MRDRESP"), "derived[0].paramcd"),
], ids=["collected-twice", "derived-reuses-collected"])
def test_spec_07_duplicate_paramcd(tmp_path, edit, key):
    """Test 7: a PARAMCD used twice (collected or derived) is a SpecError at the second one."""
    with pytest.raises(SpecError) as exc:
        load_adam_spec(_copy(tmp_path, "ADRS", edit))
    assert exc.value.key == key


# ---- Test 8 --------------------------------------------------------------------------------------
def test_spec_08_dataset_meta_column_without_label(tmp_path):
    """Test 8: dataset_meta: a column the spec does not label is a SpecError naming it."""
    spec = load_adam_spec(SPECS / "ADSL.yaml")
    frame = pd.DataFrame({"USUBJID": ["S1"], "NOLABEL": ["x"]})
    with pytest.raises(SpecError) as exc:
        dataset_meta(spec, frame)
    assert exc.value.key == "variables.NOLABEL"
    assert "ADSL.NOLABEL" in str(exc.value)


# ---- Test 9 --------------------------------------------------------------------------------------
def test_spec_09_dataset_meta_types_and_date_format():
    """Test 9: dataset_meta: dates are Num with DATE9., numbers Num, text Char, labels from the spec."""
    spec = load_adam_spec(SPECS / "ADSL.yaml")
    frame = pd.DataFrame({"USUBJID": ["S1"], "RANDDT": pd.to_datetime(["2024-01-05"]), "AGE": [7.0],
                          "DXRELM": [3.5]})
    meta = dataset_meta(spec, frame)
    assert meta.name == "ADSL" and meta.label == "Subject-Level Analysis Dataset"
    by_name = {v.name: v for v in meta.variables}
    assert [v.name for v in meta.variables] == ["USUBJID", "RANDDT", "AGE", "DXRELM"]
    assert (by_name["RANDDT"].type, by_name["RANDDT"].format) == ("Num", "DATE9.")
    assert by_name["RANDDT"].label == "Date of Randomization"
    assert (by_name["AGE"].type, by_name["AGE"].format) == ("Num", None)
    assert by_name["USUBJID"].type == "Char"


# ---- Test 10 -------------------------------------------------------------------------------------
def test_spec_10_read_sdtm_without_dm(tmp_path, sdtm_dir):
    """Test 10: read_sdtm on a folder without dm.xpt is an InputError naming the folder."""
    folder = tmp_path / "nodm"
    folder.mkdir()
    shutil.copy(sdtm_dir / "ae.xpt", folder)
    with pytest.raises(InputError) as exc:
        read_sdtm(folder)
    assert exc.value.file == str(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="dm.xpt"):
        read_sdtm(empty)


# ---- Test 11 -------------------------------------------------------------------------------------
def test_spec_11_read_sdtm_missing_folder(tmp_path):
    """Test 11: read_sdtm on a folder that does not exist is an InputError naming it."""
    with pytest.raises(InputError) as exc:
        read_sdtm(tmp_path / "nowhere")
    assert exc.value.file == str(tmp_path / "nowhere")
    assert "not found" in str(exc.value)


# ---- Test 12 -------------------------------------------------------------------------------------
def test_spec_12_read_sdtm_and_run_adam_on_clean_folder(sdtm_dir):
    """Test 12: the clean folder reads as upper-case domains; ADSL is one record per DM subject."""
    sdtm = read_sdtm(sdtm_dir)
    assert "DM" in sdtm and all(k == k.upper() for k in sdtm)
    datasets = run_adam("ball_relapse", sdtm_dir)
    assert set(datasets) == {"ADSL", "ADTTE", "ADRS", "ADAE"}
    assert len(datasets["ADSL"]) == len(sdtm["DM"]) and datasets["ADSL"]["USUBJID"].is_unique


def _duplicate_dm(sdtm_dir: Path, tmp_path: Path) -> tuple[Path, str]:
    folder = tmp_path / "sdtm"
    shutil.copytree(sdtm_dir, folder)
    dm, meta = read_xpt(folder / "dm.xpt")
    subject = dm["USUBJID"].iloc[3]
    write_xpt(pd.concat([dm, dm.iloc[[3]]], ignore_index=True), meta, folder / "dm.xpt")
    return folder, subject


# ---- Test 13 -------------------------------------------------------------------------------------
def test_spec_13_run_adam_duplicate_dm_subject_is_adam_error(sdtm_dir, tmp_path):
    """Test 13: a DM with a subject twice stops run_adam with an AdamError naming ADSL and USUBJID
    and the rows of the duplicated subject (it surfaces in ADTTE's derive_param_tte)."""
    folder, _ = _duplicate_dm(sdtm_dir, tmp_path)
    with pytest.raises(AdamError) as exc:
        run_adam("ball_relapse", folder, tmp_path / "adam")
    err = exc.value
    assert err.dataset == "DM"                # caught where the duplicate is, before ADSL is built
    assert err.keys == ("USUBJID",)
    assert "DM" in str(err) and "USUBJID" in str(err)
    assert err.rows == (4, 21)              # the 4th record and its copy appended as the 21st
    assert not (tmp_path / "adam").exists()  # nothing written


# ---- Test 14 -------------------------------------------------------------------------------------
def test_spec_14_build_adsl_rejects_duplicate_dm_subject(sdtm_dir, tmp_path):
    """Test 14: ADSL itself should refuse a DM with a subject twice (admiral: ADSL one record per subject)."""
    folder, _ = _duplicate_dm(sdtm_dir, tmp_path)
    with pytest.raises(AdamError):
        build_adsl(load_adam_spec(SPECS / "ADSL.yaml"), read_sdtm(folder))


# ---- Test 15 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("drop", ["dataset", "label"])
def test_spec_15_missing_dataset_or_label_is_spec_error(tmp_path, drop):
    """Test 15: a spec without dataset: or label: should be a SpecError naming the key."""
    with pytest.raises(SpecError):
        load_adam_spec(_copy(tmp_path, "ADSL", lambda d: d.pop(drop)))


# ---- Test 16 -------------------------------------------------------------------------------------
def test_spec_16_numeric_treatment_codes_are_num(sdtm_dir, tmp_path):
    """Test 16: TRT01PN / TRT01AN are numeric variables in the written ADSL."""
    run_adam("ball_relapse", sdtm_dir, tmp_path / "adam")
    _, meta = read_xpt(tmp_path / "adam" / "adsl.xpt")
    assert meta.variable("TRT01PN").type == "Num"
    assert meta.variable("TRT01AN").type == "Num"


# ---- Test 17 -------------------------------------------------------------------------------------
def test_spec_17_derived_parameter_filter_may_name_adsl_variables():
    """Test 17: a derived BDS parameter's filter may test ADSL variables: the best response up to the
    data cut-off ignores a later scan; a name neither the records nor ADSL have is an AdamError."""
    rs = pd.DataFrame({"USUBJID": ["S1", "S1", "S2"], "RSTESTCD": "OVRLRESP", "RSSTRESC": ["SD", "PR", "PR"],
                       "RSDTC": ["2022-01-10", "2022-03-10", "2022-01-20"], "RSSEQ": [1.0, 2.0, 1.0],
                       "VISIT": ["WEEK 6", "WEEK 12", "WEEK 6"], "VISITNUM": [1.0, 2.0, 1.0]})
    adsl = pd.DataFrame({"STUDYID": "XX", "USUBJID": ["S1", "S2", "S3"], "RANDDT": pd.Timestamp("2021-12-01"),
                         "DCUTDT": pd.Timestamp("2022-02-28")})
    collected = [{"paramcd": "OVRLRESP", "param": "Overall Response", "dataset": "RS", "filter": "RSTESTCD == 'OVRLRESP'",
                  "avalc": "RSSTRESC", "date": "RSDTC", "seq": "RSSEQ"}]
    bor = {"paramcd": "BOR", "param": "Best Overall Response", "from": "OVRLRESP", "filter": "ADT <= DCUTDT",
           "best": ["CR", "PR", "SD", "PD", "NE"], "else": "NE"}
    out = build_bds(collected, [bor], {"RS": rs}, adsl, "RANDDT", [])
    assert out[out["PARAMCD"] == "BOR"].set_index("USUBJID")["AVALC"].to_dict() == {"S1": "SD", "S2": "PR", "S3": "NE"}
    with pytest.raises(AdamError) as err:
        build_bds(collected, [{**bor, "filter": "ADT <= CUTOFFDT"}], {"RS": rs}, adsl, "RANDDT", [])
    assert "BOR" in str(err.value) and err.value.variables == ("CUTOFFDT",)
