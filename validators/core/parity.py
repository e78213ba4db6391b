"""Comparing trialkit's CORE findings with the CORE engine's on the same data.

The CORE engine's JSON report (``Issue_Details``, ``Rules_Report``) is kept as a digest: one row per
issue (rule, dataset, record, USUBJID) and each rule's status. :func:`compare` matches trialkit's
findings to it rule by rule: the same rule fires, with the same number of records, and the same
records (dataset and record number). A rule counts as *agreeing* when both engines flag exactly the
same records, or neither flags any.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from trialkit.validators.core.engine import RuleResult

CORE_ERROR = "EXECUTION ERROR"


@dataclass
class Reference:
    """The CORE engine's result on a study: issues by rule (dataset, record) and every rule's status."""

    status: dict[str, str]
    issues: dict[str, Counter] = field(default_factory=dict)

    @classmethod
    def read(cls, issues_csv: Path, rules_json: Path) -> Reference:
        meta = json.loads(Path(rules_json).read_text(encoding="utf-8"))
        issues: dict[str, Counter] = {}
        opener = gzip.open if str(issues_csv).endswith(".gz") else open
        with opener(issues_csv, "rt", encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                if meta["status"].get(row["core_id"]) == CORE_ERROR:
                    continue
                issues.setdefault(row["core_id"], Counter())[(row["dataset"].upper(), row["row"])] += 1
        return cls(meta["status"], issues)


@dataclass
class RuleComparison:
    rule: str
    core_status: str              # the CORE engine's: ISSUE REPORTED, SUCCESS, SKIPPED, EXECUTION ERROR, absent
    trialkit_status: str
    core_records: int
    trialkit_records: int
    only_core: int                # records CORE flags and trialkit does not
    only_trialkit: int

    @property
    def fires(self) -> bool:
        return bool(self.core_records or self.trialkit_records)

    @property
    def agrees(self) -> bool:
        return self.only_core == 0 and self.only_trialkit == 0


def compare(results: list[RuleResult], reference: Reference) -> list[RuleComparison]:
    out = []
    by_rule = {r.rule.core_id: r for r in results}
    for rule in sorted(set(by_rule) | set(reference.issues)):
        mine = Counter((f.dataset.upper(), "" if f.row is None else str(f.row)) for f in
                       (by_rule[rule].findings if rule in by_rule else []))
        theirs = reference.issues.get(rule, Counter())
        out.append(RuleComparison(rule, reference.status.get(rule, "not in CORE's rule set"),
                                  by_rule[rule].status if rule in by_rule else "not shipped",
                                  sum(theirs.values()), sum(mine.values()),
                                  sum((theirs - mine).values()), sum((mine - theirs).values())))
    return out
