"""Benchmark of ``trialkit sdtm``: time per stage, peak memory and throughput by study size, against a floor.

For each size the reference study's raw export is simulated first (``trialkit simulate``, in its own
child process, not timed). Then, each in a fresh Python process so that its peak RSS is its own:

- the SDTM run, as ``trialkit sdtm`` does it: ``run_sdtm`` then ``write_sdtm``. Reading the raw
  export (``read_export`` then ``read_raw``, as ``run_sdtm`` calls them: CSVs, structural checks,
  rejections, dictionary findings) is timed inside the run by wrapping the engine's two names; *map* is the rest of
  ``run_sdtm`` (spec loading included); *write* is ``write_sdtm`` (XPT files, ledger and findings).
- the floor: the same CSVs read with pandas as text (``dtype=str``, as ``read_form`` reads them) and
  every form written as-is, all Char, to XPT v5 with ``trialkit.xpt.write_xpt`` (the writer, with
  its checks, that the SDTM run uses), so no mapping at all. pyreadstat's bare ``write_xport`` of
  the same frames is timed too, for reference.

Targets (from the issue): the whole SDTM run (read + map + write) within 2x of the floor at 100,000
subjects, and near-linear growth: 10x the subjects in at most 12x the time.

    python benchmarks/sdtm.py                        # 1000 10000 100000 subjects
    python benchmarks/sdtm.py --sizes 500 5000 --out /tmp/sdtm.json
    python benchmarks/sdtm.py --sizes 10000 --keep /tmp/bench   # keep the exports and outputs
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _common import (  # noqa: E402
    SIMULATE,
    git_state,
    print_table,
    run_child,
    run_sizes,
    size_arguments,
    write_results,
)

DEFAULT_OUT = BENCH_DIR / "results" / "sdtm.json"
FLOOR_RATIO_MAX = 2.0        # whole SDTM run / floor, at FLOOR_RATIO_AT subjects
FLOOR_RATIO_AT = 100_000
GROWTH_MAX = 1.2             # time ratio / size ratio: 10x subjects in at most 12x time


# Child 2: the SDTM run, stage by stage.
SDTM = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from _common import peak_rss_mib

    t0 = time.perf_counter()
    from trialkit.raw_dictionary import read_form
    from trialkit.sdtm import engine, output

    study, raw, out = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    t1 = time.perf_counter()
    rss_setup = peak_rss_mib()

    # reading as run_sdtm does it: read_export (the files) then read_raw (checks, rejections); the
    # engine imported both by name, so wrap those names
    marks = {}
    real_read_export = getattr(engine, "read_export", None)
    if real_read_export is not None:
        def timed_read_export(*args, **kwargs):
            marks["export_start"] = time.perf_counter()
            return real_read_export(*args, **kwargs)
        engine.read_export = timed_read_export
    real_read_raw = getattr(engine, "read_raw", None)
    if real_read_raw is not None:
        def timed_read_raw(*args, **kwargs):
            marks["start"] = time.perf_counter()
            try:
                return real_read_raw(*args, **kwargs)
            finally:
                marks["end"] = time.perf_counter()
        engine.read_raw = timed_read_raw
    # the XPT writer's own share of write_sdtm (checks + pyreadstat), for the breakdown
    xpt = {"s": 0.0, "files": 0}
    real_write_xpt = output.write_xpt
    def timed_write_xpt(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real_write_xpt(*args, **kwargs)
        finally:
            xpt["s"] += time.perf_counter() - start
            xpt["files"] += 1
    output.write_xpt = timed_write_xpt

    t2 = time.perf_counter()
    result = engine.run_sdtm(study, raw)
    t3 = time.perf_counter()
    rss_map = peak_rss_mib()
    summary = output.write_sdtm(result, out)
    t4 = time.perf_counter()
    rss_write = peak_rss_mib()

    run_s = t3 - t2
    if "start" in marks and "end" in marks:
        read_method = "read_export + read_raw inside run_sdtm" if "export_start" in marks else "read_raw inside run_sdtm"
        start = marks.get("export_start", marks["start"])
        read_s = marks["end"] - start
        load_specs_s = start - t2
        map_s = run_s - read_s
    else:  # the engine no longer reads through engine.read_raw: time read_form alone, map includes reading
        read_method = "read_form on every CSV, separately; map includes reading"
        r0 = time.perf_counter()
        for p in sorted(raw.glob("*.csv")):
            read_form(p)
        read_s = time.perf_counter() - r0
        load_specs_s = None
        map_s = run_s

    forms = summary["ledger"]["forms"]
    print(json.dumps({
        "read_method": read_method,
        "rows_in": sum(f["rows_in"] for f in forms),
        "rows_rejected": sum(f["rejected"] for f in forms),
        "rows_unaccounted": sum(f["unaccounted"] for f in forms),
        "records_out": sum(d["records"] for d in summary["datasets"].values()),
        "records_by_dataset": {d: v["records"] for d, v in summary["datasets"].items()},
        "cells_out": sum(d["records"] * d["variables"] for d in summary["datasets"].values()),
        "datasets": len(summary["datasets"]),
        "findings": summary["findings"],
        "errors": summary["errors"],
        "xpt_bytes": sum(p.stat().st_size for p in out.glob("*.xpt")),
        "import_s": t1 - t0,
        "load_specs_s": load_specs_s,
        "read_s": read_s,
        "map_s": map_s,
        "run_sdtm_s": run_s,
        "write_s": t4 - t3,
        "write_xpt_s": xpt["s"],
        "sdtm_s": run_s + (t4 - t3),
        "rss_after_imports_mib": rss_setup,
        "peak_rss_map_mib": rss_map,
        "peak_rss_mib": rss_write,
    }))
    """
)

# Child 3: the floor - read as text, write as-is, no mapping.
FLOOR = textwrap.dedent(
    """
    import json, re, sys, time
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from _common import peak_rss_mib

    import pandas as pd
    import pyreadstat
    from trialkit.xpt import DatasetMeta, Variable, write_xpt

    raw, out = Path(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    bare = out / "pyreadstat"
    bare.mkdir(exist_ok=True)

    def xpt_name(name, taken):
        base = re.sub(r"[^A-Za-z0-9]", "", str(name)).upper()
        base = (base if base[:1].isalpha() else "X" + base)[:8]
        candidate, k = base, 1
        while candidate in taken:
            suffix = str(k)
            candidate, k = base[:8 - len(suffix)] + suffix, k + 1
        taken.add(candidate)
        return candidate

    t0 = time.perf_counter()
    frames = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False, na_filter=False) for p in sorted(raw.glob("*.csv"))}
    t1 = time.perf_counter()
    rss_read = peak_rss_mib()
    datasets, ready = set(), []
    for form, frame in frames.items():
        name, taken = xpt_name(form, datasets), set()
        columns = [xpt_name(c, taken) for c in frame.columns]
        meta = DatasetMeta(name, form[:40], tuple(Variable(v, str(c)[:40], "Char") for v, c in zip(columns, frame.columns)))
        frame = frame.set_axis(columns, axis=1)
        write_xpt(frame, meta, out / f"{name.lower()}.xpt")
        ready.append((name, frame))
    t2 = time.perf_counter()
    for name, frame in ready:
        pyreadstat.write_xport(frame, str(bare / f"{name.lower()}.xpt"), file_format_version=5, table_name=name)
    t3 = time.perf_counter()
    print(json.dumps({
        "rows": sum(len(f) for f in frames.values()),
        "cells": sum(f.size for f in frames.values()),
        "read_s": t1 - t0,
        "write_s": t2 - t1,
        "floor_s": t2 - t0,
        "pyreadstat_write_s": t3 - t2,
        "xpt_bytes": sum(p.stat().st_size for p in out.glob("*.xpt")),
        "peak_rss_read_mib": rss_read,
        "peak_rss_mib": peak_rss_mib(),
    }))
    """
)


def _rate(n: int | None, seconds: float | None) -> float | None:
    return n / seconds if n is not None and seconds else None


def run_size(subjects: int, study: str, seed: int | None, timeout: float, work: Path) -> dict:
    """Simulate the export, then the SDTM run and the floor, each in a fresh interpreter."""
    raw = work / "raw"
    result: dict = {"subjects": subjects}
    try:
        result["load_avg_1m"] = os.getloadavg()[0]  # others' work on the machine skews the times
    except (AttributeError, OSError):
        result["load_avg_1m"] = None
    export = run_child(SIMULATE, [study, subjects, "-" if seed is None else seed, raw], timeout)
    if "error" in export:
        return {**result, "stage": "simulate", **export}
    result["seed"] = export["seed"]
    result["export"] = export

    run = run_child(SDTM, [BENCH_DIR, study, raw, work / "sdtm"], timeout)
    if "error" in run:
        result.update({"stage": "sdtm", **run})
    else:
        result.update(run)
        result["read_rows_per_s"] = _rate(run["rows_in"], run["read_s"])
        result["map_rows_per_s"] = _rate(run["rows_in"], run["map_s"])
        result["write_records_per_s"] = _rate(run["records_out"], run["write_s"])
        result["sdtm_rows_per_s"] = _rate(run["rows_in"], run["sdtm_s"])

    floor = run_child(FLOOR, [BENCH_DIR, raw, work / "floor"], timeout)
    result["floor"] = floor
    if "error" not in floor:
        result["floor_s"] = floor["floor_s"]
        if "error" not in result:
            result["ratio_to_floor"] = result["sdtm_s"] / floor["floor_s"]
            # SDTM writes more cells than it reads (one raw row -> several findings records, SUPP--, SV, SE):
            # the floor with its write time scaled to the SDTM output's cells, for reference
            scaled = floor["read_s"] + floor["write_s"] * result["cells_out"] / floor["cells"]
            result["floor_cells_scaled_s"] = scaled
            result["ratio_to_cells_scaled_floor"] = result["sdtm_s"] / scaled
    return result


def targets(results: list[dict]) -> dict:
    ok = sorted((r for r in results if "error" not in r), key=lambda r: r["subjects"])
    scaling = []
    for a, b in zip(ok, ok[1:]):
        size_ratio = b["subjects"] / a["subjects"]
        entry = {"from": a["subjects"], "to": b["subjects"], "size_ratio": size_ratio}
        for stage in ("read_s", "map_s", "write_s", "sdtm_s"):
            entry[f"{stage[:-2]}_time_ratio"] = b[stage] / a[stage] if a[stage] else None
        entry["sdtm_growth"] = entry["sdtm_time_ratio"] / size_ratio if entry["sdtm_time_ratio"] else None
        entry["met"] = entry["sdtm_growth"] is not None and entry["sdtm_growth"] <= GROWTH_MAX
        scaling.append(entry)
    at = next((r for r in ok if r["subjects"] == FLOOR_RATIO_AT), None)
    ratio = at.get("ratio_to_floor") if at else None
    return {
        "floor_ratio": {"max": FLOOR_RATIO_MAX, "at_subjects": FLOOR_RATIO_AT, "ratio": ratio,
                        "met": None if ratio is None else ratio <= FLOOR_RATIO_MAX},
        "near_linear": {"max_growth": GROWTH_MAX, "pairs": scaling,
                        "met": all(s["met"] for s in scaling) if scaling else None},
    }


def _fmt(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def print_results(results: list[dict], goals: dict) -> None:
    headers = ["subjects", "rows in", "records out", "read s", "map s", "write s", "sdtm s", "floor s",
               "x floor", "x floor*", "peak RSS MiB", "read rows/s", "map rows/s", "write rec/s"]
    table_rows = []
    for r in results:
        if "error" in r and "rows_in" not in r:
            floor = r.get("floor_s")
            table_rows.append([f"{r['subjects']:,}", f"FAILED ({r['stage']}): {r['error']}", "", "", "", "", "",
                               _fmt(floor, ".2f"), "", "", "", "", "", ""])
            continue
        table_rows.append([
            f"{r['subjects']:,}", f"{r['rows_in']:,}", f"{r['records_out']:,}",
            f"{r['read_s']:.2f}", f"{r['map_s']:.2f}", f"{r['write_s']:.2f}", f"{r['sdtm_s']:.2f}",
            _fmt(r.get("floor_s"), ".2f"), _fmt(r.get("ratio_to_floor"), ".1f"),
            _fmt(r.get("ratio_to_cells_scaled_floor"), ".1f"), f"{r['peak_rss_mib']:,.0f}",
            _fmt(r["read_rows_per_s"], ",.0f"), _fmt(r["map_rows_per_s"], ",.0f"), _fmt(r["write_records_per_s"], ",.0f"),
        ])
    print_table("trialkit sdtm (floor: pandas read as text + write_xpt as-is)", headers, table_rows, width=180)
    print("x floor*: against the floor with its write time scaled to the cells (records x variables) SDTM writes")
    fr = goals["floor_ratio"]
    verdict = {True: "met", False: "NOT met", None: "not measured"}
    shown = f"{fr['ratio']:.1f}x" if fr["ratio"] is not None else "-"
    print(f"target: sdtm within {fr['max']:g}x of the floor at {fr['at_subjects']:,} subjects: {shown} "
          f"({verdict[fr['met']]})")
    for s in goals["near_linear"]["pairs"]:
        print(f"target: {s['size_ratio']:g}x subjects ({s['from']:,} -> {s['to']:,}) in <= "
              f"{GROWTH_MAX * s['size_ratio']:g}x time: {s['sdtm_time_ratio']:.1f}x ({verdict[s['met']]})")


def main(argv: list[str] | None = None) -> int:
    args = size_arguments(__doc__.splitlines()[0], DEFAULT_OUT, "keep each size's raw export and outputs in KEEP/<subjects> (default: a removed temporary folder)").parse_args(argv)
    git = git_state(BENCH_DIR)
    results = run_sizes(args, "simulate, sdtm, floor", "trialkit-bench-sdtm-",
                        lambda n, work: run_size(n, args.study, args.seed, args.timeout, work))
    goals = targets(results)
    print_results(results, goals)
    write_results(args.out, "sdtm", args.study, git, BENCH_DIR, goals, results)
    return 1 if any("error" in r or "error" in r.get("floor", {}) for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
