"""``trialkit spec check STUDY``: a study's specs checked alone, before any data is read.

Each spec file is loaded by its stage's own loader (which checks its keys, expressions, codelists
and the raw dictionary's fields), then the specs are checked against each other: every dataset and
variable an ADaM spec reads (ADSL steps, ADTTE event and censor sources, BDS parameters, occurrence
sources) must be one the SDTM specs produce, or ADSL's own, and the report shells' datasets must be
ADaM datasets of the study. The first problem is a SpecError naming the file and the key; what
is allowed but unexplained (an Expected variable the study does not collect, given no reason) is a
warning.
"""

from __future__ import annotations

from pathlib import Path

from trialkit.adam.steps import step_outputs
from trialkit.errors import SpecError
from trialkit.expressions import parse
from trialkit.spec import study_dir

SUPP_VARIABLES = {"STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QLABEL", "QVAL", "QORIG", "QEVAL"}


def sdtm_variables(study: str | Path) -> dict[str, set[str]]:
    """Dataset -> variables the study's SDTM specs and study.yaml produce (SUPP-- and trial design too)."""
    from trialkit.sdtm.engine import load_checked_specs
    from trialkit.sdtm.standards import load_domains

    _, cfg, specs = load_checked_specs(study)
    produced = {domain: set(spec.columns()) for domain, spec in specs.items()}
    for domain, spec in specs.items():
        if any(src.supp for src in spec.sources):
            produced[f"SUPP{domain}"] = set(SUPP_VARIABLES)
    standard = load_domains()
    for domain in (*cfg.trial_design, "TV", "SE", "SV"):
        produced.setdefault(domain, set(standard[domain].names) if domain in standard else set())
    return produced


def adsl_variables(spec) -> set[str]:
    """The variables ADSL (or an occurrence dataset) has after its steps: the kept ones and every step's outputs."""
    return set(spec.keep) | step_outputs(spec.steps)


def _need(where: dict[str, set[str]], dataset: str, variables, path: Path, key: str) -> None:
    if dataset not in where:
        raise SpecError(f"dataset {dataset} is not produced by the study's SDTM specs (nor ADSL)", file=str(path), key=key)
    missing = sorted(v for v in variables if v and v != "start" and v not in where[dataset])
    if missing:
        raise SpecError(f"{dataset} has no variable(s) {missing} in the study's specs", file=str(path), key=key)


def check_adam_references(specs, available: dict[str, set[str]]) -> None:
    """Every dataset and variable the ADaM specs read exists in what the SDTM specs (or ADSL) produce."""
    available = {**available, "ADSL": adsl_variables(specs[0])}
    for spec in specs:
        for kind, body, key in spec.steps:
            step = key.split(":")[-1]
            if kind == "merged":
                fields = set(body.get("order") or []) | set((body.get("new_vars") or {}).values())
                if body.get("filter"):
                    fields |= parse(body["filter"]).fields
                _need(available, body["dataset"], fields, spec.path, f"{step}.merged")
            elif kind == "constant":
                for var, c in body.items():
                    _need(available, c["dataset"], {c["variable"]}, spec.path, f"{step}.constant.{var}")
        for p in spec.parameters:
            for src in (*p.events, *p.censors):
                # a filter may also name ADSL variables: the engine merges them onto the source's records
                tested = (set(src.filter.fields) - available["ADSL"]) if src.filter else set()
                fields = {src.date, src.seq or ""} | tested
                _need(available, src.dataset, fields, spec.path, src.key.split(":", 1)[-1] or f"parameters.{p.paramcd}")
        for i, p in enumerate(spec.collected):
            fields = {p.get("date", ""), p.get("seq", "")} | (parse(p["filter"]).fields if p.get("filter") else set())
            _need(available, p["dataset"], fields, spec.path, f"parameters[{i}]")
        if spec.source:
            _need(available, spec.source, spec.keep, spec.path, "source")


def check_labels(specs) -> None:
    """Every variable an ADSL or occurrence spec keeps or derives has its label in ``variables:``
    (otherwise the run would stop only when it writes the dataset, after SDTM is already out)."""
    for spec in specs:
        if spec.kind not in ("adsl", "occds"):
            continue
        unlabelled = sorted(adsl_variables(spec) - set(spec.labels))
        if unlabelled:
            raise SpecError(f"{spec.name}: variable(s) {unlabelled} have no label", file=str(spec.path),
                            key=f"variables.{unlabelled[0]}")


def spec_warnings(study: str | Path) -> list[str]:
    """What the specs allow but should say: each Expected variable written empty without a
    not_collected reason (trialkit.sdtm.expected), one line naming the spec file and key."""
    from trialkit.sdtm.engine import expected_gaps, load_checked_specs

    _, cfg, specs = load_checked_specs(study)
    return [str(g) for g in expected_gaps(cfg, specs)]


def check_study(study: str | Path) -> list[str]:
    """Check every spec of the study; returns what was checked, one line per part."""
    from trialkit.adam.engine import load_study_specs as load_adam_specs
    from trialkit.define import check_define_specs

    folder = study_dir(study)
    done = []
    available = sdtm_variables(study)
    done.append(f"raw dictionary and SDTM specs: {len(available)} datasets ({', '.join(sorted(available))})")
    adam = load_adam_specs(study)
    check_adam_references(adam, available)
    check_labels(adam)
    done.append(f"ADaM specs: {', '.join(s.name for s in adam)}; every dataset and variable they read exists")
    for kind in ("SDTM", "ADaM"):
        check_define_specs(kind, study)
    done.append("define.xml metadata: labels, codelists, origins")
    if (folder / "tlf" / "report.yaml").is_file():
        from trialkit.reports.tlf import load_report_spec

        report = load_report_spec(study)
        names = {s.name for s in adam}
        for shell in (*report.tables, *report.figures):
            dataset = shell.body.get("dataset")
            if dataset and dataset not in names:
                raise SpecError(f"dataset {dataset} is not an ADaM dataset of the study ({', '.join(sorted(names))})",
                                file=str(report.path), key=f"{shell.key}.dataset")
        done.append(f"report shells: {len(report.tables)} tables, {len(report.figures)} figures")
    return done
