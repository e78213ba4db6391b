"""``python -m trialkit`` and the ``trialkit`` console script: the CLI (trialkit/cli.py), with a
Ctrl-C while its modules load (before anything is written) exiting 130 in one line, as a Ctrl-C
later does, instead of a traceback."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from trialkit import cli
    except KeyboardInterrupt:
        print("trialkit: interrupted while starting; nothing was written", file=sys.stderr)
        sys.exit(130)
    if __name__ == "__main__":
        cli._drop_source_root_from_path()
    cli.main()


if __name__ == "__main__":  # pragma: no cover
    main()
