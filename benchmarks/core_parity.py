"""Write docs/core-parity.md: trialkit's CORE interpreter against CDISC's own test cases and against
the CORE engine on real data, every rule with its status and every difference with its reason.

    python benchmarks/core_parity.py [--root ../shared/reference/core-rules/Published]

Runs every test case (as benchmarks/core_cases.py does) and reads the comparison results that
benchmarks/core_pilot.py and benchmarks/core_demo.py wrote to benchmarks/results/ (run those first
for fresh numbers). The reasons for known differences come from tests/data/core-case-differences.yaml
(test cases) and benchmarks/core_differences.yaml (real data), the lists the tests hold trialkit to.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from trialkit.validators.core.cases import find_cases, run_case
from trialkit.validators.core.rules import load_rule, load_rules, rules_folder

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DEFAULT_ROOT = REPO.parent / "shared" / "reference" / "core-rules" / "Published"
CASE_REASONS = REPO / "tests" / "data" / "core-case-differences.yaml"
DATA_REASONS = BENCH / "core_differences.yaml"
OUT = REPO / "docs" / "core-parity.md"


def cases_section(root: Path) -> tuple[list[str], dict]:
    known = yaml.safe_load(CASE_REASONS.read_text(encoding="utf-8"))
    shipped = {r.core_id: r for r in load_rules(rules_folder())[0]}
    by_rule: dict[str, list] = defaultdict(list)
    for case in find_cases(root):
        by_rule[case.rule_id].append(run_case(case, load_rule(case.rule_file)))
    results = [r for rs in by_rule.values() for r in rs]
    executed = [r for r in results if r.status != "not executed"]
    passed = sum(r.passed for r in executed)
    numbers = {"cases": len(results), "executed": len(executed), "passed": passed,
               "rules": len(by_rule), "rules_shipped": len(shipped)}
    lines = [
        "## 1. CDISC's own test cases",
        "",
        f"{len(results)} cases of {len(by_rule)} rules (cdisc-org/cdisc-open-rules 618ab81, `Published/`), each run",
        "through trialkit and compared record for record with the rows CDISC expects (`results/results.csv`):",
        f"**{passed} of the {len(executed)} cases of the rules trialkit executes pass ({passed / len(executed):.1%})**;",
        f"{len(results) - len(executed)} cases belong to rules trialkit does not execute. "
        "`tests/test_validators_core_cases.py` runs them all in CI.",
        "",
        "| rule | CDISC ids | cases | passed | note |",
        "|---|---|---:|---:|---|",
    ]
    for rule_id in sorted(by_rule):
        rs = by_rule[rule_id]
        rule = shipped.get(rule_id)
        ids = ", ".join(rule.cdisc_ids) if rule else "(not SDTMIG)"
        failing = [r for r in rs if not r.passed]
        if rs[0].status == "not executed":
            note = f"not executed: {known['not_executed'].get(rule_id, rs[0].reason)}"
        elif failing:
            note = "; ".join(f"{r.case.kind}/{r.case.number}: see below" for r in failing)
        else:
            note = ""
        lines.append(f"| {rule_id} | {ids} | {len(rs)} | {sum(r.passed for r in rs)} | {note} |")
    lines += ["", "### Cases that differ, and why", ""]
    for name, reason in sorted(known["cases"].items()):
        lines.append(f"- **{name}**: {' '.join(reason.split())}")
    return lines, numbers


def pilot_section() -> tuple[list[str], dict]:
    path = BENCH / "results" / "core_pilot.json"
    if not path.is_file():
        return ["## 2. The CDISC pilot SDTM", "", "(run benchmarks/core_pilot.py)"], {}
    result = json.loads(path.read_text(encoding="utf-8"))
    reasons = yaml.safe_load(DATA_REASONS.read_text(encoding="utf-8")) if DATA_REASONS.is_file() else {}
    parity = result["parity"]
    rows = parity["rules"]
    lines = [
        "## 2. The CDISC pilot SDTM against CORE 0.17.1",
        "",
        f"The pilot SDTM (31 datasets, SDTMIG 3.2 data checked with the SDTMIG 3.4 rules, as CORE's own offline run",
        f"did) through both engines: {parity['rules_firing_in_either']} rules fire in either;",
        f"**{parity['agreeing']} flag exactly the same records in both**. Reference: {result['core'].get('label', 'CORE 0.17.1')}.",
        "",
        "| rule | CORE | records | trialkit | records | same records | why they differ |",
        "|---|---|---:|---|---:|---|---|",
    ]
    for r in rows:
        why = " ".join(str((reasons.get("pilot") or {}).get(r["rule"], "")).split())
        lines.append(f"| {r['rule']} | {r['core_status']} | {r['core_records']} | {r['trialkit_status']} | "
                     f"{r['trialkit_records']} | {'yes' if r['agrees'] else 'no'} | {why} |")
    return lines, {"pilot_agreeing": parity["agreeing"], "pilot_firing": parity["rules_firing_in_either"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    args = parser.parse_args(argv)
    cases, numbers = cases_section(args.root)
    pilot, more = pilot_section()
    numbers.update(more)
    header = [
        "# CDISC CORE rules in trialkit: parity with CDISC's test cases and the CORE engine",
        "",
        "trialkit runs CDISC's published CORE conformance rules (`specs/rules/core/`, the SDTMIG rules of",
        "cdisc-org/cdisc-open-rules) with its own interpreter (`validators/core/`). This page is written by",
        "`benchmarks/core_parity.py`; every number below is measured, every difference has its reason.",
        "",
    ]
    OUT.write_text("\n".join(header + cases + [""] + pilot) + "\n", encoding="utf-8")
    print(json.dumps(numbers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
