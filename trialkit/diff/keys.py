"""The natural keys that match a record of one transfer with the same record of the next.

Never the row position and never --SEQ (both change when a record is inserted). Per kind:

- SDTM: the keys of the study's domain spec (``keys:`` in specs/studies/<study>/sdtm/<DOMAIN>.yaml
  adds to the IG's: trialkit.sdtm.spec), or without ``--study`` the SDTMIG 3.4 natural keys of the
  domain (specs/standards/sdtmig-3.4, ``keys:``). SUPPQUAL's IDVARVAL holds the parent's --SEQ when
  IDVAR is --SEQ; trialkit.diff.folders replaces it by the parent's keys before matching.
- ADaM, by class: ADSL USUBJID; BDS USUBJID, PARAMCD, plus AVISITN and ADT where present; BDS-TTE
  (a CNSR variable) USUBJID, PARAMCD (one record per subject and parameter: the ADaMIG keys of
  specs/standards/adamig-1.3/ADTTE.yaml; its ADT is the analysis date, so a moved event date is a
  change, not a record removed and another added); an occurrence dataset (ADAE...) the natural keys
  of its SDTM source domain (the ADaM spec's ``source:``, else the name without AD) that the dataset
  carries. A study's own SDTM key (AESPID) is seldom copied to ADaM, and the IG's keys alone repeat
  (two episodes of one term on one day), so the source's topic (--TERM, --TRT) and end date (--ENDTC)
  join them where the dataset has them.
- Raw forms: SUBJID plus what the raw dictionary says identifies a record of the form
  (trialkit.raw_dictionary.Form.identifiers).

A dataset none of these know (a custom domain) is matched on all its variables but --SEQ: a changed
record then shows as one removed and one added.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trialkit.sdtm.standards import load_domains
from trialkit.spec import load_yaml, study_dir

ADAM_BDS_KEYS = ["STUDYID", "USUBJID", "PARAMCD", "AVISITN", "ADT"]
ADAM_TTE_KEYS = ["STUDYID", "USUBJID", "PARAMCD", "AVISITN"]


def seq_variables(name: str, frame: pd.DataFrame) -> tuple[str, ...]:
    """The sequence numbers of a dataset, renumbered freely between transfers: --SEQ, ASEQ."""
    domain = name.removeprefix("SUPP")
    return tuple(c for c in (f"{domain}SEQ", "ASEQ") if c in frame.columns)


def _study_sdtm_keys(study: str | Path | None) -> dict[str, list[str]]:
    """Domain -> keys of the study's SDTM specs (the IG's plus the spec's own ``keys:``)."""
    if study is None:
        return {}
    from trialkit.raw_dictionary import load_raw_dictionary
    from trialkit.sdtm.spec import load_study_specs

    return {name: list(spec.keys) for name, spec in load_study_specs(study, load_raw_dictionary(study)).items()}


def sdtm_keys(study: str | Path | None) -> dict[str, list[str]]:
    """Domain -> natural keys: the study's spec where it has the domain, the SDTMIG's otherwise."""
    keys = {name: list(meta.keys) for name, meta in load_domains().items()}
    return {**keys, **_study_sdtm_keys(study)}


def sdtm_dataset_keys(name: str, frame: pd.DataFrame, known: dict[str, list[str]]) -> list[str]:
    """The keys of one SDTM dataset present in it (a SUPP-- dataset takes SUPPQUAL's)."""
    keys = known.get(name) or (known.get("SUPPQUAL") if name.startswith("SUPP") else None)
    return _present(keys, name, frame)


def _present(keys: list[str] | None, name: str, frame: pd.DataFrame) -> list[str]:
    present = [k for k in keys or () if k in frame.columns]
    if not present or present == ["STUDYID"]:
        return [c for c in frame.columns if c not in seq_variables(name, frame)]
    return present


def _adam_source(study: str | Path | None, name: str) -> str:
    """The SDTM domain an occurrence dataset comes from: its ADaM spec's ``source:``, else ADAE -> AE."""
    if study is not None:
        path = study_dir(study) / "adam" / f"{name}.yaml"
        if path.is_file():
            return str((load_yaml(path) or {}).get("source") or name[2:])
    return name[2:]


def adam_dataset_keys(name: str, frame: pd.DataFrame, study: str | Path | None, known: dict[str, list[str]]) -> list[str]:
    """ADSL: USUBJID; BDS / TTE (a PARAMCD): USUBJID, PARAMCD, AVISITN, ADT; occurrence: the source's keys."""
    if name == "ADSL":
        return _present(["STUDYID", "USUBJID"], name, frame)
    if "PARAMCD" in frame.columns:
        return _present(ADAM_TTE_KEYS if "CNSR" in frame.columns else ADAM_BDS_KEYS, name, frame)
    domain = _adam_source(study, name)
    candidates = [*known.get(domain, []), f"{domain}TERM", f"{domain}TRT", f"{domain}ENDTC"]
    source = [k for k in dict.fromkeys(candidates) if k not in ("STUDYID", "USUBJID") and k in frame.columns]
    return _present(["STUDYID", "USUBJID", *source] if source else None, name, frame)
