"""`trialkit validate --engine spark` on the CDISC pilot study's SDTM and ADaM (CDISCPILOT01, data we
did not write): the rules the Spark engine runs give the pandas engine's findings and statuses,
field for field (tests/spark_parity.py).

CI runs it on the pilot's slice vendored in tests/data (DM, TS, three subjects' AE and split LB,
ADSL, ADTTE: about a minute), which every machine has. The whole package (``slow``, ``pytest -m
slow``: about 4 minutes) took .ci/run over its 20 minutes (1,247 s at 712593b) and runs on demand.
"""

from __future__ import annotations

import pytest
from reference_data import PILOT, PILOT_SLICE
from spark_parity import SPARK_RUN, both_engines, core_rules_on_spark, finding_rows, pandas_findings_of_spark_rules


def _same_on_both_engines(pilot) -> tuple[list, set[str]]:
    """Both engines on ``pilot``'s SDTM and ADaM: the same findings, field for field, and the same
    statuses of the families Spark runs; the pandas findings compared and the CORE rules Spark ran."""
    on_pandas, on_spark = both_engines(pilot / "sdtm", pilot / "adam", encoding="cp1252")
    ported = pandas_findings_of_spark_rules(on_pandas.findings, on_spark)
    assert finding_rows(on_spark.findings) == finding_rows(ported)
    families = (*SPARK_RUN, "TK-ADAM (schemas)")
    assert {r.id: (r.status, r.findings) for r in on_spark.rules if r.id in families} == \
        {r.id: (r.status, r.findings) for r in on_pandas.rules if r.id in families}
    return ported, core_rules_on_spark(on_spark)


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.reference
def test_01_the_cdisc_pilot_gives_the_same_findings_on_both_engines(spark):
    """The pilot's SDTM and ADaM: the ADaM findings are its ADaMIG 1.0-era labels (read off the XPT
    files into Spark's column metadata) and Req variables (docs/conformance.md)."""
    ported, core = _same_on_both_engines(PILOT)
    assert {f.rule for f in ported} & core, "the pilot has CORE findings to compare"
    assert {f.rule for f in ported if f.rule.startswith("TK-ADAM-")} == {"TK-ADAM-0001", "TK-ADAM-0006"}


@pytest.mark.spark
def test_02_the_vendored_slice_of_the_pilot_gives_the_same_findings_on_both_engines(spark):
    """The slice holds a split domain (LB in three parts), SAS's stored lengths and cp1252 text."""
    ported, core = _same_on_both_engines(PILOT_SLICE)
    compared = {f.rule for f in ported} & core
    assert len(compared) >= 10, f"the slice has CORE findings of many rules to compare: {sorted(compared)}"
    assert any(f.dataset.startswith("LB") for f in ported if f.rule in compared), "findings on the split LB"
