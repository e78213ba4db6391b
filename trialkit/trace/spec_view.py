"""What a domain spec says about where each SDTM variable came from, read for tracing.

trialkit.sdtm.spec.load_domain_spec checks a spec against the whole SDTMIG metadata and the NCI
terminology package before a run (half a second: the standards, not the spec). A trace reads a spec
the run already checked, and only to say which raw field and algorithm filled each variable, so it
reads the one YAML file and nothing else; the spec's own words are kept (``args``: the mapping as
written, read by the same ``mapping_fields`` the SDTM stage's coverage check uses). Whether the
spec is still the one the run used is checked against the run manifest's SHA-256.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trialkit.sdtm.spec import ALGORITHMS, Summary, mapping_fields, parse_summary
from trialkit.spec import load_yaml


@dataclass(frozen=True)
class MappingView:
    variable: str
    args: dict                              # the mapping as the spec writes it
    key: str                                # 'AE.yaml:sources[0].variables.AETERM'

    @property
    def algorithm(self) -> str:
        algorithm = next((a for a in self.args if a in ALGORITHMS), "?")
        if algorithm == "ct":
            return f"ct (codelist {self.args['codelist']})" if "codelist" in self.args else "ct (study values)"
        return algorithm

    @property
    def fields(self) -> list[str]:
        return mapping_fields(self.args)

    @property
    def targets(self) -> list[str]:
        """The variables it fills: a visit mapping fills VISITNUM and VISIT."""
        return ["VISITNUM", "VISIT"] if "visit" in self.args else [self.variable]


@dataclass(frozen=True)
class SourceView:
    key: str                                # 'sources[1]'
    form: str
    mappings: tuple[MappingView, ...]
    supp: tuple[dict, ...] = ()             # {qnam, qlabel, field}


@dataclass(frozen=True)
class DomainView:
    domain: str
    path: Path
    sources: tuple[SourceView, ...]
    summaries: dict[str, Summary] = field(default_factory=dict)
    post: dict[str, MappingView] = field(default_factory=dict)     # DM's mappings after the summaries (AGE)


def read_domain_view(path: Path) -> DomainView:
    """The domain spec at ``path`` (a spec the run checked when it ran)."""
    data = load_yaml(path) or {}
    sources = []
    for k, src in enumerate(data.get("sources") or []):
        where = f"sources[{k}]"
        mappings = tuple(MappingView(var, dict(args), f"{path.name}:{where}.variables.{var}")
                         for var, args in (src.get("variables") or {}).items())
        sources.append(SourceView(where, str(src.get("form")), mappings, tuple(src.get("supp") or ())))
    summaries = {var: parse_summary(body, path, f"summaries.{var}") for var, body in (data.get("summaries") or {}).items()}
    post = {var: MappingView(var, dict(args), f"{path.name}:post.{var}") for var, args in (data.get("post") or {}).items()}
    return DomainView(str(data.get("domain")), path, tuple(sources), summaries, post)
