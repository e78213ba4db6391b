"""Validation rules and their findings.

Every rule has a stable id (TK-SDTM-0012), a severity (error / warning / notice), a title and a
rationale naming the standard section it comes from. A finding names the rule, the dataset, the
variable, the record (USUBJID and --SEQ, or the 1-based row) and the value, so a data manager can go
straight to it. The registry is the single list of rules: reports (JSON, JUnit) enumerate it so a
rule that found nothing still shows as passed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from trialkit.display import show

SEVERITIES = ("error", "warning", "notice")


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    rationale: str
    scope: tuple[str, ...] = ("*",)   # the datasets it applies to; "*" for all
    cdisc_id: str = ""                # CORE rules: the conformance rule ids they implement (CG0151)
    source: str = "trialkit"          # trialkit | core | a user's rules folder
    standard_ref: str = ""            # where the standard says it ("SDTMIG 3.4 section 5.2"), when not in the rationale

    def applies_to(self, dataset: str) -> bool:
        return "*" in self.scope or dataset in self.scope


@dataclass(frozen=True)
class ValidationFinding:
    rule: str
    severity: str
    dataset: str
    message: str
    variable: str | None = None
    usubjid: str | None = None
    seq: float | None = None
    row: int | None = None
    value: str = ""
    cdisc_id: str | None = None       # CORE findings: the CDISC conformance rule id (CG0151)

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        where = self.dataset + (f".{self.variable}" if self.variable else "")
        record = ", ".join(x for x in (
            f"USUBJID={self.usubjid}" if self.usubjid else "",
            f"SEQ={self.seq:g}" if self.seq is not None and self.seq == self.seq else "",
            f"row {self.row}" if self.row is not None else "",
        ) if x)
        return f"{self.severity}: {self.rule} {where}" + (f" ({record})" if record else "") + f": {self.message}" + (
            f" (value {show(self.value)})" if self.value else "")


RULES: dict[str, Rule] = {}


@dataclass(frozen=True)
class RuleRun:
    """What happened to one rule (a CORE rule) or one rule family (trialkit's) in a run: its status
    (issues, passed, not applicable, not executed), why when it did not run, its time."""

    id: str
    source: str
    status: str
    findings: int = 0
    seconds: float = 0.0
    reason: str = ""
    family: bool = False              # a family of trialkit's Python rules, not one rule file

    def to_dict(self) -> dict:
        return asdict(self)


def rule(id: str, severity: str, title: str, rationale: str, scope: tuple[str, ...] = ("*",)) -> Rule:
    """Register a rule once, at import of the module that implements it."""
    if severity not in SEVERITIES:
        raise ValueError(f"{id}: unknown severity {severity!r}")
    if id in RULES:
        raise ValueError(f"rule {id} registered twice")
    RULES[id] = Rule(id, severity, title, rationale, tuple(scope))
    return RULES[id]


def register(entry: Rule) -> Rule:
    """Register a rule loaded at run time (a CORE rule); loading the same rule again is harmless."""
    RULES[entry.id] = entry
    return entry


IO_UNREADABLE = rule("TK-IO-0001", "error", "Dataset file cannot be read",
                     "A file that cannot be read is reported, never skipped; the other files are still validated.")
