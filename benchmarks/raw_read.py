"""Benchmark of reading raw exports: CSV against ODM-XML, by study size (time and peak memory).

For each size the study is simulated twice from one seed, ``--format csv`` and ``--format odm``
(each in its own child process, timed but not part of the reading). Then, each in a fresh Python
process so that its peak RSS is its own:

- read: ``trialkit.formats.read_export(folder)``, the reader every stage uses (all forms as text,
  with where each record came from); for a large ODM file, forked workers reading a range of
  SubjectData each (``trialkit.formats.odm_ranges``). Its CPU seconds (the process's and its
  workers') are recorded too: on a machine whose cores are busy the workers cannot help;
- one_pass (ODM only): the same read in one process (the ranges turned off), what read does
  without free cores;
- sdtm: the whole ``trialkit sdtm`` stage on the folder (``run_sdtm`` then ``write_sdtm``);
- floor: the least any reader of the format pays, for reference: the CSVs read as text with pandas
  (``dtype=str``); the ODM parsed in the streaming pass the reader is built on, doing nothing else
  (``lxml.etree.iterparse`` handing over each SubjectData, cleared with what precedes it), so no value
  is looked at.

The machine these run on is shared: read and floor run ``--repeat`` times each (fresh processes) and
the fastest run is kept (every time is in the JSON), the least noisy measure of what the code costs.

Target (issue 16): ODM at 100,000 subjects read in under 2 GiB of memory and within 3x of the CSV
path's reading time.

    python benchmarks/raw_read.py                          # 1000 10000 subjects
    python benchmarks/raw_read.py --sizes 1000 10000 100000 --timeout 3600
    python benchmarks/raw_read.py --sizes 1000 --keep /tmp/raw   # keep the exports and SDTM outputs
    python benchmarks/raw_read.py --sizes 10000 --skip-sdtm --out /tmp/raw_read.json   # reading only
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _common import SDTM, git_state, print_table, run_child, run_sizes, size_arguments, write_results

DEFAULT_OUT = BENCH_DIR / "results" / "raw_read.json"
FORMATS = ("csv", "odm")
ODM_MEMORY_MAX_MIB = 2048
ODM_TIME_RATIO_MAX = 3.0
TARGET_AT = 100_000

SIMULATE = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from _common import peak_rss_mib
    from trialkit.cli import run_simulation

    study, subjects, seed, fmt, out = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], Path(sys.argv[6])
    t0 = time.perf_counter()
    manifest = run_simulation(study, subjects, None if seed == "-" else int(seed), out, None, 0, 0.0, fmt)
    print(json.dumps({
        "seed": manifest["seed"],
        "rows": sum(f["rows"] for f in manifest["forms"].values()),
        "bytes": sum((out / f).stat().st_size for f in manifest["files"]),
        "simulate_s": time.perf_counter() - t0,
        "peak_rss_mib": peak_rss_mib(),
    }))
    """
)

READ = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from _common import peak_rss_mib
    from trialkit.formats import odm_ranges, read_export

    key = sys.argv[3]
    if key == "one_pass_s":
        odm_ranges.PARALLEL_MIN_BYTES = float("inf")
    def cpu():
        usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        return sum(u.ru_utime + u.ru_stime for u in usage), usage[1].ru_maxrss / 1024

    cpu0, t0 = cpu()[0], time.perf_counter()
    export = read_export(Path(sys.argv[2]))
    elapsed = time.perf_counter() - t0
    cpu1, workers_mib = cpu()
    print(json.dumps({
        "records": sum(len(f.frame) for f in export.forms.values()),
        key: elapsed,
        "cpu_s": cpu1 - cpu0,
        "peak_rss_mib": peak_rss_mib(),
        "workers_peak_rss_mib": workers_mib,
        "load_average": __import__("os").getloadavg()[0],
    }))
    """
)

FLOOR = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from _common import peak_rss_mib

    folder, fmt = Path(sys.argv[2]), sys.argv[3]
    t0 = time.perf_counter()
    if fmt == "csv":
        import pandas as pd
        records = sum(len(pd.read_csv(p, dtype=str, keep_default_na=False, na_filter=False))
                      for p in sorted(folder.glob("*.csv")))
    else:
        from lxml import etree
        records = 0
        for _, subject in etree.iterparse(str(folder / "export.xml"), tag="{http://www.cdisc.org/ns/odm/v1.3}SubjectData"):
            records += 1          # subjects, not records: nothing inside is looked at
            subject.clear()
            while subject.getprevious() is not None:
                del subject.getparent()[0]
    print(json.dumps({"records": records, "floor_s": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib()}))
    """
)


def fastest(code: str, args: list, timeout: float, repeat: int, key: str) -> dict:
    """The fastest of ``repeat`` runs of ``code`` in fresh processes, with every run's time under ``key``_all."""
    runs = [run_child(code, args, timeout) for _ in range(repeat)]
    done = [r for r in runs if key in r]
    if not done:
        return runs[0]
    return {**min(done, key=lambda r: r[key]), f"{key}_all": [r[key] for r in done]}


def run_size(subjects: int, args, work: Path) -> dict:
    """Simulate both formats, then read / sdtm / floor each in a fresh interpreter."""
    seed = "-" if args.seed is None else args.seed
    result: dict = {"subjects": subjects}
    for fmt in FORMATS:
        raw = work / f"raw_{fmt}"
        one = {"simulate": run_child(SIMULATE, [BENCH_DIR, args.study, subjects, seed, fmt, raw], args.timeout)}
        if "error" not in one["simulate"]:
            one["read"] = fastest(READ, [BENCH_DIR, raw, "read_s"], args.timeout, args.repeat, "read_s")
            if fmt == "odm":
                one["one_pass"] = fastest(READ, [BENCH_DIR, raw, "one_pass_s"], args.timeout, args.repeat, "one_pass_s")
            if not args.skip_sdtm:
                one["sdtm"] = run_child(SDTM, [BENCH_DIR, args.study, raw, work / f"sdtm_{fmt}"], args.timeout)
            one["floor"] = fastest(FLOOR, [BENCH_DIR, raw, fmt], args.timeout, args.repeat, "floor_s")
        for step, r in one.items():
            if "error" in r:
                print(f"  {subjects:,} subjects {fmt} {step} failed: {r['error']}", file=sys.stderr)
                for line in r.get("stderr_tail", [])[-3:]:
                    print(f"    {line}", file=sys.stderr)
        result[fmt] = one
    for step, key in (("read", "read_s"), ("sdtm", "sdtm_s"), ("floor", "floor_s")):
        csv, odm = result["csv"].get(step, {}), result["odm"].get(step, {})
        if key in csv and key in odm:
            result[f"odm_to_csv_{step}"] = odm[key] / csv[key]
    one_pass, csv_read = result["odm"].get("one_pass", {}), result["csv"].get("read", {})
    if "one_pass_s" in one_pass and "read_s" in csv_read:
        result["odm_one_pass_to_csv_read"] = one_pass["one_pass_s"] / csv_read["read_s"]
    read, floor = result["odm"].get("read", {}), result["odm"].get("floor", {})
    if "read_s" in read and "floor_s" in floor:
        result["odm_read_to_floor"] = read["read_s"] / floor["floor_s"]
    return result


def targets(results: list[dict]) -> dict:
    at = next((r for r in results if r["subjects"] == TARGET_AT), None)
    read = (at or {}).get("odm", {}).get("read", {})
    ratio = (at or {}).get("odm_to_csv_read")
    return {
        "odm_read_memory": {"max_mib": ODM_MEMORY_MAX_MIB, "at_subjects": TARGET_AT, "peak_rss_mib": read.get("peak_rss_mib"),
                            "met": None if "peak_rss_mib" not in read else read["peak_rss_mib"] < ODM_MEMORY_MAX_MIB},
        "odm_read_time": {"max_ratio_to_csv": ODM_TIME_RATIO_MAX, "at_subjects": TARGET_AT, "ratio": ratio,
                          "met": None if ratio is None else ratio <= ODM_TIME_RATIO_MAX},
    }


def _cell(r: dict, key: str, spec: str) -> str:
    return format(r[key], spec) if key in r else ("FAILED" if "error" in r else "")


def print_results(results: list[dict], goals: dict) -> None:
    headers = ["subjects", "format", "rows", "MB", "simulate s", "read s", "read CPU s", "read MiB", "one pass s",
               "one pass MiB", "sdtm s", "sdtm MiB", "floor s", "floor MiB"]
    rows = []
    for r in results:
        for fmt in FORMATS:
            one = r[fmt]
            sim, read, one_pass, sdtm, floor = (one.get(k, {}) for k in ("simulate", "read", "one_pass", "sdtm", "floor"))
            rows.append([f"{r['subjects']:,}", fmt, _cell(sim, "rows", ",d"),
                         f"{sim['bytes'] / 1e6:,.1f}" if "bytes" in sim else "", _cell(sim, "simulate_s", ".2f"),
                         _cell(read, "read_s", ".2f"), _cell(read, "cpu_s", ".2f"), _cell(read, "peak_rss_mib", ",.0f"),
                         _cell(one_pass, "one_pass_s", ".2f"), _cell(one_pass, "peak_rss_mib", ",.0f"),
                         _cell(sdtm, "sdtm_s", ".2f"), _cell(sdtm, "peak_rss_mib", ",.0f"),
                         _cell(floor, "floor_s", ".2f"), _cell(floor, "peak_rss_mib", ",.0f")])
    print_table("raw export reading: CSV and ODM (read = trialkit.formats.read_export)", headers, rows, width=190)
    for r in results:
        ratios = ", ".join(f"{step} {r[f'odm_to_csv_{step}']:.1f}x" for step in ("read", "sdtm", "floor")
                           if f"odm_to_csv_{step}" in r)
        floor = f"; ODM read / ODM floor {r['odm_read_to_floor']:.1f}x" if "odm_read_to_floor" in r else ""
        floor += f"; ODM one pass / CSV read {r['odm_one_pass_to_csv_read']:.1f}x" if "odm_one_pass_to_csv_read" in r else ""
        print(f"{r['subjects']:,} subjects: ODM / CSV time: {ratios or 'n/a'}{floor}")
    mem, time_ = goals["odm_read_memory"], goals["odm_read_time"]
    print(f"targets at {TARGET_AT:,} subjects: ODM read < {mem['max_mib']:,} MiB: "
          f"{'not measured' if mem['met'] is None else mem['met']}; within {time_['max_ratio_to_csv']:g}x of CSV: "
          f"{'not measured' if time_['met'] is None else time_['met']}")


def main(argv: list[str] | None = None) -> int:
    parser = size_arguments(__doc__.splitlines()[0], DEFAULT_OUT, "keep the exports and outputs under this folder")
    parser.add_argument("--repeat", type=int, default=3, help="runs of read and floor per format, the fastest kept [%(default)s]")
    parser.add_argument("--skip-sdtm", action="store_true", help="measure reading only (no sdtm stage)")
    parser.set_defaults(sizes=[1000, 10000])
    args = parser.parse_args(argv)
    git = git_state(BENCH_DIR)
    results = run_sizes(args, "simulate csv + odm, read, sdtm, floor", "trialkit-bench-raw-read-",
                        lambda n, work: run_size(n, args, work))
    goals = targets(results)
    print_results(results, goals)
    write_results(args.out, "raw_read", args.study, git, BENCH_DIR, goals, results)
    failed = any("error" in r[fmt].get(step, {}) for r in results for fmt in FORMATS for step in r[fmt])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
