"""Standard metadata: the SDTMIG (specs/standards/sdtmig-3.4/), the SDTM model (sdtm-2.0/) and the
controlled terminology (ct/: the NCI package with the study overlay, see trialkit.sdtm.terminology).

Variable label, type, core (Req/Exp/Perm) and codelist come from here, never from a study spec, so
every study maps onto the same SDTMIG definitions and an XPT label can never drift from the IG. The
model says which variables a general observation class allows and in which order, for the datasets
and rules (CORE's model operations) that go beyond one domain's IG table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from trialkit.errors import SpecError
from trialkit.sdtm.terminology import Codelist, inline_codelist, own_codelist, read_package
from trialkit.spec import load_yaml

__all__ = ["GENERAL_OBSERVATION_CLASSES", "SDTMIG", "SDTM_MODEL", "Codelist", "DomainMeta", "ModelDataset", "ModelVariable",
           "SdtmModel", "VariableMeta", "codelist_links", "domain_class", "inline_codelist", "load_codelists", "load_domains", "load_model"]

SDTMIG = "sdtmig-3.4"
SDTM_MODEL = "sdtm-2.0"
GENERAL_OBSERVATION_CLASSES = ("INTERVENTIONS", "EVENTS", "FINDINGS", "FINDINGS ABOUT")


@dataclass(frozen=True)
class VariableMeta:
    name: str
    label: str
    type: str            # Char | Num
    core: str            # Req | Exp | Perm
    role: str = ""
    codelist: str | None = None          # the first (usually only) codelist the IG names
    codelists: tuple[str, ...] = ()      # every codelist the IG names (DSDECOD: NCOMPLT, PROTMLST, OTHEVENT)

    @classmethod
    def from_yaml(cls, entry: dict) -> VariableMeta:
        """``codelist`` in a standard file is one name or a list of names."""
        names = entry.get("codelist")
        names = tuple(names) if isinstance(names, list) else (names,) if names else ()
        return cls(**{**entry, "codelist": names[0] if names else None, "codelists": names})


@dataclass(frozen=True)
class DomainMeta:
    domain: str
    label: str
    cls: str
    structure: str
    keys: tuple[str, ...]
    variables: tuple[VariableMeta, ...]
    never_null: tuple[str, ...] = ()     # ADaM: Req means "present"; these must also be populated

    def variable(self, name: str) -> VariableMeta | None:
        return next((v for v in self.variables if v.name == name), None)

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.variables]


def _standards_root() -> Path:
    return Path(str(resources.files("trialkit.specs").joinpath("standards")))


@lru_cache(maxsize=4)
def load_domains(standard: str = SDTMIG) -> dict[str, DomainMeta]:
    folder = _standards_root() / standard
    if not folder.is_dir():
        raise SpecError(f"unknown standard {standard!r}", file=str(folder))
    out = {}
    for path in sorted(folder.glob("*.yaml")):
        data = load_yaml(path)
        try:
            variables = tuple(VariableMeta.from_yaml(v) for v in data["variables"])
            meta = DomainMeta(data["domain"], data["label"], data["class"], data.get("structure", ""),
                              tuple(data.get("keys", [])), variables, tuple(data.get("never_null", [])))
        except (KeyError, TypeError) as exc:
            raise SpecError(f"bad standard metadata: {exc}", file=str(path)) from None
        out[meta.domain] = meta
    return out


@lru_cache(maxsize=4)
def load_codelists(name: str = "sdtm-ct.yaml") -> Mapping[str, Codelist]:
    """Every codelist of a CT file in ct/, keyed by CDISC short name or sponsor key: the NCI package
    the file names (``package_file``) with the file's own codelists merged over it, or, for a file
    that names no package (ADaM), the file's codelists alone."""
    path = _standards_root() / "ct" / name
    data = load_yaml(path)
    codelists = data.get("codelists") or {}
    if data.get("package_file"):
        terminology = read_package(path.parent / data["package_file"])
        terminology.merge(codelists, file=str(path))
        return terminology
    return {key: own_codelist(key, entry, file=str(path), where=f"codelists.{key}") for key, entry in codelists.items()}


def codelist_links(standard: str = SDTMIG) -> dict[tuple[str, str], tuple[str, ...]]:
    """(dataset, variable) -> the NCI codes of the codelists the IG links to it, in the IG's order (as
    CORE's variable/codelist map, per dataset). trialkit's additions are included: DOMAIN -> C66734
    (the IG gives the domain code itself) and DM.COUNTRY -> C66786 (ISO 3166, no longer in SDTM CT)."""
    ct = load_codelists()
    return {(name, v.name): tuple(ct[c].code for c in v.codelists)
            for name, meta in load_domains(standard).items() for v in meta.variables if v.codelists}


@dataclass(frozen=True)
class ModelVariable:
    name: str                            # with the -- prefix placeholder for class variables (--TESTCD)
    label: str
    type: str                            # Char | Num
    role: str
    qualifies: tuple[str, ...] = ()      # the variables a qualifier qualifies
    restriction: str = ""                # the model's usage restriction ("EG Domain only")

    def named_for(self, domain: str) -> str:
        return self.name.replace("--", domain, 1)


@dataclass(frozen=True)
class ModelDataset:
    name: str
    cls: str
    label: str
    variables: tuple[ModelVariable, ...]


@dataclass(frozen=True)
class SdtmModel:
    """The SDTM model: the variables of each class (GENERAL OBSERVATIONS holds the Identifiers and
    Timing variables the general observation classes share) and the model's own datasets (DM, SE,
    TA, RELREC...), each in model order."""

    classes: dict[str, tuple[ModelVariable, ...]]
    datasets: dict[str, ModelDataset]

    def by_role(self, role: str) -> tuple[ModelVariable, ...]:
        return tuple(v for v in self.classes["GENERAL OBSERVATIONS"] if v.role == role)

    @property
    def identifiers(self) -> tuple[ModelVariable, ...]:
        return self.by_role("Identifier")

    @property
    def timing(self) -> tuple[ModelVariable, ...]:
        return self.by_role("Timing")

    def class_variables(self, cls: str) -> tuple[ModelVariable, ...]:
        """A class's own variables; Findings About is the Findings class with --OBJ after --TEST."""
        if cls != "FINDINGS ABOUT":
            return self.classes[cls]
        findings = self.classes["FINDINGS"]
        cut = next(i for i, v in enumerate(findings) if v.name == "--TEST") + 1
        return findings[:cut] + self.classes[cls] + findings[cut:]

    def variables_for(self, domain: str, cls: str) -> tuple[ModelVariable, ...]:
        """The model variables a domain of a class may hold, in model order: for a general observation
        class the identifiers, the class variables and the timing variables (CORE's model column
        order, before the --prefix is replaced: see ModelVariable.named_for); for the other classes
        the variables of the model's dataset of that name (none when the model has no such dataset)."""
        if cls in GENERAL_OBSERVATION_CLASSES:
            return self.identifiers + self.class_variables(cls) + self.timing
        dataset = self.datasets.get(domain)
        return dataset.variables if dataset is not None and dataset.cls == cls else ()


def _model_variables(entries: list, path: Path, key: str) -> tuple[ModelVariable, ...]:
    try:
        return tuple(ModelVariable(**{**e, "qualifies": tuple(e.get("qualifies", ()))}) for e in entries)
    except TypeError as exc:
        raise SpecError(f"bad model variable: {exc}", file=str(path), key=key) from None


@lru_cache(maxsize=2)
def load_model(model: str = SDTM_MODEL) -> SdtmModel:
    """The SDTM model of specs/standards/<model>/: one file per class, holding either the class's
    variables or the model's datasets of that class."""
    folder = _standards_root() / model
    if not folder.is_dir():
        raise SpecError(f"unknown model {model!r}", file=str(folder))
    classes, datasets = {}, {}
    for path in sorted(folder.glob("*.yaml")):
        data = load_yaml(path)
        cls = data.get("class")
        if not cls or ("variables" in data) == ("datasets" in data):
            raise SpecError("a model file has a class and either variables or datasets", file=str(path))
        if "variables" in data:
            classes[cls] = _model_variables(data["variables"], path, "variables")
        for name, ds in (data.get("datasets") or {}).items():
            variables = _model_variables(ds.get("variables", []), path, f"datasets.{name}")
            datasets[name] = ModelDataset(name, cls, ds.get("label", ""), variables)
    return SdtmModel(classes, datasets)


def domain_class(domain: str) -> str | None:
    """The class of a dataset (FINDINGS, SPECIAL PURPOSE, RELATIONSHIP...): from the SDTMIG metadata,
    else from the model's own datasets (SJ, TX, POOLDEF...), None for a domain neither knows; SUPP--
    datasets are RELATIONSHIP."""
    name = domain.upper()
    if name.startswith("SUPP"):
        name = "SUPPQUAL"
    meta = load_domains().get(name)
    if meta is not None:
        return meta.cls
    dataset = load_model().datasets.get(name)
    return dataset.cls if dataset is not None else None
