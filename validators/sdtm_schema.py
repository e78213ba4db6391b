"""SDTM conformance from the standard metadata: pandera schemas generated per dataset.

Every schema is built from specs/standards/ (``load_domains`` for variables, core, type and codelist;
``load_codelists`` for CT), never written by hand per domain. ``validate_sdtm`` runs each schema with
``lazy=True`` and turns every pandera failure case into a ValidationFinding naming the rule, dataset,
variable, USUBJID, --SEQ, 1-based row and value. The one cross-dataset rule (USUBJID present in DM)
is plain pandas.

Dataset resolution: a dataset named like a domain uses that domain's metadata; SUPP-- datasets use
SUPPQUAL; a split dataset (SDTMIG 3.4 section 4.1.7, e.g. LBCH with DOMAIN = LB) uses its DOMAIN's
metadata; anything else is skipped with a notice. Trial design datasets are not subject-level.
"""

from __future__ import annotations

import re

import pandas as pd
import pandera.pandas as pa

from trialkit.sdtm.standards import (
    Codelist,
    DomainMeta,
    VariableMeta,
    load_codelists,
    load_domains,
)
from trialkit.validators.rules import ValidationFinding, rule
from trialkit.validators.schema_findings import (
    PANDAS,
    Tables,
    in_terms,
    matches,
    not_blank,
    numeric_or_null,
    record,
    unique_or_blank,
    unique_within,
)

REQ_MISSING = rule("TK-SDTM-0001", "error", "Required variable missing from the dataset",
                   "SDTMIG 3.4 section 4.1.5 (Core variables): a Req variable must be present in the dataset.")
EXP_MISSING = rule("TK-SDTM-0002", "warning", "Expected variable missing from the dataset",
                   "SDTMIG 3.4 section 4.1.5 (Core variables): an Exp variable must be present even when all "
                   "values are null (absence needs a define.xml comment).")
REQ_NULL = rule("TK-SDTM-0003", "error", "Required variable is null or blank",
                "SDTMIG 3.4 section 4.1.5 (Core variables): a Req variable cannot be null for any record.")
NUM_TYPE = rule("TK-SDTM-0004", "error", "Num variable holds a non-numeric value",
                "SDTMIG 3.4 domain specification tables (Type column) / section 4.1.1: Num variables hold numbers.")
CT_NONEXT = rule("TK-SDTM-0005", "error", "Value not in a non-extensible codelist",
                 "SDTMIG 3.4 section 4.3 (Controlled Terminology) / CDISC SDTM CT: values of a variable with a "
                 "non-extensible codelist must be one of its submission values (exact match).")
CT_EXT = rule("TK-SDTM-0006", "notice", "Value not in an extensible codelist",
              "SDTMIG 3.4 section 4.3 / CDISC SDTM CT: an extensible codelist may be extended by the sponsor; "
              "new terms must not duplicate existing ones and are listed for review.")
DM_UNIQUE = rule("TK-SDTM-0007", "error", "DM has more than one record per USUBJID",
                 "SDTMIG 3.4 section 5.2 (DM): one record per subject.", scope=("DM",))
SEQ_UNIQUE = rule("TK-SDTM-0008", "error", "--SEQ not unique within USUBJID",
                  "SDTMIG 3.4 section 4.1.9 (Assigning natural keys / --SEQ): --SEQ uniquely identifies a record "
                  "within a domain for a subject.")
DTC_ISO = rule("TK-SDTM-0009", "error", "--DTC is not ISO 8601",
               "SDTMIG 3.4 section 4.4.1-4.4.4 (Date/time format): --DTC values are ISO 8601 extended format; "
               "partial dates/times (YYYY, YYYY-MM, missing components as '-') are allowed.")
NOT_IN_DM = rule("TK-SDTM-0010", "error", "USUBJID not present in DM",
                 "SDTMIG 3.4 section 5.2 (DM) / 4.1.2: DM is the subject master; every subject in a "
                 "subject-level dataset must have a DM record.")
CT_SUBSET = rule("TK-SDTM-0012", "notice", "Value not in the CT subset held for the codelist",
                 "CDISC SDTM CT / specs/standards/README.md: the CT package holds every CDISC codelist in full, but "
                 "the study overlay specs/standards/ct/sdtm-ct.yaml keeps a few lists only in part (subset: true, e.g. "
                 "COUNTRY, which SDTM CT no longer publishes), so a value outside one may still be valid; listed for review.")
UNKNOWN_DATASET = rule("TK-SDTM-0011", "notice", "Dataset not in the SDTMIG metadata; not checked",
                       "specs/standards/sdtmig-3.4 holds every dataset of SDTMIG 3.4; a dataset that is none of them "
                       "(a custom domain, or one of another IG) is skipped, never guessed.")

ISO8601 = re.compile(
    r"^[0-9]{4}"
    r"(?:-(?:0[1-9]|1[0-2]|-)"
    r"(?:-(?:0[1-9]|[12][0-9]|3[01]|-)"
    r"(?:T(?:[01][0-9]|2[0-3]|-)"
    r"(?::(?:[0-5][0-9]|-)"
    r"(?::[0-5][0-9](?:\.[0-9]+)?)?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])?)?)?)?$")


def codelist_for(var: VariableMeta) -> Codelist | None:
    """The codelist a variable's values are checked against: the one the IG names or, where it names
    several (DSDECOD: NCOMPLT, PROTMLST, OTHEVENT), their union, extensible when any of them is and a
    subset when any of them is held only in part."""
    codelists = load_codelists()
    lists = [codelists[name] for name in var.codelists if name in codelists]
    if len(lists) <= 1:
        return lists[0] if lists else None
    terms = tuple({t["value"]: t for cl in lists for t in cl.terms}.values())
    return Codelist("/".join(cl.name for cl in lists), " or ".join(cl.label for cl in lists), None,
                    any(cl.extensible for cl in lists), terms, subset=any(cl.subset for cl in lists))


def resolve(name: str, frame: pd.DataFrame) -> DomainMeta | None:
    """The metadata a dataset is checked against (SUPP--, split datasets), or None when unknown."""
    domains = load_domains()
    name = name.upper()
    if name.startswith("SUPP"):
        return domains.get("SUPPQUAL")
    if name in domains and name != "SUPPQUAL":
        return domains[name]
    parent = name[:2]
    if len(name) > 2 and parent in domains and "DOMAIN" in frame:
        values = set(frame["DOMAIN"].dropna().astype(str))
        if values == {parent}:
            return domains[parent]
    return None


def build_schema(meta: DomainMeta, columns: list[str]) -> pa.DataFrameSchema:
    """The pandera schema of one dataset, generated from its SDTMIG metadata and the CT.

    Req/Exp variables are required columns (missing -> column_in_dataframe, told apart by core);
    every other check is named by its rule id so a failure case maps straight back to the rule."""
    cols = {}
    for var in meta.variables:
        checks = []
        if var.core == "Req":
            checks.append(pa.Check(not_blank, name=REQ_NULL.id, ignore_na=False))
        if var.type == "Num":
            checks.append(pa.Check(numeric_or_null, name=NUM_TYPE.id))
        cl = codelist_for(var)
        if cl is not None:
            r = CT_SUBSET if cl.subset else CT_EXT if cl.extensible else CT_NONEXT
            checks.append(pa.Check(in_terms(cl.values, var.name.endswith("STRESC")), name=r.id))
        if var.name.endswith("DTC") and var.type == "Char":
            checks.append(pa.Check(matches(ISO8601.pattern), name=DTC_ISO.id))
        if meta.domain == "DM" and var.name == "USUBJID":
            checks.append(pa.Check(unique_or_blank, name=DM_UNIQUE.id))
        cols[var.name] = pa.Column(None, checks=checks, nullable=True, required=var.core in ("Req", "Exp"))
    frame_checks = []
    seq = f"{meta.domain}SEQ"
    if meta.variable(seq) and {"USUBJID", seq} <= set(columns):
        frame_checks.append(pa.Check(unique_within("USUBJID", seq), name=SEQ_UNIQUE.id))
    return pa.DataFrameSchema(cols, checks=frame_checks, strict=False, name=meta.domain)


def _schema_findings(name: str, meta: DomainMeta, frame, tables: Tables) -> list[ValidationFinding]:
    def missing(variable: str) -> tuple:
        var = meta.variable(variable)
        r = REQ_MISSING if var is not None and var.core == "Req" else EXP_MISSING
        return r, f"{var.core if var else ''} variable {variable} is missing ({meta.domain} metadata)"
    seq = f"{meta.domain}SEQ" if meta.variable(f"{meta.domain}SEQ") else None
    return tables.schema_findings(name, meta.domain, build_schema(meta, tables.columns(frame)), frame, seq, missing,
                                  {SEQ_UNIQUE.id: seq} if seq else None)


def _not_in_dm(datasets: dict, metas: dict[str, DomainMeta], tables: Tables) -> list[ValidationFinding]:
    dm = next((f for n, f in datasets.items() if n.upper() == "DM"), None)
    if dm is None or "USUBJID" not in tables.columns(dm):
        return []
    findings = []
    for name, meta in metas.items():
        frame = datasets[name]
        if meta.domain == "DM" or meta.cls == "TRIAL DESIGN" or "USUBJID" not in tables.columns(frame):
            continue
        seq = f"{meta.domain}SEQ" if meta.variable(f"{meta.domain}SEQ") else None
        bad = tables.unmatched(frame, "USUBJID", dm, seq)
        for i in bad.index:
            findings.append(ValidationFinding(NOT_IN_DM.id, NOT_IN_DM.severity, name, "USUBJID has no DM record",
                                              variable="USUBJID", value=str(bad["USUBJID"].at[i]), **record(bad, i, seq)))
    return findings


def validate_sdtm(datasets: dict, tables: Tables = PANDAS) -> list[ValidationFinding]:
    """Every TK-SDTM finding for a set of SDTM datasets (name -> frame: pandas frames, or with
    ``tables`` another engine's, validators/spark_engine.py)."""
    findings, metas, frames = [], {}, {}
    for name in sorted(datasets):
        frame = tables.prepare(datasets[name])
        key = name.upper()
        meta = resolve(key, tables.domains(frame))
        if meta is None:
            findings.append(ValidationFinding(UNKNOWN_DATASET.id, UNKNOWN_DATASET.severity, key,
                                              f"dataset {key} is not in the SDTMIG metadata; skipped"))
            continue
        frames[key], metas[key] = frame, meta
        findings += _schema_findings(key, meta, frame, tables)
    findings += _not_in_dm(frames, metas, tables)
    return findings
