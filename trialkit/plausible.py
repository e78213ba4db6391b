"""What a plausible date and age are: one definition for the SDTM stage and the validator.

A birth date in 2030 (AGE -14) or in 1700 (AGE 316) is a real calendar day, so no date parser
objects, and nothing downstream did either until the report printed "Min-max -14-316". These
checks say so, on ISO 8601 text as SDTM holds it, partial dates included (they are compared at the
precision both sides have: ``2019`` is not before ``2019-05-01``):

* the study window: every date lies between ``earliest`` (default 1900-01-01) and ``latest``
  (default: the data cut-off, TS.DCUTDTC, plus one year; without one, the day the check runs plus
  one year). A study sets both in ``sdtm/study.yaml``::

      plausible_dates: {earliest: 1920-01-01, latest: 2026-12-31}

* AGE in years lies within 0-130 (the oldest documented human lived 122 years);
* AGE agrees with BRTHDTC and RFSTDTC: whole years between them, or one less (SDTMIG lets a study
  take age at informed consent, which comes before RFSTDTC);
* nothing happens before birth: not death, not any other --DTC of the subject.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.errors import SpecError
from trialkit.spec import load_yaml, study_dir
from trialkit.vectorize import per_unique

MAX_AGE_YEARS = 130


@dataclass(frozen=True)
class DateWindow:
    earliest: str = "1900-01-01"
    latest: str = ""              # '' = the data cut-off + 1 year, else the day of the check + 1 year
    cutoff: str = ""              # the data cut-off (TS.DCUTDTC), when the data hold one

    def bounds(self) -> tuple[str, str]:
        return self.earliest, self.latest or ((self._cutoff() or date.today()) + timedelta(days=366)).isoformat()

    def _cutoff(self) -> date | None:
        try:
            return date.fromisoformat(self.cutoff[:10])
        except ValueError:
            return None

    def describe(self) -> str:
        earliest, latest = self.bounds()
        if self.latest:
            return f"{earliest} to {latest}"
        basis = f"data cut-off {self._cutoff().isoformat()}" if self._cutoff() else "today"
        return f"{earliest} to {latest} ({basis} + 1 year; set plausible_dates in sdtm/study.yaml)"

    def with_cutoff(self, trial_summary: pd.DataFrame | list[dict] | None) -> DateWindow:
        """This window with the data cut-off of a TS dataset (frame or records), when it has DCUTDTC."""
        ts = pd.DataFrame(trial_summary or []) if not isinstance(trial_summary, pd.DataFrame) else trial_summary
        if self.cutoff or not {"TSPARMCD", "TSVAL"} <= set(ts.columns):
            return self
        values = _text(ts["TSVAL"].astype(object))[_text(ts["TSPARMCD"].astype(object)) == "DCUTDTC"]
        return replace(self, cutoff=str(values.iloc[0])) if len(values) else self


def parse_window(raw, path: Path | str) -> DateWindow:
    """``plausible_dates:`` of a study.yaml (None: the defaults); a bad value is a SpecError."""
    if raw is None:
        return DateWindow()
    if not isinstance(raw, dict) or set(raw) - {"earliest", "latest"}:
        raise SpecError("plausible_dates: takes {earliest: YYYY-MM-DD, latest: YYYY-MM-DD}", file=str(path), key="plausible_dates")
    values = {}
    for key in ("earliest", "latest"):
        if key in raw:
            try:
                values[key] = date.fromisoformat(str(raw[key])).isoformat()
            except ValueError:
                raise SpecError(f"{raw[key]!r} is not a YYYY-MM-DD date", file=str(path), key=f"plausible_dates.{key}") from None
    window = DateWindow(**values)
    if window.bounds()[0] > window.bounds()[1]:
        raise SpecError("earliest is after latest", file=str(path), key="plausible_dates")
    return window


PRECISIONS = ((10, r"^\d{4}-\d{2}-\d{2}"), (7, r"^\d{4}-\d{2}"), (4, r"^\d{4}"))


def study_window(study: str | Path | None) -> DateWindow:
    """The study's window (``plausible_dates`` of its sdtm/study.yaml), or the defaults when no study
    is given or the study folder has no SDTM specs (validate needs none)."""
    if study is None:
        return DateWindow()
    path = study_dir(study) / "sdtm" / "study.yaml"
    if not path.is_file():
        return DateWindow()
    data = load_yaml(path)
    return parse_window(data.get("plausible_dates") if isinstance(data, dict) else None, path)


def _text(s: pd.Series) -> pd.Series:
    """Trimmed text, '' for missing; computed once per distinct value (columns repeat few values)."""
    return per_unique(s, lambda u: u.astype("string").fillna("").str.strip())


def _precision(s: pd.Series) -> pd.Series:
    """Length of the complete leading date part: 10 (YYYY-MM-DD), 7 (YYYY-MM), 4 (YYYY) or 0."""
    def precision(u: pd.Series) -> pd.Series:
        out = pd.Series(0, index=u.index)
        for n, pattern in reversed(PRECISIONS):   # shortest first so the longest match wins
            out = out.mask(u.str.match(pattern).fillna(False).astype(bool), n)
        return out
    return per_unique(_text(s).astype(object), precision)


def later(a: pd.Series, b: pd.Series) -> pd.Series:
    """ISO 8601 date a > b at the precision both complete (YYYY, YYYY-MM or YYYY-MM-DD; False when
    either has no complete year): ISO text of equal precision sorts as the dates do, and a partial
    date is never imputed (``2019`` is not before ``2019-05-01``)."""
    ta, tb = _text(a), _text(b)
    common = np.minimum(_precision(a), _precision(b))
    out = pd.Series(False, index=a.index)
    for n, _ in PRECISIONS:
        out |= (common == n) & (ta.str[:n] > tb.str[:n])
    return out.fillna(False).astype(bool)


def outside_window(dtc: pd.Series, window: DateWindow) -> pd.Series:
    """Dates (complete or partial) certainly before ``earliest`` or after ``latest``."""
    earliest, latest = window.bounds()

    def outside(u: pd.Series) -> pd.Series:       # once per distinct date: a column repeats its dates
        return later(pd.Series(earliest, index=u.index), u) | later(u, pd.Series(latest, index=u.index))
    return per_unique(_text(dtc).astype(object).str.slice(0, 10), outside)   # the time part never matters here


def implausible_age(age: pd.Series, ageu: pd.Series) -> pd.Series:
    """AGE in YEARS below 0 or above MAX_AGE_YEARS."""
    years = pd.to_numeric(age, errors="coerce")
    return _text(ageu).str.upper().eq("YEARS") & ((years < 0) | (years > MAX_AGE_YEARS))


def age_range(birth: pd.Series, reference: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The least and greatest whole years from BRTHDTC to RFSTDTC that the two dates allow (a
    partial birth date allows a range); NaN where either date has no year or the reference no day."""
    b, r = _text(birth).astype(object).str.slice(0, 10), _text(reference).astype(object).str.slice(0, 10)
    parts = b.str.extract(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$").astype(float)
    ref = r.str.extract(r"^(\d{4})-(\d{2})-(\d{2})$").astype(float)
    by, bm, bd = parts[0], parts[1], parts[2]
    ry, rm, rd = ref[0], ref[1], ref[2]

    def years(month, day):
        return ry - by - ((rm < month) | ((rm == month) & (rd < day))).astype(float)
    latest_birth = years(bm.fillna(12), bd.fillna(31))       # born as late as the partial date allows
    earliest_birth = years(bm.fillna(1), bd.fillna(1))
    known = by.notna() & ry.notna()
    return latest_birth.where(known), earliest_birth.where(known)


def age_disagrees(age: pd.Series, ageu: pd.Series, birth: pd.Series, reference: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(mask, expected text): AGE in YEARS that no birth date allowed by BRTHDTC gives at RFSTDTC,
    with one year of slack below for age taken at informed consent."""
    low, high = age_range(birth, reference)
    years = pd.to_numeric(age, errors="coerce")
    bad = _text(ageu).str.upper().eq("YEARS") & years.notna() & low.notna() & ((years < low - 1) | (years > high))
    expected = low.astype("Int64").astype(str).where(low == high, low.astype("Int64").astype(str) + "-" + high.astype("Int64").astype(str))
    return bad, expected
