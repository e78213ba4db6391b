"""What define.xml says about a study's datasets, gathered from the specs before any data is read.

The SDTM and ADaM readers (:mod:`trialkit.define_sdtm`, :mod:`trialkit.define_adam`) turn specs into
these objects; :mod:`trialkit.define` checks them and, with the datasets actually written, turns them
into Define-XML. Every object remembers the spec file and key it came from, so a label, codelist or
origin that cannot go into a valid define.xml is reported where it has to be fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

OriginType = Literal["Collected", "Assigned", "Derived", "Protocol", "Predecessor", "Not Available"]
# SUPPQUAL QORIG values (SDTMIG 3.2 wording first, then the Define-XML 2.1 origin types) -> origin type
QORIG_ORIGINS: dict[str, OriginType] = {
    "CRF": "Collected", "EDT": "Collected", "COLLECTED": "Collected", "ASSIGNED": "Assigned", "DERIVED": "Derived",
    "PROTOCOL": "Protocol", "PREDECESSOR": "Predecessor",
}


@dataclass(frozen=True)
class Where:
    """A place in a spec: the file and the key, for error messages."""

    file: Path
    key: str


@dataclass(frozen=True)
class Origin:
    """Where a variable's values come from. ``description`` says it in words ("DM.AGE" for a
    predecessor, "form bm, field BLASTPCT" for collected data); ``form`` names the raw form(s) of
    collected data, space-separated, which stand for their pages in the annotated CRF."""

    type: OriginType
    description: str = ""
    form: str | None = None


@dataclass(frozen=True)
class Term:
    value: str
    decode: str | None = None
    code: str | None = None          # NCI C-code where the CT gives one
    extended: bool = False           # a sponsor term added to an extensible CDISC codelist


@dataclass(frozen=True)
class CodelistDef:
    """A codelist as the spec refers to it. CDISC CT lists (``standard``) list in define.xml only
    the terms the data uses (CT subsets are long); lists a spec enumerates list all their terms."""

    key: str                         # OID suffix: "SEX", "ADTTE.PARAMCD"
    name: str
    terms: tuple[Term, ...]
    source: Where
    code: str | None = None
    extensible: bool = False
    standard: bool = False


@dataclass(frozen=True)
class ValueDef:
    """Value-level metadata: what ``variable`` holds on the records where every (variable, value)
    pair of ``where`` holds (LBORRES where LBTESTCD = BLASTNCE, AVAL where PARAMCD = OS)."""

    variable: str
    where: tuple[tuple[str, str], ...]
    description: str
    origins: tuple[Origin, ...]
    source: Where
    method: str | None = None
    comment: str | None = None
    codelist: CodelistDef | None = None


@dataclass(frozen=True)
class VariableDef:
    name: str
    label: str
    source: Where                    # where the label is defined
    origins: tuple[Origin, ...]
    origin_source: Where             # where the spec says how the variable is filled
    method: str | None = None
    comment: str | None = None
    codelist: CodelistDef | None = None
    mandatory: bool = False
    role: str | None = None
    values: tuple[ValueDef, ...] = ()


@dataclass
class DatasetDef:
    name: str
    label: str
    source: Where                    # where the dataset label is defined
    cls: str
    structure: str
    keys: tuple[str, ...]
    repeating: bool
    reference_data: bool = False
    subclass: str | None = None
    domain: str | None = None
    comment: str | None = None
    variables: dict[str, VariableDef] = field(default_factory=dict)


@dataclass
class StudyDefine:
    """Everything define.xml says about one standard's datasets of a study."""

    kind: Literal["SDTM", "ADaM"]
    studyid: str
    title: str
    standard: tuple[str, str]        # Define-XML standard name and version: ("SDTMIG", "3.4")
    ct_version: str                  # CDISC SDTM CT package date, e.g. "2024-03-29"
    datasets: dict[str, DatasetDef] = field(default_factory=dict)


def merge_origins(origins: list[Origin]) -> tuple[Origin, ...]:
    """One origin per type, in first-seen order: the forms and descriptions of several sources
    that fill a variable the same way are listed together."""
    by_type: dict[str, list[Origin]] = {}
    for o in origins:
        by_type.setdefault(o.type, []).append(o)
    merged = []
    for kind, group in by_type.items():
        texts = list(dict.fromkeys(o.description for o in group if o.description))
        forms = list(dict.fromkeys(o.form for o in group if o.form))
        merged.append(Origin(kind, "; ".join(texts), " ".join(forms) or None))  # type: ignore[arg-type]
    return tuple(merged)


def spec_comment(path: Path) -> str | None:
    """The comment block at the top of a spec file: the spec author's own description of the
    dataset, shown to the reviewer as the dataset's comment."""
    lines = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(x for x in lines if x) or None
