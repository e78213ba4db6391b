"""A run output folder (``trialkit run`` / ``demo --out``) opened for tracing: everything read lazily.

A trace of one number touches a handful of datasets, one or two raw forms and two or three domain
specs; reading the whole run (26 SDTM datasets, every raw form, every spec) would take longer than
the trace itself. So each dataset, spec and raw form is read on first use and kept for the next.
What trace needs but the folder lacks is not an error here: the chain stops there with a sentence
(trialkit.trace.chain); only a folder that is not a run at all is an ``InputError`` (exit 2).
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.errors import InputError

WHOLE_EXPORT_SUFFIXES = (".xml", ".xlsx")     # one file holds every form (trialkit.formats.reading)


class RunFolder:
    """``run_dir`` with sdtm/, adam/ and manifest.json; ``raw_dir``: the raw export the run read
    (default ``run_dir/raw``, where ``demo`` puts it; ``run`` reads it from wherever it was given);
    ``shown_as``: where the folder will be once ``trialkit run`` has put it in place (it writes a
    temporary sibling, trialkit.atomic_output, and the report's trace pages are written inside it)."""

    def __init__(self, run_dir: Path, raw_dir: Path | None = None, shown_as: Path | None = None) -> None:
        self.path = Path(run_dir)
        self.shown_as = Path(shown_as) if shown_as is not None else self.path
        if not self.path.is_dir():
            raise InputError("no such run folder (give the --out folder of trialkit run or demo)", file=str(self.path))
        self.sdtm_dir, self.adam_dir = self.path / "sdtm", self.path / "adam"
        if not self.adam_dir.is_dir() and not self.sdtm_dir.is_dir():
            raise InputError("not a run folder: it has neither sdtm/ nor adam/ (give the --out folder of trialkit run "
                             "or demo)", file=str(self.path))
        self.raw_dir = Path(raw_dir) if raw_dir is not None else self.path / "raw"
        self._datasets: dict[tuple[str, str], pd.DataFrame] = {}
        self._specs: dict[str, object] = {}
        self._raw: dict[str, pd.DataFrame | None] = {}
        self._by_subject: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        self._by_value: dict[tuple[str, str, str], dict[tuple[str, str], int]] = {}
        self._columns: dict[tuple[str, str], dict[str, object]] = {}

    def shown(self, path: Path) -> Path:
        """``path`` as the user will find it: under ``shown_as`` when it lies in the run folder."""
        try:
            return self.shown_as / Path(path).relative_to(self.path)
        except ValueError:
            return Path(path)

    @cached_property
    def manifest(self) -> dict:
        path = self.path / "manifest.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    @cached_property
    def study(self) -> str | None:
        """The study the run was made with (the run's manifest.json, else the SDTM or ADaM folder's
        when the stages were run one by one), None for folders another tool wrote."""
        for path in (self.path / "manifest.json", self.sdtm_dir / "manifest.json", self.adam_dir / "manifest.json"):
            if path.is_file():
                study = json.loads(path.read_text(encoding="utf-8")).get("study")
                if study:
                    return study
        return None

    def _files(self, stage: str) -> dict[str, Path]:
        from trialkit.dataset_json import dataset_files

        folder = self.sdtm_dir if stage == "sdtm" else self.adam_dir
        return dataset_files(folder) if folder.is_dir() else {}

    @cached_property
    def sdtm_files(self) -> dict[str, Path]:
        return self._files("sdtm")

    @cached_property
    def adam_files(self) -> dict[str, Path]:
        return self._files("adam")

    def dataset(self, stage: str, name: str) -> pd.DataFrame | None:
        """SDTM or ADaM dataset ``name`` with its 1-based record number in ``_record``; None if absent."""
        from trialkit.dataset_json import read_dataset

        if (stage, name) not in self._datasets:
            path = (self.sdtm_files if stage == "sdtm" else self.adam_files).get(name)
            frame = None
            if path is not None:
                frame, _ = read_dataset(path)
                frame["_record"] = np.arange(1, len(frame) + 1)
            self._datasets[stage, name] = frame
        return self._datasets[stage, name]

    def columns(self, stage: str, name: str) -> dict[str, object]:
        """Column name -> the column's values (pandas' array, read by position as ``.iat`` reads them)
        of a dataset or, with stage "raw", of a raw form already read by ``raw_form``. A subject page
        reads a few values from each of some forty records: by position in an array that is ~0.1 us,
        through ``frame[variable].iat`` ~10 us, which was most of the pages' time."""
        if (stage, name) not in self._columns:
            frame = self._raw[name][0] if stage == "raw" else self.dataset(stage, name)
            self._columns[stage, name] = {c: frame[c].array for c in frame.columns} if frame is not None else {}
        return self._columns[stage, name]

    def subject_positions(self, stage: str, name: str, usubjid: str) -> np.ndarray:
        """The 0-based positions of one subject's records in a dataset (none when no such dataset), by
        an index of the dataset's USUBJIDs built on first use: the trace pages of a report ask for
        every subject, and a scan of the dataset per subject would grow with the square of the study."""
        if (stage, name) not in self._by_subject:
            frame = self.dataset(stage, name)
            has = frame is not None and "USUBJID" in frame
            self._by_subject[stage, name] = frame.groupby(frame["USUBJID"].astype(str), sort=False).indices if has else {}
        return self._by_subject[stage, name].get(usubjid, np.array([], dtype=np.int64))

    def subject_rows(self, stage: str, name: str, usubjid: str) -> pd.DataFrame:
        """The records of one subject in a dataset (``subject_positions``); empty when none."""
        frame = self.dataset(stage, name)
        if frame is None:
            return pd.DataFrame(columns=["USUBJID", "_record"])
        return frame.iloc[self.subject_positions(stage, name, usubjid)]

    def record_by(self, stage: str, name: str, variable: str, usubjid: str, value: str) -> int | None:
        """The record number of the first record of ``usubjid`` in dataset ``name`` whose ``variable``
        reads ``value`` as text (an SDTM --SEQ, an ADaM ASEQ), None when none does; by an index built
        once per dataset and variable (an ADaM record names its source so, thousands per report)."""
        if (stage, name, variable) not in self._by_value:
            frame = self.dataset(stage, name)
            index = {}
            if frame is not None and variable in frame:
                from trialkit.display import plain_values

                keys = zip(frame["USUBJID"].astype(str), plain_values(frame[variable]), frame["_record"].astype(int))
                for usub, text, record in reversed(list(keys)):   # reversed: the first record wins
                    index[usub, text] = record
            self._by_value[stage, name, variable] = index
        return self._by_value[stage, name, variable].get((usubjid, value))

    @cached_property
    def provenance(self) -> pd.DataFrame | None:
        """sdtm/provenance.tsv, None when the folder has none (written by another tool)."""
        from trialkit.provenance import PROVENANCE_FILE, read_provenance

        if not (self.sdtm_dir / PROVENANCE_FILE).is_file():
            return None
        return read_provenance(self.sdtm_dir)

    @cached_property
    def _provenance_by_dataset(self) -> dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]:
        """Per dataset: the record numbers of its lines of provenance.tsv, sorted, and the lines' columns
        in that order (arrays: a subject page slices them some forty times)."""
        out = {}
        for dataset, lines in self.provenance.groupby("dataset", sort=False):
            lines = lines.sort_values("record", kind="stable")
            out[str(dataset)] = (lines["record"].to_numpy(), {c: lines[c].to_numpy() for c in lines.columns})
        return out

    def provenance_rows(self, dataset: str, record: int) -> dict[str, np.ndarray]:
        """The lines of provenance.tsv for one SDTM record, column name -> values (by binary search: a
        cell traces thousands)."""
        if dataset not in self._provenance_by_dataset:
            return {c: self.provenance[c].to_numpy()[:0] for c in self.provenance.columns}
        records, lines = self._provenance_by_dataset[dataset]
        first, last = np.searchsorted(records, record, "left"), np.searchsorted(records, record, "right")
        return {c: values[first:last] for c, values in lines.items()}

    def domain_spec(self, domain: str):
        """What the study's SDTM spec of ``domain`` says (trialkit.trace.spec_view.DomainView), None
        without one."""
        from trialkit.spec import study_dir
        from trialkit.trace.spec_view import read_domain_view

        if domain not in self._specs:
            path = study_dir(self.study) / "sdtm" / f"{domain}.yaml" if self.study else None
            self._specs[domain] = read_domain_view(path) if path is not None and path.is_file() else None
        return self._specs[domain]

    def spec_changed(self, path: Path) -> bool:
        """Whether the spec file differs from the one the run used (manifest.json's SHA-256 of it)."""
        if f"changed:{path}" not in self._specs:
            recorded = next((sha for name, sha in self.manifest.get("specs", {}).items()
                             if Path(name).parts[-2:] == Path(path).parts[-2:]), None)
            self._specs[f"changed:{path}"] = recorded is not None and hashlib.sha256(Path(path).read_bytes()).hexdigest() != recorded
        return self._specs[f"changed:{path}"]

    def adam_spec(self, dataset: str) -> dict:
        """The study's ADaM spec of ``dataset`` as YAML data, its path under ``_path`` ({} without one)."""
        from trialkit.spec import load_yaml, study_dir

        if f"adam:{dataset}" not in self._specs:
            path = study_dir(self.study) / "adam" / f"{dataset}.yaml" if self.study else None
            found = path is not None and path.is_file()
            self._specs[f"adam:{dataset}"] = {**(load_yaml(path) or {}), "_path": path} if found else {}
        return self._specs[f"adam:{dataset}"]

    def raw_form(self, file: str, form: str) -> tuple[pd.DataFrame | None, str]:
        """The raw form ``form`` as the SDTM stage read it from ``file`` (text values, one row per
        record in file order), or None and the reason it cannot be read: the export is not there, or
        the file is not the one the run read (its SHA-256 differs from the run manifest's)."""
        if form not in self._raw:
            self._raw[form] = self._read_raw(file, form)
        return self._raw[form]

    def _read_raw(self, file: str, form: str) -> tuple[pd.DataFrame | None, str]:
        path = self.raw_dir / file
        if not path.is_file():
            return None, f"the raw export is not at {self.raw_dir} (give --raw)" if not self.raw_dir.is_dir() \
                else f"{file} is not in {self.raw_dir}"
        expected = self.manifest.get("inputs", {}).get(file)
        if expected and hashlib.sha256(path.read_bytes()).hexdigest() != expected:
            return None, f"{path} is not the file the run read (its SHA-256 differs from manifest.json's)"
        if path.suffix.lower() in WHOLE_EXPORT_SUFFIXES:
            from trialkit.formats.reading import read_export

            export = read_export(path)
            for name, ef in export.forms.items():
                self._raw[name] = (ef.frame, "")
            return self._raw.get(form) or (None, f"{file} holds no form {form}")
        if path.suffix.lower() == ".csv":
            from trialkit.formats.csv_form import read_csv_form

            return read_csv_form(path)[0].frame, ""
        from trialkit.formats.sas import read_sas_form

        return read_sas_form(path, path.suffix.lower().lstrip(".")).frame, ""
