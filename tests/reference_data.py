"""Where the tests find the CDISC pilot study (CDISCPILOT01): the full public package beside the
checkout (CI has it at ../shared/reference; ``TRIALKIT_REFERENCE`` points elsewhere), and the small
part of it vendored in tests/data (see tests/data/cdiscpilot01/SOURCE.md), which every machine has."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("TRIALKIT_REFERENCE", ROOT.parent / "shared" / "reference")).resolve()
PILOT = REFERENCE / "cdiscpilot01"              # tests marked `reference` read this
PILOT_SLICE = ROOT / "tests" / "data" / "cdiscpilot01"
