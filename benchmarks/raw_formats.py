"""Benchmark of the raw export readers (``trialkit.formats.read_export``): time and peak memory per
format on one simulated export, and the ODM reader's memory against the size of the file.

The reference study's export is simulated once (``trialkit simulate``, not timed) and written again
as XPT and SAS7BDAT (pyreadstat) beside the CSV, and as an ODM 1.3.2 file by simulate's ODM writer
(``trialkit.simulate.odm.write_odm``, one SubjectData per subject), all from the same forms. Each read runs in a fresh Python process so that its peak RSS is its
own. ODM is streamed with iterparse: its peak memory should follow the records read (the frames it
returns), not the size of the XML, which is several times larger than the CSV export.

No target is set by the issue; the table is the measurement.

    python benchmarks/raw_formats.py                     # 2000 subjects
    python benchmarks/raw_formats.py --subjects 500 --out /tmp/raw_formats.json
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _common import git_state, print_table, run_child, write_results

DEFAULT_OUT = BENCH_DIR / "results" / "raw_formats.json"
STUDY = "ball_relapse"

READ = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, sys.argv[1])
    from _common import peak_rss_mib
    from trialkit.formats import read_export
    from trialkit.raw_dictionary import load_raw_dictionary
    from trialkit.simulate.odm import write_odm
    before = peak_rss_mib()
    t0 = time.perf_counter()
    export = read_export(sys.argv[2])
    seconds = time.perf_counter() - t0
    print(json.dumps({"format": export.format, "forms": len(export.forms),
                      "records": sum(len(f.frame) for f in export.forms.values()),
                      "read_s": seconds, "peak_rss_mib": peak_rss_mib(), "rss_before_mib": before}))
    """
)


def write_formats(csv_dir: Path, base: Path) -> dict[str, Path]:
    """The CSV export written again as XPT, SAS7BDAT and ODM; the paths to read, by format."""
    import pyreadstat

    from trialkit.formats import read_export
    from trialkit.raw_dictionary import load_raw_dictionary
    from trialkit.simulate.odm import write_odm

    forms = {n: f.frame for n, f in read_export(csv_dir).forms.items()}
    paths = {"csv": csv_dir}
    for fmt, write in (("xpt", pyreadstat.write_xport), ("sas7bdat", pyreadstat.write_sas7bdat)):
        folder = base / fmt
        folder.mkdir()
        for name, frame in forms.items():
            write(frame, str(folder / f"{name}.{fmt}"), **({"table_name": name[:8]} if fmt == "xpt" else {}))
        paths[fmt] = folder
    odm = base / "export.xml"
    write_odm(forms, load_raw_dictionary(STUDY), odm, study_oid=forms["dm"]["STUDYID"].iloc[0], file_oid="bench",
              created="2024-01-01T00:00:00")
    paths["odm"] = odm
    return paths


def size_mib(path: Path) -> float:
    files = [path] if path.is_file() else list(path.iterdir())
    return sum(p.stat().st_size for p in files) / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="trialkit-bench-raw-") as tmp:
        base = Path(tmp)
        subprocess.run([sys.executable, "-m", "trialkit.cli", "simulate", "--study", STUDY, "--subjects", str(args.subjects),
                        "--seed", "1", "--out", str(base / "csv")], check=True, capture_output=True)
        paths = write_formats(base / "csv", base)
        results = []
        for fmt, path in paths.items():
            result = run_child(READ, [BENCH_DIR, path], timeout=3600)
            results.append({"format": fmt, "subjects": args.subjects, "input_mib": size_mib(path), **result})
    rows = [[r["format"], f"{r['input_mib']:.1f}", str(r.get("records", "-")), f"{r.get('read_s', float('nan')):.2f}",
             f"{r.get('peak_rss_mib', float('nan')):.0f}", r.get("error", "")] for r in results]
    print_table(f"read_export, {args.subjects} subjects of {STUDY}",
                ["format", "input MiB", "records", "read s", "peak RSS MiB", "error"], rows)
    write_results(args.out, "raw_formats", STUDY, git_state(BENCH_DIR.parent), BENCH_DIR.parent, {}, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
