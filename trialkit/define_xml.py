"""The Define-XML 2.1 document itself, built with odmlib's model from the checked spec metadata
(:mod:`trialkit.define_model`) and the columns of the files actually written.

Each variable's ItemDef takes its Length from the file (the stored XPT length; for value-level
entries the longest value among their records), its DataType from :mod:`trialkit.columns`, its
label, origins, derivation, comment and codelist from the specs. Codelists are assembled once all
datasets are known, because the data decides which CT terms they list.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import odmlib.define_2_1.model as DEFINE
import pandas as pd
from lxml import etree

from trialkit import __version__
from trialkit.columns import column_kind, item_group_oid, item_oid, significant_digits, text_length
from trialkit.define_model import CodelistDef, DatasetDef, Origin, StudyDefine, Term, ValueDef, VariableDef
from trialkit.xpt import NUM_BYTES, Variable

DEFINE_VERSION = "2.1.0"
ACRF_LEAF = "LF.acrf"
ACRF_HREF = "acrf.pdf"    # the annotated CRF a submission puts beside define.xml; raw form names are its named destinations
_DATA_TYPES = {"text": "text", "date": "date", "datetime": "datetime", "duration": "durationDatetime", "integer": "integer",
               "float": "float", "sas_date": "integer", "sas_datetime": "integer", "sas_time": "integer"}
_CLASS_ORDER = ("TRIAL DESIGN", "SPECIAL PURPOSE", "INTERVENTIONS", "EVENTS", "FINDINGS", "FINDINGS ABOUT", "RELATIONSHIP",
                "SUBJECT LEVEL ANALYSIS DATASET", "BASIC DATA STRUCTURE")


def study_oid(define: StudyDefine) -> str:
    return f"ST.{define.studyid}"


def metadata_version_oid(define: StudyDefine) -> str:
    return f"MDV.{define.studyid}.{define.standard[0]}.{define.standard[1]}"


@dataclass
class DatasetColumn:
    """One variable of a written dataset with the records of each of its value-level entries."""

    definition: VariableDef
    variable: Variable
    values: pd.Series
    value_rows: list[tuple[ValueDef, pd.Series]]


def _used(values: pd.Series) -> set[str]:
    """The distinct non-empty values of a column, as text: what a codelist must hold."""
    text = values.astype(object).where(values.notna(), "").astype(str)
    return set(text[text != ""].unique())


def _text(text: str) -> DEFINE.Description:
    return DEFINE.Description(TranslatedText=[DEFINE.TranslatedText(_content=text, lang="en")])


def _oid_part(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", value)


class _Document:
    """The parts of a MetaDataVersion, collected dataset by dataset."""

    def __init__(self, define: StudyDefine, tables: dict[str, tuple[DatasetDef, Path, list[DatasetColumn]]]) -> None:
        self.define = define
        self.ig_standard = f"STD.{define.standard[0]}.{define.standard[1]}"
        self.ct_standard = f"STD.CT.SDTM.{define.ct_version}"
        self.mdv = DEFINE.MetaDataVersion(OID=metadata_version_oid(define), Name=f"{define.studyid} {define.kind} datasets",
                                          Description=f"{define.kind} datasets of {define.studyid}, described from the specs "
                                                      "that made them (trialkit)", DefineVersion=DEFINE_VERSION)
        # values each codelist must list: the data decides which CT terms appear
        self.codelist_values: dict[str, tuple[CodelistDef, set[str]]] = {}
        for _, _, columns in tables.values():
            for col in columns:
                for codelist, values in [(col.definition.codelist, col.values), *[(v.codelist, s) for v, s in col.value_rows]]:
                    if codelist is not None and col.variable.type == "Char":
                        entry = self.codelist_values.setdefault(codelist.key, (codelist, set()))
                        entry[1].update(_used(values))
        built = ((key, self._codelist(cl, used)) for key, (cl, used) in self.codelist_values.items())
        self.codelists = {key: el for key, el in built if el is not None}
        self.collected = False

    def _codelist(self, cl: CodelistDef, used: set[str]) -> DEFINE.CodeList | None:
        """CT lists: the terms the data uses; spec lists: all their terms; both: the data's values
        the list lacks. ExtendedValue marks, in an extensible CDISC list, the study's own terms (the
        CT file's ``extended: true``) and values the list lacks; a non-extensible list lists such a
        value unmarked, as the data has it, for the validators to report."""
        terms = [t for t in cl.terms if t.value in used] if cl.standard else list(cl.terms)
        known = {t.value for t in cl.terms}
        extra = [Term(v) for v in sorted(used - known)]
        if not terms and not extra:
            return None
        el = DEFINE.CodeList(OID=f"CL.{_oid_part(cl.key)}", Name=cl.name, DataType="text")
        if cl.standard:
            el.StandardOID = self.ct_standard
        decoded = any(t.decode for t in terms)
        for order, term in enumerate([*terms, *extra], 1):
            item = (DEFINE.CodeListItem if decoded else DEFINE.EnumeratedItem)(CodedValue=term.value, OrderNumber=order)
            if decoded:
                item.Decode = DEFINE.Decode(TranslatedText=[DEFINE.TranslatedText(_content=term.decode or term.value, lang="en")])
            if (term in extra or term.extended) and cl.standard and cl.extensible:
                item.ExtendedValue = "Yes"
            if term.code:
                item.Alias.append(DEFINE.Alias(Context="nci:ExtCodeID", Name=term.code))
            (el.CodeListItem if decoded else el.EnumeratedItem).append(item)
        if cl.code:
            el.Alias.append(DEFINE.Alias(Context="nci:ExtCodeID", Name=cl.code))
        return el

    def _origin(self, origin: Origin) -> DEFINE.Origin:
        el = DEFINE.Origin(Type=origin.type)
        if origin.description:
            el.Description = _text(origin.description)
        if origin.form:
            self.collected = True
            el.DocumentRef.append(DEFINE.DocumentRef(leafID=ACRF_LEAF, PDFPageRef=[
                DEFINE.PDFPageRef(Type="NamedDestination", PageRefs=origin.form)]))
        return el

    def _method(self, oid: str, name: str, text: str | None, origins: tuple[Origin, ...]) -> str | None:
        if not text or not any(o.type == "Derived" for o in origins):
            return None
        self.mdv.MethodDef.append(DEFINE.MethodDef(OID=oid, Name=f"Algorithm to derive {name}", Type="Computation",
                                                   Description=_text(text)))
        return oid

    def _comment(self, oid: str, text: str | None) -> str | None:
        if not text:
            return None
        self.mdv.CommentDef.append(DEFINE.CommentDef(OID=oid, Description=_text(text)))
        return oid

    def _item_def(self, oid: str, variable: Variable, values: pd.Series, description: str, origins: tuple[Origin, ...],
                  codelist: CodelistDef | None, comment_oid: str | None, length: int | None) -> DEFINE.ItemDef:
        kind = column_kind(variable, values)
        item = DEFINE.ItemDef(OID=oid, Name=variable.name, DataType=_DATA_TYPES[kind], SASFieldName=variable.name,
                              Length=length if variable.type == "Char" else NUM_BYTES)
        if kind == "float":
            item.SignificantDigits = significant_digits(values)
        if variable.format:
            item.DisplayFormat = variable.format
        if comment_oid:
            item.CommentOID = comment_oid
        item.Description = _text(description)
        if codelist is not None and codelist.key in self.codelists and variable.type == "Char":
            item.CodeListRef = DEFINE.CodeListRef(CodeListOID=f"CL.{_oid_part(codelist.key)}")
        item.Origin = [self._origin(o) for o in origins]
        return item

    def _value_list(self, dataset: str, col: DatasetColumn) -> None:
        """The ValueListDef of a variable with value-level metadata, its WhereClauseDefs and ItemDefs."""
        name = col.variable.name
        vl = DEFINE.ValueListDef(OID=f"VL.{dataset}.{name}")
        for order, (value, rows) in enumerate(col.value_rows, 1):
            tag = ".".join(_oid_part(v) for _, v in value.where)
            where_oid = f"WC.{dataset}." + ".".join(f"{_oid_part(k)}.EQ.{_oid_part(v)}" for k, v in value.where)
            if where_oid not in {w.OID for w in self.mdv.WhereClauseDef}:
                self.mdv.WhereClauseDef.append(DEFINE.WhereClauseDef(OID=where_oid, RangeCheck=[
                    DEFINE.RangeCheck(Comparator="EQ", SoftHard="Soft", ItemOID=item_oid(dataset, k),
                                      CheckValue=[DEFINE.CheckValue(_content=v)]) for k, v in value.where]))
            oid = f"{item_oid(dataset, name)}.{tag}"
            ref = DEFINE.ItemRef(ItemOID=oid, OrderNumber=order, Mandatory="No",
                                 WhereClauseRef=[DEFINE.WhereClauseRef(WhereClauseOID=where_oid)])
            method = self._method(f"MT.{dataset}.{name}.{tag}", f"{dataset}.{name} where {tag}", value.method, value.origins)
            if method:
                ref.MethodOID = method
            vl.ItemRef.append(ref)
            comment = self._comment(f"COM.{dataset}.{name}.{tag}", value.comment)
            self.mdv.ItemDef.append(self._item_def(oid, col.variable, rows, value.description, value.origins, value.codelist,
                                                   comment, text_length(rows)))
        self.mdv.ValueListDef.append(vl)

    def add_dataset(self, ds: DatasetDef, path: Path, columns: list[DatasetColumn], href: str) -> None:
        present = [c.variable.name for c in columns]
        keys = [k for k in ds.keys if k in present]
        ig = DEFINE.ItemGroupDef(OID=item_group_oid(ds.name), Name=ds.name, Repeating="Yes" if ds.repeating else "No",
                                 IsReferenceData="Yes" if ds.reference_data else "No", SASDatasetName=ds.name,
                                 Purpose="Tabulation" if self.define.kind == "SDTM" else "Analysis", Structure=ds.structure,
                                 ArchiveLocationID=f"LF.{ds.name}", StandardOID=self.ig_standard)
        if ds.domain:
            ig.Domain = ds.domain
        comment = self._comment(f"COM.{ds.name}", ds.comment)
        if comment:
            ig.CommentOID = comment
        ig.Description = _text(ds.label)
        for order, col in enumerate(columns, 1):
            var, name = col.definition, col.variable.name
            ref = DEFINE.ItemRef(ItemOID=item_oid(ds.name, name), OrderNumber=order, Mandatory="Yes" if var.mandatory else "No")
            if name in keys:
                ref.KeySequence = keys.index(name) + 1
            method = self._method(f"MT.{ds.name}.{name}", f"{ds.name}.{name}", var.method, var.origins)
            if method:
                ref.MethodOID = method
            if var.role:
                ref.Role = var.role
            ig.ItemRef.append(ref)
            item = self._item_def(item_oid(ds.name, name), col.variable, col.values, var.label, var.origins,
                                  None if col.value_rows else var.codelist, self._comment(f"COM.{ds.name}.{name}", var.comment),
                                  int(col.variable.length or text_length(col.values)))
            self.mdv.ItemDef.append(item)
            if col.value_rows:
                item.ValueListRef = DEFINE.ValueListRef(ValueListOID=f"VL.{ds.name}.{name}")
                self._value_list(ds.name, col)
        ig.Class = DEFINE.Class(Name=ds.cls, SubClass=[DEFINE.SubClass(Name=ds.subclass)] if ds.subclass else [])
        ig.leaf = DEFINE.leaf(ID=f"LF.{ds.name}", href=href, title=DEFINE.title(_content=path.name))
        self.mdv.ItemGroupDef.append(ig)

    def finish(self) -> DEFINE.MetaDataVersion:
        define = self.define
        self.mdv.Standards = DEFINE.Standards(Standard=[
            DEFINE.Standard(OID=self.ig_standard, Name=define.standard[0], Type="IG", Version=define.standard[1], Status="Final"),
            DEFINE.Standard(OID=self.ct_standard, Name="CDISC/NCI", Type="CT", PublishingSet="SDTM", Version=define.ct_version,
                            Status="Final"),
        ])
        self.mdv.CodeList = list(self.codelists.values())
        if self.collected:
            self.mdv.AnnotatedCRF = DEFINE.AnnotatedCRF(DocumentRef=DEFINE.DocumentRef(leafID=ACRF_LEAF))
            self.mdv.leaf.append(DEFINE.leaf(ID=ACRF_LEAF, href=ACRF_HREF, title=DEFINE.title(_content="Annotated CRF")))
        return self.mdv


def define_xml(define: StudyDefine, tables: dict[str, tuple[DatasetDef, Path, list[DatasetColumn]]], define_dir: Path,
               created: datetime | None = None) -> bytes:
    """The define.xml (UTF-8 bytes, pretty-printed) of ``tables``: per dataset its metadata, the
    file and its columns. Datasets are listed by class (trial design first), leaves relative to
    ``define_dir``, the folder define.xml is written to."""
    document = _Document(define, tables)
    rank = {c: k for k, c in enumerate(_CLASS_ORDER)}
    for name in sorted(tables, key=lambda n: (rank.get(tables[n][0].cls, len(rank)), n)):
        ds, path, columns = tables[name]
        document.add_dataset(ds, path, columns, Path(os.path.relpath(path.resolve(), define_dir.resolve())).as_posix())
    odm = DEFINE.ODM(FileOID=f"DEF.{define.studyid}.{define.kind}", ODMVersion="1.3.2", FileType="Snapshot",
                     Context="Submission", CreationDateTime=(created or datetime.now()).isoformat(timespec="seconds"),
                     Originator="trialkit", SourceSystem="trialkit", SourceSystemVersion=__version__)
    odm.Study = DEFINE.Study(OID=study_oid(define), GlobalVariables=DEFINE.GlobalVariables(
        StudyName=DEFINE.StudyName(_content=define.studyid), StudyDescription=DEFINE.StudyDescription(_content=define.title),
        ProtocolName=DEFINE.ProtocolName(_content=define.studyid)), MetaDataVersion=document.finish())
    tree = etree.fromstring(odm.to_xml_string().encode("utf-8"))
    return etree.tostring(tree, pretty_print=True, xml_declaration=True, encoding="UTF-8")
