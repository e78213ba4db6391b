"""Tests of the ``trialkit`` command line (trialkit.cli).

Every command is run through click's CliRunner (stdout and stderr are separate streams since
click 8.2: ``result.stdout`` / ``result.stderr``), except the progress test, which runs the CLI in a
child process with real pipes for stdout and stderr. Small studies keep the module to a few seconds.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from trialkit.cli import main
from trialkit.spec import study_dir

SHIPPED_STUDY = study_dir("ball_relapse")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ERROR_PREFIX = "trialkit: error:"
from conftest import TTY_OVERRIDES


def invoke(runner: CliRunner, *args: str):
    return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def stderr_lines(result) -> list[str]:
    return result.stderr.splitlines()


# ---- Test 1 ------------------------------------------------------------------------------------
def test_cli_01_version_is_the_installed_distribution_version(runner):
    """Test 1: --version prints the version recorded in the installed metadata."""
    result = invoke(runner, "--version")
    assert result.exit_code == 0
    expected = importlib.metadata.version("trialkit")
    assert result.stdout == f"trialkit, version {expected}\n"


# ---- Test 2 ------------------------------------------------------------------------------------
def test_cli_02_simulate_writes_forms_manifest_and_one_summary_line(runner, tmp_path):
    """Test 2: simulate writes every form and manifest.json (checksums and row counts matching the
    files) and prints one summary line with the subject, form and row counts."""
    out = tmp_path / "export"
    result = invoke(runner, "simulate", "--out", out, "--subjects", 50, "--seed", 3)
    assert result.exit_code == 0, result.output
    manifest = manifest_of(out)
    assert manifest["subjects"] == 50
    assert manifest["seed"] == 3
    assert manifest["study"] == "BALLR01"
    assert len(manifest["forms"]) >= 10

    total_rows = 0
    for name, entry in manifest["forms"].items():
        data = (out / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        with (out / entry["file"]).open(encoding="utf-8", newline="") as fh:
            assert sum(1 for _ in csv.reader(fh)) - 1 == entry["rows"], name
        total_rows += entry["rows"]
    with (out / "dm.csv").open(encoding="utf-8", newline="") as fh:
        assert len({row["SUBJID"] for row in csv.DictReader(fh)}) == 50

    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("BALLR01: 50 subjects, ")
    assert f"{len(manifest['forms'])} forms, {total_rows} rows" in lines[0]
    assert result.stderr == ""


# ---- Test 3 ------------------------------------------------------------------------------------
def test_cli_03_truth_has_one_row_per_subject_and_iso_dates(runner, tmp_path):
    """Test 3: --truth FILE writes the truth CSV: one row per subject (the subjects of the export)
    and every date column (…DT) as YYYY-MM-DD or empty."""
    out, truth = tmp_path / "export", tmp_path / "truth" / "truth.csv"
    result = invoke(runner, "simulate", "--out", out, "--subjects", 50, "--seed", 3, "--truth", truth)
    assert result.exit_code == 0, result.output
    with truth.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 50
    assert len({r["USUBJID"] for r in rows}) == 50
    with (out / "dm.csv").open(encoding="utf-8", newline="") as fh:
        assert {r["SUBJID"] for r in rows} == {r["SUBJID"] for r in csv.DictReader(fh)}

    date_columns = [c for c in rows[0] if c.endswith("DT")]
    assert {"RANDDT", "EFS_ADT", "OS_ADT", "CUTOFFDT"} <= set(date_columns)
    for column in date_columns:
        values = [r[column] for r in rows]
        bad = [v for v in values if v and not ISO_DATE.match(v)]
        assert not bad, f"{column}: {bad[:3]}"
    for column in ("RANDDT", "EFS_ADT", "OS_ADT", "CUTOFFDT"):
        assert all(r[column] for r in rows), f"{column} has empty values"
    # the truth stays out of the export
    assert "truth.csv" not in files_under(out)


# ---- Test 4 ------------------------------------------------------------------------------------
def test_cli_04_no_truth_anywhere_in_the_export_without_the_option(runner, tmp_path):
    """Test 4: without --truth the export folder holds exactly the manifest's forms and manifest.json,
    and no exported form carries the truth's derived columns."""
    out = tmp_path / "export"
    result = invoke(runner, "simulate", "--out", out, "--subjects", 20, "--seed", 1)
    assert result.exit_code == 0, result.output
    manifest = manifest_of(out)
    assert files_under(out) == {e["file"] for e in manifest["forms"].values()} | {"manifest.json"}
    assert not [f for f in files_under(tmp_path) if "truth" in f.lower()]
    for entry in manifest["forms"].values():
        header = (out / entry["file"]).read_text(encoding="utf-8").splitlines()[0].split(",")
        assert not {"EFS_CNSR", "OS_CNSR", "EFS_AVAL", "OS_AVAL"} & set(header), entry["file"]


# ---- Test 5 ------------------------------------------------------------------------------------
def test_cli_05_unknown_study_is_one_error_line_and_exit_2(runner, tmp_path):
    """Test 5: an unknown --study exits 2 with exactly one stderr line naming the study, and writes nothing."""
    out = tmp_path / "export"
    result = invoke(runner, "simulate", "--study", "no_such_study", "--out", out)
    assert result.exit_code == 2
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(ERROR_PREFIX)
    assert "'no_such_study'" in lines[0]
    assert "ball_relapse" in lines[0]  # the shipped studies are listed
    assert result.stdout == ""
    assert not out.exists()


# ---- Test 6 ------------------------------------------------------------------------------------
def test_cli_06_study_folder_given_as_a_path(runner, tmp_path):
    """Test 6: a study folder given as a path is used (not the shipped study of the same content):
    its changed default_subjects applies and the manifest holds the checksum of its profile."""
    study = tmp_path / "my_study"
    shutil.copytree(SHIPPED_STUDY, study)
    profile = study / "profile.yaml"
    text = profile.read_text(encoding="utf-8")
    assert "default_subjects: 111" in text
    profile.write_text(text.replace("default_subjects: 111", "default_subjects: 7", 1), encoding="utf-8")

    out = tmp_path / "export"
    result = invoke(runner, "simulate", "--study", study, "--out", out, "--seed", 5)
    assert result.exit_code == 0, result.output
    manifest = manifest_of(out)
    assert manifest["subjects"] == 7
    assert manifest["profile_sha256"] == hashlib.sha256(profile.read_bytes()).hexdigest()
    assert result.stdout.startswith("BALLR01: 7 subjects, ")


# ---- Test 7 ------------------------------------------------------------------------------------
def test_cli_07_unknown_profile_key_names_file_and_key(runner, tmp_path):
    """Test 7: a profile.yaml with an unknown key exits 2 with one line naming the file and the
    dotted key, before anything is written."""
    study = tmp_path / "typo_study"
    shutil.copytree(SHIPPED_STUDY, study)
    profile = study / "profile.yaml"
    text = profile.read_text(encoding="utf-8")
    assert "\n  female: 0.52\n" in text
    profile.write_text(text.replace("\n  female: 0.52\n", "\n  female: 0.52\n  femal: 0.5\n", 1), encoding="utf-8")

    out = tmp_path / "export"
    result = invoke(runner, "simulate", "--study", study, "--out", out)
    assert result.exit_code == 2
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(ERROR_PREFIX)
    assert str(profile) in lines[0]
    assert "population.femal" in lines[0]
    assert "unknown key" in lines[0]
    assert not out.exists()


# ---- Test 8 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--dirty", "3"), "--dirty"),
        (("--subjects", "0"), "--subjects"),
        (("--seed", "-1"), "--seed"),
        (("--duplicate-rate", "0.9"), "--duplicate-rate"),
    ],
    ids=["dirty-3", "subjects-0", "seed-negative", "duplicate-rate-0.9"],
)
def test_cli_08_out_of_range_options_are_usage_errors(runner, tmp_path, args, option):
    """Test 8: out-of-range options are usage errors (exit 2) naming the option; nothing is written."""
    out = tmp_path / "export"
    result = invoke(runner, "simulate", "--out", out, *args)
    assert result.exit_code == 2
    assert option in result.stderr
    assert result.stdout == ""
    assert not out.exists()


# ---- Test 9 ------------------------------------------------------------------------------------
def test_cli_09_demo_writes_raw_export_and_truth_and_says_where(demo):
    """Test 9: demo writes DIR/raw/*.csv (with the manifest) and DIR/truth.csv, and prints both paths
    (the suite's one demo run, tests/conftest.py, exited 0)."""
    out, stdout = demo, (demo.parent / "stdout.txt").read_text(encoding="utf-8")
    manifest = manifest_of(out / "raw")
    csvs = {p.name for p in (out / "raw").glob("*.csv")}
    assert csvs == {e["file"] for e in manifest["forms"].values()}
    assert (out / "truth.csv").is_file()
    with (out / "truth.csv").open(encoding="utf-8", newline="") as fh:
        assert sum(1 for _ in csv.DictReader(fh)) == manifest["subjects"]
    assert not (out / "raw" / "truth.csv").exists()
    assert str(out / "raw") in stdout
    assert str(out / "truth.csv") in stdout


# ---- Test 10 -----------------------------------------------------------------------------------
def test_cli_10_no_progress_bar_when_output_is_not_a_terminal(tmp_path):
    """Test 10: with stdout and stderr piped (a child process, real pipes) no progress bar is drawn:
    no ANSI escape codes, no bar characters; -v log lines come out as plain text."""
    env = {k: v for k, v in os.environ.items() if k not in TTY_OVERRIDES}
    env["FORCE_COLOR"] = "1"  # CI systems set it; a pipe must still get no bar
    out = tmp_path / "export"
    proc = subprocess.run(
        [sys.executable, "-m", "trialkit.cli", "-v", "simulate", "--out", str(out), "--subjects", "10", "--seed", "2"],
        capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    for stream in (proc.stdout, proc.stderr):
        assert "\x1b" not in stream
        assert "━" not in stream
        assert "\r" not in stream
    assert len(proc.stdout.splitlines()) == 1
    assert f"INFO trialkit: wrote {len(manifest_of(out)['forms'])} forms to {out}" in proc.stderr.splitlines()


# ---- Test 11 -----------------------------------------------------------------------------------
def test_cli_11_no_progress_bar_under_clirunner(runner, tmp_path):
    """Test 11: the same through CliRunner (in-process, streams that are not terminals)."""
    result = invoke(runner, "simulate", "--out", tmp_path / "export", "--subjects", 10)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    assert "━" not in result.output
    assert result.stderr == ""


# ---- Test 12 -----------------------------------------------------------------------------------
def test_cli_12_unwritable_output_is_one_error_line_and_exit_2(runner, tmp_path):
    """Test 12: an --out that cannot be created (a file is in the way) is one error line, exit 2."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(main, ["simulate", "--subjects", "5", "--out", str(blocker / "sub")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("trialkit: error:") and str(blocker / "sub") in lines[0]


# ---- Test 13 -----------------------------------------------------------------------------------
def test_cli_13_truth_inside_the_export_is_refused(runner, tmp_path):
    """Test 13: --truth inside --out would put the truth into the export; it is a usage error."""
    out = tmp_path / "export"
    result = runner.invoke(main, ["simulate", "--subjects", "5", "--out", str(out), "--truth", str(out / "truth.csv")])
    assert result.exit_code == 2
    assert "--truth must be outside the --out folder" in result.stderr
    assert not (out / "truth.csv").exists()


# ---- Test 14 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["simulate", "sdtm", "adam", "validate", "report", "define", "run", "demo"])
def test_cli_14_study_help_lists_the_shipped_studies(runner, command):
    """Test 14: --study never said which studies ship; every command's help now names them."""
    result = invoke(runner, command, "--help")
    assert result.exit_code == 0
    help_text = " ".join(result.stdout.split())
    assert "--study" in help_text and "ball_relapse, solid_tumour" in help_text, help_text


# ---- Test 15 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["sdtm", "run"])
def test_cli_15_unknown_study_is_a_usage_error_before_anything_is_written(runner, tmp_path, command):
    """Test 15: an unknown --study on a stage is one error line, exit 2, naming the shipped studies;
    the output folder is never created."""
    (tmp_path / "raw").mkdir()
    result = invoke(runner, command, "--study", "onco", tmp_path / "raw", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr == ("trialkit: error: --study: unknown study 'onco'; shipped studies: ball_relapse, "
                             "solid_tumour (or give a folder path)\n")
    assert not (tmp_path / "out").exists()
