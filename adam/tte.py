"""Time-to-event parameters from declarative event and censor sources (admiral's event_source /
censor_source and derive_param_tte).

A parameter is a start date (an ADSL variable), a list of event sources and a list of censor sources.
Each source names a dataset (an SDTM domain, ADSL or another ADaM dataset such as ADRS, as admiral's
templates take progression from ADRS), a filter in the spec grammar, the date that
counts (a --DTC or date variable, or ``start``: the event is dated at the start, which makes AVAL 1
— a treatment failure), the description, and where it came from (SRCDOM / SRCVAR / SRCSEQ). The rule:

* Records after the data cut-off are ignored, events and censorings alike.
* The earliest qualifying event wins (on a tie, the source listed first); an event dated before the
  start is clamped to the start where the source says so (``clamp_to_start``), otherwise ignored.
* A subject with no event is censored at the latest qualifying censoring date on or after the start.
* An event always beats a censoring, on the same day too.
* AVAL = ADT - STARTDT + 1 (days).

Partial event dates are imputed to the first day of their period but never before the start
(admiral's derive_vars_dt with highest_imputation 'M' and min_dates = start); partial censoring
dates are not used. The same spec drives the validator's independent check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.adam.derive import derive_extreme_event, derive_vars_dt
from trialkit.adam.errors import AdamError
from trialkit.errors import SpecError
from trialkit.expressions import Expression, parse
from trialkit.xpt import sas_days

START = "start"


@dataclass(frozen=True)
class TteSource:
    kind: str                    # event | censor
    dataset: str
    date: str                    # a variable of the dataset, or "start"
    description: str             # EVNTDESC (events) or CNSDTDSC (censorings)
    srcdom: str
    srcvar: str
    seq: str | None = None       # the --SEQ variable that identifies the record (SRCSEQ)
    filter: Expression | None = None
    clamp_to_start: bool = False
    key: str = ""


@dataclass(frozen=True)
class TteParameter:
    paramcd: str
    param: str
    start: str                   # ADSL date variable
    events: tuple[TteSource, ...]
    censors: tuple[TteSource, ...]


def _source(raw: dict, kind: str, key: str, path: Path) -> TteSource:
    allowed = {"dataset", "filter", "date", "description", "srcdom", "srcvar", "seq", "clamp_to_start"}
    if not isinstance(raw, dict):
        raise SpecError("a source is a mapping", file=str(path), key=key)
    if not isinstance(raw.get("clamp_to_start", False), bool):
        raise SpecError("clamp_to_start: takes true or false", file=str(path), key=f"{key}.clamp_to_start")
    unknown = set(raw) - allowed
    if unknown:
        raise SpecError(f"unknown key(s) {sorted(unknown)}", file=str(path), key=key)
    for need in ("dataset", "date", "description"):
        if not raw.get(need):
            raise SpecError(f"{need}: is required", file=str(path), key=f"{key}.{need}")
    dataset = str(raw["dataset"])
    date = str(raw["date"])
    return TteSource(
        kind, dataset, date, str(raw["description"]),
        str(raw.get("srcdom", dataset)), str(raw.get("srcvar", date if date != START else "")),
        raw.get("seq"), parse(raw["filter"], file=str(path), key=f"{key}.filter") if raw.get("filter") else None,
        bool(raw.get("clamp_to_start", False)), f"{path.name}:{key}",
    )


def parse_parameters(raw: list, path: Path) -> list[TteParameter]:
    out = []
    for k, p in enumerate(raw or []):
        key = f"parameters[{k}]"
        if not isinstance(p, dict):
            raise SpecError("a parameter is a mapping", file=str(path), key=key)
        for need in ("paramcd", "param", "start", "events", "censors"):
            if need not in p:
                raise SpecError(f"{need}: is required", file=str(path), key=f"{key}.{need}")
        if len(str(p["paramcd"])) > 8:
            raise SpecError("PARAMCD is at most 8 characters", file=str(path), key=f"{key}.paramcd")
        events = tuple(_source(e, "event", f"{key}.events[{i}]", path) for i, e in enumerate(p["events"]))
        censors = tuple(_source(c, "censor", f"{key}.censors[{i}]", path) for i, c in enumerate(p["censors"]))
        if not censors:
            raise SpecError("a parameter needs at least one censor source", file=str(path), key=f"{key}.censors")
        out.append(TteParameter(str(p["paramcd"]), str(p["param"]), str(p["start"]), events, censors))
    return out


def _dates(src: TteSource, frame: pd.DataFrame, start: pd.Series) -> pd.Series:
    """The date each record of a source counts at, as datetime64 (NaT where it has none)."""
    if src.date == START:
        return start
    values = frame[src.date]
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.normalize()
    if pd.api.types.is_numeric_dtype(values):          # an ADaM date read as SAS day numbers
        return sas_days(values)
    work = pd.DataFrame({"DTC": values.where(values.notna(), "").astype(str), "START": start})
    if src.kind == "event":
        work = derive_vars_dt(work, "X", "DTC", highest_imputation="M", date_imputation="first",
                              flag_imputation=False, min_dates=["START"], dataset_name=src.dataset)
    else:
        work = derive_vars_dt(work, "X", "DTC", highest_imputation="n", flag_imputation=False, dataset_name=src.dataset)
    return work["XDT"]


def source_records(src: TteSource, datasets: dict[str, pd.DataFrame], adsl: pd.DataFrame, start_var: str,
                   cutoff: pd.Timestamp) -> pd.DataFrame:
    """The qualifying dates of one source: USUBJID, ADT, and where they come from."""
    if src.dataset not in datasets:
        raise AdamError(f"source dataset {src.dataset} is not available ({src.key})", dataset=src.dataset)
    frame = datasets[src.dataset]
    needed = ["USUBJID", *([src.date] if src.date != START else []), *([src.seq] if src.seq else [])]
    lacking = [v for v in needed if v not in frame.columns]
    if lacking:
        raise AdamError(f"{src.key}: {src.dataset} lacks {', '.join(lacking)}", dataset=src.dataset, variables=lacking)
    fields = set(src.filter.fields) if src.filter is not None else set()
    missing = sorted(fields - set(frame.columns) - set(adsl.columns))
    if missing:
        raise AdamError(f"filter of {src.key} uses variables that {src.dataset} lacks: {', '.join(missing)}",
                        dataset=src.dataset, variables=missing)
    if src.dataset != "ADSL":
        # only what this source needs: a wide domain merged whole would cost memory and time
        own = ["USUBJID", *[c for c in dict.fromkeys([src.date, src.seq, *fields]) if c and c in frame.columns and c != "USUBJID"]]
        from_adsl = ["USUBJID", *[c for c in dict.fromkeys([start_var, *fields]) if c not in own]]
        frame = frame[own].merge(adsl[from_adsl], on="USUBJID", how="inner")
    if src.filter is not None:
        frame = frame[src.filter.evaluate(frame).to_numpy()]
    frame = frame.reset_index(drop=True)
    start = frame[start_var]
    adt = _dates(src, frame, start)
    keep = adt.notna() & start.notna() & (adt <= cutoff)
    before = keep & (adt < start)
    if src.kind == "event" and src.clamp_to_start:
        adt = adt.where(~before, start)
    else:
        keep &= ~before
    seq = frame[src.seq] if src.seq else pd.Series(np.nan, index=frame.index)
    return pd.DataFrame({
        "USUBJID": frame["USUBJID"], "ADT": adt, "DESC": src.description, "SRCDOM": src.srcdom,
        "SRCVAR": src.srcvar, "SRCSEQ": pd.to_numeric(seq, errors="coerce"),
    })[keep.to_numpy()]


def derive_param_tte(adsl: pd.DataFrame, datasets: dict[str, pd.DataFrame], parameter: TteParameter,
                     cutoff: pd.Timestamp) -> pd.DataFrame:
    """One record per ADSL subject for ``parameter``: the first event, else the last censoring."""
    if adsl["USUBJID"].duplicated().any():
        raise AdamError("ADSL has more than one record for a subject", dataset="ADSL", keys=["USUBJID"],
                        rows=(np.flatnonzero(adsl["USUBJID"].duplicated(keep=False)) + 1).tolist())
    if parameter.start not in adsl:
        raise AdamError(f"start date {parameter.start} is not in ADSL", dataset="ADSL", variables=[parameter.start])
    tables = {"ADSL": adsl, **datasets}

    def pick(sources: tuple[TteSource, ...], earliest: bool) -> pd.DataFrame:
        """The earliest event / latest censoring per subject; on a tie the source listed first."""
        records = [source_records(s, tables, adsl, parameter.start, cutoff) for s in sources]
        picked = derive_extreme_event(records, ["USUBJID"], ["ADT"], "first" if earliest else "last",
                                      dataset_name=f"ADTTE {parameter.paramcd}")
        return picked.drop(columns="SOURCE").set_index("USUBJID")

    events = pick(parameter.events, earliest=True)
    censors = pick(parameter.censors, earliest=False)
    subjects = adsl[["STUDYID", "USUBJID", parameter.start]].rename(columns={parameter.start: "STARTDT"}).set_index("USUBJID")
    parts = [part for part in (events[events.index.isin(subjects.index)].assign(CNSR=0),
                               censors[~censors.index.isin(events.index) & censors.index.isin(subjects.index)].assign(CNSR=1))
             if not part.empty]
    chosen = pd.concat(parts) if parts else events.assign(CNSR=0)
    missing = subjects.index[~subjects.index.isin(chosen.index)]
    if len(missing):
        no_start = subjects.loc[missing, "STARTDT"].isna()
        why = f" ({parameter.start} is missing for {int(no_start.sum())} of them)" if no_start.any() else ""
        raise AdamError(f"{parameter.paramcd}: no event and no censoring date for {len(missing)} subject(s){why}, "
                        f"e.g. {', '.join(missing[:3])}", dataset="ADTTE", keys=["USUBJID"],
                        variables=[parameter.start] if no_start.any() else None, subjects=missing)
    out = subjects.join(chosen, how="left").reset_index()
    out["PARAMCD"] = parameter.paramcd
    out["PARAM"] = parameter.param
    out["AVAL"] = ((out["ADT"] - out["STARTDT"]).dt.days + 1).astype(float)
    out["AVALU"] = "DAYS"
    out["EVNTDESC"] = out["DESC"]                       # ADaMIG: event or censoring description
    out["CNSDTDSC"] = out["DESC"].where(out["CNSR"] == 1, "")
    out["CNSR"] = out["CNSR"].astype(float)
    return out[["STUDYID", "USUBJID", "PARAMCD", "PARAM", "STARTDT", "ADT", "AVAL", "AVALU", "CNSR",
                "EVNTDESC", "CNSDTDSC", "SRCDOM", "SRCVAR", "SRCSEQ"]]
