"""Independent check of every ADTTE parameter against its sources, from the same declarative definition.

The derivation (adam/tte.py) picks, per subject, the first event or the last censoring. This check
walks the other way: for each ADTTE record it recomputes, from the source datasets (SDTM domains,
ADSL, other ADaM datasets such as ADRS: admiral's templates take progression from ADRS) on its own code path
(its own date reading and comparison, no call into the derivation), what the record must say, and
reports each disagreement with the subject, the parameter and both values.

It merges ADTTE, ADSL and SDTM columns, evaluates spec filters over them and adds text columns into
messages, so it works on object columns (trialkit.vectorize ``plain``): the category columns ``read_folder``
gives have different categories in different datasets, and a category column does not add to text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialkit.adam.tte import START, TteParameter, TteSource
from trialkit.display import plain_values, show_values
from trialkit.validators.rules import ValidationFinding, rule
from trialkit.vectorize import plain
from trialkit.xpt import sas_days

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
MISSING_SOURCE = rule("TK-ADTTE-0007", "error", "An event or censor source dataset or variable is missing",
                      "Study ADTTE spec / event-definition file: every source names a dataset given to validate "
                      "(SDTM or ADaM) with its date, sequence and filter variables; without them the parameter "
                      "cannot be checked.", scope=("ADTTE",))
WRONG_START = rule("TK-ADTTE-0006", "error", "STARTDT is not the parameter's start date in ADSL",
                   "Study ADTTE spec: every parameter starts at the declared ADSL date (e.g. RANDDT).", scope=("ADTTE",))


def _day(values: pd.Series, start: pd.Series, impute: bool) -> pd.Series:
    """Dates as days; partial dates (events only) to the first day of their period, not before start."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.normalize()
    if pd.api.types.is_numeric_dtype(values):          # SAS day numbers (an ADaM date without a *DT name)
        return sas_days(values)
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
        fields = set(src.filter.fields) if src.filter is not None else set()
        own = ["USUBJID", *[c for c in dict.fromkeys([src.date, src.seq, *fields]) if c and c in table.columns and c != "USUBJID"]]
        table = plain(table[own]).merge(adsl[["USUBJID", *[c for c in dict.fromkeys([start_var, *fields]) if c not in own]]],
                                        on="USUBJID")
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


def _fmt(days: pd.Series) -> pd.Series:
    return days.dt.strftime("%Y-%m-%d").fillna("none")


def _findings(r, paramcd: str, mask: pd.Series, usubjid: pd.Series, messages: pd.Series, value: pd.Series | None = None):
    """Findings for the flagged records only (the check itself is vectorized)."""
    rows = np.flatnonzero(mask.to_numpy())
    values = plain_values(value) if value is not None else pd.Series("", index=mask.index)
    return [ValidationFinding(r.id, r.severity, "ADTTE", f"{paramcd}: {messages.iloc[k]}", "ADT", usubjid.iloc[k], None, None,
                              values.iloc[k]) for k in rows]


def _missing_sources(p: TteParameter, tables: dict[str, pd.DataFrame], adsl: pd.DataFrame) -> list[ValidationFinding]:
    """A finding for each source whose dataset, date, sequence or filter variable is not there."""
    out = []
    for src in (*p.events, *p.censors):
        where = f"{p.paramcd}: {src.kind} source {src.key} ({src.description})"
        if src.dataset not in tables:
            out.append(ValidationFinding(MISSING_SOURCE.id, MISSING_SOURCE.severity, "ADTTE",
                                         f"{where}: dataset {src.dataset} is not among the datasets validated",
                                         value=src.dataset))
            continue
        columns = set(tables[src.dataset].columns) | set(adsl.columns)
        needed = [v for v in (src.date if src.date != START else None, src.seq, p.start) if v]
        needed += sorted(src.filter.fields) if src.filter is not None else []
        for var in (v for v in dict.fromkeys(needed) if v not in columns):
            out.append(ValidationFinding(MISSING_SOURCE.id, MISSING_SOURCE.severity, "ADTTE",
                                         f"{where}: {src.dataset} has no variable {var}", var))
    return out


def check_parameter(adtte: pd.DataFrame, adsl: pd.DataFrame, sources: dict[str, pd.DataFrame], p: TteParameter,
                    cutoff: pd.Timestamp) -> list[ValidationFinding]:
    """The findings of one parameter; ``sources``: the SDTM and ADaM datasets its sources may name."""
    tables = {**sources, "ADSL": adsl}
    missing = _missing_sources(p, tables, adsl)
    if missing:
        return missing
    rec = adtte[adtte["PARAMCD"] == p.paramcd].merge(adsl[["USUBJID", p.start]].rename(columns={p.start: "_START"}),
                                                        on="USUBJID", how="left").reset_index(drop=True)
    events = pd.concat([_candidates(s, tables, adsl, p.start, cutoff) for s in p.events]
                       or [pd.DataFrame(columns=["USUBJID", "DAY", "DESC", "SRCDOM", "SEQ"])], ignore_index=True)
    censors = pd.concat([_candidates(s, tables, adsl, p.start, cutoff) for s in p.censors], ignore_index=True)
    first_event = rec["USUBJID"].map(events.groupby("USUBJID")["DAY"].min()).astype("datetime64[ns]")
    last_censor = rec["USUBJID"].map(censors.groupby("USUBJID")["DAY"].max()).astype("datetime64[ns]")
    adt, uid = rec["ADT"], rec["USUBJID"]
    event, censored = rec["CNSR"] == 0, rec["CNSR"] == 1

    # the event record named by EVNTDESC / SRCDOM / SRCSEQ must be a qualifying event on ADT
    key = ["USUBJID", "DAY", "DESC", "SRCDOM", "SEQ"]
    named = rec.rename(columns={"ADT": "DAY", "EVNTDESC": "DESC", "SRCSEQ": "SEQ"})[key].fillna({"SEQ": -1})
    present = named.merge(events[key].fillna({"SEQ": -1}).drop_duplicates().assign(_hit=True), on=key, how="left")["_hit"]
    source_ok = present.notna().to_numpy()

    expected_aval = (adt - rec["STARTDT"]).dt.days + 1
    wrong_event = event & (first_event.isna() | (first_event != adt))
    out = []
    out += _findings(WRONG_START, p.paramcd, rec["STARTDT"] != rec["_START"], uid,
                     "STARTDT " + _fmt(rec["STARTDT"]) + f" but {p.start} is " + _fmt(rec["_START"]))
    out += _findings(WRONG_AVAL, p.paramcd, adt.notna() & (rec["AVAL"] != expected_aval), uid,
                     "AVAL " + show_values(rec["AVAL"]) + " but ADT - STARTDT + 1 = " + show_values(expected_aval),
                     rec["AVAL"])
    out += _findings(EARLIER_EVENT, p.paramcd, wrong_event, uid,
                     "event at " + _fmt(adt) + ", earliest qualifying event " + _fmt(first_event))
    out += _findings(WRONG_SOURCE, p.paramcd, event & ~wrong_event & ~source_ok, uid,
                     rec["EVNTDESC"] + " / " + rec["SRCDOM"] + " / SEQ " + show_values(rec["SRCSEQ"])
                     + " is not a qualifying event record at " + _fmt(adt))
    missed = censored & first_event.notna()
    out += _findings(MISSED_EVENT, p.paramcd, missed, uid,
                     "censored at " + _fmt(adt) + " but an event qualifies at " + _fmt(first_event))
    out += _findings(WRONG_CENSOR, p.paramcd, censored & ~missed & (last_censor.isna() | (last_censor != adt)), uid,
                     "censored at " + _fmt(adt) + ", latest qualifying censoring date " + _fmt(last_censor))
    return out


def check_adtte(adtte: pd.DataFrame, adsl: pd.DataFrame, sources: dict[str, pd.DataFrame], parameters: list[TteParameter],
                cutoff: pd.Timestamp) -> list[ValidationFinding]:
    out = []
    adtte, adsl = plain(adtte), plain(adsl)
    for p in parameters:
        out += check_parameter(adtte, adsl, sources, p, cutoff)
    return out
