"""Write docs/core-parity.md: trialkit's CORE interpreter against CDISC's own test cases, against the
CORE engine on real data and on trialkit's demos, against Pinnacle 21's report on the pilot, and its
speed: every rule with its status, every difference with its reason.

    python benchmarks/core_parity.py [--root ../shared/reference/core-rules/Published]

Runs every test case (as benchmarks/core_cases.py does) and trialkit on the pilot (as Pinnacle 21's
configuration, SDTMIG 3.2), and reads what benchmarks/core_pilot.py and benchmarks/core_demo.py
measured (benchmarks/results/core_pilot.json, core_demo.json: run those first for fresh numbers).
The reasons come from tests/data/core-case-differences.yaml (test cases) and
benchmarks/core_differences.yaml (real data), the lists the tests hold trialkit to.
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
SHARED = REPO.parent / "shared" / "reference"
DEFAULT_ROOT = SHARED / "core-rules" / "Published"
CASE_REASONS = REPO / "tests" / "data" / "core-case-differences.yaml"
DATA_REASONS = BENCH / "core_differences.yaml"
P21 = BENCH / "p21_pilot.yaml"
OUT = REPO / "docs" / "core-parity.md"


def _words(text: str) -> str:
    return " ".join(str(text).split())


def cases_section(root: Path) -> tuple[list[str], dict]:
    known = yaml.safe_load(CASE_REASONS.read_text(encoding="utf-8"))
    shipped = {r.core_id: r for r in load_rules(rules_folder())[0]}
    by_rule: dict[str, list] = defaultdict(list)
    for case in find_cases(root):
        by_rule[case.rule_id].append(run_case(case, load_rule(case.rule_file)))
    results = [r for rs in by_rule.values() for r in rs]
    executed = [r for r in results if r.status != "not executed"]
    passed = sum(r.passed for r in executed)
    rules_all_pass = sum(all(r.passed for r in rs) for rs in by_rule.values())
    numbers = {"cases": len(results), "executed": len(executed), "passed": passed, "rules": len(by_rule),
               "rules_all_cases_pass": rules_all_pass, "rules_shipped": len(shipped)}
    lines = [
        "## 1. CDISC's own test cases",
        "",
        f"{len(results)} cases of the {len(by_rule)} published rules that have cases (cdisc-org/cdisc-open-rules",
        "618ab81, `Published/`), each run through trialkit and compared record for record with the rows CDISC",
        f"expects (`results/results.csv`). **{passed} of the {len(executed)} cases of the rules trialkit executes pass",
        f"({passed / len(executed):.1%})**; every case of {rules_all_pass} rules passes; "
        f"{len(results) - len(executed)} cases belong to the one",
        "rule trialkit does not execute. `tests/test_validators_core_cases.py` runs every case in CI and fails on",
        "any difference not listed below with its reason.",
        "",
        "### Cases that differ, and why",
        "",
    ]
    lines += [f"- **{name}**: {_words(reason)}" for name, reason in sorted(known["cases"].items())]
    lines += [f"- **{rule} (not executed)**: {_words(reason)}" for rule, reason in sorted(known["not_executed"].items())]
    lines += ["", "### Every rule", "", "| rule | CDISC ids | cases | passed | status |", "|---|---|---:|---:|---|"]
    for rule_id in sorted(set(by_rule) | set(shipped)):
        rs = by_rule.get(rule_id, [])
        rule = shipped.get(rule_id)
        ids = ", ".join(rule.cdisc_ids) if rule else "(not an SDTMIG rule)"
        if not rs:
            status = "no test cases"
        elif rs[0].status == "not executed":
            status = "not executed"
        elif all(r.passed for r in rs):
            status = "all pass"
        else:
            status = "differs: " + ", ".join(f"{r.case.kind}/{r.case.number}" for r in rs if not r.passed)
        lines.append(f"| {rule_id} | {ids} | {len(rs)} | {sum(r.passed for r in rs)} | {status} |")
    return lines, numbers


def pilot_section() -> tuple[list[str], dict]:
    path = BENCH / "results" / "core_pilot.json"
    if not path.is_file():
        return ["## 2. The CDISC pilot SDTM against CORE 0.17.1", "", "(run benchmarks/core_pilot.py)"], {}
    result = json.loads(path.read_text(encoding="utf-8"))
    reasons = yaml.safe_load(DATA_REASONS.read_text(encoding="utf-8"))["pilot"]
    full, stub = result["parity"]["full"], result["parity"]["stub"]
    lines = [
        "## 2. The CDISC pilot SDTM against CORE 0.17.1",
        "",
        "The pilot SDTM (31 datasets; SDTMIG 3.2 data, checked with the SDTMIG 3.4 rules as CORE's own offline run",
        "did) through both engines. CORE ran twice: with its offline cache, whose stub library metadata makes it",
        "skip about half the rules, and with full library metadata built from trialkit's SDTMIG 3.4, SDTM v2.0",
        "and SDTM CT 2025-03-28 files (`benchmarks/core_library_cache.py`).",
        "",
        f"- Against CORE with full metadata: {full['rules_firing_in_either']} rules fire in either engine. Of the "
        f"{full['shipped_firing_in_either']} that trialkit ships (CDISC's published rules), **{full['shipped_agreeing']} "
        f"flag exactly the same records in both ({full['shipped_agreeing'] / max(full['shipped_firing_in_either'], 1):.0%})**.",
        f"  The other {full['rules_firing_in_either'] - full['shipped_firing_in_either']} are rules CDISC has deprecated, "
        "which CORE's rules cache still runs.",
        f"- Against CORE with its stub metadata: {stub['shipped_agreeing']} of {stub['shipped_firing_in_either']} "
        "shipped rules agree; the others are rules the stub makes CORE skip (their class or variables unknown),",
        "  which trialkit runs and which agree with the full-metadata run above.",
        "",
        "| rule | CORE (full metadata) | records | trialkit | records | same records | why they differ |",
        "|---|---|---:|---|---:|---|---|",
    ]
    for r in full["rules"]:
        why = _words(reasons.get(r["rule"], "")) if not r["agrees"] else ""
        lines.append(f"| {r['rule']} | {r['core_status']} | {r['core_records']} | {r['trialkit_status']} | "
                     f"{r['trialkit_records']} | {'yes' if r['agrees'] else 'no'} | {why} |")
    return lines, {"pilot_shipped_agreeing": full["shipped_agreeing"],
                   "pilot_shipped_firing": full["shipped_firing_in_either"]}


def demo_section() -> tuple[list[str], dict]:
    path = BENCH / "results" / "core_demo.json"
    if not path.is_file():
        return ["## 3. trialkit's demo SDTM against CORE 0.17.1", "", "(run benchmarks/core_demo.py)"], {}
    result = json.loads(path.read_text(encoding="utf-8"))
    reasons = yaml.safe_load(DATA_REASONS.read_text(encoding="utf-8"))["demos"]
    lines = [
        "## 3. trialkit's demo SDTM against CORE 0.17.1",
        "",
        "The SDTM `trialkit demo` writes for both example studies (BALLR01; ONCO02 with `--study solid_tumour`),",
        "through CORE 0.17.1 with full library metadata and through trialkit's interpreter with the published",
        "rules (not the studies' own CORE-000192, see docs/conformance.md). In trialkit both demos pass every",
        "published rule but CORE-000192, which both engines fire on the same subjects and which `trialkit demo`",
        "replaces by the studies' reading of its guidance; what CORE reports beyond that is below, with reasons.",
        "",
        "| study | rules firing in either | of them published | agreeing | agreeing on the records CORE reads |",
        "|---|---:|---:|---:|---:|",
    ]
    numbers = {}
    for name, entry in result["studies"].items():
        p, q = entry["parity"], entry["parity_as_core_reads"]
        dropped = ", ".join(f"{k} {v}" for k, v in q["records_core_cannot_read"].items())
        lines.append(f"| {name.upper()} | {p['rules_firing_in_either']} | {p['shipped_firing_in_either']} | "
                     f"{p['shipped_agreeing']} | {q['shipped_agreeing']} of {q['shipped_firing_in_either']}"
                     + (f" (pandas drops {dropped})" if dropped else "") + " |")
        numbers[f"demo_{name}_agreeing_as_core_reads"] = f"{q['shipped_agreeing']}/{q['shipped_firing_in_either']}"
    lines += ["", "| study | rule | CORE | records | trialkit | records | same records | why they differ |",
              "|---|---|---|---:|---|---:|---|---|"]
    for name, entry in result["studies"].items():
        for r in entry["parity"]["rules"]:
            why = _words(reasons.get(r["rule"], "")) if not r["agrees"] else ""
            lines.append(f"| {name.upper()} | {r['rule']} | {r['core_status']} | {r['core_records']} | {r['trialkit_status']} | "
                         f"{r['trialkit_records']} | {'yes' if r['agrees'] else 'no'} | {why} |")
    return lines, numbers


def p21_section() -> tuple[list[str], dict]:
    from trialkit.validators.run import validate

    kinds = yaml.safe_load(P21.read_text(encoding="utf-8"))["kinds"]
    run = validate(None, SHARED / "cdiscpilot01" / "sdtm", encoding="cp1252", standard="sdtmig/3.2")
    counts = Counter((f.rule, f.dataset[:2]) for f in run.findings)
    lines = [
        "## 4. What Pinnacle 21 reports on the pilot",
        "",
        "Pinnacle 21 Community 2.2.0's report on the same package (configuration SDTM 3.2; in the package) lists",
        "8 rule kinds. `trialkit validate --standard sdtmig/3.2` reports each kind with the rules below",
        "(trialkit's own rule files `specs/rules/trialkit/` where CDISC's CORE rules have none):",
        "",
        "| P21 rule | message | P21 found | trialkit rules | trialkit found | note |",
        "|---|---|---:|---|---:|---|",
    ]
    covered = 0
    for kind in kinds:
        found = sum(kind["found"].values())
        mine = sum(counts.get((r, domain), 0) for r in kind["trialkit"] for domain in kind["found"])
        covered += bool(mine) or bool(kind.get("note"))
        lines.append(f"| {kind['p21']} | {kind['message']} | {found} | {', '.join(kind['trialkit'])} | {mine} | "
                     f"{_words(kind.get('note', ''))} |")
    return lines, {"p21_kinds": len(kinds), "p21_kinds_reported_or_explained": covered}


def speed_section() -> tuple[list[str], dict]:
    path = BENCH / "results" / "core_pilot.json"
    if not path.is_file():
        return [], {}
    result = json.loads(path.read_text(encoding="utf-8"))
    tk, core = result["trialkit"], result["core"]
    same_run = not core.get("recorded")
    lines = [
        "## 5. Speed and memory on the pilot",
        "",
        f"`benchmarks/core_pilot.py{' --with-core' if same_run else ''}` ({result['machine']['date']}, "
        f"{result['machine']['cpu_count']} cores): every CORE SDTMIG 3.4 rule plus trialkit's own, as `trialkit validate`",
        "runs them (two processes), against CORE 0.17.1 "
        + ("measured in the same run" if same_run else "as recorded in its last run (`core_pilot_sdtmig34_*_rules.json`)")
        + ". Memory is the peak of the summed resident memory of each engine's processes.",
        "",
        "| engine | seconds | peak MiB |",
        "|---|---:|---:|",
        f"| trialkit | {tk['seconds']:.1f} | {tk['peak_tree_rss_mib']:.0f} |",
        f"| CORE 0.17.1 | {core['seconds']:.0f} | {core.get('peak_tree_rss_mib', float('nan')):.0f} |",
        "",
        f"trialkit is **{core['seconds'] / tk['seconds']:.0f}x** faster.",
    ]
    return lines, {"speedup": round(core["seconds"] / tk["seconds"], 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    args = parser.parse_args(argv)
    numbers: dict = {}
    sections = []
    for build in (lambda: cases_section(args.root), pilot_section, demo_section, p21_section, speed_section):
        lines, more = build()
        sections += lines + [""]
        numbers.update(more)
    header = [
        "# CDISC CORE rules in trialkit: parity with CDISC's test cases, the CORE engine and Pinnacle 21",
        "",
        "trialkit runs CDISC's published CORE conformance rules (`specs/rules/core/`, the 331 SDTMIG rules of",
        "cdisc-org/cdisc-open-rules) with its own interpreter (`validators/core/`). This page is written by",
        "`benchmarks/core_parity.py` from measured results; every difference has its reason.",
        "",
    ]
    OUT.write_text("\n".join(header + sections).rstrip() + "\n", encoding="utf-8")
    print(json.dumps(numbers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
