"""Row accounting: every raw row ends in a domain, in SUPPQUAL, or in the rejected list with a reason.

The ledger is built from provenance (each SDTM record carries the form and row it came from), so
the reconciliation is computed from what was written, not from counters that could drift from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Ledger:
    rows_in: dict[str, int] = field(default_factory=dict)                 # form -> data rows read
    landed: dict[str, set[int]] = field(default_factory=dict)             # form -> rows in some dataset
    rows_out: dict[str, int] = field(default_factory=dict)                # dataset -> records written
    rejected: list[dict] = field(default_factory=list)                    # {form, row, reason}

    def read(self, form: str, rows: int) -> None:
        self.rows_in[form] = rows
        self.landed.setdefault(form, set())

    def land(self, dataset: str, records: int, provenance: pd.DataFrame) -> None:
        """Record ``records`` written to ``dataset`` and the raw rows (``_form``, ``_row``) behind them."""
        self.rows_out[dataset] = records
        for form, rows in provenance.dropna().groupby("_form")["_row"]:
            self.landed.setdefault(form, set()).update(int(r) for r in rows.unique())

    def reject(self, form: str, rows, reason: str) -> None:
        self.rejected.extend({"form": form, "row": int(r), "reason": reason} for r in rows)

    def unaccounted(self) -> dict[str, list[int]]:
        """Rows neither landed nor rejected: must be empty after a run."""
        rejected = {}
        for r in self.rejected:
            rejected.setdefault(r["form"], set()).add(r["row"])
        out = {}
        for form, n in self.rows_in.items():
            missing = set(range(1, n + 1)) - self.landed.get(form, set()) - rejected.get(form, set())
            if missing:
                out[form] = sorted(missing)
        return out

    def reconciliation(self) -> list[dict]:
        rejected = {}
        for r in self.rejected:
            rejected.setdefault(r["form"], set()).add(r["row"])
        return [
            {"form": form, "rows_in": n, "landed": len(self.landed.get(form, set()) - rejected.get(form, set())),
             "rejected": len(rejected.get(form, set())),
             "unaccounted": n - len(self.landed.get(form, set()) | rejected.get(form, set()))}
            for form, n in self.rows_in.items()
        ]

    def to_dict(self) -> dict:
        return {"forms": self.reconciliation(), "datasets": self.rows_out, "rejected": self.rejected}
