"""``trialkit validate``: read the datasets, run every rule family, report, and give the exit code.

Exit codes: 0 when no finding reaches the threshold severity, 1 when one does, 2 when the input
cannot be used at all (a folder that does not exist). A file that cannot be read is a finding.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trialkit.adam.engine import load_study_specs
from trialkit.errors import InputError
from trialkit.validators.adam_schema import validate_adam
from trialkit.validators.adtte_events import check_adtte
from trialkit.validators.cross_dataset import check_cross
from trialkit.validators.inputs import read_folder
from trialkit.validators.mapping_findings import mapping_findings
from trialkit.validators.report import at_or_above
from trialkit.validators.rules import ValidationFinding
from trialkit.validators.sdtm_schema import validate_sdtm
from trialkit.xpt import sas_date_variables


def validate(study: str | Path | None, sdtm_dir: Path, adam_dir: Path | None = None, encoding: str | None = None,
             engine: str = "pandera", gx_suites: Path | None = None) -> tuple[list[ValidationFinding], list[str]]:
    """Every finding for the datasets in ``sdtm_dir`` (and ``adam_dir``), and the datasets checked.

    The ADTTE event-definition rules need the study's ADTTE spec: they run only when ``study`` is given.
    ``engine="gx"`` runs the single-dataset rules that Great Expectations can express through GX
    (validators/gx_engine.py) instead of pandera; the other rules run as always. ``gx_suites``: a
    folder to export the expectation suites to (sdtm/<DATASET>.json, adam/<DATASET>.json)."""
    for folder in (sdtm_dir, adam_dir):
        if folder is not None and not Path(folder).is_dir():
            raise InputError("folder to validate not found", file=str(folder))
    sdtm, findings = read_folder(sdtm_dir, encoding)
    findings += _schema_rules(sdtm, "sdtm", engine, gx_suites)
    findings += mapping_findings(sdtm_dir)
    checked = sorted(sdtm)
    if adam_dir is not None:
        adam, more = read_folder(adam_dir, encoding)
        findings += more
        checked += sorted(adam)
        findings += _schema_rules(adam, "adam", engine, gx_suites)
        if study is not None and "ADSL" in adam:
            adsl = sas_date_variables(adam["ADSL"])
            for spec in (s for s in load_study_specs(study) if s.kind == "tte" and s.name in adam):
                cutoff = pd.Timestamp(adsl[spec.cutoff].iloc[0]) if spec.cutoff in adsl else pd.Timestamp.max
                findings += check_adtte(sas_date_variables(adam[spec.name]), adsl, sdtm, spec.parameters, cutoff)
    findings += check_cross(sdtm, {n: sas_date_variables(f) for n, f in adam.items()} if adam_dir is not None else {})
    return findings, checked


def _schema_rules(datasets: dict[str, pd.DataFrame], standard: str, engine: str, gx_suites: Path | None
                  ) -> list[ValidationFinding]:
    findings = (validate_sdtm if standard == "sdtm" else validate_adam)(datasets)
    if engine == "gx" or gx_suites is not None:
        from trialkit.validators.gx_engine import build_suites, covered, export_suites, run_gx
        if gx_suites is not None:
            export_suites(build_suites(datasets, standard), Path(gx_suites) / standard)
        if engine == "gx":
            findings = [f for f in findings if not covered(f)] + run_gx(datasets, standard)
    return findings


def exit_code(findings: list[ValidationFinding], threshold: str) -> int:
    return 1 if any(at_or_above(f.severity, threshold) for f in findings) else 0
