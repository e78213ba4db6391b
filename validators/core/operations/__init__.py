"""CORE operations: values computed before the check and added to the frame as a column named by
the operation's ``id`` (``$distinct_visits``), which conditions then compare against.

An operation is a function ``(op) -> result`` over an :class:`Operation` (the call as the rule
writes it, with the frame it reads and the evaluation context). Its result is added as CORE does:

- a Series aligned to the evaluation frame: the column itself;
- a DataFrame holding the ``group`` columns and the result column (named like the target, or like
  the id): merged back onto the records by those columns;
- anything else (a number, a list, a dict): the same value on every record.

``domain`` reads another dataset (``domain: DM``; on a SUPP-- dataset ``SUPP--`` is that dataset, and
elsewhere a name ending in ``--`` is the first dataset whose name starts so, as in CORE); a domain
the study lacks makes the rule not applicable to this dataset, as in CORE. Without ``domain`` an
operation reads the evaluation frame when that holds the dataset's records, and the dataset's own
records otherwise (the frame of a metadata rule, a relationship dataset), as CORE does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from trialkit.validators.core.context import Context, NotApplicable, repeated, resolve_wildcard
from trialkit.validators.core.study import Dataset


class DomainNotFound(NotApplicable):
    """An operation reads a domain the study does not have."""


@dataclass
class Operation:
    id: str
    name: str                   # the operation (distinct, dy...)
    target: str | None          # the variable it works on, ``--`` resolved
    params: dict                # the call as written in the rule
    ctx: Context                # the evaluation frame so far, dataset, study, library
    source: pd.DataFrame        # the records it reads: the frame, or the ``domain``'s records
    source_dataset: Dataset     # the dataset those records come from

    @property
    def group(self) -> list[str]:
        return [resolve_wildcard(g, self.ctx.wildcard) for g in self.params.get("group") or []]

    def param(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    def per_source(self, build: Callable[[], Any], *resolved: Any) -> Any:
        """``build()``, reused while the records read stay the same: when the operation reads another
        dataset's records (SV for VISITNUM in every domain), which are the same for every rule and
        every domain evaluated until that dataset is released, the result is kept with them, keyed
        by the call (its parameters but the ``id``, and the ``resolved`` names it reads) so that any
        rule making the same call gets it. Results are shared: never modify one. On the evaluation
        frame (merges and earlier operations change it) it is built each time."""
        if self.source is self.ctx.frame:
            return build()
        call = {k: v for k, v in self.params.items() if k != "id"}
        what = repr(("operation", self.name, self.target, resolved, sorted(call.items(), key=lambda kv: kv[0])))
        return self.ctx.study.derived(self.source_dataset, what, build)


Implementation = Callable[[Operation], Any]
OPERATIONS: dict[str, Implementation] = {}


def operation(*names: str) -> Callable[[Implementation], Implementation]:
    def register(fn: Implementation) -> Implementation:
        for name in names:
            if name in OPERATIONS:
                raise ValueError(f"operation {name} registered twice")
            OPERATIONS[name] = fn
        return fn
    return register


def known() -> set[str]:
    """Every operation name the interpreter has (importing the families registers them)."""
    from trialkit.validators.core.operations import dates, metadata, values  # noqa: F401
    return set(OPERATIONS)


def apply(ctx: Context) -> pd.DataFrame:
    """The evaluation frame with every operation of the rule added, in the rule's order."""
    for params in ctx.rule.operations:
        op, result = evaluate(params, ctx)
        ctx.frame = _add(ctx.frame, op, result)
        if not isinstance(result, (pd.Series, pd.DataFrame)):
            ctx.constants[op.id] = result
    return ctx.frame


def evaluate(params: dict, ctx: Context) -> tuple[Operation, Any]:
    """One operation of the rule as called on ``ctx``, and its result (module docstring)."""
    op = _call(params, ctx)
    return op, OPERATIONS[op.name](op)


def _call(params: dict, ctx: Context) -> Operation:
    domain = params.get("domain")
    source_dataset, source = ctx.dataset, ctx.frame
    name = domain or ctx.dataset.unsplit_name      # CORE: without a domain, the dataset's own
    if name.startswith(("SUPP", "SQ")) and name.endswith("--"):
        name = name[:-2] + ctx.dataset.rdomain if ctx.dataset.rdomain else name
    if not holds_records_of(ctx.frame, name):
        other = ctx.study.by_name(name) or next(
            (d for d in ctx.study.datasets if name.endswith("--") and d.unsplit_name.startswith(name[:-2])), None)
        if other is None:
            raise DomainNotFound(f"operation {params['id']} reads domain {domain}, which the study does not have")
        source_dataset, source = other, ctx.study.content(other)
    prefix = domain or ctx.wildcard     # CORE: ``--`` in the target stands for the domain read
    return Operation(str(params["id"]), str(params["operator"]), resolve_wildcard(params.get("name"), prefix),
                     params, ctx, source, source_dataset)


def holds_records_of(frame: pd.DataFrame, domain: str) -> bool:
    """Whether the evaluation frame holds the records of ``domain`` (CORE's test: its first DOMAIN
    value), so the operation reads the frame; otherwise (a metadata frame, a relationship dataset,
    another domain) it reads the domain's records."""
    relationship = domain in ("RELREC", "RELSUB", "CO") or domain.startswith(("SUPP", "SQ"))
    if relationship or "DOMAIN" not in frame.columns or frame.empty:
        return False
    return frame["DOMAIN"].iat[0] == domain


def _add(frame: pd.DataFrame, op: Operation, result: Any) -> pd.DataFrame:
    """A new frame: ``frame``'s columns (not copied: a full copy consolidated every merged frame's
    blocks, rule after rule) and the operation's column; ``frame`` itself is left as it is."""
    frame = frame.copy(deep=False)
    if isinstance(result, pd.Series) and result.index.equals(frame.index):
        frame[op.id] = result
    elif isinstance(result, pd.DataFrame):
        keys = op.group
        column = op.id if op.id in result.columns else op.target
        values = result[keys + [column]].rename(columns={column: op.id})
        frame = frame.merge(values, on=keys, how="left").set_axis(frame.index)
    else:
        frame[op.id] = repeated(result, frame.index)
    return frame
