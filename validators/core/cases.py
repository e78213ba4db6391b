"""CDISC's own test cases for its CORE rules, run through trialkit and compared record for record.

The open rules repository keeps, beside each ``rule.yml``, positive cases (clean data: nothing may
be flagged) and negative cases (defects: exactly the listed records must be flagged), each as
``<case>/data/`` (one CSV per dataset, ``_datasets.csv``, ``_variables.csv``, ``.env`` naming the
standard and version) and ``<case>/results/results.csv`` (``Dataset,Record,Variable,Value``: one row
per output variable of each flagged record, as the CORE engine wrote it).

A case passes when the rule ran and trialkit's findings, written the same way, are the same multiset
of rows (a rule trialkit cannot execute passes no case, positive ones included). The
data are read as the CORE engine reads them: each column with the type ``_variables.csv`` declares
(Char as text, Num as float), empty cells as null.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.validators.core.engine import NOT_EXECUTED, RuleResult, run_rule
from trialkit.validators.core.library import load_library
from trialkit.validators.core.rules import CoreRule, load_rule
from trialkit.validators.core.study import Dataset, Study, Variable

Row = tuple[str, str, str, str]      # Dataset, Record, Variable, Value
DTYPES = {"Char": str, "Num": float, "Boolean": "boolean", "Number": float, "String": str}


@dataclass
class Case:
    rule_id: str
    kind: str                  # positive | negative
    number: str                # 01
    folder: Path

    @property
    def name(self) -> str:
        return f"{self.rule_id}/{self.kind}/{self.number}"

    @property
    def rule_file(self) -> Path:
        return self.folder.parents[1] / "rule.yml"

    def env(self) -> dict[str, str]:
        path = self.folder / "data" / ".env"
        pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if "=" in line) \
            if path.is_file() else ()
        return {k.strip().upper(): v.strip() for k, v in pairs}

    def expected(self) -> list[Row] | None:
        path = self.folder / "results" / "results.csv"
        if not path.is_file():
            return None
        with path.open(encoding="utf-8", newline="") as fh:
            return [normalize(tuple(r)) for r in list(csv.reader(fh))[1:] if r]


@dataclass
class CaseResult:
    case: Case
    passed: bool
    status: str
    missing: list[Row] = field(default_factory=list)     # expected, not found by trialkit
    extra: list[Row] = field(default_factory=list)       # found by trialkit, not expected
    reason: str = ""


def find_cases(root: Path) -> list[Case]:
    """Every test case under ``root`` (a folder of ``CORE-nnnnnn/`` rule folders)."""
    out = []
    for folder in sorted(Path(root).glob("CORE-*/*/*")):
        if folder.parent.name in ("positive", "negative") and (folder / "data").is_dir():
            out.append(Case(folder.parents[1].name, folder.parent.name, folder.name, folder))
    return out


def read_case_study(case: Case) -> Study:
    data = case.folder / "data"
    env = case.env()
    listing = pd.read_csv(data / "_datasets.csv", dtype=str, keep_default_na=False)
    variables = pd.read_csv(data / "_variables.csv", dtype=str, keep_default_na=False)
    variables["dataset"] = variables["dataset"].str.lower().str.replace(r"\.[a-z]+$", "", regex=True)
    datasets = []
    for _, entry in listing.iterrows():
        stem = entry["Filename"].strip()
        path = data / f"{stem}.csv"
        if not path.is_file():
            continue
        declared = variables[variables["dataset"] == stem.lower()]
        name = (entry.get("Dataset Name") or stem).strip().upper()
        datasets.append(_read_dataset(path, name, str(entry.get("Label", "")), declared))
    product = env.get("PRODUCT", "sdtmig").lower()
    return Study(datasets, product, env.get("VERSION") or "3-4")


def _read_dataset(path: Path, name: str, label: str, declared: pd.DataFrame) -> Dataset:
    dtypes = {v: DTYPES.get(t, str) for v, t in zip(declared["variable"], declared["type"])}
    options = {"na_values": [""], "keep_default_na": False, "index_col": False,
               "true_values": ["True", "TRUE", "true", "1"], "false_values": ["False", "FALSE", "false", "0"]}
    try:
        frame = pd.read_csv(path, dtype=dtypes or None, **options)
    except ValueError:
        # A Num column holding text ('<5', '.'): the CORE engine cannot read the file at all; keep
        # such a column as text so the other rules still see the data.
        frame = pd.read_csv(path, dtype={v: (str if t is float else t) for v, t in dtypes.items()}, **options)
        for column in (v for v, t in dtypes.items() if t is float and v in frame.columns):
            numbers = pd.to_numeric(frame[column], errors="coerce")
            if (numbers.notna() | frame[column].isna()).all():
                frame[column] = numbers
    frame = frame.replace({np.nan: None})
    variables = tuple(Variable(v, lab, t, _length(n), i) for i, (v, lab, t, n) in enumerate(
        zip(declared["variable"], declared["label"], declared["type"], declared["length"]), start=1))
    modified = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).isoformat(timespec="seconds")
    return Dataset(name, frame, variables, label, path.name, path.stat().st_size, modified)


def _length(text: str) -> int | None:
    return int(float(text)) if text.strip().replace(".", "", 1).isdigit() else None


def result_rows(result: RuleResult) -> list[Row]:
    """The findings as CORE's CSV report writes them: one row per output variable of each finding."""
    return [normalize((f.dataset, "" if f.row is None else str(f.row), variable, f.value_text(i)))
            for f in result.findings for i, variable in enumerate(f.variables)]


def normalize(row: tuple) -> Row:
    """One row in a comparable form: the dataset without '.csv' in upper case, null values as '',
    and numbers in one spelling (the baselines were written by engine versions that read a Num
    column as 151 or as 151.0)."""
    dataset, record, variable, value = (list(row) + ["", "", "", ""])[:4]
    value = "" if value.strip() == "" or value.strip().lower() in ("nan", "null") else value
    return (dataset.removesuffix(".csv").upper(), record.strip(), variable, _number(value))


def _number(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return repr(number) if not math.isnan(number) and value.strip() == value else value


def run_case(case: Case, rule: CoreRule | None = None) -> CaseResult:
    expected = case.expected()
    if expected is None:
        return CaseResult(case, False, "no expected results", reason="the case has no results/results.csv")
    rule = rule or load_rule(case.rule_file)
    study = read_case_study(case)
    library = load_library("sdtmig", study.version if study.standard == "sdtmig" else "3.4")
    result = run_rule(rule, study, library)
    actual = result_rows(result)
    # A baseline row with only a dataset name is the engine reporting that dataset as skipped
    # (a variable the rule needs is missing): trialkit's "not applicable" on that dataset.
    actual += [(name.upper(), "", "", "") for name, what in result.datasets.items() if what.startswith("not applicable")
               and (name.upper(), "", "", "") in expected]
    missing = list((Counter(expected) - Counter(actual)).elements())
    extra = list((Counter(actual) - Counter(expected)).elements())
    passed = result.status != NOT_EXECUTED and not missing and not extra
    return CaseResult(case, passed, result.status, missing, extra, result.reason)
