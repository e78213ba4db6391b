"""Standard metadata (specs/standards/sdtmig-3.4/) and controlled terminology (specs/standards/ct/).

Variable label, type, core (Req/Exp/Perm) and codelist come from here, never from a study spec, so
every study maps onto the same SDTMIG definitions and an XPT label can never drift from the IG.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

from trialkit.errors import SpecError
from trialkit.spec import load_yaml
from trialkit.vectorize import per_unique

SDTMIG = "sdtmig-3.4"


@dataclass(frozen=True)
class VariableMeta:
    name: str
    label: str
    type: str            # Char | Num
    core: str            # Req | Exp | Perm
    role: str = ""
    codelist: str | None = None


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


@dataclass(frozen=True)
class Codelist:
    name: str
    label: str
    code: str | None
    extensible: bool
    terms: tuple[dict, ...]
    sponsor: bool = False
    lookup: dict[str, str] = field(default_factory=dict)   # normalized collected value -> submission value

    def recode(self, values: pd.Series) -> tuple[pd.Series, pd.Series]:
        """(submission values, unmatched mask); matching trims and ignores case, and uses synonyms."""
        def recode(u: pd.Series) -> tuple[pd.Series, pd.Series]:
            key = u.astype(str).str.strip().str.upper()
            out = key.map(self.lookup)
            return out.fillna(""), out.isna() & (key != "")
        return per_unique(values, recode)


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
            variables = tuple(VariableMeta(**v) for v in data["variables"])
            meta = DomainMeta(data["domain"], data["label"], data["class"], data.get("structure", ""),
                              tuple(data.get("keys", [])), variables, tuple(data.get("never_null", [])))
        except (KeyError, TypeError) as exc:
            raise SpecError(f"bad standard metadata: {exc}", file=str(path)) from None
        out[meta.domain] = meta
    return out


@lru_cache(maxsize=4)
def load_codelists(name: str = "sdtm-ct.yaml") -> dict[str, Codelist]:
    path = _standards_root() / "ct" / name
    data = load_yaml(path)
    out = {}
    for key, cl in (data.get("codelists") or {}).items():
        lookup = {}
        for term in cl.get("terms", []):
            value = str(term["value"])
            for collected in [value, *[str(s) for s in term.get("synonyms", [])]]:
                norm = collected.strip().upper()
                if lookup.get(norm, value) != value:
                    raise SpecError(f"collected value {collected!r} maps to two terms", file=str(path), key=f"codelists.{key}")
                lookup[norm] = value
        out[key] = Codelist(key, cl.get("name", key), cl.get("code"), bool(cl.get("extensible")),
                            tuple(cl.get("terms", [])), bool(cl.get("sponsor")), lookup)
    return out


def inline_codelist(name: str, values: dict) -> Codelist:
    """A study-local recode table (``values: {collected: submission}``) as a sponsor codelist."""
    lookup = {str(k).strip().upper(): str(v) for k, v in values.items()}
    terms = tuple({"value": v} for v in dict.fromkeys(lookup.values()))
    return Codelist(name, name, None, False, terms, True, lookup)
