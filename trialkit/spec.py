"""Loading specs: YAML read safely, from the installed package or from a folder on disk.

A study is a folder under ``specs/studies/``; ``--study NAME`` finds the shipped one, ``--study PATH``
a folder of one's own. YAML is always read with ``yaml.safe_load``: a spec can never run code.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from trialkit.errors import SpecError


def study_dir(study: str | Path) -> Path:
    """Return the folder of a study: a path on disk, or the name of a study shipped with trialkit."""
    candidate = Path(study)
    if candidate.is_dir():
        return candidate
    shipped = resources.files("trialkit.specs").joinpath("studies", str(study))
    if shipped.is_dir():
        return Path(str(shipped))
    raise SpecError(f"unknown study '{study}'; shipped studies: {', '.join(shipped_studies())} (or give a folder path)")


def shipped_studies() -> list[str]:
    """The names of the studies shipped with trialkit (folders of specs/studies/), sorted."""
    return sorted(p.name for p in resources.files("trialkit.specs").joinpath("studies").iterdir() if p.is_dir())


# libyaml's safe loader when PyYAML was built with it (the standards YAML parses ~10x faster), else
# the pure-Python one; both are the safe loader: no Python objects from tags, ever.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    """Read one YAML file safely; a syntax error names the file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read spec: {exc.strerror}", file=str(path)) from exc
    try:
        return yaml.load(text, Loader=SAFE_LOADER)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise SpecError(f"invalid YAML: {exc.problem}", file=str(path), row=line) from exc
