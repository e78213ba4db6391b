"""Benchmark of ``trialkit simulate``: time, peak memory and throughput by study size.

Each size runs in a fresh Python process, so that the peak RSS reported is that size's own. The child
does the work of ``trialkit simulate --subjects N --out TMP`` (load the profile and the raw
dictionary, ``simulate_study``, ``write_export`` to a temporary folder that is removed afterwards),
timing each step with ``time.perf_counter`` and reading its peak RSS with ``getrusage``.

    python benchmarks/simulate.py                       # 1000 10000 100000 subjects
    python benchmarks/simulate.py --sizes 500 5000 --out /tmp/sim.json
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_table, run_child  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "simulate.json"

# Runs in the child; prints one JSON object on its last stdout line.
CHILD = textwrap.dedent(
    """
    import json, resource, sys, tempfile, time
    from pathlib import Path

    t0 = time.perf_counter()
    from trialkit.raw_dictionary import load_raw_dictionary
    from trialkit.simulate.profile import load_profile
    from trialkit.simulate.study import simulate_study
    from trialkit.simulate.writer import write_export
    from trialkit.spec import study_dir

    study, subjects, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

    def peak_mib():
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
        return kib / (1024 * 1024) if sys.platform == "darwin" else kib / 1024

    t1 = time.perf_counter()
    profile = load_profile(study)
    dictionary = load_raw_dictionary(study)
    if seed < 0:
        seed = profile.study.demo_seed
    t2 = time.perf_counter()
    rss_before = peak_mib()
    simulated = simulate_study(profile, subjects, seed)
    t3 = time.perf_counter()
    rss_simulate = peak_mib()
    with tempfile.TemporaryDirectory(prefix="trialkit-bench-") as tmp:
        out = Path(tmp) / "export"
        manifest = write_export(simulated, dictionary, out, profile_path=study_dir(study) / "profile.yaml")
        t4 = time.perf_counter()
        written = sum(p.stat().st_size for p in out.iterdir())
    rows = sum(f["rows"] for f in manifest["forms"].values())
    print(json.dumps({
        "subjects": manifest["subjects"],
        "seed": seed,
        "forms": len(manifest["forms"]),
        "rows": rows,
        "rows_by_form": {name: f["rows"] for name, f in manifest["forms"].items()},
        "bytes_written": written,
        "import_s": t1 - t0,
        "load_specs_s": t2 - t1,
        "simulate_study_s": t3 - t2,
        "write_export_s": t4 - t3,
        "total_s": t4 - t0,
        "rss_after_setup_mib": rss_before,
        "peak_rss_simulate_mib": rss_simulate,
        "peak_rss_mib": peak_mib(),
    }))
    """
)


def run_size(subjects: int, study: str, seed: int, timeout: float) -> dict:
    """Run one size in a fresh interpreter; wall time measured here too, around the whole child."""
    result = run_child(CHILD, [study, subjects, seed], timeout)
    if "error" in result:
        return {"subjects": subjects, **result}
    work = result["simulate_study_s"] + result["write_export_s"]
    result["rows_per_s"] = result["rows"] / work if work > 0 else None
    result["subjects_per_s"] = result["subjects"] / work if work > 0 else None
    return result


def print_results(results: list[dict]) -> None:
    headers = ["subjects", "rows", "MB written", "simulate s", "write s", "total s", "peak RSS MiB", "rows/s"]
    table_rows = []
    for r in results:
        if "error" in r:
            table_rows.append([f"{r['subjects']:,}", "FAILED: " + r["error"], "", "", "", "", "", ""])
            continue
        table_rows.append([
            f"{r['subjects']:,}", f"{r['rows']:,}", f"{r['bytes_written'] / 1e6:,.1f}",
            f"{r['simulate_study_s']:.2f}", f"{r['write_export_s']:.2f}", f"{r['total_s']:.2f}",
            f"{r['peak_rss_mib']:,.0f}", f"{r['rows_per_s']:,.0f}",
        ])
    print_table("trialkit simulate", headers, table_rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000], help="numbers of subjects")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file [%(default)s]")
    parser.add_argument("--study", default="ball_relapse", help="shipped study name or study folder")
    parser.add_argument("--seed", type=int, default=-1, help="random seed [the profile's demo seed]")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per size")
    args = parser.parse_args(argv)

    results = []
    for n in args.sizes:
        print(f"simulating {n:,} subjects ...", file=sys.stderr, flush=True)
        result = run_size(n, args.study, args.seed, args.timeout)
        if "error" in result:
            print(f"  {n:,} subjects failed: {result['error']}", file=sys.stderr)
            for line in result.get("stderr_tail", []):
                print(f"    {line}", file=sys.stderr)
        results.append(result)

    print_results(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": "simulate", "study": args.study, "machine": machine_info(), "results": results}
    args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"results: {args.out}", file=sys.stderr)
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
