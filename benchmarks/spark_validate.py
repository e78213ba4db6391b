"""Benchmark of ``trialkit validate --engine spark`` against the pandas engine, on Parquet SDTM.

For each size the reference study's raw export is simulated and taken through SDTM written as
Parquet (``write_sdtm(..., formats=("parquet",))``), each in its own child process, not timed. Then
each engine validates the folder in a fresh Python process, trialkit's rules only (``rules=("trialkit",)``;
the CORE rules do not run on Spark yet, and the Spark engine lists them without running them):

- *pandas*: ``validate(None, sdtm_dir, rules=("trialkit",))`` as ``trialkit validate`` runs it.
- *spark*: the session (``local[2]`` by default: two worker threads, as in CI) is started first and
  timed on its own (``session_s``: JVM start); then the same call with ``engine="spark"``.

``schemas_s`` is the time of the family both engines run, "TK-SDTM (schemas)" (TK-SDTM-0001..0012),
from the run's own rule timings; ``validate_s`` is the whole call (on Spark it runs the schema and
mapping families and lists the rest as not run, so compare ``schemas_s``). ``same_findings`` says
whether the schema findings of the two engines are equal, field for field. No target is set yet:
this records where the Spark engine stands against pandas on one machine.

    python benchmarks/spark_validate.py                       # 1000 10000 subjects, local[2]
    python benchmarks/spark_validate.py --sizes 1000 --master 'local[*]'
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _common import (
    SIMULATE,
    git_state,
    print_table,
    run_child,
    run_sizes,
    size_arguments,
    table_rows,
    write_results,
)

DEFAULT_OUT = BENCH_DIR / "results" / "spark_validate.json"
DEFAULT_SIZES = [1000, 10000]

# SDTM as Parquet (a child process; not timed as part of the benchmark).
SDTM_PARQUET = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from trialkit.sdtm.engine import run_sdtm
    from trialkit.sdtm.output import write_sdtm

    study, raw, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    summary = write_sdtm(run_sdtm(study, raw), out, formats=("parquet",))
    print(json.dumps({"records": sum(d["records"] for d in summary["datasets"].values()),
                      "parquet_bytes": sum(p.stat().st_size for p in out.glob("*.parquet"))}))
    """
)

# One engine's validation, in a fresh process.
VALIDATE = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from _common import peak_rss_mib
    from trialkit.validators.run import validate

    engine, sdtm_dir, master = sys.argv[2], Path(sys.argv[3]), sys.argv[4]
    session_s = None
    if engine == "spark":
        from trialkit.spark_session import spark_session
        t0 = time.perf_counter()
        spark_session(master).range(1).count()
        session_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    run = validate(None, sdtm_dir, rules=("trialkit",), jobs=1,
                   **({"engine": "spark", "spark_master": master} if engine == "spark" else {}))
    validate_s = time.perf_counter() - t1
    schemas = [f.to_dict() for f in run.findings if f.rule.startswith("TK-SDTM-00") and int(f.rule[-2:]) <= 12]
    print(json.dumps({
        "session_s": session_s,
        "validate_s": validate_s,
        "schemas_s": next(r.seconds for r in run.rules if r.id == "TK-SDTM (schemas)"),
        "schema_findings": sorted(json.dumps(f, sort_keys=True) for f in schemas),
        "not_run": sum(r.status == "not executed" for r in run.rules),
        "peak_rss_mib_python": peak_rss_mib(),
    }))
    """
)


def run_size(subjects: int, study: str, seed: int | None, timeout: float, master: str, work: Path) -> dict:
    raw, sdtm = work / "raw", work / "sdtm"
    result: dict = {"subjects": subjects, "master": master}
    try:
        result["load_avg_1m"] = os.getloadavg()[0]  # others' work on the machine skews the times
    except (AttributeError, OSError):
        result["load_avg_1m"] = None
    export = run_child(SIMULATE, [study, subjects, "-" if seed is None else seed, raw], timeout)
    if "error" in export:
        return {**result, "stage": "simulate", **export}
    setup = run_child(SDTM_PARQUET, [study, raw, sdtm], timeout)
    if "error" in setup:
        return {**result, "stage": "sdtm", **setup}
    result.update(seed=export["seed"], records=setup["records"], parquet_bytes=setup["parquet_bytes"])
    for engine in ("pandas", "spark"):
        run = run_child(VALIDATE, [BENCH_DIR, engine, sdtm, master], timeout)
        if "error" in run:
            return {**result, "stage": f"validate ({engine})", **run}
        result[engine] = run
    result["same_findings"] = result["pandas"]["schema_findings"] == result["spark"]["schema_findings"]
    result["schema_findings"] = len(result["pandas"]["schema_findings"])
    for engine in ("pandas", "spark"):
        del result[engine]["schema_findings"]
    return result


def print_results(results: list[dict]) -> None:
    headers = ["subjects", "records", "pandas schemas s", "pandas validate s", "spark session s", "spark schemas s",
               "spark validate s", "spark/pandas (schemas)", "findings", "same findings"]

    def row_of(r: dict) -> list[str]:
        p, s = r["pandas"], r["spark"]
        return [f"{r['subjects']:,}", f"{r['records']:,}", f"{p['schemas_s']:.2f}", f"{p['validate_s']:.2f}",
                f"{s['session_s']:.2f}", f"{s['schemas_s']:.2f}", f"{s['validate_s']:.2f}",
                f"{s['schemas_s'] / p['schemas_s']:.1f}x" if p["schemas_s"] else "", f"{r['schema_findings']:,}",
                "yes" if r["same_findings"] else "NO"]
    rows = table_rows(results, len(headers), row_of)
    print_table("trialkit validate on Parquet SDTM: pandas engine vs Spark engine (trialkit rules)", headers, rows,
                width=200)
    print("schemas s: the TK-SDTM (schemas) family, which both engines run; session s: Spark's JVM start, apart")


def main(argv: list[str] | None = None) -> int:
    parser = size_arguments(__doc__.splitlines()[0], DEFAULT_OUT,
                            "keep each size's export and Parquet SDTM in KEEP/<subjects>")
    parser.add_argument("--master", default="local[2]", help="Spark master [%(default)s]")
    parser.set_defaults(sizes=DEFAULT_SIZES)
    args = parser.parse_args(argv)
    git = git_state(BENCH_DIR)
    results = run_sizes(args, "simulate, sdtm as Parquet (not timed), validate on pandas and on Spark",
                        "trialkit-bench-spark-", lambda n, work: run_size(n, args.study, args.seed, args.timeout,
                                                                          args.master, work))
    print_results(results)
    ok = [r for r in results if "error" not in r]
    goals = {"same_schema_findings": {"sizes": [r["subjects"] for r in ok],
                                      "met": all(r["same_findings"] for r in ok) if ok else None}}
    write_results(args.out, "spark_validate", args.study, git, BENCH_DIR, goals, results)
    return 1 if any("error" in r for r in results) or goals["same_schema_findings"]["met"] is False else 0


if __name__ == "__main__":
    sys.exit(main())
