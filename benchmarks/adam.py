"""Benchmark of ``trialkit adam``: time per part, records and peak memory by study size.

For each size the reference study's raw export is simulated (``trialkit simulate``) and taken through
SDTM (``run_sdtm`` then ``write_sdtm``), each in its own child process and not timed as part of the
benchmark. Then, in a fresh Python process so that its peak RSS is its own, the ADaM stage as
``trialkit adam`` runs it: ``run_adam(study, sdtm_dir, out)``, timed as a whole and by part by
wrapping the engine's names that ``run_adam`` calls:

- *specs*: ``load_adam_spec`` (the dataset specs, YAML and checks);
- *read*: ``read_sdtm`` (every SDTM XPT in the folder);
- *build*: each ``build_*`` function of the engine that ``run_adam`` calls (``build_adsl``,
  ``build_adtte`` and whichever others the engine has by the time it runs), one time per dataset;
- *write*: the rest of ``run_adam`` (character cleaning, XPT metadata and ``write_xpt``), with the
  XPT writer's own share shown separately.

After the run, ``read_sdtm`` is timed once more on its own, for reference.

Target: near-linear growth, 10x the subjects in at most 12x the time (whole ADaM stage).

    python benchmarks/adam.py                        # 1000 10000 100000 subjects
    python benchmarks/adam.py --sizes 500 5000 --out /tmp/adam.json
    python benchmarks/adam.py --sizes 10000 --keep /tmp/bench   # keep the exports, SDTM and ADaM
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

DEFAULT_OUT = BENCH_DIR / "results" / "adam.json"
GROWTH_MAX = 1.2             # time ratio / size ratio: 10x subjects in at most 12x time



# Child 3: the ADaM stage, part by part.
ADAM = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from _common import peak_rss_mib

    t0 = time.perf_counter()
    from trialkit.adam import engine
    t1 = time.perf_counter()
    rss_setup = peak_rss_mib()

    study, sdtm_dir, out = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])

    real_read_sdtm = engine.read_sdtm
    # run_adam looks these names up in the engine's namespace when it runs: wrap them there
    timings, calls = {}, []
    def wrap(name):
        real = getattr(engine, name)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            value = None
            try:
                value = real(*args, **kwargs)
                return value
            finally:
                seconds = time.perf_counter() - start
                entry = timings.setdefault(name, {"s": 0.0, "calls": 0})
                entry["s"] += seconds
                entry["calls"] += 1
                calls.append((name, seconds, id(value)))
        setattr(engine, name, timed)
    builders = sorted(n for n in dir(engine) if n.startswith("build_") and callable(getattr(engine, n)))
    for name in ("load_adam_spec", "read_sdtm", "write_xpt", *builders):
        if callable(getattr(engine, name, None)):
            wrap(name)

    t2 = time.perf_counter()
    datasets = engine.run_adam(study, sdtm_dir, out)
    t3 = time.perf_counter()
    rss_run = peak_rss_mib()

    def part(name):
        return timings[name]["s"] if name in timings else None

    adam_s = t3 - t2
    # each builder call is put to the dataset it returned (build_bds builds ADRS, say); a call whose
    # frame run_adam changed afterwards goes under the builder's name
    by_id = {id(frame): name for name, frame in datasets.items()}
    build = {}
    for name, seconds, value_id in calls:
        if name in builders:
            dataset = by_id.get(value_id) or name
            build[dataset] = build.get(dataset, 0.0) + seconds
    accounted = sum(v for v in (part("load_adam_spec"), part("read_sdtm"), *build.values()) if v is not None)

    # read_sdtm alone, after the run (file cache and imports warm)
    r0 = time.perf_counter()
    sdtm = real_read_sdtm(sdtm_dir)
    r1 = time.perf_counter()

    print(json.dumps({
        "datasets": list(datasets),
        "builders_called": {n: timings[n]["calls"] for n in builders if n in timings},
        "records_in": sum(len(f) for f in sdtm.values()),
        "sdtm_datasets_in": len(sdtm),
        "sdtm_xpt_bytes": sum(p.stat().st_size for p in sdtm_dir.glob("*.xpt")),
        "records_by_dataset": {name: len(frame) for name, frame in datasets.items()},
        "variables_by_dataset": {name: frame.shape[1] for name, frame in datasets.items()},
        "records_out": sum(len(f) for f in datasets.values()),
        "adam_xpt_bytes": sum(p.stat().st_size for p in out.glob("*.xpt")),
        "import_s": t1 - t0,
        "specs_s": part("load_adam_spec"),
        "read_s": part("read_sdtm"),
        "build_s_by_dataset": build,
        "build_s": sum(build.values()),
        "write_s": adam_s - accounted,
        "write_xpt_s": part("write_xpt"),
        "adam_s": adam_s,
        "read_alone_s": r1 - r0,
        "rss_after_imports_mib": rss_setup,
        "peak_rss_mib": rss_run,
        "peak_rss_after_read_alone_mib": peak_rss_mib(),
    }))
    """
)


def run_size(subjects: int, study: str, seed: int | None, timeout: float, work: Path) -> dict:
    """Simulate the export and run SDTM (not timed), then the ADaM stage in a fresh interpreter."""
    raw, sdtm = work / "raw", work / "sdtm"
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

    setup = run_child(SDTM, [BENCH_DIR, study, raw, sdtm], timeout)
    if "error" in setup:
        return {**result, "stage": "sdtm", **setup}
    result["sdtm"] = setup

    run = run_child(ADAM, [BENCH_DIR, study, sdtm, work / "adam"], timeout)
    if "error" in run:
        return {**result, "stage": "adam", **run}
    result.update(run)
    result["adam_records_per_s"] = run["records_out"] / run["adam_s"] if run["adam_s"] else None
    result["adam_subjects_per_s"] = subjects / run["adam_s"] if run["adam_s"] else None
    adsl = run["records_by_dataset"].get("ADSL")
    dm = setup["records_by_dataset"].get("DM")
    result["adsl_matches_dm"] = None if adsl is None or dm is None else adsl == dm
    return result


def targets(results: list[dict]) -> dict:
    ok = sorted((r for r in results if "error" not in r), key=lambda r: r["subjects"])
    scaling = []
    for a, b in zip(ok, ok[1:]):
        size_ratio = b["subjects"] / a["subjects"]
        entry = {"from": a["subjects"], "to": b["subjects"], "size_ratio": size_ratio}
        for stage in ("read_s", "build_s", "write_s", "adam_s"):
            entry[f"{stage[:-2]}_time_ratio"] = b[stage] / a[stage] if a[stage] else None
        for name, seconds in b["build_s_by_dataset"].items():
            before = a["build_s_by_dataset"].get(name)
            entry[f"build_{name.lower()}_time_ratio"] = seconds / before if before else None
        entry["adam_growth"] = entry["adam_time_ratio"] / size_ratio if entry["adam_time_ratio"] else None
        entry["met"] = entry["adam_growth"] is not None and entry["adam_growth"] <= GROWTH_MAX
        scaling.append(entry)
    return {"near_linear": {"max_growth": GROWTH_MAX, "pairs": scaling,
                            "met": all(s["met"] for s in scaling) if scaling else None}}


def _fmt(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def print_results(results: list[dict], goals: dict) -> None:
    names: list[str] = []
    for r in results:
        for name in r.get("records_by_dataset", {}):
            if name not in names:
                names.append(name)
    headers = ["subjects", "SDTM rec in", *(f"{n} rec" for n in names), "read s",
               *(f"{n} s" for n in names), "write s", "adam s", "read alone s", "peak RSS MiB", "subj/s"]
    rows = table_rows(results, len(headers), lambda r: [
        f"{r['subjects']:,}", f"{r['records_in']:,}",
        *(_fmt(r["records_by_dataset"].get(n), ",") for n in names),
        f"{r['read_s']:.2f}", *(_fmt(r["build_s_by_dataset"].get(n), ".2f") for n in names),
        f"{r['write_s']:.2f}", f"{r['adam_s']:.2f}", f"{r['read_alone_s']:.2f}", f"{r['peak_rss_mib']:,.0f}",
        _fmt(r["adam_subjects_per_s"], ",.0f"),
    ])
    print_table("trialkit adam (run_adam: read_sdtm + build_* + write)", headers, rows, width=200)
    print("<dataset> s: its build_* call; write s: the rest of run_adam (cleaning, XPT metadata, write_xpt); "
          "adam s: run_adam as a whole, specs included")
    verdict = {True: "met", False: "NOT met", None: "not measured"}
    for s in goals["near_linear"]["pairs"]:
        print(f"linear growth: {s['size_ratio']:g}x subjects ({s['from']:,} -> {s['to']:,}) in <= "
              f"{GROWTH_MAX * s['size_ratio']:g}x time: {s['adam_time_ratio']:.1f}x ({verdict[s['met']]})")
    if not goals["near_linear"]["pairs"]:
        print("linear growth: not measured (fewer than two sizes ran)")


def main(argv: list[str] | None = None) -> int:
    args = size_arguments(__doc__.splitlines()[0], DEFAULT_OUT, "keep each size's export, SDTM and ADaM in KEEP/<subjects> (default: a removed temporary folder)").parse_args(argv)
    git = git_state(BENCH_DIR)
    results = run_sizes(args, "simulate, sdtm (not timed), adam", "trialkit-bench-adam-",
                        lambda n, work: run_size(n, args.study, args.seed, args.timeout, work))
    goals = targets(results)
    print_results(results, goals)
    write_results(args.out, "adam", args.study, git, BENCH_DIR, goals, results)
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
