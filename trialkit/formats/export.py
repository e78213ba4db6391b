"""A raw EDC export as read from any format: forms of text values, with where each record came from.

Every reader (CSV, SAS7BDAT, XPT, XLSX, ODM-XML) returns a ``RawExport``. A form's frame holds one
column per field, each value as text exactly as exported ('' = missing), in the order of the file;
the record's place in the file the user has is its 1-based position in the frame (a CSV line, a SAS
observation, a sheet row) or, where a position says nothing to the user (ODM), its ``locators``
entry. ODM exports also carry the study metadata (FormDef, ItemDef, CodeList) that ``scaffold``
starts a raw dictionary from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

FORMATS = ("csv", "sas7bdat", "xpt", "xlsx", "odm")
# an ODM form's study event as fields of each record (after SUBJID), so a spec can map VISIT from it;
# not a field the EDC form has, so a raw dictionary need not list them (docs/raw-formats.md)
EVENT_COLUMNS = ("STUDYEVENTOID", "STUDYEVENTREPEATKEY")


@dataclass
class ExportForm:
    name: str                     # the form: file stem (CSV, SAS7BDAT, XPT), sheet name (XLSX), FormOID (ODM)
    frame: pd.DataFrame           # STUDYID, SITEID, SUBJID (ODM: then EVENT_COLUMNS) and one column per field,
                                  # all text, '' = missing
    source: str                   # the file the user has: 'ae.csv', 'study.xlsx', 'export.xml'
    locators: pd.Series | None = None   # per record, its place when a row number is not it (ODM:
                                        # SubjectKey/StudyEventOID[repeat]/FormOID/ItemGroupOID[repeat])
    labels: dict[str, str] = field(default_factory=dict)   # field -> label where the format carries one
    truncated: int | None = None  # 1-based record cut off by a truncated file (CSV: last record short, no final newline)


@dataclass(frozen=True)
class CodeListMeta:
    oid: str
    name: str
    data_type: str
    items: dict[str, str]         # coded value -> decode (the decode is the coded value where none is given)


@dataclass(frozen=True)
class ItemMeta:
    oid: str
    name: str
    data_type: str                # ODM DataType: text, integer, float, date, time, datetime, partialDate...
    length: int | None = None
    question: str = ""
    codelist: str | None = None   # CodeListOID
    mandatory: bool = False       # ItemRef Mandatory="Yes" in the group that holds the item


@dataclass(frozen=True)
class FormMeta:
    oid: str
    name: str
    items: tuple[str, ...]        # ItemOIDs in ItemGroupRef / ItemRef order
    repeating: bool = False       # any of its item groups is Repeating="Yes"


@dataclass(frozen=True)
class EventMeta:
    oid: str                      # StudyEventOID
    name: str
    repeating: bool = False       # Repeating="Yes": the event may occur more than once (StudyEventRepeatKey)
    forms: tuple[str, ...] = ()   # FormOIDs in FormRef order


@dataclass(frozen=True)
class ExportMetadata:
    study_oid: str
    forms: dict[str, FormMeta]
    items: dict[str, ItemMeta]
    codelists: dict[str, CodeListMeta]
    events: dict[str, EventMeta] = field(default_factory=dict)   # StudyEventDefs in the Protocol's StudyEventRef order


@dataclass
class RawExport:
    path: Path                    # the folder or file given on the command line
    format: str                   # one of FORMATS
    forms: dict[str, ExportForm]
    metadata: ExportMetadata | None = None
    findings: list = field(default_factory=list)   # trialkit.findings.Finding: what reading noticed (files not read, delimiter...)
