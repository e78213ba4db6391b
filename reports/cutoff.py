"""One data cut-off for every table and figure of a report.

An EDC snapshot is taken after the cut-off, so the ADaM datasets can hold what happened after it: a
death a week later and the end-of-study record it closes, an assessment, an adverse event. ADTTE is
derived at the cut-off (that death is a censoring at the last contact before it), so a table that
counted ADSL as it stands would disagree with the survival analysis on the same page: the demo at seed
272 had 14 deaths in the disposition table and 13 OS events in the blinatumomab arm, one subject dying
seven days after the cut-off.

The report spec declares the rule once (``cutoff:``, loaded by reports.tlf): the ADSL variable with
the cut-off date; the ADSL values that hold from a date on (DTHFL from DTHDT, DCSREAS and EOSSTT from
EOSDT), read as their value before that date when it falls after the cut-off, the date itself then
blank; and, for the other datasets, the date of a record, records after the cut-off left out.
``Analysis`` hands every table and figure the datasets through ``cut_dataset``, so no output can apply
another rule, and every output says so in its footnote (``footnote``).
"""

from __future__ import annotations

import pandas as pd

from trialkit.errors import InputError
from trialkit.reports.tlf import Cutoff


def cutoff_date(adsl: pd.DataFrame, cutoff: Cutoff) -> pd.Timestamp:
    """The one cut-off date of ADSL; none, or more than one, is an InputError: the report must not
    mix snapshots, nor present data without saying when they stop."""
    if cutoff.date not in adsl:
        raise InputError("the report spec's data cut-off variable is not in ADSL", file="adsl.xpt", column=cutoff.date)
    dates = pd.to_datetime(adsl[cutoff.date]).dropna().unique()
    if len(dates) != 1:
        shown = ", ".join(pd.Timestamp(d).strftime("%Y-%m-%d") for d in sorted(dates)[:3])
        found = f"found {len(dates)}" + (f" ({shown})" if shown else "")
        raise InputError(f"the data cut-off must be one date for every subject; {found}", file="adsl.xpt", column=cutoff.date)
    return pd.Timestamp(dates[0])


def cut_dataset(name: str, frame: pd.DataFrame, cutoff: Cutoff, date: pd.Timestamp) -> pd.DataFrame:
    """``frame`` as of the cut-off ``date``: ADSL with its dated values read as before the cut-off
    where their date is after it, another dataset without its records dated after it (a record
    without a date stays: nothing says it is after)."""
    if name == "ADSL":
        return _cut_subject_values(frame, cutoff, date)
    variable = cutoff.records.get(name)
    if variable is None:
        return frame
    if variable not in frame:
        raise InputError(f"the report spec's cut-off dates {name} records by {variable}, which {name} does not have",
                         file=f"{name.lower()}.xpt", column=variable)
    return frame[~(pd.to_datetime(frame[variable]) > date).to_numpy()]


def _cut_subject_values(adsl: pd.DataFrame, cutoff: Cutoff, date: pd.Timestamp) -> pd.DataFrame:
    missing = sorted({v for rule in cutoff.subject_values for v in (rule.variable, rule.date)} - set(adsl.columns))
    if missing:
        raise InputError("the report spec's cut-off names ADSL variables that ADSL does not have", file="adsl.xpt",
                         column=", ".join(missing))
    after = {rule.date: (pd.to_datetime(adsl[rule.date]) > date).to_numpy() for rule in cutoff.subject_values}
    if not any(mask.any() for mask in after.values()):
        return adsl
    out = adsl.copy()
    for rule in cutoff.subject_values:
        values = out[rule.variable].astype(object)
        values[after[rule.date]] = rule.before
        out[rule.variable] = values
    for variable, mask in after.items():   # the dates last: several values can hang on one date
        out.loc[mask, variable] = pd.NaT
    return out


def footnote(date: pd.Timestamp) -> str:
    """The line every table and figure ends its footnotes with."""
    return (f"Data cut-off: {date:%Y-%m-%d}; deaths, discontinuations, events and records dated after it are not "
            "counted (the same cut-off in every table and figure).")
