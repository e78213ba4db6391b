"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

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
