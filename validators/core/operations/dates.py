"""Date operations: study day, earliest and latest date (CORE Operations.md). Dates are read by
:mod:`trialkit.validators.core.iso8601`, the reader the date operators use too."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialkit.validators.core.context import MissingVariable
from trialkit.validators.core.iso8601 import UNITS, read_dates
from trialkit.validators.core.operations import DomainNotFound, Operation, operation


@operation("dy")
def study_day(op: Operation) -> pd.Series:
    """The study day of each record's date (``name``, --DTC) against its subject's DM.RFSTDTC:
    the days between the two dates, plus one when the date is on or after RFSTDTC (there is no day
    0). Only complete dates count (CORE's is_complete_date; the time and its zone are ignored); a
    record whose date, RFSTDTC or subject in DM is missing has no study day (null)."""
    dm = op.ctx.study.by_name("DM")
    if dm is None:
        raise DomainNotFound(f"operation {op.id} (dy) needs DM, which the study does not have")
    dm_records = op.ctx.study.content(dm)
    if "RFSTDTC" not in dm_records.columns:
        raise MissingVariable("RFSTDTC")
    starts = dm_records.drop_duplicates("USUBJID").set_index("USUBJID")["RFSTDTC"]
    return study_days(op.ctx.column(op.target), op.ctx.column("USUBJID").map(starts))


def study_days(dates: pd.Series, starts: pd.Series) -> pd.Series:
    """Each record's study day of ``dates`` against its subject's RFSTDTC in ``starts`` (aligned):
    an int, None where either is not a complete date (``dy``; the Spark engine runs this on batches)."""
    days = (read_dates(dates).day - read_dates(starts).day).dt.days.astype("Int64")
    days = days.where(days < 0, days + 1)
    return days.astype(object).where(days.notna(), None)


@operation("min_date")
def min_date(op: Operation) -> pd.DataFrame | str:
    """The earliest date of ``name`` over the records read (the ``domain``'s, else the dataset's),
    per ``group`` when given, written to its own precision (2019-05, 2019-05-06T10:30; seconds at
    most, in UTC); '' where there is none. Partial dates count at their first instant (2019-05 is
    2019-05-01T00:00) and the first record listed wins a tie. Values that are not dates, and dates
    with uncertainty (2019---15), take no part; CORE's engine cannot read them here and stops the
    rule with an execution error instead."""
    return _extreme(op, latest=False)


@operation("max_date")
def max_date(op: Operation) -> pd.DataFrame | str:
    """The latest date of ``name``, as ``min_date`` finds the earliest."""
    return _extreme(op, latest=True)


def _extreme(op: Operation, latest: bool) -> pd.DataFrame | str:
    if op.target not in op.source.columns:
        raise MissingVariable(op.target)
    values = op.source[op.target].astype(object)
    dates = read_dates(values)
    usable = dates.valid & ~dates.uncertain & dates.moment.notna()
    keys = op.group
    table = op.source.loc[usable, keys].assign(_moment=dates.moment[usable], _order=np.arange(int(usable.sum())))
    table[op.id] = _as_written(dates.moment[usable], dates.precision[usable])
    table = table.sort_values([*keys, "_moment", "_order"], ascending=[True] * len(keys) + [not latest, True],
                              kind="stable")
    if not keys:
        return table[op.id].iloc[0] if len(table) else ""
    return table.dropna(subset=keys).drop_duplicates(keys)[[*keys, op.id]]


def _as_written(moment: pd.Series, precision: pd.Series) -> pd.Series:
    out = pd.Series("", index=moment.index, dtype=object)
    for level, unit in enumerate(UNITS[:6]):
        rows = (np.minimum(precision, 5) == level).to_numpy()
        out[rows] = np.datetime_as_string(moment[rows].to_numpy().astype(f"datetime64[{unit}]"), unit=unit)
    return out

