"""What the Spark parity tests share (test_validators_spark.py, test_validators_spark_pilot.py): both
engines on a folder, the findings as comparable rows, and which of the pandas engine's findings the
Spark engine must give (the families it runs and the CORE rules it evaluated). The pilot's test has
a module of its own so that pytest-xdist (``--dist loadscope``: a module per worker) runs it beside
the demo's, not after it.
"""

from __future__ import annotations

from pathlib import Path

from trialkit.validators.run import validate

MASTER = "local[2]"
# the families the Spark engine runs (on SDTM); their findings must be the pandas engine's
SPARK_RUN = ("TK-SDTM (schemas)", "TK-MAP (mapping)", "TK-SDTM (plausibility)", "TK-XDS (cross-dataset)")
SCHEMA_RULES = tuple(f"TK-SDTM-00{n:02d}" for n in range(1, 13)) + tuple(f"TK-SDTM-013{n}" for n in range(5))


def finding_rows(findings) -> list[tuple]:
    return sorted(tuple((k, "" if v is None else str(v)) for k, v in f.to_dict().items()) for f in findings)


def core_rules_on_spark(run) -> set[str]:
    """The CORE rules the Spark engine evaluated (not listed as not run on spark)."""
    return {r.id for r in run.rules if not r.family and not r.reason.startswith("not run on spark")}


def pandas_findings_of_spark_rules(findings, on_spark) -> list:
    """The pandas engine's findings of what the Spark engine runs: the SDTM and ADaM schema,
    plausibility, mapping, cross-dataset and unreadable file families, and the CORE rules it evaluated."""
    core = core_rules_on_spark(on_spark)
    return [f for f in findings if f.rule in SCHEMA_RULES or f.rule.startswith(("TK-MAP-", "TK-IO-", "TK-XDS-", "TK-ADAM-"))
            or f.rule in core]


def both_engines(folder: Path, adam: Path | None = None, encoding: str | None = None):
    """Both engines on ``folder``; the CORE rules the Spark engine evaluated have the pandas statuses."""
    on_pandas = validate(None, folder, adam, encoding, rules=("core", "trialkit"), jobs=1)
    on_spark = validate(None, folder, adam, encoding, engine="spark", rules=("core", "trialkit"), spark_master=MASTER)
    core, status = core_rules_on_spark(on_spark), {r.id: (r.status, r.findings) for r in on_pandas.rules}
    assert {r.id: (r.status, r.findings) for r in on_spark.rules if r.id in core} == {i: status[i] for i in core}
    return on_pandas, on_spark
