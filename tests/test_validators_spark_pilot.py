"""`trialkit validate --engine spark` on the CDISC pilot study's SDTM and ADaM (CDISCPILOT01, data we
did not write): the rules the Spark engine runs give the pandas engine's findings and statuses,
field for field (tests/spark_parity.py). Marked ``slow`` (``pytest -m slow``): at about 5.5 minutes
it took .ci/run over its 20 minutes (1,247 s at 712593b), so CI runs the demo's parity test and the
planted defects, and this one runs on demand.
"""

from __future__ import annotations

import pytest
from reference_data import PILOT
from spark_parity import SPARK_RUN, both_engines, core_rules_on_spark, finding_rows, pandas_findings_of_spark_rules

MASTER = "local[2]"      # the session of the spark fixture (tests/conftest.py), as spark_parity's engines run


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.reference
def test_01_the_cdisc_pilot_gives_the_same_findings_on_both_engines(spark):
    """The pilot's SDTM and ADaM: the ADaM findings are its ADaMIG 1.0-era labels (read off the XPT
    files into Spark's column metadata) and Req variables (docs/conformance.md)."""
    on_pandas, on_spark = both_engines(PILOT / "sdtm", PILOT / "adam", encoding="cp1252")
    ported = pandas_findings_of_spark_rules(on_pandas.findings, on_spark)
    assert {f.rule for f in ported} & core_rules_on_spark(on_spark), "the pilot has CORE findings to compare"
    assert {f.rule for f in ported if f.rule.startswith("TK-ADAM-")} == {"TK-ADAM-0001", "TK-ADAM-0006"}
    assert finding_rows(on_spark.findings) == finding_rows(ported)
    families = (*SPARK_RUN, "TK-ADAM (schemas)")
    assert {r.id: (r.status, r.findings) for r in on_spark.rules if r.id in families} == \
        {r.id: (r.status, r.findings) for r in on_pandas.rules if r.id in families}
