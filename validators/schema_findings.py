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

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from trialkit.display import plain
from trialkit.validators.rules import RULES, Rule, ValidationFinding
from trialkit.vectorize import per_unique


# Column checks work once per distinct value (trialkit.vectorize.per_unique): an SDTM column of a
# million records holds a few thousand distinct values, and the string work is what costs.
def _blank_values(u: pd.Series) -> pd.Series:
    return u.isna() | (u.astype(str).str.strip() == "")


def blank(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s):
        return s.isna()
    return per_unique(s, _blank_values)


def not_blank(s: pd.Series) -> pd.Series:
    return ~blank(s)


def numeric_or_null(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s):
        return pd.Series(True, index=s.index)
    return per_unique(s, lambda u: _blank_values(u) | pd.to_numeric(u, errors="coerce").notna())


def in_terms(terms: frozenset[str], numeric_ok: bool = False):
    """Blank or one of the terms; ``numeric_ok`` also lets numbers through (--STRESC, SDTMIG 4.5.1)."""
    def check_values(u: pd.Series) -> pd.Series:
        ok = _blank_values(u) | u.astype(str).isin(terms)
        if numeric_ok:
            ok |= pd.to_numeric(u, errors="coerce").notna()
        return ok
    return lambda s: per_unique(s, check_values)


def matches(pattern: str):
    """Blank or matching the regex (ISO 8601 --DTC, PARAMCD form)."""
    return lambda s: per_unique(s, lambda u: _blank_values(u) | u.astype(str).str.match(pattern))


def positional(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with a 0..n-1 index (findings give 1-based rows); no copy when it has one already."""
    return frame if frame.index.equals(pd.RangeIndex(len(frame))) else frame.reset_index(drop=True)


def record(frame: pd.DataFrame, index, seq: str | None) -> dict:
    """USUBJID, sequence number and 1-based row of one record, as ValidationFinding fields."""
    if index is None or pd.isna(index):
        return {}
    i = int(index)
    out = {"row": i + 1}
    if "USUBJID" in frame:
        u = frame["USUBJID"].iat[i]
        out["usubjid"] = None if pd.isna(u) or str(u) == "" else str(u)
    if seq and seq in frame:
        s = pd.to_numeric(pd.Series([frame[seq].iat[i]]), errors="coerce").iat[0]
        out["seq"] = None if pd.isna(s) else float(s)
    return out


def value(frame: pd.DataFrame, index, variable: str | None) -> str:
    if index is None or pd.isna(index) or not variable or variable not in frame:
        return ""
    return plain(frame[variable].iat[int(index)], variable)


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
        cases = exc.failure_cases
    frame_rules = frame_rules or {}
    findings = []
    rule_of = cases["check"].astype(str).str.split("(").str[0]
    notice = rule_of.map(lambda r: r in RULES and RULES[r].severity == "notice")
    if notice.any():
        # observed: the failure cases of a category column are a category; only the failed values are groups
        groups = cases[notice].assign(_rule=rule_of[notice]).groupby(["_rule", "column", "failure_case"], dropna=False,
                                                                      observed=True)
        for (rule_id, column, failed), group in groups:
            r = RULES[rule_id]
            findings.append(ValidationFinding(r.id, r.severity, name, f"{r.title} ({label}.{column}) on {len(group)} "
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
