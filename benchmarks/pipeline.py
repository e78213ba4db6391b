"""Benchmark of the whole run (``trialkit run``): seconds and peak memory per stage by study size,
rows per second, and the ratio to the I/O floor.

Each stage of trialkit/pipeline.py (sdtm, adam, validate, report) runs in a fresh interpreter on
the previous stage's files, as ``trialkit run`` chains them, so each has its own peak RSS; the
whole run is their sum. The floor is what no implementation can avoid: reading the raw CSVs
(pandas, as text) and writing the output XPTs (the SDTM and ADaM frames the run wrote, read back
untimed and written again as-is with trialkit.xpt.write_xpt). Targets (issue 8), at 100,000
subjects: the whole run within 3x of the floor, peak memory under 8 GiB, and 10x the subjects
costing at most 12x the time.

    python benchmarks/pipeline.py [--sizes 1000 10000 100000] [--out benchmarks/results/pipeline.json]
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SIMULATE, git_state, print_table, run_child, run_sizes, size_arguments, write_results

BENCH_DIR = Path(__file__).resolve().parent
FLOOR_RATIO_MAX = 3.0
PEAK_MIB_MAX = 8 * 1024
GROWTH_MAX = 12.0
STAGES = ("sdtm", "adam", "validate", "report")

# One stage of the pipeline in a fresh interpreter: timed inside, peak RSS at the end.
STAGE = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from _common import peak_rss_mib
    from trialkit import pipeline

    stage, study, base = sys.argv[2], sys.argv[3], Path(sys.argv[4])
    t0 = time.perf_counter()
    if stage == "sdtm":
        summary, _ = pipeline.sdtm_stage(study, base / "raw", base / "sdtm")
        out = {"records": sum(d["records"] for d in summary["datasets"].values()), "errors": summary["errors"]}
    elif stage == "adam":
        datasets = pipeline.adam_stage(study, base / "sdtm", base / "adam")
        out = {"records": sum(len(f) for f in datasets.values())}
    elif stage == "validate":
        reports = {"json": base / "validation" / "validation.json"}
        run, code = pipeline.validate_stage(study, base / "sdtm", base / "adam", reports)
        out = {"findings": len(run.findings), "datasets": len(run.datasets), "exit_code": code,
               "core_seconds": sum(r.seconds for r in run.rules if r.source == "core")}
    else:
        pipeline.report_stage(study, base / "adam", base / "report")
        out = {}
    out.update({"seconds": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib()})
    print(json.dumps(out))
    """
)

# The floor: read the raw CSVs as text, and write the run's output frames as XPT with no processing.
FLOOR = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from _common import peak_rss_mib

    import pandas as pd
    from trialkit.xpt import read_xpt, write_xpt

    base = Path(sys.argv[2])
    outputs = [read_xpt(p) for folder in ("sdtm", "adam") for p in sorted((base / folder).glob("*.xpt"))]
    target = base / "floor"
    target.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False, na_filter=False) for p in sorted((base / "raw").glob("*.csv"))]
    t1 = time.perf_counter()
    for frame, meta in outputs:
        write_xpt(frame, meta, target / f"{meta.name.lower()}.xpt")
    t2 = time.perf_counter()
    print(json.dumps({"read_s": t1 - t0, "write_s": t2 - t1, "floor_s": t2 - t0,
                      "rows_in": sum(len(f) for f in frames), "cells_out": sum(f.size for f, _ in outputs),
                      "peak_rss_mib": peak_rss_mib()}))
    """
)


def run_one(args, subjects: int, work: Path) -> dict:
    seed = "-" if args.seed is None else str(args.seed)
    result = {"subjects": subjects}
    export = run_child(SIMULATE, [args.study, subjects, seed, work / "raw"], args.timeout)
    if "error" in export:
        return {**result, **export, "stage": "simulate"}
    result.update(rows_in=export["rows"], seed=export["seed"])
    for stage in STAGES:
        measured = run_child(STAGE, [BENCH_DIR, stage, args.study, work], args.timeout)
        if "error" in measured:
            return {**result, **measured, "stage": stage}
        result[stage] = measured
    result["run_s"] = sum(result[s]["seconds"] for s in STAGES)
    result["peak_rss_mib"] = max(result[s]["peak_rss_mib"] for s in STAGES)
    result["rows_per_s"] = result["rows_in"] / result["run_s"]
    floor = run_child(FLOOR, [BENCH_DIR, work], args.timeout)
    result["floor"] = floor
    if "error" not in floor:
        result["floor_s"] = floor["floor_s"]
        result["ratio_to_floor"] = result["run_s"] / floor["floor_s"]
    return result


def goals(results: list[dict]) -> dict:
    by = {r["subjects"]: r for r in results if "run_s" in r}
    at = by.get(100000) or (by[max(by)] if by else None)
    out = {
        "floor_ratio": {"max": FLOOR_RATIO_MAX, "at_subjects": at and at["subjects"], "ratio": at and at.get("ratio_to_floor")},
        "peak_memory": {"max_mib": PEAK_MIB_MAX, "at_subjects": at and at["subjects"], "mib": at and at["peak_rss_mib"]},
    }
    out["floor_ratio"]["met"] = out["floor_ratio"]["ratio"] is not None and out["floor_ratio"]["ratio"] <= FLOOR_RATIO_MAX
    out["peak_memory"]["met"] = out["peak_memory"]["mib"] is not None and out["peak_memory"]["mib"] <= PEAK_MIB_MAX
    growth = [(a, b, by[b]["run_s"] / by[a]["run_s"]) for a in by for b in by if b == 10 * a]
    out["growth_10x"] = {"max": GROWTH_MAX, "pairs": [{"from": a, "to": b, "ratio": r} for a, b, r in growth],
                         "met": bool(growth) and all(r <= GROWTH_MAX for *_, r in growth)}
    return out


def main() -> None:
    args = size_arguments(__doc__.splitlines()[0], BENCH_DIR / "results" / "pipeline.json",
                          "keep each size's raw/ and outputs in KEEP/<subjects> (default: a removed temporary folder)").parse_args()
    git = git_state(BENCH_DIR.parent)
    results = run_sizes(args, "simulate, then sdtm -> adam -> validate -> report", "trialkit-pipeline-",
                        lambda n, work: run_one(args, n, work))
    rows = []
    for r in results:
        if "run_s" not in r:
            continue
        rows.append([f"{r['subjects']:,}", f"{r['rows_in']:,}", *(f"{r[s]['seconds']:.1f}" for s in STAGES), f"{r['run_s']:.1f}",
                     f"{r.get('floor_s', float('nan')):.1f}", f"{r.get('ratio_to_floor', float('nan')):.1f}",
                     *(f"{r[s]['peak_rss_mib']:,.0f}" for s in STAGES), f"{r['rows_per_s']:,.0f}"])
    headers = ["subjects", "rows in", *(f"{s} s" for s in STAGES), "run s", "floor s", "x floor",
               *(f"{s} MiB" for s in STAGES), "rows/s"]
    print_table("trialkit run: seconds and peak RSS (MiB) per stage", headers, rows, width=220)
    write_results(args.out, "pipeline", args.study, git, BENCH_DIR.parent, goals(results), results)


if __name__ == "__main__":
    main()
