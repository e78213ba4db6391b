"""ADSL spec steps (adam/steps.py), admiral style: tiny inline frames through check_steps + apply_steps.

Each case builds a DM-like frame (USUBJID, RFSTDTC, ...) and small SDTM-like frames, writes the steps
as the YAML would load them (a list of one-key mappings), checks them with ``check_steps`` and runs
them with ``apply_steps``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialkit.adam.errors import AdamError
from trialkit.adam.steps import apply_steps, check_steps, step_outputs
from trialkit.errors import SpecError

SPEC = Path("inline.yaml")


def _dm() -> pd.DataFrame:
    return pd.DataFrame({
        "STUDYID": ["ST"] * 4,
        "USUBJID": ["S1", "S2", "S3", "S4"],
        "RFSTDTC": ["2024-01-05", "2024-02", "", "2024-03-10"],
        "RFXSTDTC": ["2024-01-06", "", "", "2024-03-11"],
        "ARM": ["Blinatumomab", "HC3", "", "HC3"],
        "AGE": [5.0, np.nan, 12.0, 0.5],
    })


def _run(steps: list, frame: pd.DataFrame | None = None, datasets: dict | None = None) -> pd.DataFrame:
    checked = check_steps(steps, SPEC)
    return apply_steps(_dm() if frame is None else frame, checked, datasets or {}, "ADSL")


def _dates(values: list) -> pd.Series:
    return pd.Series(pd.to_datetime(values), dtype="datetime64[ns]")


# ---- Test 1 --------------------------------------------------------------------------------------
def test_steps_01_dates_complete_to_datetime_partial_and_blank_to_nat():
    """Test 1: dates: a complete --DTC becomes a date, a partial or blank one NaT (no imputation)."""
    out = _run([{"dates": {"RANDDT": "RFSTDTC", "TRTSDT": "RFXSTDTC"}}])
    assert pd.api.types.is_datetime64_any_dtype(out["RANDDT"])
    assert out["RANDDT"].iloc[0] == pd.Timestamp("2024-01-05")
    assert pd.isna(out["RANDDT"].iloc[1])          # 2024-02: partial, not imputed
    assert pd.isna(out["RANDDT"].iloc[2])          # blank
    assert out["RANDDT"].iloc[3] == pd.Timestamp("2024-03-10")
    assert out["TRTSDT"].tolist()[0] == pd.Timestamp("2024-01-06")
    assert out["TRTSDT"].isna().tolist() == [False, True, True, False]
    assert "RANDDTF" not in out and "RANDDTM" not in out    # no imputation flag


# ---- Test 2 --------------------------------------------------------------------------------------
def test_steps_02_dates_name_not_ending_in_dt_is_adam_error():
    """Test 2: dates: a new name that does not end in DT is an AdamError naming it and the step."""
    with pytest.raises(AdamError) as exc:
        _run([{"dates": {"RANDDATE": "RFSTDTC"}}])
    assert exc.value.dataset == "ADSL"
    assert exc.value.variables == ("RANDDATE",)
    assert "inline.yaml:steps[0]" in str(exc.value)


# ---- Test 3 --------------------------------------------------------------------------------------
def test_steps_03_merged_with_filter():
    """Test 3: merged: filter selects one record per subject; subjects without one get missing."""
    suppdm = pd.DataFrame({
        "USUBJID": ["S1", "S1", "S2", "S4", "S4"],
        "QNAM": ["STRATAGE", "STRATMRD", "STRATAGE", "STRATMRD", "STRATAGE"],
        "QVAL": ["<10", "M1", ">=10", "M2", "<10"],
    })
    out = _run([{"merged": {"dataset": "SUPPDM", "filter": "QNAM == 'STRATAGE'", "new_vars": {"STRAT1R": "QVAL"}}}],
               datasets={"SUPPDM": suppdm})
    assert len(out) == 4
    assert out["USUBJID"].tolist() == ["S1", "S2", "S3", "S4"]
    assert out["STRAT1R"].iloc[[0, 1, 3]].tolist() == ["<10", ">=10", "<10"]
    assert pd.isna(out["STRAT1R"].iloc[2])


# ---- Test 4 --------------------------------------------------------------------------------------
def test_steps_04_merged_with_order_and_mode_last():
    """Test 4: merged: order + mode last picks the latest record per subject, whatever the input order."""
    ss = pd.DataFrame({
        "USUBJID": ["S1", "S1", "S1", "S2", "S4"],
        "SSSTRESC": ["ALIVE", "ALIVE", "DEAD", "ALIVE", "ALIVE"],
        "SSDTC": ["2024-05-01", "2024-03-01", "2024-07-01", "2024-04-02", "2024-06-30"],
    })
    out = _run([{"merged": {"dataset": "SS", "filter": "SSSTRESC == 'ALIVE'", "order": ["SSDTC"], "mode": "last",
                            "new_vars": {"LSTSSDTC": "SSDTC"}}}], datasets={"SS": ss})
    assert out["LSTSSDTC"].iloc[[0, 1, 3]].tolist() == ["2024-05-01", "2024-04-02", "2024-06-30"]
    assert pd.isna(out["LSTSSDTC"].iloc[2])
    first = _run([{"merged": {"dataset": "SS", "order": ["SSDTC"], "mode": "first", "new_vars": {"FSTSSDTC": "SSDTC"}}}],
                 datasets={"SS": ss})
    assert first["FSTSSDTC"].iloc[0] == "2024-03-01"


# ---- Test 5 --------------------------------------------------------------------------------------
def test_steps_05_merged_duplicate_without_mode_names_add_dataset_and_rows():
    """Test 5: merged: two selected records for a subject without mode is an AdamError naming the add
    dataset, the key and the 1-based rows of the add dataset."""
    lb = pd.DataFrame({
        "USUBJID": ["S1", "S2", "S2", "S3"],
        "LBTESTCD": ["LEUKCE", "LEUKCE", "LEUKCE", "HGB"],
        "LBSTRESC": ["0.01", "0.002", "0.003", "12"],
    })
    with pytest.raises(AdamError) as exc:
        _run([{"merged": {"dataset": "LB", "filter": "LBTESTCD == 'LEUKCE'", "new_vars": {"MRDBLC": "LBSTRESC"}}}],
             datasets={"LB": lb})
    err = exc.value
    assert err.dataset == "LB"
    assert err.keys == ("USUBJID",)
    assert err.rows == (2, 3)
    assert "USUBJID='S2'" in str(err) and "rows 2, 3" in str(err)
    assert err.records["LBSTRESC"].tolist() == ["0.002", "0.003"]


# ---- Test 6 --------------------------------------------------------------------------------------
def test_steps_06_merged_unavailable_dataset_is_adam_error():
    """Test 6: merged: a dataset the SDTM folder lacks is an AdamError naming it."""
    with pytest.raises(AdamError) as exc:
        _run([{"merged": {"dataset": "PR", "new_vars": {"HSCTDTC": "PRSTDTC"}}}], datasets={})
    assert exc.value.dataset == "PR"
    assert "not available" in str(exc.value)


# ---- Test 7 --------------------------------------------------------------------------------------
def test_steps_07_constant_date_from_ts():
    """Test 7: constant: one TS value (date: true) is the same date on every subject."""
    ts = pd.DataFrame({"TSPARMCD": ["TITLE", "DCUTDTC", "SSTDTC"], "TSVAL": ["A study", "2024-06-30", "2023-01-01"]})
    out = _run([{"constant": {"DCUTDT": {"dataset": "TS", "filter": "TSPARMCD == 'DCUTDTC'", "variable": "TSVAL",
                                         "date": True}}}], datasets={"TS": ts})
    assert pd.api.types.is_datetime64_any_dtype(out["DCUTDT"])
    assert (out["DCUTDT"] == pd.Timestamp("2024-06-30")).all()
    text = _run([{"constant": {"TITLE": {"dataset": "TS", "filter": "TSPARMCD == 'TITLE'", "variable": "TSVAL"}}}],
                datasets={"TS": ts})
    assert text["TITLE"].tolist() == ["A study"] * 4


# ---- Test 8 --------------------------------------------------------------------------------------
def test_steps_08_constant_two_values_is_adam_error():
    """Test 8: constant: a filter that leaves two different values is an AdamError naming the variable."""
    ts = pd.DataFrame({"TSPARMCD": ["DCUTDTC", "DCUTDTC"], "TSVAL": ["2024-06-30", "2024-07-31"]})
    with pytest.raises(AdamError) as exc:
        _run([{"constant": {"DCUTDT": {"dataset": "TS", "filter": "TSPARMCD == 'DCUTDTC'", "variable": "TSVAL",
                                       "date": True}}}], datasets={"TS": ts})
    assert exc.value.dataset == "TS"
    assert exc.value.variables == ("TSVAL",)
    assert "found 2" in str(exc.value)
    # no record at all is an error too
    with pytest.raises(AdamError, match="found 0"):
        _run([{"constant": {"DCUTDT": {"dataset": "TS", "filter": "TSPARMCD == 'NONE'", "variable": "TSVAL"}}}],
             datasets={"TS": ts})


# ---- Test 9 --------------------------------------------------------------------------------------
def test_steps_09_offset_with_otherwise_fallback():
    """Test 9: offset: from + days, and the otherwise date + days where from is missing."""
    out = _run([
        {"dates": {"RANDDT": "RFSTDTC", "TRTSDT": "RFXSTDTC"}},
        {"offset": {"EOTPLDT": {"from": "TRTSDT", "days": 28, "otherwise": {"from": "RANDDT", "days": 29}},
                    "PLUS1DT": {"from": "RANDDT", "days": 1}}},
    ])
    # S1 treated: TRTSDT + 28; S2 and S3: no TRTSDT, no RANDDT -> NaT; S4 treated
    assert out["EOTPLDT"].iloc[0] == pd.Timestamp("2024-02-03")
    assert pd.isna(out["EOTPLDT"].iloc[1]) and pd.isna(out["EOTPLDT"].iloc[2])
    assert out["EOTPLDT"].iloc[3] == pd.Timestamp("2024-04-08")
    assert out["PLUS1DT"].iloc[0] == pd.Timestamp("2024-01-06")
    # an untreated but randomized subject falls back to RANDDT + 29
    frame = pd.DataFrame({"USUBJID": ["A", "B"], "RANDDT": _dates(["2024-01-01", "2024-01-01"]),
                          "TRTSDT": _dates(["2024-01-02", None])})
    out = _run([{"offset": {"EOTPLDT": {"from": "TRTSDT", "days": 28, "otherwise": {"from": "RANDDT", "days": 29}}}}],
               frame=frame)
    assert out["EOTPLDT"].tolist() == [pd.Timestamp("2024-01-30"), pd.Timestamp("2024-01-30")]


# ---- Test 10 -------------------------------------------------------------------------------------
def test_steps_10_interval_days_and_months():
    """Test 10: interval: days as float, months = days / 30.4375; a missing end gives NaN."""
    frame = pd.DataFrame({"USUBJID": ["A", "B", "C"],
                          "DIAGDT": _dates(["2020-01-01", "2020-01-01", "2020-01-01"]),
                          "REL1DT": _dates(["2021-07-01", "2020-01-01", None])})
    out = _run([{"interval": {"DXRELD": {"from": "DIAGDT", "to": "REL1DT", "unit": "days"},
                              "DXRELM": {"from": "DIAGDT", "to": "REL1DT", "unit": "months"}}}], frame=frame)
    assert out["DXRELD"].dtype == float
    assert out["DXRELD"].iloc[:2].tolist() == [547.0, 0.0]
    assert out["DXRELM"].iloc[0] == pytest.approx(547 / 30.4375)
    assert out["DXRELM"].iloc[1] == 0.0
    assert np.isnan(out["DXRELD"].iloc[2]) and np.isnan(out["DXRELM"].iloc[2])


# ---- Test 11 -------------------------------------------------------------------------------------
def test_steps_11_latest_across_columns_with_nat():
    """Test 11: latest: the latest of several dates, NaT ignored; NaT only when all are NaT."""
    frame = pd.DataFrame({"USUBJID": ["A", "B", "C"],
                          "RANDDT": _dates(["2024-01-01", "2024-01-01", None]),
                          "LSTSSDT": _dates([None, "2024-05-01", None]),
                          "TRTEDT": _dates(["2024-02-01", "2024-03-01", None])})
    out = _run([{"latest": {"LSTALVDT": ["RANDDT", "LSTSSDT", "TRTEDT"]}}], frame=frame)
    assert pd.api.types.is_datetime64_any_dtype(out["LSTALVDT"])
    assert out["LSTALVDT"].iloc[0] == pd.Timestamp("2024-02-01")
    assert out["LSTALVDT"].iloc[1] == pd.Timestamp("2024-05-01")
    assert pd.isna(out["LSTALVDT"].iloc[2])


# ---- Test 12 -------------------------------------------------------------------------------------
def test_steps_12_condition_cases_else_and_assign():
    """Test 12: condition: the first matching case wins, else otherwise, {assign: VAR} copies a variable."""
    out = _run([{"condition": {
        "AGEGR1": {"cases": [{"if": "AGE < 1", "then": "<1"}, {"if": "AGE < 10", "then": "1-9"},
                             {"if": "AGE >= 10", "then": ">9"}], "else": "UNKNOWN"},
        "TRT01P": {"cases": [{"if": "present(ARM)", "then": {"assign": "ARM"}}]},
    }}])
    # first match wins: 0.5 is also < 10 but stays <1; a missing AGE matches no case -> else
    assert out["AGEGR1"].tolist() == ["1-9", "UNKNOWN", ">9", "<1"]
    # no else: unmatched rows are blank
    assert out["TRT01P"].tolist() == ["Blinatumomab", "HC3", "", "HC3"]


# ---- Test 13 -------------------------------------------------------------------------------------
def test_steps_13_flag_y_n_missing_never_y():
    """Test 13: flag: Y where the expression holds, N elsewhere; a missing value never makes it Y."""
    out = _run([{"flag": {"OLDFL": "AGE >= 10", "YNGFL": "not (AGE >= 10)", "NEFL": "AGE != 5",
                          "SAFFL": "present(RFXSTDTC)"}}])
    assert out["OLDFL"].tolist() == ["N", "N", "Y", "N"]
    assert out["YNGFL"].tolist() == ["Y", "N", "N", "Y"]   # S2: AGE missing -> not Y even negated
    assert out["NEFL"].tolist() == ["N", "N", "Y", "Y"]    # != on a missing value is not true
    assert out["SAFFL"].tolist() == ["Y", "N", "N", "Y"]
    assert set(out["OLDFL"]) <= {"Y", "N"}


# ---- Test 14 -------------------------------------------------------------------------------------
def test_steps_14_steps_run_top_to_bottom():
    """Test 14: a later step uses what an earlier one derived (dates -> flag -> condition)."""
    out = _run([
        {"dates": {"TRTSDT": "RFXSTDTC"}},
        {"flag": {"SAFFL": "present(TRTSDT)"}},
        {"condition": {"POP": {"cases": [{"if": "SAFFL == 'Y'", "then": "SAFETY"}], "else": "NONE"}}},
    ])
    assert out["POP"].tolist() == ["SAFETY", "NONE", "NONE", "SAFETY"]


# ---- Test 15 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("steps, key", [
    ([{"derive": {"X": "Y"}}], "steps[0]"),                                                   # unknown kind
    ([{"dates": {"RANDDT": "RFSTDTC"}}, {"flag": {"A": "AGE > 1"}, "dates": {"B": "C"}}], "steps[1]"),  # two kinds
    ([{"merged": {"dataset": "LB", "filter": "LBTESTCD == 'X'"}}], "steps[0]"),               # no new_vars
    ([{"merged": {"dataset": "LB", "new_vars": {"A": "B"}, "by": ["USUBJID"]}}], "steps[0]"),  # unknown key
    ([{"merged": {"dataset": "LB", "filter": "LBTESTCD ==", "new_vars": {"A": "B"}}}], "steps[0].merged.filter"),
    ([{"merged": {"dataset": "LB", "filter": "__import__('os')", "new_vars": {"A": "B"}}}], "steps[0].merged.filter"),
    ([{"condition": {"AGEGR1": {"else": "X"}}}], "steps[0].condition.AGEGR1"),                # no cases
    ([{"condition": {"AGEGR1": {"cases": [{"if": "AGE < 1"}]}}}], "steps[0].condition.AGEGR1[0]"),  # no then
    ([{"condition": {"AGEGR1": {"cases": [{"if": "AGE <", "then": 1}]}}}], "steps[0].condition.AGEGR1[0].if"),
    ([{"flag": {"SAFFL": "present(RFXSTDTC"}}], "steps[0].flag.SAFFL"),
    ([{"dates": {}}], "steps[0]"),                                                             # empty body
    (["dates"], "steps[0]"),                                                                   # not a mapping
], ids=["unknown-kind", "two-kinds", "merged-no-new_vars", "merged-unknown-key", "merged-bad-filter",
        "merged-code-filter", "condition-no-cases", "condition-no-then", "condition-bad-if", "flag-bad-expr",
        "empty-body", "not-a-mapping"])
def test_steps_15_check_steps_errors_name_the_step(steps, key):
    """Test 15: check_steps: spec mistakes are SpecErrors naming the file and the key steps[i]..."""
    with pytest.raises(SpecError) as exc:
        check_steps(steps, SPEC)
    assert exc.value.key == key
    assert exc.value.file == "inline.yaml"


# ---- Test 16 -------------------------------------------------------------------------------------
def test_steps_16_check_steps_returns_kind_body_and_key():
    """Test 16: check_steps gives (kind, body, 'file:steps[i]') per step; no steps is an empty list."""
    checked = check_steps([{"dates": {"RANDDT": "RFSTDTC"}}, {"flag": {"F": "AGE > 1"}}], SPEC)
    assert checked == [("dates", {"RANDDT": "RFSTDTC"}, "inline.yaml:steps[0]"),
                       ("flag", {"F": "AGE > 1"}, "inline.yaml:steps[1]")]
    assert check_steps(None, SPEC) == []


# ---- Test 17 -------------------------------------------------------------------------------------
def test_steps_17_constant_unavailable_dataset_is_adam_error():
    """Test 17: constant: a dataset that is not available should be an AdamError naming it."""
    with pytest.raises(AdamError):
        _run([{"constant": {"DCUTDT": {"dataset": "TS", "variable": "TSVAL", "date": True}}}], datasets={})


# ---- Test 18 -------------------------------------------------------------------------------------
def test_steps_18_constant_bad_filter_is_spec_error_at_load():
    """Test 18: constant: a bad filter should be a SpecError when the spec is loaded."""
    with pytest.raises(SpecError):
        check_steps([{"constant": {"DCUTDT": {"dataset": "TS", "filter": "TSPARMCD ==", "variable": "TSVAL"}}}], SPEC)


# ---- Test 19 -------------------------------------------------------------------------------------
def test_steps_19_flag_on_a_bare_variable_never_y_for_missing():
    """Test 19: flag: F: AGE must not make a subject with AGE missing Y (an error would do too)."""
    frame = pd.DataFrame({"USUBJID": ["A", "B"], "AGE": [np.nan, 3.0]})
    try:
        out = _run([{"flag": {"F": "AGE"}}], frame=frame)
    except (AdamError, SpecError):
        return
    assert out["F"].iloc[0] == "N"


# ---- Test 20 -------------------------------------------------------------------------------------
def test_steps_20_dates_with_imputation_flag_and_min_date():
    """Test 20: dates with {dtc, impute: M, fill: first, min_dates}: '2024-02' -> 2024-02-01 with flag
    D, but never before the first dose (2024-02-10 -> the min date); a complete date gets no flag."""
    frame = pd.DataFrame({"USUBJID": ["S1", "S2", "S3"], "AESTDTC": ["2024-02", "2024-02", "2024-03-04"],
                          "TRTSDT": pd.to_datetime(["2024-01-20", "2024-02-10", "2024-01-01"])})
    out = _run([{"dates": {"ASTDT": {"dtc": "AESTDTC", "impute": "M", "fill": "first", "min_dates": ["TRTSDT"]}}}], frame)
    assert out["ASTDT"].tolist() == list(pd.to_datetime(["2024-02-01", "2024-02-10", "2024-03-04"]))
    assert out["ASTDTF"].fillna("").tolist() == ["D", "D", ""]


# ---- Test 21 -------------------------------------------------------------------------------------
def test_steps_21_study_day_against_a_reference_no_day_zero():
    """Test 21: study_day: day 1 is the reference date, the day before is -1."""
    frame = pd.DataFrame({"USUBJID": ["S1", "S2"], "ASTDT": pd.to_datetime(["2024-01-10", "2024-01-09"]),
                          "TRTSDT": pd.to_datetime(["2024-01-10", "2024-01-10"])})
    out = _run([{"study_day": {"ASTDY": {"date": "ASTDT", "reference": "TRTSDT"}}}], frame)
    assert out["ASTDY"].tolist() == [1.0, -1.0]


# ---- Test 22 -------------------------------------------------------------------------------------
def test_steps_22_merged_exist_flag_and_bad_date_spec():
    """Test 22: merged with exist_flag alone flags subjects with a qualifying record; a dates entry
    with an unknown key or an impute level outside n/D/M/Y is a SpecError naming it."""
    cm = pd.DataFrame({"USUBJID": ["S2", "S4"], "CMSCAT": ["CAR-T", "OTHER"]})
    out = _run([{"merged": {"dataset": "CM", "filter": "CMSCAT == 'CAR-T'", "exist_flag": "CARTFL"}}], datasets={"CM": cm})
    assert out["CARTFL"].tolist() == ["N", "Y", "N", "N"]
    for bad in ({"dtc": "X", "impute": "H"}, {"dtc": "X", "fil": "first"}, {"impute": "D"}):
        with pytest.raises(SpecError) as exc:
            check_steps([{"dates": {"ASTDT": bad}}], SPEC)
        assert exc.value.key == "steps[0].dates.ASTDT"


# ---- Test 23 -------------------------------------------------------------------------------------
def test_steps_23_step_outputs_are_the_variables_apply_steps_adds():
    """Test 23: step_outputs (used to check specs before any data is read) names exactly the variables
    apply_steps adds, the --DTF flag of an imputed date and a merged exist flag included."""
    steps = check_steps([
        {"dates": {"RANDDT": {"dtc": "RFSTDTC", "impute": "M"}, "TRTSDT": "RFXSTDTC"}},
        {"merged": {"dataset": "CM", "filter": "CMSCAT == 'CAR-T'", "exist_flag": "CARTFL"}},
        {"flag": {"ADULTFL": "AGE >= 18"}},
        {"condition": {"AGEGR1": {"cases": [{"if": "AGE < 1", "then": "<1"}], "else": ">=1"}}},
    ], SPEC)
    cm = pd.DataFrame({"USUBJID": ["S2"], "CMSCAT": ["CAR-T"]})
    out = apply_steps(_dm(), steps, {"CM": cm}, "ADSL")
    assert step_outputs(steps) == set(out.columns) - set(_dm().columns)
