"""Fixtures shared across the suite, and what the suite needs beyond the repository.

Marks (registered here, next to the code that gives them their meaning):

- ``slow``: long checks kept out of the default run (pyproject's addopts has ``-m 'not slow'``).
- ``reference``: needs the public reference data at ``../shared/reference`` beside the checkout (or
  wherever ``TRIALKIT_REFERENCE`` points): the whole CDISC pilot package, CDISC's CORE rules and
  test cases, CORE's cache. The suite reads small vendored parts of them from tests/data instead;
  only what needs the whole of one carries the mark.
- ``browser``: needs headless ``chromium`` and ``chromedriver`` (selenium drives it) on PATH.
- ``spark``: needs pyspark (the ``spark`` extra, part of the ``test`` extra) and a Java runtime
  (JAVA_HOME, or ``java`` on PATH; .ci/run installs Debian's openjdk-17-jre-headless if missing).

A test whose prerequisite is missing is not run, and the run ends with one line that says what was
missing and how many tests it left out. Where every test must run (CI: ``.ci/run`` sets
``TRIALKIT_REQUIRE_ALL=1``) a missing prerequisite stops the run before it starts, and a test that
skips itself fails the run: a skipped check is a check that silently stopped running.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from reference_data import REFERENCE

from trialkit.spark_session import INSTALL_EXTRA, INSTALL_JAVA, java_found

REQUIRE_ALL = os.environ.get("TRIALKIT_REQUIRE_ALL") == "1"

# mark -> (what it needs, is it there?)
PREREQUISITES: dict[str, tuple[Callable[[], str], Callable[[], bool]]] = {
    "reference": (lambda: f"reference data not found at {os.path.relpath(REFERENCE)}",
                  lambda: REFERENCE.is_dir()),
    "browser": (lambda: "chromium or chromedriver not found on PATH (Debian: apt-get install -y chromium chromium-driver)",
                lambda: shutil.which("chromium") is not None and shutil.which("chromedriver") is not None),
    "spark": (lambda: f"pyspark or Java not found ({INSTALL_EXTRA}; {INSTALL_JAVA})",
              lambda: importlib.util.find_spec("pyspark") is not None and java_found()),
}
MARKS = {
    "slow": "long-running checks kept out of the fast suite (run with -m slow)",
    "reference": "needs the public reference data at ../shared/reference (or $TRIALKIT_REFERENCE)",
    "browser": "needs headless chromium and chromedriver on PATH",
    "spark": "needs pyspark (the spark extra) and a Java runtime: starts a local Spark session",
}
NOT_RUN = pytest.StashKey[dict[str, int]]()
SKIPPED: list[str] = []  # node ids of tests that skipped themselves (reports reach the xdist controller too)

# Variables that make rich treat a pipe as a terminal; the CLI tests are about the plain case.
TTY_OVERRIDES = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def _missing() -> dict[str, str]:
    """mark -> the sentence saying what is missing, for each prerequisite this machine lacks."""
    return {mark: why() for mark, (why, present) in PREREQUISITES.items() if not present()}


def pytest_configure(config: pytest.Config) -> None:
    for mark, meaning in MARKS.items():
        config.addinivalue_line("markers", f"{mark}: {meaning}")
    config.stash[NOT_RUN] = {}
    missing = _missing()
    if REQUIRE_ALL and missing:
        raise pytest.UsageError("TRIALKIT_REQUIRE_ALL=1 and " + "; ".join(missing.values()))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the tests whose prerequisite is missing (after -m has chosen), counted per reason."""
    missing = _missing()
    left_out = [item for item in items if any(item.get_closest_marker(mark) for mark in missing)]
    if not left_out:
        return
    not_run = {why: sum(1 for item in left_out if item.get_closest_marker(mark)) for mark, why in missing.items()}
    config.stash[NOT_RUN] = {why: n for why, n in not_run.items() if n}
    if hasattr(config, "workeroutput"):  # a pytest-xdist worker: tell the controller
        config.workeroutput["trialkit_not_run"] = config.stash[NOT_RUN]
    config.hook.pytest_deselected(items=left_out)
    items[:] = [item for item in items if item not in left_out]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist controller: the workers collected the same tests, so any one's count will do."""
    not_run = getattr(node, "workeroutput", {}).get("trialkit_not_run")
    if not_run:
        node.config.stash[NOT_RUN] = not_run


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if REQUIRE_ALL and SKIPPED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    not_run = config.stash[NOT_RUN]
    if not_run:
        terminalreporter.write_line("; ".join(f"{why}: {n} test{'s' * (n != 1)} not run" for why, n in not_run.items()),
                                    yellow=True, bold=True)
    if REQUIRE_ALL and SKIPPED:
        terminalreporter.write_line(f"TRIALKIT_REQUIRE_ALL=1 and {len(SKIPPED)} test(s) skipped themselves: "
                                    + ", ".join(SKIPPED), red=True, bold=True)


@pytest.fixture(autouse=True)
def _restore_logging():
    """``main`` re-configures the root logger with a handler bound to CliRunner's stderr, which is
    closed after the run; put the previous handlers back so later tests do not log into it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={name: None for name in TTY_OVERRIDES})


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder ``build`` fills, made once per test run: under pytest-xdist the first worker to ask
    builds it while the others wait on a lock, then all read the same folder (a build that failed
    half-way is started again by the next to ask). Tests must treat it as read-only."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, complete = shared / name, shared / f"{name}.complete"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not complete.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            complete.touch()
    return folder


@pytest.fixture(scope="module")
def spark(request):
    """A local Spark session for one test module (its ``MASTER``, else local[2]: the 2 workers CI
    runs), stopped after the module's tests."""
    from trialkit.spark_session import spark_session

    session = spark_session(getattr(request.module, "MASTER", "local[2]"))
    yield session
    session.stop()


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """The output folder of `trialkit demo`, run once per test run as a user runs it (a fresh
    process); its stdout is kept beside it in ``stdout.txt``. Read-only: tests that change files
    copy them first."""

    def run_demo(folder: Path) -> None:
        out = folder / "out"
        done = subprocess.run([sys.executable, "-m", "trialkit.cli", "demo", "--out", str(out)],
                              check=False, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        (folder / "stdout.txt").write_text(done.stdout, encoding="utf-8")

    return built_once(tmp_path_factory, "demo", run_demo) / "out"


@pytest.fixture(scope="session")
def onco02_demo(tmp_path_factory) -> tuple[Path, int]:
    """`trialkit demo --study solid_tumour`, run once per test run as a user runs it (a fresh
    process): (its output folder, its exit code). Read-only."""

    def run_demo(folder: Path) -> None:
        done = subprocess.run([sys.executable, "-m", "trialkit.cli", "demo", "--study", "solid_tumour", "--out",
                               str(folder / "out")], check=False, capture_output=True, text=True)
        (folder / "exit_code").write_text(str(done.returncode), encoding="utf-8")
        (folder / "stdout.txt").write_text(done.stdout, encoding="utf-8")

    folder = built_once(tmp_path_factory, "onco02_demo", run_demo)
    return folder / "out", int((folder / "exit_code").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def generated_study(tmp_path_factory) -> Path:
    """A clean generated study of 80 subjects (seed 2): raw/, sdtm/, adam/ (XPT), made once per test
    run and shared by the cross-dataset and GX validator tests. Read-only."""

    def generate(folder: Path) -> None:
        from trialkit.adam.engine import run_adam
        from trialkit.cli import run_simulation
        from trialkit.sdtm.engine import run_sdtm
        from trialkit.sdtm.output import write_sdtm

        run_simulation("ball_relapse", 80, 2, folder / "raw", None, 0, 0.0)
        write_sdtm(run_sdtm("ball_relapse", folder / "raw"), folder / "sdtm")
        run_adam("ball_relapse", folder / "sdtm", folder / "adam")

    return built_once(tmp_path_factory, "generated_study", generate)
