"""Apply one mapping algorithm to a raw form: one function per algorithm, as in sdtm.oak.

Each function takes the raw form (text, with ``_row`` provenance and the subject's ``_country``)
and returns the variable's values plus findings. Nothing is guessed: a value that cannot be mapped
becomes a finding naming form, row, field, value and spec key, and the variable stays empty (or, for
an extensible codelist, carries the collected value with a warning).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialkit.expressions import first_match
from trialkit.findings import Finding
from trialkit.raw_dictionary import RawDictionary
from trialkit.sdtm.dates import edc_to_iso, layout_to_iso, local_to_iso, to_day, with_time
from trialkit.sdtm.spec import Mapping


def _findings(mask: pd.Series, raw: pd.DataFrame, form: str, column: str, values: pd.Series, message, key: str,
              kind: str, severity: str = "error") -> list[Finding]:
    rows = np.flatnonzero(mask.to_numpy())
    messages = message if isinstance(message, pd.Series) else None
    return [
        Finding(severity, f"{form}.csv", int(raw["_row"].iloc[r]), column, str(values.iloc[r]),
                messages.iloc[r] if messages is not None else message, key, str(raw["SUBJID"].iloc[r]), kind)
        for r in rows
    ]


def assign(m: Mapping, raw: pd.DataFrame, form: str) -> tuple[pd.Series, list[Finding]]:
    field = m.args["assign"]
    text = raw[field].astype(str).str.strip()
    if m.args.get("plain_decimal"):
        return plain_decimal(text), []
    if not m.args.get("number"):
        return text, []
    number = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
    if m.args["number"] == "if_numeric":  # text results such as '<1E-05' are expected: no finding
        return number, []
    bad = number.isna() & (text != "")
    return number, _findings(bad, raw, form, field, text, "not a number", m.key, "number")


def plain_decimal(text: pd.Series) -> pd.Series:
    """Numbers written in E-notation (optionally after < or >) as plain decimals, for standardized
    results: '3.2E-03' -> '0.0032', '<1E-05' -> '<0.00001'; other text is kept."""
    parts = text.str.extract(r"^([<>]?)\s*([0-9.]+[Ee][-+]?[0-9]+)$")
    number = pd.to_numeric(parts[1], errors="coerce")
    good = number.notna()
    # lab results take few distinct values: format each distinct number once
    table = {v: np.format_float_positional(v, trim="-") for v in number[good].unique()}
    out = text.copy()
    out[good] = parts[0][good] + number[good].map(table)
    return out


def ct(m: Mapping, raw: pd.DataFrame, form: str) -> tuple[pd.Series, list[Finding]]:
    field = m.args["ct"]
    text = raw[field].astype(str)
    values, unmatched = m.codelist.recode(text)
    if m.codelist.extensible:
        values = values.where(~unmatched, text.str.strip().str.upper())
        return values, _findings(unmatched, raw, form, field, text,
                                 f"value not in extensible codelist {m.codelist.name}; kept as collected (trimmed, upper case)", m.key, "codelist",
                                 "warning")
    return values, _findings(unmatched, raw, form, field, text, f"value not in codelist {m.codelist.name}", m.key, "codelist")


def hardcode(m: Mapping, raw: pd.DataFrame, form: str) -> tuple[pd.Series, list[Finding]]:
    return pd.Series(m.args["hardcode"], index=raw.index, dtype=object if isinstance(m.args["hardcode"], str) else float), []


def condition(m: Mapping, raw: pd.DataFrame, form: str) -> tuple[pd.Series, list[Finding]]:
    """First branch whose condition holds wins; later branches never overwrite earlier ones."""
    return first_match(raw, m.conditions, m.args.get("else", "")), []


def date(m: Mapping, raw: pd.DataFrame, form: str, dictionary: RawDictionary) -> tuple[pd.Series, list[Finding]]:
    field = m.args["date"]
    spec = next(f for f in dictionary.forms[form].fields if f.name == field)
    text = raw[field].astype(str)
    if spec.format == "site_local":
        formats = raw["_country"].map({c: v["date"] for c, v in dictionary.site_formats.items()})
        iso, problem = local_to_iso(text, formats)
    elif spec.format == "edc":
        iso, problem = edc_to_iso(text, partial_allowed=spec.partial)
    else:
        iso, problem = layout_to_iso(text, spec.format)
    findings = _findings(problem != "", raw, form, field, text, problem, m.key, "date")
    if "time" in m.args:
        iso, time_problem = with_time(iso, raw[m.args["time"]])
        findings += _findings(time_problem != "", raw, form, m.args["time"], raw[m.args["time"]], time_problem, m.key, "date")
    return iso, findings


def visit(m: Mapping, raw: pd.DataFrame, form: str, visits: dict[str, dict]) -> tuple[pd.DataFrame, list[Finding]]:
    """VISITNUM and VISIT from the visit map; unscheduled visits get their VISITNUM later, by date."""
    field = m.args["visit"]
    code = raw[field].astype(str).str.strip().str.upper()
    known = code.isin(list(visits))
    out = pd.DataFrame({
        "VISITNUM": code.map({k: v.get("visitnum", np.nan) for k, v in visits.items()}).astype(float),
        "VISIT": code.map({k: v["visit"] for k, v in visits.items()}).fillna(""),
    }, index=raw.index)
    findings = _findings(~known & (code != ""), raw, form, field, raw[field], "visit not in the study's visit map", m.key, "visit")
    return out, findings


def age(m: Mapping, frame: pd.DataFrame) -> pd.Series:
    """Whole years between birth and reference dates; a birth date without a day counts from the
    first of its month (documented imputation); no year-only birth dates or partial references."""
    birth = frame[m.args["age"]["birth"]].astype(str)
    ref = frame[m.args["age"]["reference"]].astype(str)
    birth_full = birth.where(birth.str.len() != 7, birth + "-01")
    b, r = to_day(birth_full), to_day(ref)       # days over 0001-9999: a birth in 1700 gives AGE 316, not NaN
    years = r.dt.year - b.dt.year - ((r.dt.month < b.dt.month) | ((r.dt.month == b.dt.month) & (r.dt.day < b.dt.day))).astype(int)
    return years.astype("float64")
