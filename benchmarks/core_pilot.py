"""CDISC CORE rules on the CDISC pilot SDTM: trialkit's interpreter against the CORE engine 0.17.1.

    python benchmarks/core_pilot.py                 # trialkit only; CORE's findings from the kept digest
    python benchmarks/core_pilot.py --with-core     # also run CORE (../shared/tools/core-validate, ~11-40 min)
    python benchmarks/core_pilot.py --with-core --cache /tmp/core-cache-full   # CORE with CDISC Library metadata

--cache DIR runs CORE on that cache instead of the offline one, whose stub library metadata makes CORE
skip about half the rules; benchmarks/core_library_cache.py writes one from trialkit's own SDTMIG 3.4,
SDTM v2.0 and SDTM CT. Its findings have their own digest (core_pilot_sdtmig34_full_*), which the
comparison then reads.

Measures, each as a fresh process tree: trialkit validate (CORE SDTMIG 3.4 rules + trialkit's rules,
as the CLI runs them: two processes on two cores; the fastest of three runs after a warm-up) and, with --with-core, the CORE engine (a pool of
workers): wall time and the peak of the summed RSS of the process tree, sampled every 0.2 s. Then
compares trialkit's findings with CORE's rule by rule (same rule fires, same records), against both
kept digests: CORE with its offline stub metadata, and CORE with full library metadata. Writes
benchmarks/results/core_pilot.json and, with --with-core, refreshes the digest of the run made.

Targets (issue 13): at least 50x faster than CORE measured in the same run; peak memory under 1 GiB;
the same rules fire with the same records for at least 95% of the rules that fire in either.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _common import machine_info, print_table

SHARED = BENCH_DIR.parents[1] / "shared"
PILOT = SHARED / "reference" / "cdiscpilot01" / "sdtm"
CORE_VALIDATE = SHARED / "tools" / "core-validate"
RESULTS = BENCH_DIR / "results"
DIGEST_ISSUES = RESULTS / "core_pilot_sdtmig34_issues.csv.gz"
DIGEST_RULES = RESULTS / "core_pilot_sdtmig34_rules.json"
FULL_ISSUES = RESULTS / "core_pilot_sdtmig34_full_issues.csv.gz"
FULL_RULES = RESULTS / "core_pilot_sdtmig34_full_rules.json"

TRIALKIT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from trialkit.validators.run import validate
    run = validate(None, Path(sys.argv[1]), encoding="cp1252", standard="sdtmig/3.4")
    core = [r for r in run.rules if r.source == "core"]
    print(json.dumps({"findings": len(run.findings), "core_rules": len(core),
                      "statuses": {s: sum(r.status == s for r in core) for s in {r.status for r in core}},
                      "slowest": sorted(([r.id, r.seconds] for r in run.rules), key=lambda x: -x[1])[:10]}))
""")


def tree_rss_mib(pid: int) -> float:
    """Summed resident memory of a process and all its descendants, from /proc."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/status") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
            with open(f"/proc/{current}/task/{current}/children") as fh:
                stack += [int(c) for c in fh.read().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


def measured(command: list[str], env: dict | None = None, cwd: str | None = None) -> dict:
    """Run ``command``: its wall time, the peak summed RSS of its process tree, its last stdout line."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=cwd or tempfile.gettempdir())
    peak = [0.0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss_mib(proc.pid))
            time.sleep(0.2)
    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    stdout, stderr = proc.communicate()
    watcher.join()
    if proc.returncode != 0:
        return {"error": f"exit code {proc.returncode}", "stderr_tail": stderr.splitlines()[-10:]}
    lines = stdout.strip().splitlines()
    return {"seconds": time.perf_counter() - started, "peak_tree_rss_mib": peak[0], "last_line": lines[-1] if lines else ""}


def run_trialkit(runs: int = 3) -> dict:
    """trialkit validate on the pilot, each time a fresh process: one warm-up run (it compiles the
    bytecode and fills the rule files' parse cache, which a user's first run after an install also
    pays once), then the fastest of ``runs``; every run's seconds are kept."""
    warm_up = measured([sys.executable, "-c", TRIALKIT, str(PILOT)])
    if "error" in warm_up:
        return warm_up
    results = [measured([sys.executable, "-c", TRIALKIT, str(PILOT)]) for _ in range(runs)]
    best = min(results, key=lambda r: r.get("seconds", float("inf")))
    if "error" not in best:
        best.update(json.loads(best.pop("last_line")))
    best["runs_seconds"] = [round(r.get("seconds", float("nan")), 2) for r in results]
    best["warm_up_seconds"] = round(warm_up["seconds"], 2)
    return best


def run_core(out: Path, cache: Path | None = None) -> dict:
    """CORE over the pilot (on ``cache`` when given)."""
    env = os.environ | {"CORE_CACHE": str(cache)} if cache else None
    result = measured([str(CORE_VALIDATE), str(PILOT), str(out)], env=env)
    if "last_line" in result:
        result["summary"] = result.pop("last_line")
    return result


def write_digest(report: Path, issues: Path = DIGEST_ISSUES, rules: Path = DIGEST_RULES,
                 provenance: dict | None = None) -> None:
    """The digest of a CORE JSON report: its issues as CSV (gzipped) and each rule's status as JSON, with
    ``provenance`` (library metadata, cache, data...) added to or replacing the JSON's fields."""
    data = json.loads(report.read_text(encoding="utf-8"))
    rows = sorted((i["core_id"], i["dataset"], "" if i.get("row") in (None, "") else str(i["row"]), i.get("USUBJID") or "",
                   "|".join(i.get("variables") or []), "|".join("" if v is None else str(v) for v in i.get("values") or []))
                  for i in data["Issue_Details"])
    with gzip.open(issues, "wt", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["core_id", "dataset", "row", "usubjid", "variables", "values"])
        writer.writerows(rows)
    details = data["Conformance_Details"]
    rules.write_text(json.dumps({
        "engine": f"cdisc-rules-engine {details.get('CORE_Engine_Version')}", "standard": "sdtmig 3-4",
        "ct": details.get("CT_Version"), "library_metadata": "stub (offline)", "seconds": details.get("Total_Runtime"),
        "status": {r["core_id"]: r["status"] for r in data["Rules_Report"]}} | (provenance or {}),
        indent=1, sort_keys=True) + "\n")


def cache_provenance(cache: Path) -> dict:
    """What a cache written by core_library_cache.py holds beyond the offline one (its own files; the rest
    are symlinks), and the trialkit commit and date of the run."""
    commit = subprocess.run(["git", "-C", str(BENCH_DIR), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True)
    return {"library_metadata": "trialkit's SDTMIG 3.4 and SDTM v2.0 (benchmarks/core_library_cache.py)",
            "cache": {"path": str(cache), "built": sorted(p.name for p in cache.iterdir() if not p.is_symlink()),
                      "offline_cache": "shared/reference/core-cache (see its SOURCE.md)"},
            "trialkit_commit": commit.stdout.strip(), "date": time.strftime("%Y-%m-%d")}


def parity() -> dict:
    """trialkit's findings against each kept digest of CORE's: rules firing in either, and agreeing."""
    from trialkit.validators.core.engine import run_rules
    from trialkit.validators.core.library import load_library
    from trialkit.validators.core.parity import Reference, compare
    from trialkit.validators.core.rules import load_rules, rules_folder
    from trialkit.validators.core.study import study_from_frames
    from trialkit.validators.inputs import read_folder

    files: dict = {}
    frames, _ = read_folder(PILOT, "cp1252", files)
    study = study_from_frames(frames, files, "sdtmig", "3.4")
    results = run_rules(load_rules(rules_folder())[0], study, load_library("sdtmig", "3.4"))
    return {name: parity_summary(compare(results, Reference.read(*digest)))
            for name, digest in (("full", (FULL_ISSUES, FULL_RULES)), ("stub", (DIGEST_ISSUES, DIGEST_RULES)))}


def parity_summary(comparisons: list) -> dict:
    """validators.core.parity's rule comparisons as the benchmarks record them: the rules firing in
    either engine, how many agree, the same for the rules trialkit ships, and each firing rule."""
    firing = [r for r in comparisons if r.fires]
    shipped = [r for r in firing if r.trialkit_status != "not shipped"]
    return {"rules_firing_in_either": len(firing), "agreeing": sum(r.agrees for r in firing),
            "shipped_firing_in_either": len(shipped), "shipped_agreeing": sum(r.agrees for r in shipped),
            "rules": [r.__dict__ | {"agrees": r.agrees} for r in firing]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-core", action="store_true", help="also run the CORE engine (slow)")
    parser.add_argument("--cache", type=Path, help="CORE's cache with CDISC Library metadata (core_library_cache.py); "
                                                   "its digest is core_pilot_sdtmig34_full_*")
    args = parser.parse_args(argv)
    digest = (FULL_ISSUES, FULL_RULES) if args.cache else (DIGEST_ISSUES, DIGEST_RULES)
    result = {"machine": machine_info()}
    result["trialkit"] = run_trialkit()
    if args.with_core:
        with tempfile.TemporaryDirectory() as tmp:
            result["core"] = run_core(Path(tmp) / "core.json", args.cache)
            if "error" not in result["core"]:
                write_digest(Path(tmp) / "core.json", *digest, cache_provenance(args.cache) if args.cache else None)
    else:
        recorded = json.loads(digest[1].read_text(encoding="utf-8"))
        result["core"] = {"seconds": float(str(recorded["seconds"]).split()[0]), "recorded": True}
    result["parity"] = parity()
    tk, core = result["trialkit"], result["core"]
    speedup = core.get("seconds", 0) / tk["seconds"] if "seconds" in tk and core.get("seconds") else None
    result["speedup"] = speedup
    print_table("CORE rules on the CDISC pilot SDTM (31 datasets)", ["engine", "seconds", "peak MiB", "note"], [
        ["trialkit", f"{tk.get('seconds', float('nan')):.1f}", f"{tk.get('peak_tree_rss_mib', float('nan')):.0f}",
         f"{tk.get('findings')} findings; CORE rules {tk.get('statuses')}"],
        ["CORE 0.17.1", f"{core.get('seconds', float('nan')):.1f}", f"{core.get('peak_tree_rss_mib', float('nan')):.0f}",
         "recorded run" if core.get("recorded") else core.get("summary", core.get("error", ""))[:60]],
    ])
    print(f"speed-up {speedup:.0f}x")
    for name, p in result["parity"].items():
        print(f"against CORE ({name} metadata): rules firing in either engine {p['rules_firing_in_either']}, agreeing record "
              f"for record {p['agreeing']}; of the rules trialkit ships: {p['shipped_agreeing']} of "
              f"{p['shipped_firing_in_either']}")
    for r in result["parity"]["full"]["rules"]:
        if not r["agrees"]:
            print(f"  {r['rule']}: CORE {r['core_status']} {r['core_records']} records, trialkit {r['trialkit_status']} "
                  f"{r['trialkit_records']} (only CORE {r['only_core']}, only trialkit {r['only_trialkit']})")
    (RESULTS / "core_pilot.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
