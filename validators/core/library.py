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
from typing import Any

from trialkit.errors import SpecError
from trialkit.sdtm import standards
from trialkit.sdtm.standards import DomainMeta, _standards_root, load_domains
from trialkit.sdtm.standards import VariableMeta as DomainVariable
from trialkit.validators.core.study import Dataset, Study

EVENTS, FINDINGS, FINDINGS_ABOUT = "EVENTS", "FINDINGS", "FINDINGS ABOUT"
INTERVENTIONS, RELATIONSHIP = "INTERVENTIONS", "RELATIONSHIP"
GENERAL_OBSERVATIONS = (INTERVENTIONS, EVENTS, FINDINGS, FINDINGS_ABOUT)


@dataclass(frozen=True)
class LibraryVariable:
    """A variable as CORE's library operations see it: IG metadata, or model metadata with the
    ``--`` prefix replaced and core ``Perm`` (the model has no core)."""

    name: str
    label: str = ""
    type: str = ""
    role: str = ""
    core: str = "Perm"

    def get(self, key: str) -> str | None:
        """The CDISC Library attribute ``key`` (name, label, role, core, simpleDatatype)."""
        return {"name": self.name, "label": self.label, "role": self.role, "core": self.core,
                "simpleDatatype": self.type, "type": self.type}.get(key)


@dataclass(frozen=True)
class Library:
    standard: str                       # sdtmig
    version: str                        # 3.4 (the version whose metadata is held)
    domains: dict[str, DomainMeta]
    note: str = ""                      # set when the requested version is not held
    model: Any = None                   # the SDTM model (sdtm.standards.SdtmModel), when trialkit holds it

    def domain(self, name: str) -> DomainMeta | None:
        return self.domains.get(name)

    def is_custom(self, name: str) -> bool:
        """Whether ``name`` is not a dataset of the IG (SUPP--/SQ-- count as the IG's SUPPQUAL)."""
        if name.startswith(("SUPP", "SQ")):
            return False
        return name not in self.domains

    def model_prefixed_variables(self) -> set[str] | None:
        """The model's class variables written with the ``--`` prefix (--TERM, --SEQ...), or None
        when the model is not held."""
        if self.model is None:
            return None
        return {v.name for variables in self.model.classes.values() for v in variables if v.name.startswith("--")}

    def is_standard(self, name: str) -> bool:
        """Whether ``name`` is a dataset of the IG or of the model (CORE's test for custom domains;
        SUPPAE is not one: the IG's dataset is SUPPQUAL)."""
        return name in self.domains or (self.model is not None and name in self.model.datasets)

    def ig_and_model_variables(self, dataset: Dataset, study: Study) -> list[LibraryVariable]:
        """The variables CORE's IG operations (required / expected variables, library column order)
        list for a dataset, in order: for a general observation class, the model's identifiers,
        class variables and timing variables with the IG's variables in their place (an IG variable
        the model lacks goes to the end of its section: identifiers, qualifiers, timing); for a
        custom domain, the model's alone; for the other classes, the IG's."""
        domain, prefix, cls, custom = self._resolve(dataset, study)
        ig = [_ig(v) for v in self.domains[domain].variables] if domain in self.domains else []
        if not custom and cls not in GENERAL_OBSERVATIONS:
            return ig
        identifiers, qualifiers, timing = self._class_sections(cls, prefix)
        variables = identifiers + qualifiers + timing
        if custom:
            return variables
        where = {v.name: i for i, v in enumerate(variables)}
        for variable in ig:
            if variable.name in where:
                variables[where[variable.name]] = variable
                continue
            at = {"Identifier": len(identifiers), "Timing": len(variables)}.get(variable.role, len(variables) - len(timing))
            variables.insert(at, variable)
            where = {v.name: i for i, v in enumerate(variables)}
        return variables

    def model_variables(self, dataset: Dataset, study: Study) -> list[LibraryVariable]:
        """The variables the SDTM model allows in a dataset (CORE's model column order): for a general
        observation class its identifiers, class variables and timing variables; else the model's
        dataset of that name, or the IG's when the model has none."""
        domain, prefix, cls, _ = self._resolve(dataset, study)
        if cls in GENERAL_OBSERVATIONS:
            return [v for section in self._class_sections(cls, prefix) for v in section]
        own = self.model.datasets.get(domain)
        if own is not None:
            return [_from_model(v, prefix) for v in own.variables]
        return [_ig(v) for v in self.domains[domain].variables] if domain in self.domains else []

    def _resolve(self, dataset: Dataset, study: Study) -> tuple[str, str, str | None, bool]:
        """(the library's dataset name, the prefix for ``--``, the class, whether custom); SUPP-- and
        SQ-- datasets are SUPPQUAL, an AP-- dataset is its parent domain. Needs the model."""
        domain = prefix = dataset.unsplit_name
        if domain.startswith(("SUPP", "SQ")) and len(domain) > 2:
            domain = "SUPPQUAL"
        elif domain.startswith("AP"):
            domain = prefix = domain[2:]
        custom = not self.is_standard(domain)
        if custom:
            cls = self.dataset_class(dataset, study)
        else:
            cls = self.domains[domain].cls if domain in self.domains else self.model.datasets[domain].cls
        return domain, prefix, cls, custom

    def _class_sections(self, cls: str | None, prefix: str) -> tuple[list, list, list]:
        if cls not in GENERAL_OBSERVATIONS:
            return [], [], []
        sections = (self.model.identifiers, self.model.class_variables(cls), self.model.timing)
        identifiers, qualifiers, timing = ([_from_model(v, prefix) for v in section] for section in sections)
        return identifiers, qualifiers, timing

    def dataset_class(self, dataset: Dataset, study: Study) -> str | None:
        """The IG's class of the dataset, else the model's (TX, SJ, POOLDEF are model datasets the
        SDTMIG does not define), else the class its topic variable tells, as CORE looks them up."""
        meta = self.domains.get(dataset.unsplit_name)
        if meta is not None and dataset.unsplit_name != "SUPPQUAL":
            return meta.cls
        own = self.model.datasets.get(dataset.unsplit_name) if self.model is not None else None
        if own is not None:
            return own.cls
        return _class_from_variables(dataset, study, self)


def _ig(variable: DomainVariable) -> LibraryVariable:
    return LibraryVariable(variable.name, variable.label, variable.type, variable.role, variable.core)


def _from_model(variable: Any, prefix: str) -> LibraryVariable:
    return LibraryVariable(variable.name.replace("--", prefix), variable.label, variable.type, variable.role)


def _class_from_variables(dataset: Dataset, study: Study, library: Library) -> str | None:
    columns = set(dataset.frame.columns)
    if "DOMAIN" in columns:
        prefix = (dataset.domain or "").upper()
        has = lambda suffix: f"{prefix}{suffix}" in columns
    elif "RDOMAIN" in columns:
        has = lambda suffix: suffix in columns
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
    return Library(standard, use, load_domains(f"{standard}-{use}"), note, _load_model())


def _load_model() -> Any:
    """The SDTM model trialkit ships, or None while sdtm.standards has no ``load_model`` (the model
    metadata and its loader come with the sdtm-2.0 standards files)."""
    load_model = getattr(standards, "load_model", None)
    return load_model() if load_model is not None else None


def _number(version: str) -> float:
    try:
        return float(version)
    except ValueError:
        return 0.0
