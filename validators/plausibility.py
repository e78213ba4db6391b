"""Plausibility rules: values that are valid dates and numbers but cannot be true of a subject.

A birth date in 2030 or 1700 passed every schema and cross-dataset rule (each is a real calendar
day and a well-formed ISO 8601 value), and the report printed ages from -14 to 316. These rules
apply trialkit.plausible's definitions to every SDTM dataset, vectorized, one finding per record.
"""

from __future__ import annotations

import pandas as pd

from trialkit.display import plain_values
from trialkit.plausible import DateWindow, age_disagrees, implausible_age, later, outside_window
from trialkit.validators.cross_dataset import _dm, _emit, _subject_frames, _text
from trialkit.validators.rules import ValidationFinding, rule

OUTSIDE_WINDOW = rule("TK-SDTM-0130", "warning", "Date outside the study's plausible window",
                      "SDTMIG 3.4 section 4.4 (dates): a --DTC is when something happened to a subject; one before "
                      "1900-01-01 or more than a year after the data cut-off is a keying or conversion error (0001, 9999 "
                      "and 1700 are valid ISO 8601 dates, so the ISO check passes them). The window is the study's "
                      "plausible_dates (trialkit/plausible.py); by default 1900-01-01 to the data cut-off (TS DCUTDTC) "
                      "+ 1 year, or the day of validation + 1 year without one.")
AGE_RANGE = rule("TK-SDTM-0131", "error", "AGE (YEARS) outside 0-130",
                 "SDTMIG 3.4 section 5.2 (DM: AGE, AGEU): age at the reference start; no human is younger than 0 "
                 "years or older than 130 (the oldest documented lived 122).", scope=("DM",))
AGE_MISMATCH = rule("TK-SDTM-0132", "warning", "AGE inconsistent with BRTHDTC and RFSTDTC",
                    "SDTMIG 3.4 section 5.2 (DM: AGE 'may be derived from RFSTDTC and BRTHDTC', or collected at "
                    "informed consent): AGE in YEARS must be the whole years from BRTHDTC to RFSTDTC, or one less. "
                    "A partial BRTHDTC allows every age its possible days give.", scope=("DM",))
DEATH_BEFORE_BIRTH = rule("TK-SDTM-0133", "error", "Death before birth (DTHDTC before BRTHDTC)",
                          "SDTMIG 3.4 section 5.2 (DM: BRTHDTC, DTHDTC): a subject cannot die before being born; "
                          "compared at the precision both dates have.", scope=("DM",))
BEFORE_BIRTH = rule("TK-SDTM-0134", "error", "Date before the subject's birth (--DTC before DM.BRTHDTC)",
                    "SDTMIG 3.4 sections 4.4 and 5.2: nothing is observed of a subject before BRTHDTC (start, end and "
                    "collection dates alike); compared at the precision both dates have.")


def _date_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.endswith("DTC")]


def check_plausibility(sdtm: dict[str, pd.DataFrame], window: DateWindow | None = None) -> list[ValidationFinding]:
    """Every TK-SDTM-0130..0134 finding of an SDTM folder's datasets (``window``: the study's; None,
    the defaults)."""
    window = (window or DateWindow()).with_cutoff(next((f for n, f in sdtm.items() if n.upper() == "TS"), None))
    out: list[ValidationFinding] = []
    dm = _dm(sdtm)
    birth = _text(dm["BRTHDTC"]) if dm is not None and "BRTHDTC" in dm else None
    for name, domain, frame in _subject_frames(sdtm):
        for col in _date_columns(frame):
            text = _text(frame[col])
            out += _emit(OUTSIDE_WINDOW, name, frame, outside_window(text, window), col,
                         f"{col} " + text + f" is outside {window.describe()}", seq=f"{domain}SEQ")
            if birth is not None and col != "BRTHDTC":
                born = _text(frame["USUBJID"]).map(birth).fillna("")
                rule_ = DEATH_BEFORE_BIRTH if (domain == "DM" and col == "DTHDTC") else BEFORE_BIRTH
                out += _emit(rule_, name, frame, later(born, text), col,
                             f"{col} " + text + " is before DM.BRTHDTC " + born, seq=f"{domain}SEQ")
    frame = next((f for name, _, f in _subject_frames(sdtm) if name == "DM"), None)
    if frame is not None and {"AGE", "AGEU"} <= set(frame.columns):
        ageu = _text(frame["AGEU"])
        out += _emit(AGE_RANGE, "DM", frame, implausible_age(frame["AGE"], ageu), "AGE",
                     "AGE " + plain_values(frame["AGE"]) + " " + ageu + " is outside 0-130 years")
        if {"BRTHDTC", "RFSTDTC"} <= set(frame.columns):
            bad, expected = age_disagrees(frame["AGE"], ageu, frame["BRTHDTC"], frame["RFSTDTC"])
            out += _emit(AGE_MISMATCH, "DM", frame, bad, "AGE",
                         "AGE " + plain_values(frame["AGE"]) + " but BRTHDTC " + _text(frame["BRTHDTC"])
                         + " to RFSTDTC " + _text(frame["RFSTDTC"]) + " is " + expected + " years")
    return out
