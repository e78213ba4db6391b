"""Match Datasets: the records of other datasets joined onto the evaluation frame before the check.

A rule's ``Match Datasets`` lists the datasets to join, each with (CORE's match_datasets.md):

- ``Name``: a dataset or domain name (``DM``), ``SUPP--`` (the supplemental qualifiers of the dataset
  under evaluation) or ``RELREC``;
- ``Keys``: variables present on both sides, or ``{Left: REFID, Right: BSREFID}`` pairs; ``--`` is the
  evaluated dataset's domain on the left, the named dataset's on the right;
- ``Join Type``: ``inner`` (the default: records without a partner drop out) or ``left``. CORE 0.17.1
  reads the key as ``Join_Type`` only, so a rule writing ``Join Type`` as documented joins inner
  there; trialkit follows the documented key;
- ``Child: true``: the evaluated dataset is the child (SUPP--, CO, RELREC) and its parent records
  are brought onto it, by IDVAR / IDVARVAL when the keys name them (see :mod:`.relationships`);
- ``Wildcard``: for RELREC, what stands for the related domain's prefix in the columns brought in
  (``RELREC.**TERM``; ``**`` by default).

As in the CORE engine: the other dataset is read as one file (the first of a split domain);
a dataset that is the evaluated domain itself, or that the study lacks, is not joined (the check
then lacks its variables and the rule is not applicable); columns the check names as
``DM.RFSTDTC`` are renamed so before the join; other columns both sides have keep the left's name
and take ``.DM`` on the right. A join that cannot be made (a key variable missing, a SUPP-- with
two records of one QNAM for one parent record) makes the rule not applicable to the dataset, as
CORE reports a preprocessing error for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from trialkit.validators.core import relationships
from trialkit.validators.core.context import Context
from trialkit.validators.core.joins import keyed_join, side_keys
from trialkit.validators.core.rules import CoreRule, leaves
from trialkit.validators.core.study import Dataset

SUPP_NAMES = ("SUPP", "SQ")

@dataclass(frozen=True)
class Match:
    """One entry of a rule's Match Datasets."""

    name: str
    keys: tuple[Any, ...] = ()         # a name, or {"Left": .., "Right": ..}
    join: str = "inner"
    child: bool = False
    wildcard: str = "**"

    @classmethod
    def from_rule(cls, entry: dict) -> Match:
        join = str(entry.get("Join Type") or entry.get("Join_Type") or "inner").lower()
        return cls(str(entry["Name"]), tuple(entry.get("Keys") or ()), join, bool(entry.get("Child")),
                   str(entry.get("Wildcard") or "**"))

    def side_keys(self, side: str, prefix: str | None) -> list[str]:
        return side_keys(self.keys, side, prefix)


def apply(ctx: Context) -> pd.DataFrame:
    """The evaluation frame with every dataset of the rule's Match Datasets joined, in order."""
    if not ctx.rule.match_datasets:
        return ctx.frame
    frame, referenced = ctx.frame, referenced_names(ctx.rule)
    for match, other in plan(ctx):
        right = ctx.study.records_as_read(other)
        renamed = renames(right.columns, match.name, referenced)
        right = right.rename(columns=renamed) if renamed else right
        if match.child:
            frame = relationships.attach_parents(frame, right, ctx.dataset, other.domain or "", match.keys)
        else:
            frame = _join(frame, right, match, ctx)
    return frame.reset_index(drop=True)


def plan(ctx: Context) -> list[tuple[Match, Dataset]]:
    """The datasets the rule's Match Datasets join onto ``ctx.dataset``, in order, each with its
    entry: the evaluated domain itself is skipped, and a domain is joined once (the first of a split
    domain). Both engines join what this lists (the Spark engine the plain keyed joins)."""
    out, merged = [], set()
    for match in (Match.from_rule(m) for m in ctx.rule.match_datasets):
        if match.child:
            others = _parents(match, ctx)
        elif match.name == ctx.dataset.unsplit_name:
            continue                    # the evaluated domain itself (its split parts are already in)
        else:
            others = _others(match, ctx.dataset, ctx)
        for other in others:
            if other.domain in merged:
                continue
            out.append((match, other))
            merged.add(other.domain if match.child else other.domain or other.name)
    return out


def referenced_names(rule: CoreRule) -> set[str]:
    """The names and values of the check's conditions (``DM.RFSTDTC``...)."""
    out = set()
    for leaf in leaves(rule.check):
        out.update(v for v in (leaf.get("name"), leaf.get("value")) if isinstance(v, str))
    return out


def _others(match: Match, dataset: Dataset, ctx: Context) -> list[Dataset]:
    target = dataset.domain or dataset.name
    return [d for d in ctx.study.datasets
            if match.name in (d.domain, d.name, d.unsplit_name)
            or (match.name == "SUPP--" and not dataset.is_supp and d.rdomain == target)]


def _parents(match: Match, ctx: Context) -> list[Dataset]:
    """The parent datasets of a child dataset: SUPP-- to its RDOMAIN; a dataset with RDOMAIN (CO,
    RELREC) to the domains its records name; any other to the datasets holding every key."""
    dataset, datasets = ctx.dataset, ctx.study.datasets
    if match.name[:4] in ("SUPP", "SQAP") and dataset.is_supp and dataset.rdomain:
        if match.name in ("SUPP--", dataset.name):
            return [d for d in datasets if d.domain == dataset.rdomain]
        return []
    if match.name not in (dataset.domain, dataset.name):
        return []
    if "RDOMAIN" in ctx.frame.columns:
        named = set(ctx.frame["RDOMAIN"].dropna())
        return [d for d in datasets if d.domain in named]
    keys = match.side_keys("Right", None)
    return [d for d in datasets if all(k in d.first_record for k in keys)]


def renames(columns, name: str, referenced: set[str]) -> dict[str, str]:
    """The other dataset's columns the check names as ``NAME.X``, renamed so before the join."""
    return {c: f"{name}.{c}" for c in columns if f"{name}.{c}" in referenced}


def _join(frame: pd.DataFrame, right: pd.DataFrame, match: Match, ctx: Context) -> pd.DataFrame:
    if match.name == "RELREC":
        return relationships.join_relrec(frame, right, ctx, match.wildcard)
    if match.name.startswith(SUPP_NAMES):
        return relationships.pivot_supp(frame, right)
    return keyed_join(frame, right, match.side_keys("Left", ctx.dataset.domain),
                      match.side_keys("Right", match.name), match.name, match.join)
