"""Findings: problems in data (not in code or specs) that a stage reports and carries on past.

A finding names where the problem sits (file or dataset, 1-based row, column), the value, and the
spec key that was being applied, so a data manager can go straight to the record. Errors in specs
and unusable input are exceptions (trialkit.errors); findings are data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from trialkit.display import show

SEVERITIES = ("error", "warning", "notice")
KINDS = ("rejected", "date", "codelist", "required", "number", "visit", "studyid", "form_missing", "form_expected",
         "columns_missing", "unmapped", "implausible", "data")
SHOWN = 20   # findings printed on the terminal; the rest are counted and left to findings.json


@dataclass(frozen=True)
class Finding:
    severity: str
    source: str          # raw file (ae.csv) or dataset (AE)
    row: int | None      # 1-based data row of the source
    column: str | None
    value: str
    message: str
    key: str | None = None      # the spec key being applied (e.g. sdtm/AE.yaml:sources[0].variables.AESTDTC)
    subject: str | None = None
    kind: str = "data"          # what went wrong (KINDS); the validators report each kind under a rule of its own
    record: str | None = None   # where a row number says nothing to the user: the ODM record's locator

    def __str__(self) -> str:
        where = self.source + (f" row {self.row}" if self.row is not None else "") + (f" record {self.record}" if self.record else "")
        col = f" column {self.column}" if self.column else ""
        value = f" (value {show(self.value)})" if self.value != "" else ""
        key = f" [spec {self.key}]" if self.key else ""
        return f"{self.severity}: {where}{col}: {self.message}{value}{key}"

    def to_dict(self) -> dict:
        return asdict(self)


def count_by_severity(findings) -> str:
    """'2 error, 5 warning' (severities in order of weight), or 'none'."""
    counts = Counter(f.severity for f in findings)
    return ", ".join(f"{counts[s]} {s}" for s in SEVERITIES if counts[s]) or "none"


def error_lines(findings, where: Path | str, limit: int = SHOWN) -> list[str]:
    """The error findings as the terminal shows them: one line each (file, row, column, value, spec
    key) for the first ``limit``, then how many more there are in ``where`` (the findings file)."""
    errors = [f for f in findings if f.severity == "error"]
    lines = [str(f) for f in errors[:limit]]
    if len(errors) > limit:
        lines.append(f"and {len(errors) - limit} more in {where}")
    return lines
