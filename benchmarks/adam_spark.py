"""Benchmark of ``trialkit adam --engine spark`` (issue 18) against the pandas engine, on pooled databases.

For each total of subjects a pool is simulated with ``trialkit simulate --pool N`` (one study per
PER_STUDY subjects, at least 2; Parquet, ``<domain>/<STUDYID>.parquet``), timed but apart. Then:

- *pandas*: one process derives the studies one after the other with the pandas engine
  (trialkit.adam.engine.run_adam on each study's files), writing Parquet; the way to derive a pool
  without Spark. Its peak memory is the largest study's.
- *spark*: ``trialkit adam POOL --engine spark --format parquet --spark-master local[2]``, shares of
  ``--subjects-per-task`` subjects (the default, 5,000, unless given).

Each is a fresh process: wall time, peak resident memory of its process tree (the JVM and Spark's
Python workers included; pool_scale.measured), the load average at its start. The two outputs are
compared dataset by dataset (records and values, study by study), so a fast wrong answer shows.

    python benchmarks/adam_spark.py                                  # 10000 30000 100000 subjects
    python benchmarks/adam_spark.py --sizes 10000 --keep /tmp/pools  # pools kept (and reused) there
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _common import git_state, print_table, run_sizes, size_arguments, table_rows, write_results
from pool_scale import TRIALKIT, measured, simulated_pool

DEFAULT_OUT = BENCH_DIR / "results" / "adam_spark.json"
DEFAULT_SIZES = [10000, 30000, 100000]
MASTER = "local[2]"

# the pandas engine over a pool: each study's files as one study's folder (symlinks), derived in turn
PANDAS_POOL = """
import sys
from pathlib import Path
from trialkit.adam.engine import run_adam

study, pool, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
for dm in sorted((pool / "dm").glob("*.parquet")):
    alone = out / ".alone" / dm.stem
    alone.mkdir(parents=True)
    for folder in pool.iterdir():
        if (folder / dm.name).is_file():
            (alone / f"{folder.name}.parquet").symlink_to(folder / dm.name)
    run_adam(study, alone, out / dm.stem, formats=("parquet",))
"""

# the two outputs compared: (study, dataset) -> records, and whether every frame and its metadata agree
COMPARE = """
import json, sys
from pathlib import Path
from trialkit.formats.parquet import read_parquet

pandas_out, spark_out = Path(sys.argv[1]), Path(sys.argv[2])
records, differ = {}, []
for study in sorted(p.name for p in pandas_out.iterdir() if p.is_dir() and not p.name.startswith(".")):
    for path in sorted((pandas_out / study).glob("*.parquet")):
        (a, meta_a), (b, meta_b) = read_parquet(path), read_parquet(spark_out / path.stem / f"{study}.parquet")
        records[f"{study}/{path.stem.upper()}"] = len(a)
        if not (a.equals(b) and meta_a == meta_b):
            differ.append(f"{study}/{path.stem.upper()}")
print(json.dumps({"records": records, "differ": differ}))
"""


def run_size(subjects: int, args, work: Path) -> dict:
    import subprocess

    pool = work / "pool"
    result = simulated_pool(subjects, args, pool)
    if "error" in result:
        return result
    for old in ("adam-pandas", "adam-spark"):       # a kept size's outputs of an earlier run
        shutil.rmtree(work / old, ignore_errors=True)
    manifest = json.loads((pool / "manifest.json").read_text(encoding="utf-8"))
    result["studies"] = len(manifest["studies"])
    result["sdtm_records"] = sum(sum(s["records"].values()) for s in manifest["studies"])
    runs = {"pandas": [sys.executable, "-c", PANDAS_POOL, args.study, str(pool), str(work / "adam-pandas")],
            "spark": [*TRIALKIT, "adam", str(pool), "--study", args.study, "--out", str(work / "adam-spark"),
                      "--format", "parquet", "--engine", "spark", "--spark-master", args.master,
                      *(["--subjects-per-task", str(args.subjects_per_task)] if args.subjects_per_task else [])]}
    for engine, command in runs.items():
        result[engine] = measured(command, args.timeout)
        if result[engine]["exit_code"] != 0:
            return {**result, "stage": engine, "error": f"exit code {result[engine]['exit_code']}",
                    "stderr_tail": result[engine]["stderr_tail"]}
    compared = subprocess.run([sys.executable, "-c", COMPARE, str(work / "adam-pandas"), str(work / "adam-spark")],
                              capture_output=True, text=True, check=True)
    result.update(json.loads(compared.stdout))
    result["adam_records"] = sum(result["records"].values())
    return result


def print_results(results: list[dict]) -> None:
    headers = ["subjects", "studies", "SDTM records", "ADaM records", "pandas s", "pandas peak MiB", "spark s",
               "spark peak MiB (JVM, workers incl.)", "outputs", "load"]

    def row_of(r: dict) -> list[str]:
        p, s = r["pandas"], r["spark"]
        return [f"{r['subjects']:,}", str(r["studies"]), f"{r['sdtm_records']:,}", f"{r['adam_records']:,}",
                f"{p['wall_s']:.1f}", f"{p['peak_tree_mib']:,}", f"{s['wall_s']:.1f}", f"{s['peak_tree_mib']:,}",
                "equal" if not r["differ"] else f"DIFFER: {', '.join(r['differ'][:3])}", f"{p['load_avg_1m']}/{s['load_avg_1m']}"]
    rows = table_rows(results, len(headers), row_of)
    print_table(f"trialkit adam on a pooled Parquet SDTM: pandas (study by study) vs Spark {MASTER}", headers, rows,
                width=200)
    print("s: wall time of the whole command (Spark's JVM start included); peak: resident memory of the process tree")


def main(argv: list[str] | None = None) -> int:
    parser = size_arguments(__doc__.splitlines()[0], DEFAULT_OUT, "keep (and reuse) each size's pool in KEEP/<subjects>")
    parser.add_argument("--master", default=MASTER, help="Spark master [%(default)s]")
    parser.add_argument("--subjects-per-task", type=int, default=None, help="Spark shares [trialkit's default]")
    parser.set_defaults(sizes=DEFAULT_SIZES, timeout=7200)
    args = parser.parse_args(argv)
    git = git_state(BENCH_DIR)
    results = run_sizes(args, "simulate --pool (if not kept), adam on pandas and on Spark", "trialkit-bench-adam-spark-",
                        lambda n, work: run_size(n, args, work))
    print_results(results)
    ok = [r for r in results if "error" not in r]
    goals = {"same_records": all(not r["differ"] for r in ok),
             "spark_seconds_per_million_adam_records": [round(r["spark"]["wall_s"] / r["adam_records"] * 1e6, 2) for r in ok]}
    write_results(args.out, "adam_spark", args.study, git, BENCH_DIR, goals, results)
    return 1 if len(ok) < len(results) or not goals["same_records"] else 0


if __name__ == "__main__":
    sys.exit(main())
