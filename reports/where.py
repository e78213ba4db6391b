"""Selection criteria as data, in the shape of CDISC ARS 1.0 where clauses, and their evaluation.

A report cell must say which records it counted in a form another program can re-apply without our
spec grammar: ARS's ``WhereClauseCondition`` (dataset, variable, comparator EQ NE GT GE LT LE IN NOTIN,
values as text) combined by ``WhereClauseCompoundExpression`` (AND, OR, NOT). ``from_expression``
turns a spec filter (trialkit.expressions) into that form; ``as_of_cutoff`` rewrites a clause on a
dated ADSL value so that it selects what the report counted at the data cut-off (reports.cutoff);
``evaluate`` applies a clause written as ARS JSON to a frame whose columns are ``DATASET.VARIABLE``.

Meaning of a condition on data (the same for every comparator): a value is compared as the text a
spec writes (reports.tlf.value_key: 1.0 -> "1"), or as a date or number when the column holds dates
or numbers and the comparator orders; a missing value (NaN, NaT) satisfies no condition, a blank
text value is the text "". ``NOT`` negates, so ``NOT (X IN [...])`` selects missing values too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trialkit.errors import SpecError
from trialkit.expressions import Expression
from trialkit.reports.tlf import Cutoff, value_key

COMPARATORS = {ast.Eq: "EQ", ast.NotEq: "NE", ast.Gt: "GT", ast.GtE: "GE", ast.Lt: "LT", ast.LtE: "LE",
               ast.In: "IN", ast.NotIn: "NOTIN"}
MIRRORED = {"GT": "LT", "GE": "LE", "LT": "GT", "LE": "GE", "EQ": "EQ", "NE": "NE"}   # 'Y' == X is X == 'Y'


@dataclass(frozen=True)
class Condition:
    """[dataset].[variable] [comparator] [values]: ARS's WhereClauseCondition."""
    dataset: str
    variable: str
    comparator: str
    values: tuple[str, ...]

    def ars(self) -> dict:
        return {"dataset": self.dataset, "variable": self.variable, "comparator": self.comparator,
                "value": list(self.values)}


@dataclass(frozen=True)
class Compound:
    """Clauses combined by AND / OR, or one clause negated by NOT: ARS's compound expression."""
    operator: str
    clauses: tuple[Condition | Compound, ...]

    def ars(self) -> dict:
        return {"logicalOperator": self.operator,
                "whereClauses": [clause_json(c, level=2, order=i + 1) for i, c in enumerate(self.clauses)]}


Where = Condition | Compound


def clause_json(where: Where, level: int = 1, order: int = 1) -> dict:
    """One ARS WhereClause: level and order, with its condition or compound expression."""
    body = {"condition": where.ars()} if isinstance(where, Condition) else {"compoundExpression": where.ars()}
    return {"level": level, "order": order, **body}


def all_of(clauses) -> Where | None:
    """The clauses ANDed, an AND among them spliced in (one alone stays itself; none is None: no subset)."""
    flat = (part for c in clauses if c is not None
            for part in (c.clauses if isinstance(c, Compound) and c.operator == "AND" else (c,)))
    clauses = tuple(dict.fromkeys(flat))
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else Compound("AND", clauses)


def describe(where: Where) -> str:
    """The clause as one line of text, for an ARS name: "ADTTE.PARAMCD EQ EFS AND ADTTE.CNSR EQ 0"."""
    if isinstance(where, Condition):
        values = where.values[0] if where.comparator not in ("IN", "NOTIN") else f"[{', '.join(where.values)}]"
        return f"{where.dataset}.{where.variable} {where.comparator} {values if values != '' else '(blank)'}"
    if where.operator == "NOT":
        return f"NOT ({describe(where.clauses[0])})"
    return f" {where.operator} ".join(describe(c) if isinstance(c, Condition) else f"({describe(c)})" for c in where.clauses)


def condition(dataset: str, variable: str, comparator: str, *values) -> Condition:
    return Condition(dataset, variable, comparator, tuple(value_key(v) for v in values))


# ---- spec expression -> ARS ------------------------------------------------------------------------
def from_expression(dataset: str, expression: Expression | None) -> Where | None:
    """The spec filter ``expression`` on ``dataset`` as ARS clauses; a construct ARS cannot state
    (norm(), number(), a comparison of two variables) is a SpecError naming the filter's spec key."""
    if expression is None:
        return None
    return _node(dataset, expression.tree.body, expression)


def _node(dataset: str, node: ast.AST, expression: Expression) -> Where:
    if isinstance(node, ast.BoolOp):
        return Compound("AND" if isinstance(node.op, ast.And) else "OR",
                        tuple(_node(dataset, v, expression) for v in node.values))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return Compound("NOT", (_node(dataset, node.operand, expression),))
    if isinstance(node, ast.Call) and node.func.id in ("blank", "present"):     # blank text is ""
        return Condition(dataset, node.args[0].id, "EQ" if node.func.id == "blank" else "NE", ("",))
    if isinstance(node, ast.Compare):
        terms = [node.left, *node.comparators]
        parts = tuple(_comparison(dataset, left, op, right, expression)
                      for left, op, right in zip(terms, node.ops, terms[1:]))
        return parts[0] if len(parts) == 1 else Compound("AND", parts)
    raise _unstatable(expression, ast.unparse(node))


def _comparison(dataset: str, left: ast.AST, op: ast.cmpop, right: ast.AST, expression: Expression) -> Condition:
    comparator = COMPARATORS[type(op)]
    if not isinstance(left, ast.Name) and isinstance(right, ast.Name) and comparator in MIRRORED:
        left, right, comparator = right, left, MIRRORED[comparator]
    if not isinstance(left, ast.Name):
        raise _unstatable(expression, ast.unparse(left))
    items = right.elts if isinstance(right, (ast.List, ast.Tuple)) else [right]
    values = [_constant(v) for v in items]
    if any(v is None for v in values):
        raise _unstatable(expression, ast.unparse(right))
    return Condition(dataset, left.id, comparator, tuple(value_key(v) for v in values))


def _constant(node: ast.AST):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value
    return None


def _unstatable(expression: Expression, part: str) -> SpecError:
    return SpecError(f"filter {expression.text!r}: {part} cannot be written as a CDISC ARS where clause "
                     "([dataset].[variable] [comparator] [values]) for report/ars.json; compare a variable with "
                     "constants", file=expression.file, key=expression.key)


# ---- the data cut-off ------------------------------------------------------------------------------
def as_of_cutoff(where: Where | None, cutoff: Cutoff, date: pd.Timestamp) -> Where | None:
    """``where`` as it selects the data as of the cut-off (reports.cutoff.cut_dataset), stated on the
    ADaM data as they stand: an ADSL value that holds from a date after the cut-off was read as its
    value before, so a condition C on it becomes "C and not (date > cut-off)" when the value before
    fails C, "C or date > cut-off" when it passes; a dated dataset's records after the cut-off are
    left out by "not (date > cut-off)"."""
    if where is None:
        return None
    if isinstance(where, Compound):
        return Compound(where.operator, tuple(as_of_cutoff(c, cutoff, date) for c in where.clauses))
    rule = next((r for r in cutoff.subject_values if where.dataset == "ADSL" and r.variable == where.variable), None)
    if rule is None:
        return where
    after = Condition("ADSL", rule.date, "GT", (f"{date:%Y-%m-%d}",))
    before_passes = bool(_condition(where, pd.DataFrame({f"ADSL.{where.variable}": [rule.before]})).iloc[0])
    return Compound("OR", (where, after)) if before_passes else Compound("AND", (where, Compound("NOT", (after,))))


def record_cutoff(dataset: str, cutoff: Cutoff, date: pd.Timestamp) -> Where | None:
    """The records of ``dataset`` the report reads: none dated after the cut-off (undated ones stay)."""
    variable = cutoff.records.get(dataset)
    if variable is None:
        return None
    return Compound("NOT", (Condition(dataset, variable, "GT", (f"{date:%Y-%m-%d}",)),))


# ---- ARS JSON -> selection -------------------------------------------------------------------------
def variables(clause: dict) -> set[tuple[str, str]]:
    """(dataset, variable) of every condition in an ARS where clause, analysis set, subset or group."""
    if "condition" in clause:
        return {(clause["condition"]["dataset"], clause["condition"]["variable"])}
    inner = clause.get("compoundExpression", {}).get("whereClauses", [])
    return set().union(*(variables(c) for c in inner)) if inner else set()


def evaluate(clause: dict, frame: pd.DataFrame) -> np.ndarray:
    """Boolean mask of ``frame`` (columns ``DATASET.VARIABLE``) selected by an ARS where clause (or an
    analysis set, data subset or group, which carry one); a missing column is a KeyError naming it."""
    if "condition" in clause:
        c = clause["condition"]
        return _condition(Condition(c["dataset"], c["variable"], c["comparator"], tuple(c["value"])), frame).to_numpy()
    if "compoundExpression" not in clause:
        return np.ones(len(frame), dtype=bool)
    compound = clause["compoundExpression"]
    parts = [evaluate(c, frame) for c in compound["whereClauses"]]
    if compound["logicalOperator"] == "NOT":
        return ~parts[0]
    return np.logical_and.reduce(parts) if compound["logicalOperator"] == "AND" else np.logical_or.reduce(parts)


def _condition(c: Condition, frame: pd.DataFrame) -> pd.Series:
    column = frame[f"{c.dataset}.{c.variable}"]
    present = column.notna()
    if c.comparator in ("GT", "GE", "LT", "LE"):
        if pd.api.types.is_datetime64_any_dtype(column):
            bound = pd.Timestamp(c.values[0])
        elif pd.api.types.is_numeric_dtype(column):
            bound = float(c.values[0])
        else:
            column, bound = column.map(value_key), c.values[0]
        op = {"GT": column.gt, "GE": column.ge, "LT": column.lt, "LE": column.le}[c.comparator]
        return op(bound).fillna(False).astype(bool) & present
    wanted = set(c.values)          # value_key once per distinct value: a report's trace pages evaluate hundreds of cells
    hit = column.isin([value for value in column[present].drop_duplicates().astype(object) if value_key(value) in wanted])
    return (hit if c.comparator in ("EQ", "IN") else ~hit) & present
