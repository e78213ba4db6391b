"""Whether a CORE rule applies to a dataset: its Scope (Classes, Domains), as the CORE engine reads it.

- Domains ``Include`` names domains or dataset names; ``ALL`` is every dataset; ``SUPP--`` / ``SQ--``
  every supplemental qualifier dataset and ``AP--`` / ``APFA--`` every associated-persons dataset.
  ``Exclude`` removes the same way.
- ``include_split_datasets: true`` adds split datasets (and alone, with no Include, means *only*
  split datasets); ``false`` removes them.
- Classes ``Include`` / ``Exclude`` take CT class names; a Findings About dataset counts as Findings
  too. A dataset whose class cannot be told is outside an Include list and inside any Exclude.
- ``Use Case`` selects datasets only for TIG rules, which trialkit does not run; ``Data Structures``
  (ADaM) apply to ADaM datasets, which the SDTMIG rules never see.
"""

from __future__ import annotations

from trialkit.validators.core.library import FINDINGS, FINDINGS_ABOUT, Library
from trialkit.validators.core.rules import CoreRule
from trialkit.validators.core.study import Dataset, Study

ALL = "ALL"


def applies(rule: CoreRule, dataset: Dataset, study: Study, library: Library) -> tuple[bool, str]:
    """(True, "") when the rule runs on ``dataset``, else (False, the reason in words)."""
    if not _domain_in_scope(rule.scope.get("Domains") or {}, dataset):
        return False, f"{dataset.name} is outside the rule's domains"
    classes = rule.scope.get("Classes") or {}
    include, exclude = classes.get("Include") or [], classes.get("Exclude") or []
    if (include and ALL not in include) or exclude:
        cls = library.dataset_class(dataset, study)
        if include and ALL not in include and not _class_in(cls, include):
            return False, f"{dataset.name} (class {cls or 'unknown'}) is outside the rule's classes"
        if exclude and cls and _class_in(cls, exclude):
            return False, f"{dataset.name} (class {cls}) is excluded by the rule's classes"
    return True, ""


def _class_in(cls: str | None, names: list[str]) -> bool:
    return cls in names or (cls == FINDINGS_ABOUT and FINDINGS in names)


def _domain_in_scope(domains: dict, dataset: Dataset) -> bool:
    include, exclude = domains.get("Include") or [], domains.get("Exclude") or []
    split = domains.get("include_split_datasets")
    if not include:
        included = not (split is True and not dataset.is_split)
    else:
        included = (ALL in include or dataset.domain in include or dataset.name in include
                    or _family(dataset, include))
    excluded = bool(exclude) and (ALL in exclude or dataset.domain in exclude or dataset.name in exclude
                                  or dataset.unsplit_name in exclude or _family(dataset, exclude))
    if split is True and dataset.is_split and not excluded:
        included = True
    if split is False and dataset.is_split:
        excluded = True
    return included and not excluded


def _family(dataset: Dataset, names: list[str]) -> bool:
    """Name families: ``SUPP--`` / ``SQ--`` match every supplemental qualifier dataset, ``AP--`` /
    ``APFA--`` every associated-persons dataset (CORE 0.17.1's reading)."""
    if dataset.is_supp:
        return bool({"SUPP--", "SQ--"}.intersection(names))
    return dataset.is_ap and bool({"AP--", "APFA--"}.intersection(names))
