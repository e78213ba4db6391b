"""Benchmark of the report's trace pages (report/trace/: a page per table cell, a page per subject
counted): the report stage's seconds and peak memory with and without them, by study size.

Per size, the raw export is simulated and mapped to SDTM and ADaM (child processes, not timed); then
the report stage (trialkit.pipeline.report_stage) runs twice, each in a fresh interpreter on the same
ADaM: with the pages (as ``trialkit run`` writes them, from the run folder) and with
``--no-trace-pages``. Reported: seconds and peak RSS of each, the pages' count and total size, and,
since subject pages beyond the first batch are written by forked workers, the CPU seconds of the
process and its workers together and the peak RSS of the largest worker (ru_maxrss of children).
Targets (issue 17): the pages add at most about the report's own time, and peak memory does not
grow with the number of subjects beyond the frames read (ADaM, and the SDTM and raw forms traced).

    python benchmarks/report_trace.py [--sizes 111 1000 10000] [--out benchmarks/results/report_trace.json]
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SIMULATE, git_state, print_table, run_child, run_sizes, size_arguments, write_results

BENCH_DIR = Path(__file__).resolve().parent
ADDED_RATIO_MAX = 1.0          # the pages' seconds over the report's own

# SDTM and ADaM as trialkit run writes them (folder manifests, provenance.tsv): not timed.
DATA = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from trialkit import pipeline

    study, base = sys.argv[1], Path(sys.argv[2])
    pipeline.sdtm_stage(study, base / "raw", base / "sdtm")
    pipeline.adam_stage(study, base / "sdtm", base / "adam")
    print(json.dumps({}))
    """
)

# The report stage in a fresh interpreter, into its own folder: timed inside, peak RSS at the end.
REPORT = textwrap.dedent(
    """
    import json, resource, shutil, sys, time
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from _common import peak_rss_mib
    from trialkit import pipeline

    study, base, pages = sys.argv[2], Path(sys.argv[3]), sys.argv[4] == "pages"
    out = base / "report"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    pipeline.report_stage(study, base / "adam", out, trace_pages=pages, run=base, raw=base / "raw")
    seconds = time.perf_counter() - t0
    files = [p for p in (out / "trace").rglob("*.html")] if pages else []
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_rss_mib(), "cpu_s": sum(sum(resource.getrusage(who)[:2])
                      for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)),
                      "worker_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                      "cell_pages": sum(1 for p in files if p.parent.name == "cells"),
                      "subject_pages": sum(1 for p in files if p.parent.name == "subjects"),
                      "pages_mib": sum(p.stat().st_size for p in files) / 2**20,
                      "adam_mib": sum(p.stat().st_size for p in (base / "adam").glob("*.xpt")) / 2**20}))
    """
)


def run_one(args, subjects: int, work: Path) -> dict:
    seed = "-" if args.seed is None else str(args.seed)
    result = {"subjects": subjects}
    for stage, code, argv in (("simulate", SIMULATE, [args.study, subjects, seed, work / "raw"]),
                              ("sdtm and adam", DATA, [args.study, work])):
        done = run_child(code, argv, args.timeout)
        if "error" in done:
            return {**result, **done, "stage": stage}
    for label in ("plain", "pages"):
        measured = run_child(REPORT, [BENCH_DIR, args.study, work, label], args.timeout)
        if "error" in measured:
            return {**result, **measured, "stage": f"report ({label})"}
        result[label] = measured
    result["added_s"] = result["pages"]["seconds"] - result["plain"]["seconds"]
    result["added_ratio"] = result["added_s"] / result["plain"]["seconds"]
    return result


def goals(results: list[dict]) -> dict:
    done = [r for r in results if "pages" in r]
    worst = max((r["added_ratio"] for r in done), default=None)
    memory = [{"subjects": r["subjects"], "plain_mib": r["plain"]["peak_rss_mib"], "pages_mib": r["pages"]["peak_rss_mib"]}
              for r in done]
    return {"pages_add_at_most_the_report_time": {"max_ratio": ADDED_RATIO_MAX, "worst_ratio": worst,
                                                  "met": worst is not None and worst <= ADDED_RATIO_MAX},
            "peak_memory": {"by_size": memory, "met": None}}   # read by a person: see the README


def main() -> None:
    parser = size_arguments(__doc__.splitlines()[0], BENCH_DIR / "results" / "report_trace.json",
                            "keep each size's raw/, sdtm/, adam/ and report/ in KEEP/<subjects>")
    parser.set_defaults(sizes=[111, 1000, 10000])
    args = parser.parse_args()
    git = git_state(BENCH_DIR.parent)
    results = run_sizes(args, "simulate, sdtm, adam (not timed); report with and without trace pages",
                        "trialkit-report-trace-", lambda n, work: run_one(args, n, work))
    rows = [[f"{r['subjects']:,}", f"{r['plain']['seconds']:.1f}", f"{r['pages']['seconds']:.1f}", f"{r['added_ratio']:.1f}",
             f"{r['pages']['cell_pages']:,}", f"{r['pages']['subject_pages']:,}", f"{r['pages']['pages_mib']:,.0f}",
             f"{r['pages']['cpu_s']:.1f}", f"{r['plain']['peak_rss_mib']:,.0f}", f"{r['pages']['peak_rss_mib']:,.0f}",
             f"{r['pages']['worker_peak_rss_mib']:,.0f}", f"{r['pages']['adam_mib']:,.0f}"]
            for r in results if "pages" in r]
    headers = ["subjects", "report s", "with pages s", "added / report", "cell pages", "subject pages", "pages MiB",
               "with pages CPU s", "report MiB RSS", "with pages MiB RSS", "largest worker MiB RSS", "ADaM XPT MiB"]
    print_table("trialkit report: trace pages' cost", headers, rows, width=200)
    write_results(args.out, "report_trace", args.study, git, BENCH_DIR.parent, goals(results), results)


if __name__ == "__main__":
    main()
