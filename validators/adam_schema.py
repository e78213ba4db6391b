"""ADaM conformance (TK-ADAM): pandera schemas generated from the ADaMIG metadata, plus the naming
and cross-dataset rules of ADaMIG 1.3 section 3.1 that hold for every ADaM dataset.

The metadata are specs/standards/adamig-1.3 (ADSL, BDS, ADTTE, OCCDS; names with the IG's index
placeholders xx / y / zz match every index) and the CT of ct/sdtm-ct.yaml and ct/adam-ct.yaml.
A dataset's class comes from its structure: ADSL by name, BDS when it has PARAMCD (ADTTE adds the
time-to-event variables), OCCDS otherwise. Suffix conventions (ADaMIG 3.1.3-3.1.5) apply to every
variable whatever its dataset: *DT / *DTM / *TM are numeric, *DTF / *TMF take DATEFL / TIMEFL, *FL
holds Y / N / null, and a variable xxN beside xx is its one-to-one numeric code.

Text columns may be pandas categories (trialkit.vectorize ``compact``, as read_folder holds them):
groupings are ``observed=True``, so only the values present form groups, in the order of the text.
"""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import pandas as pd
import pandera.pandas as pa

from trialkit.sdtm.standards import Codelist, DomainMeta, VariableMeta, load_codelists, load_domains
from trialkit.validators.rules import ValidationFinding, rule
from trialkit.validators.schema_findings import (
    blank,
    in_terms,
    matches,
    not_blank,
    numeric_or_null,
    positional,
    record,
    schema_findings,
)

ADAMIG = "adamig-1.3"
POPULATION_FLAGS = ("FASFL", "SAFFL", "ITTFL", "PPROTFL", "COMPLFL", "RANDFL", "ENRLFL")

REQ_MISSING = rule("TK-ADAM-0001", "error", "Required variable missing from the dataset",
                   "ADaMIG 1.3 sections 3.2 (ADSL) and 3.3 (BDS), ADaM BDS-TTE 1.0 section 2: a Req variable must "
                   "be present.")
REQ_NULL = rule("TK-ADAM-0002", "error", "Identifier or analysis variable is null or blank",
                "ADaMIG 1.3 section 1.8.3 (Core: Req means included, not populated) with 3.2 / 3.3.4 and BDS-TTE "
                "1.0: identifiers, PARAM / PARAMCD and, in time-to-event data, AVAL and CNSR are never null.")
TYPE = rule("TK-ADAM-0003", "error", "Numeric variable holds a non-numeric value",
            "ADaMIG 1.3 variable tables (Type) and section 3.1.3 (naming conventions: *DT, *DTM, *TM and the "
            "numeric xxN of a character xx are numeric).")
CT_NONEXT = rule("TK-ADAM-0004", "error", "Value not in a non-extensible codelist",
                 "ADaMIG 1.3 variable tables (Codelist) / CDISC SDTM and ADaM CT: values of a variable with a "
                 "non-extensible codelist are submission values of it.")
CT_EXT = rule("TK-ADAM-0005", "notice", "Value not in an extensible codelist",
              "ADaMIG 1.3 / CDISC ADaM CT (e.g. SBJTSTAT, DTYPE are extensible): sponsor terms are allowed and "
              "listed for review.")
LABEL = rule("TK-ADAM-0006", "warning", "Variable label differs from the ADaMIG label",
             "ADaMIG 1.3 section 3.1.1: a variable defined in the IG keeps the IG's label (placeholders replaced "
             "by the index).")
FLAG_VALUE = rule("TK-ADAM-0007", "error", "Flag variable (*FL) holds a value other than Y, N or null",
                  "ADaMIG 1.3 section 3.1.4 (flag variables): *FL character flags are Y / N or Y / null.")
POPULATION_NULL = rule("TK-ADAM-0008", "error", "ADSL population flag is null",
                       "ADaMIG 1.3 section 3.1.4 item 7 and 3.2.4: subject-level population flags in ADSL are Y or "
                       "N, never null.", scope=("ADSL",))
NO_AVAL = rule("TK-ADAM-0009", "error", "BDS dataset has neither AVAL nor AVALC",
               "ADaMIG 1.3 section 3.3.4: at least one of AVAL and AVALC is present in a BDS dataset.")
PAIR = rule("TK-ADAM-0010", "error", "Variable xxN is not a one-to-one numeric code of xx",
            "ADaMIG 1.3 section 3.1.5 (xx and xxN pairs, e.g. TRT01P / TRT01PN, AGEGR1 / AGEGR1N): each value of "
            "xx has exactly one value of xxN and vice versa.")
PARAMCD_FORM = rule("TK-ADAM-0011", "error", "PARAMCD is not a valid parameter code",
                    "ADaMIG 1.3 section 3.3.4 (PARAMCD): at most 8 characters, starting with a letter, letters, "
                    "digits and underscores only (it may become a SAS variable name in a transposed dataset).")
PARAM_MAP = rule("TK-ADAM-0012", "error", "PARAMCD and PARAM are not one-to-one",
                 "ADaMIG 1.3 section 3.3.4: within a dataset each PARAMCD has exactly one PARAM and vice versa.")
ADSL_UNIQUE = rule("TK-ADAM-0013", "error", "ADSL has more than one record per USUBJID",
                   "ADaMIG 1.3 section 3.2: ADSL has one record per subject.", scope=("ADSL",))
NOT_IN_ADSL = rule("TK-ADAM-0014", "error", "USUBJID not present in ADSL",
                   "ADaMIG 1.3 section 3.2 (ADSL holds every subject of the study) and 3.1: every subject in an "
                   "ADaM dataset has an ADSL record.")
ADSL_COPY = rule("TK-ADAM-0015", "error", "Variable copied from ADSL differs from ADSL",
                 "ADaMIG 1.3 section 3.1 item 3 (a variable with the name of an ADSL variable is that variable): "
                 "its value on every record equals the subject's ADSL value.")
CNSR_VALUE = rule("TK-ADAM-0016", "error", "CNSR is not a non-negative integer",
                  "ADaM BDS-TTE 1.0 section 2 (CNSR): 0 for an event, a positive integer for a censoring.")
UNKNOWN_DATASET = rule("TK-ADAM-0017", "notice", "ADaM dataset without STUDYID/USUBJID; not checked",
                       "Only subject-level ADaM datasets (ADSL, BDS, OCCDS) are checked against ADaMIG metadata.")

PARAMCD_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,7}$"
PLACEHOLDERS = (("xx", r"\d\d"), ("zz", r"\d\d"), ("y", r"[1-9]"))


@lru_cache(maxsize=1)
def adam_codelists() -> Mapping[str, Codelist]:
    """ADaM CT over SDTM CT (a view: the SDTM package's codelists are built only when used)."""
    return ChainMap(load_codelists("adam-ct.yaml"), load_codelists())


def _pattern(name: str) -> re.Pattern:
    """The IG name as a regex: TRTxxP matches TRT01P, AGEGRy matches AGEGR1."""
    out = name
    for placeholder, regex in PLACEHOLDERS:
        out = out.replace(placeholder, f"({regex})")
    return re.compile(f"^{out}$")


def _is_template(name: str) -> bool:
    return any(p in name for p, _ in PLACEHOLDERS)


def metadata_for(name: str, frame: pd.DataFrame) -> list[DomainMeta] | None:
    """ADSL, BDS (+ ADTTE for time-to-event data) or OCCDS, or None for a non-subject dataset."""
    domains = load_domains(ADAMIG)
    if not {"STUDYID", "USUBJID"} <= set(frame.columns):
        return None
    if name == "ADSL":
        return [domains["ADSL"]]
    if "PARAMCD" in frame.columns:
        return [domains["BDS"], domains["ADTTE"]] if name == "ADTTE" or "CNSR" in frame.columns else [domains["BDS"]]
    return [domains["OCCDS"]]


def _match(metas: list[DomainMeta], column: str) -> VariableMeta | None:
    """The IG variable a column is (the later metadata, e.g. ADTTE over BDS, wins)."""
    for meta in reversed(metas):
        for var in meta.variables:
            if var.name == column or (_is_template(var.name) and _pattern(var.name).match(column)):
                return var
    return None


def _ig_label(var: VariableMeta, column: str) -> str:
    """The IG label with its placeholder replaced by the column's index (TRTxxP, TRT01P -> 'Period 01')."""
    if not _is_template(var.name):
        return var.label
    index = _pattern(var.name).match(column).group(1)
    return re.sub(r"\b(xx|zz|y)\b", index, var.label, count=1)


def _suffix_type(column: str, columns: set[str]) -> str | None:
    if re.search(r"(DT|DTM|TM)$", column) or (column.endswith("N") and column[:-1] in columns):
        return "Num"
    return None


def _suffix_codelist(column: str) -> str | None:
    return "DATEFL" if column.endswith("DTF") else "TIMEFL" if column.endswith("TMF") else None


def _cnsr(s: pd.Series) -> pd.Series:
    n = pd.to_numeric(s, errors="coerce")
    return s.isna() | ((n >= 0) & (n == np.floor(n)))


def build_schema(name: str, metas: list[DomainMeta], columns: list[str]) -> pa.DataFrameSchema:
    """The pandera schema of one ADaM dataset from the ADaMIG metadata and the suffix conventions."""
    codelists = adam_codelists()
    present = set(columns)
    never_null = {v for m in metas for v in m.never_null}
    required = {v.name for m in metas for v in m.variables if v.core == "Req" and not _is_template(v.name)}
    cols = {name: pa.Column(None, nullable=True, required=True) for name in required - present}
    for column in columns:
        var = _match(metas, column)
        checks = []
        if column in never_null:
            checks.append(pa.Check(not_blank, name=REQ_NULL.id, ignore_na=False))
        if (var.type if var is not None else _suffix_type(column, present)) == "Num":
            checks.append(pa.Check(numeric_or_null, name=TYPE.id))
        codelist = (var.codelist if var is not None else None) or _suffix_codelist(column)
        if codelist and codelist in codelists:
            cl = codelists[codelist]
            terms = frozenset(str(t["value"]) for t in cl.terms)
            checks.append(pa.Check(in_terms(terms), name=(CT_EXT if cl.extensible else CT_NONEXT).id))
        if column.endswith("FL"):
            checks.append(pa.Check(in_terms(frozenset(("Y", "N"))), name=FLAG_VALUE.id))
        if name == "ADSL" and column in POPULATION_FLAGS:
            checks.append(pa.Check(not_blank, name=POPULATION_NULL.id, ignore_na=False))
        if name == "ADSL" and column == "USUBJID":
            checks.append(pa.Check(lambda s: ~s.duplicated(keep=False) | blank(s), name=ADSL_UNIQUE.id))
        if column == "PARAMCD":
            checks.append(pa.Check(matches(PARAMCD_PATTERN), name=PARAMCD_FORM.id))
        if column == "CNSR":
            checks.append(pa.Check(_cnsr, name=CNSR_VALUE.id))
        cols[column] = pa.Column(None, checks=checks, nullable=True)
    return pa.DataFrameSchema(cols, strict=False, name=name)


def _required_templates(name: str, metas: list[DomainMeta], frame: pd.DataFrame) -> list[ValidationFinding]:
    """Req variables named with a placeholder (ADSL TRTxxP): at least one indexed variable exists."""
    out = []
    for meta in metas:
        for var in meta.variables:
            if var.core == "Req" and _is_template(var.name) and not any(_pattern(var.name).match(c) for c in frame.columns):
                out.append(ValidationFinding(REQ_MISSING.id, REQ_MISSING.severity, name,
                                             f"Req variable {var.name} is missing: no variable matches it "
                                             f"({meta.domain} metadata)", variable=var.name))
    if any(m.domain == "BDS" for m in metas) and not {"AVAL", "AVALC"} & set(frame.columns):
        out.append(ValidationFinding(NO_AVAL.id, NO_AVAL.severity, name, NO_AVAL.title, variable="AVAL"))
    return out


def _labels(name: str, metas: list[DomainMeta], frame: pd.DataFrame) -> list[ValidationFinding]:
    """IG variables whose XPT label differs from the IG's (labels travel in ``frame.attrs['labels']``)."""
    labels = frame.attrs.get("labels") or {}
    out = []
    for column, label in labels.items():
        var = _match(metas, column)
        if var is None or not label:
            continue
        expected = _ig_label(var, column)
        if label.strip().lower() != expected.lower():
            out.append(ValidationFinding(LABEL.id, LABEL.severity, name, f"label {label!r}; ADaMIG: {expected!r}",
                                         variable=column, value=label))
    return out


def _pairs(name: str, frame: pd.DataFrame, seq: str | None) -> list[ValidationFinding]:
    """xx / xxN one-to-one: the first record of each extra value is reported."""
    out = []
    for column in frame.columns:
        code = f"{column}N"
        if code not in frame.columns or pd.api.types.is_numeric_dtype(frame[column]):
            continue
        both = frame[[column, code]].dropna()
        both = both[not_blank(both[column])]
        for a, b in ((column, code), (code, column)):
            counts = both.groupby(a, observed=True)[b].nunique()
            for key in counts[counts > 1].index:
                rows = both.index[both[a] == key]
                out.append(ValidationFinding(PAIR.id, PAIR.severity, name,
                                             f"{a} = {key!r} has {counts[key]} values of {b}: "
                                             + ", ".join(map(repr, sorted(map(str, both.loc[rows, b].unique())))),
                                             variable=b, value=str(key), **record(frame, rows[0], seq)))
    return out


def _param_map(name: str, frame: pd.DataFrame) -> list[ValidationFinding]:
    if not {"PARAMCD", "PARAM"} <= set(frame.columns):
        return []
    out = []
    for a, b in (("PARAMCD", "PARAM"), ("PARAM", "PARAMCD")):
        counts = frame.groupby(a, observed=True)[b].nunique()
        for key in counts[counts > 1].index:
            values = sorted(map(str, frame.loc[frame[a] == key, b].unique()))
            out.append(ValidationFinding(PARAM_MAP.id, PARAM_MAP.severity, name,
                                         f"{a} = {key!r} has {len(values)} values of {b}: {', '.join(map(repr, values))}",
                                         variable=b, value=str(key)))
    return out


def _against_adsl(name: str, frame: pd.DataFrame, adsl: pd.DataFrame, seq: str | None) -> list[ValidationFinding]:
    """USUBJID known to ADSL, and every ADSL variable carried into the dataset equal to ADSL's value."""
    subjects = adsl.drop_duplicates("USUBJID").set_index("USUBJID")
    # as object: a category Series mapped by a category-valued Series gets the values mixed up
    # (pandas 2.3), and a category Series mapped to numbers gives a category, not a number
    uid = frame["USUBJID"].astype(object)
    unknown = not_blank(uid) & ~uid.isin(subjects.index)
    out = [ValidationFinding(NOT_IN_ADSL.id, NOT_IN_ADSL.severity, name, "USUBJID has no ADSL record", variable="USUBJID",
                             value=str(uid.iat[i]), **record(frame, i, seq)) for i in np.flatnonzero(unknown.to_numpy())]
    for column in frame.columns:
        if column in ("STUDYID", "USUBJID") or column not in subjects.columns:
            continue
        expected = uid.map(subjects[column])
        have = frame[column]
        both_blank = blank(have) & blank(expected)
        numeric = pd.api.types.is_numeric_dtype(have) and pd.api.types.is_numeric_dtype(expected)
        same = np.isclose(have, expected, equal_nan=True) if numeric else have.astype(str).str.strip() == expected.astype(str).str.strip()
        bad = ~unknown & ~both_blank & ~pd.Series(same, index=frame.index)
        for i in np.flatnonzero(bad.to_numpy()):
            out.append(ValidationFinding(ADSL_COPY.id, ADSL_COPY.severity, name,
                                         f"{column} is {have.iat[i]!r}; ADSL has {expected.iat[i]!r}", variable=column,
                                         value=str(have.iat[i]), **record(frame, i, seq)))
    return out


def validate_adam(datasets: dict[str, pd.DataFrame]) -> list[ValidationFinding]:
    """Every TK-ADAM finding for a set of ADaM datasets (name -> frame, XPT numbers as stored)."""
    findings = []
    adsl = datasets.get("ADSL")
    for name in sorted(datasets):
        frame = positional(datasets[name])
        metas = metadata_for(name, frame)
        if metas is None:
            findings.append(ValidationFinding(UNKNOWN_DATASET.id, UNKNOWN_DATASET.severity, name,
                                              f"{name} has no STUDYID/USUBJID; skipped"))
            continue
        seq = "ASEQ" if "ASEQ" in frame else None

        def missing(variable: str, metas=metas) -> tuple:
            return REQ_MISSING, f"Req variable {variable} is missing ({'/'.join(m.domain for m in metas)} metadata)"
        findings += schema_findings(name, name, build_schema(name, metas, list(frame.columns)), frame, seq, missing)
        findings += _required_templates(name, metas, frame)
        findings += _labels(name, metas, frame)
        findings += _pairs(name, frame, seq)
        findings += _param_map(name, frame)
        if adsl is not None and name != "ADSL" and "USUBJID" in adsl:
            findings += _against_adsl(name, frame, adsl, seq)
    return findings
