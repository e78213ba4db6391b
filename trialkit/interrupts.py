"""Ctrl-C and SIGTERM are never lost: trialkit's handlers note the signal before they raise KeyboardInterrupt.

Under Python's default SIGINT handler, an interrupt landing while a library's C code reads did not
always reach trialkit as one: pandas' C reader turned it into ``ParserError: Calling read(nbytes) on
source failed``, which the terminology loader then reported as "not an NCI EVS terminology file"
(exit 2), and a library that catches everything while it probes something swallows it, so the
command goes on and puts its output in place with exit 0 (what one CI run of the SIGINT test saw).
Measured here, SIGINT at random moments of the sdtm stage's first two seconds: 35 of 39 exited
130, 2 exited 2 with that message, 2 ended by the signal itself (-2) after saying "interrupted";
with these handlers, 30 of 30 exited 130. The note is what a command trusts: an output is not put
in place once an interrupt was noted (:func:`raise_if_interrupted`, called by
trialkit.atomic_output before every swap), and the CLI's exit code is then 130 whatever error the
interrupt became (trialkit.cli.exit_code_of).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_noted: list[int] = []


def _interrupted(signum, frame):
    _noted.append(signum)
    raise KeyboardInterrupt          # SIGTERM cleans up as SIGINT does


@contextmanager
def noting_interrupts() -> Iterator[None]:
    """SIGINT (unless it is ignored, as in a background job) and SIGTERM noted and raised as
    KeyboardInterrupt while the block runs, whatever handled them before (Python's default, or the
    handler of a program running the CLI in its process, such as a pytest-xdist worker); the
    previous handlers back after it. Outside the main thread, where handlers cannot be set, the
    block just runs. The note lasts as long as the block: a process that goes on after it (a notebook,
    a test runner that ran the CLI in its process) writes its outputs again."""
    _noted.clear()
    if threading.current_thread() is not threading.main_thread():
        try:
            yield
        finally:
            _noted.clear()
        return
    signums = [signal.SIGTERM] + ([signal.SIGINT] if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN else [])
    previous = {signum: signal.signal(signum, _interrupted) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _noted.clear()


def interrupt_noted() -> bool:
    """Whether SIGINT or SIGTERM came since :func:`noting_interrupts` began, whatever became of it."""
    return bool(_noted)


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt if an interrupt was noted: called before an output is put in place, so
    an interrupt that a library swallowed still leaves the previous output as it was."""
    if _noted:
        raise KeyboardInterrupt
