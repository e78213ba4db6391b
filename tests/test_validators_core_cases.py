"""CDISC's own test cases for its CORE rules, run through trialkit and compared record for record
with the rows CDISC expects (results/results.csv).

Two sources: the slice vendored in tests/data/core-cases.zip (one case per rule, any clone) and
every case of the open rules repository at ../shared/reference/core-rules (marked `reference`:
CI has it). A case that differs must be listed, with the reason, in
tests/data/core-case-differences.yaml (the same list docs/core-parity.md shows); at least 95% of
all cases of the rules trialkit executes must pass.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import yaml

from reference_data import REFERENCE
from trialkit.validators.core.cases import find_cases, run_case
from trialkit.validators.core.rules import load_rule

DATA = Path(__file__).parent / "data"
SHARED = REFERENCE / "core-rules" / "Published"
KNOWN = yaml.safe_load((DATA / "core-case-differences.yaml").read_text(encoding="utf-8"))
TARGET = 0.95


def run_all(root: Path) -> list:
    rules = {}
    results = []
    for case in find_cases(root):
        rules.setdefault(case.rule_id, load_rule(case.rule_file))
        results.append(run_case(case, rules[case.rule_id]))
    return results


def check(results: list, target: float | None = TARGET) -> None:
    executed = [r for r in results if r.status != "not executed"]
    failing = {r.case.name: (r.missing[:3], r.extra[:3], r.reason) for r in results
               if not r.passed and r.status != "not executed"}
    unexplained = {name: why for name, why in failing.items() if name not in KNOWN["cases"]}
    assert not unexplained, f"cases that differ from CDISC's expected results without a documented reason: {unexplained}"
    not_executed = {r.case.rule_id for r in results if r.status == "not executed"}
    assert not_executed <= set(KNOWN["not_executed"]), sorted(not_executed - set(KNOWN["not_executed"]))
    rate = sum(r.passed for r in executed) / len(executed)
    assert target is None or rate >= target, f"{rate:.1%} of {len(executed)} executed cases pass"


@pytest.fixture(scope="module")
def vendored(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("core-cases")
    with zipfile.ZipFile(DATA / "core-cases.zip") as archive:
        archive.extractall(root)
    return root


def test_01_the_vendored_case_of_every_rule(vendored):
    """One case per rule, the negative one where it exists: the ones most likely to differ, so the
    95% target is checked on the whole set (test_02); here every difference must be a known one."""
    results = run_all(vendored)
    assert len({r.case.rule_id for r in results}) == 329
    check(results, target=None)


@pytest.mark.reference
def test_02_every_case_of_the_open_rules_repository():
    results = run_all(SHARED)
    assert len(results) == 955
    check(results)


def test_03_every_documented_difference_names_a_reason():
    assert all(isinstance(reason, str) and len(reason) > 20 for reason in KNOWN["cases"].values())
    assert all(isinstance(reason, str) and len(reason) > 20 for reason in KNOWN["not_executed"].values())
