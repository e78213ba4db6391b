"""Benchmark of ``trialkit trace`` on the demo run: one trace, as a user types it, in a fresh process.

A demo run (``trialkit demo``, not timed; or ``--run DIR``, an existing one) is traced from:

- *ADTTE EFS*: one subject's EFS record (SRCDOM/SRCSEQ to RS, the start date through ADSL.yaml's
  steps to DS, both to their raw CSV rows): the target case;
- *ADSL RANDDT*: one ADSL variable through its steps;
- *ADSL, all variables*: every variable of one subject's ADSL record (about 20 SDTM records);
- *SDTM AE*: one AE record, every variable to its raw field;
- *--version*: the CLI's start-up alone (interpreter and imports), the floor of every case.

Each case is ``python -m trialkit.cli trace ...`` in a fresh interpreter, run ``--repeat`` times:
wall time around the whole process (interpreter start and imports included) and its CPU time. Then,
in one process, a report cell's worth: every EFS record of one arm traced in one call and written as
a page (trialkit.trace.pages.write_trace_pages), with the page's size.

Target (issue 17): one trace answers in under a second on the demo (median wall time, ADTTE EFS).

    python benchmarks/trace.py                      # builds a demo run in a temporary folder
    python benchmarks/trace.py --run trialkit-demo --repeat 9
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _common import git_state, print_table, run_child, write_results

DEFAULT_OUT = BENCH_DIR / "results" / "trace.json"
TARGET_S = 1.0

# The subjects and records the cases start from, picked from the run (a child: pandas stays out of this process).
PICK = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from trialkit.xpt import read_xpt

    run = Path(sys.argv[1])
    adtte = read_xpt(run / "adam" / "adtte.xpt")[0]
    efs = adtte[(adtte["PARAMCD"] == "EFS") & (adtte["SRCDOM"] == "RS")].iloc[0]
    ae = read_xpt(run / "sdtm" / "ae.xpt")[0].iloc[0]
    print(json.dumps({"efs": efs["USUBJID"], "arm": efs["ARM"], "ae": [ae["USUBJID"], str(int(ae["AESEQ"]))]}))
    """
)

# A report cell's worth: every EFS record of one arm, traced in one call and written as one page.
CELL = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    t0 = time.perf_counter()
    from trialkit.trace.chain import trace_adam_records
    from trialkit.trace.pages import write_trace_pages
    from trialkit.trace.run_folder import RunFolder
    from trialkit.xpt import read_xpt
    t1 = time.perf_counter()
    run, arm = RunFolder(Path(sys.argv[1])), sys.argv[2]
    adtte = read_xpt(run.path / "adam" / "adtte.xpt")[0]
    cell = adtte[(adtte["PARAMCD"] == "EFS") & (adtte["ARM"] == arm)][["USUBJID", "PARAMCD"]]
    trace = trace_adam_records(run, "ADTTE", cell, start="benchmark cell")
    t2 = time.perf_counter()
    [page] = write_trace_pages(run, {"benchmark/efs-" + arm: trace}).values()
    t3 = time.perf_counter()
    print(json.dumps({"records": len(trace.adam), "sdtm_records": len(trace.sdtm), "import_s": t1 - t0,
                      "trace_s": t2 - t1, "page_s": t3 - t2, "page_kib": (run.path / "report" / page).stat().st_size / 1024}))
    """
)


def timed(argv: list[str], repeat: int) -> dict:
    """``python -m trialkit.cli ARGV`` ``repeat`` times, each in a fresh interpreter: wall and CPU seconds."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "trialkit.cli", *argv], capture_output=True, text=True,
                              cwd=tempfile.gettempdir(), check=False)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            return {"error": f"exit code {done.returncode}", "stderr_tail": done.stderr.strip().splitlines()[-10:]}
    return {"wall_median_s": statistics.median(walls), "wall_min_s": min(walls), "wall_max_s": max(walls),
            "cpu_median_s": statistics.median(cpus), "repeat": repeat, "output_lines": done.stdout.count("\n")}


def measure(run: Path, repeat: int) -> dict:
    picked = run_child(PICK, [run], 300)
    if "error" in picked:
        return {"error": "picking the records failed", "detail": picked}
    cases = [("ADTTE EFS", ["trace", run, "--adam", "ADTTE", picked["efs"], "--paramcd", "EFS"]),
             ("ADSL RANDDT", ["trace", run, "--adam", "ADSL", picked["efs"], "--variable", "RANDDT"]),
             ("ADSL, all variables", ["trace", run, "--adam", "ADSL", picked["efs"]]),
             ("SDTM AE", ["trace", run, "--sdtm", "AE", *picked["ae"]]),
             ("--version", ["--version"])]
    try:
        load = os.getloadavg()[0]        # others' work on the machine skews the times
    except (AttributeError, OSError):
        load = None
    results = {"load_avg_1m": load, "cases": {}}
    for label, argv in cases:
        print(f"{label} ...", file=sys.stderr, flush=True)
        results["cases"][label] = timed([str(a) for a in argv], repeat)
    print("a report cell (every EFS record of one arm) ...", file=sys.stderr, flush=True)
    results["cell"] = run_child(CELL, [run, picked["arm"]], 600)
    return results


def print_results(results: dict, goals: dict) -> None:
    headers = ["case", "wall median s", "wall min s", "wall max s", "CPU median s", "output lines"]
    rows = []
    for label, r in results["cases"].items():
        if "error" in r:
            rows.append([label, f"FAILED: {r['error']}", "", "", "", ""])
            continue
        rows.append([label, f"{r['wall_median_s']:.2f}", f"{r['wall_min_s']:.2f}", f"{r['wall_max_s']:.2f}",
                     f"{r['cpu_median_s']:.2f}", str(r["output_lines"])])
    print_table(f"trialkit trace on the demo run, fresh process each (load {results['load_avg_1m']})", headers, rows)
    cell = results["cell"]
    if "error" not in cell:
        print(f"report cell: {cell['records']} ADTTE records, {cell['sdtm_records']} SDTM records traced in "
              f"{cell['trace_s']:.2f} s (imports {cell['import_s']:.2f} s), page written in {cell['page_s']:.2f} s, "
              f"{cell['page_kib']:.0f} KiB")
    goal = goals["one_trace_under_1s"]
    print(f"target: one trace (ADTTE EFS) under {TARGET_S:g} s in a fresh process: "
          f"{ {True: 'met', False: 'NOT met', None: 'not measured'}[goal['met']]} ({goal['wall_median_s']} s median)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None, help="an existing demo or run output [a new demo run]")
    parser.add_argument("--repeat", type=int, default=5, help="runs per case [%(default)s]")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file [%(default)s]")
    args = parser.parse_args(argv)
    git = git_state(BENCH_DIR)
    with tempfile.TemporaryDirectory(prefix="trialkit-bench-trace-") as tmp:
        run = Path(tmp) / "demo"
        if args.run is None:
            print("demo run (not timed) ...", file=sys.stderr, flush=True)
            subprocess.run([sys.executable, "-m", "trialkit.cli", "demo", "--out", str(run)], capture_output=True,
                           cwd=tempfile.gettempdir(), check=True)
        else:                            # a copy: the cell's page is written into the run's report/
            shutil.copytree(args.run, run, ignore=shutil.ignore_patterns("validation"))
        results = measure(run, args.repeat)
    if "error" in results:
        print(results, file=sys.stderr)
        return 1
    efs = results["cases"]["ADTTE EFS"]
    goals = {"one_trace_under_1s": {"max_s": TARGET_S, "wall_median_s": efs.get("wall_median_s"),
                                    "met": None if "error" in efs else efs["wall_median_s"] < TARGET_S}}
    print_results(results, goals)
    write_results(args.out, "trace", "ball_relapse", git, BENCH_DIR, goals, [results])
    return 1 if any("error" in r for r in [*results["cases"].values(), results["cell"]]) else 0


if __name__ == "__main__":
    sys.exit(main())
