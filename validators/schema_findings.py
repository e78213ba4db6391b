"""From a pandera schema run to ValidationFindings: shared by the SDTM and the ADaM schemas.

Every pandera check is named by the id of the rule it implements, so a failure case maps straight
back to its rule in the registry; a check with any other name is a bug here and raises rather than
being dropped. A finding names the dataset, the variable, the record (USUBJID, --SEQ, 1-based row)
and the value. Notice-level failures (a sponsor term outside an extensible codelist, say) are one
finding per distinct value with its record count and first record: the same term on 200,000
records is one fact, and 200,000 identical notices would drown the report and cost minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import narwhals as nw
import pandas as pd
import pandera.pandas as pa
from narwhals.dtypes import DType
from pandera.errors import SchemaErrors

from trialkit.display import plain
from trialkit.validators.rules import RULES, Rule, ValidationFinding
from trialkit.vectorize import per_unique

# The checks are written once, as narwhals expressions that are True where a value passes
# (DESIGN.md: one rule, several engines). pandera's pandas backend calls a check with the column
# and gets the expression evaluated there, once per distinct value (trialkit.vectorize.per_unique:
# an SDTM column of a million records holds a few thousand distinct values, and the string work is
# what costs); the Spark engine (validators/spark_engine.py) reads the same checks off the same
# pandera schema and evaluates the same expressions over Spark columns.
# Written for both regex engines (Python's re for pandas, Java's for Spark): ASCII classes only, as
# Python's \d and \s take other scripts' digits and spaces and Java's do not.
_SPACE = r"[ \t\n\r\f\x0b]*"
NUMBER = rf"^{_SPACE}[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:inf(?:inity)?)){_SPACE}$"  # as pd.to_numeric reads
# Python's str.strip() whitespace, spelt out so that Spark's trim strips the same characters
WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
_VALUE = "__value"
Build = Callable[[nw.Expr, DType], nw.Expr]


def null(column: nw.Expr, dtype: DType) -> nw.Expr:
    """Missing as pandas (and so pandera's ignore_na) sees it: null, or NaN in a float column."""
    return column.is_null() | column.is_nan() if dtype.is_float() else column.is_null()


def blank_text(column: nw.Expr, dtype: DType) -> nw.Expr:
    """Blank: missing, or text of only whitespace (a Char value of XPT is '' when missing)."""
    if dtype.is_numeric():
        return null(column, dtype)
    return column.is_null() | (column.cast(nw.String).str.strip_chars(WHITESPACE) == "")


def _text(column: nw.Expr) -> nw.Expr:
    return column.cast(nw.String)


class ColumnCheck:
    """A check of one column, written once as a narwhals expression (``build(column, dtype)``, True
    where the value passes). Called with a pandas Series (as pandera's pandas backend calls a check)
    it gives the boolean Series, computed once per distinct value when ``per_value`` (a check that
    compares records with each other, such as uniqueness, needs the whole column)."""

    def __init__(self, build: Build, per_value: bool = True) -> None:
        self.build, self.per_value = build, per_value

    def expression(self, column: str, dtype: DType) -> nw.Expr:
        """The check over ``column`` of a narwhals frame (pandas or Spark); a null outcome fails."""
        return self.build(nw.col(column), dtype).fill_null(False)

    def _evaluate(self, values: pd.Series) -> pd.Series:
        frame = nw.from_native(pd.DataFrame({_VALUE: values.to_numpy() if values.dtype == object else values.array}),
                               eager_only=True)
        result = frame.select(self.expression(_VALUE, frame.schema[_VALUE]))[_VALUE].to_numpy()
        return pd.Series(result.astype(bool), index=values.index)

    def __call__(self, values: pd.Series) -> pd.Series:
        return per_unique(values, self._evaluate) if self.per_value else self._evaluate(values)


class FrameCheck:
    """A check of whole records (several columns), written once as a narwhals expression
    (``build(dtypes)``, True where the record passes); called with a pandas frame as pandera calls
    a frame-level check."""

    def __init__(self, build: Callable[[dict[str, DType]], nw.Expr]) -> None:
        self.build = build

    def expression(self, dtypes: dict[str, DType]) -> nw.Expr:
        return self.build(dtypes).fill_null(False)

    def __call__(self, frame: pd.DataFrame) -> pd.Series:
        native = nw.from_native(frame, eager_only=True)
        result = native.select(**{_VALUE: self.expression(dict(native.schema))})[_VALUE].to_numpy()
        return pd.Series(result.astype(bool), index=frame.index)


blank = ColumnCheck(blank_text)
not_blank = ColumnCheck(lambda c, t: ~blank_text(c, t))
numeric_or_null = ColumnCheck(lambda c, t: ~null(c, t) | null(c, t) if t.is_numeric() else
                              blank_text(c, t) | _text(c).str.contains(NUMBER))
unique_or_blank = ColumnCheck(lambda c, t: ~c.is_duplicated() | blank_text(c, t), per_value=False)


def in_terms(terms: frozenset[str], numeric_ok: bool = False) -> ColumnCheck:
    """Blank or one of the terms; ``numeric_ok`` also lets numbers through (--STRESC, SDTMIG 4.5.1)."""
    listed = sorted(terms)

    def build(column: nw.Expr, dtype: DType) -> nw.Expr:
        ok = blank_text(column, dtype) | _text(column).is_in(listed)
        if numeric_ok:
            ok = ok | (~null(column, dtype) if dtype.is_numeric() else _text(column).str.contains(NUMBER))
        return ok
    return ColumnCheck(build)


def matches(pattern: str) -> ColumnCheck:
    """Blank or matching the regex (ISO 8601 --DTC, PARAMCD form), anchored at its start with ``^``
    so that it means the same to Python's and to Java's regex search."""
    if not pattern.startswith("^"):
        raise ValueError(f"pattern {pattern!r} is not anchored with ^")
    return ColumnCheck(lambda c, t: blank_text(c, t) | _text(c).str.contains(pattern))


def unique_within(*keys: str) -> FrameCheck:
    """No other record has the same values of ``keys``; a record whose last key is null passes (a
    missing --SEQ is the required-variable rule's finding, not a duplicate)."""
    return FrameCheck(lambda dtypes: (nw.len().over(*keys) == 1) | null(nw.col(keys[-1]), dtypes[keys[-1]]))


class Tables(Protocol):
    """What the schema rules ask of an engine's frames: pandas here, Spark in validators/spark_engine.py."""

    def prepare(self, frame): ...
    def columns(self, frame) -> list[str]: ...
    def domains(self, frame) -> pd.DataFrame: ...             # a frame whose DOMAIN holds the dataset's values
    def schema_findings(self, name: str, label: str, schema: pa.DataFrameSchema, frame, seq: str | None,
                        missing: Callable[[str], tuple[Rule, str]], frame_rules: dict[str, str] | None
                        ) -> list[ValidationFinding]: ...
    def unmatched(self, frame, column: str, other, seq: str | None) -> pd.DataFrame:
        """The records of ``frame`` whose ``column`` is not blank and holds none of ``other``'s values of
        it (compared as text), labelled by their 0-based positions, with USUBJID and ``seq``."""
    def numeric(self, frame, column: str) -> bool: ...
    def labels(self, frame) -> dict[str, str]: ...            # the file's variable labels, by variable
    def combinations(self, frame, columns: list[str], seq: str | None) -> pd.DataFrame:
        """The distinct combinations of values of ``columns`` (a missing value is one value), each as
        its first record (with USUBJID and ``seq``), labelled by its 0-based position, in file order."""


class PandasTables:
    """The schema rules on pandas frames, with pandera's pandas backend."""

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        return positional(frame)

    def columns(self, frame: pd.DataFrame) -> list[str]:
        return list(frame.columns)

    def domains(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame

    def schema_findings(self, *args) -> list[ValidationFinding]:
        return schema_findings(*args)

    def unmatched(self, frame: pd.DataFrame, column: str, other: pd.DataFrame, seq: str | None) -> pd.DataFrame:
        known = set(other[column].dropna().astype(str))
        values = frame[column]
        return frame[~blank(values) & ~per_unique(values, lambda u: u.astype(str).isin(known))]

    def numeric(self, frame: pd.DataFrame, column: str) -> bool:
        return pd.api.types.is_numeric_dtype(frame[column])

    def labels(self, frame: pd.DataFrame) -> dict[str, str]:
        return {c: label for c, label in (frame.attrs.get("labels") or {}).items() if label}

    def combinations(self, frame: pd.DataFrame, columns: list[str], seq: str | None) -> pd.DataFrame:
        keep = list(dict.fromkeys([*columns, *(c for c in ("USUBJID", seq) if c and c in frame)]))
        return frame.loc[~frame.duplicated(subset=columns), keep]


PANDAS = PandasTables()


def positional(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with a 0..n-1 index (findings give 1-based rows); no copy when it has one already."""
    return frame if frame.index.equals(pd.RangeIndex(len(frame))) else frame.reset_index(drop=True)


def record(frame: pd.DataFrame, index, seq: str | None) -> dict:
    """USUBJID, sequence number and 1-based row of one record, as ValidationFinding fields.
    ``index`` is the record's 0-based position, a label of ``frame`` (a positional frame, or the
    Spark engine's frame of the failing records only, labelled by their positions)."""
    if index is None or pd.isna(index):
        return {}
    i = int(index)
    out = {"row": i + 1}
    if "USUBJID" in frame:
        u = frame["USUBJID"].at[i]
        out["usubjid"] = None if pd.isna(u) or str(u) == "" else str(u)
    if seq and seq in frame:
        s = pd.to_numeric(pd.Series([frame[seq].at[i]]), errors="coerce").iat[0]
        out["seq"] = None if pd.isna(s) else float(s)
    return out


def value(frame: pd.DataFrame, index, variable: str | None) -> str:
    if index is None or pd.isna(index) or not variable or variable not in frame:
        return ""
    return plain(frame[variable].at[int(index)], variable)


def schema_findings(name: str, label: str, schema: pa.DataFrameSchema, frame: pd.DataFrame, seq: str | None,
                    missing: Callable[[str], tuple[Rule, str]], frame_rules: dict[str, str] | None = None
                    ) -> list[ValidationFinding]:
    """Run ``schema`` lazily on ``frame`` (named ``name``; ``label`` prefixes variables in messages).

    ``missing(variable)`` gives the rule and message for a required column that is absent;
    ``frame_rules`` maps the id of a frame-level check to the variable its findings name (pandera
    reports a frame-level failure once per column; one finding per record is kept)."""
    try:
        schema.validate(frame, lazy=True)
        return []
    except SchemaErrors as exc:
        return findings_from_cases(name, label, exc.failure_cases, frame, seq, missing, frame_rules)


def is_notice(check: str) -> bool:
    """A check (named by its rule's id, as ``TK-SDTM-0006(...)``) whose failures are notices: one
    finding per distinct failing value, not per record."""
    rule_id = str(check).split("(")[0]
    return rule_id in RULES and RULES[rule_id].severity == "notice"


def findings_from_cases(name: str, label: str, cases: pd.DataFrame, frame: pd.DataFrame, seq: str | None,
                        missing: Callable[[str], tuple[Rule, str]], frame_rules: dict[str, str] | None = None
                        ) -> list[ValidationFinding]:
    """The findings of a schema's failure cases (pandera's shape: check, column, failure_case and
    index, the record's 0-based position); ``frame`` holds at least the failing records, labelled
    by their positions. Shared by the pandas engine (pandera's cases) and the Spark engine, whose
    cases of a notice check may stand for several records each (an optional ``count``, 1 if absent):
    it brings back only each failing value's first record, not a million records that make one finding."""
    frame_rules = frame_rules or {}
    findings = []
    rule_of = cases["check"].astype(str).str.split("(").str[0]
    notice = cases["check"].map(is_notice)
    if notice.any():
        # observed: the failure cases of a category column are a category; only the failed values are groups
        groups = cases[notice].assign(_rule=rule_of[notice]).groupby(["_rule", "column", "failure_case"], dropna=False,
                                                                      observed=True)
        for (rule_id, column, failed), group in groups:
            r = RULES[rule_id]
            count = int(group["count"].sum()) if "count" in group else len(group)
            findings.append(ValidationFinding(r.id, r.severity, name, f"{r.title} ({label}.{column}) on {count} "
                                              f"record(s); first shown", variable=str(column), value=str(failed),
                                              **record(frame, group["index"].min(), seq)))
        cases = cases[~notice]
    for case in cases.itertuples(index=False):
        check = str(case.check)
        if check == "column_in_dataframe":
            r, message = missing(str(case.failure_case))
            findings.append(ValidationFinding(r.id, r.severity, name, message, variable=str(case.failure_case)))
            continue
        r = RULES.get(check.split("(")[0])
        if r is None:
            raise RuntimeError(f"{name}: unexpected pandera failure {check}: {case.failure_case}")
        column = None if case.column is None or pd.isna(case.column) else str(case.column)
        variable = column
        if r.id in frame_rules:
            variable = frame_rules[r.id]
            if column is not None and column != variable:
                continue
        findings.append(ValidationFinding(r.id, r.severity, name, f"{r.title} ({label}.{variable})", variable=variable,
                                          value=value(frame, case.index, variable), **record(frame, case.index, seq)))
    return findings
