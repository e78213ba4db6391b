"""``python -m trialkit`` and the ``trialkit`` console script: the CLI (trialkit/cli.py), with a
Ctrl-C while its modules load (before anything is written) exiting 130 in one line, as a Ctrl-C
later does, instead of a traceback."""

from __future__ import annotations

import signal
import sys


def main() -> None:
    try:
        from trialkit import cli
    except KeyboardInterrupt:
        print("trialkit: interrupted while starting; nothing was written", file=sys.stderr)
        sys.exit(130)
    if __name__ == "__main__":
        cli._drop_source_root_from_path()
    try:
        cli.main()
    finally:
        # the command is over (its exit code chosen, its output in place or left as it was): Python
        # resets signal handlers while it shuts down, and a Ctrl-C landing then would end the process
        # by the signal itself (return code -2, no word) instead of with the command's code
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":  # pragma: no cover
    main()
