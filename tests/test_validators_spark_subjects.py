"""trialkit's per-subject families on Spark (validators/spark_subjects.py): plausibility
(TK-SDTM-0130..0134), cross-dataset (TK-XDS), ADTTE event definitions (TK-ADTTE) and ADaM's ADSL
copies (TK-ADAM-0014 / 0015, with the rest of TK-ADAM on whole datasets) give the pandas engine's
findings, field for field, when each subject's records are checked in a share of their own.

The demo's SDTM and ADaM with one defect of each rule planted, cut into a dozen shares (so that a
subject's records, DM's and ADSL's must meet in the right share), a record without USUBJID among
them; and a source dataset of the ADTTE parameters missing, a finding that does not depend on
records and that every share gives: it must come out once, as on pandas.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from trialkit.validators.run import validate
from trialkit.xpt import read_xpt, write_xpt

MASTER = "local[2]"
FAMILIES = ("TK-SDTM (plausibility)", "TK-XDS (cross-dataset)", "TK-ADTTE (event definitions)", "TK-ADAM (schemas)")
PLAUSIBILITY = tuple(f"TK-SDTM-013{n}" for n in range(5))


def _of_families(findings) -> list[tuple]:
    ours = [f for f in findings if f.rule.startswith(("TK-XDS-", "TK-ADTTE-", "TK-ADAM-", *PLAUSIBILITY))]
    return sorted(tuple("" if v is None else str(v) for v in f.to_dict().values()) for f in ours)


def _copy(demo: Path, out: Path, change: dict) -> None:
    """The demo's SDTM and ADaM as XPT under ``out``, each dataset in ``change`` passed through its function."""
    for stage in ("sdtm", "adam"):
        (out / stage).mkdir(parents=True)
        for path in sorted((demo / stage).glob("*.xpt")):
            frame, meta = read_xpt(path)
            if path.stem in change:
                frame = change[path.stem](frame.copy())
                if frame is None:
                    continue
            write_xpt(frame, replace(meta, variables=tuple(replace(v, length=None) for v in meta.variables)), out / stage)


def _dm(dm: pd.DataFrame) -> pd.DataFrame:
    dm.loc[3, "AGE"] = 140                              # TK-SDTM-0131 (and 0132)
    dm.loc[5, "BRTHDTC"] = "2030-01-01"                 # TK-SDTM-0130, 0134 on the subject's records
    dm.loc[6, "DTHDTC"] = "1990-01-01"                  # TK-SDTM-0133
    dm.loc[7, "ARMCD"] = "XXX"                          # TK-XDS-0004 (and no ADSL record needed)
    return dm


def _ae(ae: pd.DataFrame) -> pd.DataFrame:
    dead = ae.index[ae["USUBJID"] == "BALLR01-0101-002"][0]
    ae.loc[dead, ["AESTDTC", "AEENDTC"]] = ["2020-01-05", ""]           # TK-XDS-0003 after death (and 0001)
    ae.loc[10, ["AESTDTC", "AEENDTC"]] = ["2016-05-01", "2016-04-01"]   # TK-XDS-0002
    ae.loc[12, "AESTDY"] = ae.loc[12, "AESTDY"] + 3                     # TK-XDS-0001
    ae.loc[20, ["USUBJID", "AESTDTC", "AEENDTC"]] = ["", "2019-02-01", "2019-01-01"]  # no subject, still checked
    return ae


def _adsl(adsl: pd.DataFrame) -> pd.DataFrame:
    adsl.loc[4, "SAFFL"] = "N" if adsl.loc[4, "SAFFL"] == "Y" else "Y"  # TK-XDS-0006
    adsl.loc[len(adsl) - 1, "USUBJID"] = "BALLR01-9999-999"             # not in DM; DM's subject not in ADSL
    adsl.loc[2, "TRT01PN"] = 99.0                                       # TK-ADAM-0010 (xx / xxN)
    adsl.loc[6, "ITTFL"] = ""                                           # TK-ADAM-0008
    adsl.loc[8, "USUBJID"] = adsl.loc[9, "USUBJID"]                     # TK-ADAM-0013
    adsl.loc[10, "SEX"] = "Q"                                           # TK-ADAM-0004
    return adsl


def _adtte(adtte: pd.DataFrame) -> pd.DataFrame:
    adtte.loc[3, "AVAL"] = adtte.loc[3, "AVAL"] + 5                     # TK-ADTTE-0005
    event = adtte.index[adtte["CNSR"] == 0][0]
    adtte.loc[event, "ADT"] = adtte.loc[event, "ADT"] + 40              # TK-ADTTE-0001 (and 0005)
    adtte.loc[5, "CNSR"] = 0.5                                          # TK-ADAM-0016
    adtte.loc[6, "PARAMCD"] = "1BAD"                                    # TK-ADAM-0011, 0012
    adtte.loc[7, "TRT01P"] = "NONE"                                     # TK-ADAM-0015 (and 0014: ADSL's lost subject)
    return pd.concat([adtte, adtte.iloc[[0]]], ignore_index=True)       # TK-XDS-0007


def _both(folder: Path):
    args = ("ball_relapse", folder / "sdtm", folder / "adam", None)
    on_pandas = validate(*args, rules=("trialkit",), jobs=1)
    on_spark = validate(*args, engine="spark", rules=("trialkit",), spark_master=MASTER)
    return on_pandas, on_spark


@pytest.mark.spark
def test_01_planted_defects_in_a_dozen_shares_give_the_pandas_findings(spark, demo, tmp_path, monkeypatch):
    monkeypatch.setattr("trialkit.validators.spark_subjects.SUBJECTS_PER_SHARE", 10)   # 111 subjects, 12 shares
    sv = lambda frame: frame.assign(VISITNUM=frame["VISITNUM"].mask(frame.index == 2, 77.0))   # TK-XDS-0004
    ex = lambda frame: frame.assign(EXSTDTC=frame["EXSTDTC"].mask(frame.index == 0, "2010-01-01"))  # TK-XDS-0005
    _copy(demo, tmp_path, {"dm": _dm, "ae": _ae, "sv": sv, "ex": ex, "adsl": _adsl, "adtte": _adtte})
    on_pandas, on_spark = _both(tmp_path)
    found = _of_families(on_pandas.findings)
    assert {row[0] for row in found} >= {*PLAUSIBILITY, *(f"TK-XDS-000{n}" for n in range(1, 8)),
                                         "TK-ADTTE-0001", "TK-ADTTE-0005",
                                         *(f"TK-ADAM-00{n}" for n in ("04", "08", 10, 11, 12, 13, 14, 15, 16))}
    assert _of_families(on_spark.findings) == found
    assert any(f.usubjid is None and f.dataset == "AE" and f.row == 21 for f in on_spark.findings if f.rule == "TK-XDS-0002")
    ran = {r.id: (r.status, r.findings) for r in on_spark.rules}
    assert {name: ran[name] for name in FAMILIES} == {r.id: (r.status, r.findings) for r in on_pandas.rules if r.id in FAMILIES}


@pytest.mark.spark
def test_02_a_missing_source_dataset_is_one_finding_not_one_per_share(spark, demo, tmp_path, monkeypatch):
    monkeypatch.setattr("trialkit.validators.spark_subjects.SUBJECTS_PER_SHARE", 25)
    _copy(demo, tmp_path, {"rs": lambda frame: None})                   # the EFS events' source
    on_pandas, on_spark = _both(tmp_path)
    missing = [f for f in on_pandas.findings if f.rule == "TK-ADTTE-0007"]
    assert missing and all("dataset RS is not among the datasets validated" in f.message for f in missing)
    assert _of_families(on_spark.findings) == _of_families(on_pandas.findings)
