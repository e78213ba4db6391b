"""Generic ADaM derivations in admiral's grammar: ``derive_var_*`` adds one variable,
``derive_vars_*`` several. Each one checks its inputs first (missing variables, duplicate keys,
unreadable dates, names that would overwrite existing variables) and raises an ``AdamError`` naming
the dataset, the variables and the rows before anything is derived, then derives on whole columns:
no per-record Python loops, so a derivation costs about the same for 1,000 or 1,000,000 rows.

The semantics follow pharmaverse admiral (``derive_vars_merged``, ``derive_vars_dt``,
``derive_vars_dy``, ``derive_var_extreme_flag``) so that a derivation reviewed against admiral's
documentation gives the same values here; where this module deliberately differs (errors instead of
silent overwrites, '' instead of NA for character flags, Y/N existence flags), the function's
docstring says so.

Conditions (``filter_add``, ``filter``) are expression texts of the spec grammar
(``trialkit.expressions``), so a spec can say ``EXDOSE > 0 or norm(EXTRT) == 'PLACEBO'`` and never
run code; a boolean Series aligned with the frame is accepted too, for use from Python.

Sort order (``order``): a list of variable names, ``'-NAME'`` for descending. Missing values always sort
last, ascending or descending, as in admiral (``dplyr::arrange``), so ``mode='last'`` picks a record
with a missing order value if its group has one: filter such records out when that is not wanted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from trialkit.adam.checks import (
    CHECK_TYPES,
    assert_unique,
    assert_variables,
    signal_duplicates,
)
from trialkit.adam.errors import AdamError
from trialkit.display import show
from trialkit.expressions import parse
from trialkit.vectorize import per_unique

# ---- shared argument handling ------------------------------------------------------------------


def _names(value, arg: str) -> list[str]:
    """A variable list argument: one name or a sequence of names (order kept, no duplicates)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    names = list(value)
    if not all(isinstance(n, str) and n for n in names):
        raise AdamError(f"{arg} must be variable names, not {value!r}")
    return list(dict.fromkeys(names))


def _parse_order(order, arg: str = "order") -> tuple[list[str], list[bool]]:
    """``['AVISITN', '-AVAL']`` -> (['AVISITN', 'AVAL'], [True, False])."""
    columns, ascending = [], []
    for item in _names(order, arg):
        desc = item.startswith("-")
        name = item[1:].strip() if desc else item.strip()
        if not name:
            raise AdamError(f"{arg}: {item!r} names no variable")
        columns.append(name)
        ascending.append(not desc)
    if len(set(columns)) != len(columns):
        raise AdamError(f"{arg}: a variable is listed twice in {order!r}")
    return columns, ascending


def _condition(frame: pd.DataFrame, condition, dataset: str, arg: str) -> np.ndarray:
    """Rows of ``frame`` where ``condition`` holds, as a boolean array (all rows when None).

    Text is parsed by the whitelisted grammar (a SpecError for anything it does not allow); the
    variables it uses are checked first, so a typo is an AdamError naming them and the dataset,
    not a KeyError from deep inside the evaluation.
    """
    if condition is None:
        return np.ones(len(frame), dtype=bool)
    if isinstance(condition, str):
        expr = parse(condition, key=arg)
        assert_variables(frame, sorted(expr.fields), dataset, what=f"{arg} ({condition!r}) uses")
        value = expr.evaluate(frame)
        if value.dtype != bool:
            raise AdamError(f"{arg} {condition!r} is not a condition (it gives {value.dtype} values, not true/false)",
                            dataset=dataset)
        return value.to_numpy()
    if isinstance(condition, pd.Series):
        if not condition.index.equals(frame.index) or condition.dtype != bool:
            raise AdamError(f"{arg} given as a Series must be boolean and have the dataset's index", dataset=dataset)
        return condition.to_numpy()
    raise AdamError(f"{arg} must be an expression text or a boolean Series, not {type(condition).__name__}",
                    dataset=dataset)


def _assert_new(dataset: pd.DataFrame, names: Sequence[str], dataset_name: str, hint: str = "") -> None:
    """Derivations add variables, they never overwrite one silently: an existing name is an error
    (admiral warns and overwrites for some functions; a silently replaced ADaM variable is a wrong
    dataset nobody notices)."""
    twice = sorted({n for n in names if list(names).count(n) > 1})
    if twice:
        raise AdamError(f"new variable{'s' if len(twice) > 1 else ''} {', '.join(twice)} would be created twice",
                        dataset=dataset_name, variables=twice)
    clash = [n for n in names if n in dataset.columns]
    if clash:
        hint = hint or f"drop or rename {'them' if len(clash) > 1 else 'it'} first, or choose other names"
        raise AdamError(
            f"variable{'s' if len(clash) > 1 else ''} {', '.join(clash)} already in the dataset "
            f"(derivations never overwrite): {hint}",
            dataset=dataset_name, variables=clash,
        )


def _check_type(check_type: str, dataset_name: str) -> None:
    if check_type not in CHECK_TYPES:
        raise AdamError(f"check_type must be one of {', '.join(CHECK_TYPES)}, not {check_type!r}", dataset=dataset_name)


def _extreme_positions(keys: pd.DataFrame, by: list[str], order: list[str], ascending: list[bool],
                       mode: str) -> np.ndarray:
    """Positions (into ``keys``) of the first / last record of each by group in ``order``.

    One stable sort of the whole frame and one grouped head/tail: records equal in ``order`` keep
    their input order, missing order values sort last in either direction (as dplyr/admiral do).
    """
    frame = keys.reset_index(drop=True)
    ordered = frame.sort_values(order, ascending=ascending, na_position="last", kind="stable") if order else frame
    if not by:
        picked = ordered.index[:1] if mode == "first" else ordered.index[-1:]
    else:
        grouped = ordered.groupby(by, sort=False, dropna=False, observed=True)
        picked = (grouped.head(1) if mode == "first" else grouped.tail(1)).index
    return np.sort(picked.to_numpy())


# ---- derive_vars_merged --------------------------------------------------------------------------


def derive_vars_merged(
    dataset: pd.DataFrame,
    dataset_add: pd.DataFrame,
    by_vars,
    new_vars=None,
    filter_add=None,
    order=None,
    mode: str | None = None,
    exist_flag: str | None = None,
    *,
    true_value: str = "Y",
    false_value: str = "N",
    check_type: str = "warning",
    dataset_name: str = "",
    add_name: str = "",
) -> pd.DataFrame:
    """Add variables from ``dataset_add`` to ``dataset`` by a left join on ``by_vars`` (admiral's
    ``derive_vars_merged``): e.g. ADSL.TRTSDT from the first valid dose in EX.

    ``by_vars``: list of names, or ``{name in dataset: name in dataset_add}`` to join on differently
    named keys. ``new_vars``: list of names, ``{new name: name in dataset_add}`` to rename, or None for
    all variables of ``dataset_add`` except the keys. ``filter_add``: condition selecting the records
    of ``dataset_add`` to use. ``order`` + ``mode`` ('first' / 'last'): select one record per by group.
    ``exist_flag``: name of a flag set to ``true_value`` ('Y') where a record was merged and
    ``false_value`` ('N') elsewhere (admiral's default false value is NA; ADaM Y/N flags want 'N').

    The result has exactly the rows of ``dataset``, in its order and with its index; records of
    ``dataset`` without a match get missing values. That is why, without ``mode``, the selected
    records of ``dataset_add`` must be unique by ``by_vars``: a duplicate would multiply rows, so it
    is an AdamError listing the duplicate keys and their row numbers in ``dataset_add``. With
    ``mode``, records tied in ``by_vars`` + ``order`` make the choice depend on input order: reported
    as ``check_type`` says ('warning' by default, as admiral; 'error'; 'none'), the first of the
    tied records in input order is taken.

    Errors (AdamError): by variables missing in either dataset; ``new_vars`` / ``order`` / filter
    variables missing in ``dataset_add``; a new variable (or ``exist_flag``) already in ``dataset``
    (admiral also refuses variables contained in both datasets); ``mode`` without ``order`` or
    ``order`` without ``mode`` (admiral ignores a lone ``mode``; here it would hide a mistake).
    """
    ds_name = dataset_name or "dataset"
    ad_name = add_name or "dataset_add"
    if isinstance(by_vars, Mapping):
        by_map = {str(k): str(v) for k, v in by_vars.items()}
    else:
        by_map = {v: v for v in _names(by_vars, "by_vars")}
    if not by_map:
        raise AdamError("by_vars must name at least one variable", dataset=ds_name)
    assert_variables(dataset, by_map.keys(), ds_name, what="by")
    assert_variables(dataset_add, by_map.values(), ad_name, what="by")
    if mode not in (None, "first", "last"):
        raise AdamError(f"mode must be 'first', 'last' or None, not {mode!r}", dataset=ad_name)
    order_cols, ascending = _parse_order(order)
    if mode is not None and not order_cols:
        raise AdamError(f"mode={mode!r} needs order: the variables that say which record is the {mode}",
                        dataset=ad_name)
    if order_cols and mode is None:
        raise AdamError("order is given without mode: say whether the 'first' or the 'last' record is wanted",
                        dataset=ad_name)
    assert_variables(dataset_add, order_cols, ad_name, what="order")
    _check_type(check_type, ds_name)

    add_keys = list(by_map.values())
    if new_vars is None:
        rename = {c: c for c in dataset_add.columns if c not in add_keys}
    elif isinstance(new_vars, Mapping):
        rename = {str(k): str(v) for k, v in new_vars.items()}
    else:
        rename = {v: v for v in _names(new_vars, "new_vars")}
    assert_variables(dataset_add, rename.values(), ad_name, what="new_vars")
    _assert_new(dataset, list(rename) + ([exist_flag] if exist_flag else []), ds_name,
                hint="add it to by_vars, leave it out of new_vars, or choose another name")

    keep = _condition(dataset_add, filter_add, ad_name, "filter_add")
    positions = np.flatnonzero(keep)
    selected = dataset_add.iloc[positions]
    if mode is None:
        assert_unique(selected, add_keys, ad_name, row_numbers=positions + 1,
                      context=f"records to merge into {ds_name} must be unique by the by variables "
                              f"(or give order and mode to pick one)")
    else:
        tie_keys = list(dict.fromkeys(add_keys + order_cols))
        signal_duplicates(selected, tie_keys, ad_name, check_type,
                          row_numbers=positions + 1,
                          context=f"order does not identify the {mode} record per by group")
        picked = _extreme_positions(selected[tie_keys], add_keys, order_cols, ascending, mode)
        selected = selected.iloc[picked]

    marker = "__trialkit_merged__"
    chosen = selected.reset_index(drop=True)
    right = pd.DataFrame({dk: chosen[ak] for dk, ak in by_map.items()})
    for new, old in rename.items():
        right[new] = chosen[old]  # dtypes kept (dates stay dates, nullable ints stay nullable)
    right[marker] = True
    left = dataset[list(by_map)].reset_index(drop=True)
    try:
        merged = left.merge(right, on=list(by_map), how="left", validate="many_to_one", sort=False)
    except (ValueError, TypeError) as exc:  # incompatible key types (e.g. text against numbers)
        raise AdamError(f"cannot join on {', '.join(by_map)}: {exc}", dataset=ds_name, keys=list(by_map)) from None
    if len(merged) != len(dataset):  # cannot happen after the uniqueness check; never let it pass
        raise AdamError("the join changed the number of records", dataset=ds_name, keys=list(by_map))
    added = merged[list(rename)]
    if exist_flag:
        added = added.assign(**{exist_flag: np.where(merged[marker].notna().to_numpy(), true_value, false_value)})
    added.index = dataset.index
    return pd.concat([dataset, added], axis=1)


# ---- derive_vars_dt ------------------------------------------------------------------------------

LEVELS = {"n": 0, "D": 1, "M": 2, "Y": 3}
_DTC = re.compile(
    r"^(?P<y>\d{4}|-)(?:-(?P<m>\d{2}|-)(?:-(?P<d>\d{2}|-))?)?"
    r"(?:T(?:[01]\d|2[0-3]|-)(?::(?:[0-5]\d|-)(?::(?:[0-5]\d(?:\.\d+)?|-))?)?)?$"
)
_MMDD = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
MIN_YEAR, MAX_YEAR = 1678, 2261  # the years datetime64[ns] holds whole
_NEG, _POS = np.iinfo(np.int64).min + 1, np.iinfo(np.int64).max  # -inf / +inf of an unknown year


def derive_vars_dt(
    dataset: pd.DataFrame,
    new_vars_prefix: str,
    dtc: str,
    highest_imputation: str = "n",
    date_imputation: str = "first",
    flag_imputation: bool | str = True,
    min_dates: Sequence[str] | None = None,
    max_dates: Sequence[str] | None = None,
    *,
    dataset_name: str = "",
) -> pd.DataFrame:
    """Add ``<prefix>DT`` (a date: datetime64[ns] at midnight) and ``<prefix>DTF`` (its imputation
    flag) from the ISO 8601 character date ``dtc`` (admiral's ``derive_vars_dt``).

    Accepted ``dtc`` values: ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``, each with an optional time part
    (``THH``, ``THH:MM``, ``THH:MM:SS[.f]``, ignored: DT is a date), ``-`` for an unknown component
    (``2019---07``, ``2019-07--T10:00``) and missing / '' for no date. A component below a missing
    one is not used (``2019---07`` is treated as ``2019``; admiral's default ``preserve=FALSE``).
    Anything else (``2019-13``, ``2019-02-30``, ``19-01-05``...) is an AdamError naming the dataset,
    the variable, and the first rows with their values: a wrong date is never guessed at.

    ``highest_imputation``: the highest component that may be imputed, 'n' (none: partial dates
    give a missing DT), 'D' (day), 'M' (month and day), 'Y' (everything, only with min/max dates).
    A date missing more than that stays missing: with 'D', ``2019-07`` is imputed, ``2019`` is not.

    ``date_imputation`` (as admiral): 'first' -> day 01 / January 1; 'last' -> the last day of the
    month / December 31; 'mid' -> day 15 when only the day is missing, June 30 when month and day
    are missing (admiral's middle of the year; not July 1 or July 2); or 'MM-DD' -> that day (and,
    when the month is missing, that month): ``2019-02`` with '02-30' gives no date, as in admiral.
    With 'Y', ``date_imputation`` must be 'first' (with ``min_dates``) or 'last' (with ``max_dates``):
    an unknown year has no middle, and the first / last possible date of an unknown year is not a
    date; it becomes the min / max date when one is given (admiral's rule, an error otherwise).

    ``min_dates`` / ``max_dates``: names of date (datetime64) variables, e.g. TRTSDT, the data cut
    date. Following admiral exactly, a min (max) date is only considered when it lies within the
    range of dates the partial ``dtc`` allows (``2020-11`` allows 2020-11-01..2020-11-30), and then
    the imputed date is raised to it (lowered to it) if it was before (after) it. So an AE that
    started "in December 2020" for a subject treated from 2020-12-06 gets 2020-12-06, not
    2020-12-01; an AE of "November 2020" keeps 2020-11-01, because moving it to the treatment start
    would change the month that *was* collected. Each min date in range is applied in turn (so the
    latest of them wins), then each max date (so a max date wins over a min date when both apply).
    Complete dates are never changed; dates that are not imputed stay missing.

    ``<prefix>DTF``: 'D', 'M' or 'Y', the highest imputed component (ADaMIG), '' where the date is
    complete or missing (admiral gives NA; '' is the missing character value of XPT). A date that
    only a min/max date filled in is flagged like any other imputation. ``flag_imputation``: True
    adds DTF, False does not, 'auto' adds it unless ``highest_imputation`` is 'n' (admiral's default;
    here True is the default, so the columns a spec gets do not depend on the imputation level).

    Both new variables must not exist yet (AdamError; admiral overwrites DT with a warning).
    """
    ds_name = dataset_name or "dataset"
    if not isinstance(new_vars_prefix, str) or not new_vars_prefix:
        raise AdamError(f"new_vars_prefix must be a non-empty text, not {new_vars_prefix!r}", dataset=ds_name)
    assert_variables(dataset, [dtc], ds_name, what="dtc")
    if highest_imputation not in LEVELS:
        raise AdamError(f"highest_imputation must be one of n, D, M, Y, not {highest_imputation!r}", dataset=ds_name)
    keyword = date_imputation in ("first", "mid", "last")
    if not keyword and not (isinstance(date_imputation, str) and _MMDD.match(date_imputation)):
        raise AdamError(f"date_imputation must be 'first', 'mid', 'last' or 'MM-DD', not {date_imputation!r}",
                        dataset=ds_name)
    if flag_imputation not in (True, False, "auto"):
        raise AdamError(f"flag_imputation must be True, False or 'auto', not {flag_imputation!r}", dataset=ds_name)
    min_cols, max_cols = _names(min_dates, "min_dates"), _names(max_dates, "max_dates")
    if highest_imputation == "Y":
        if date_imputation not in ("first", "last"):
            raise AdamError("highest_imputation='Y' needs date_imputation 'first' or 'last': an unknown year has no "
                            "middle", dataset=ds_name)
        if date_imputation == "first" and not min_cols:
            raise AdamError("highest_imputation='Y' with date_imputation='first' needs min_dates (the first possible "
                            "date of an unknown year is no date)", dataset=ds_name)
        if date_imputation == "last" and not max_cols:
            raise AdamError("highest_imputation='Y' with date_imputation='last' needs max_dates (the last possible "
                            "date of an unknown year is no date)", dataset=ds_name)
    assert_variables(dataset, min_cols + max_cols, ds_name, what="min/max date")
    for col in min_cols + max_cols:
        _assert_date_column(dataset, col, ds_name)
    dt_var, dtf_var = f"{new_vars_prefix}DT", f"{new_vars_prefix}DTF"
    add_flag = flag_imputation is True or (flag_imputation == "auto" and highest_imputation != "n")
    _assert_new(dataset, [dt_var] + ([dtf_var] if add_flag else []), ds_name)

    # parse and impute once per distinct --DTC value; the min/max clamp below is per row
    parsed = per_unique(dataset[dtc], lambda u: _impute_unique(u, highest_imputation, date_imputation))
    level, lower, upper, imputed, problem = parsed
    bad = (problem != "").to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = "; ".join(f"row {r + 1} {show(dataset[dtc].iloc[r])} ({problem.iloc[r]})" for r in rows[:5])
        more = f"; ... ({len(rows)} in all)" if len(rows) > 5 else ""
        raise AdamError(f"{len(rows)} value{'s are' if len(rows) > 1 else ' is'} not an ISO 8601 date "
                        f"(YYYY[-MM[-DD]][Thh[:mm[:ss]]]): {shown}{more}",
                        dataset=ds_name, column=dtc, variables=[dtc], rows=(rows + 1).tolist(),
                        subjects=dataset["USUBJID"].iloc[rows] if "USUBJID" in dataset else None)

    value = imputed.to_numpy(dtype=np.int64)
    if min_cols or max_cols:
        lo, hi = lower.to_numpy(dtype=np.int64), upper.to_numpy(dtype=np.int64)
        imputable = value != np.iinfo(np.int64).min  # NaT: not imputed (level above the highest)
        for cols, pick in ((min_cols, np.maximum), (max_cols, np.minimum)):
            for col in cols:
                day = _day(dataset[col])
                bound = day.to_numpy(dtype=np.int64)
                inside = imputable & day.notna().to_numpy() & (lo <= bound) & (bound <= hi)
                value = np.where(inside, pick(value, bound), value)
    value = np.where((value == _NEG) | (value == _POS), np.iinfo(np.int64).min, value)
    dt = pd.Series(value.view("datetime64[ns]"), index=dataset.index, name=dt_var)
    new = {dt_var: dt}
    if add_flag:
        flag = np.where(dt.notna().to_numpy() & (level != "n").to_numpy(), level.to_numpy(dtype=object), "")
        new[dtf_var] = pd.Series(flag, index=dataset.index, dtype=object)
    return dataset.assign(**new)


def _assert_date_column(dataset: pd.DataFrame, col: str, ds_name: str) -> None:
    if not pd.api.types.is_datetime64_any_dtype(dataset[col]):
        raise AdamError(f"{col} must be a date variable (datetime64), not {dataset[col].dtype}: derive it with "
                        f"derive_vars_dt first", dataset=ds_name, column=col, variables=[col])


def _day(values: pd.Series) -> pd.Series:
    """Dates / datetimes as the day they fall on (time dropped, time zone dropped), datetime64[ns]."""
    s = values
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_localize(None)
    return s.dt.normalize().astype("datetime64[ns]")


def _impute_unique(values: pd.Series, highest: str, date_imputation: str):
    """For distinct --DTC values: (level, lower, upper, imputed, problem).

    level: 'n' complete, 'D' day missing, 'M' month missing, 'Y' year missing (or no date at all);
    lower / upper: the first / last date the value allows (int64 nanoseconds; -inf / +inf
    sentinels for an unknown year); imputed: the date ``date_imputation`` gives, NaT when the level
    is above ``highest``; problem: '' or why the value is not a date.
    """
    idx = values.index
    if len(values) == 0:
        empty_i8, empty_text = pd.Series([], index=idx, dtype=np.int64), pd.Series([], index=idx, dtype=object)
        return empty_text, empty_i8, empty_i8, empty_i8, empty_text
    text = values.astype(object).where(values.notna(), "").astype(str).str.strip()
    parts = text.str.extract(_DTC)
    empty = (text == "").to_numpy()
    shape_ok = parts["y"].notna().to_numpy() | empty
    problem = np.where(shape_ok, "", "not ISO 8601").astype(object)

    def number(col):
        part = parts[col].where(parts[col].notna() & (parts[col] != "-"))
        return pd.to_numeric(part, errors="coerce").to_numpy(dtype=float)

    year, month, day = number("y"), number("m"), number("d")
    # a component below a missing one is not used (admiral, preserve = FALSE)
    month[np.isnan(year)] = np.nan
    day[np.isnan(month)] = np.nan
    out_of_range = shape_ok & ~np.isnan(year) & ((year < MIN_YEAR) | (year > MAX_YEAR))
    problem[out_of_range] = f"year outside {MIN_YEAR}-{MAX_YEAR}"
    problem[shape_ok & ((month < 1) | (month > 12))] = "month out of range"
    level = np.select([np.isnan(year), np.isnan(month), np.isnan(day)], ["Y", "M", "D"], "n").astype(object)

    ok = problem == ""
    y = np.where(ok & ~np.isnan(year), year, 2000).astype(int)
    m = np.where(ok & ~np.isnan(month), month, 1).astype(int)
    first_of_month = pd.to_datetime(pd.DataFrame({"year": y, "month": m, "day": 1}))
    month_end = first_of_month + pd.offsets.MonthEnd(0)
    jan1 = pd.to_datetime(pd.DataFrame({"year": y, "month": 1, "day": 1}))
    dec31 = pd.to_datetime(pd.DataFrame({"year": y, "month": 12, "day": 31}))
    complete = pd.to_datetime(
        pd.DataFrame({"year": y, "month": m, "day": np.where(level == "n", np.nan_to_num(day, nan=1), 1).astype(int)}),
        errors="coerce")
    problem[ok & (level == "n") & complete.isna().to_numpy()] = "impossible date"
    ok = problem == ""

    def i8(s):  # dates as int64 nanoseconds, NaT as int64 min
        return s.to_numpy(dtype="datetime64[ns]").view(np.int64)

    nat = np.iinfo(np.int64).min
    lower = np.select([level == "n", level == "D", level == "M"], [i8(complete), i8(first_of_month), i8(jan1)], _NEG)
    upper = np.select([level == "n", level == "D", level == "M"], [i8(complete), i8(month_end), i8(dec31)], _POS)

    if date_imputation == "first":
        target_d, target_m = lower, lower
    elif date_imputation == "last":
        target_d, target_m = upper, upper
    elif date_imputation == "mid":
        target_d = i8(first_of_month + pd.Timedelta(days=14))
        target_m = i8(pd.to_datetime(pd.DataFrame({"year": y, "month": 6, "day": 30})))
    else:  # 'MM-DD': the day (day missing), or month and day (month missing); impossible -> no date
        mm, dd = (int(p) for p in date_imputation.split("-"))
        target_d = i8(pd.to_datetime(pd.DataFrame({"year": y, "month": m, "day": dd}), errors="coerce"))
        target_m = i8(pd.to_datetime(pd.DataFrame({"year": y, "month": mm, "day": dd}), errors="coerce"))
    target_y = _NEG if date_imputation == "first" else (_POS if date_imputation == "last" else nat)
    imputed = np.select([level == "n", level == "D", level == "M"], [lower, target_d, target_m], target_y)
    allowed = np.array([LEVELS[lv] <= LEVELS[highest] for lv in ("n", "D", "M", "Y")])
    level_code = np.select([level == "n", level == "D", level == "M"], [0, 1, 2], 3)
    imputed = np.where(allowed[level_code] & ok, imputed, nat)

    return (pd.Series(level, index=idx, dtype=object), pd.Series(lower, index=idx, dtype=np.int64),
            pd.Series(upper, index=idx, dtype=np.int64), pd.Series(imputed, index=idx, dtype=np.int64),
            pd.Series(problem, index=idx, dtype=object))


# ---- derive_vars_dy ------------------------------------------------------------------------------


def derive_vars_dy(
    dataset: pd.DataFrame,
    reference_date: str,
    source_vars,
    *,
    dataset_name: str = "",
) -> pd.DataFrame:
    """Add ADaM study days (``--DY``) for date variables, relative to ``reference_date`` (usually
    TRTSDT), as admiral's ``derive_vars_dy``: ``{ 'ASTDY': 'ASTDT' }``, or a list of date names whose
    DY name is derived the way admiral does (``ASTDT`` -> ``ASTDY``, ``ADTM`` -> ``ADY``).

    There is no day 0 (ADaMIG): on or after the reference date, day = date - reference + 1; before
    it, day = date - reference (the day before is -1). Times are ignored (datetimes count by their
    calendar day). Missing (NaN, float64 as XPT numerics) where either date is missing. The dates
    must be datetime64 variables: character --DTC values go through ``derive_vars_dt`` first, so
    that partial dates are imputed (or not) by an explicit rule.
    """
    ds_name = dataset_name or "dataset"
    if isinstance(source_vars, Mapping):
        targets = {str(k): str(v) for k, v in source_vars.items()}
    else:
        targets = {}
        for src in _names(source_vars, "source_vars"):
            stem = src[:-3] if src.endswith("DTM") else src[:-2] if src.endswith("DT") else None
            if stem is None:
                raise AdamError(f"cannot name the study day of {src} (it does not end in DT or DTM): give "
                                f"source_vars as {{'<name>DY': '{src}'}}", dataset=ds_name, variables=[src])
            targets[stem + "DY"] = src
    if not targets:
        raise AdamError("source_vars must name at least one date variable", dataset=ds_name)
    assert_variables(dataset, [reference_date, *targets.values()], ds_name, what="date")
    for col in dict.fromkeys([reference_date, *targets.values()]):
        _assert_date_column(dataset, col, ds_name)
    _assert_new(dataset, list(targets), ds_name)

    ref = _day(dataset[reference_date])
    new = {}
    for name, src in targets.items():  # one vectorized subtraction per new variable
        days = (_day(dataset[src]) - ref).dt.days.astype("float64")
        new[name] = days.where(days < 0, days + 1)
    return dataset.assign(**new)


# ---- derive_var_extreme_flag ---------------------------------------------------------------------


def derive_var_extreme_flag(
    dataset: pd.DataFrame,
    by_vars,
    order,
    new_var: str,
    mode: str = "first",
    filter=None,  # admiral's argument name, even though it shadows the builtin
    true_value: str = "Y",
    false_value: str = "",
    *,
    check_type: str = "error",
    dataset_name: str = "",
) -> pd.DataFrame:
    """Add ``new_var``, set to ``true_value`` on the first / last record (by ``order``) of each by
    group among the records where ``filter`` holds, ``false_value`` elsewhere (admiral's
    ``derive_var_extreme_flag`` restricted by ``filter``, as ``restrict_derivation`` would): e.g. the
    last non-missing post-baseline value per subject and parameter.

    Exactly one record per by group is flagged; a group where no record passes ``filter`` gets no
    flag at all. If records of a group are tied in ``order`` the flagged one would depend on input
    order, so ties are an AdamError listing the tied records (``check_type='error'``, the default
    here; admiral defaults to a warning; 'warning' and 'none' keep the first tied record in input
    order). As in admiral, every tie among the candidates counts, not only a tie for the extreme:
    an ``order`` that does not identify records is a spec problem wherever it shows. Missing
    order values sort last, so with ``mode='last'`` they are picked: filter them out if needed.

    ``false_value`` defaults to '' (admiral: NA), the missing character value of XPT.
    """
    ds_name = dataset_name or "dataset"
    by = _names(by_vars, "by_vars")
    order_cols, ascending = _parse_order(order)
    if not order_cols:
        raise AdamError("order must name at least one variable", dataset=ds_name)
    if mode not in ("first", "last"):
        raise AdamError(f"mode must be 'first' or 'last', not {mode!r}", dataset=ds_name)
    if not isinstance(new_var, str) or not new_var:
        raise AdamError(f"new_var must be a variable name, not {new_var!r}", dataset=ds_name)
    assert_variables(dataset, by, ds_name, what="by")
    assert_variables(dataset, order_cols, ds_name, what="order")
    _check_type(check_type, ds_name)
    _assert_new(dataset, [new_var], ds_name)

    candidates = np.flatnonzero(_condition(dataset, filter, ds_name, "filter"))
    subset = dataset.iloc[candidates]
    keys = subset[list(dict.fromkeys(by + order_cols))]
    signal_duplicates(subset, by + order_cols, ds_name, check_type, row_numbers=candidates + 1,
                      context=f"order does not identify the {mode} record per by group (tied records)")
    flag = np.full(len(dataset), false_value, dtype=object)
    if len(candidates):
        flag[candidates[_extreme_positions(keys, by, order_cols, ascending, mode)]] = true_value
    return dataset.assign(**{new_var: pd.Series(flag, index=dataset.index, dtype=object)})


# ---- derive_extreme_event ------------------------------------------------------------------------

def derive_extreme_event(sources: Sequence[pd.DataFrame], by_vars, order, mode: str = "first",
                         *, dataset_name: str = "") -> pd.DataFrame:
    """One record per by group, the first / last by ``order`` across several sources (admiral's
    ``derive_extreme_event``): e.g. the earliest of relapse, M2 marrow, second malignancy and death.

    Sources are stacked in the order given; on a tie in ``order`` the record of the source listed
    first wins, so a spec's list order is its tie-break rule. Each source must have ``by_vars`` and
    ``order``; the result keeps the columns the sources share plus ``SOURCE`` (0-based position).
    """
    if mode not in ("first", "last"):
        raise AdamError(f"mode must be 'first' or 'last', not {mode!r}", dataset=dataset_name)
    by = _names(by_vars, "by_vars")
    order_cols, ascending = _parse_order(order)
    for k, src in enumerate(sources):
        assert_variables(src, [*by, *order_cols], f"{dataset_name} source {k}".strip())
    stacked = [src.assign(SOURCE=k) for k, src in enumerate(sources) if not src.empty]
    if not stacked:
        return pd.DataFrame(columns=[*by, *order_cols, "SOURCE"])
    frame = pd.concat(stacked, ignore_index=True)
    # the source position breaks ties the same way for first and last: listed first wins
    keys = frame[[*by, *order_cols]].assign(_src=frame["SOURCE"] if mode == "first" else -frame["SOURCE"])
    picked = _extreme_positions(keys, by, [*order_cols, "_src"], [*ascending, True], mode)
    return frame.iloc[picked].reset_index(drop=True)
