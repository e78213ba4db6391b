"""Findings: problems in data (not in code or specs) that a stage reports and carries on past.

A finding names where the problem sits (file or dataset, 1-based row, column), the value, and the
spec key that was being applied, so a data manager can go straight to the record. Errors in specs
and unusable input are exceptions (trialkit.errors); findings are data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

SEVERITIES = ("error", "warning", "notice")
KINDS = ("rejected", "date", "codelist", "required", "number", "visit", "studyid", "form_missing", "columns_missing",
         "unmapped", "data")


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

    def __str__(self) -> str:
        where = self.source + (f":{self.row}" if self.row is not None else "")
        col = f" column {self.column}" if self.column else ""
        key = f" [{self.key}]" if self.key else ""
        return f"{self.severity}: {where}{col}: {self.message} ({self.value!r}){key}"

    def to_dict(self) -> dict:
        return asdict(self)
