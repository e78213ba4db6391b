"""ADaM conformance (TK-ADAM): pandera schemas generated from the ADaMIG metadata, plus the naming
and cross-dataset rules of ADaMIG 1.3 section 3.1 that hold for every ADaM dataset.

The metadata are specs/standards/adamig-1.3 (ADSL, BDS, ADTTE, OCCDS; names with the IG's index
placeholders xx / y / zz match every index) and the CT of ct/sdtm-ct.yaml and ct/adam-ct.yaml.
A dataset's class comes from its structure: ADSL by name, BDS when it has PARAMCD (ADTTE adds the
time-to-event variables), OCCDS otherwise. Suffix conventions (ADaMIG 3.1.3-3.1.5) apply to every
variable whatever its dataset: *DT / *DTM / *TM are numeric, *DTF / *TMF take DATEFL / TIMEFL, *FL
holds Y / N / null, and a variable xxN beside xx is its one-to-one numeric code.

Both engines run these rules (DESIGN.md: one definition): the column checks are narwhals
expressions (validators/schema_findings.py) and the rules over value combinations (xx / xxN,
PARAMCD / PARAM) read a dataset's distinct combinations through the engine's ``Tables``, so
:func:`dataset_rules` runs on pandas frames and on Spark (validators/spark_engine.py). The ADSL
copies (:func:`adsl_copies`) compare a record with its subject's ADSL record: the Spark engine runs
them as they are on shares of subjects (validators/spark_subjects.py).

Text columns may be pandas categories (trialkit.vectorize ``compact``, as read_folder holds them):
groupings are ``observed=True``, so only the values present form groups, in the order of the text.
"""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Mapping
from functools import lru_cache

import narwhals as nw
import numpy as np
import pandas as pd
import pandera.pandas as pa

from trialkit.display import plain, show
from trialkit.sdtm.standards import Codelist, DomainMeta, VariableMeta, load_codelists, load_domains
from trialkit.validators.rules import ValidationFinding, rule
from trialkit.validators.schema_findings import (
    PANDAS,
    ColumnCheck,
    Tables,
    blank,
    blank_text,
    in_terms,
    matches,
    not_blank,
    null,
    numeric_or_null,
    positional,
    record,
    unique_or_blank,
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


def metadata_for(name: str, columns) -> list[DomainMeta] | None:
    """ADSL, BDS (+ ADTTE for time-to-event data) or OCCDS, or None for a non-subject dataset;
    ``columns``: the dataset's column names (or a pandas frame)."""
    domains = load_domains(ADAMIG)
    present = set(columns)
    if not {"STUDYID", "USUBJID"} <= present:
        return None
    if name == "ADSL":
        return [domains["ADSL"]]
    if "PARAMCD" in present:
        return [domains["BDS"], domains["ADTTE"]] if name == "ADTTE" or "CNSR" in present else [domains["BDS"]]
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


# CNSR held as text (a CSV export): a non-negative whole number written plainly ("2", "+1", "3.0")
_WHOLE = r"^[ \t]*[+]?[0-9]+(?:\.0*)?[ \t]*$"
# CNSR: missing (TK-ADAM-0002's finding in time-to-event data), or a non-negative whole number
non_negative_integer = ColumnCheck(lambda c, t: null(c, t) | ((c >= 0) & (c == c.round(0))) if t.is_numeric() else
                                   blank_text(c, t) | c.cast(nw.String).str.contains(_WHOLE))


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
            checks.append(pa.Check(unique_or_blank, name=ADSL_UNIQUE.id))
        if column == "PARAMCD":
            checks.append(pa.Check(matches(PARAMCD_PATTERN), name=PARAMCD_FORM.id))
        if column == "CNSR":
            checks.append(pa.Check(non_negative_integer, name=CNSR_VALUE.id))
        cols[column] = pa.Column(None, checks=checks, nullable=True)
    return pa.DataFrameSchema(cols, strict=False, name=name)


def _required_templates(name: str, metas: list[DomainMeta], columns: list[str]) -> list[ValidationFinding]:
    """Req variables named with a placeholder (ADSL TRTxxP): at least one indexed variable exists."""
    out = []
    for meta in metas:
        for var in meta.variables:
            if var.core == "Req" and _is_template(var.name) and not any(_pattern(var.name).match(c) for c in columns):
                out.append(ValidationFinding(REQ_MISSING.id, REQ_MISSING.severity, name,
                                             f"Req variable {var.name} is missing: no variable matches it "
                                             f"({meta.domain} metadata)", variable=var.name))
    if any(m.domain == "BDS" for m in metas) and not {"AVAL", "AVALC"} & set(columns):
        out.append(ValidationFinding(NO_AVAL.id, NO_AVAL.severity, name, NO_AVAL.title, variable="AVAL"))
    return out


def _labels(name: str, metas: list[DomainMeta], labels: dict[str, str]) -> list[ValidationFinding]:
    """IG variables whose XPT label differs from the IG's (the file's labels, by variable)."""
    out = []
    for column, label in labels.items():
        var = _match(metas, column)
        if var is None or not label:
            continue
        expected = _ig_label(var, column)
        if label.strip().lower() != expected.lower():
            out.append(ValidationFinding(LABEL.id, LABEL.severity, name, f"label {show(label)}; ADaMIG: {show(expected)}",
                                         variable=column, value=label))
    return out


def _pairs(name: str, frame, tables: Tables, seq: str | None) -> list[ValidationFinding]:
    """xx / xxN one-to-one: the first record of each extra value is reported. Read off the distinct
    (xx, xxN) combinations, each with its first record, not off every record."""
    out = []
    columns = tables.columns(frame)
    for column in columns:
        code = f"{column}N"
        if code not in columns or tables.numeric(frame, column):
            continue
        both = tables.combinations(frame, [column, code], seq).dropna(subset=[column, code])
        both = both[not_blank(both[column])]
        for a, b in ((column, code), (code, column)):
            counts = both.groupby(a, observed=True)[b].nunique()
            for key in counts[counts > 1].index:
                rows = both.index[both[a] == key]
                out.append(ValidationFinding(PAIR.id, PAIR.severity, name,
                                             f"{a} = {show(key)} has {counts[key]} values of {b}: "
                                             + ", ".join(sorted(show(v) for v in both.loc[rows, b].unique())),
                                             variable=b, value=plain(key), **record(both, rows.min(), seq)))
    return out


def _param_map(name: str, frame, tables: Tables) -> list[ValidationFinding]:
    if not {"PARAMCD", "PARAM"} <= set(tables.columns(frame)):
        return []
    combinations = tables.combinations(frame, ["PARAMCD", "PARAM"], None)
    out = []
    for a, b in (("PARAMCD", "PARAM"), ("PARAM", "PARAMCD")):
        counts = combinations.groupby(a, observed=True)[b].nunique()
        for key in counts[counts > 1].index:
            values = sorted(show(v) for v in combinations.loc[combinations[a] == key, b].unique())
            out.append(ValidationFinding(PARAM_MAP.id, PARAM_MAP.severity, name,
                                         f"{a} = {show(key)} has {len(values)} values of {b}: {', '.join(values)}",
                                         variable=b, value=plain(key)))
    return out


def adsl_copies(datasets: dict[str, pd.DataFrame]) -> list[ValidationFinding]:
    """TK-ADAM-0014 / 0015 for every subject-level ADaM dataset beside ADSL: each record's USUBJID
    known to ADSL, and every ADSL variable carried into the dataset equal to ADSL's value. A record
    needs only its subject's ADSL record, so the Spark engine runs this on shares of subjects."""
    adsl = datasets.get("ADSL")
    if adsl is None or "USUBJID" not in adsl:
        return []
    findings = []
    for name in sorted(datasets):
        frame = positional(datasets[name])
        if name != "ADSL" and metadata_for(name, frame) is not None:
            findings += _against_adsl(name, frame, adsl, "ASEQ" if "ASEQ" in frame else None)
    return findings


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
                                         f"{column} is {show(have.iat[i], column)}; ADSL has {show(expected.iat[i], column)}",
                                         variable=column, value=plain(have.iat[i], column), **record(frame, i, seq)))
    return out


def dataset_rules(datasets: dict, tables: Tables = PANDAS) -> list[ValidationFinding]:
    """The TK-ADAM findings that need a whole dataset, not a subject's records: schemas, Req
    variables, labels, xx / xxN and PARAMCD / PARAM (name -> frame: pandas frames, or with ``tables``
    another engine's, validators/spark_engine.py)."""
    findings = []
    for name in sorted(datasets):
        frame = tables.prepare(datasets[name])
        columns = tables.columns(frame)
        metas = metadata_for(name, columns)
        if metas is None:
            findings.append(ValidationFinding(UNKNOWN_DATASET.id, UNKNOWN_DATASET.severity, name,
                                              f"{name} has no STUDYID/USUBJID; skipped"))
            continue
        seq = "ASEQ" if "ASEQ" in columns else None

        def missing(variable: str, metas=metas) -> tuple:
            return REQ_MISSING, f"Req variable {variable} is missing ({'/'.join(m.domain for m in metas)} metadata)"
        findings += tables.schema_findings(name, name, build_schema(name, metas, columns), frame, seq, missing, None)
        findings += _required_templates(name, metas, columns)
        findings += _labels(name, metas, tables.labels(frame))
        findings += _pairs(name, frame, tables, seq)
        findings += _param_map(name, frame, tables)
    return findings


def validate_adam(datasets: dict[str, pd.DataFrame]) -> list[ValidationFinding]:
    """Every TK-ADAM finding for a set of ADaM datasets (name -> pandas frame, XPT numbers as stored)."""
    return dataset_rules(datasets) + adsl_copies(datasets)
