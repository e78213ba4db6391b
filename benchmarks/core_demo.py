"""CDISC CORE rules on trialkit's own demo SDTM: trialkit's interpreter against the CORE engine 0.17.1,
both example studies (BALLR01, `trialkit demo`; ONCO02, `trialkit demo --study solid_tumour`).

    python benchmarks/core_demo.py                                   # trialkit; CORE from the kept digests
    python benchmarks/core_demo.py --with-core --cache /tmp/core-cache-full    # also run CORE (~4-10 min each)
    python benchmarks/core_demo.py --core-report ballr01=core.json   # digest a CORE report of the same SDTM

Each study's demo is written afresh (`trialkit demo`, its default seed) and its SDTM read back. trialkit
runs the CORE rules CDISC publishes (specs/rules/core) on it, as CORE 0.17.1 runs them: not the study's
own correction of CORE-000192 (specs/studies/<study>/rules), which `trialkit demo` runs instead of the
published rule. The comparison is validators.core.parity's, rule by rule, record by record, against
CORE's digest (benchmarks/results/core_demo_<study>_*); CORE's cache must hold full library metadata
(benchmarks/core_library_cache.py), or it skips about half the rules. ``--core-report`` digests a CORE
JSON report made elsewhere on this SDTM (the demos are deterministic: the benchmark checks nothing but
the data's digest it records). Writes benchmarks/results/core_demo.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _common import machine_info, print_table  # noqa: E402
from core_pilot import CORE_VALIDATE, RESULTS, cache_provenance, measured, parity_summary, write_digest  # noqa: E402

STUDIES = {"ballr01": "ball_relapse", "onco02": "solid_tumour"}


def digest_paths(name: str) -> tuple[Path, Path]:
    return RESULTS / f"core_demo_{name}_issues.csv.gz", RESULTS / f"core_demo_{name}_rules.json"


def write_demo(study: str, out: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "trialkit.cli", "demo", "--study", study, "--out", str(out)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"trialkit demo --study {study} failed:\n{done.stderr[-2000:]}")


def sdtm_digest(sdtm: Path) -> str:
    """SHA-256 over the SDTM's records as read (not the XPT bytes, which carry the writing time)."""
    from trialkit.validators.inputs import read_folder

    frames, _ = read_folder(sdtm, "utf-8")
    sha = hashlib.sha256()
    for name in sorted(frames):
        sha.update(name.encode())
        sha.update(frames[name].astype(object).to_csv(index=False).encode())
    return sha.hexdigest()


def as_pandas_reads(sdtm: Path, frames: dict) -> dict[str, int]:
    """The records pandas' xport reader, which CORE reads XPT with, leaves out of each dataset:
    the dataset's last records, as ``read_sas`` counts them (``{name: records dropped}``)."""
    import pandas as pd

    dropped = {}
    for path in sorted(sdtm.glob("*.xpt")):
        name = path.stem.upper()
        seen = len(pd.read_sas(path, format="xport", encoding="utf-8"))
        if name in frames and seen < len(frames[name]):
            dropped[name] = len(frames[name]) - seen
            frames[name] = frames[name].iloc[:seen]
    return dropped


def trialkit_results(sdtm: Path, as_core_reads: bool = False) -> tuple[list, dict[str, int]]:
    """The published CORE rules on the SDTM through trialkit's interpreter (one process); with
    ``as_core_reads``, on the records pandas' xport reader gives CORE (and what it leaves out)."""
    from trialkit.validators.core.engine import run_rules
    from trialkit.validators.core.library import load_library
    from trialkit.validators.core.rules import load_rules, rules_folder
    from trialkit.validators.core.study import study_from_frames
    from trialkit.validators.inputs import read_folder

    files: dict = {}
    frames, _ = read_folder(sdtm, "utf-8", files)
    dropped = as_pandas_reads(sdtm, frames) if as_core_reads else {}
    define = sdtm / "define.xml"
    study = study_from_frames(frames, files, "sdtmig", "3.4", define if define.is_file() else None)
    return run_rules(load_rules(rules_folder("core"))[0], study, load_library("sdtmig", "3.4")), dropped


def core_run(sdtm: Path, out: Path, cache: Path) -> dict:
    result = measured([str(CORE_VALIDATE), str(sdtm), str(out), "--version", "3-4", "--ct", "sdtmct-2025-03-28"],
                      env=os.environ | {"CORE_CACHE": str(cache)})
    if "last_line" in result:
        result["summary"] = result.pop("last_line")
    return result


def study_parity(name: str, sdtm: Path, as_core_reads: bool = False) -> dict:
    """Rule-by-rule comparison with CORE's digest: trialkit on the SDTM as written, or on the records
    CORE's XPT reader sees (``as_core_reads``)."""
    from trialkit.validators.core.parity import Reference, compare

    results, dropped = trialkit_results(sdtm, as_core_reads)
    return parity_summary(compare(results, Reference.read(*digest_paths(name)))) | {"records_core_cannot_read": dropped}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-core", action="store_true", help="also run the CORE engine on each demo (slow)")
    parser.add_argument("--cache", type=Path, help="CORE's cache with CDISC Library metadata (core_library_cache.py)")
    parser.add_argument("--core-report", action="append", default=[], metavar="STUDY=JSON",
                        help="digest this CORE JSON report of the demo's SDTM (ballr01=..., onco02=...)")
    args = parser.parse_args(argv)
    if args.with_core and not args.cache:
        parser.error("--with-core needs --cache (CORE's offline cache has stub library metadata)")
    reports = dict(item.split("=", 1) for item in args.core_report)
    result: dict = {"machine": machine_info(), "studies": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, study in STUDIES.items():
            out = Path(tmp) / name
            write_demo(study, out)
            entry = {"study": study, "sdtm_sha256": sdtm_digest(out / "sdtm")}
            provenance = {"data": f"trialkit demo --study {study}; DIR/sdtm", "sdtm_sha256": entry["sdtm_sha256"],
                          "study": study}
            if args.with_core:
                entry["core"] = core_run(out / "sdtm", Path(tmp) / f"{name}.json", args.cache)
                if "error" not in entry["core"]:
                    write_digest(Path(tmp) / f"{name}.json", *digest_paths(name),
                                 cache_provenance(args.cache) | provenance | {"wall_seconds": entry["core"]["seconds"]})
            elif name in reports:
                write_digest(Path(reports[name]), *digest_paths(name),
                             provenance | {"library_metadata": "trialkit's SDTMIG 3.4 and SDTM v2.0 "
                                                               "(benchmarks/core_library_cache.py)",
                                           "core_report": f"{Path(reports[name]).name}, a CORE run on this SDTM"})
            recorded = json.loads(digest_paths(name)[1].read_text(encoding="utf-8"))
            entry["digest_matches_data"] = recorded.get("sdtm_sha256") == entry["sdtm_sha256"]
            entry["parity"] = study_parity(name, out / "sdtm")
            entry["parity_as_core_reads"] = study_parity(name, out / "sdtm", as_core_reads=True)
            result["studies"][name] = entry
    rows = []
    for name, entry in result["studies"].items():
        p, q = entry["parity"], entry["parity_as_core_reads"]
        rows.append([name, str(p["rules_firing_in_either"]), str(p["shipped_firing_in_either"]), str(p["shipped_agreeing"]),
                     f"{q['shipped_agreeing']} of {q['shipped_firing_in_either']}",
                     ", ".join(f"{k} {v}" for k, v in q["records_core_cannot_read"].items()) or "none",
                     "yes" if entry["digest_matches_data"] else "NO: digest of other data"])
    print_table("CORE rules on the demo SDTM: trialkit against CORE 0.17.1",
                ["study", "rules firing in either", "of them published", "agreeing",
                 "agreeing on what CORE reads", "records pandas' reader drops", "digest of this SDTM"], rows)
    for name, entry in result["studies"].items():
        for r in entry["parity"]["rules"]:
            if not r["agrees"]:
                print(f"  {name} {r['rule']}: CORE {r['core_status']} {r['core_records']} records, trialkit "
                      f"{r['trialkit_status']} {r['trialkit_records']}")
    (RESULTS / "core_demo.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
