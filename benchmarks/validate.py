"""Benchmark of ``trialkit validate``: reading and rules time, peak memory and findings by study size,
against deriving the same data.

For each size the reference study's raw export is simulated (``trialkit simulate``), taken through
SDTM (``run_sdtm`` then ``write_sdtm``) and through ADaM (``run_adam(study, sdtm_dir, out)``), each
in its own child process and not timed as part of the benchmark. Then, in a fresh Python process:

- *validate*: ``trialkit.validators.run.validate(study, sdtm_dir, adam_dir)``, timed as a whole.
  *reading* is ``read_folder`` as ``validate`` calls it (wrapped in its namespace), once for the
  SDTM folder and once for the ADaM folder, each timed on its own; *rules* is the rest
  (``validate_sdtm``, ``check_adtte``, ``check_cross`` and the date conversion), with the rule
  families' own shares shown separately. Peak RSS is taken right after ``validate``, before
  anything else runs, so it is the validation's own (imports included). Findings are counted by
  severity.
- *derive*: in the same process, after validating, the same data derived again: ``run_sdtm`` on
  the same raw export, then ``run_adam`` on the benchmark's SDTM folder writing its ADaM XPTs to a
  scratch folder. ``derive_s`` is ``run_sdtm + run_adam``. ``write_sdtm`` of that run is timed too
  (to a scratch folder) and reported as ``derive_with_sdtm_write_s``, for reference.

Target (from the issue): validating never costs more than deriving the same data,
``validate_s / derive_s <= 1`` at every size.

    python benchmarks/validate.py                        # 1000 10000 subjects
    python benchmarks/validate.py --sizes 1000 10000 100000
    python benchmarks/validate.py --sizes 10000 --keep /tmp/bench   # keep the exports, SDTM and ADaM
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
    write_results,
)

DEFAULT_OUT = BENCH_DIR / "results" / "validate.json"
DEFAULT_SIZES = [1000, 10000]
RATIO_MAX = 1.0              # validate_s / derive_s



# Child 3: ADaM from the SDTM folder (not timed as part of the benchmark).
ADAM = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from _common import peak_rss_mib
    from trialkit.adam.engine import run_adam

    study, sdtm_dir, out = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    t0 = time.perf_counter()
    datasets = run_adam(study, sdtm_dir, out)
    t1 = time.perf_counter()
    print(json.dumps({
        "records": sum(len(f) for f in datasets.values()),
        "records_by_dataset": {name: len(frame) for name, frame in datasets.items()},
        "xpt_bytes": sum(p.stat().st_size for p in out.glob("*.xpt")),
        "adam_s": t1 - t0,
        "peak_rss_mib": peak_rss_mib(),
    }))
    """
)

# Child 4: validate (reading and rules), then derive the same data for comparison.
VALIDATE = textwrap.dedent(
    """
    import json, sys, time
    from collections import Counter
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from _common import peak_rss_mib

    t0 = time.perf_counter()
    from trialkit.validators import run
    t1 = time.perf_counter()
    rss_setup = peak_rss_mib()

    study, raw, sdtm_dir, adam_dir, scratch = (sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]),
                                               Path(sys.argv[5]), Path(sys.argv[6]))

    # validate looks these names up in its module's namespace when it runs: wrap them there
    reads, parts = [], {}
    real_read_folder = run.read_folder
    def timed_read_folder(folder, *args):
        start = time.perf_counter()
        try:
            return real_read_folder(folder, *args)
        finally:
            reads.append((Path(folder), time.perf_counter() - start))
    run.read_folder = timed_read_folder

    def wrap(name):
        real = getattr(run, name)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                entry = parts.setdefault(name, {"s": 0.0, "calls": 0})
                entry["s"] += time.perf_counter() - start
                entry["calls"] += 1
        setattr(run, name, timed)
    for name in ("validate_sdtm", "check_adtte", "check_cross", "load_adam_spec"):
        if callable(getattr(run, name, None)):
            wrap(name)

    t2 = time.perf_counter()
    result = run.validate(study, sdtm_dir, adam_dir)
    findings, checked = result.findings, result.datasets
    t3 = time.perf_counter()
    rss_validate = peak_rss_mib()

    validate_s = t3 - t2
    read_sdtm_s = sum(s for folder, s in reads if folder == sdtm_dir)
    read_adam_s = sum(s for folder, s in reads if folder == adam_dir)
    reading_s = sum(s for _, s in reads)
    by_severity = Counter(f.severity for f in findings)
    by_rule = Counter(f.rule for f in findings)
    n_findings = len(findings)
    del findings

    # derive the same data: run_sdtm on the same export, run_adam on the same SDTM folder
    from trialkit.sdtm.engine import run_sdtm
    from trialkit.sdtm.output import write_sdtm
    from trialkit.adam.engine import run_adam
    d0 = time.perf_counter()
    result = run_sdtm(study, raw)
    d1 = time.perf_counter()
    write_sdtm(result, scratch / "sdtm")
    d2 = time.perf_counter()
    del result
    d3 = time.perf_counter()
    datasets = run_adam(study, sdtm_dir, scratch / "adam")
    d4 = time.perf_counter()
    del datasets

    run_sdtm_s, write_sdtm_s, run_adam_s = d1 - d0, d2 - d1, d4 - d3
    derive_s = run_sdtm_s + run_adam_s

    print(json.dumps({
        "datasets_checked": checked,
        "sdtm_xpt_bytes": sum(p.stat().st_size for p in sdtm_dir.glob("*.xpt")),
        "adam_xpt_bytes": sum(p.stat().st_size for p in adam_dir.glob("*.xpt")),
        "import_s": t1 - t0,
        "validate_s": validate_s,
        "reading_s": reading_s,
        "read_sdtm_folder_s": read_sdtm_s,
        "read_adam_folder_s": read_adam_s,
        "read_folder_calls": len(reads),
        "rules_s": validate_s - reading_s,
        "rules_s_by_part": {n: v["s"] for n, v in parts.items()},
        "findings": n_findings,
        "findings_by_severity": {s: by_severity.get(s, 0) for s in ("error", "warning", "notice")},
        "findings_by_rule": dict(sorted(by_rule.items())),
        "rss_after_imports_mib": rss_setup,
        "peak_rss_mib": rss_validate,
        "run_sdtm_s": run_sdtm_s,
        "write_sdtm_s": write_sdtm_s,
        "run_adam_s": run_adam_s,
        "derive_s": derive_s,
        "derive_with_sdtm_write_s": derive_s + write_sdtm_s,
        "validate_over_derive": validate_s / derive_s if derive_s else None,
        "peak_rss_after_derive_mib": peak_rss_mib(),
    }))
    """
)


def run_size(subjects: int, study: str, seed: int | None, timeout: float, work: Path) -> dict:
    """Simulate the export, run SDTM and ADaM (not timed), then validate and derive in a fresh interpreter."""
    raw, sdtm, adam, scratch = work / "raw", work / "sdtm", work / "adam", work / "derive"
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

    adam_run = run_child(ADAM, [BENCH_DIR, study, sdtm, adam], timeout)
    if "error" in adam_run:
        return {**result, "stage": "adam", **adam_run}
    result["adam"] = adam_run

    scratch.mkdir(parents=True, exist_ok=True)
    run = run_child(VALIDATE, [BENCH_DIR, study, raw, sdtm, adam, scratch], timeout)
    if "error" in run:
        return {**result, "stage": "validate", **run}
    result.update(run)
    result["records_checked"] = setup["records"] + adam_run["records"]
    result["validate_records_per_s"] = result["records_checked"] / run["validate_s"] if run["validate_s"] else None
    result["validate_subjects_per_s"] = subjects / run["validate_s"] if run["validate_s"] else None
    return result


def targets(results: list[dict]) -> dict:
    ok = sorted((r for r in results if "error" not in r), key=lambda r: r["subjects"])
    sizes = []
    for r in ok:
        ratio = r["validate_over_derive"]
        sizes.append({"subjects": r["subjects"], "validate_s": r["validate_s"], "derive_s": r["derive_s"],
                      "validate_over_derive": ratio,
                      "met": ratio is not None and ratio <= RATIO_MAX})
    return {"validate_within_derive": {
        "max_ratio": RATIO_MAX,
        "derive": "run_sdtm(study, raw) + run_adam(study, sdtm_dir, out), in the validating process after it",
        "sizes": sizes,
        "met": all(s["met"] for s in sizes) if sizes else None}}


def _fmt(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def print_results(results: list[dict], goals: dict) -> None:
    headers = ["subjects", "records", "read SDTM s", "read ADaM s", "reading s", "rules s", "validate s",
               "peak RSS MiB", "errors", "warnings", "notices", "run_sdtm s", "run_adam s", "derive s",
               "validate/derive"]
    table_rows = []
    for r in results:
        if "error" in r:
            table_rows.append([f"{r['subjects']:,}", f"FAILED ({r['stage']}): {r['error']}",
                               *[""] * (len(headers) - 2)])
            continue
        sev = r["findings_by_severity"]
        table_rows.append([
            f"{r['subjects']:,}", f"{r['records_checked']:,}",
            f"{r['read_sdtm_folder_s']:.2f}", f"{r['read_adam_folder_s']:.2f}", f"{r['reading_s']:.2f}",
            f"{r['rules_s']:.2f}", f"{r['validate_s']:.2f}", f"{r['peak_rss_mib']:,.0f}",
            f"{sev['error']:,}", f"{sev['warning']:,}", f"{sev['notice']:,}",
            f"{r['run_sdtm_s']:.2f}", f"{r['run_adam_s']:.2f}", f"{r['derive_s']:.2f}",
            _fmt(r["validate_over_derive"], ".2f"),
        ])
    print_table("trialkit validate (validate: read_folder x2 + rules) vs deriving (run_sdtm + run_adam)",
                headers, table_rows, width=220)
    print("reading s: read_folder of the SDTM and ADaM folders; rules s: the rest of validate; "
          "derive s: run_sdtm + run_adam on the same data")
    for r in results:
        if "error" not in r:
            parts = ", ".join(f"{n} {s:.2f}" for n, s in r["rules_s_by_part"].items())
            print(f"{r['subjects']:,} subjects rules by part: {parts}")
    verdict = {True: "met", False: "NOT met", None: "not measured"}
    for s in goals["validate_within_derive"]["sizes"]:
        print(f"validate <= derive at {s['subjects']:,} subjects: {s['validate_s']:.2f} s vs "
              f"{s['derive_s']:.2f} s = {s['validate_over_derive']:.2f}x ({verdict[s['met']]})")
    if not goals["validate_within_derive"]["sizes"]:
        print("validate <= derive: not measured (no size ran)")


def main(argv: list[str] | None = None) -> int:
    parser = size_arguments(__doc__.splitlines()[0], DEFAULT_OUT,
                            "keep each size's export, SDTM and ADaM in KEEP/<subjects> (default: a removed temporary folder)")
    parser.set_defaults(sizes=DEFAULT_SIZES)
    args = parser.parse_args(argv)
    git = git_state(BENCH_DIR)
    results = run_sizes(args, "simulate, sdtm, adam (not timed), validate + derive", "trialkit-bench-validate-",
                        lambda n, work: run_size(n, args.study, args.seed, args.timeout, work))
    goals = targets(results)
    print_results(results, goals)
    write_results(args.out, "validate", args.study, git, BENCH_DIR, goals, results)
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
