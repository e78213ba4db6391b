"""CDISC's CORE test cases through trialkit: how many pass, by rule and status.

    python benchmarks/core_cases.py [--root DIR] [--rule CORE-000001 ...] [--json OUT] [-v]

--root defaults to ../shared/reference/core-rules/Published beside the repository. Prints one line
per failing case (-v: with the rows missing and extra) and a summary; --json writes every case.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from trialkit.validators.core.cases import find_cases, run_case
from trialkit.validators.core.rules import load_rule

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "reference" / "core-rules" / "Published"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--rule", action="append", default=[])
    parser.add_argument("--json", type=Path)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    cases = [c for c in find_cases(args.root) if not args.rule or c.rule_id in args.rule]
    started, results, rules = time.perf_counter(), [], {}
    for case in cases:
        if case.rule_id not in rules:
            rules[case.rule_id] = load_rule(case.rule_file)
        results.append(run_case(case, rules[case.rule_id]))
    seconds = time.perf_counter() - started
    for r in results:
        if not r.passed:
            print(f"FAIL {r.case.name} [{r.status}] {r.reason[:120]}")
            if args.verbose:
                print(f"     missing {r.missing[:8]}\n     extra   {r.extra[:8]}")
    executed = [r for r in results if r.status != "not executed"]
    print(f"cases {len(results)}; rule executed in {len(executed)}; passed {sum(r.passed for r in results)} "
          f"({sum(r.passed for r in executed) / max(len(executed), 1):.1%} of executed); {seconds:.1f} s")
    print("statuses:", dict(Counter(r.status for r in results)))
    if args.json:
        args.json.write_text(json.dumps([{"case": r.case.name, "passed": r.passed, "status": r.status,
                                          "reason": r.reason, "missing": r.missing, "extra": r.extra}
                                         for r in results], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
