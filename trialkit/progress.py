"""Logging set-up and a progress display that stays quiet when stderr is not a terminal.

CI logs and pipes get plain log lines; a person at a terminal gets a rich progress bar.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

console = Console(stderr=True)
stdout_console = Console(highlight=False)


def on_terminal() -> bool:
    """Draw only for a person: rich's is_terminal is also true under FORCE_COLOR, which CI sets."""
    return sys.stderr.isatty()


def setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = RichHandler(console=console, show_path=False) if on_terminal() else logging.StreamHandler()
    logging.basicConfig(level=level, handlers=[handler], format="%(message)s" if on_terminal() else "%(levelname)s %(name)s: %(message)s", force=True)


@contextmanager
def progress(description: str, total: int):
    """Yield ``advance(label)``; draws a bar only on a terminal."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[step]}"),
                  TimeElapsedColumn(), console=console, disable=not on_terminal(), transient=False) as bar:
        task = bar.add_task(description, total=total, step="")

        def advance(label: str = "") -> None:
            bar.update(task, advance=1, step=label)

        yield advance
