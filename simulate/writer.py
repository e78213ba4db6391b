"""Write a simulated study as an EDC export folder: one CSV per form and manifest.json.

manifest.json records what was made and how (study, seed, size, trialkit version, checksums of the
profile, dictionary and every file, the duplicated records and the injected defects), so that an
export can be traced and a defect found later can be matched with the one that was planted.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit import __version__
from trialkit.raw_dictionary import RawDictionary
from trialkit.simulate.dirt import inject_defects, truncate_last_line
from trialkit.simulate.export import add_duplicates, render_form
from trialkit.simulate.study import SimulatedStudy

MANIFEST = "manifest.json"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_export(study: SimulatedStudy, dictionary: RawDictionary, out: Path, *, dirty: int = 0,
                 duplicate_rate: float = 0.0, profile_path: Path | None = None, on_step=None) -> dict:
    """Render, dirty and write every form; ``on_step(name)`` is called as each form is written."""
    out.mkdir(parents=True, exist_ok=True)
    seed = study.seed
    slips, dup_rng, dirt_rng = (np.random.default_rng([seed, k]) for k in (1, 2, 3))
    forms = {name: render_form(name, study, dictionary, slips) for name in dictionary.forms}
    duplicates = add_duplicates(forms, duplicate_rate, dup_rng, study.profile.duplicable_forms)
    defects = inject_defects(forms, dictionary, dirty, dirt_rng)
    truncated = {d["form"] for d in defects if d["kind"] == "truncated_file"}

    files = {}
    for name, frame in forms.items():
        data = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
        if name in truncated:
            data = truncate_last_line(data)
        (out / f"{name}.csv").write_bytes(data)
        files[name] = {"file": f"{name}.csv", "rows": len(frame), "sha256": _sha256(data)}
        if on_step:
            on_step(name)

    manifest = {
        "study": study.profile.study.studyid,
        "generator": f"trialkit {__version__}",
        "seed": seed,
        "subjects": len(study.subjects),
        "dirty": dirty,
        "duplicate_rate": duplicate_rate,
        "data_cutoff": str(study.profile.dates.data_cutoff),
        "profile_sha256": _sha256(profile_path.read_bytes()) if profile_path else None,
        "dictionary_sha256": _sha256(dictionary.path.read_bytes()),
        "forms": files,
        "duplicates": duplicates,
        "defects": defects,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def write_truth(study: SimulatedStudy, path: Path) -> None:
    """Subject-level truth as CSV (ISO dates), kept apart from the export."""
    path.parent.mkdir(parents=True, exist_ok=True)
    truth = study.truth.copy()
    for column in truth.columns:
        if pd.api.types.is_datetime64_any_dtype(truth[column]):
            truth[column] = truth[column].dt.strftime("%Y-%m-%d").fillna("")
    truth.to_csv(path, index=False, lineterminator="\n")
