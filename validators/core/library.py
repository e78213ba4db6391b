"""The standard's metadata as CORE rules need it: the class of a dataset, the IG variables of a
domain (core, role, order), whether a domain is custom.

It reads trialkit's own standards metadata (specs/standards/sdtmig-<version>/, through
``trialkit.sdtm.standards.load_domains``), the same that drives the SDTM stage. A version whose
metadata trialkit does not hold falls back to the nearest held version, and says so in
:attr:`Library.note`, so a 3.2 study is scoped with 3.4 classes rather than not at all.

Classes are CT class names (EVENTS, FINDINGS, FINDINGS ABOUT, INTERVENTIONS, SPECIAL PURPOSE,
TRIAL DESIGN, RELATIONSHIP, STUDY REFERENCE). A dataset the IG does not define gets its class from
its topic variable, as CORE does for custom domains: --TERM Events, --TRT Interventions, --TESTCD
Findings (Findings About with --OBJ), QNAM Relationship.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from trialkit.errors import SpecError
from trialkit.sdtm.standards import DomainMeta, _standards_root, load_domains
from trialkit.validators.core.study import Dataset, Study

EVENTS, FINDINGS, FINDINGS_ABOUT = "EVENTS", "FINDINGS", "FINDINGS ABOUT"
INTERVENTIONS, RELATIONSHIP = "INTERVENTIONS", "RELATIONSHIP"


@dataclass(frozen=True)
class Library:
    standard: str                       # sdtmig
    version: str                        # 3.4 (the version whose metadata is held)
    domains: dict[str, DomainMeta]
    note: str = ""                      # set when the requested version is not held

    def domain(self, name: str) -> DomainMeta | None:
        return self.domains.get(name)

    def is_custom(self, name: str) -> bool:
        """Whether ``name`` is not a dataset of the IG (SUPP--/SQ-- count as the IG's SUPPQUAL)."""
        if name.startswith(("SUPP", "SQ")):
            return False
        return name not in self.domains

    def dataset_class(self, dataset: Dataset, study: Study) -> str | None:
        meta = self.domains.get(dataset.unsplit_name)
        if meta is not None and dataset.unsplit_name != "SUPPQUAL":
            return meta.cls
        return _class_from_variables(dataset, study, self)


def _class_from_variables(dataset: Dataset, study: Study, library: Library) -> str | None:
    columns = set(dataset.frame.columns)
    if "DOMAIN" in columns:
        prefix = (dataset.domain or "").upper()
        has = lambda suffix: f"{prefix}{suffix}" in columns  # noqa: E731
    elif "RDOMAIN" in columns:
        has = lambda suffix: suffix in columns  # noqa: E731
    else:
        return None
    if has("TERM"):
        return EVENTS
    if has("TRT"):
        return INTERVENTIONS
    if has("QNAM"):
        return RELATIONSHIP
    if has("TESTCD"):
        return FINDINGS_ABOUT if has("OBJ") else FINDINGS
    if dataset.is_ap and dataset.ap_suffix:
        parent = next((d for d in study.datasets if d.domain == dataset.ap_suffix and not d.is_ap), None)
        return library.dataset_class(parent, study) if parent is not None else None
    return None


def held_versions(standard: str = "sdtmig") -> list[str]:
    """The versions of ``standard`` whose metadata trialkit ships (3.4...)."""
    root = _standards_root()
    return sorted(p.name.split("-", 1)[1] for p in root.glob(f"{standard}-*") if p.is_dir())


@lru_cache(maxsize=8)
def load_library(standard: str = "sdtmig", version: str = "3.4") -> Library:
    """The metadata of ``standard`` ``version`` (3.4 or 3-4), or of the nearest version held."""
    version = version.replace("-", ".")
    held = held_versions(standard)
    if not held:
        raise SpecError(f"no metadata for standard {standard!r} in specs/standards")
    use = version if version in held else min(held, key=lambda v: abs(_number(v) - _number(version)))
    note = "" if use == version else f"{standard.upper()} {version} metadata not held; classes and variables from {use}"
    return Library(standard, use, load_domains(f"{standard}-{use}"), note)


def _number(version: str) -> float:
    try:
        return float(version)
    except ValueError:
        return 0.0
