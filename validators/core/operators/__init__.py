"""The closed vocabulary of CORE check operators.

Each operator is a function ``(ctx, cond) -> pd.Series`` of booleans aligned to ``ctx.frame``:
True where the condition holds for the record. It works on whole columns (pandas vectorized, or
once per distinct value), never row by row in Python. Operators register themselves by name with
:func:`operator`; the modules below group them by family, and their docstrings give CORE's
documented meaning (resources/schema/rule/Operator.md of cdisc-org/cdisc-rules-engine).

Complements (``not_equal_to`` of ``equal_to``...) are declared with :func:`complement` where CORE
defines them as the plain negation; where CORE's complement is not a plain negation (empty values
are False on both sides of equal_to / not_equal_to), the operator is written out.

An operator whose verdict on a record reads other records (the groups family: uniqueness, order,
next records) is registered ``across_records``, with, where it has them, the variables whose values
make the groups it reads (``groups``: every record a verdict reads shares them with the record
judged); every other operator reads the record alone. The Spark engine may run an operator's code
on any slice of the records in the second case, on slices of whole groups in the first
(validators/core/spark_record_wise.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from trialkit.validators.core.context import Condition, Context

Operator = Callable[[Context, Condition], pd.Series]
Groups = Callable[[Condition], list]      # the variables making an across-records operator's groups
OPERATORS: dict[str, Operator] = {}
# the operators whose verdict on a record reads other records, with their groups' variables (None:
# the verdict may read any record of the dataset)
ACROSS_RECORDS: dict[str, Groups | None] = {}


def operator(*names: str, across_records: bool = False, groups: Groups | None = None
             ) -> Callable[[Operator], Operator]:
    def register(fn: Operator) -> Operator:
        for name in names:
            if name in OPERATORS:
                raise ValueError(f"operator {name} registered twice")
            OPERATORS[name] = fn
            if across_records:
                ACROSS_RECORDS[name] = groups
        return fn
    return register


def complement(name: str, of: str) -> None:
    """Register ``name`` as the negation of the operator ``of``."""
    base = OPERATORS[of]

    def negated(ctx: Context, cond: Condition) -> pd.Series:
        return ~base(ctx, cond).astype(bool)
    negated.__doc__ = f"Complement of ``{of}``."
    negated.__name__ = name
    OPERATORS[name] = negated
    if of in ACROSS_RECORDS:
        ACROSS_RECORDS[name] = ACROSS_RECORDS[of]


def known() -> set[str]:
    """Every operator name the interpreter has (importing the families registers them)."""
    from trialkit.validators.core.operators import dates, groups, relational, sets, strings  # noqa: F401
    return set(OPERATORS)


def record_wise(name: str) -> bool:
    """Whether the operator's verdict on a record reads that record alone (module docstring)."""
    return name in known() and name not in ACROSS_RECORDS


def group_variables(cond: Condition) -> list | None:
    """The variables whose values make the groups ``cond``'s across-records operator reads (as the
    rule names them: names, or lists it expands), None when it has none (module docstring)."""
    groups = ACROSS_RECORDS.get(cond.operator) if cond.operator in known() else None
    return groups(cond) if groups else None
