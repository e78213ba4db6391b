"""Loading CORE rule files (the ``rule.yml`` format of CDISC's open rules) into :class:`CoreRule`.

A rule is read as published: the loader checks its shape (the keys each section may have, every
operator of the Check tree and every operation known to the interpreter) and keeps the rest as
data. A file that cannot be used is a :class:`RuleLoadError` naming the file and the key, collected
by :func:`load_rules` beside the rules that load, so that one broken file in a sponsor's folder
never stops the others. An operator or operation the interpreter does not have is a load error in
a user's folder (``strict``: most likely a typo), while a shipped rule that needs one loads and is
reported by the engine as not executed, with that reason.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from trialkit.errors import SpecError
from trialkit.spec import load_yaml

SHIPPED = "core"   # specs/rules/core: CDISC's published SDTMIG rules (see its SOURCE.md)

TOP_KEYS = {"Authorities", "Check", "Core", "Description", "Executability", "Outcome", "Rule Type", "Scope",
            "Sensitivity", "Operations", "Match Datasets", "Grouping Variables",
            "Severity"}   # trialkit's extension: error, warning or notice (CORE rules carry none)
SEVERITIES = ("error", "warning", "notice")
CHECK_KEYS = {"name", "operator", "value", "value_is_literal", "value_is_reference", "prefix", "suffix", "within",
              "type_insensitive", "case_insensitive", "round_values", "ordering", "regex", "negative", "date_component",
              "comparator", "order", "context", "metadata", "variables", "separator"}
SCOPE_KEYS = {"Classes", "Domains", "Use Case", "Data Structures", "Entities", "Datasets"}


class RuleLoadError(SpecError):
    """A rule file that cannot be used: unreadable YAML, a missing section, a malformed check."""


@dataclass(frozen=True)
class Standard:
    name: str          # SDTMIG, SENDIG, TIG...
    version: str       # 3.4
    substandard: str | None = None


@dataclass(frozen=True)
class CoreRule:
    """One CORE rule, its YAML kept as published; the properties read the parts the engine uses."""

    core_id: str
    source: str                       # the file it was read from
    data: dict = field(repr=False, compare=False)

    # -- identity and documentation
    @property
    def cdisc_ids(self) -> tuple[str, ...]:
        """The conformance-rule ids this CORE rule implements (CG0151 for SDTMIG...), in order."""
        ids = []
        for authority in self.data.get("Authorities") or []:
            for standard in authority.get("Standards") or []:
                for ref in standard.get("References") or []:
                    rid = (ref.get("Rule Identifier") or {}).get("Id")
                    if rid and rid not in ids:
                        ids.append(str(rid))
        return tuple(ids)

    @property
    def standards(self) -> tuple[Standard, ...]:
        return tuple(Standard(str(s.get("Name", "")).upper(), str(s.get("Version", "")), s.get("Substandard"))
                     for a in self.data.get("Authorities") or [] for s in a.get("Standards") or [])

    def applies_to_standard(self, name: str, version: str) -> bool:
        """Whether the rule is published for ``name`` (sdtmig) ``version`` (3.4 or 3-4)."""
        version = version.replace("-", ".")
        return any(s.name == name.upper() and s.version == version for s in self.standards)

    def citation(self, name: str = "SDTMIG", version: str = "3.4") -> str:
        """The cited guidance for one standard version (document, section, item), for rationales."""
        for authority in self.data.get("Authorities") or []:
            for standard in authority.get("Standards") or []:
                if str(standard.get("Name", "")).upper() == name.upper() and str(standard.get("Version")) == version:
                    for ref in standard.get("References") or []:
                        for cite in ref.get("Citations") or []:
                            where = ", ".join(str(cite[k]) for k in ("Document", "Section", "Item") if cite.get(k))
                            return f"{where}: {cite.get('Cited Guidance', '')}".strip()
        return ""

    @property
    def description(self) -> str:
        return str(self.data.get("Description", "")).strip()

    @property
    def message(self) -> str:
        return str((self.data.get("Outcome") or {}).get("Message", "")).strip()

    @property
    def output_variables(self) -> tuple[str, ...]:
        return tuple(str(v) for v in (self.data.get("Outcome") or {}).get("Output Variables") or ())

    @property
    def rule_type(self) -> str:
        return str(self.data.get("Rule Type", ""))

    @property
    def severity(self) -> str | None:
        """The rule's own severity (trialkit's ``Severity`` key), or None."""
        value = self.data.get("Severity")
        return str(value).lower() if value else None

    @property
    def sensitivity(self) -> str:
        return str(self.data.get("Sensitivity", ""))

    @property
    def executability(self) -> str:
        return str(self.data.get("Executability", ""))

    # -- what the engine evaluates
    @property
    def scope(self) -> dict:
        return self.data.get("Scope") or {}

    @property
    def check(self) -> Any:
        return self.data["Check"]

    @property
    def operations(self) -> tuple[dict, ...]:
        return tuple(self.data.get("Operations") or ())

    @property
    def match_datasets(self) -> tuple[dict, ...]:
        return tuple(self.data.get("Match Datasets") or ())

    @property
    def grouping_variables(self) -> tuple[str, ...]:
        return tuple(self.data.get("Grouping Variables") or ())

    def operators(self) -> list[str]:
        """Every operator of the Check tree, in order of appearance."""
        found: list[str] = []
        for leaf in leaves(self.check):
            if leaf.get("operator") not in found:
                found.append(leaf["operator"])
        return found


def leaves(node: Any) -> list[dict]:
    """The single conditions of a Check tree (all / any / not nest)."""
    if isinstance(node, list):
        return [leaf for item in node for leaf in leaves(item)]
    if isinstance(node, dict):
        if any(k in node for k in ("all", "any", "not")):
            return [leaf for k in ("all", "any", "not") if k in node for leaf in leaves(node[k])]
        return [node]
    return []


def load_rule(path: Path, strict: bool = False) -> CoreRule:
    """Read and check one rule file; a problem is a RuleLoadError naming the file and key. ``strict``:
    every operator and operation must be one the interpreter has."""
    data = load_yaml(path)
    file = str(path)
    if not isinstance(data, dict):
        raise RuleLoadError("a rule file must hold a mapping (Core, Check, Scope, Outcome...)", file=file)
    core = data.get("Core")
    if not isinstance(core, dict) or not core.get("Id"):
        raise RuleLoadError("no rule id", file=file, key="Core.Id")
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise RuleLoadError(f"unknown section {unknown[0]!r}; a rule has {', '.join(sorted(TOP_KEYS))}",
                            file=file, key=unknown[0])
    for key in ("Check", "Scope", "Outcome", "Rule Type", "Sensitivity"):
        if data.get(key) in (None, "", {}):
            raise RuleLoadError(f"missing {key}", file=file, key=key)
    if data.get("Severity") is not None and str(data["Severity"]).lower() not in SEVERITIES:
        raise RuleLoadError(f"Severity is one of {', '.join(SEVERITIES)}", file=file, key="Severity")
    if not isinstance(data["Outcome"], dict) or "Message" not in data["Outcome"]:
        raise RuleLoadError("Outcome needs a Message", file=file, key="Outcome.Message")
    if not isinstance(data["Scope"], dict) or set(data["Scope"]) - SCOPE_KEYS:
        raise RuleLoadError(f"Scope may have {', '.join(sorted(SCOPE_KEYS))}", file=file, key="Scope")
    _check_tree(data["Check"], file, "Check")
    for i, operation in enumerate(data.get("Operations") or []):
        if not isinstance(operation, dict) or not operation.get("operator") or not operation.get("id"):
            raise RuleLoadError("an operation needs an id and an operator", file=file, key=f"Operations[{i}]")
    for i, match in enumerate(data.get("Match Datasets") or []):
        if not isinstance(match, dict) or not match.get("Name"):
            raise RuleLoadError("a match dataset needs a Name", file=file, key=f"Match Datasets[{i}]")
    if strict:
        _check_vocabulary(data, file)
    return CoreRule(str(core["Id"]), file, data)


def _check_vocabulary(data: dict, file: str) -> None:
    from trialkit.validators.core import operations, operators

    names, known = operators.known(), operations.known()
    for path, leaf in _leaves_with_keys(data["Check"], "Check"):
        if leaf["operator"] not in names:
            raise RuleLoadError(f"unknown operator {leaf['operator']!r}", file=file, key=f"{path}.operator")
    for i, operation in enumerate(data.get("Operations") or []):
        if operation["operator"] not in known:
            raise RuleLoadError(f"unknown operation {operation['operator']!r}", file=file, key=f"Operations[{i}].operator")


def _leaves_with_keys(node: Any, key: str) -> list[tuple[str, dict]]:
    if isinstance(node, list):
        return [pair for i, item in enumerate(node) for pair in _leaves_with_keys(item, f"{key}[{i}]")]
    group = next((k for k in ("all", "any", "not") if k in node), None)
    return _leaves_with_keys(node[group], f"{key}.{group}") if group else [(key, node)]


def _check_tree(node: Any, file: str, key: str) -> None:
    if isinstance(node, list):
        if not node:
            raise RuleLoadError("an empty list of conditions", file=file, key=key)
        for i, item in enumerate(node):
            _check_tree(item, file, f"{key}[{i}]")
        return
    if not isinstance(node, dict) or not node:
        raise RuleLoadError("a condition must be a mapping", file=file, key=key)
    groups = [k for k in ("all", "any", "not") if k in node]
    if groups:
        if len(node) != 1:
            raise RuleLoadError(f"{groups[0]} must be alone in its mapping", file=file, key=key)
        _check_tree(node[groups[0]], file, f"{key}.{groups[0]}")
        return
    if not node.get("operator"):
        raise RuleLoadError("a condition needs an operator", file=file, key=key)
    unknown = sorted(set(node) - CHECK_KEYS)
    if unknown:
        raise RuleLoadError(f"unknown condition key {unknown[0]!r}", file=file, key=f"{key}.{unknown[0]}")


def rules_folder(name: str = SHIPPED) -> Path:
    """A shipped rule set (specs/rules/<name>)."""
    return Path(str(resources.files("trialkit.specs").joinpath("rules", name)))


def load_rules(folder: Path, strict: bool = False) -> tuple[list[CoreRule], list[RuleLoadError]]:
    """Every ``*.yml`` / ``*.yaml`` rule of a folder (and its subfolders, as the open rules repository
    nests ``CORE-nnnnnn/rule.yml``), and the files that could not be loaded.

    Parsing 331 rule files takes a couple of seconds, so a folder whose every file loads is
    remembered as JSON in the user's cache folder, keyed by the files' names, sizes and
    modification times (any change reads the YAML again; JSON, so the cache can never run code)."""
    if not Path(folder).is_dir():
        return [], [RuleLoadError("rules folder not found", file=str(folder))]
    paths = sorted(p for p in Path(folder).rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    cached = _cache_file(paths, strict)
    if cached is not None and cached.is_file():
        try:
            return [CoreRule(rid, source, data) for rid, source, data in json.loads(cached.read_text("utf-8"))], []
        except (OSError, ValueError, TypeError):
            pass
    rules, errors = _parse_all(paths, strict)
    if cached is not None and not errors:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps([[r.core_id, r.source, r.data] for r in rules]), encoding="utf-8")
        except (OSError, TypeError):
            pass
    return rules, errors


def _cache_file(paths: list[Path], strict: bool) -> Path | None:
    root = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache" if Path.home().is_dir() else None)
    if root is None:
        return None
    from trialkit import __version__

    files = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths]
    key = hashlib.sha256(repr([*files, strict, __version__]).encode())
    return Path(root) / "trialkit" / f"core-rules-{key.hexdigest()[:20]}.json"


def _parse_all(paths: list[Path], strict: bool) -> tuple[list[CoreRule], list[RuleLoadError]]:
    rules, errors, seen = [], [], {}
    for path in paths:
        try:
            rule = load_rule(path, strict)
        except SpecError as exc:
            errors.append(exc if isinstance(exc, RuleLoadError) else RuleLoadError(exc.message, file=str(path), row=exc.row))
            continue
        if rule.core_id in seen:
            errors.append(RuleLoadError(f"rule {rule.core_id} is also defined in {seen[rule.core_id]}", file=str(path),
                                        key="Core.Id"))
            continue
        seen[rule.core_id] = str(path)
        rules.append(rule)
    return rules, errors
