"""The suite's own contract (tests/conftest.py): a test marked ``reference`` or ``browser`` whose
prerequisite is missing is left out and counted in one line at the end; with TRIALKIT_REQUIRE_ALL=1
(CI) a missing prerequisite stops the run and a test that skips itself fails it. Each case runs
pytest on a small project holding a copy of the suite's conftest, in a fresh process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from reference_data import ROOT

MARKED = '''
import pytest

@pytest.mark.reference
def test_needs_the_reference_data():
    pass

@pytest.mark.browser
def test_needs_chromium_1():
    pass

@pytest.mark.browser
def test_needs_chromium_2():
    pass

def test_needs_nothing():
    pass
'''
SKIPS_ITSELF = '''
import pytest

def test_skips_itself():
    pytest.skip("not today")
'''


@pytest.fixture
def project(tmp_path) -> Path:
    tests = tmp_path / "tests"
    tests.mkdir()
    for name in ("conftest.py", "reference_data.py"):
        shutil.copy(ROOT / "tests" / name, tests / name)
    (tests / "test_marked.py").write_text(MARKED, encoding="utf-8")
    (tmp_path / "bin").mkdir()          # PATH for the run: no chromium unless a test puts one there
    return tmp_path


def _pytest(project: Path, *args: str, require_all: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TRIALKIT_REQUIRE_ALL", "PYTEST_ADDOPTS")}
    env.update(PATH=str(project / "bin"), TRIALKIT_REFERENCE=str(project / "reference"))
    env.pop("JAVA_HOME", None)
    if require_all:
        env["TRIALKIT_REQUIRE_ALL"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", *args, "tests"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False)


def _provide_everything(project: Path) -> None:
    (project / "reference").mkdir()
    for program in ("chromium", "chromedriver", "java"):   # java: the spark mark's prerequisite, beside pyspark
        stub = project / "bin" / program
        stub.write_text("#!/bin/sh\n", encoding="utf-8")
        stub.chmod(0o755)


def test_prerequisites_01_missing_ones_leave_their_tests_out_and_say_so_in_one_line(project):
    """Test 1: no reference data, no chromium nor chromedriver: the unmarked test runs, the three marked ones are
    not run, the run passes, and one line (under pytest-xdist, from the workers' counts) says why."""
    done = _pytest(project)
    assert done.returncode == 0, done.stdout[-3000:]
    line = ("reference data not found at reference: 1 test not run; chromium or chromedriver not found on PATH"
            " (Debian: apt-get install -y chromium chromium-driver): 2 tests not run")
    assert line in done.stdout.splitlines()
    assert " 1 passed in " in done.stdout.splitlines()[-1]


def test_prerequisites_02_with_everything_there_every_test_runs(project):
    """Test 2: with the reference folder, chromium, chromedriver and java on PATH nothing is left out."""
    _provide_everything(project)
    done = _pytest(project)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "4 passed" in done.stdout.splitlines()[-1] and "not run" not in done.stdout


def test_prerequisites_03_require_all_refuses_to_start_without_them(project):
    """Test 3: TRIALKIT_REQUIRE_ALL=1 and a prerequisite missing: a usage error naming it, no test run."""
    done = _pytest(project, require_all=True)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert ("TRIALKIT_REQUIRE_ALL=1 and reference data not found at reference; chromium or chromedriver not found on PATH"
            in done.stderr)
    assert "passed" not in done.stdout


def test_prerequisites_04_require_all_fails_a_run_in_which_a_test_skips_itself(project):
    """Test 4: TRIALKIT_REQUIRE_ALL=1, everything there, one test skips itself: the run fails and
    names it; without the variable the same run passes."""
    _provide_everything(project)
    (project / "tests" / "test_skips.py").write_text(SKIPS_ITSELF, encoding="utf-8")
    done = _pytest(project, require_all=True)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout[-3000:]
    assert "TRIALKIT_REQUIRE_ALL=1 and 1 test(s) skipped themselves: tests/test_skips.py::test_skips_itself" in done.stdout
    assert _pytest(project).returncode == pytest.ExitCode.OK
