"""Exit codes that mean one thing (trialkit/cli.py, TrialkitGroup): 0 clean, 1 findings, 2 usage or
unusable input, 3 an internal error (one line and a log file holding the traceback, never a traceback
on the terminal), 130 interrupted (the previous output left as it was)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from trialkit.cli import main, run_simulation
from trialkit.folder_manifest import folder_files
from trialkit.interrupts import interrupt_noted


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("codes") / "raw"
    run_simulation("ball_relapse", 20, 4, folder, None, 0, 0.0)
    return folder


@pytest.fixture(scope="module")
def larger_raw(tmp_path_factory) -> Path:
    """400 subjects: the SDTM stage writes for seconds, not the tens of milliseconds 20 subjects take,
    so a SIGINT sent once the temporary folder appears lands while it writes even on a loaded machine
    (with 20 subjects the run had once ended, exit 0, before the signal arrived)."""
    folder = tmp_path_factory.mktemp("codes_larger") / "raw"
    run_simulation("ball_relapse", 400, 4, folder, None, 0, 0.0)
    return folder


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_codes_01_help_documents_every_exit_code():
    """Test 1: ``trialkit --help`` lists the exit codes 0, 1, 2, 3 and 130."""
    result = invoke("--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for code in ("0 clean", "1 findings", "2 unusable input or usage", "3 an internal error", "130 interrupted"):
        assert code in text, code


def test_codes_02_usage_and_input_errors_exit_2():
    """Test 2: an unknown option and a missing raw folder are exit 2 (never 1, the code of findings)."""
    assert invoke("sdtm", "--no-such-option").exit_code == 2
    result = invoke("sdtm", "no/such/raw", "--out", "x")
    assert result.exit_code == 2 and "raw export folder or file not found" in result.output


def test_codes_03_an_internal_error_exits_3_with_a_log_and_no_traceback(raw, tmp_path, monkeypatch):
    """Test 3: a bug inside a stage (forced: the SDTM stage raises ZeroDivisionError) prints one line,
    the exception's type and message and the log file holding the traceback, exits 3, and leaves the
    previous output as it was."""
    out = tmp_path / "sdtm"
    assert invoke("sdtm", raw, "--out", out).exit_code == 0
    before = folder_files(out)

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero in a stage")

    monkeypatch.setattr("trialkit.cli.sdtm_stage", broken)
    result = invoke("sdtm", raw, "--out", out)
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("trialkit:")]
    assert len(lines) == 1 and "ZeroDivisionError: division by zero in a stage" in lines[0], result.output
    log_file = Path(re.search(r"traceback in (\S+\.log)\)", lines[0]).group(1))
    assert "Traceback" in log_file.read_text() and "def broken" not in result.output
    log_file.unlink()
    assert folder_files(out) == before and not list(tmp_path.glob(".sdtm*"))


def test_codes_04_an_interrupt_exits_130_and_leaves_the_previous_output(raw, tmp_path, monkeypatch):
    """Test 4: Ctrl-C during a stage (KeyboardInterrupt raised inside the ADaM stage) exits 130 with
    one line, the previous ADaM folder as it was and no temporary file or folder left."""
    sdtm, adam = tmp_path / "sdtm", tmp_path / "adam"
    assert invoke("sdtm", raw, "--out", sdtm).exit_code == 0
    assert invoke("adam", sdtm, "--out", adam).exit_code == 0
    before = folder_files(adam)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("trialkit.cli.adam_stage", interrupted)
    result = invoke("adam", sdtm, "--out", adam)
    assert result.exit_code == 130 and "interrupted" in result.output and "Traceback" not in result.output
    assert folder_files(adam) == before and not list(tmp_path.glob(".adam*"))


def test_codes_05_a_real_sigint_exits_130_from_a_fresh_process(larger_raw, tmp_path):
    """Test 5: SIGINT sent to ``python -m trialkit.cli sdtm`` once it is writing (a dataset is in its
    temporary folder) exits 130, no traceback, nothing left beside --out. Not sent as soon as the
    temporary folder exists: the stage then still imports its libraries, and one of the CI runs ended
    with exit 0 and not a word, the interrupt swallowed there (a bare ``except`` in some import-time
    probe), which no code of trialkit's can see."""
    out = tmp_path / "sdtm"
    process = subprocess.Popen([sys.executable, "-m", "trialkit.cli", "sdtm", str(larger_raw), "--out", str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: subprocess.signal.signal(subprocess.signal.SIGINT, subprocess.signal.SIG_DFL))  # noqa: PLW1509 - nothing threaded yet
    import time

    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".sdtm.tmp-*/*.xpt")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the stage ended before it could be interrupted"
    process.send_signal(subprocess.signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("library", ["pandas C reader", "bare except"])
def test_codes_06_an_interrupt_a_library_turns_into_its_own_error_or_swallows_exits_130(raw, tmp_path, monkeypatch,
                                                                                        library):
    """Test 6: a real SIGINT landing inside library code that does not let it through as it is (pandas'
    C reader turned it into ``ParserError: Calling read(nbytes) on source failed``, which a stage
    catches as bad input; a library's bare ``except`` in some probe swallows it) still ends the
    command with 130 and leaves the previous output as it was (trialkit.interrupts). Before, such a
    stage went on: a wrong input error (exit 2) or its output put in place with exit 0."""
    import io
    import os
    import signal
    import time

    import pandas as pd

    sdtm = tmp_path / "sdtm"
    assert invoke("sdtm", raw, "--out", sdtm).exit_code == 0
    before = folder_files(sdtm)

    class Interrupting(io.RawIOBase):
        """A file whose first read is where Ctrl-C is pressed."""

        def readable(self):
            return True

        def readinto(self, buffer):
            os.kill(os.getpid(), signal.SIGINT)
            return 0

    def probe():
        if library == "pandas C reader":
            pd.read_csv(io.BufferedReader(Interrupting()), sep="\t")
            return
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        except BaseException:  # noqa: BLE001,S110 - the library's bare except
            pass

    def stage_going_on(study, raw_dir, work, **kwargs):
        try:
            probe()
        except Exception:  # noqa: BLE001,S110 - a stage that takes any library error for bad input and goes on
            pass
        (work / "dm.xpt").write_text("not what was there")
        return {"errors": 0, "ledger": []}, []

    monkeypatch.setattr("trialkit.cli.sdtm_stage", stage_going_on)
    monkeypatch.setattr("trialkit.cli.print_reconciliation", lambda summary: None)
    # Ctrl-C taken as in a terminal, also where the test runs in the background (CI: SIGINT ignored,
    # which trialkit respects)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = invoke("sdtm", raw, "--out", sdtm)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result.exit_code == 130 and "interrupted" in result.output, result.output
    assert folder_files(sdtm) == before and not list(tmp_path.glob(".sdtm*"))
    # the note ends with the command: what the process does next (the next test here, a notebook's
    # next cell) puts its outputs in place again instead of raising KeyboardInterrupt
    assert not interrupt_noted()
