"""Build tests/data/core-cases.zip: one test case per published CDISC CORE rule, for a clone of
trialkit that has no ../shared beside it.

    python tests/data/make_core_cases.py [../shared/reference/core-rules/Published]

Per rule: its smallest negative case (defects: the rows the rule must flag), or its smallest positive
case when it has no negative one with expected results, plus the rule.yml, byte for byte, under the
same paths as in cdisc-org/cdisc-open-rules (see core-cases.SOURCE.md).
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT = HERE.parents[2] / "shared" / "reference" / "core-rules" / "Published"


def case_size(case: Path) -> int:
    return sum(f.stat().st_size for f in case.rglob("*") if f.is_file())


def pick(rule: Path) -> Path | None:
    cases = [c for kind in ("negative", "positive") for c in sorted(rule.glob(f"{kind}/*"))
             if (c / "results" / "results.csv").is_file()]
    negative = [c for c in cases if c.parent.name == "negative"]
    return min(negative or cases, key=case_size) if cases else None


def main(root: Path = DEFAULT) -> Path:
    out = HERE / "core-cases.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for rule in sorted(p for p in root.iterdir() if p.is_dir()):
            case = pick(rule)
            if case is None:
                continue
            files = [rule / "rule.yml", *sorted(f for f in case.rglob("*") if f.is_file())]
            for file in files:
                info = zipfile.ZipInfo(str(file.relative_to(root)), date_time=(2026, 8, 22, 0, 0, 0))
                archive.writestr(info, file.read_bytes(), zipfile.ZIP_DEFLATED)
    return out


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))
