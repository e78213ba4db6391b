"""Outputs written whole or not at all, one writer at a time (trialkit/atomic_output.py,
trialkit/folder_manifest.py): a failed re-run leaves the previous output as it was, a re-run in
another format leaves no file of the old one, a second writer is refused naming the first's pid, a
dead writer's lock and leftovers are taken over, files take the umask, and ``trialkit run`` killed
(SIGKILL) or interrupted (SIGINT) at random moments leaves the previous run or the new one, whole."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from trialkit.atomic_output import OutputLocked, locked, output_folder, replacing, signals_deferred
from trialkit.cli import main, run_simulation
from trialkit.dataset_json import dataset_files, read_dataset, write_dataset_json
from trialkit.folder_manifest import MANIFEST, folder_files
from trialkit.xpt import DatasetMeta, Variable, write_xpt


@pytest.fixture(scope="module")
def raws(tmp_path_factory) -> dict[str, Path]:
    """A clean 20-subject export and a copy whose AE form is header-only (an SDTM without AE)."""
    base = tmp_path_factory.mktemp("atomic")
    run_simulation("ball_relapse", 20, 3, base / "raw", None, 0, 0.0)
    shutil.copytree(base / "raw", base / "raw_no_ae")
    ae = base / "raw_no_ae" / "ae.csv"
    ae.write_text(ae.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    return {"clean": base / "raw", "no_ae": base / "raw_no_ae"}


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def snapshot(folder: Path) -> dict[str, str]:
    """Every file of a folder and its SHA-256 (the manifest too)."""
    return {path: entry["sha256"] for path, entry in folder_files(folder).items()} | (
        {MANIFEST: json.dumps(json.loads((folder / MANIFEST).read_text()))} if (folder / MANIFEST).is_file() else {})


def leftovers(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.glob(f".{target.name}*"))


def test_atomic_01_a_failed_rerun_leaves_the_previous_output_whole(raws, tmp_path, monkeypatch):
    """Test 1: an SDTM re-run that fails after writing some datasets (here: the provenance sidecar
    cannot be written) exits 2 and leaves the previous folder byte for byte, with no temporary folder
    or lock beside it (before: a new dm.xpt beside the old suppdm, sv, define.xml and ledger)."""
    out = tmp_path / "sdtm"
    assert invoke("sdtm", raws["clean"], "--out", out).exit_code == 0
    before = snapshot(out)
    from trialkit.errors import InputError

    def fail(*args, **kwargs):
        raise InputError("disk full (simulated)", file="provenance.tsv")

    monkeypatch.setattr("trialkit.sdtm.output.write_provenance", fail)
    result = invoke("sdtm", raws["no_ae"], "--out", out)
    assert result.exit_code == 2 and "disk full" in result.output
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_atomic_02_a_json_rerun_into_an_xpt_folder_leaves_no_xpt(raws, tmp_path):
    """Test 2: ``sdtm --format json`` of an export without AE into a folder of XPTs of an export with
    AE: the folder then holds only the new run's Dataset-JSON (an empty AE), no stale ae.xpt for ADaM
    to read (before: ADAE got the old AE records)."""
    out = tmp_path / "sdtm"
    assert invoke("sdtm", raws["clean"], "--out", out).exit_code == 0
    assert (out / "ae.xpt").is_file()
    result = invoke("sdtm", raws["no_ae"], "--out", out, "--format", "json")
    assert result.exit_code == 1, result.output           # the empty expected form is an error finding
    files = dataset_files(out)
    assert not list(out.glob("*.xpt")) and files["AE"].name == "ae.json" and len(read_dataset(files["AE"])[0]) == 0
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["formats"] == ["json"] and manifest["exit_code"] == 1
    assert manifest["files"] == folder_files(out)


def test_atomic_03_xpt_and_json_written_together_are_read_and_a_stray_one_is_refused(raws, tmp_path):
    """Test 3: ``--format xpt,json`` writes both files of each dataset and ADaM reads the folder;
    an ae.json copied in beside an XPT-only folder's ae.xpt makes ``adam`` exit 2 naming both."""
    both, xpt = tmp_path / "both", tmp_path / "xpt"
    assert invoke("sdtm", raws["clean"], "--out", both, "--format", "xpt,json").exit_code == 0
    assert (both / "ae.xpt").is_file() and (both / "ae.json").is_file()
    assert invoke("adam", both, "--out", tmp_path / "adam").exit_code == 0
    assert invoke("sdtm", raws["clean"], "--out", xpt).exit_code == 0
    shutil.copy(both / "ae.json", xpt / "ae.json")
    result = invoke("adam", xpt, "--out", tmp_path / "adam2")
    assert result.exit_code == 2 and "ae.xpt and ae.json" in result.output
    assert not (tmp_path / "adam2").exists() and leftovers(tmp_path / "adam2") == []


def test_atomic_04_a_second_writer_is_refused_naming_the_first(raws, tmp_path):
    """Test 4: while one process holds the output's lock, a run into it exits 2 naming its pid and
    writes nothing."""
    out = tmp_path / "sdtm"
    with locked(out):
        result = invoke("sdtm", raws["clean"], "--out", out)
    assert result.exit_code == 2 and f"pid {os.getpid()}" in result.output, result.output
    assert not out.exists() and leftovers(out) == []


def test_atomic_05_a_dead_writers_lock_and_leftovers_are_taken_over(tmp_path):
    """Test 5: the lock file and temporary folder of a writer that no longer runs are taken over with
    a notice naming its pid; the new output replaces the old and nothing else is left."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    (tmp_path / ".out.lock").write_text(f"{dead.pid}\n")
    (tmp_path / f".out.tmp-{dead.pid}").mkdir()
    (tmp_path / f".out.tmp-{dead.pid}" / "half.xpt").write_text("half")
    messages = []
    import logging

    class Keep(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    logger = logging.getLogger("trialkit")
    handler = Keep()
    logger.addHandler(handler)
    try:
        with output_folder(out) as work:
            (work / "new.txt").write_text("new")
    finally:
        logger.removeHandler(handler)
    assert any(f"lock of pid {dead.pid}" in m for m in messages), messages
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"] and leftovers(out) == []


def test_atomic_06_an_interrupt_or_error_inside_leaves_the_old_folder(tmp_path):
    """Test 6: KeyboardInterrupt or any exception while writing removes the temporary folder and
    leaves the previous output; a second writer in the same process is refused (flock per open file)."""
    out = tmp_path / "out"
    with output_folder(out) as work:
        (work / "a.txt").write_text("first")
    for exc in (KeyboardInterrupt, ValueError):
        with pytest.raises(exc), output_folder(out) as work:
            (work / "a.txt").write_text("second")
            raise exc()
        assert (out / "a.txt").read_text() == "first" and leftovers(out) == []
    with locked(out), pytest.raises(OutputLocked, match=f"pid {os.getpid()}"), output_folder(out):
        pass


def test_atomic_11_an_interrupt_during_the_swap_is_deferred(tmp_path):
    """Test 11: SIGINT during the swap is only noted (the swap is never cut in half), and the
    handler that was there before is back afterwards."""
    handler = signal.getsignal(signal.SIGINT)
    with signals_deferred() as received:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
    assert received == [signal.SIGINT] and signal.getsignal(signal.SIGINT) is handler


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_atomic_07_files_take_the_umask(tmp_path, mask):
    """Test 7: XPT, Dataset-JSON, define.xml-style replaced files and output folders get the mode the
    umask gives (mkstemp's 0600 before)."""
    import pandas as pd

    meta = DatasetMeta("DM", "Demographics", (Variable("STUDYID", "Study Identifier", "Char"),))
    frame = pd.DataFrame({"STUDYID": ["S1"]})
    previous = os.umask(mask)
    try:
        with output_folder(tmp_path / "out") as work:
            paths = [write_xpt(frame, meta, work), write_dataset_json(frame, meta, work)]
            with replacing(work / "define.xml") as tmp:
                tmp.write_text("<x/>")
    finally:
        os.umask(previous)
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"dm.xpt", "dm.json", "define.xml"} and len(paths) == 2
    for path in out.iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask, path.name
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask


def test_atomic_10_an_input_inside_out_is_refused_before_anything_is_done(raws, tmp_path):
    """Test 10: ``run demo/raw --out demo`` would lose the export when the new output replaces the
    folder: exit 2 naming the input, the folder unchanged."""
    demo = tmp_path / "demo"
    shutil.copytree(raws["clean"], demo / "raw")
    before = folder_files(demo)
    result = invoke("run", demo / "raw", "--out", demo)
    assert result.exit_code == 2 and f"input {demo / 'raw'} is inside --out" in result.output, result.output
    assert folder_files(demo) == before and leftovers(demo) == []


# ---- the kill test: trialkit run killed or interrupted at random moments ----------------------
def whole_run(out: Path) -> dict:
    """The run manifest of ``out`` after checking that the folder is one whole run: status complete,
    every stage with an exit code, and exactly the files it lists with their checksums."""
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["status"] == "complete" and set(manifest["stages"]) == {"sdtm", "adam", "validate", "report"}
    assert manifest["files"] == folder_files(out)
    return manifest


def run_process(raw: Path, out: Path) -> subprocess.Popen:
    # SIGINT as a terminal sends it, even when the tests run where it is ignored (a background job)
    return subprocess.Popen([sys.executable, "-m", "trialkit", "run", str(raw), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@pytest.fixture(scope="module")
def previous_run(raws, tmp_path_factory) -> tuple[Path, dict]:
    """A completed ``trialkit run`` of the 20-subject export: (its folder, its manifest)."""
    out = tmp_path_factory.mktemp("kill") / "out"
    done = run_process(raws["clean"], out)
    _, stderr = done.communicate(timeout=600)
    assert done.returncode == 0, stderr[-2000:]
    return out, whole_run(out)


def kill_at(raws, previous_run, tmp_path, points: list[tuple[int, float]]) -> None:
    """Copy the previous run, then start ``trialkit run`` into it and send each (signal, seconds) of
    ``points`` in turn; after each, the folder is the previous run or a new one, whole. After SIGINT
    the run exits 130 (or 0 if it had finished) and leaves no temporary folder or lock of its own."""
    out = tmp_path / "out"
    shutil.copytree(previous_run[0], out)
    before = previous_run[1]["started"]
    for signum, seconds in points:
        process = run_process(raws["clean"], out)
        time.sleep(seconds)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=600)
        manifest = whole_run(out)
        assert "Traceback" not in stderr, stderr[-2000:]
        if signum == signal.SIGINT:
            assert process.returncode in (130, 0), (seconds, process.returncode, stderr[-2000:])
            lock = tmp_path / ".out.lock"      # a SIGKILLed writer's lock and folder stay until the next takes over
            assert not (tmp_path / f".out.tmp-{process.pid}").exists(), (seconds, leftovers(out))
            assert not lock.exists() or lock.read_text().strip() != str(process.pid), seconds
            if process.returncode == 130:
                assert manifest["started"] == before
        before = manifest["started"]


def test_atomic_08_run_killed_or_interrupted_leaves_a_whole_run(raws, previous_run, tmp_path):
    """Test 8 (the kill test, a few seeded points): SIGKILL and SIGINT during the SDTM, ADaM and
    validation stages of ``trialkit run`` into a previous run's folder."""
    rng = random.Random(15)
    kill_at(raws, previous_run, tmp_path, [(signal.SIGKILL, rng.uniform(1, 10)), (signal.SIGINT, rng.uniform(1, 10)),
                                           (signal.SIGKILL, rng.uniform(1, 10))])


@pytest.mark.slow
def test_atomic_09_run_killed_or_interrupted_at_many_points(raws, previous_run, tmp_path):
    """Test 9 (slow): twelve seeded points spread over the whole run, both signals."""
    rng = random.Random(1515)
    kill_at(raws, previous_run, tmp_path,
            [(rng.choice((signal.SIGKILL, signal.SIGINT)), rng.uniform(0.5, 60)) for _ in range(12)])


def test_atomic_12_define_into_a_folder_waits_for_no_writer_and_keeps_its_manifest_true(raws, tmp_path):
    """Test 12: ``trialkit define`` writing into an SDTM folder is one more writer of it: refused
    (exit 2, naming the pid) while a stage holds the folder's lock; once written, the folder's
    manifest lists define.xml with its new SHA-256 (before: the old digest stayed)."""
    out = tmp_path / "sdtm"
    assert invoke("sdtm", raws["clean"], "--out", out).exit_code == 0
    (out / "define.xml").unlink()          # then rewritten by the command: the manifest must follow
    with locked(out):
        result = invoke("define", "--kind", "sdtm", out)
    assert result.exit_code == 2 and f"pid {os.getpid()}" in result.output, result.output
    assert not (out / "define.xml").exists()
    result = invoke("define", "--kind", "sdtm", out)
    assert result.exit_code == 0, result.output
    assert json.loads((out / MANIFEST).read_text())["files"] == folder_files(out)
    assert leftovers(out) == []
