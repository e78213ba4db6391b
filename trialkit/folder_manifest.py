"""manifest.json: what an output folder holds, written by the stage that wrote it.

Each SDTM and ADaM folder, and each run's folder, says which stage wrote it, when, in which formats,
with what status and exit code, and every file it holds with its SHA-256 and size. A reader can then
tell the files written together by one stage from a file that came from elsewhere: a dataset present
in two formats (ae.xpt and ae.json) is read only when the folder's manifest lists both as written
together (``trialkit sdtm --format xpt,json``); otherwise it is an error naming both, never a silent
preference for one (trialkit.dataset_json.dataset_files).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from trialkit.atomic_output import replacing
from trialkit.errors import TrialkitError

MANIFEST = "manifest.json"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_files(folder: Path) -> dict[str, dict]:
    """Every file under ``folder`` but its own manifest.json, by path relative to it (POSIX):
    {"sha256": ..., "bytes": ...}."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p != folder / MANIFEST)
    return {p.relative_to(folder).as_posix(): file_entry(p) for p in files}


def file_entry(path: Path) -> dict:
    """One file as a manifest lists it: {"sha256": ..., "bytes": ...}."""
    return {"sha256": sha256(path), "bytes": Path(path).stat().st_size}


def write_manifest(folder: Path, record: dict, *, files: bool = True) -> Path:
    """``record`` (plus, with ``files``, every file of the folder) as ``folder``/manifest.json, whole."""
    target = Path(folder) / MANIFEST
    content = {**record, "files": folder_files(folder)} if files else record
    with replacing(target) as tmp:
        tmp.write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")
    return target


def refresh_entry(folder: Path, path: Path) -> None:
    """Update ``path``'s entry (SHA-256 and size) in the folder's manifest after one command rewrote
    that one file (``trialkit define`` into an SDTM folder), so the manifest keeps describing the
    folder; a folder without a manifest (another tool's) is left without one."""
    target = Path(folder) / MANIFEST
    try:
        record = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except (OSError, ValueError) as err:
        raise TrialkitError(f"the folder's manifest cannot be read to record {Path(path).name} in it: {err}",
                            file=str(target)) from None
    if not isinstance(record, dict) or not isinstance(record.get("files", {}), dict):
        raise TrialkitError(f"the folder's manifest is not a trialkit manifest: {Path(path).name} not recorded in it",
                            file=str(target))
    name = Path(path).resolve().relative_to(Path(folder).resolve()).as_posix()
    record["files"] = {**record.get("files", {}), name: file_entry(path)}
    write_manifest(folder, record, files=False)


def written_together(folder: Path, paths: list[Path]) -> bool:
    """Whether the folder's manifest lists every one of ``paths`` with its present size: files one
    stage wrote in one go (a cheap check: a file put there later has another size or is not listed)."""
    try:
        listed = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        return False
    return all(isinstance(listed.get(p.name), dict) and listed[p.name].get("bytes") == os.stat(p).st_size
               for p in paths)
