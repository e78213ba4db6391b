"""Independent check of every ADTTE parameter against SDTM, from the same declarative definition.

The derivation (adam/tte.py) picks, per subject, the first event or the last censoring. This check
walks the other way: for each ADTTE record it recomputes, from SDTM and ADSL on its own code path
(its own date reading and comparison, no call into the derivation), what the record must say, and
reports each disagreement with the subject, the parameter and both values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialkit.adam.tte import START, TteParameter, TteSource
from trialkit.validators.rules import ValidationFinding, rule

EARLIER_EVENT = rule("TK-ADTTE-0001", "error", "Event date is not the earliest qualifying event",
                     "ADaMIG 1.3 BDS-TTE / study ADTTE spec: the earliest qualifying event on or before the cut-off decides ADT.", scope=("ADTTE",))
MISSED_EVENT = rule("TK-ADTTE-0002", "error", "Censored although a qualifying event exists",
                    "Study ADTTE spec: CNSR = 1 only when no qualifying event exists up to the data cut-off.", scope=("ADTTE",))
WRONG_CENSOR = rule("TK-ADTTE-0003", "error", "Censoring date is not the latest qualifying censoring date",
                    "Study ADTTE spec: without an event, ADT is the latest censoring date on or before the cut-off.", scope=("ADTTE",))
WRONG_SOURCE = rule("TK-ADTTE-0004", "error", "EVNTDESC / SRCDOM / SRCSEQ do not point at a qualifying record at ADT",
                    "ADaMIG 1.3 traceability: SRCDOM/SRCVAR/SRCSEQ identify the record that decided ADT.", scope=("ADTTE",))
WRONG_AVAL = rule("TK-ADTTE-0005", "error", "AVAL is not ADT - STARTDT + 1",
                  "ADaMIG 1.3 BDS-TTE: time to event in days counts the start day.", scope=("ADTTE",))
WRONG_START = rule("TK-ADTTE-0006", "error", "STARTDT is not the parameter's start date in ADSL",
                   "Study ADTTE spec: every parameter starts at the declared ADSL date (e.g. RANDDT).", scope=("ADTTE",))


def _day(values: pd.Series, start: pd.Series, impute: bool) -> pd.Series:
    """Dates as days; partial dates (events only) to the first day of their period, not before start."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.normalize()
    text = values.astype(object).where(values.notna(), "").astype(str).str.slice(0, 10)
    full = pd.to_datetime(text.where(text.str.len() == 10), format="%Y-%m-%d", errors="coerce")
    if not impute:
        return full
    month = pd.to_datetime((text + "-01").where(text.str.len() == 7), format="%Y-%m-%d", errors="coerce")
    year = pd.to_datetime((text + "-01-01").where(text.str.len() == 4), format="%Y-%m-%d", errors="coerce")
    same_month = (start.dt.year == month.dt.year) & (start.dt.month == month.dt.month) & (start > month)
    same_year = (start.dt.year == year.dt.year) & (start > year)
    return full.fillna(month.where(~same_month, start)).fillna(year.where(~same_year, start))


def _candidates(src: TteSource, tables: dict[str, pd.DataFrame], adsl: pd.DataFrame, start_var: str,
                cutoff: pd.Timestamp) -> pd.DataFrame:
    table = tables[src.dataset]
    if src.dataset != "ADSL":
        table = table.merge(adsl[["USUBJID", *[c for c in adsl.columns if c not in table.columns]]], on="USUBJID")
    if src.filter is not None:
        table = table[src.filter.evaluate(table.reset_index(drop=True)).to_numpy()]
    table = table.reset_index(drop=True)
    start = table[start_var]
    day = start if src.date == START else _day(table[src.date], start, impute=src.kind == "event")
    if src.kind == "event" and src.clamp_to_start:
        day = day.where(~(day < start), start)
    ok = day.notna() & (day >= start) & (day <= cutoff)
    seq = pd.to_numeric(table[src.seq], errors="coerce") if src.seq else pd.Series(np.nan, index=table.index)
    return pd.DataFrame({"USUBJID": table["USUBJID"], "DAY": day, "DESC": src.description, "SRCDOM": src.srcdom,
                         "SEQ": seq})[ok.to_numpy()]


def _finding(r, paramcd: str, usubjid: str, seq, message: str, value="") -> ValidationFinding:
    return ValidationFinding(r.id, r.severity, "ADTTE", f"{paramcd}: {message}", "ADT", usubjid, None, None, str(value))


def check_parameter(adtte: pd.DataFrame, adsl: pd.DataFrame, sdtm: dict[str, pd.DataFrame], p: TteParameter,
                    cutoff: pd.Timestamp) -> list[ValidationFinding]:
    tables = {"ADSL": adsl, **sdtm}
    records = adtte[adtte["PARAMCD"] == p.paramcd].merge(adsl[["USUBJID", p.start]], on="USUBJID", how="left")
    events = pd.concat([_candidates(s, tables, adsl, p.start, cutoff) for s in p.events] or [pd.DataFrame()], ignore_index=True)
    censors = pd.concat([_candidates(s, tables, adsl, p.start, cutoff) for s in p.censors], ignore_index=True)
    first_event = events.groupby("USUBJID")["DAY"].min() if not events.empty else pd.Series(dtype="datetime64[ns]")
    last_censor = censors.groupby("USUBJID")["DAY"].max()
    out = []
    for rec in records.itertuples(index=False):   # one record per subject: findings need the subject anyway
        adt, uid = rec.ADT, rec.USUBJID
        if rec.STARTDT != getattr(rec, p.start):
            out.append(_finding(WRONG_START, p.paramcd, uid, None, f"STARTDT {rec.STARTDT:%Y-%m-%d} but {p.start} is "
                                f"{getattr(rec, p.start):%Y-%m-%d}"))
        if pd.notna(adt) and rec.AVAL != (adt - rec.STARTDT).days + 1:
            out.append(_finding(WRONG_AVAL, p.paramcd, uid, None, f"AVAL {rec.AVAL:g} but ADT - STARTDT + 1 = "
                                f"{(adt - rec.STARTDT).days + 1}", rec.AVAL))
        event = first_event.get(uid)
        if rec.CNSR == 0:
            if event is None or pd.isna(event) or event != adt:
                out.append(_finding(EARLIER_EVENT, p.paramcd, uid, None, f"event at {adt:%Y-%m-%d}, earliest qualifying "
                                    f"event {'none' if event is None or pd.isna(event) else f'{event:%Y-%m-%d}'}"))
                continue
            at = events[(events["USUBJID"] == uid) & (events["DAY"] == adt)]
            src_ok = ((at["DESC"] == rec.EVNTDESC) & (at["SRCDOM"] == rec.SRCDOM)
                      & ((at["SEQ"] == rec.SRCSEQ) | (at["SEQ"].isna() & pd.isna(rec.SRCSEQ)))).any()
            if not src_ok:
                out.append(_finding(WRONG_SOURCE, p.paramcd, uid, None, f"{rec.EVNTDESC} / {rec.SRCDOM} / SEQ {rec.SRCSEQ} "
                                    f"is not a qualifying event record at {adt:%Y-%m-%d}"))
        else:
            if event is not None and pd.notna(event):
                out.append(_finding(MISSED_EVENT, p.paramcd, uid, None, f"censored at {adt:%Y-%m-%d} but an event "
                                    f"qualifies at {event:%Y-%m-%d}"))
                continue
            censor = last_censor.get(uid)
            if censor is None or pd.isna(censor) or censor != adt:
                out.append(_finding(WRONG_CENSOR, p.paramcd, uid, None, f"censored at {adt:%Y-%m-%d}, latest qualifying "
                                    f"censoring date {'none' if censor is None else f'{censor:%Y-%m-%d}'}"))
    return out


def check_adtte(adtte: pd.DataFrame, adsl: pd.DataFrame, sdtm: dict[str, pd.DataFrame], parameters: list[TteParameter],
                cutoff: pd.Timestamp) -> list[ValidationFinding]:
    out = []
    for p in parameters:
        out += check_parameter(adtte, adsl, sdtm, p, cutoff)
    return out
