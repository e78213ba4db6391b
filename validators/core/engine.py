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

import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from trialkit.forked import can_fork, forked_pool_sharing, shared_state
from trialkit.validators.core import frames, merge, operations
from trialkit.validators.core.check import evaluate
from trialkit.validators.core.context import Context, MissingVariable, NotApplicable, NotExecutable, resolve_wildcard
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
    """One rule over every dataset of the study."""
    return run_rules([rule], study, library, check_standard=False)[0]


def require_checked_variables(rule: CoreRule, dataset: Dataset) -> None:
    """Stop early when a condition every record must meet names a variable the dataset lacks: the
    check would stop there anyway (CORE: skipped), and most rules meet most datasets this way, so
    nothing is built for them. Only for record rules without merges or operations, which could
    bring the variable in."""
    if rule.rule_type != "Record Data" or rule.match_datasets or rule.operations:
        return
    check = rule.check
    for leaf in check.get("all", []) if isinstance(check, dict) else []:
        if isinstance(leaf, dict) and "operator" in leaf and leaf["operator"] not in ("exists", "not_exists"):
            name = resolve_wildcard(leaf.get("name"), dataset.wildcard)
            if isinstance(name, str) and name not in dataset.frame.columns:
                raise MissingVariable(name)


Evaluate = Callable[[CoreRule, Dataset, Study, Library], list[CoreFinding]]


def run_rules(rules: list[CoreRule], study: Study, library: Library, check_standard: bool = True,
              workers: int = 1, alongside: Callable[[], None] | None = None,
              evaluate: Evaluate | None = None) -> list[RuleResult]:
    """Each rule (those published for the study's standard and version, unless ``check_standard`` is
    False) over every dataset, dataset by dataset: the records of one domain are held as text once
    and released before the next, so memory stays at about one dataset whatever the number of rules.

    ``workers`` > 1 shares the domains out among that many processes (this one included), forked so
    that they read the study already in memory; each returns its rules' results on its domains.
    ``alongside``: other work for this process while the workers run (trialkit's own rules); it
    runs first in any case. ``evaluate``: the rule on one dataset, by default on the pandas frames of
    ``study`` (validators/core/on_spark.py gives one on Spark DataFrames)."""
    if check_standard:
        rules = [r for r in rules if r.applies_to_standard(study.standard, study.version)]
    results = {r.core_id: RuleResult(r, NOT_APPLICABLE) for r in rules}
    runnable = []
    for rule in rules:
        lacking = missing_vocabulary(rule)
        if lacking:
            results[rule.core_id].status = NOT_EXECUTED
            results[rule.core_id].reason = "not supported by trialkit: " + ", ".join(lacking)
        else:
            runnable.append(rule)
    groups = _domain_groups(study)
    if workers > 1 and len(groups) > 1 and can_fork():
        _run_forked(runnable, results, groups, min(workers, len(groups)), study, library, alongside)
    else:
        if alongside is not None:
            alongside()
        _run_groups(runnable, results, groups, study, library, evaluate or evaluate_rule)
    order = {d.name: i for i, d in enumerate(study.datasets)}
    for result in results.values():
        _conclude(result)
        result.findings.sort(key=lambda f: (order.get(f.dataset, -1), f.row or 0))
    return [results[r.core_id] for r in rules]


DOMAIN_COST = 7500      # a domain's fixed cost in records' worth: on the CDISC pilot a domain costs about
                        # 0.15 s plus 0.02 s per thousand records


def _run_forked(runnable: list[CoreRule], results: dict[str, RuleResult], groups: list[list[Dataset]], workers: int,
                study: Study, library: Library, alongside: Callable[[], None] | None) -> None:
    """The domains as one queue, costliest first, that this process and ``workers`` - 1 forked ones
    take from, each the next domain as soon as it is free: this process joins once its other work
    (``alongside``: trialkit's own rules) is done, so however long that takes, the processes finish
    close together (a fixed share per process left this one a whole domain list behind)."""
    queue = sorted(groups, key=lambda g: DOMAIN_COST + sum(len(d.frame) for d in g), reverse=True)
    taken = multiprocessing.get_context("fork").Value("i", 0)
    with forked_pool_sharing((runnable, queue, taken, study, library), workers - 1) as pool:
        try:
            pending = [pool.submit(_run_queue) for _ in range(workers - 1)]
            if alongside is not None:
                alongside()
            for rule_id, part in _run_queue().items():
                _combine(results[rule_id], part)
            for future in pending:
                for rule_id, part in future.result().items():
                    _combine(results[rule_id], part)
        except BaseException:
            # interrupted (SIGINT) or failed: the workers take no further domain, so leaving the
            # pool waits for the domain each is on, not for the rest of the queue
            with taken.get_lock():
                taken.value = len(queue)
            raise


def _run_queue() -> dict[str, RuleResult]:
    """Every rule on each domain taken from the shared queue (see _run_forked) until none is left."""
    runnable, queue, taken, study, library = shared_state()
    results = {r.core_id: RuleResult(r, NOT_APPLICABLE) for r in runnable}
    while True:
        with taken.get_lock():
            index = taken.value
            taken.value += 1
        if index >= len(queue):
            return results
        _run_groups(runnable, results, [queue[index]], study, library, evaluate_rule)


def _combine(result: RuleResult, part: RuleResult) -> None:
    """One rule's result on some domains added to its result on the others."""
    result.findings += part.findings
    result.datasets.update(part.datasets)
    result.seconds += part.seconds
    if part.status == NOT_EXECUTED or result.status == NOT_EXECUTED:
        result.status, result.reason = NOT_EXECUTED, result.reason or part.reason
    elif part.status == PASSED:
        result.status = PASSED


def _run_groups(runnable: list[CoreRule], results: dict[str, RuleResult], groups: list[list[Dataset]], study: Study,
                library: Library, evaluate: Evaluate) -> None:
    with pd.option_context("mode.copy_on_write", True):   # copies only when written: every rule derives frames
        _run_domains(runnable, results, groups, study, library, evaluate)


def _run_domains(runnable: list[CoreRule], results: dict[str, RuleResult], groups: list[list[Dataset]], study: Study,
                 library: Library, evaluate: Evaluate) -> None:
    for group in groups:
        for rule in runnable:
            result = results[rule.core_id]
            if result.status == NOT_EXECUTED:
                continue
            started = time.perf_counter()
            include_split = ((rule.scope.get("Domains") or {}).get("include_split_datasets")) is True
            for dataset in group if include_split else group[:1]:
                _run_on(result, dataset, study, library, evaluate)
            result.seconds += time.perf_counter() - started
        study.release(group[0])


def _domain_groups(study: Study) -> list[list[Dataset]]:
    """The datasets by unsplit name (a split domain's parts together), in the study's order."""
    groups: dict[str, list[Dataset]] = {}
    for dataset in study.datasets:
        groups.setdefault(dataset.unsplit_name, []).append(dataset)
    return list(groups.values())


def _run_on(result: RuleResult, dataset: Dataset, study: Study, library: Library, evaluate: Evaluate) -> None:
    rule = result.rule
    in_scope, why = applies(rule, dataset, study, library)
    if not in_scope:
        result.datasets[dataset.name] = f"out of scope: {why}"
        return
    try:
        found = evaluate(rule, dataset, study, library)
    except NotApplicable as exc:
        result.datasets[dataset.name] = f"not applicable: {exc}"
        return
    except NotExecutable as exc:
        result.status, result.reason = NOT_EXECUTED, str(exc)
        result.datasets[dataset.name] = f"not executed: {exc}"
        return
    result.datasets[dataset.name] = f"{len(found)} finding(s)" if found else "passed"
    result.findings += found
    if result.status == NOT_APPLICABLE:
        result.status = PASSED


def _conclude(result: RuleResult) -> None:
    if result.status == NOT_EXECUTED:
        result.findings = []
        return
    if result.rule.rule_type == "Domain Presence Check":
        result.findings = list(dict.fromkeys(result.findings))
    if result.findings:
        result.status = ISSUES
    elif result.status == NOT_APPLICABLE:
        result.reason = "no dataset of the study is in the rule's scope, or has what it checks"


def evaluate_rule(rule: CoreRule, dataset: Dataset, study: Study, library: Library) -> list[CoreFinding]:
    """The rule on one dataset, on the pandas frames its rule type builds (validators/core/frames.py)."""
    ctx, flagged = flag(rule, dataset, study, library)
    return findings(ctx, flagged)


def flag(rule: CoreRule, dataset: Dataset, study: Study, library: Library) -> tuple[Context, pd.Series]:
    """The frame the rule evaluates on one dataset (in ``Context.frame``; a value check's one row per
    flagged value and record) and the rows it flags. The Spark engine runs it on slices of records
    (spark_value_checks.py)."""
    require_checked_variables(rule, dataset)
    frame = frames.build(rule, dataset, study, library)
    ctx = Context(frame, dataset, study, library, rule, wildcard=dataset.wildcard)
    ctx.frame = merge.apply(ctx)
    ctx.frame = operations.apply(ctx)
    if ctx.frame.empty:
        raise NotApplicable(f"{dataset.name} has no records to check")
    flagged = evaluate(rule.check, ctx)
    if frames.POSITIONS in ctx.frame.columns:
        ctx.frame, flagged = frames.spread(ctx.frame, flagged, rule, dataset, study)
    return ctx, flagged
