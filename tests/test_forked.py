"""trialkit/forked.py: a forked worker dies with the process that forked it (a SIGKILLed validate
left its CORE worker running, holding the command's stderr open: whatever read it waited forever)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

SCRIPT = textwrap.dedent("""
    import os, sys, time
    from trialkit.forked import forked_pool

    def work():
        return os.getpid()

    def sleep():
        time.sleep(60)

    pool = forked_pool(1)
    print(pool.submit(work).result(), flush=True)    # the worker's pid
    pool.submit(sleep)
    time.sleep(60)
""")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_forked_01_a_worker_dies_with_its_killed_parent_and_the_output_pipe_closes():
    parent = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    assert _alive(worker)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker)
    assert parent.stderr.read() == ""       # EOF: no process holds the pipe any more
    assert worker != os.getpid()
