"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

# `python -m pytest` puts the working directory first on sys.path; from the repository root the stage
# folders (validators/, reports/...) would then shadow PyPI packages of the same name (odmlib imports
# PyPI's `validators`). trialkit is only ever imported as trialkit.*, so the root comes off the path.
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]

# Variables that make rich treat a pipe as a terminal; the CLI tests are about the plain case.
TTY_OVERRIDES = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


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


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """The output folder of `trialkit demo`, run once per session as a user runs it (a fresh process)."""
    out = tmp_path_factory.mktemp("demo")
    done = subprocess.run([sys.executable, "-m", "trialkit.cli", "demo", "--out", str(out)], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return out
