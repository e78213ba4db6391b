"""Raw forms from a CDISC ODM 1.3.2 XML export (ClinicalData, with the Study metadata when present).

Streamed with lxml's iterparse, one SubjectData at a time (cleared, with what precedes it, once read),
so a multi-GB export never sits whole in memory. Hardened: no DTD loaded, no entity resolved, no
network; a DOCTYPE that declares entities is refused before parsing (XXE, billion laughs).

Records. A form's records are its FormData's item groups: the items of all non-repeating
ItemGroupData of one FormData make one record; each repeat of a repeating group (its
ItemGroupRepeatKey) is a record of its own. Columns: STUDYID (ClinicalData/@StudyOID), SITEID
(SubjectData/SiteRef/@LocationOID), SUBJID (@SubjectKey), then, for a form met under StudyEventData,
STUDYEVENTOID and STUDYEVENTREPEATKEY (so a spec maps VISIT from the study event through the visit
map, as it would a form's visit field), then one per ItemOID (in the FormDef's order, then
undeclared items as met). Each record's locator is
SubjectKey/StudyEventOID[StudyEventRepeatKey]/FormOID[FormRepeatKey]/ItemGroupOID[ItemGroupRepeatKey]
(a [key] only where the export gives one). REDCap's "classic" (non-longitudinal) projects put FormData
straight under SubjectData, without StudyEventData (not ODM 1.3.2, but what REDCap exports): those
records have no study event and their locator is SubjectKey/FormOID[...]/ItemGroupOID[...].

Transactions (ODM 1.3.2 section 2.10, docs/raw-formats.md): Insert, Update, Upsert and Context (or
none, as in a Snapshot) all leave the element's items as the record's current values, a later
element for the same record overriding the items it gives; Remove on an ItemData empties the value,
on an ItemGroupData, FormData, StudyEventData or SubjectData removes every record under it (a notice
names each). IsNull="Yes" is an empty value. AuditRecord, Signature and Annotation are not data and
are not read.

Speed and memory (benchmarks/raw_read.py): values are gathered column by column (one list per item
of a form, one slot per record) and equal values share one string, so 100,000 subjects fit in far
less memory than one dict per record would take. A record is found again by its key (study event,
form and group with their repeat keys) among its subject's records: a snapshot lists each subject
once, so only the subject being read is looked up; the first SubjectKey met a second time (a
transactional export) builds the index of every record read so far, kept from then on. A snapshot of
64 MiB or more is cut into ranges of whole SubjectData (odm_ranges) read by forked workers, one
range each, and merged in file order: the same forms, locators and findings as one pass (a range
that does not parse, or a subject met in two ranges, sends the file back to one pass, which names
the file's own line and column). The parsing is the cost (every ItemData is an element handed to
Python), so it only goes faster where a core is free for each worker.
"""

from __future__ import annotations

import io
import re
from array import array
from pathlib import Path

import numpy as np
import pandas as pd
from lxml import etree

from trialkit.errors import InputError
from trialkit.findings import Finding
from trialkit.forked import can_fork, forked_pool_sharing, shared_state, usable_cores
from trialkit.formats import odm_ranges
from trialkit.formats.detect import ODM_NAMESPACE
from trialkit.formats.export import EVENT_COLUMNS, CodeListMeta, EventMeta, ExportForm, ExportMetadata, FormMeta, ItemMeta

NS = "{" + ODM_NAMESPACE + "}"
ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
ROOT = re.compile(rb"<(?![?!])")
# the elements whose events the reader needs: the rest of a subject is read from its SubjectData
EVENT_TAGS = [f"{NS}{t}" for t in ("Study", "MetaDataVersion", "ClinicalData", "SubjectData")]
SITE_REF, STUDY_EVENT, FORM, GROUP, ITEM = (f"{NS}{t}" for t in ("SiteRef", "StudyEventData", "FormData", "ItemGroupData", "ItemData"))
KEY_COLUMNS = ("STUDYID", "SITEID", "SUBJID")
RECORD_COLUMNS = (*KEY_COLUMNS, *EVENT_COLUMNS)    # every record gives them: kept for each, not per item
PARALLEL_WORKERS = 4             # at most: each worker holds one range's records while it is merged
PLAIN = ["ItemOID", "Value"]     # the attributes of nearly every ItemData, in the order writers put them


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
    return ExportMetadata(study_oid, forms, items, codelists, _events(mdv))


def _events(mdv) -> dict[str, EventMeta]:
    """The StudyEventDefs, in the order the Protocol's StudyEventRefs give (then any it does not name)."""
    defs = {e.get("OID"): e for e in mdv.iterfind(f"{NS}StudyEventDef")}
    order = [r.get("StudyEventOID") for r in mdv.iterfind(f"{NS}Protocol/{NS}StudyEventRef")]
    order = [oid for oid in dict.fromkeys([*order, *defs]) if oid in defs]
    return {oid: EventMeta(oid, defs[oid].get("Name", ""), defs[oid].get("Repeating") == "Yes",
                           tuple(r.get("FormOID") for r in defs[oid].iterfind(f"{NS}FormRef"))) for oid in order}


def _key(elem, oid: str, repeat: str) -> tuple[str, str, str]:
    """(OID, repeat key or '', locator part 'OID[repeat]')."""
    name, rep = elem.get(oid) or "", elem.get(repeat) or ""
    return name, rep, name + (f"[{rep}]" if rep else "")


class _Form:
    """One form's records as columns: a list per column, a slot per record (None: the record has
    no such item), with each record's locator, key and place in the order records were met, and
    whether any record sits in a study event (then the frame has the EVENT_COLUMNS)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.in_events = False
        self.keys: dict[str, list[str]] = {k: [] for k in RECORD_COLUMNS}
        self.columns: dict[str, list[str | None]] = {}
        self.locators: list[str] = []
        self.record_keys: list[tuple] = []
        self.seq = array("q")
        self.alive = bytearray()

    def add(self, study: str, site: str, subject: str, event: tuple[str, str] | None, locator: str, key: tuple, seq: int) -> int:
        """A new record; ``event`` is (StudyEventOID, StudyEventRepeatKey), None outside a study event."""
        keys = self.keys
        keys["STUDYID"].append(study)
        keys["SITEID"].append(site)
        keys["SUBJID"].append(subject)
        if event is not None:
            self.in_events = True
        keys["STUDYEVENTOID"].append(event[0] if event else "")
        keys["STUDYEVENTREPEATKEY"].append(event[1] if event else "")
        self.locators.append(locator)
        self.record_keys.append(key)
        self.seq.append(seq)
        self.alive.append(1)
        return len(self.locators) - 1

    def frame(self, declared: tuple[str, ...], metadata: ExportMetadata | None, path: Path) -> ExportForm:
        """The form's live records as a frame of text ('' where a record has no value). Columns: the
        key columns (with the event columns when a record sits in a study event), the declared
        items, then the other items given by a live record, in the order first given; an item named
        like a key column (STUDYID...) overrides it where given."""
        count = len(self.locators)
        alive = np.frombuffer(self.alive, dtype=bool)
        everyone = bool(alive.all())
        data, firsts = {}, {}
        keys = RECORD_COLUMNS if self.in_events else KEY_COLUMNS
        for k, name in enumerate(keys):
            cells = np.array(self.keys.pop(name), dtype=object)
            data[name] = cells if everyone else cells[alive]
            firsts[name] = (-1, k)
        for k, oid in enumerate(list(self.columns), len(keys)):
            column = self.columns.pop(oid)      # freed as soon as it is an array: the peak stays near one copy
            column.extend([None] * (count - len(column)))
            cells = np.array(column, dtype=object)
            if not everyone:
                cells = cells[alive]
            missing = pd.isna(cells)
            given = np.flatnonzero(~missing)
            if len(given):
                data[oid] = np.where(missing, data[oid] if oid in keys else "", cells)
                firsts.setdefault(oid, (int(given[0]), k))
            del column, cells
        columns = [*keys, *[c for c in declared if c not in keys]]
        columns += sorted((c for c in data if c not in columns), key=firsts.__getitem__)
        empty = np.full(len(data["SUBJID"]), "", dtype=object)
        labels = {c: metadata.items[c].question for c in columns if metadata and c in metadata.items and metadata.items[c].question}
        locators = np.array(self.locators, dtype=object)
        return ExportForm(self.name, pd.DataFrame({c: data.get(c, empty) for c in columns}, columns=columns), path.name,
                          pd.Series(locators if everyone else locators[alive], dtype=str), labels)

    def compact(self) -> tuple:
        """What a forked worker hands back: the form's records, without the per-record key tuples
        (a range's records are never looked up again: no subject is in two ranges)."""
        return self.name, self.in_events, self.keys, self.columns, self.locators, self.seq, self.alive

    def extend(self, part: tuple, offset: int) -> None:
        """Append a later range's records of this form (``compact``), their order numbers after ``offset``."""
        _, in_events, keys, columns, locators, seq, alive = part
        count = len(self.locators)
        self.in_events = self.in_events or in_events
        for name, values in keys.items():
            self.keys[name].extend(values)
        for oid, values in columns.items():
            column = self.columns.setdefault(oid, [])
            column.extend([None] * (count - len(column)))
            column.extend(values)
        self.locators.extend(locators)
        self.record_keys.extend([None] * len(locators))
        self.seq.frombytes((np.frombuffer(seq, dtype=np.int64) + offset).tobytes())
        self.alive.extend(alive)

    def first_seq(self) -> int | None:
        """When the form's first live record was met (None: every record was removed)."""
        live = np.flatnonzero(np.frombuffer(self.alive, dtype=bool))
        return int(self.seq[live[0]]) if len(live) else None


class _Records:
    """Every form's records, and what reading found (removal notices, undeclared items)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.metadata: ExportMetadata | None = None
        self.forms: dict[str, _Form] = {}
        self.findings: list[Finding] = []
        self.undeclared: dict[tuple[str, str], str] = {}   # (form, item) -> first locator
        self.texts: dict[str, str] = {}                     # one string object per distinct value
        self.record_keys: dict[tuple, tuple] = {}           # one tuple object per distinct record key
        self.seen: set[str] = set()                         # SubjectKeys read (while there is no index)
        self.index: dict[str, dict[tuple, tuple[_Form, int]]] | None = None
        self.count = 0

    def of_subject(self, subject: str) -> dict[tuple, tuple[_Form, int]]:
        """The subject's records by key: empty for a subject met for the first time (and no index)."""
        if self.index is None:
            if subject not in self.seen:
                self.seen.add(subject)
                return {}
            self._build_index()
        return self.index.setdefault(subject, {})

    def _build_index(self) -> None:
        records = sorted((form.seq[row], form.keys["SUBJID"][row], form.record_keys[row], form, row)
                         for form in self.forms.values() for row in range(len(form.locators)) if form.alive[row])
        self.index = {}
        for _, subject, key, form, row in records:
            self.index.setdefault(subject, {})[key] = (form, row)

    def remove(self, records: dict, prefix: tuple, what: str, locator: str) -> None:
        gone = sorted((form.seq[row], key) for key, (form, row) in records.items() if key[:len(prefix)] == prefix)
        for _, key in gone:
            form, row = records.pop(key)
            form.alive[row] = 0
            self.findings.append(Finding("notice", self.path.name, None, None, "", f"record removed by TransactionType=\"Remove\" "
                                         f"on its {what} {locator}", record=form.locators[row]))

    def subject(self, elem, study: str) -> None:
        """Read one SubjectData: its study events' forms (or, REDCap classic, its forms)."""
        subject = elem.get("SubjectKey") or ""
        records = self.of_subject(subject)
        if elem.get("TransactionType") == "Remove":
            self.remove(records, (), "SubjectData", subject)
            return
        site = ""
        for child in elem:
            tag = child.tag
            if tag == SITE_REF:
                site = child.get("LocationOID", "")
                site = self.texts.setdefault(site, site)
            elif tag == STUDY_EVENT:
                event, repeat, where = _key(child, "StudyEventOID", "StudyEventRepeatKey")
                if child.get("TransactionType") == "Remove":
                    self.remove(records, (event, repeat), "StudyEventData", where)
                    continue
                texts = self.texts
                occurrence = (texts.setdefault(event, event), texts.setdefault(repeat, repeat))
                for form in child.iterchildren(FORM):
                    self.form(form, occurrence, f"{subject}/{where}", study, site, subject, records)
            elif tag == FORM:
                self.form(child, None, subject, study, site, subject, records)

    def form(self, elem, occurrence: tuple[str, str] | None, where: str, study: str, site: str, subject: str, records: dict) -> None:
        """One FormData's records; ``occurrence`` is its study event (OID, repeat key), None when
        the form sits straight under SubjectData (REDCap classic)."""
        name, repeat, form_where = _key(elem, "FormOID", "FormRepeatKey")
        event = occurrence or ("", "")
        if elem.get("TransactionType") == "Remove":
            self.remove(records, (*event, name, repeat), "FormData", form_where)
            return
        form = self.forms.get(name) or self.forms.setdefault(name, _Form(name))
        where = f"{where}/{form_where}/"
        for group in elem.iterchildren(GROUP):
            group_repeat = group.get("ItemGroupRepeatKey") or ""
            locator = where + (group.get("ItemGroupOID") or "") + (f"[{group_repeat}]" if group_repeat else "")
            key = (*event, name, repeat, group_repeat)
            if group.get("TransactionType") == "Remove":
                self.remove(records, key, "ItemGroupData", locator)
                continue
            found = records.get(key)
            if found is None:
                key = self.record_keys.setdefault(key, key)
                row = form.add(study, site, subject, occurrence, locator, key, self.count)
                self.count += 1
                records[key] = (form, row)
            else:
                row = found[1]
            self.items(group, form, row, locator)

    def items(self, group, form: _Form, row: int, locator: str) -> None:
        """The group's ItemData values into the record's slot of each item's column."""
        columns, texts = form.columns, self.texts
        for item in group:
            tag = item.tag
            if tag != ITEM and not (isinstance(tag, str) and tag.startswith(ITEM)):
                continue     # AuditRecord, Signature, Annotation...
            names = item.keys()
            if names == PLAIN and tag == ITEM:    # the usual ItemData: one call for both values
                oid, value = item.values()
            else:
                attributes = dict(zip(names, item.values()))
                oid = attributes.get("ItemOID")
                if attributes.get("IsNull") == "Yes" or attributes.get("TransactionType") == "Remove":
                    value = ""
                else:   # ODM 1.3 typed ItemData (ItemDataString, ItemDataInteger...) carry the value as text
                    value = (attributes.get("Value") if tag == ITEM else item.text) or ""
            column = columns.get(oid)
            if column is None:
                column = columns[oid] = []
                self._met(form.name, oid, locator)
            value = texts.setdefault(value, value)
            size = len(column)
            if size == row:
                column.append(value)
            elif size > row:
                column[row] = value
            else:
                column.extend([None] * (row - size))
                column.append(value)

    def absorb(self, forms: list[tuple], undeclared: dict, count: int) -> None:
        """A later range's records (``_read_range``), in file order after those read so far."""
        for part in forms:
            name = part[0]
            (self.forms.get(name) or self.forms.setdefault(name, _Form(name))).extend(part, self.count)
        for key, locator in undeclared.items():
            self.undeclared.setdefault(key, locator)
        self.count += count

    def _met(self, form: str, item: str, locator: str) -> None:
        """An item met for the first time in a form: noted when the study metadata does not declare it there."""
        meta = self.metadata
        if meta is not None and (form not in meta.forms or item not in meta.forms[form].items):
            self.undeclared.setdefault((form, item), locator)

    def frames(self) -> dict[str, ExportForm]:
        """Every form with a live record, in the order of its first live record."""
        order = sorted((first, name) for name, form in self.forms.items() if (first := form.first_seq()) is not None)
        meta = self.metadata
        out = {}
        for _, name in order:
            declared = meta.forms[name].items if meta and name in meta.forms else ()
            out[name] = self.forms.pop(name).frame(declared, meta, self.path)
        return out


class _Unreadable(Exception):
    """XML a parse could not read: its line and column in the document parsed, and lxml's message."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


def _stream(source, out: _Records) -> None:
    """Read ``source`` (a path or a file object) into ``out``, one SubjectData at a time."""
    study_oid = study = ""
    parser = etree.iterparse(source, events=("start", "end"), tag=EVENT_TAGS, resolve_entities=False, no_network=True,
                             load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        for event, elem in parser:
            tag = elem.tag
            if event == "start":
                if tag == f"{NS}Study":
                    study_oid = elem.get("OID", "")
                elif tag == f"{NS}ClinicalData":
                    study = elem.get("StudyOID", "")
                continue
            if tag == f"{NS}SubjectData":
                out.subject(elem, study)
                elem.clear()
                while elem.getprevious() is not None:
                    del elem.getparent()[0]
            elif tag == f"{NS}MetaDataVersion":
                out.metadata = _metadata(study_oid, elem)
                elem.clear()
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno, 0)
        raise _Unreadable(line, column, exc.msg) from None


def _read_range(path: Path, start: int, end: int) -> tuple:
    """In a forked worker: one range's records, compactly (no per-value index), and its SubjectKeys;
    None when the range does not parse (the caller reads the file in one pass instead). The plan and
    the study metadata come from _read_in_parallel through the fork."""
    plan, metadata = shared_state()
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    out = _Records(path)
    out.metadata = metadata
    try:
        _stream(io.BytesIO(plan.part(data)), out)
    except _Unreadable:
        return None
    subjects = out.seen if out.index is None else set(out.index)
    return [form.compact() for form in out.forms.values()], out.undeclared, out.count, subjects


def _read_in_parallel(path: Path, plan: odm_ranges.Plan, workers: int) -> _Records | None:
    """The file's records read range by range in forked workers, merged in file order; None when a
    range does not parse or a SubjectKey is met in two ranges (then one pass reads the file)."""
    out = _Records(path)
    try:
        _stream(io.BytesIO(plan.rest), out)
    except _Unreadable:
        return None
    subjects: set[str] = set()
    with forked_pool_sharing((plan, out.metadata), workers) as pool:
        for part in pool.map(_read_range, *zip(*[(path, a, b) for a, b in plan.ranges])):
            if part is None:
                return None
            forms, undeclared, count, keys = part
            if not subjects.isdisjoint(keys):
                return None
            subjects |= keys
            out.absorb(forms, undeclared, count)
    return out


def read_odm(path: Path) -> tuple[dict[str, ExportForm], ExportMetadata | None, list[Finding]]:
    """Every form of the ODM file, its study metadata (None when the file has none) and what reading
    found. A large snapshot is read in forked workers, a range of SubjectData each (odm_ranges)."""
    path = Path(path)
    _refuse_entities(path)
    workers = min(PARALLEL_WORKERS, usable_cores())
    plan = odm_ranges.plan(path) if workers > 1 and can_fork() else None
    out = _read_in_parallel(path, plan, workers) if plan else None
    if out is None:
        out = _Records(path)
        try:
            _stream(str(path), out)
        except _Unreadable as exc:
            raise InputError(f"malformed XML at line {exc.line}, column {exc.column}: {exc.message} (a truncated or damaged file?)",
                             file=str(path), row=exc.line) from None
    metadata = out.metadata
    for (form, item), locator in out.undeclared.items():
        where = f"FormDef {form}" if metadata and form in metadata.forms else f"form {form} (no FormDef declares it)"
        out.findings.append(Finding("warning", path.name, None, item, "", f"item {item} is not declared by an ItemGroupDef of "
                                    f"{where} in the study metadata: read as a column of the form", record=locator))
    return out.frames(), metadata, out.findings
