"""Tiny CORE evaluation contexts for operator and operation tests: inline frames as a study, one
condition evaluated as the Check tree evaluates it."""

from __future__ import annotations

import pandas as pd

from trialkit.validators.core import operations
from trialkit.validators.core.check import evaluate
from trialkit.validators.core.context import Context
from trialkit.validators.core.operators import known
from trialkit.validators.core.rules import CoreRule
from trialkit.validators.core.study import Dataset, Study


def context(records: dict, name: str = "AE", others: dict[str, dict] | None = None,
            rule_operations: tuple[dict, ...] = (), evaluated: dict | None = None) -> Context:
    """The evaluation context of dataset ``name`` holding ``records`` (column -> values), in a study
    with the ``others`` datasets too, for a rule with ``rule_operations``; operations are applied.
    The frame evaluated is the dataset's records, or ``evaluated`` (a metadata frame, say)."""
    known(), operations.known()       # register every operator and operation
    datasets = [Dataset(name, pd.DataFrame(records))]
    datasets += [Dataset(other, pd.DataFrame(columns)) for other, columns in (others or {}).items()]
    study = Study(datasets)
    rule = CoreRule("CORE-TEST", "test", {"Check": {}, "Operations": list(rule_operations)})
    frame = study.content(datasets[0]) if evaluated is None else pd.DataFrame(evaluated)
    ctx = Context(frame, datasets[0], study, None, rule,
                  wildcard=datasets[0].wildcard or name)
    ctx.frame = operations.apply(ctx)
    return ctx


def flags(ctx: Context, operator: str, name: str, value=None, **params) -> list[bool]:
    """The records one condition flags, as booleans in record order."""
    leaf = {"name": name, "operator": operator, **({"value": value} if value is not None else {}), **params}
    return evaluate(leaf, ctx).tolist()
