"""Write the rendered forms as one CDISC ODM 1.3.2 Snapshot file, as EDCs export a study.

The ODM carries the same text values as the CSV export, so that the trialkit raw dictionary maps it
unchanged: FormOID is the dictionary's form name and ItemOID its field name; STUDYID, SITEID and
SUBJID are not items but the file's structure (ClinicalData/@StudyOID, SubjectData/SiteRef/@LocationOID,
SubjectData/@SubjectKey). Every subject has one study event (``SE.STUDY``) holding one FormData per
form with records, and each record of a form is one ItemGroupData (``IG.<form>``) whose
ItemGroupRepeatKey counts the subject's records of that form; an empty value is an absent ItemData.
Dates, decimals and times are the EDC's text renderings (``05-JAN-2019``, ``3,5``), so their ItemDefs
say DataType="text"; integers say "integer".

ODM's ItemOIDs are study-wide, while the raw dictionary lets two forms use one field name with
different labels or codes (EXDOSU in ex_blin and ex_hc3): such an ItemDef takes its Question from
the first form that uses the field and its CodeList is the union of the forms' codes. The raw
dictionary, not the ODM metadata, stays the contract the export is checked against.

The clinical data are written subject by subject with ``lxml.etree.xmlfile``: one SubjectData
element is built and written at a time, so 100,000 subjects never sit in memory as a tree.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from lxml import etree

from trialkit.raw_dictionary import RawDictionary
from trialkit.simulate.export import KEY_FIELDS

NS = "http://www.cdisc.org/ns/odm/v1.3"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
EVENT = "SE.STUDY"
METADATA_VERSION = "MDV.RAW"


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def item_group(form: str) -> str:
    return f"IG.{form}"


def subject_order(forms: dict[str, pd.DataFrame]) -> pd.Index:
    """Subjects in order of first appearance, forms taken in the dictionary's order: the order of
    the SubjectData elements (the CSV export's subject order, as every form lists subjects in it)."""
    ids = pd.concat([frame["SUBJID"] for frame in forms.values()], ignore_index=True)
    return pd.Index(ids.drop_duplicates().to_numpy())


def document_order(forms: dict[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    """Per form, the frame's row positions in the order the file holds the records: grouped by
    subject (in ``subject_order``), each subject's records in frame order."""
    rank = subject_order(forms)
    return {name: np.argsort(rank.get_indexer(frame["SUBJID"]), kind="stable") for name, frame in forms.items()}


def last_record(forms: dict[str, pd.DataFrame]) -> tuple[str, int] | None:
    """(form, 0-based frame row) of the record written last, the one a cut file loses: the last
    subject's last record in the last form (dictionary order) that has one."""
    subjects = subject_order(forms)
    if not len(subjects):
        return None
    for name in reversed(list(forms)):
        rows = np.flatnonzero(forms[name]["SUBJID"].to_numpy() == subjects[-1])
        if len(rows):
            return name, int(rows[-1])
    return None


def locators(frame: pd.DataFrame, form: str) -> pd.Series:
    """Each record's place in the file: SubjectKey/StudyEventOID/FormOID/ItemGroupOID[repeat key]."""
    repeat = frame.groupby("SUBJID", sort=False).cumcount() + 1
    return frame["SUBJID"] + f"/{EVENT}/{form}/{item_group(form)}[" + repeat.astype(str) + "]"


def _translated(parent: etree._Element, tag: str, text: str) -> None:
    holder = etree.SubElement(parent, _q(tag))
    etree.SubElement(holder, _q("TranslatedText"), {XML_LANG: "en"}).text = text


def study_element(dictionary: RawDictionary, study_oid: str) -> etree._Element:
    """Study / GlobalVariables / MetaDataVersion built from the raw dictionary (small: built in memory)."""
    study = etree.Element(_q("Study"), nsmap={None: NS}, OID=study_oid)
    glob = etree.SubElement(study, _q("GlobalVariables"))
    etree.SubElement(glob, _q("StudyName")).text = study_oid
    etree.SubElement(glob, _q("StudyDescription")).text = f"Simulated EDC snapshot of {study_oid} (trialkit simulate)"
    etree.SubElement(glob, _q("ProtocolName")).text = study_oid
    mdv = etree.SubElement(study, _q("MetaDataVersion"), OID=METADATA_VERSION, Name=f"{study_oid} raw dictionary")
    protocol = etree.SubElement(mdv, _q("Protocol"))
    etree.SubElement(protocol, _q("StudyEventRef"), StudyEventOID=EVENT, OrderNumber="1", Mandatory="Yes")
    event = etree.SubElement(mdv, _q("StudyEventDef"), OID=EVENT, Name="Study", Repeating="No", Type="Common")
    for k, (name, form) in enumerate(dictionary.forms.items(), 1):
        etree.SubElement(event, _q("FormRef"), FormOID=name, OrderNumber=str(k), Mandatory="Yes" if form.expected else "No")
    for name, form in dictionary.forms.items():
        form_def = etree.SubElement(mdv, _q("FormDef"), OID=name, Name=form.label, Repeating="No")
        etree.SubElement(form_def, _q("ItemGroupRef"), ItemGroupOID=item_group(name), Mandatory="Yes")
    items: dict[str, list] = {}
    for name, form in dictionary.forms.items():
        group = etree.SubElement(mdv, _q("ItemGroupDef"), OID=item_group(name), Name=name,
                                 Repeating="No" if form.one_row_per_subject else "Yes")
        for k, f in enumerate((f for f in form.fields if f.name not in KEY_FIELDS), 1):
            etree.SubElement(group, _q("ItemRef"), ItemOID=f.name, OrderNumber=str(k), Mandatory="Yes" if f.required else "No")
            items.setdefault(f.name, []).append(f)
    for oid, fields in items.items():
        first = fields[0]
        item = etree.SubElement(mdv, _q("ItemDef"), OID=oid, Name=oid,
                                DataType="integer" if first.type == "integer" else "text")
        _translated(item, "Question", first.label)
        if any(f.codes for f in fields):
            etree.SubElement(item, _q("CodeListRef"), CodeListOID=f"CL.{oid}")
    for oid, fields in items.items():
        codes = {c: label for f in fields for c, label in f.codes.items()}
        if not codes:
            continue
        codelist = etree.SubElement(mdv, _q("CodeList"), OID=f"CL.{oid}", Name=oid, DataType="text")
        for code, label in codes.items():
            _translated(etree.SubElement(codelist, _q("CodeListItem"), CodedValue=code), "Decode", label)
    return study


def admin_element(sites: list[str], study_oid: str, effective: str) -> etree._Element:
    """One Location per site, the targets of SiteRef/@LocationOID."""
    admin = etree.Element(_q("AdminData"), nsmap={None: NS})
    for site in sites:
        location = etree.SubElement(admin, _q("Location"), OID=site, Name=f"Site {site}", LocationType="Site")
        etree.SubElement(location, _q("MetaDataVersionRef"), StudyOID=study_oid, MetaDataVersionOID=METADATA_VERSION,
                         EffectiveDate=effective)
    return admin


class _FormRecords:
    """One form's records in document order, with where each subject's run starts and ends."""

    def __init__(self, name: str, frame: pd.DataFrame, order: np.ndarray, subjects: pd.Index) -> None:
        self.name, self.group = name, item_group(name)
        self.fields = [c for c in frame.columns if c not in KEY_FIELDS]
        ordered = frame.iloc[order]
        self.values = ordered[self.fields].to_numpy(dtype=object)
        rank = subjects.get_indexer(ordered["SUBJID"])
        self.start = np.searchsorted(rank, np.arange(len(subjects)), side="left")
        self.end = np.searchsorted(rank, np.arange(len(subjects)), side="right")

    def write(self, event: etree._Element, subject: int) -> None:
        start, end = self.start[subject], self.end[subject]
        if start == end:
            return
        form = etree.SubElement(event, _q("FormData"), FormOID=self.name)
        item_data, fields = _q("ItemData"), self.fields
        for k, values in enumerate(self.values[start:end], 1):
            group = etree.SubElement(form, _q("ItemGroupData"), ItemGroupOID=self.group, ItemGroupRepeatKey=str(k))
            for field, value in zip(fields, values):
                if value != "":
                    etree.SubElement(group, item_data, ItemOID=field, Value=value)


def write_odm(forms: dict[str, pd.DataFrame], dictionary: RawDictionary, path: Path, *, study_oid: str,
              file_oid: str, created: str) -> None:
    """Stream the export to ``path``; ``created`` (ISO 8601 datetime) is the snapshot's
    CreationDateTime, given by the caller so that the same seed writes the same bytes."""
    subjects = subject_order(forms)
    order = document_order(forms)
    records = [_FormRecords(name, frame, order[name], subjects) for name, frame in forms.items()]
    firsts = pd.concat([frame[["SUBJID", "SITEID"]] for frame in forms.values()]).drop_duplicates("SUBJID")
    site_of = firsts.set_index("SUBJID")["SITEID"].reindex(subjects).to_numpy()
    with etree.xmlfile(str(path), encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(_q("ODM"), nsmap={None: NS}, FileType="Snapshot", FileOID=file_oid, CreationDateTime=created,
                        ODMVersion="1.3.2", Granularity="All", SourceSystem="trialkit simulate"):
            xf.write(study_element(dictionary, study_oid), pretty_print=True)
            xf.write(admin_element(sorted(set(site_of)), study_oid, created[:10]), pretty_print=True)
            with xf.element(_q("ClinicalData"), StudyOID=study_oid, MetaDataVersionOID=METADATA_VERSION):
                for k, (subject, site) in enumerate(zip(subjects, site_of)):
                    data = etree.Element(_q("SubjectData"), nsmap={None: NS}, SubjectKey=str(subject))
                    etree.SubElement(data, _q("SiteRef"), LocationOID=str(site))
                    event = etree.SubElement(data, _q("StudyEventData"), StudyEventOID=EVENT)
                    for form in records:
                        form.write(event, k)
                    xf.write(data)
                    xf.write("\n")


def cut_inside_last_record(path: Path, tail: int = 1 << 20) -> None:
    """Cut the file in the middle of its last ItemGroupData, as a transfer that stopped early
    leaves it (no longer well-formed XML). Only the file's tail is read."""
    size = os.path.getsize(path)
    with open(path, "r+b") as handle:
        base = max(0, size - tail)
        handle.seek(base)
        data = handle.read()
        start = data.rfind(b"<ItemGroupData ")
        end = data.find(b"</ItemGroupData>", start)
        if start < 0 or end < 0:
            raise ValueError(f"{path}: no ItemGroupData in the last {tail} bytes to cut")
        handle.truncate(base + start + (end - start) // 2)
