"""Forked worker processes that never outlive the process that forked them.

validate shares its work among forked processes (the datasets' reading, the CORE rules' domains). A
worker forked from a ``trialkit`` process that is then killed (SIGKILL, an out-of-memory kill) would
otherwise run on as an orphan, holding the command's stderr open (so whatever waits for the
command's output waits forever) and blocked writing a result no one reads. On Linux each worker asks
the kernel to kill it when its parent dies (prctl PR_SET_PDEATHSIG); elsewhere it is left as is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the system says (a container or
    ``taskset`` may allow fewer than the machine has), else the machine's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def forked_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes forked from this one (they see its memory as it is), each
    killed with its parent."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=_die_with_parent)


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


_SHARED: object = None      # what the workers of forked_pool_sharing find (set just before they fork)


@contextmanager
def forked_pool_sharing(shared: object, workers: int) -> Iterator[ProcessPoolExecutor]:
    """:func:`forked_pool` whose workers (and this process, inside the block) read ``shared`` with
    :func:`shared_state`: the data a worker runs on is inherited through the fork, never pickled (a
    run folder's frames, a parsed ODM plan, a study's datasets would cost more to send than to use).
    One such pool at a time per process; the state is let go when the block ends."""
    global _SHARED
    _SHARED = shared
    try:
        with forked_pool(workers) as pool:
            yield pool
    finally:
        _SHARED = None


def shared_state() -> object:
    """The ``shared`` of the :func:`forked_pool_sharing` block this process is in or was forked from."""
    return _SHARED
