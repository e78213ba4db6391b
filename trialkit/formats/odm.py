"""Raw forms from a CDISC ODM 1.3.2 XML export (ClinicalData, with the Study metadata when present).

Streamed with lxml's iterparse, each SubjectData cleared once read, so a multi-GB export never sits
whole in memory. Hardened: no DTD loaded, no entity resolved, no network; a DOCTYPE that declares
entities is refused before parsing (XXE, billion laughs).

Records. A form's records are its FormData's item groups: the items of all non-repeating
ItemGroupData of one FormData make one record; each repeat of a repeating group (its
ItemGroupRepeatKey) is a record of its own. Columns: STUDYID (ClinicalData/@StudyOID), SITEID
(SubjectData/SiteRef/@LocationOID), SUBJID (@SubjectKey), then one per ItemOID (in the FormDef's
order, then undeclared items as met). Each record's locator is
SubjectKey/StudyEventOID[StudyEventRepeatKey]/FormOID[FormRepeatKey]/ItemGroupOID[ItemGroupRepeatKey]
(a [key] only where the export gives one).

Transactions (ODM 1.3.2 section 2.10, docs/raw-formats.md): Insert, Update, Upsert and Context (or
none, as in a Snapshot) all leave the element's items as the record's current values, a later
element for the same record overriding the items it gives; Remove on an ItemData empties the value,
on an ItemGroupData, FormData, StudyEventData or SubjectData removes every record under it (a notice
names each). IsNull="Yes" is an empty value. AuditRecord, Signature and Annotation are not data and
are not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from lxml import etree

from trialkit.errors import InputError
from trialkit.findings import Finding
from trialkit.formats.detect import ODM_NAMESPACE
from trialkit.formats.export import CodeListMeta, ExportForm, ExportMetadata, FormMeta, ItemMeta

NS = "{" + ODM_NAMESPACE + "}"
ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
ROOT = re.compile(rb"<(?![?!])")
NOT_DATA = {f"{NS}AuditRecord", f"{NS}Signature", f"{NS}Annotation"}
# the elements whose events the reader needs: an ItemData is read from its ItemGroupData, so the
# parser does not report the (many) items one by one
EVENT_TAGS = [f"{NS}{t}" for t in ("Study", "MetaDataVersion", "ClinicalData", "SubjectData", "SiteRef", "StudyEventData",
                                   "FormData", "ItemGroupData")] + sorted(NOT_DATA)


def _refuse_entities(path: Path) -> None:
    """An InputError when the prolog (everything before the root element) declares an entity."""
    head = b""
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(65536)
            head += chunk
            root = ROOT.search(head)
            if root or not chunk:
                break
    prolog = head[:root.start()] if root else head
    if ENTITY.search(prolog):
        raise InputError("the XML declares entities in a DOCTYPE: refused (an ODM export needs none; entities can read "
                         "local files or expand without bound)", file=str(path))


def _text(elem, tag: str) -> str:
    node = elem.find(f"{NS}{tag}/{NS}TranslatedText")
    return (node.text or "").strip() if node is not None else ""


def _metadata(study_oid: str, mdv) -> ExportMetadata:
    groups = {g.get("OID"): g for g in mdv.iterfind(f"{NS}ItemGroupDef")}
    mandatory = {r.get("ItemOID") for g in groups.values() for r in g.iterfind(f"{NS}ItemRef") if r.get("Mandatory") == "Yes"}
    forms = {}
    for f in mdv.iterfind(f"{NS}FormDef"):
        refs = [groups[r.get("ItemGroupOID")] for r in f.iterfind(f"{NS}ItemGroupRef") if r.get("ItemGroupOID") in groups]
        items = tuple(r.get("ItemOID") for g in refs for r in g.iterfind(f"{NS}ItemRef"))
        forms[f.get("OID")] = FormMeta(f.get("OID"), f.get("Name", ""), items, any(g.get("Repeating") == "Yes" for g in refs))
    items = {}
    for i in mdv.iterfind(f"{NS}ItemDef"):
        ref = i.find(f"{NS}CodeListRef")
        length = i.get("Length")
        items[i.get("OID")] = ItemMeta(i.get("OID"), i.get("Name", ""), i.get("DataType", ""), int(length) if length and length.isdigit() else None,
                                       _text(i, "Question"), ref.get("CodeListOID") if ref is not None else None, i.get("OID") in mandatory)
    codelists = {}
    for c in mdv.iterfind(f"{NS}CodeList"):
        coded = {e.get("CodedValue"): _text(e, "Decode") or e.get("CodedValue")
                 for e in (*c.iterfind(f"{NS}CodeListItem"), *c.iterfind(f"{NS}EnumeratedItem"))}
        codelists[c.get("OID")] = CodeListMeta(c.get("OID"), c.get("Name", ""), c.get("DataType", ""), coded)
    return ExportMetadata(study_oid, forms, items, codelists)


@dataclass
class _Records:
    """The records met so far, by key, in the order first met."""

    path: Path
    rows: dict[tuple, dict] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    undeclared: dict[tuple[str, str], str] = field(default_factory=dict)   # (form, item) -> first locator

    def remove(self, prefix: tuple, what: str, locator: str) -> None:
        gone = [k for k in self.rows if k[:len(prefix)] == prefix]
        for k in gone:
            self.findings.append(Finding("notice", self.path.name, None, None, "", f"record removed by TransactionType=\"Remove\" on its {what} {locator}",
                                         record=self.rows.pop(k)["_locator"]))


def _key(elem, oid: str, repeat: str | None) -> tuple[tuple[str, str], str]:
    key = (elem.get(oid) or "", (elem.get(repeat) if repeat else None) or "")
    return key, key[0] + (f"[{key[1]}]" if key[1] else "")


def _item_value(item) -> str:
    if item.get("IsNull") == "Yes" or item.get("TransactionType") == "Remove":
        return ""
    if item.tag == f"{NS}ItemData":
        return item.get("Value") or ""
    return item.text or ""     # ODM 1.3 typed ItemData (ItemDataString, ItemDataInteger...) carry the value as text


def _group(elem, context: dict, out: _Records, metadata: ExportMetadata | None) -> None:
    group_key, group_loc = _key(elem, "ItemGroupOID", "ItemGroupRepeatKey")
    key = (*context["subject"], *context["event"], *context["form"], group_key[1])
    locator = "/".join((context["subject_loc"], context["event_loc"], context["form_loc"], group_loc))
    if elem.get("TransactionType") == "Remove":
        out.remove((*context["subject"], *context["event"], *context["form"], group_key[1]), "ItemGroupData", locator)
        return
    form = context["form"][0]
    row = out.rows.setdefault(key, {"_form": form, "_locator": locator, "STUDYID": context["study"],
                                    "SITEID": context["site"], "SUBJID": context["subject"][0]})
    declared = set(metadata.forms[form].items) if metadata and form in metadata.forms else None
    for item in elem:
        if not isinstance(item.tag, str) or not item.tag.startswith(f"{NS}ItemData"):
            continue
        oid = item.get("ItemOID")
        row[oid] = _item_value(item)
        if metadata is not None and (declared is None or oid not in declared):
            out.undeclared.setdefault((form, oid), locator)


def _frames(out: _Records, metadata: ExportMetadata | None, path: Path) -> dict[str, ExportForm]:
    by_form: dict[str, list[dict]] = {}
    for row in out.rows.values():
        by_form.setdefault(row["_form"], []).append(row)
    forms = {}
    for name, rows in by_form.items():
        declared = list(metadata.forms[name].items) if metadata and name in metadata.forms else []
        met = list(dict.fromkeys(k for r in rows for k in r if not k.startswith("_")))
        columns = ["STUDYID", "SITEID", "SUBJID", *[c for c in declared if c not in ("STUDYID", "SITEID", "SUBJID")]]
        columns += [c for c in met if c not in columns]
        frame = pd.DataFrame.from_records(rows, columns=columns).fillna("").astype(str)
        labels = {c: metadata.items[c].question for c in columns if metadata and c in metadata.items and metadata.items[c].question}
        forms[name] = ExportForm(name, frame, path.name, pd.Series([r["_locator"] for r in rows], dtype=str), labels)
    return forms


def read_odm(path: Path) -> tuple[dict[str, ExportForm], ExportMetadata | None, list[Finding]]:
    """Every form of the ODM file, its study metadata (None when the file has none) and what reading found."""
    path = Path(path)
    _refuse_entities(path)
    out = _Records(path)
    metadata = None
    study_oid = ""
    context: dict = {"study": "", "site": ""}
    parser = etree.iterparse(str(path), events=("start", "end"), tag=EVENT_TAGS, resolve_entities=False, no_network=True,
                             load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        for event, elem in parser:
            tag = elem.tag
            if event == "start":
                if tag == f"{NS}Study":
                    study_oid = elem.get("OID", "")
                elif tag == f"{NS}ClinicalData":
                    context["study"] = elem.get("StudyOID", "")
                elif tag == f"{NS}SubjectData":
                    context["subject"], context["subject_loc"] = _key(elem, "SubjectKey", None)
                    context["site"] = ""
                    if elem.get("TransactionType") == "Remove":
                        out.remove(context["subject"], "SubjectData", context["subject_loc"])
                elif tag == f"{NS}SiteRef":
                    context["site"] = elem.get("LocationOID", "")
                elif tag == f"{NS}StudyEventData":
                    context["event"], context["event_loc"] = _key(elem, "StudyEventOID", "StudyEventRepeatKey")
                    if elem.get("TransactionType") == "Remove":
                        out.remove((*context["subject"], *context["event"]), "StudyEventData", context["event_loc"])
                elif tag == f"{NS}FormData":
                    context["form"], context["form_loc"] = _key(elem, "FormOID", "FormRepeatKey")
                    if elem.get("TransactionType") == "Remove":
                        out.remove((*context["subject"], *context["event"], *context["form"]), "FormData", context["form_loc"])
                continue
            if tag == f"{NS}MetaDataVersion":
                metadata = _metadata(study_oid, elem)
                elem.clear()
            elif tag == f"{NS}ItemGroupData":
                if not any(a.get("TransactionType") == "Remove" for a in elem.iterancestors()):
                    _group(elem, context, out, metadata)
                elem.clear()
            elif tag == f"{NS}SubjectData" or tag in NOT_DATA:
                elem.clear()
                while elem.getprevious() is not None and tag == f"{NS}SubjectData":
                    del elem.getparent()[0]
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno, 0)
        raise InputError(f"malformed XML at line {line}, column {column}: {exc.msg} (a truncated or damaged file?)",
                         file=str(path), row=line) from None
    for (form, item), locator in out.undeclared.items():
        where = f"FormDef {form}" if metadata and form in metadata.forms else f"form {form} (no FormDef declares it)"
        out.findings.append(Finding("warning", path.name, None, item, "", f"item {item} is not declared by an ItemGroupDef of "
                                    f"{where} in the study metadata: read as a column of the form", record=locator))
    return _frames(out, metadata, path), metadata, out.findings
