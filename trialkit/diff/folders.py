"""Two folders of one kind, two transfers of one study: what kind they are, and every dataset compared.

The kind is read from the content, not given: a ``trialkit run`` output (manifest.json beside
sdtm/), an ADaM folder (ADSL, or only AD* datasets), an SDTM folder (other XPT / Dataset-JSON
datasets), or a raw export (CSV or SAS7BDAT forms, an XLSX workbook or an ODM-XML file, read by
trialkit.formats as the SDTM stage reads it; forms matched through the raw dictionary of
``--study``). ``encoding`` is the text encoding of CSV, SAS and XPT files (cp1252 for SAS on
Windows, as the CDISC pilot's). Two
folders of different kinds or of different studies (STUDYID) cannot be compared: an InputError
(exit 2) naming both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.dataset_json import dataset_files, read_dataset
from trialkit.diff.keys import adam_dataset_keys, sdtm_dataset_keys, sdtm_keys, seq_variables
from trialkit.diff.records import DatasetDiff, diff_records, key_text, one_side, record_labels
from trialkit.errors import InputError
from trialkit.formats.detect import detect_format
from trialkit.formats.export import EVENT_COLUMNS
from trialkit.spec import shipped_studies, study_dir

RAW_FORMATS = ("sas7bdat", "xlsx", "odm")      # told by content; an XPT folder is SDTM or ADaM
KINDS = {"run": "trialkit run output", "sdtm": "SDTM folder", "adam": "ADaM folder", "raw": "raw export"}


@dataclass
class Transfer:
    """One side of a diff: its folder, the file of each dataset by name (or, for a raw export, its
    forms as read), and its STUDYID. Datasets are read one at a time as they are compared, so memory
    holds one pair, not two folders; a raw export is read whole (one ODM or XLSX file holds every form)."""
    folder: Path
    files: dict[str, Path]
    kind: str
    studyid: str = ""
    encoding: str | None = None
    forms: dict[str, pd.DataFrame] = field(default_factory=dict)
    reading: list = field(default_factory=list)    # trialkit.findings.Finding: what reading the export noticed

    def read(self, name: str) -> pd.DataFrame | None:
        """The dataset (a raw form as text, exactly as exported); None when this side has none."""
        if self.kind == "raw":
            return self.forms.get(name)
        if name not in self.files:
            return None
        return read_dataset(self.files[name], encoding=self.encoding)[0]


@dataclass
class DiffResult:
    """Everything ``trialkit diff`` found. ``sections``: 'raw' / 'sdtm' / 'adam' -> the diff of each
    dataset; ``subjects`` and ``report``: trialkit.diff.explain."""
    kind: str
    old: Path
    new: Path
    study: str | None
    studyid: str
    sections: dict[str, list[DatasetDiff]] = field(default_factory=dict)
    subjects: list[dict] = field(default_factory=list)
    report: list[dict] = field(default_factory=list)
    reading: list[dict] = field(default_factory=list)   # {side, finding}: files of an export not read, and why

    @property
    def differs(self) -> bool:
        return any(d.differs for diffs in self.sections.values() for d in diffs) or bool(self.report)

    @property
    def duplicates(self) -> list[dict]:
        return [dup for diffs in self.sections.values() for d in diffs for dup in d.duplicates]


def folder_kind(folder: Path) -> str:
    """run, adam, sdtm or raw, from what the folder holds; an InputError when it is none of them."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("folder not found", file=str(folder))
    if (folder / "manifest.json").is_file() and (folder / "sdtm").is_dir():
        return "run"
    names = list(dataset_files(folder))
    if names:
        return "adam" if "ADSL" in names or all(n.startswith("AD") for n in names) else "sdtm"
    if any(p.suffix.lower() == ".csv" or (p.is_file() and detect_format(p) in RAW_FORMATS) for p in folder.iterdir()):
        return "raw"
    raise InputError("neither a raw export (CSV or SAS7BDAT forms, an XLSX or ODM-XML file), an SDTM or ADaM folder "
                     "(XPT / Dataset-JSON) nor a trialkit run output (manifest.json, sdtm/)", file=str(folder))


def _studyid(transfer: Transfer, first: tuple[str, ...]) -> str:
    """The STUDYID of a transfer: of its DM / ADSL when there is one, else of its first dataset that
    has one; '' when none does."""
    for name in (*(n for n in first if n in transfer.files), *transfer.files):
        frame = transfer.read(name)
        if "STUDYID" in frame.columns and len(frame):
            values = frame["STUDYID"].astype(str).str.strip()
            return str(values[values != ""].iloc[0]) if (values != "").any() else ""
    return ""


def open_transfer(folder: Path, kind: str, encoding: str | None = None) -> Transfer:
    """A folder's datasets (XPT / Dataset-JSON), not read yet, or its raw export's forms, and its STUDYID."""
    folder = Path(folder)
    if not folder.is_dir():
        return Transfer(folder, {}, kind, encoding=encoding)
    if kind == "raw":
        from trialkit.formats import read_export

        export = read_export(folder, encoding)
        transfer = Transfer(folder, {name: folder / form.source for name, form in export.forms.items()}, kind,
                            encoding=encoding, forms={name: form.frame for name, form in export.forms.items()},
                            reading=export.findings)
    else:
        transfer = Transfer(folder, dataset_files(folder), kind, encoding=encoding)
    transfer.studyid = _studyid(transfer, ("DM", "ADSL"))
    return transfer


def resolve_study(study: str | Path | None, studyid: str, folder: Path, required: bool) -> str | Path | None:
    """The study whose specs give the keys: ``--study``, which must be the data's (STUDYID), or the
    shipped study of that STUDYID. None when neither is known and the kind can do without."""
    from trialkit.pipeline import study_of_identifier
    from trialkit.sdtm.engine import load_study_config

    if study is not None:
        expected = load_study_config(study).studyid
        if studyid and studyid != expected:
            other = study_of_identifier(studyid)
            hint = f"give --study {other}" if other else "give --study with the study the data belong to"
            raise InputError(f"the data hold STUDYID {studyid}, not {expected} of study {Path(str(study)).name}: {hint}",
                             file=str(folder))
        return study
    found = study_of_identifier(studyid) if studyid else None
    if found is None and required:
        raise InputError(f"STUDYID {studyid or '(none)'} is not a shipped study's ({', '.join(shipped_studies())}): "
                         "give --study with the study folder whose raw dictionary describes the export", file=str(folder))
    return found


def _check_same_study(old: Transfer, new: Transfer) -> str:
    if old.studyid and new.studyid and old.studyid != new.studyid:
        raise InputError(f"the two folders are of different studies: {old.folder} holds STUDYID {old.studyid}, "
                         f"{new.folder} STUDYID {new.studyid}")
    return old.studyid or new.studyid


def seq_lookup(parent: pd.DataFrame, domain: str, known: dict[str, list[str]]) -> pd.DataFrame:
    """(USUBJID, _seq, _parent) of an SDTM dataset: each record's --SEQ as text and its natural keys
    but STUDYID and USUBJID as one label, the record's identity whatever its --SEQ."""
    keys = [k for k in sdtm_dataset_keys(domain, parent, known) if k not in ("STUDYID", "USUBJID")]
    seq = f"{domain}SEQ"
    lookup = pd.DataFrame({"USUBJID": parent["USUBJID"].astype(str).to_numpy(),
                           "_seq": key_text(parent, [seq])[seq].to_numpy(),
                           "_parent": record_labels(key_text(parent, keys)).to_numpy()})
    return lookup.drop_duplicates(["USUBJID", "_seq"])


def seq_to_keys(frame: pd.DataFrame, rows: np.ndarray, column: str, lookup: pd.DataFrame) -> None:
    """Replace, in place, the --SEQ values of ``column`` at ``rows`` by the label of the record they
    point at (``lookup``: :func:`seq_lookup`); a --SEQ that points at no record is left as it is."""
    found = pd.DataFrame({"USUBJID": frame["USUBJID"].astype(str).to_numpy()[rows],
                          "_seq": key_text(frame.iloc[rows], [column])[column].to_numpy()}).merge(
        lookup, on=["USUBJID", "_seq"], how="left")
    hit = found["_parent"].notna().to_numpy()
    if frame[column].dtype != object:
        frame[column] = frame[column].astype(object)
    frame.iloc[rows[hit], frame.columns.get_loc(column)] = found["_parent"].to_numpy()[hit]


def supp_parent_keys(supp: pd.DataFrame, parents: dict[str, pd.DataFrame], known: dict[str, list[str]]) -> pd.DataFrame:
    """SUPPQUAL with IDVARVAL holding the parent record's natural keys instead of its --SEQ (when
    IDVAR is the parent's --SEQ), so that a renumbered parent does not move its qualifiers."""
    if not {"RDOMAIN", "IDVAR", "IDVARVAL", "USUBJID"} <= set(supp.columns) or not len(supp):
        return supp
    out = supp.copy()
    for domain in pd.unique(supp["RDOMAIN"].astype(str)):
        parent, seq = parents.get(domain), f"{domain}SEQ"
        if parent is None or seq not in parent.columns:
            continue
        rows = np.flatnonzero(((supp["RDOMAIN"].astype(str) == domain) & (supp["IDVAR"].astype(str) == seq)).to_numpy())
        seq_to_keys(out, rows, "IDVARVAL", seq_lookup(parent, domain, known))
    return out


def source_record_keys(sdtm: Transfer, known: dict[str, list[str]]):
    """A translation for ADaM frames of one run: SRCSEQ replaced by the natural keys of the SDTM
    record (SRCDOM) it points at in that run's SDTM, so that --SEQ renumbered between transfers does
    not show as a changed SRCSEQ (the record it points at is the same); lookups read once per domain."""
    lookups: dict[str, pd.DataFrame | None] = {}

    def translate(frame: pd.DataFrame) -> pd.DataFrame:
        if not {"SRCDOM", "SRCSEQ", "USUBJID"} <= set(frame.columns) or not len(frame):
            return frame
        out = frame.copy()
        for domain in pd.unique(frame["SRCDOM"].astype(str)):
            if domain not in lookups:
                parent = sdtm.read(domain)
                usable = parent is not None and {f"{domain}SEQ", "USUBJID"} <= set(parent.columns)
                lookups[domain] = seq_lookup(parent, domain, known) if usable else None
            if lookups[domain] is not None:
                seq_to_keys(out, np.flatnonzero((frame["SRCDOM"].astype(str) == domain).to_numpy()), "SRCSEQ", lookups[domain])
        return out
    return translate


def comparison_order(names: set[str]) -> list[str]:
    """Dataset names sorted, each SUPP-- right after its parent (the parent's frames are still in
    memory to translate IDVARVAL), a SUPP-- without its parent at the end."""
    parents = sorted(n for n in names if not n.startswith("SUPP"))
    order = [x for n in parents for x in (n, f"SUPP{n}") if x in names]
    return order + sorted(names - set(order))


def diff_datasets(old: Transfer, new: Transfer, keys_of, known: dict[str, list[str]] | None = None,
                  keep: tuple[str, ...] = (), absent_is_empty: bool = False, translate=None) -> list[DatasetDiff]:
    """Every dataset of either side, compared when on both, else added / removed, one pair in memory
    at a time. ``keys_of(name, frame)``: its natural keys; ``known`` (SDTM): the keys that translate
    SUPP-- IDVARVAL to the parent's keys; ``keep``: columns kept on each diff for explain (--SEQ, SRCSEQ);
    ``absent_is_empty`` (raw forms): a form missing on one side is the same as one without records
    there (an ODM export has no way to carry a form that has no data); ``translate`` (old, new):
    functions of a frame applied before comparing (:func:`source_record_keys`), after ``keep``."""
    out, parent = [], (None, None, None)
    for name in comparison_order(set(old.files) | set(new.files)):
        a, b = old.read(name), new.read(name)
        if absent_is_empty and (a is None or b is None) and not len(a if b is None else b):
            a = b = (a if b is None else b)
        wanted = [*keep, *(f"{name}SEQ",)]
        kept = {c: (None if a is None or c not in a.columns else a[c].to_numpy(copy=True),
                    None if b is None or c not in b.columns else b[c].to_numpy(copy=True)) for c in wanted}
        if translate is not None:
            a, b = (None if a is None else translate[0](a)), (None if b is None else translate[1](b))
        if known is not None and name.startswith("SUPP") and parent[0] == name[4:]:
            a = None if a is None else supp_parent_keys(a, {parent[0]: parent[1]}, known)
            b = None if b is None else supp_parent_keys(b, {parent[0]: parent[2]}, known)
        if b is None:
            diff = one_side(name, a, keys_of(name, a), "old")
        elif a is None:
            diff = one_side(name, b, keys_of(name, b), "new")
        else:
            diff = diff_records(name, a, b, keys_of(name, b), tuple(dict.fromkeys(seq_variables(name, b) + seq_variables(name, a))))
        diff.kept = kept
        out.append(diff)
        parent = (name, a, b) if not name.startswith("SUPP") else parent
    return out


def diff_sdtm(old: Transfer, new: Transfer, study) -> list[DatasetDiff]:
    known = sdtm_keys(study)
    return diff_datasets(old, new, lambda name, frame: sdtm_dataset_keys(name, frame, known), known)


def diff_adam(old: Transfer, new: Transfer, study, sdtm: tuple[Transfer, Transfer] | None = None) -> list[DatasetDiff]:
    """ADaM datasets by their natural keys; with the SDTM of each side (two runs), SRCSEQ is compared
    as the SDTM record it points at, not as a number (:func:`source_record_keys`)."""
    known = sdtm_keys(study)
    translate = None if sdtm is None else tuple(source_record_keys(side, known) for side in sdtm)
    return diff_datasets(old, new, lambda name, frame: adam_dataset_keys(name, frame, study, known),
                         keep=("SRCDOM", "SRCSEQ"), translate=translate)


def diff_raw(old: Transfer, new: Transfer, study) -> list[DatasetDiff]:
    """Raw forms matched on SUBJID and the fields the raw dictionary says identify a record; a form
    the dictionary does not know is matched on all its fields."""
    from trialkit.raw_dictionary import load_raw_dictionary

    forms = load_raw_dictionary(study).forms
    for side in (old, new):
        side.forms = {name: _as_mapped(frame, forms[name].columns if name in forms else ()) for name, frame in side.forms.items()}
    return diff_datasets(old, new, lambda name, frame: forms[name].identifiers if name in forms else list(frame.columns),
                         absent_is_empty=True)


def _as_mapped(frame: pd.DataFrame, listed) -> pd.DataFrame:
    """A raw form without the ODM study event columns its raw dictionary does not list: the SDTM stage
    does not read them (they say where a record sits in the file), so the same data in CSV and ODM
    is the same form."""
    return frame.drop(columns=[c for c in EVENT_COLUMNS if c in frame.columns and c not in listed])


def diff_folders(old: Path, new: Path, study: str | Path | None = None, encoding: str | None = None) -> DiffResult:
    """Compare two transfers; for two run outputs, also their ADaM and report (trialkit.diff.explain)."""
    kinds = {folder_kind(old), folder_kind(new)}
    if len(kinds) > 1:
        raise InputError(f"the two folders are of different kinds ({old}: {KINDS[folder_kind(old)]}; "
                         f"{new}: {KINDS[folder_kind(new)]}): give two of the same kind")
    kind = kinds.pop()
    if kind == "run":
        return diff_runs(Path(old), Path(new), study)
    a, b = open_transfer(old, kind, encoding), open_transfer(new, kind, encoding)
    studyid = _check_same_study(a, b)
    study = resolve_study(study, studyid, Path(new), required=kind == "raw")
    differ = {"raw": diff_raw, "sdtm": diff_sdtm, "adam": diff_adam}[kind]
    result = DiffResult(kind, Path(old), Path(new), _name(study), studyid, {kind: differ(a, b, study)},
                        reading=[{"side": side, "finding": str(f)} for side, t in (("old", a), ("new", b)) for f in t.reading])
    if kind == "adam":
        from trialkit.diff.explain import explain_subjects

        result.subjects = explain_subjects(result.sections["adam"], None)
    return result


def _name(study) -> str | None:
    return None if study is None else Path(str(study)).name


def _run_study(folder: Path, study):
    """``--study``, else the study named in a run's manifest when it is shipped or a folder."""
    if study is not None:
        return study
    named = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("study")
    if named and (named in shipped_studies() or Path(named).is_dir()):
        study_dir(named)
        return named
    return None


def diff_runs(old: Path, new: Path, study) -> DiffResult:
    """Two ``trialkit run`` outputs: SDTM, ADaM, the subjects behind ADSL / ADTTE changes and the report cells."""
    from trialkit.diff.explain import explain_report, explain_subjects, raw_labels
    from trialkit.lineage import read_provenance

    sdtm_a, sdtm_b = open_transfer(old / "sdtm", "sdtm"), open_transfer(new / "sdtm", "sdtm")
    studyid = _check_same_study(sdtm_a, sdtm_b)
    study = resolve_study(_run_study(new, study), studyid, new, required=False)
    sdtm = diff_sdtm(sdtm_a, sdtm_b, study)
    adam = diff_adam(open_transfer(old / "adam", "adam"), open_transfer(new / "adam", "adam"), study, (sdtm_a, sdtm_b))
    result = DiffResult("run", old, new, _name(study), studyid, {"sdtm": sdtm, "adam": adam})
    raw = tuple(raw_labels(read_provenance(folder / "sdtm")) for folder in (old, new))
    result.subjects = explain_subjects(adam, sdtm, raw)
    result.report = explain_report(old / "report" / "report.json", new / "report" / "report.json", adam, study)
    return result
