"""A small whitelisted expression grammar for spec filters and conditions.

Specs say things like ``MSTATUS == 'M1' and PBBLAST == 'N'`` or ``blank(AEENDAT)``. The text is parsed
with Python's ``ast`` into a tree that may only contain: field names, string / number constants,
lists of constants, comparisons (== != < <= > >= in, not in), ``and`` / ``or`` / ``not``, and the
functions below. Anything else (attribute access, calls to other names, subscripts, lambdas...) is a
SpecError when the spec is loaded, so a spec can never run code. Evaluation is vectorized: each node
becomes a pandas Series over the whole frame.

Operands are checked when the spec is loaded, so that an expression ``trialkit spec check`` accepts
never fails at run time for its shape: ``in`` / ``not in`` take a list on the right (``X in 'YN'``
would test substrings in Python and means nothing here), ``==`` and the other comparisons never take a
list, and the functions take one field. Nesting is limited to ``MAX_DEPTH`` levels and length to
``MAX_LENGTH`` characters (5,000 ``not`` would otherwise exhaust Python's stack). Values are compared
as the data hold them: an order comparison of text with a number (``AGE > 5`` on a text column) is a SpecError naming the expression
when evaluated, since only the data know a column's type (write ``number(AGE) > 5``).

Field values are compared after trimming and upper-casing only where the spec says so, with
``norm(FIELD)``: raw codes carry case and whitespace slips, free text does not get silently changed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import pandas as pd

from trialkit.errors import SpecError
from trialkit.vectorize import per_unique


def _text(s: pd.Series) -> pd.Series:
    """Values as text with missing as '' (merged sources leave NaN where a subject has no record)."""
    return s.astype(object).where(s.notna(), "").astype(str)


FUNCTIONS = {
    "blank": lambda s: per_unique(_text(s), lambda u: u.str.strip() == ""),
    "present": lambda s: per_unique(_text(s), lambda u: u.str.strip() != ""),
    "norm": lambda s: per_unique(_text(s), lambda u: u.str.strip().str.upper()),
    "number": lambda s: per_unique(_text(s), lambda u: pd.to_numeric(u.str.replace(",", ".", regex=False), errors="coerce")),
}
COMPARE = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}


MAX_DEPTH = 50        # levels of nesting; the shipped specs use at most 6
MAX_LENGTH = 2_000    # characters; the shipped specs' longest is 97. Longer text is refused before
                      # Python's parser sees it: 5,000 nested 'not' exhaust its stack, and it then
                      # reports a misleading syntax error or a RecursionError


@dataclass(frozen=True)
class Expression:
    text: str
    tree: ast.Expression
    fields: frozenset[str]
    file: str | None = None
    key: str | None = None

    def evaluate(self, frame: pd.DataFrame) -> pd.Series:
        """Boolean (or value) Series over ``frame``; a scalar result is broadcast."""
        try:
            value = _eval(self.tree.body, frame)
        except TypeError as exc:   # an order comparison of text with a number: only the data tell
            raise SpecError(f"expression {self.text!r} compares values of different types ({exc}); "
                            "compare number(FIELD) with a number, or a text field with text", file=self.file, key=self.key) from None
        if not isinstance(value, pd.Series):
            value = pd.Series(value, index=frame.index)
        if value.dtype == "boolean":  # unknown (a comparison with a missing value) is not true
            value = value.fillna(False).astype(bool)
        return value


def parse(text: str, *, file: str | None = None, key: str | None = None) -> Expression:
    """Parse and whitelist ``text``; a forbidden construct is a SpecError naming file and key."""
    original = str(text)
    text = original if len(original) <= 200 else f"{original[:60]}... ({len(original):,} characters)"
    shown = repr(text)
    if len(original) > MAX_LENGTH:
        raise SpecError(f"expression {shown} is longer than {MAX_LENGTH:,} characters; a filter or condition is one line "
                        f"(nested more than {MAX_DEPTH} levels deep?)", file=file, key=key)
    try:
        tree = ast.parse(str(text), mode="eval")
    except SyntaxError as exc:
        raise SpecError(f"cannot parse expression {shown}: {exc.msg}", file=file, key=key) from None
    except (RecursionError, MemoryError):
        raise SpecError(f"expression {shown} is nested more than {MAX_DEPTH} levels deep", file=file, key=key) from None
    if _depth(tree) > MAX_DEPTH:
        raise SpecError(f"expression {shown} is nested more than {MAX_DEPTH} levels deep", file=file, key=key)
    fields: set[str] = set()
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    members = {id(right) for n in ast.walk(tree) if isinstance(n, ast.Compare)        # lists after in / not in
               for op, right in zip(n.ops, n.comparators) if isinstance(op, (ast.In, ast.NotIn))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or len(node.args) != 1 or node.keywords \
                    or not isinstance(node.args[0], ast.Name) or node.args[0].id in FUNCTIONS:
                raise SpecError(f"expression {text!r}: only {', '.join(sorted(FUNCTIONS))}(FIELD) may be called", file=file, key=key)
        elif isinstance(node, ast.Name):
            if node.id in FUNCTIONS and id(node) not in called:
                raise SpecError(f"expression {text!r}: {node.id} is a function; write {node.id}(FIELD)", file=file, key=key)
            if node.id not in FUNCTIONS:
                fields.add(node.id)
        elif isinstance(node, ast.Compare):
            for left, op, right in zip([node.left, *node.comparators], node.ops, node.comparators):
                if type(op) not in COMPARE and not isinstance(op, (ast.In, ast.NotIn)):
                    raise SpecError(f"expression {text!r}: operator {type(op).__name__} is not allowed", file=file, key=key)
                _check_operands(left, op, right, text, file, key)
        elif isinstance(node, (ast.List, ast.Tuple)):
            if id(node) not in members:
                raise SpecError(f"expression {text!r}: a list can only follow 'in' or 'not in' (write X in ['A'])",
                                file=file, key=key)
            if not all(isinstance(e, ast.Constant) or (isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub))
                       for e in node.elts):
                raise SpecError(f"expression {text!r}: a list holds constants only", file=file, key=key)
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (str, int, float)) or isinstance(node.value, bool):
                raise SpecError(f"expression {text!r}: constant {node.value!r} is not allowed", file=file, key=key)
        elif not isinstance(node, (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.Load,
                                   ast.List, ast.Tuple, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)):
            raise SpecError(f"expression {text!r}: {type(node).__name__} is not allowed", file=file, key=key)
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not) and not (
                isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)
                and isinstance(node.operand.value, (int, float)) and not isinstance(node.operand.value, bool)):
            raise SpecError(f"expression {text!r}: only 'not' and a minus sign on a number may be used as unary operators",
                            file=file, key=key)
    return Expression(original, tree, frozenset(fields), file, key)


def _depth(tree: ast.AST) -> int:
    """How deep the tree nests (iteratively: a deep tree must not exhaust the stack measuring it)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _check_operands(left: ast.AST, op: ast.cmpop, right: ast.AST, text: str, file: str | None, key: str | None) -> None:
    """``in`` / ``not in`` test membership of a list; the other comparisons compare single values."""
    is_list = (ast.List, ast.Tuple)
    if isinstance(op, (ast.In, ast.NotIn)):
        word = "in" if isinstance(op, ast.In) else "not in"
        if not isinstance(right, is_list):
            raise SpecError(f"expression {text!r}: '{word}' takes a list on its right, e.g. X {word} ['A', 'B']",
                            file=file, key=key)
        if isinstance(left, is_list):
            raise SpecError(f"expression {text!r}: the left side of '{word}' is a single value, not a list", file=file, key=key)
    elif isinstance(left, is_list) or isinstance(right, is_list):
        raise SpecError(f"expression {text!r}: a list can only follow 'in' or 'not in' (write X in ['A'], not X == ['A'])",
                        file=file, key=key)


def _eval(node: ast.AST, frame: pd.DataFrame):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in frame.columns:
            raise KeyError(node.id)
        return frame[node.id]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(e, frame) for e in node.elts]
    if isinstance(node, ast.Call):
        return FUNCTIONS[node.func.id](_eval(node.args[0], frame))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -node.operand.value                            # a negative number (parse() allows nothing else)
    if isinstance(node, ast.UnaryOp):
        return ~_as_bool(_eval(node.operand, frame), frame)  # Kleene not: unknown stays unknown
    if isinstance(node, ast.BoolOp):
        parts = [_as_bool(_eval(v, frame), frame) for v in node.values]
        out = parts[0]
        for p in parts[1:]:
            out = (out & p) if isinstance(node.op, ast.And) else (out | p)
        return out
    if isinstance(node, ast.Compare):
        left = _eval(node.left, frame)
        result = pd.Series(True, index=frame.index, dtype="boolean")
        for op, right_node in zip(node.ops, node.comparators):
            right = _eval(right_node, frame)
            if isinstance(op, (ast.In, ast.NotIn)):
                hit = pd.Series(left, index=frame.index).isin(right)
                step = hit if isinstance(op, ast.In) else ~hit
            else:
                step = COMPARE[type(op)](left, right)
            # a comparison with a missing value is unknown (SQL's three-valued logic): neither it
            # nor its negation is true, so != and not in never select a missing value either
            step = _as_bool(step, frame)
            for side in (left, right):
                if isinstance(side, pd.Series):
                    step = step.mask(side.isna(), pd.NA)
            result &= step
            left = right
        return result
    raise TypeError(type(node).__name__)  # unreachable: parse() whitelists the tree


def _as_bool(value, frame: pd.DataFrame) -> pd.Series:
    """Nullable booleans (Kleene logic: not NA = NA, NA and False = False, NA or True = True)."""
    if isinstance(value, pd.Series):
        return value.astype("boolean")
    return pd.Series(bool(value), index=frame.index, dtype="boolean")


def first_match(frame: pd.DataFrame, branches, default=None) -> pd.Series:
    """The value of the first branch whose condition holds, row by row (vectorized): ``branches``
    are (Expression, then) pairs where ``then`` is a value or ``{"assign": VAR}``. Later branches
    never overwrite earlier ones. All-numeric values give a numeric column (missing where no branch
    holds); otherwise text ('' where no branch holds and no default is given)."""
    values = [then for _, then in branches] + ([default] if default is not None else [])
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    fill = default if default is not None else (float("nan") if numeric else "")
    out = pd.Series(fill, index=frame.index, dtype=float if numeric else object)
    decided = pd.Series(False, index=frame.index)
    for expr, then in branches:
        hit = expr.evaluate(frame) & ~decided
        if isinstance(then, dict):
            col = frame[then["assign"]]
            then = col.astype(object).where(col.notna(), "").astype(str).str.strip()
        out = out.where(~hit, then)
        decided |= hit
    return out
