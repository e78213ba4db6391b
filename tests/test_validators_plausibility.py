"""Tests of validators/plausibility.py (TK-SDTM-0130..0134) and trialkit/plausible.py: real dates and
ages that cannot be true of a subject. Numbered cases, tiny inline SDTM frames; each rule flags the
records its case plants and nothing else."""

from __future__ import annotations

import pandas as pd
import pytest

from trialkit.errors import SpecError
from trialkit.plausible import DateWindow, age_range, parse_window
from trialkit.validators.plausibility import check_plausibility

WINDOW = DateWindow(latest="2025-12-31")


def _dm(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame({"STUDYID": ["S"] * n, "DOMAIN": ["DM"] * n, "USUBJID": [f"S-{i}" for i in range(1, n + 1)],
                         **columns})


def _flagged(sdtm: dict, rule: str, window: DateWindow = WINDOW) -> list[tuple]:
    return [(f.dataset, f.usubjid, f.variable) for f in check_plausibility(sdtm, window) if f.rule == rule]


def test_plausibility_01_birth_in_2030_and_1700_each_flagged_by_window_and_age_range():
    dm = _dm(BRTHDTC=["2030-01-01", "1700-05-05", "1980-06-15"], RFSTDTC=["2016-01-01", "2016-01-01", "2016-01-01"],
             AGE=[-14.0, 316.0, 35.0], AGEU=["YEARS", "YEARS", "YEARS"])
    sdtm = {"DM": dm}
    assert _flagged(sdtm, "TK-SDTM-0130") == [("DM", "S-1", "BRTHDTC"), ("DM", "S-2", "BRTHDTC")]
    assert _flagged(sdtm, "TK-SDTM-0131") == [("DM", "S-1", "AGE"), ("DM", "S-2", "AGE")]
    assert _flagged(sdtm, "TK-SDTM-0134") == [("DM", "S-1", "RFSTDTC")]          # RFSTDTC before a birth in 2030


def test_plausibility_02_window_bounds_partial_dates_and_study_setting():
    ae = pd.DataFrame({"STUDYID": "S", "DOMAIN": "AE", "USUBJID": ["S-1"] * 5, "AESEQ": [1.0, 2.0, 3.0, 4.0, 5.0],
                       "AESTDTC": ["0001-01-01", "9999-12-31", "1900", "2025-12", "2026-01-01T10:00"]})
    assert [f.seq for f in check_plausibility({"AE": ae}, WINDOW)] == [1.0, 2.0, 5.0]
    assert [f.seq for f in check_plausibility({"AE": ae}, DateWindow(earliest="1950-01-01", latest="2030-01-01"))] == [
        1.0, 2.0, 3.0]
    assert parse_window({"earliest": "1920-01-01"}, "study.yaml").earliest == "1920-01-01"
    with pytest.raises(SpecError, match="not a YYYY-MM-DD date") as err:
        parse_window({"latest": "someday"}, "study.yaml")
    assert err.value.key == "plausible_dates.latest"


def test_plausibility_03_age_against_birth_and_reference_start():
    dm = _dm(BRTHDTC=["1980-06-15", "1980-06-15", "1980-06-15", "1980", ""],
             RFSTDTC=["2020-06-14", "2020-06-14", "2020-06-14", "2020-06-14", "2020-06-14"],
             AGE=[39.0, 38.0, 41.0, 40.0, 77.0], AGEU=["YEARS"] * 5)
    # 39 exact; 38 is age at an earlier consent; 41 is too old; 1980 allows 39 or 40; no birth date: not checked
    assert _flagged({"DM": dm}, "TK-SDTM-0132") == [("DM", "S-3", "AGE")]
    low, high = age_range(pd.Series(["1980", "1980-06"]), pd.Series(["2020-06-14", "2020-06-14"]))
    assert low.tolist() == [39.0, 39.0] and high.tolist() == [40.0, 40.0]


def test_plausibility_04_death_and_other_dates_before_birth():
    dm = _dm(BRTHDTC=["1980-06-15", "1980"], DTHDTC=["1980-06-14", "1980-03"], RFSTDTC=["2019-01-01", "2019-01-01"])
    cm = pd.DataFrame({"STUDYID": "S", "DOMAIN": "CM", "USUBJID": ["S-1", "S-2"], "CMSEQ": [1.0, 1.0],
                       "CMSTDTC": ["1979-12-31", "1980-05"]})
    sdtm = {"DM": dm, "CM": cm}
    assert _flagged(sdtm, "TK-SDTM-0133") == [("DM", "S-1", "DTHDTC")]     # 1980-03 is not before 1980
    assert _flagged(sdtm, "TK-SDTM-0134") == [("CM", "S-1", "CMSTDTC")]


def test_plausibility_05_the_default_window_ends_a_year_after_the_data_cut_off_in_ts():
    ae = pd.DataFrame({"STUDYID": "S", "DOMAIN": "AE", "USUBJID": ["S-1"] * 2, "AESEQ": [1.0, 2.0],
                       "AESTDTC": ["2022-09-21", "2022-09-22"]})
    ts = pd.DataFrame({"STUDYID": "S", "DOMAIN": "TS", "TSSEQ": [1.0, 1.0], "TSPARMCD": ["SSTDTC", "DCUTDTC"],
                       "TSVAL": ["2015-11-01", "2021-09-20"]})
    (found,) = check_plausibility({"AE": ae, "TS": ts})
    assert found.seq == 2.0 and "data cut-off 2021-09-20 + 1 year" in found.message
    assert check_plausibility({"AE": ae}) == []          # without TS: today + 1 year
