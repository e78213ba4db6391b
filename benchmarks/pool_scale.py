"""Scale benchmark of a pooled database (issue 18): ``trialkit validate`` with the pandas engine and
with Spark, on pools of growing size.

For each total of subjects a pool is simulated with ``trialkit simulate --pool N`` (one study per
PER_STUDY subjects, at least 2; Parquet, ``<domain>/<STUDYID>.parquet``), timed but apart. Then each
engine validates it in a fresh ``trialkit validate --rules trialkit`` process (trialkit's rule
families, every one of which runs on both engines; the CORE rules, only part of which run on Spark,
are left out so that both engines do the same work):

- *pandas*: ``--engine pandera``. Before reading, trialkit.memory_budget estimates the memory the
  read needs; when that is more than the machine has, the command refuses (exit 2) and that refusal
  is the answer recorded ("refused"), never an out-of-memory kill.
- *spark*: ``--engine spark --spark-master local[2]`` (two worker threads, the JVM's heap at
  TRIALKIT_SPARK_DRIVER_MEMORY, 2g by default).

Each command's wall time and the peak resident memory of its whole process tree (the JVM Spark
starts included), sampled from /proc every 0.2 s, so Linux only; the load average at its start,
since the machine may be shared. The pandas engine's estimate and the memory available are
recorded for each size, so where pandas stops fitting is read off the table.

    python benchmarks/pool_scale.py                                  # 10000 30000 100000 subjects
    python benchmarks/pool_scale.py --sizes 10000 --keep /tmp/pools  # pools kept (and reused) there

A million subjects takes hours on 2 cores (the pool about an hour with ``--jobs 2``, then each
engine), more than one sitting; with ``--keep`` the steps may run apart, each its own results file:

    python benchmarks/pool_scale.py --sizes 1000000 --keep /work/pools --jobs 2 --engines   # the pool only
    python benchmarks/pool_scale.py --sizes 1000000 --keep /work/pools --engines spark --timeout 14400

A kept pool's simulation measurement is kept beside it (KEEP/<subjects>/simulate.json) and reported
with every later run on it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _common import git_state, print_table, size_arguments, table_rows, write_results

DEFAULT_OUT = BENCH_DIR / "results" / "pool_scale.json"
DEFAULT_SIZES = [10000, 30000, 100000]
PER_STUDY = 12500
MASTER = "local[2]"
TRIALKIT = [sys.executable, "-m", "trialkit.cli"]


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and every process descending from it, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return total


def measured(command: list[str], timeout: float) -> dict:
    """Run ``command``; its exit code, wall time, peak process-tree RSS and the tail of its stderr."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, cwd=tempfile.gettempdir())
        peak, done = [0], threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss_bytes(proc.pid))
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = None
        done.set()
        sampler.join()
        err.seek(0)
        tail = err.read().decode("utf-8", "replace").strip().splitlines()[-3:]
    return {"exit_code": code, "wall_s": round(time.perf_counter() - started, 2), "peak_tree_mib": round(peak[0] / 2 ** 20),
            "load_avg_1m": round(load, 2), "stderr_tail": tail}


def pool_facts(pool: Path) -> dict:
    """Records, Parquet bytes, and the pandas engine's memory estimate against what is available."""
    from trialkit.memory_budget import available_bytes, estimated_read_bytes
    from trialkit.validators.inputs import dataset_files_read, dataset_paths

    manifest = json.loads((pool / "manifest.json").read_text(encoding="utf-8"))
    files = dataset_files_read(dataset_paths(pool).values())
    needed, _ = estimated_read_bytes(files)
    return {"studies": len(manifest["studies"]), "records": sum(sum(s["records"].values()) for s in manifest["studies"]),
            "parquet_mib": round(sum(f.stat().st_size for f in files) / 2 ** 20, 1),
            "pandas_estimate_mib": round(needed / 2 ** 20), "available_mib": round((available_bytes() or 0) / 2 ** 20)}


def simulated_pool(subjects: int, args, pool: Path) -> dict:
    """``pool`` simulated with ``subjects`` in all (one study per PER_STUDY, at least 2; ``--jobs``
    processes) unless it is there from an earlier run (--keep): the result's start, with the
    simulation's measurement (kept beside the pool, so a later run reports it too), or its error."""
    result: dict = {"subjects": subjects}
    kept = pool.parent / "simulate.json"
    if not (pool / "manifest.json").is_file():
        studies = max(2, subjects // PER_STUDY)
        gen = measured([*TRIALKIT, "simulate", "--study", args.study, "--pool", str(studies), "--subjects",
                        str(subjects), "--seed", str(args.seed or 18), "--jobs", str(args.jobs), "--out", str(pool)],
                       args.timeout)
        gen["jobs"] = args.jobs
        if gen["exit_code"] != 0:
            return {**result, "simulate": gen, "stage": "simulate", "error": f"exit code {gen['exit_code']}"}
        kept.write_text(json.dumps(gen, indent=2) + "\n", encoding="utf-8")
    if kept.is_file():
        result["simulate"] = json.loads(kept.read_text(encoding="utf-8"))
    return result


ENGINES = ("pandas", "spark")


def run_size(subjects: int, args, work: Path) -> dict:
    pool = work / "pool"
    result = simulated_pool(subjects, args, pool)
    if "error" in result:
        return result
    result.update(pool_facts(pool))
    arguments = {"pandas": [], "spark": ["--engine", "spark", "--spark-master", args.master]}
    for engine in args.engines:
        run = measured([*TRIALKIT, "validate", str(pool), "--rules", "trialkit", *arguments[engine],
                        "--out", str(work / f"validation-{engine}.json")], args.timeout)
        run["refused"] = run["exit_code"] == 2 and any("needs at least" in line for line in run["stderr_tail"])
        result[engine] = run
    return result


def print_results(results: list[dict]) -> None:
    headers = ["subjects", "studies", "records", "Parquet MiB", "pandas est. MiB", "available MiB",
               "pandas s", "pandas peak MiB", "spark s", "spark peak MiB (JVM incl.)", "load"]

    def row_of(r: dict) -> list[str]:
        p, s = r.get("pandas"), r.get("spark")        # None: that engine not run this time (--engines)

        def wall(run: dict | None) -> str:
            if run is None:
                return "not run"
            if run["refused"]:
                return "refused"
            return f"{run['wall_s']:.1f}" if run["exit_code"] in (0, 1) else f"exit {run['exit_code']}"

        def peak(run: dict | None) -> str:
            return "" if run is None else f"{run['peak_tree_mib']:,}"
        loads = "/".join(str(run["load_avg_1m"]) for run in (p, s) if run is not None)
        return [f"{r['subjects']:,}", str(r["studies"]), f"{r['records']:,}", f"{r['parquet_mib']:,}",
                f"{r['pandas_estimate_mib']:,}", f"{r['available_mib']:,}", wall(p), peak(p), wall(s), peak(s), loads]
    rows = table_rows(results, len(headers), row_of)
    print_table(f"trialkit validate --rules trialkit on a pooled Parquet SDTM: pandas vs Spark {MASTER}", headers, rows,
                width=220)
    print("s: wall time of the whole command (Spark's JVM start included); peak: resident memory of the process tree")


def main(argv: list[str] | None = None) -> int:
    parser = size_arguments(__doc__.splitlines()[0], DEFAULT_OUT, "keep (and reuse) each size's pool in KEEP/<subjects>")
    parser.add_argument("--master", default=MASTER, help="Spark master [%(default)s]")
    parser.add_argument("--jobs", type=int, default=1, help="processes simulating a pool's studies [%(default)s]")
    parser.add_argument("--engines", nargs="*", choices=ENGINES, default=list(ENGINES),
                        help="engines validating each pool; none: the pools only (with --keep) [%(default)s]")
    parser.set_defaults(sizes=DEFAULT_SIZES, timeout=7200)
    args = parser.parse_args(argv)
    if not args.engines and args.keep is None:
        parser.error("--engines without an engine makes pools only, which --keep must keep")
    git = git_state(BENCH_DIR)
    results = []
    for n in args.sizes:
        print(f"{n:,} subjects: simulate --pool (if not kept), validate on pandas and on Spark ...", file=sys.stderr,
              flush=True)
        if args.keep is not None:
            (args.keep / str(n)).mkdir(parents=True, exist_ok=True)
            results.append(run_size(n, args, args.keep / str(n)))
        else:
            with tempfile.TemporaryDirectory(prefix="trialkit-bench-pool-") as tmp:
                results.append(run_size(n, args, Path(tmp)))
    print_results(results)
    ok = [r for r in results if "error" not in r and "spark" in r and r["spark"]["exit_code"] in (0, 1)]
    goals = {"spark_time_linear": {"sizes": [r["subjects"] for r in ok],
                                   "seconds_per_million_records": [round(r["spark"]["wall_s"] / r["records"] * 1e6, 2)
                                                                   for r in ok]}}
    write_results(args.out, "pool_scale", args.study, git, BENCH_DIR, goals, results)
    failed = [r for r in results if "error" in r or any(r[e]["exit_code"] not in (0, 1) and not r[e]["refused"]
                                                          for e in args.engines)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
