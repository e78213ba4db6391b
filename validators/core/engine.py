"""Running CORE rules over a study: every rule gets a status, its findings and its time.

Statuses, as CORE reports them and in the words trialkit uses:

- ``issues``: the rule ran and flagged records;
- ``passed``: the rule ran on at least one dataset and flagged nothing;
- ``not applicable``: no dataset of the study is in the rule's scope, or every one in scope lacks
  what the rule checks (a variable, a domain an operation reads), as CORE's "skipped";
- ``not executed``: the rule needs something trialkit does not have (an operator, an operation,
  a rule type, metadata), with the reason; never silently dropped.

Split datasets are evaluated once per domain (LBCH + LBHE + LBUR as LB), unless the rule asks for
split datasets by ``include_split_datasets``. Domain presence rules look at the whole study and
report it once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from trialkit.validators.core import frames, merge, operations
from trialkit.validators.core.check import evaluate
from trialkit.validators.core.context import Context, NotApplicable, NotExecutable
from trialkit.validators.core.library import Library
from trialkit.validators.core.operators import OPERATORS, known
from trialkit.validators.core.outcome import CoreFinding, findings
from trialkit.validators.core.rules import CoreRule
from trialkit.validators.core.scope import applies
from trialkit.validators.core.study import Dataset, Study

ISSUES, PASSED, NOT_APPLICABLE, NOT_EXECUTED = "issues", "passed", "not applicable", "not executed"


@dataclass
class RuleResult:
    rule: CoreRule
    status: str
    findings: list[CoreFinding] = field(default_factory=list)
    reason: str = ""                                   # why not applicable / not executed
    datasets: dict[str, str] = field(default_factory=dict)   # dataset -> what happened there
    seconds: float = 0.0


def missing_vocabulary(rule: CoreRule) -> list[str]:
    """Operators, operations and rule types the rule uses that the interpreter does not have."""
    known()
    operations.known()
    missing = [f"operator {op}" for op in rule.operators() if op not in OPERATORS]
    missing += [f"operation {o['operator']}" for o in rule.operations if o["operator"] not in operations.OPERATIONS]
    if rule.rule_type not in frames.BUILDERS:
        missing.append(f"rule type {rule.rule_type}")
    return missing


def run_rule(rule: CoreRule, study: Study, library: Library) -> RuleResult:
    started = time.perf_counter()
    result = _run(rule, study, library)
    result.seconds = time.perf_counter() - started
    return result


def _run(rule: CoreRule, study: Study, library: Library) -> RuleResult:
    lacking = missing_vocabulary(rule)
    if lacking:
        return RuleResult(rule, NOT_EXECUTED, reason="not supported by trialkit: " + ", ".join(lacking))
    result = RuleResult(rule, NOT_APPLICABLE)
    include_split = ((rule.scope.get("Domains") or {}).get("include_split_datasets")) is True
    seen_domains: set[str] = set()
    for dataset in study.datasets:
        if dataset.unsplit_name in seen_domains and not include_split:
            continue
        seen_domains.add(dataset.unsplit_name)
        in_scope, why = applies(rule, dataset, study, library)
        if not in_scope:
            result.datasets[dataset.name] = f"out of scope: {why}"
            continue
        try:
            found = _evaluate(rule, dataset, study, library)
        except NotApplicable as exc:
            result.datasets[dataset.name] = f"not applicable: {exc}"
            continue
        except NotExecutable as exc:
            result.status, result.reason = NOT_EXECUTED, str(exc)
            result.datasets[dataset.name] = f"not executed: {exc}"
            return result
        result.datasets[dataset.name] = f"{len(found)} finding(s)" if found else "passed"
        result.findings += found
        if result.status == NOT_APPLICABLE:
            result.status = PASSED
    if rule.rule_type == "Domain Presence Check":
        result.findings = list(dict.fromkeys(result.findings))
    if result.findings:
        result.status = ISSUES
    elif result.status == NOT_APPLICABLE:
        result.reason = "no dataset of the study is in the rule's scope, or has what it checks"
    return result


def _evaluate(rule: CoreRule, dataset: Dataset, study: Study, library: Library) -> list[CoreFinding]:
    frame = frames.build(rule.rule_type, dataset, study, library)
    ctx = Context(frame, dataset, study, library, rule, wildcard=dataset.wildcard)
    ctx.frame = merge.apply(ctx)
    ctx.frame = operations.apply(ctx)
    if ctx.frame.empty:
        raise NotApplicable(f"{dataset.name} has no records to check")
    return findings(ctx, evaluate(rule.check, ctx))


def run_rules(rules: list[CoreRule], study: Study, library: Library) -> list[RuleResult]:
    """Each rule published for the study's standard and version, in order."""
    return [run_rule(rule, study, library) for rule in rules
            if rule.applies_to_standard(study.standard, study.version)]
