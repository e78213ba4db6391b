"""Which CORE rules `validate --engine spark` runs on an SDTM folder, and why the others not.

    python benchmarks/spark_core_coverage.py OUT/sdtm                 # a `trialkit demo` SDTM
    python benchmarks/spark_core_coverage.py PILOT/sdtm --encoding cp1252 --json benchmarks/results/spark_core_coverage_pilot.json

Prints the rules run on Spark, the wall time of the Spark validation (the session started first,
local[2]), the not-executed rules counted by their first reason, and for the rules an operator keeps
off Spark, every operator of their tree that has no expression yet (what porting one would unblock);
``--json FILE`` writes the same counts, with the run's date and commit, for benchmarks/results/.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

from trialkit.spark_session import spark_session
from trialkit.validators.core.expressions import EXPRESSIONS
from trialkit.validators.core_findings import load_rule_files
from trialkit.validators.run import validate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import git_state, machine_info  # noqa: E402

MASTER = "local[2]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sdtm", type=Path)
    parser.add_argument("--encoding")
    parser.add_argument("--json", type=Path, help="write the counts to this file")
    args = parser.parse_args()
    rules = {r.core_id: r for r in load_rule_files(("core", "trialkit"), ())[0]}
    session = spark_session(MASTER)
    start = time.perf_counter()
    run = validate(None, args.sdtm, None, args.encoding, engine="spark", rules=("core", "trialkit"), spark_master=MASTER)
    seconds = time.perf_counter() - start
    session.stop()
    core = [r for r in run.rules if not r.family]
    off = [r for r in core if r.reason.startswith("not run on spark")]
    print(f"CORE rules {len(core)}: run on spark {len(core) - len(off)}, not run {len(off)}; validate {seconds:.1f} s")
    reasons, operators = collections.Counter(), collections.Counter()
    for r in off:
        reason = r.reason.split(": ", 1)[1]
        reasons[reason.split(" has no expression")[0].split(" is not on spark")[0].split(" (")[0]] += 1
        if reason.startswith("operator"):
            missing = sorted({op for op in rules[r.id].operators() if op not in EXPRESSIONS})
            operators[", ".join(missing) or "(an option or column type)"] += 1
    print("\nnot run on spark, by first reason:")
    for reason, n in reasons.most_common():
        print(f"  {n:4d}  {reason}")
    print("\nrules an operator keeps off spark, by the operators of their tree without an expression:")
    for names, n in operators.most_common():
        print(f"  {n:4d}  {names}")
    if args.json:
        args.json.write_text(json.dumps({
            "benchmark": "spark_core_coverage", "sdtm": str(args.sdtm),
            "machine": machine_info(), "git": git_state(Path(__file__).resolve().parents[1]), "master": MASTER, "core_rules": len(core),
            "run_on_spark": len(core) - len(off), "not_run": len(off), "validate_s": round(seconds, 1),
            "not_run_by_first_reason": dict(reasons.most_common()),
            "operator_rules_by_missing_operators": dict(operators.most_common())}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
