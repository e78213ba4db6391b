"""Write a simulated study as an EDC export folder in one of FORMATS (one CSV per form by default) and
manifest.json.

manifest.json records what was made and how (study, seed, size, trialkit version, checksums of the
profile, dictionary and every file, the format, the duplicated records and the injected defects), so that an
export can be traced and a defect found later can be matched with the one that was planted.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit import __version__
from trialkit.folder_manifest import sha256
from trialkit.raw_dictionary import RawDictionary
from trialkit.simulate.dirt import inject_defects
from trialkit.simulate.export import add_duplicates, render_form
from trialkit.simulate.export_formats import FORMATS, Snapshot, record_places
from trialkit.simulate.study import SimulatedStudy

MANIFEST = "manifest.json"


def write_export(study: SimulatedStudy, dictionary: RawDictionary, out: Path, *, dirty: int = 0,
                 duplicate_rate: float = 0.0, profile_path: Path | None = None, on_step=None,
                 format: str = "csv") -> dict:
    """Render, dirty and write every form in ``format`` (a key of FORMATS); ``on_step(name)`` is
    called as each form is rendered."""
    kind = FORMATS[format]
    out.mkdir(parents=True, exist_ok=True)
    seed = study.seed
    slips, dup_rng, dirt_rng = (np.random.default_rng([seed, k]) for k in (1, 2, 3))
    forms = {}
    for name in dictionary.forms:
        forms[name] = render_form(name, study, dictionary, slips)
        if on_step:
            on_step(name)
    duplicates = add_duplicates(forms, duplicate_rate, dup_rng, study.profile.duplicable_forms)
    defects = inject_defects(forms, dictionary, dirty, dirt_rng, cut_records=kind.cut_records or (lambda *_: []),
                             keys_are_structure=kind.keys_are_structure)
    cut = {d["form"] for d in defects if d["kind"] == "truncated_file"}

    dates = study.profile.dates
    created = f"{dates.data_cutoff + dt.timedelta(days=dates.export_lag_days)}T00:00:00"
    snapshot = Snapshot(study.profile.study.studyid, f"{study.profile.study.studyid}.SIM.{seed}", created)
    files = kind.write(forms, dictionary, out, cut, snapshot)
    checksums = {file: sha256(out / file) for file in dict.fromkeys(files.values())}
    place = record_places(format, forms, files)
    for d in defects + duplicates:
        d.update(place(d["form"], d["row"]))
        if "duplicate_of" in d:
            d["duplicate_of"] = place(d["form"], d["duplicate_of"])["row"]

    manifest = {
        "study": study.profile.study.studyid,
        "generator": f"trialkit {__version__}",
        "seed": seed,
        "subjects": len(study.subjects),
        "format": format,
        "dirty": dirty,
        "duplicate_rate": duplicate_rate,
        "data_cutoff": str(dates.data_cutoff),
        "profile_sha256": sha256(profile_path) if profile_path else None,
        "dictionary_sha256": sha256(dictionary.path),
        "files": checksums,
        "forms": {name: {"file": files[name], "rows": len(frame), "sha256": checksums[files[name]]}
                  for name, frame in forms.items()},
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
