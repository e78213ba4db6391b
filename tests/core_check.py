"""A CORE condition or operation over a tiny inline frame, for the operator and operation tests."""

from __future__ import annotations

import pandas as pd

from trialkit.validators.core import operations
from trialkit.validators.core.check import evaluate
from trialkit.validators.core.context import Context
from trialkit.validators.core.library import Library
from trialkit.validators.core.operators import known
from trialkit.validators.core.rules import CoreRule
from trialkit.validators.core.study import Dataset, Study

LIBRARY = Library("sdtmig", "3.4", {})


def frame(**columns) -> pd.DataFrame:
    """Columns as given: lists of text as object columns (None for empty), lists of numbers as floats."""
    return pd.DataFrame({name: pd.Series(values, dtype=object if any(isinstance(v, str) for v in values) else None)
                         for name, values in columns.items()})


def context(records: pd.DataFrame, name: str = "AE", others: tuple[Dataset, ...] = (), operations_: list | None = None
            ) -> Context:
    dataset = Dataset(name, records)
    study = Study([dataset, *others])
    rule = CoreRule("CORE-T", "test", {"Rule Type": "Record Data", "Check": {"all": []},
                                       "Operations": operations_ or []})
    return Context(records, dataset, study, LIBRARY, rule, wildcard=dataset.wildcard)


def check(records: pd.DataFrame, condition: dict, name: str = "AE") -> list[bool]:
    """What one condition flags, record by record (as the Check tree sees it)."""
    known()
    return evaluate(condition, context(records, name)).tolist()


def operation(records: pd.DataFrame, op: dict, name: str = "AE", others: tuple[Dataset, ...] = ()) -> list:
    """The column one operation adds to the records (id ``$r``)."""
    operations.known()
    ctx = context(records, name, others, [{"id": "$r", **op}])
    return operations.apply(ctx)["$r"].tolist()
