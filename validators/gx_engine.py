"""The column-level SDTM and ADaM rules as Great Expectations suites, run through an ephemeral context.

Why a second engine: CI users who already run Great Expectations want the trialkit rules as an
expectation suite they can keep beside their own, and ``trialkit validate --engine gx`` shows that
the suites say what the pandera schemas say. A suite is not a second reading of the standards: it is
translated from the pandera schema of the same dataset (``sdtm_schema.build_schema`` after
``resolve``; ``adam_schema.build_schema`` after ``metadata_for``), whose checks are named by rule id,
so which rule checks which column is decided in one place. The translation adds only what an
expectation needs as parameters: the codelist's terms (``load_codelists`` / ``adam_codelists``) and
the regexes the pandera checks use (``sdtm_schema.ISO8601``, ``adam_schema.PARAMCD_PATTERN``).
Each expectation carries ``meta = {"rule": "TK-SDTM-0005", "variable": "AESER"}``, the rule title as
description and a GX severity from the rule's (error -> critical, warning -> warning, notice -> info),
so a GX failure maps back to its rule. One suite per dataset, for the columns the dataset has: GX
fails an expectation on an absent column, so only the presence checks name columns that may be absent.

Covered (GX_RULES): SDTM Req / Exp present (0001 / 0002), Req not null or blank (0003), Num values
numeric (0004), codelists (0005 / 0006 / 0012), DM one record per USUBJID (0007), --SEQ unique
within USUBJID (0008), ISO 8601 --DTC (0009); ADaM Req present (0001, names without placeholders),
never-null variables (0002), numeric types (0003), codelists (0004 / 0005), *FL values (0007), ADSL
population flags populated (0008), PARAMCD form (0011), ADSL one record per USUBJID (0013).

Left to pandas, as no GX column expectation says them: TK-SDTM-0010, TK-ADAM-0014 / 0015 (across
datasets); TK-ADAM-0001 for placeholder names like TRTxxP (GX names columns exactly, never by
pattern); TK-ADAM-0006 (labels are XPT metadata, not data); 0009 (AVAL or AVALC); 0010 / 0012
(one-to-one pairs); 0016 (CNSR integer arithmetic); the skipped-dataset notices TK-SDTM-0011 /
TK-ADAM-0017; every TK-XDS, ADTTE event-definition and mapping rule. ``covered`` says which pandera
findings a GX run reproduces, so a caller can take those from GX and the rest from pandera.

Same verdicts, exactly: SDTM and ADaM count a blank string as null, GX does not, so "blank or X" is
one regex on the string form (GX matches ``column.astype(str)``, the form the pandera checks compare),
``^\\s*$`` being blank; "not blank" is not-null plus not-matching ``^\\s*$``; "numeric" is the string
forms ``pd.to_numeric`` accepts; uniqueness exempts blank keys by a row condition. GX Data Docs are
not built: they load CSS / JS from CDNs, and the suite JSON and the findings are what CI needs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from trialkit import __version__
from trialkit.errors import InputError
from trialkit.sdtm.standards import Codelist
from trialkit.validators import adam_schema as adam
from trialkit.validators import sdtm_schema as sdtm
from trialkit.validators.rules import RULES, ValidationFinding
from trialkit.validators.schema_findings import blank, record, value

BLANK = r"^\s*$"
# The strings pd.to_numeric reads as a number (ASCII digits and whitespace only, as it does).
NUMBER = (r"^[ \t\n\r\f\v]*[-+]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
          r"[ \t\n\r\f\v]*$")

# What each pandera check (named by its rule id) becomes in GX.
PRESENT = (sdtm.REQ_MISSING.id, sdtm.EXP_MISSING.id, adam.REQ_MISSING.id)
NOT_BLANK = (sdtm.REQ_NULL.id, adam.REQ_NULL.id, adam.POPULATION_NULL.id)
NUMERIC = (sdtm.NUM_TYPE.id, adam.TYPE.id)
CODELIST = (sdtm.CT_NONEXT.id, sdtm.CT_EXT.id, sdtm.CT_SUBSET.id, adam.CT_NONEXT.id, adam.CT_EXT.id)
PATTERN = {sdtm.DTC_ISO.id: sdtm.ISO8601.pattern, adam.PARAMCD_FORM.id: adam.PARAMCD_PATTERN}
FLAG = (adam.FLAG_VALUE.id,)
UNIQUE = (sdtm.DM_UNIQUE.id, adam.ADSL_UNIQUE.id)
UNIQUE_WITHIN_SUBJECT = (sdtm.SEQ_UNIQUE.id,)
GX_RULES = tuple(sorted({*PRESENT, *NOT_BLANK, *NUMERIC, *CODELIST, *PATTERN, *FLAG, *UNIQUE, *UNIQUE_WITHIN_SUBJECT}))

STANDARDS = ("sdtm", "adam")
GX_SEVERITY = {"error": "critical", "warning": "warning", "notice": "info"}


def _gx():
    """great_expectations, imported only when the GX engine is used: it is an optional extra."""
    try:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.expectations.row_conditions import Column
    except ImportError as exc:
        raise InputError("the Great Expectations engine needs the great_expectations package: "
                         "install trialkit[gx] (pip install 'trialkit[gx]')") from exc
    return gx, Column, ProgressBarsConfig


def covered(finding: ValidationFinding) -> bool:
    """Whether ``run_gx`` reports this kind of pandera finding; the others stay with the pandera run."""
    if finding.rule == adam.REQ_MISSING.id:
        return not adam._is_template(finding.variable or "")
    return finding.rule in GX_RULES


def _one_of(terms, numbers: bool = False) -> str:
    """Blank or exactly one of ``terms`` (``\\Z``, unlike ``$``, lets no trailing newline through);
    ``numbers`` also lets numbers through."""
    regex = f"{BLANK}|^(?:{'|'.join(map(re.escape, sorted(terms)))})\\Z"
    return f"{regex}|{NUMBER}" if numbers else regex


@dataclass(frozen=True)
class _Dataset:
    """What one dataset's suite and findings are made from."""
    schema: pa.DataFrameSchema                      # its pandera schema: which rule checks which column
    present: tuple[tuple[str, str], ...]            # (rule id, variable) of the columns that must exist
    codelist: Callable[[str], tuple[Codelist, bool]]  # a column's codelist, and whether numbers pass too
    label: str                                      # variable prefix in messages: SDTM domain (LB for LBCH), ADaM name
    seq: str | None                                 # --SEQ / ASEQ, to name records


def _sdtm_dataset(name: str, frame: pd.DataFrame) -> _Dataset | None:
    meta = sdtm.resolve(name, frame)
    if meta is None:
        return None
    def codelist(column: str) -> tuple[Codelist, bool]:
        # --STRESC also holds numeric results (SDTMIG 3.4 section 4.5.1), as sdtm_schema lets through
        return sdtm.codelist_for(meta.variable(column)), column.endswith("STRESC")
    present = tuple(((sdtm.REQ_MISSING if v.core == "Req" else sdtm.EXP_MISSING).id, v.name)
                    for v in meta.variables if v.core in ("Req", "Exp"))
    seq = f"{meta.domain}SEQ" if meta.variable(f"{meta.domain}SEQ") else None
    return _Dataset(sdtm.build_schema(meta, list(frame.columns)), present, codelist, meta.domain, seq)


def _adam_dataset(name: str, frame: pd.DataFrame) -> _Dataset | None:
    metas = adam.metadata_for(name, frame)
    if metas is None:
        return None
    codelists = adam.adam_codelists()

    def codelist(column: str) -> tuple[Codelist, bool]:
        var = adam._match(metas, column)
        return codelists[(var.codelist if var is not None else None) or adam._suffix_codelist(column)], False
    present = tuple(dict.fromkeys((adam.REQ_MISSING.id, v.name) for m in metas for v in m.variables
                                  if v.core == "Req" and not adam._is_template(v.name)))
    return _Dataset(adam.build_schema(name, metas, list(frame.columns)), present, codelist, name,
                    "ASEQ" if "ASEQ" in frame else None)


def _suite(gx, column_condition, standard: str, name: str, frame: pd.DataFrame, dataset: _Dataset):
    """The ExpectationSuite of one dataset, check for check from its pandera schema."""
    expectations = []

    def add(kind: str, rule_id: str, variable: str, **kwargs) -> None:
        r = RULES[rule_id]
        expectations.append(getattr(gx.expectations, kind)(
            meta={"rule": r.id, "variable": variable}, description=r.title, severity=GX_SEVERITY[r.severity], **kwargs))

    for rule_id, column in dataset.present:
        add("ExpectColumnToExist", rule_id, column, column=column)
    for column, spec in dataset.schema.columns.items():
        if column not in frame:
            continue
        for rule_id in (check.name for check in spec.checks):
            if rule_id in NOT_BLANK:
                add("ExpectColumnValuesToNotBeNull", rule_id, column, column=column)
                add("ExpectColumnValuesToNotMatchRegex", rule_id, column, column=column, regex=BLANK)
            elif rule_id in NUMERIC:
                add("ExpectColumnValuesToMatchRegex", rule_id, column, column=column, regex=f"{BLANK}|{NUMBER}")
            elif rule_id in CODELIST:
                cl, numbers = dataset.codelist(column)
                add("ExpectColumnValuesToMatchRegex", rule_id, column, column=column,
                    regex=_one_of({str(t["value"]) for t in cl.terms}, numbers))
            elif rule_id in PATTERN:
                add("ExpectColumnValuesToMatchRegex", rule_id, column, column=column, regex=f"{BLANK}|{PATTERN[rule_id]}")
            elif rule_id in FLAG:
                add("ExpectColumnValuesToMatchRegex", rule_id, column, column=column, regex=_one_of({"Y", "N"}))
            elif rule_id in UNIQUE:
                s = frame[column]       # blank keys are exempt: '' and any other blank form present
                blanks = sorted({""} | set(s[blank(s) & s.notna()].astype(str)))
                add("ExpectColumnValuesToBeUnique", rule_id, column, column=column,
                    row_condition=column_condition(column).is_not_in(blanks))
    for rule_id in (check.name for check in dataset.schema.checks):
        if rule_id in UNIQUE_WITHIN_SUBJECT:
            add("ExpectCompoundColumnsToBeUnique", rule_id, dataset.seq, column_list=["USUBJID", dataset.seq],
                row_condition=column_condition(dataset.seq).is_not_null(), ignore_row_if="never")
    # Given to the constructor, not add_expectation: that drops an expectation "equalish" to one
    # already there, meta aside, and two rules may ask the same of a column (a *FL flag with the NY
    # codelist N / Y), each needing its own finding; it also compares pairwise, quadratic in the suite.
    return gx.ExpectationSuite(name=f"trialkit.{standard}.{name}", expectations=expectations,
                               meta={"generator": f"trialkit {__version__}"})


def _datasets(datasets: dict[str, pd.DataFrame], standard: str) -> dict[str, tuple[pd.DataFrame, _Dataset]]:
    """Named and indexed as ``validate_sdtm`` / ``validate_adam`` do, so names and rows agree; datasets
    the standard's metadata does not know are left out (the pandera run skips them with a notice)."""
    if standard not in STANDARDS:
        raise ValueError(f"standard must be one of {STANDARDS}, not {standard!r}")
    out = {}
    for name in sorted(datasets):
        frame = datasets[name].reset_index(drop=True)
        key = name.upper() if standard == "sdtm" else name
        dataset = (_sdtm_dataset if standard == "sdtm" else _adam_dataset)(key, frame)
        if dataset is not None:
            out[key] = frame, dataset
    return out


def build_suites(datasets: dict[str, pd.DataFrame], standard: str = "sdtm") -> dict:
    """One ExpectationSuite per dataset (name -> frame) of ``standard`` ("sdtm" or "adam")."""
    gx, column_condition, _ = _gx()
    return {name: _suite(gx, column_condition, standard, name, frame, dataset)
            for name, (frame, dataset) in _datasets(datasets, standard).items()}


def export_suites(suites: dict, folder: Path) -> list[Path]:
    """Write each suite as ``<folder>/<dataset>.json`` (``suite.to_json_dict()``) for CI users who run
    GX themselves; the folder is created."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, suite in sorted(suites.items()):
        path = folder / f"{name}.json"
        path.write_text(json.dumps(suite.to_json_dict(), indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def run_gx(datasets: dict[str, pd.DataFrame], standard: str = "sdtm") -> list[ValidationFinding]:
    """Every GX_RULES finding for the datasets, their suites run in one ephemeral GX context.

    The findings have the pandera run's shape: one per failing record (USUBJID, --SEQ, 1-based row,
    value), a missing column once, a notice-level failure once per distinct value with its record
    count and first record."""
    gx, column_condition, progress_bars = _gx()
    # GX logs each ephemeral context's temporary docs folder at INFO: noise in a CI log
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = progress_bars(globally=False)
    source = context.data_sources.add_pandas(f"trialkit-{standard}")
    findings = []
    for name, (frame, dataset) in _datasets(datasets, standard).items():
        suite = _suite(gx, column_condition, standard, name, frame, dataset)
        batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        result = batch.get_batch(batch_parameters={"dataframe": frame}).validate(suite, result_format="COMPLETE")
        findings += _findings(name, frame, dataset, [r for r in result.results if not r.success])
    return findings


def _findings(name: str, frame: pd.DataFrame, dataset: _Dataset, failed: list) -> list[ValidationFinding]:
    out = []
    for result in failed:
        config = result.expectation_config
        r, variable = RULES[config.meta["rule"]], config.meta["variable"]
        where = f"{r.title} ({dataset.label}.{variable})"
        if config.type == "expect_column_to_exist":
            out.append(ValidationFinding(r.id, r.severity, name, f"{where}; GX {config.type}", variable=variable))
            continue
        rows = result.result.get("unexpected_index_list")
        if rows is None:      # GX caught an exception: a failure of the engine, never a verdict on the data
            info = result.exception_info      # one record, or one per metric that failed
            causes = [info] if "raised_exception" in info else list(info.values())
            raise RuntimeError(f"{name}: GX could not evaluate {config.type} on {variable}: "
                               + "; ".join(sorted({c["exception_message"] for c in causes if c.get("raised_exception")})))
        if r.severity == "notice":
            values = frame[variable].iloc[rows].astype(str)
            first = pd.Series(rows, index=values.index).groupby(values).agg(["min", "size"])
            out += [ValidationFinding(r.id, r.severity, name, f"{where} on {n} record(s); first shown; GX {config.type}",
                                      variable=variable, value=failed_value, **record(frame, i, dataset.seq))
                    for failed_value, (i, n) in first.iterrows()]
            continue
        out += [ValidationFinding(r.id, r.severity, name, f"{where}; GX {config.type}", variable=variable,
                                  value=value(frame, i, variable), **record(frame, i, dataset.seq)) for i in rows]
    return sorted(out, key=lambda f: (f.rule, f.variable, -1 if f.row is None else f.row))
