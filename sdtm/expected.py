"""Expected variables: present in every dataset, empty when the study does not collect them.

SDTMIG 3.4 section 4.1.5 (CDISC conformance rule CG0016, CORE-000334): when a study does not
include the data item of an Expected variable, the column is still in the dataset, null, and
define.xml carries a comment saying that the study does not include it. So the SDTM stage writes
every Exp variable of a dataset; one that nothing fills is an empty column (Num: missing), and the
spec says why: a domain spec under ``not_collected: {VAR: reason}``, study.yaml under
``not_collected: {DATASET: {VAR: reason}}`` for the datasets study.yaml describes (trial design, SV,
SE). define.xml shows the reason as the variable's comment (trialkit.define_sdtm). An Exp variable
that is written empty without a reason is a warning, from ``trialkit spec check`` and in the SDTM
stage's findings: nobody decided that the study does not collect it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.errors import SpecError
from trialkit.sdtm.standards import DomainMeta


@dataclass(frozen=True)
class Gap:
    """An Exp variable written empty with no reason given: where the reason belongs."""

    dataset: str
    variable: str
    file: Path
    key: str

    def __str__(self) -> str:
        return (f"{self.file.name}: {self.dataset}.{self.variable} is Expected (SDTMIG 3.4) but nothing fills it and no "
                f"reason is given under {self.key}; it is written empty")


def absent(meta: DomainMeta, columns) -> list[str]:
    """The Exp variables of ``meta`` that ``columns`` lacks, in SDTMIG order."""
    have = set(columns)
    return [v.name for v in meta.variables if v.core == "Exp" and v.name not in have]


def add_absent(frame: pd.DataFrame, meta: DomainMeta) -> pd.DataFrame:
    """``frame`` with each Exp variable it lacks as an empty column ('' for Char, missing for Num)."""
    missing = absent(meta, frame.columns)
    if not missing:
        return frame
    empty = {v.name: (np.nan if v.type == "Num" else "") for v in meta.variables if v.name in missing}
    return frame.assign(**empty)


def gaps(meta: DomainMeta, produced, reasons: dict[str, str], file: Path, key: str) -> list[Gap]:
    """The Exp variables written empty (not in ``produced``) that ``reasons`` does not explain."""
    return [Gap(meta.domain, v, file, key) for v in absent(meta, produced) if v not in reasons]


def check_reasons(meta: DomainMeta, produced, reasons, file: Path, key: str) -> dict[str, str]:
    """``reasons`` ({VAR: reason}) checked: each an Exp variable of the dataset that nothing fills,
    with a reason to show in define.xml. Returns them with the reasons trimmed."""
    if not isinstance(reasons, dict):
        raise SpecError("not_collected: {VARIABLE: reason, ...}", file=str(file), key=key)
    out = {}
    for var, reason in reasons.items():
        where = f"{key}.{var}"
        vm = meta.variable(str(var))
        if vm is None:
            raise SpecError(f"{var} is not a variable of {meta.domain} in SDTMIG 3.4", file=str(file), key=where)
        if vm.core != "Exp":
            raise SpecError(f"{var} is {vm.core}, not Expected: only an Exp variable is written empty when not collected",
                            file=str(file), key=where)
        if var in produced:
            raise SpecError(f"{var} is filled, so it must not be listed as not collected", file=str(file), key=where)
        if not str(reason or "").strip():
            raise SpecError("give the reason the variable is not collected (define.xml shows it)", file=str(file), key=where)
        out[str(var)] = str(reason).strip()
    return out
