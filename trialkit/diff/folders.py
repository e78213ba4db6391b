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
    """One side of a diff: its folder, its datasets by name (raw forms by form name) and STUDYID."""
    folder: Path
    datasets: dict[str, pd.DataFrame]
    studyid: str


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


def _studyid(folder: Path, datasets: dict[str, pd.DataFrame], first: tuple[str, ...]) -> str:
    """The STUDYID of a transfer (of its DM / ADSL when there is one); '' when no dataset carries one."""
    for name in (*first, *datasets):
        frame = datasets.get(name)
        if frame is not None and "STUDYID" in frame.columns and len(frame):
            values = frame["STUDYID"].astype(str).str.strip()
            return str(values[values != ""].iloc[0]) if (values != "").any() else ""
    return ""


def read_datasets(folder: Path) -> dict[str, pd.DataFrame]:
    return {name: read_dataset(path)[0] for name, path in dataset_files(folder).items()}


def read_forms(folder: Path) -> dict[str, pd.DataFrame]:
    """Every CSV form of a raw export as text, exactly as exported (trialkit.raw_dictionary.read_form)."""
    from trialkit.raw_dictionary import read_form

    return {path.stem: read_form(path) for path in sorted(Path(folder).glob("*.csv"))}


def read_transfer(folder: Path, kind: str) -> Transfer:
    datasets = read_forms(folder) if kind == "raw" else read_datasets(folder)
    return Transfer(Path(folder), datasets, _studyid(folder, datasets, ("DM", "ADSL")))


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


def diff_datasets(old: dict[str, pd.DataFrame], new: dict[str, pd.DataFrame], keys_of) -> list[DatasetDiff]:
    """Every dataset of either side, in name order: compared when on both, else added / removed.
    ``keys_of(name, frame)``: the natural keys of a dataset."""
    out = []
    for name in sorted(set(old) | set(new)):
        if name not in new:
            out.append(one_side(name, old[name], keys_of(name, old[name]), "old"))
        elif name not in old:
            out.append(one_side(name, new[name], keys_of(name, new[name]), "new"))
        else:
            out.append(diff_records(name, old[name], new[name], keys_of(name, new[name]),
                                    tuple(dict.fromkeys(seq_variables(name, new[name]) + seq_variables(name, old[name])))))
    return out


def _with_supp_keys(datasets: dict[str, pd.DataFrame], known: dict[str, list[str]]) -> dict[str, pd.DataFrame]:
    return {name: supp_parent_keys(frame, datasets, known) if name.startswith("SUPP") else frame
            for name, frame in datasets.items()}


def diff_sdtm(old: dict, new: dict, study) -> list[DatasetDiff]:
    known = sdtm_keys(study)
    return diff_datasets(_with_supp_keys(old, known), _with_supp_keys(new, known),
                         lambda name, frame: sdtm_dataset_keys(name, frame, known))


def diff_adam(old: dict, new: dict, study) -> list[DatasetDiff]:
    known = sdtm_keys(study)
    return diff_datasets(old, new, lambda name, frame: adam_dataset_keys(name, frame, study, known))


def diff_raw(old: dict, new: dict, study) -> list[DatasetDiff]:
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
    a, b = read_transfer(old, kind), read_transfer(new, kind)
    studyid = _check_same_study(a, b)
    study = resolve_study(study, studyid, Path(new), required=kind == "raw")
    differ = {"raw": diff_raw, "sdtm": diff_sdtm, "adam": diff_adam}[kind]
    result = DiffResult(kind, Path(old), Path(new), _name(study), studyid, {kind: differ(a.datasets, b.datasets, study)})
    if kind == "adam":
        from trialkit.diff.explain import explain_subjects

        result.subjects = explain_subjects(result.sections["adam"], None, None, None, a.datasets, b.datasets)
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

    sdtm_a, sdtm_b = read_transfer(old / "sdtm", "sdtm"), read_transfer(new / "sdtm", "sdtm")
    studyid = _check_same_study(sdtm_a, sdtm_b)
    study = resolve_study(_run_study(new, study), studyid, new, required=False)
    adam_a = read_transfer(old / "adam", "adam") if (old / "adam").is_dir() else Transfer(old / "adam", {}, "")
    adam_b = read_transfer(new / "adam", "adam") if (new / "adam").is_dir() else Transfer(new / "adam", {}, "")
    sdtm = diff_sdtm(sdtm_a.datasets, sdtm_b.datasets, study)
    adam = diff_adam(adam_a.datasets, adam_b.datasets, study)
    result = DiffResult("run", old, new, _name(study), studyid, {"sdtm": sdtm, "adam": adam})
    raw = tuple(raw_labels(read_provenance(folder / "sdtm")) for folder in (old, new))
    result.subjects = explain_subjects(adam, sdtm, sdtm_a.datasets, sdtm_b.datasets, adam_a.datasets, adam_b.datasets, raw)
    result.report = explain_report(old / "report" / "report.json", new / "report" / "report.json", adam, study)
    return result
