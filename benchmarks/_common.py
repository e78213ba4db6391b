"""Helpers shared by the benchmark scripts: a fresh child interpreter per measurement, the machine's
description for the JSON results, and the results table.

Standard library only (rich is used when installed), so that a child process can import it too
without paying for pandas.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import textwrap
import time


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run_child(code: str, args: list, timeout: float, cwd: str | None = None) -> dict:
    """Run ``code`` in a fresh interpreter with ``args`` as sys.argv[1:].

    The child prints one JSON object on its last stdout line; that object is returned with
    ``process_wall_s`` (wall time around the whole child, interpreter start included) added. A child
    that times out or fails gives ``{"error": ...}`` instead, with the tail of its stderr and its wall
    time when it ended by itself. Children run in the temporary folder unless told otherwise: ``-c``
    puts the working directory on sys.path, and from the source checkout its stage folders
    (validators/...) would shadow PyPI packages of the same name.
    """
    cwd = cwd or tempfile.gettempdir()
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", code, *(str(a) for a in args)],
                              capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-15:]
        how = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit code {proc.returncode}"
        return {"error": how, "stderr_tail": tail, "wall_s": wall}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = wall
    return result


def machine_info() -> dict:
    from importlib.metadata import version

    info = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
    }
    try:
        info["memory_total_mib"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError, AttributeError):
        info["memory_total_mib"] = None
    for package in ("trialkit", "numpy", "pandas"):
        try:
            info[package] = version(package)
        except Exception:  # noqa: BLE001 - informational only
            info[package] = None
    return info


def print_table(title: str, headers: list[str], rows: list[list[str]], width: int = 120) -> None:
    """Right-aligned table: rich when installed, plain columns otherwise. ``width`` is used when
    stdout is not a terminal (a pipe or a file), so the table is not squeezed into 80 columns."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
        print("  ".join(h.rjust(w) for h, w in zip(headers, widths)))
        for row in rows:
            print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        return
    table = Table(title=title)
    for h in headers:
        table.add_column(h, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    console = Console()
    if not console.is_terminal:
        console = Console(width=width)
    console.print(table)


def git_state(folder) -> dict:
    """The commit measured, and the tracked files outside benchmarks/ that differed from it."""

    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        # rstrip only: porcelain lines start with a status column that may be a space
        return proc.stdout.rstrip() if proc.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no", "--", ":(top)", ":(top,exclude)benchmarks")
    modified = None if status is None else [line[3:] for line in status.splitlines()]
    return {"commit": git("rev-parse", "HEAD"), "modified": modified}


def size_arguments(description: str, default_out, keep_help: str):
    """The command line every per-size pipeline benchmark takes."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000], help="numbers of subjects")
    parser.add_argument("--out", type=Path, default=default_out, help="JSON results file [%(default)s]")
    parser.add_argument("--study", default="ball_relapse", help="shipped study name or study folder")
    parser.add_argument("--seed", type=int, default=None, help="random seed [the profile's demo seed]")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per child process")
    parser.add_argument("--keep", type=Path, default=None, help=keep_help)
    return parser


def run_sizes(args, label: str, prefix: str, run_one) -> list[dict]:
    """``run_one(subjects, work_folder)`` for each size, in KEEP/<subjects> or a removed temporary
    folder; failures (of the run or of its ``floor``) are printed with the tail of their stderr."""
    import tempfile
    from pathlib import Path

    results = []
    for n in args.sizes:
        print(f"{n:,} subjects: {label} ...", file=sys.stderr, flush=True)
        if args.keep is not None:
            work = args.keep / str(n)
            work.mkdir(parents=True, exist_ok=True)
            result = run_one(n, work)
        else:
            with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
                result = run_one(n, Path(tmp))
        for what, r in (("", result), (" floor", result.get("floor", {}))):
            if "error" in r:
                print(f"  {n:,} subjects{what} failed ({r.get('stage', 'floor')}): {r['error']}", file=sys.stderr)
                for line in r.get("stderr_tail", []):
                    print(f"    {line}", file=sys.stderr)
        results.append(result)
    return results


def failed_row(result: dict, columns: int) -> list[str]:
    """A table row for a size whose run failed: the size, the stage that failed and its error, the
    other ``columns`` left empty (run_sizes has printed the child's stderr above)."""
    return [f"{result['subjects']:,}", f"FAILED ({result['stage']}): {result['error']}", *[""] * (columns - 2)]


def table_rows(results: list[dict], columns: int, row_of) -> list[list[str]]:
    """Each size's table row: ``row_of(result)``, or :func:`failed_row` for a size whose run failed."""
    return [failed_row(r, columns) if "error" in r else row_of(r) for r in results]


def write_results(out, benchmark: str, study: str, git: dict, folder, goals: dict, results: list[dict]) -> None:
    """The JSON result file, with the commit measured (and the commit after, if code changed meanwhile)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    git_after = git_state(folder)
    if git_after != git:  # the code changed under the benchmark
        git["commit_after"], git["modified_after"] = git_after["commit"], git_after["modified"]
    payload = {"benchmark": benchmark, "study": study, "machine": machine_info(), "git": git, "targets": goals,
               "results": results}
    out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"results: {out}", file=sys.stderr)


# The raw export every pipeline benchmark starts from (a child process; not timed as part of it).
SIMULATE = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from trialkit.cli import run_simulation

    study, subjects, seed, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    t0 = time.perf_counter()
    manifest = run_simulation(study, subjects, None if seed == "-" else int(seed), out, None, 0, 0.0)
    t1 = time.perf_counter()
    print(json.dumps({
        "subjects": manifest["subjects"],
        "seed": manifest["seed"],
        "rows": sum(f["rows"] for f in manifest["forms"].values()),
        "rows_by_form": {name: f["rows"] for name, f in manifest["forms"].items()},
        "csv_bytes": sum(p.stat().st_size for p in out.glob("*.csv")),
        "simulate_s": t1 - t0,
    }))
    """
)


# SDTM from a raw export, for the benchmarks of later stages (a child process; not timed there).
SDTM = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from _common import peak_rss_mib
    from trialkit.sdtm.engine import run_sdtm
    from trialkit.sdtm.output import write_sdtm

    study, raw, out = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    t0 = time.perf_counter()
    summary = write_sdtm(run_sdtm(study, raw), out)
    t1 = time.perf_counter()
    print(json.dumps({
        "records": sum(d["records"] for d in summary["datasets"].values()),
        "records_by_dataset": {d: v["records"] for d, v in summary["datasets"].items()},
        "errors": summary["errors"],
        "xpt_bytes": sum(p.stat().st_size for p in out.glob("*.xpt")),
        "sdtm_s": t1 - t0,
        "peak_rss_mib": peak_rss_mib(),
    }))
    """
)
