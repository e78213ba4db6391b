"""Two folders of one kind, two transfers of one study: what kind they are, and every dataset compared.

The kind is read from the content, not given: a ``trialkit run`` output (manifest.json beside
sdtm/), an ADaM folder (ADSL, or only AD* datasets), an SDTM folder (other XPT / Dataset-JSON
datasets), or a raw export (CSV forms, matched through the raw dictionary of ``--study``). Two
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
from trialkit.spec import shipped_studies, study_dir

KINDS = {"run": "trialkit run output", "sdtm": "SDTM folder", "adam": "ADaM folder", "raw": "raw export"}


@dataclass
class Transfer:
    """One side of a diff: its folder, the file of each dataset (raw form) by name, and its STUDYID.
    Datasets are read one at a time as they are compared, so memory holds one pair, not two folders."""
    folder: Path
    files: dict[str, Path]
    kind: str
    studyid: str = ""

    def read(self, name: str) -> pd.DataFrame | None:
        """The dataset (a raw form as text, exactly as exported); None when this side has none."""
        if name not in self.files:
            return None
        if self.kind == "raw":
            from trialkit.raw_dictionary import read_form

            return read_form(self.files[name])
        return read_dataset(self.files[name])[0]


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
    if any(folder.glob("*.csv")):
        return "raw"
    raise InputError("neither a raw export (CSV forms), an SDTM or ADaM folder (XPT / Dataset-JSON) nor a "
                     "trialkit run output (manifest.json, sdtm/)", file=str(folder))


def _studyid(transfer: Transfer, first: tuple[str, ...]) -> str:
    """The STUDYID of a transfer: of its DM / ADSL when there is one, else of its first dataset that
    has one; '' when none does."""
    for name in (*(n for n in first if n in transfer.files), *transfer.files):
        frame = transfer.read(name)
        if "STUDYID" in frame.columns and len(frame):
            values = frame["STUDYID"].astype(str).str.strip()
            return str(values[values != ""].iloc[0]) if (values != "").any() else ""
    return ""


def open_transfer(folder: Path, kind: str) -> Transfer:
    """A folder's datasets (XPT / Dataset-JSON) or raw forms (CSV), not read yet, and its STUDYID."""
    folder = Path(folder)
    if not folder.is_dir():
        return Transfer(folder, {}, kind)
    files = {p.stem: p for p in sorted(folder.glob("*.csv"))} if kind == "raw" else dataset_files(folder)
    transfer = Transfer(folder, files, kind)
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
        keys = [k for k in sdtm_dataset_keys(domain, parent, known) if k not in ("STUDYID", "USUBJID")]
        lookup = pd.DataFrame({"USUBJID": parent["USUBJID"].astype(str).to_numpy(),
                               "_seq": key_text(parent, [seq])[seq].to_numpy(),
                               "_parent": record_labels(key_text(parent, keys)).to_numpy()})
        lookup = lookup.drop_duplicates(["USUBJID", "_seq"])
        rows = np.flatnonzero(((supp["RDOMAIN"].astype(str) == domain) & (supp["IDVAR"].astype(str) == seq)).to_numpy())
        found = pd.DataFrame({"USUBJID": supp["USUBJID"].astype(str).to_numpy()[rows],
                              "_seq": supp["IDVARVAL"].astype(str).str.strip().to_numpy()[rows]}).merge(
            lookup, on=["USUBJID", "_seq"], how="left")
        hit = found["_parent"].notna().to_numpy()
        out.iloc[rows[hit], out.columns.get_loc("IDVARVAL")] = found["_parent"].to_numpy()[hit]
    return out


def comparison_order(names: set[str]) -> list[str]:
    """Dataset names sorted, each SUPP-- right after its parent (the parent's frames are still in
    memory to translate IDVARVAL), a SUPP-- without its parent at the end."""
    parents = sorted(n for n in names if not n.startswith("SUPP"))
    order = [x for n in parents for x in (n, f"SUPP{n}") if x in names]
    return order + sorted(names - set(order))


def diff_datasets(old: Transfer, new: Transfer, keys_of, known: dict[str, list[str]] | None = None,
                  keep: tuple[str, ...] = ()) -> list[DatasetDiff]:
    """Every dataset of either side, compared when on both, else added / removed, one pair in memory
    at a time. ``keys_of(name, frame)``: its natural keys; ``known`` (SDTM): the keys that translate
    SUPP-- IDVARVAL to the parent's keys; ``keep``: columns kept on each diff for explain (--SEQ, SRCSEQ)."""
    out, parent = [], (None, None, None)
    for name in comparison_order(set(old.files) | set(new.files)):
        a, b = old.read(name), new.read(name)
        if known is not None and name.startswith("SUPP") and parent[0] == name[4:]:
            a = None if a is None else supp_parent_keys(a, {parent[0]: parent[1]}, known)
            b = None if b is None else supp_parent_keys(b, {parent[0]: parent[2]}, known)
        if b is None:
            diff = one_side(name, a, keys_of(name, a), "old")
        elif a is None:
            diff = one_side(name, b, keys_of(name, b), "new")
        else:
            diff = diff_records(name, a, b, keys_of(name, b), tuple(dict.fromkeys(seq_variables(name, b) + seq_variables(name, a))))
        wanted = [*keep, *(f"{name}SEQ",)]
        diff.kept = {c: (None if a is None or c not in a.columns else a[c].to_numpy(copy=True),
                         None if b is None or c not in b.columns else b[c].to_numpy(copy=True)) for c in wanted}
        out.append(diff)
        parent = (name, a, b) if not name.startswith("SUPP") else parent
    return out


def diff_sdtm(old: Transfer, new: Transfer, study) -> list[DatasetDiff]:
    known = sdtm_keys(study)
    return diff_datasets(old, new, lambda name, frame: sdtm_dataset_keys(name, frame, known), known)


def diff_adam(old: Transfer, new: Transfer, study) -> list[DatasetDiff]:
    known = sdtm_keys(study)
    return diff_datasets(old, new, lambda name, frame: adam_dataset_keys(name, frame, study, known),
                         keep=("SRCDOM", "SRCSEQ"))


def diff_raw(old: Transfer, new: Transfer, study) -> list[DatasetDiff]:
    """Raw forms matched on SUBJID and the fields the raw dictionary says identify a record; a form
    the dictionary does not know is matched on all its fields."""
    from trialkit.raw_dictionary import load_raw_dictionary

    forms = load_raw_dictionary(study).forms
    return diff_datasets(old, new, lambda name, frame: forms[name].identifiers if name in forms else list(frame.columns))


def diff_folders(old: Path, new: Path, study: str | Path | None = None) -> DiffResult:
    """Compare two transfers; for two run outputs, also their ADaM and report (trialkit.diff.explain)."""
    kinds = {folder_kind(old), folder_kind(new)}
    if len(kinds) > 1:
        raise InputError(f"the two folders are of different kinds ({old}: {KINDS[folder_kind(old)]}; "
                         f"{new}: {KINDS[folder_kind(new)]}): give two of the same kind")
    kind = kinds.pop()
    if kind == "run":
        return diff_runs(Path(old), Path(new), study)
    a, b = open_transfer(old, kind), open_transfer(new, kind)
    studyid = _check_same_study(a, b)
    study = resolve_study(study, studyid, Path(new), required=kind == "raw")
    differ = {"raw": diff_raw, "sdtm": diff_sdtm, "adam": diff_adam}[kind]
    result = DiffResult(kind, Path(old), Path(new), _name(study), studyid, {kind: differ(a, b, study)})
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
    adam = diff_adam(open_transfer(old / "adam", "adam"), open_transfer(new / "adam", "adam"), study)
    result = DiffResult("run", old, new, _name(study), studyid, {"sdtm": sdtm, "adam": adam})
    raw = tuple(raw_labels(read_provenance(folder / "sdtm")) for folder in (old, new))
    result.subjects = explain_subjects(adam, sdtm, raw)
    result.report = explain_report(old / "report" / "report.json", new / "report" / "report.json", adam, study)
    return result
