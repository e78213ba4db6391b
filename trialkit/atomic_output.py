"""Outputs that appear whole or not at all, one writer at a time.

A re-run into an existing ``--out`` must never leave the old run's files beside the new run's (an old
manifest over new data, an old ae.xpt read by a new ADaM stage), and two runs into one folder must not
interleave. So every command writes its folder as a temporary sibling, ``.<name>.tmp-<pid>``, and
swaps it into place only when complete (:func:`output_folder`): until then the previous output is
untouched; on an error or a signal the temporary folder is removed and the previous output stays.
The swap is one ``renameat2(RENAME_EXCHANGE)`` where the kernel has it, so a SIGKILL at any moment
leaves either the old folder or the new one under the name. A lock file beside the target,
``.<name>.lock``, holds the writer's pid; a second writer is refused naming it (exit 2), and the lock
of a process that no longer runs is taken over with a notice (its leftovers removed).

Single files (a dataset, define.xml, a validation report) are written the same way, through a
temporary file beside them (:func:`replacing`); the temporary file gets the mode the process umask
gives any new file, not mkstemp's 0600, so that a submission folder is readable by whoever may
read the folder.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from trialkit.errors import TrialkitError
from trialkit.interrupts import raise_if_interrupted

log = logging.getLogger("trialkit")
_RENAME_EXCHANGE = 2          # linux/fs.h


class OutputLocked(TrialkitError):
    """Another trialkit process is writing into the same output (exit 2)."""


def file_mode() -> int:
    """The mode a new file gets under the process umask (read without changing it where /proc says)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target`` to write; it replaces ``target`` when the block ends
    normally and is removed when it does not (any exception, KeyboardInterrupt included)."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, file_mode())
        os.close(fd)
        yield Path(tmp)
        raise_if_interrupted()
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def locked(target: Path) -> Iterator[None]:
    """Hold ``.<name>.lock`` beside ``target`` (an flock, released by the kernel if the process dies;
    the file holds the pid for the message). Refused with :class:`OutputLocked` naming the holder."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise TrialkitError(f"cannot be created: {err.strerror} ({err.filename})", file=str(target)) from None
    path = target.parent / f".{target.name}.lock"
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, file_mode())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise OutputLocked(f"another trialkit process (pid {holder}) is writing into it; wait for it to finish "
                               f"(or remove {path.name} if no such process runs)", file=str(target)) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)                   # the holder removed the file between our open and our lock: again
    try:
        previous = os.read(fd, 32).decode(errors="replace").strip()
        if previous.isdigit() and int(previous) != os.getpid() and not _alive(int(previous)):
            log.warning("%s: taking over the lock of pid %s, which no longer runs (its leftovers are removed)",
                        target, previous)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directory entries atomically (Linux renameat2); False where the kernel or libc cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _leftovers(target: Path) -> list[Path]:
    """Temporary and displaced folders of earlier writers of ``target`` (only called under its lock,
    so none of them belongs to a running writer)."""
    return sorted(p for pattern in (f".{target.name}.tmp-*", f".{target.name}.old-*") for p in target.parent.glob(pattern))


def _commit(work: Path, target: Path) -> None:
    """Put ``work`` in place of ``target`` (whatever it was) and remove the old one."""
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if not target.exists():
        os.rename(work, target)
        return
    if target.is_dir() and _exchange(work, target):
        shutil.rmtree(work)            # after the exchange ``work`` names the previous output
        return
    os.rename(target, old)             # no atomic exchange: the next writer restores ``old`` if we die here
    os.rename(work, target)
    if old.is_dir():
        shutil.rmtree(old)
    else:
        old.unlink()


def _recover(target: Path) -> None:
    """A writer killed between the two renames of a non-atomic commit left no ``target`` but its
    ``.old-<pid>``: put it back."""
    if not target.exists():
        displaced = sorted(target.parent.glob(f".{target.name}.old-*"))
        if displaced:
            os.rename(displaced[-1], target)


@contextmanager
def output_folder(target: Path, inputs: tuple[Path, ...] = ()) -> Iterator[Path]:
    """Lock ``target``, yield a new empty temporary sibling to write the whole output into, and swap
    it into place when the block ends normally (SIGINT and SIGTERM deferred during the swap). On any exception
    or signal the temporary folder is removed and ``target`` is left as it was. An input inside
    ``target`` (``run demo/raw --out demo``) is refused before anything is done: the swap would
    remove it."""
    target = Path(target)
    for folder in inputs:
        if Path(folder).resolve() == target.resolve() or target.resolve() in Path(folder).resolve().parents:
            raise TrialkitError(f"the input {folder} is inside --out {target}, which the new output replaces "
                                "whole: give another --out (or move the input out of it)", file=str(folder))
    with locked(target):
        _recover(target)
        for leftover in _leftovers(target):
            shutil.rmtree(leftover, ignore_errors=True)
        if target.exists() and not target.is_dir():
            raise TrialkitError("--out must be a folder, and this is a file", file=str(target))
        work = target.parent / f".{target.name}.tmp-{os.getpid()}"
        try:
            work.mkdir(mode=0o777)       # inside the try: an interrupt right after it still removes it
            yield work
            raise_if_interrupted()
            with signals_deferred() as received:
                _commit(work, target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        if received:
            log.warning("%s: interrupted after the new output was in place; it is kept whole", target)


@contextmanager
def signals_deferred() -> Iterator[list[int]]:
    """SIGINT and SIGTERM only noted (in the yielded list) while the block runs: the swap is not cut
    in half, and an interrupt that comes during it finds the new output in place and lets the command
    finish (outside the main thread, where handlers cannot be set, the block just runs)."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {signum: signal.signal(signum, lambda signum, frame: received.append(signum))
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def output_file(target: Path) -> Iterator[Path]:
    """:func:`replacing` under :func:`locked`: a report file written whole, by one process at a time."""
    with locked(target), replacing(target) as tmp:
        yield tmp
