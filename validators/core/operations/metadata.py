"""Operations on metadata: the study's datasets, dataset labels and names, variable order, the IG's
and the SDTM model's variables (CORE Operations.md, "Domain & Dataset" and "IG & Model Variable"
operations). Each docstring gives CORE's documented meaning first.

Where CORE reads "the dataset" (``get_column_order_from_dataset``, ``variable_exists``,
``get_dataset_filtered_variables``) it reads the evaluation frame when that frame is the domain's
records (its DOMAIN is the domain), else the dataset as submitted: for metadata rule types, SUPP--,
CO and RELREC that is the file's own variables. The operation's ``domain`` (default: the evaluated
dataset's) names the domain. Lists are in library order; the model operations need the SDTM model
metadata (specs/standards/sdtm-2.0) and the rule is not executed without it.
"""

from __future__ import annotations

import pandas as pd

from trialkit.validators.core.context import NotExecutable
from trialkit.validators.core.frames import dataset_metadata
from trialkit.validators.core.library import LibraryVariable
from trialkit.validators.core.operations import DomainNotFound, Operation, operation
from trialkit.validators.core.study import ROW, SOURCE, Dataset

RELATIONSHIP_DATASETS = ("RELREC", "RELSUB", "CO")


def _domain(op: Operation) -> str:
    """The domain the operation is about: its ``domain`` (SUPP-- resolved), else the dataset's."""
    domain = op.param("domain") or op.ctx.dataset.unsplit_name
    if domain.startswith(("SUPP", "SQ")) and domain.endswith("--") and op.ctx.dataset.rdomain:
        domain = domain[:-2] + op.ctx.dataset.rdomain
    return domain


def _dataset(op: Operation) -> Dataset:
    domain = _domain(op)
    if domain in (op.ctx.dataset.unsplit_name, op.ctx.dataset.name):
        return op.ctx.dataset
    found = op.ctx.study.by_name(domain)
    if found is None:
        raise DomainNotFound(f"operation {op.id} reads domain {domain}, which the study does not have")
    return found


def _columns(op: Operation) -> list[str]:
    """The variables of "the dataset" as CORE reads it (see the module doc), in order."""
    domain, frame = _domain(op), op.ctx.frame
    relationship = domain in RELATIONSHIP_DATASETS or domain.startswith(("SUPP", "SQ"))
    current = not relationship and "DOMAIN" in frame.columns and not frame.empty and frame["DOMAIN"].iloc[0] == domain
    columns = frame.columns if current else _dataset(op).frame.columns
    return [c for c in columns if c not in (SOURCE, ROW)]


def _needs_model(op: Operation) -> None:
    if op.ctx.library.model is None:
        raise NotExecutable(f"operation {op.name} needs the SDTM model metadata, which trialkit does not hold")


def _names(variables: list[LibraryVariable], op: Operation) -> list[str]:
    key = op.param("key_name")
    if key:
        variables = [v for v in variables if v.get(key) == op.param("key_value")]
    return list(dict.fromkeys(v.name for v in variables))


# -- the study's datasets -------------------------------------------------------------------------

@operation("study_domains")
def study_domains(op: Operation) -> list[str]:
    """The domains in the study (the DOMAIN of each dataset; '' for a dataset without one), sorted."""
    return sorted({d.domain or "" for d in op.ctx.study.datasets})


@operation("dataset_names")
def dataset_names(op: Operation) -> list[str]:
    """The names of the submitted datasets in upper case (TS, AE, SUPPEC), sorted."""
    return sorted({d.name for d in op.ctx.study.datasets})


@operation("extract_metadata")
def extract_metadata(op: Operation) -> object:
    """The dataset-level metadata value ``name`` of the current dataset: dataset_size,
    dataset_location, dataset_name, dataset_label, domain, is_ap, ap_suffix."""
    row = dataset_metadata(op.ctx.rule, _dataset(op), op.ctx.study, op.ctx.library)
    return row[op.target].iloc[0] if op.target in row.columns else None


@operation("variable_exists")
def variable_exists(op: Operation) -> bool:
    """Whether the variable ``name`` is a column of the submitted dataset being evaluated (whatever
    the rule type)."""
    return op.target in _columns(op)


@operation("get_column_order_from_dataset")
def column_order_from_dataset(op: Operation) -> list[str]:
    """The dataset's columns, in order."""
    return _columns(op)


# -- the standard's datasets ----------------------------------------------------------------------

@operation("domain_label")
def domain_label(op: Operation) -> str:
    """The IG's label of the domain the operation runs on (LB: Laboratory Test Results); '' for a
    domain the IG does not define."""
    meta = op.ctx.library.domain(_domain(op))
    return meta.label if meta is not None else ""


@operation("domain_is_custom")
def domain_is_custom(op: Operation) -> bool:
    """Whether the domain is not a dataset of the standard (IG or model) for the study's version."""
    return not op.ctx.library.is_standard(_domain(op))


@operation("related_domain_is_custom")
def related_domain_is_custom(op: Operation) -> bool:
    """Whether the related domain of a SUPP-- (its RDOMAIN) is not a dataset of the standard; False
    when the study has no SUPP-- dataset for the domain."""
    domain = _domain(op)
    for dataset in op.ctx.study.datasets:
        if dataset.is_supp and dataset.rdomain and domain.endswith(dataset.rdomain):
            return not op.ctx.library.is_standard(dataset.rdomain)
    return False


# -- IG and model variables ----------------------------------------------------------------------

def _ig_variables(op: Operation) -> list[LibraryVariable]:
    _needs_model(op)
    return op.ctx.library.ig_and_model_variables(_dataset(op), op.ctx.study)


@operation("get_column_order_from_library")
def column_order_from_library(op: Operation) -> list[str]:
    """The domain's variables in library order (the IG's within the model's order for general
    observation classes), optionally only those whose ``key_name`` (role, core...) is ``key_value``."""
    return _names(_ig_variables(op), op)


def _by_core(core: str, op: Operation) -> list[str]:
    return [v.name for v in _ig_variables(op) if v.core == core]


@operation("required_variables")
def required_variables(op: Operation) -> list[str]:
    """The domain's Required variables (Core = Req), in library order."""
    return _by_core("Req", op)


@operation("expected_variables")
def expected_variables(op: Operation) -> list[str]:
    """The domain's Expected variables (Core = Exp), in library order."""
    return _by_core("Exp", op)


@operation("permissible_variables")
def permissible_variables(op: Operation) -> list[str]:
    """The domain's Permissible variables (Core = Perm, also every model variable the IG does not
    list), in library order."""
    return _by_core("Perm", op)


@operation("get_dataset_filtered_variables")
def dataset_filtered_variables(op: Operation) -> list[str]:
    """The variables of the library column order whose ``key_name`` is ``key_value`` and that the
    dataset has, in library order."""
    present = set(_columns(op))
    return [name for name in column_order_from_library(op) if name in present]


@operation("get_model_column_order")
def model_column_order(op: Operation) -> list[str]:
    """The variables the SDTM model allows for the dataset's class, in model order (identifiers,
    class variables, timing for a general observation class; else the model's dataset)."""
    _needs_model(op)
    return _names(op.ctx.library.model_variables(op.ctx.dataset, op.ctx.study), op)


@operation("get_model_filtered_variables")
def model_filtered_variables(op: Operation) -> list[str]:
    """The model variables of the dataset's class whose ``key_name`` (role...) is ``key_value``
    (role Timing: VISITNUM, VISIT, VISITDY, TAETORD...)."""
    return model_column_order(op)


@operation("get_parent_model_column_order")
def parent_model_column_order(op: Operation) -> pd.Series:
    """Per record of a SUPP-- dataset, the model column order of its parent domain (RDOMAIN);
    a parent domain the study lacks makes the rule not applicable."""
    _needs_model(op)
    frame, study = op.ctx.frame, op.ctx.study
    rdomains = frame["RDOMAIN"] if "RDOMAIN" in frame.columns else pd.Series(None, index=frame.index, dtype=object)
    orders = {}
    for rdomain in rdomains.unique():
        parent = next((d for d in study.datasets if d.domain == rdomain), None)
        if parent is None:
            raise DomainNotFound(f"operation {op.id} needs the parent domain {rdomain}, which the study does not have")
        orders[rdomain] = [v.name for v in op.ctx.library.model_variables(parent, study)]
    return pd.Series([orders[r] for r in rdomains], index=frame.index, dtype=object)
