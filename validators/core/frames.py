"""The frame a rule evaluates, by its Rule Type, with the columns CORE documents for each.

- Record Data: the dataset's records (split siblings concatenated).
- Dataset Metadata Check: one row describing the dataset file (``dataset_name``, ``dataset_label``,
  ``dataset_size``, ``dataset_location``, ``record_count``, ``is_ap``, ``ap_suffix``, ``domain``).
- Variable Metadata Check: one row per variable (``variable_name``, ``variable_order_number``,
  ``variable_label``, ``variable_size``, ``variable_data_type``, ``variable_format``,
  ``variable_max_size``).
- Domain Presence Check: one row with a column per domain present, holding its file name; findings
  belong to the study (dataset ``STUDY``).
- Value Check with Variable / Dataset Metadata: one row per value of the dataset (``row_number``,
  ``variable_name``, ``variable_value``) with the variable's or the dataset's metadata.
- Variable Metadata Check against Library Metadata: the variable rows joined with the IG's
  (``library_variable_*``) and whether each variable is partly / wholly empty.

Every frame carries :data:`~trialkit.validators.core.study.SOURCE` and ``ROW`` so findings name
the record (for metadata rows, the variable's position; for value rows, the record's number).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from trialkit.validators.core.context import NotExecutable
from trialkit.validators.core.library import Library
from trialkit.validators.core.rules import CoreRule
from trialkit.validators.core.study import ROW, SOURCE, Dataset, Study
from trialkit.vectorize import plain

STUDY = "STUDY"     # the dataset named by findings of rules about the whole study
POSITIONS = "@positions"   # value-check frames: positions of the records holding the value

Builder = Callable[[CoreRule, Dataset, Study, Library], pd.DataFrame]


def records(rule: CoreRule, dataset: Dataset, study: Study, library: Library) -> pd.DataFrame:
    """The shared records (operations and merges make new frames; operators never modify one)."""
    return study.content(dataset)


def dataset_metadata(rule: CoreRule, dataset: Dataset, study: Study, library: Library) -> pd.DataFrame:
    return pd.DataFrame({**_dataset_row(dataset, study), SOURCE: [dataset.name], ROW: [1]})


def _dataset_row(dataset: Dataset, study: Study) -> dict:
    count = sum(d.record_count for d in study.siblings(dataset))
    return {"dataset_size": [dataset.size], "dataset_location": [dataset.filename], "dataset_name": [dataset.name],
            "dataset_label": [dataset.label], "record_count": [count], "is_ap": [dataset.is_ap],
            "ap_suffix": [dataset.ap_suffix], "domain": [dataset.domain]}


def variable_metadata(rule: CoreRule, dataset: Dataset, study: Study, library: Library) -> pd.DataFrame:
    """``variable_max_size`` (the longest value) costs a pass over every column: it is computed only
    for rules that name it, as in CORE."""
    frame = dataset.frame
    names = [v.name for v in dataset.variables]
    sizes = names if "variable_max_size" in str(rule.data) else []
    max_size = [_max_length(frame[n]) if n in frame.columns and n in sizes else 0 for n in names]
    return pd.DataFrame({
        "variable_name": names,
        "variable_order_number": [v.order for v in dataset.variables],
        "variable_label": [v.label for v in dataset.variables],
        "variable_size": [v.length for v in dataset.variables],
        "variable_data_type": [v.type for v in dataset.variables],
        "variable_format": ["" for _ in dataset.variables],
        "variable_max_size": max_size,
        SOURCE: dataset.name,
        ROW: range(1, len(names) + 1),
    })


def _max_length(column: pd.Series) -> int:
    values = column.dropna()
    if values.empty:
        return 0
    return int(plain(values.to_frame()).iloc[:, 0].astype(str).str.len().max())


def domain_presence(rule: CoreRule, dataset: Dataset, study: Study, library: Library) -> pd.DataFrame:
    row = {d.unsplit_name: d.filename for d in study.datasets}
    return pd.DataFrame([{**row, SOURCE: STUDY, ROW: np.nan}])


def _values(rule: CoreRule, dataset: Dataset, study: Study) -> pd.DataFrame:
    """One row per variable and value; :data:`POSITIONS` numbers the value within its variable, and
    the engine spreads findings back to the records holding it with :func:`spread`.

    Values repeat heavily (a study's STUDYID is one value over every record), so when the rule's
    verdict on a value cannot depend on other records (:func:`record_local`) a value check looks
    at each *distinct* value once instead of melting every cell of the dataset into a row."""
    distinct = record_local(rule)
    return study.derived(dataset, f"values distinct={distinct}", lambda: _melt(dataset, study, distinct))


def _codes(dataset: Dataset, study: Study) -> dict[str, np.ndarray]:
    """Per variable, the number of each record's distinct value (the order of :func:`_melt`'s rows)."""
    content = study.content(dataset)
    return study.derived(dataset, "value codes", lambda: {
        name: pd.factorize(content[name], use_na_sentinel=False)[0] for name in dataset.frame.columns})


def _melt(dataset: Dataset, study: Study, distinct: bool) -> pd.DataFrame:
    content = study.content(dataset)
    parts = []
    for name in dataset.frame.columns:
        if distinct:
            uniques = pd.factorize(content[name], use_na_sentinel=False)[1]
            values, numbers = pd.Series(uniques, dtype=object), np.arange(len(uniques))
        else:
            values, numbers = content[name].astype(object).reset_index(drop=True), np.arange(len(content))
        parts.append(pd.DataFrame({"variable_name": name, "variable_value": values, POSITIONS: numbers}))
    long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["variable_name", "variable_value", POSITIONS])
    long[SOURCE] = dataset.name
    long[ROW] = np.nan
    long["row_number"] = np.nan
    return long


def record_local(rule: CoreRule) -> bool:
    """Whether the rule judges each record on its own values: no operator comparing records with
    each other (the groups family), no operation over records, no Match Datasets."""
    from trialkit.validators.core import operations
    from trialkit.validators.core.operators import OPERATORS, record_wise

    operators_local = all(record_wise(op) for op in rule.operators() if op in OPERATORS)
    operations_local = all(operations.OPERATIONS[o["operator"]].__module__.endswith(".metadata")
                           for o in rule.operations if o["operator"] in operations.OPERATIONS)
    return operators_local and operations_local and not rule.match_datasets


def spread(frame: pd.DataFrame, flagged: pd.Series, rule: CoreRule, dataset: Dataset, study: Study
           ) -> tuple[pd.DataFrame, pd.Series]:
    """The flagged rows of a value frame, one per record holding the value (record order), with the
    record's source dataset and row number."""
    rows = frame[flagged.to_numpy(dtype=bool)]
    if rows.empty:
        return rows, pd.Series(dtype=bool)
    content = study.content(dataset)
    if record_local(rule):
        codes = _codes(dataset, study)
        parts = []
        for name, hits in rows.groupby("variable_name", sort=False):
            positions = np.flatnonzero(np.isin(codes[name], hits[POSITIONS].to_numpy(dtype=np.int64)))
            numbers = hits.set_index(POSITIONS).loc[codes[name][positions]].reset_index(drop=True)
            parts.append(numbers.assign(**{POSITIONS: positions}))
        rows = pd.concat(parts, ignore_index=True)
    positions = rows[POSITIONS].to_numpy(dtype=np.int64)
    rows = rows.assign(**{SOURCE: content[SOURCE].to_numpy()[positions], ROW: content[ROW].to_numpy()[positions]})
    rows["row_number"] = rows[ROW]
    rows = rows.sort_values([ROW], kind="stable").reset_index(drop=True)
    return rows, pd.Series(True, index=rows.index)


def value_variable_metadata(rule: CoreRule, dataset: Dataset, study: Study, library: Library) -> pd.DataFrame:
    long = _values(rule, dataset, study)
    meta = variable_metadata(rule, dataset, study, library).drop(columns=[SOURCE, ROW])
    merged = long.merge(meta, how="left", on="variable_name")
    merged["variable_value_length"] = _value_lengths(merged["variable_value"], merged["variable_data_type"])
    return merged


def _value_lengths(values: pd.Series, types: pd.Series) -> pd.Series:
    """CORE's value length: characters of a Char value; digits of a Num value (leading zeros and the
    point not counted); None otherwise."""
    out = pd.Series([None] * len(values), index=values.index, dtype=object)
    text = (types == "Char").to_numpy()
    lengths = values[text].str.len()
    out[text] = lengths.astype(object).where(lengths.notna(), None)
    number = (types == "Num").to_numpy()
    out[number] = values[number].map(lambda v: len(str(v).lstrip("0").replace(".", "")))
    return out


def value_dataset_metadata(rule: CoreRule, dataset: Dataset, study: Study, library: Library) -> pd.DataFrame:
    long = _values(rule, dataset, study)
    for key, value in _dataset_row(dataset, study).items():
        long[key] = value[0]
    return long


def variable_library_metadata(rule: CoreRule, dataset: Dataset, study: Study, library: Library) -> pd.DataFrame:
    frame = variable_metadata(rule, dataset, study, library)
    meta = library.domain(dataset.unsplit_name)
    lib = pd.DataFrame([{
        "library_variable_name": v.name, "library_variable_label": v.label, "library_variable_data_type": v.type,
        "library_variable_role": v.role, "library_variable_core": v.core, "library_variable_ccode": "",
        "library_variable_has_codelist": bool(v.codelist), "library_variable_order_number": i,
    } for i, v in enumerate(meta.variables if meta else (), start=1)], columns=[
        "library_variable_name", "library_variable_label", "library_variable_data_type", "library_variable_role",
        "library_variable_core", "library_variable_ccode", "library_variable_has_codelist",
        "library_variable_order_number"])
    out = frame.merge(lib, how="left", left_on="variable_name", right_on="library_variable_name")
    for column in lib.columns:
        out[column] = out[column].astype(object).where(out[column].notna(), "")
    counts, records = dataset.empty_counts(), dataset.record_count
    out["variable_has_empty_values"] = [counts[n] > 0 if n in counts else True for n in out["variable_name"]]
    out["variable_is_empty"] = [counts[n] == records if n in counts else True for n in out["variable_name"]]
    return out


BUILDERS: dict[str, Builder] = {
    "Record Data": records,
    "Dataset Metadata Check": dataset_metadata,
    "Variable Metadata Check": variable_metadata,
    "Domain Presence Check": domain_presence,
    "Value Check with Variable Metadata": value_variable_metadata,
    "Value Check with Dataset Metadata": value_dataset_metadata,
    "Variable Metadata Check against Library Metadata": variable_library_metadata,
}


def build(rule: CoreRule, dataset: Dataset, study: Study, library: Library) -> pd.DataFrame:
    builder = BUILDERS.get(rule.rule_type)
    if builder is None:
        raise NotExecutable(f"rule type {rule.rule_type!r} is not supported")
    return builder(rule, dataset, study, library)
