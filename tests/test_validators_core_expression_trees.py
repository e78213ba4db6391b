"""The pandas engine evaluates a Check tree whose every condition has an expression as one
expression (check.evaluate): its flags are those of the tree read condition by condition, each
condition's null (no verdict) as not flagged, under ``not`` too.
"""

from __future__ import annotations

import math

import pandas as pd
from core_context import context

from trialkit.validators.core.check import _on_pandas, combine, evaluate

RECORDS = {
    "USUBJID": ["S1", "S1", "S2", None, "", "S3"],
    "TESTCD": ["A", "B", "A", "A", None, "C"],
    "TEST": ["Alpha", "Beta", "alpha", "", None, "Gamma"],
    "NUM": [1.0, math.nan, 3.0, -1.0, None, 0.0],
}
LEAVES = [
    {"name": "TEST", "operator": "is_not_unique_relationship", "value": "TESTCD"},
    {"name": "USUBJID", "operator": "is_not_unique_set", "value": ["TESTCD"]},
    {"name": "TEST", "operator": "matches_regex", "value": "^[A-Z]"},
    {"name": "TEST", "operator": "longer_than", "value": 4},
    {"name": "NUM", "operator": "less_than", "value": 1},
    {"name": "TESTCD", "operator": "is_not_contained_by", "value": ["A", "B"]},
    {"name": "TEST", "operator": "non_empty"},
]


def _per_condition(node, ctx) -> list[bool]:
    index = ctx.frame.index
    return combine(node, ctx.wildcard, lambda cond: _on_pandas(ctx, cond), pd.Series(True, index=index),
                   pd.Series(False, index=index)).tolist()


def test_01_a_tree_as_one_expression_flags_what_its_conditions_flag():
    ctx = context(RECORDS)
    trees = [{"not": leaf} for leaf in LEAVES]
    trees += [{"all": [LEAVES[i], {"not": LEAVES[j]}]} for i in range(len(LEAVES)) for j in range(len(LEAVES))]
    trees += [{"not": {"any": [LEAVES[i], LEAVES[j], {"name": "MISSING", "operator": "empty"}]}}
              for i in range(len(LEAVES)) for j in range(i)]
    for tree in trees:
        assert evaluate(tree, ctx).tolist() == _per_condition(tree, ctx), tree
    assert len({tuple(evaluate(t, ctx).tolist()) for t in trees}) > 10        # the trees tell records apart
