"""Render the simulated forms as an EDC export: text fields exactly as the raw dictionary describes.

The dictionary drives the rendering: each form gets the dictionary's columns in its order, each field
is written by its type (EDC dates DD-MON-YYYY with UN for unknown days, site-local dates and decimal
commas for the local-lab forms, codes with the case and whitespace slips sites make). A typed frame
that lacks a dictionary field is a programming error and fails loudly.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from trialkit.errors import SpecError
from trialkit.raw_dictionary import LOCAL_DATE_FORMATS, MONTHS, Field, RawDictionary
from trialkit.simulate.study import SimulatedStudy

KEY_FIELDS = ("STUDYID", "SITEID", "SUBJID")
CODE_SLIP_RATE = 0.03
_MONTHS = np.array(MONTHS, dtype=object)


def _components(dates: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    d = pd.to_datetime(dates)
    missing = d.isna()
    day = d.dt.day.fillna(1).astype(int).astype(str).str.zfill(2)
    month = d.dt.month.fillna(1).astype(int)
    year = d.dt.year.fillna(2000).astype(int).astype(str)
    return day, month, year, missing


def edc_dates(dates: pd.Series, partial: pd.Series | None = None) -> pd.Series:
    """DD-MON-YYYY; where ``partial`` is set the day is unknown and written UN."""
    day, month, year, missing = _components(dates)
    if partial is not None:
        day = day.where(~partial.to_numpy(dtype=bool), "UN")
    out = day + "-" + pd.Series(_MONTHS[month.to_numpy() - 1], index=dates.index) + "-" + year
    return out.where(~missing, "")


def local_dates(dates: pd.Series, formats: pd.Series) -> pd.Series:
    """Each date in its own row's strftime pattern (only %d, %m, %Y and literal separators)."""
    day, month, year, missing = _components(dates)
    month = month.astype(str).str.zfill(2)
    pieces = {"%d": day, "%m": month, "%Y": year}
    out = pd.Series("", index=dates.index, dtype=object)
    for pattern in formats.unique():
        mask = (formats == pattern).to_numpy()
        text = pd.Series("", index=dates.index[mask], dtype=object)
        for token in re.findall(r"%[dmY]|[^%]+", pattern):
            text = text + (pieces[token][mask] if token in pieces else token)
        out[mask] = text
    return out.where(~missing, "")


def decimals(values: pd.Series, separator: pd.Series | str) -> pd.Series:
    text = pd.Series(np.char.mod("%.1f", values.to_numpy(dtype=float)), index=values.index, dtype=object)
    comma = (separator == ",") if isinstance(separator, pd.Series) else pd.Series(separator == ",", index=values.index)
    return text.where(~comma.to_numpy(), text.str.replace(".", ",", regex=False))


def _plain(values: pd.Series) -> pd.Series:
    """Numbers without a spurious '.0', everything else as text, missing as ''."""
    if pd.api.types.is_float_dtype(values) and (values.dropna() == values.dropna().round()).all():
        values = values.astype("Int64")
    return values.astype(object).where(values.notna(), "").astype(str)


def code_slips(values: pd.Series, rng: np.random.Generator, rate: float = CODE_SLIP_RATE) -> pd.Series:
    """Case and whitespace slips in a coded field, on a share ``rate`` of the non-empty values."""
    slip = (rng.random(len(values)) < rate) & (values != "").to_numpy()
    kind = rng.integers(0, 4, len(values))
    variants = [values.str.lower(), " " + values, values + " ", values.str.title()]
    out = values.copy()
    for k, variant in enumerate(variants):
        mask = slip & (kind == k)
        out[mask] = variant[mask]
    return out


def render_field(f: Field, typed: pd.DataFrame, subj: pd.DataFrame, form: str = "") -> pd.Series:
    if f.name in KEY_FIELDS:
        return subj[f.name]
    if f.name not in typed.columns:
        raise SpecError(f"the raw dictionary's field {f.name} has no source: the profile's forms must say which "
                        "record variable fills it", key=f"forms.{form}.fields.{f.name}")
    values = typed[f.name]
    if f.type == "date" and f.format == "edc":
        partial = typed.get(f"{f.name}_partial")
        return edc_dates(values, partial)
    if f.type == "date" and f.format in LOCAL_DATE_FORMATS:
        return local_dates(values, pd.Series(LOCAL_DATE_FORMATS[f.format], index=values.index))
    if f.type == "date":
        return local_dates(values, subj["date_format"])
    if f.type == "decimal":
        return decimals(values, subj["decimal"] if f.decimal == "site_local" else ".")
    return _plain(values)


def render_form(name: str, study: SimulatedStudy, dictionary: RawDictionary, rng: np.random.Generator) -> pd.DataFrame:
    form = dictionary.forms[name]
    if name not in study.forms:
        raise SpecError(f"the raw dictionary's form {name} has no source: the profile's forms must say which "
                        "records fill it", key=f"forms.{name}")
    typed = study.forms[name].reset_index(drop=True)
    s = study.subjects
    i = typed["_i"].to_numpy()
    subj = pd.DataFrame(
        {
            "STUDYID": study.profile.study.studyid,
            "SITEID": s["SITEID"].to_numpy()[i],
            "SUBJID": s["SUBJID"].to_numpy()[i],
            "date_format": s["date_format"].to_numpy()[i],
            "decimal": s["decimal"].to_numpy()[i],
        }
    )
    out = pd.DataFrame({f.name: render_field(f, typed, subj, name).to_numpy() for f in form.fields})
    for f in form.fields:
        if f.type == "code":
            out[f.name] = code_slips(out[f.name], rng)
    return out


def add_duplicates(forms: dict[str, pd.DataFrame], rate: float, rng: np.random.Generator,
                   duplicable: list[str]) -> list[dict]:
    """Export some records of the ``duplicable`` forms (the profile's) twice (adjacent), as an EDC
    re-export does; returns the manifest entries."""
    entries = []
    if rate <= 0:
        return entries
    for name in duplicable:
        frame = forms[name]
        twice = rng.random(len(frame)) < rate
        repeats = 1 + twice.astype(int)
        forms[name] = frame.loc[np.repeat(frame.index.to_numpy(), repeats)].reset_index(drop=True)
        original_pos = (np.cumsum(repeats) - repeats)[twice]  # 0-based position of each original
        entries += [{"form": name, "row": int(p) + 2, "duplicate_of": int(p) + 1} for p in original_pos]
    return entries
