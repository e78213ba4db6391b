"""Benchmark of ``trialkit diff`` on two SDTM folders, against the time of reading both folders twice.

For each size the reference study's raw export is simulated, then copied and edited as a next data
transfer would be (every 50th adverse event's grade changed, every 100th survival follow-up contact
removed, the adverse event rows in reverse order so that --SEQ may be renumbered), and both exports
go through the SDTM stage (child processes, not timed). Then, each in a fresh Python process:

- *read twice*: every dataset of both SDTM folders read (trialkit.dataset_json.read_dataset), twice;
- *diff*: ``trialkit.diff.folders.diff_folders`` on the two folders, reading included (no --study:
  the SDTMIG keys; the DataFrames compared, nothing written).

Target (from the issue): the diff within the time of reading both folders twice, at 100,000 subjects.

    python benchmarks/diff.py                       # 1000 10000 subjects
    python benchmarks/diff.py --sizes 100000 --out /tmp/diff.json
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _common import (  # noqa: E402
    SDTM,
    SIMULATE,
    git_state,
    print_table,
    run_child,
    run_sizes,
    size_arguments,
    table_rows,
    write_results,
)

DEFAULT_OUT = BENCH_DIR / "results" / "diff.json"
TARGET_AT = 100_000

# The next transfer: the same export with a few records edited, removed and reordered.
EDIT = textwrap.dedent(
    """
    import json, shutil, sys
    from pathlib import Path
    import pandas as pd

    raw, out = Path(sys.argv[1]), Path(sys.argv[2])
    shutil.copytree(raw, out)
    ae = pd.read_csv(out / "ae.csv", dtype=str, keep_default_na=False)
    edited = ae.index[::50]
    ae.loc[edited, "AETOXGR"] = ae.loc[edited, "AETOXGR"].map({"1": "2", "2": "3", "3": "1", "4": "3", "5": "4"}).fillna("1")
    ae.iloc[::-1].to_csv(out / "ae.csv", index=False)
    survfu = pd.read_csv(out / "survfu.csv", dtype=str, keep_default_na=False)
    dropped = survfu.index[::100]
    survfu.drop(index=dropped).to_csv(out / "survfu.csv", index=False)
    print(json.dumps({"ae_edited": len(edited), "survfu_removed": len(dropped)}))
    """
)

READ_TWICE = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from _common import peak_rss_mib
    from trialkit.dataset_json import dataset_files, read_dataset

    old, new = Path(sys.argv[2]), Path(sys.argv[3])
    t0 = time.perf_counter()
    records = 0
    for _ in range(2):
        for folder in (old, new):
            for path in dataset_files(folder).values():
                records += len(read_dataset(path)[0])
    t1 = time.perf_counter()
    print(json.dumps({"read_twice_s": t1 - t0, "records_read": records, "peak_rss_read_mib": peak_rss_mib()}))
    """
)

DIFF = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from _common import peak_rss_mib
    from trialkit.diff.folders import diff_folders

    old, new = Path(sys.argv[2]), Path(sys.argv[3])
    t0 = time.perf_counter()
    result = diff_folders(old, new)
    t1 = time.perf_counter()
    diffs = result.sections["sdtm"]
    print(json.dumps({
        "diff_s": t1 - t0,
        "records_old": sum(d.old_records or 0 for d in diffs),
        "records_new": sum(d.new_records or 0 for d in diffs),
        "added": sum(len(d.added) for d in diffs),
        "removed": sum(len(d.removed) for d in diffs),
        "changed": sum(d.changed for d in diffs),
        "duplicate_keys": len(result.duplicates),
        "by_dataset": {d.name: [len(d.added), len(d.removed), d.changed] for d in diffs if d.differs},
        "peak_rss_diff_mib": peak_rss_mib(),
    }))
    """
)


def run_size(subjects: int, study: str, seed: int | None, timeout: float, work: Path) -> dict:
    """Two transfers of one study through SDTM (not timed), then read-twice and diff, each in a fresh interpreter."""
    result: dict = {"subjects": subjects}
    try:
        result["load_avg_1m"] = os.getloadavg()[0]  # others' work on the machine skews the times
    except (AttributeError, OSError):
        result["load_avg_1m"] = None
    steps = [("simulate", SIMULATE, [study, subjects, "-" if seed is None else seed, work / "raw_old"]),
             ("edit", EDIT, [work / "raw_old", work / "raw_new"]),
             ("sdtm old", SDTM, [BENCH_DIR, study, work / "raw_old", work / "sdtm_old"]),
             ("sdtm new", SDTM, [BENCH_DIR, study, work / "raw_new", work / "sdtm_new"]),
             ("read twice", READ_TWICE, [BENCH_DIR, work / "sdtm_old", work / "sdtm_new"]),
             ("diff", DIFF, [BENCH_DIR, work / "sdtm_old", work / "sdtm_new"])]
    for stage, code, args in steps:
        out = run_child(code, args, timeout)
        if "error" in out:
            return {**result, "stage": stage, **out}
        result[stage.replace(" ", "_")] = out
    result.update(result.pop("read_twice"), **result.pop("diff"))
    result["diff_over_read_twice"] = result["diff_s"] / result["read_twice_s"] if result["read_twice_s"] else None
    return result


def targets(results: list[dict]) -> dict:
    at = next((r for r in results if r["subjects"] == TARGET_AT and "error" not in r), None)
    return {"within_read_twice": {"at_subjects": TARGET_AT, "max_ratio": 1.0,
                                  "ratio": None if at is None else at["diff_over_read_twice"],
                                  "met": None if at is None else at["diff_over_read_twice"] <= 1.0}}


def print_results(results: list[dict], goals: dict) -> None:
    headers = ["subjects", "records old", "records new", "added", "removed", "changed", "dup keys", "read twice s",
               "diff s", "diff / read twice", "peak RSS MiB (diff)"]
    rows = table_rows(results, len(headers), lambda r: [
        f"{r['subjects']:,}", f"{r['records_old']:,}", f"{r['records_new']:,}", f"{r['added']:,}", f"{r['removed']:,}",
        f"{r['changed']:,}", str(r["duplicate_keys"]), f"{r['read_twice_s']:.2f}", f"{r['diff_s']:.2f}",
        f"{r['diff_over_read_twice']:.2f}", f"{r['peak_rss_diff_mib']:,.0f}"])
    print_table("trialkit diff of two SDTM folders (reading included) against reading both twice", headers, rows, width=200)
    goal = goals["within_read_twice"]
    verdict = {True: "met", False: "NOT met", None: f"not measured (run --sizes {TARGET_AT})"}[goal["met"]]
    print(f"target: diff within the time of reading both folders twice at {TARGET_AT:,} subjects: {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = size_arguments(__doc__.splitlines()[0], DEFAULT_OUT,
                            "keep each size's exports and SDTM folders in KEEP/<subjects> (default: a removed temporary folder)")
    parser.set_defaults(sizes=[1000, 10000])
    args = parser.parse_args(argv)
    git = git_state(BENCH_DIR)
    results = run_sizes(args, "simulate, edit, sdtm x2 (not timed), read twice, diff", "trialkit-bench-diff-",
                        lambda n, work: run_size(n, args.study, args.seed, args.timeout, work))
    goals = targets(results)
    print_results(results, goals)
    write_results(args.out, "diff", args.study, git, BENCH_DIR, goals, results)
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
