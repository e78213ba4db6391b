"""Run a study's SDTM specs over a raw export: domains, SUPPQUAL, trial design, findings and ledger.

Order matters and is fixed: DM's own sources first, then every other domain, then DM's summaries
over them (RFSTDTC, the first dose, which anchors every study day, and RFXSTDTC from EX...) and its
post-mappings, then the derivations that need DM (--DY, EPOCH, --LOBXFL, unscheduled VISITNUM) and
--SEQ, then SUPPQUAL, whose IDVARVAL points at the final --SEQ. Last come the datasets study.yaml
describes (trial design, SV, SE), and every dataset gets each Expected variable it lacks as an empty
column (trialkit.sdtm.expected).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.errors import SpecError
from trialkit.findings import Finding
from trialkit.ledger import Ledger
from trialkit.plausible import DateWindow, later, outside_window, parse_window
from trialkit.raw_dictionary import RawDictionary, load_raw_dictionary
from trialkit.sdtm import mapping
from trialkit.sdtm.dates import study_day
from trialkit.sdtm.expected import Gap, add_absent, check_reasons, gaps
from trialkit.formats.reading import read_export
from trialkit.sdtm.raw_input import check_export_study, located, read_raw
from trialkit.sdtm.spec import (
    DomainSpec,
    Source,
    check_field_coverage,
    load_study_specs,
)
from trialkit.sdtm.standards import load_domains
from trialkit.sdtm.trial_elements import SE_VARIABLES, SV_VARIABLES, subject_elements, subject_visits
from trialkit.spec import load_yaml, study_dir

PROVENANCE = ["_form", "_row"]
ENGINE_FIELDS = ("STUDYID", "SITEID", "SUBJID")  # read by the engine itself: study check, USUBJID, DM.SITEID


@dataclass
class StudyConfig:
    studyid: str
    subject_form: str
    visits: dict[str, dict]
    epochs: list[dict]
    trial_design: dict[str, list[dict]]
    path: Path
    elements: list[dict] = field(default_factory=list)
    visit_domains: list[str] = field(default_factory=list)
    not_mapped: dict = field(default_factory=dict)
    not_collected: dict[str, dict[str, str]] = field(default_factory=dict)   # dataset -> Exp variable -> reason
    window: DateWindow = field(default_factory=DateWindow)                    # plausible_dates (trialkit.plausible)


@dataclass
class SdtmResult:
    datasets: dict[str, pd.DataFrame]                 # domain -> records, provenance columns included
    findings: list[Finding] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    specs: dict[str, DomainSpec] = field(default_factory=dict)
    raw_files: dict[str, tuple[str, pd.Series | None]] = field(default_factory=dict)   # form -> (the file the user has,
                                                      # per record its locator where a row number is not it: ODM)


def load_study_config(study: str | Path) -> StudyConfig:
    path = study_dir(study) / "sdtm" / "study.yaml"
    data = load_yaml(path) or {}
    for key in ("studyid", "subjects", "visits"):
        if key not in data:
            raise SpecError("required key is missing", file=str(path), key=key)
    visits = {}
    for k, v in enumerate(data["visits"]):
        if "raw" not in v or "visit" not in v:
            raise SpecError("each visit needs raw: and visit:", file=str(path), key=f"visits[{k}]")
        visits[str(v["raw"]).upper()] = v
    return StudyConfig(data["studyid"], data["subjects"], visits, data.get("epochs", []), data.get("trial_design", {}), path,
                       data.get("subject_elements", []), data.get("subject_visits", []), data.get("not_mapped") or {},
                       data.get("not_collected") or {}, parse_window(data.get("plausible_dates"), path))


def _source_frame(spec: DomainSpec, src: Source, raw: pd.DataFrame, cfg: StudyConfig, dictionary: RawDictionary,
                  findings: list[Finding]) -> pd.DataFrame:
    if src.filter is not None:
        raw = raw[src.filter.evaluate(raw).to_numpy()]
    out = pd.DataFrame(index=raw.index)
    out["STUDYID"] = cfg.studyid
    out["DOMAIN"] = spec.domain
    out["USUBJID"] = cfg.studyid + "-" + raw["SUBJID"]
    for m in src.mappings:
        if m.algorithm == "visit":
            values, found = mapping.visit(m, raw, src.form, cfg.visits)
            out[["VISITNUM", "VISIT"]] = values
        else:
            fn = getattr(mapping, m.algorithm)
            values, found = fn(m, raw, src.form, dictionary) if m.algorithm == "date" else fn(m, raw, src.form)
            out[m.variable] = values
        findings += found
    out["_form"] = src.form
    out["_row"] = raw["_row"].to_numpy()
    out["_src"] = src.key          # which source made the record (two sources may read one form)
    out["_subjid"] = raw["SUBJID"].to_numpy()
    fields = {f.name: f for f in dictionary.forms[src.form].fields}
    for q in src.supp:
        value = raw[q.field].astype(str).str.strip()
        codes = fields[q.field].codes
        if codes:  # a coded field: the dictionary's code, whatever case the site typed it in
            value = value.where(~value.str.upper().isin({c.upper() for c in codes}),
                                value.str.upper().map({c.upper(): c for c in codes}))
        out[f"_supp_{q.qnam}"] = value.to_numpy()
    return out


def build_domain(spec: DomainSpec, forms: dict[str, pd.DataFrame], cfg: StudyConfig, dictionary: RawDictionary,
                 findings: list[Finding]) -> pd.DataFrame:
    parts = [_source_frame(spec, src, forms[src.form], cfg, dictionary, findings) for src in spec.sources]
    if spec.meta.cls == "SPECIAL PURPOSE" and spec.domain == "DM":
        # DM: one record per subject; later sources add their variables to the subject's record
        frame = parts[0]
        for extra in parts[1:]:
            new = [c for c in extra.columns if c not in frame.columns or c in ("_form", "_row")]
            extra = extra[["USUBJID", *new]].rename(columns={"_form": f"_form_{len(frame.columns)}", "_row": f"_row_{len(frame.columns)}"})
            frame = frame.merge(extra, on="USUBJID", how="left")
        text = [c for c in frame.columns if frame[c].dtype == object]
        frame[text] = frame[text].fillna("")  # a subject without a record of a later source
        return frame.reset_index(drop=True)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _dm_summaries(spec: DomainSpec, dm: pd.DataFrame, datasets: dict[str, pd.DataFrame]) -> pd.DataFrame:
    for var, s in spec.summaries.items():
        parts = []
        for src in s.sources:
            source = datasets.get(src.domain)
            needed = {src.variable} | (set(src.filter.fields) if src.filter else set())
            if source is None or not needed <= set(source.columns):
                raise SpecError(f"summary source {src.domain}.{', '.join(sorted(needed))} is not built by any spec",
                                file=str(spec.path), key=f"summaries.{var}")
            if src.filter is not None:
                source = source[src.filter.evaluate(source).to_numpy()]
            parts.append(source[["USUBJID", src.variable]].set_axis(["USUBJID", "value"], axis=1))
        values = pd.concat(parts, ignore_index=True)
        values = values[values["value"].astype(str) != ""].sort_values("value", kind="stable")
        # ISO 8601 text sorts as dates do: first / last after one sort, no per-group Python
        agg = values.groupby("USUBJID")["value"].agg("first" if s.stat == "min" else "last")
        dm[var] = dm["USUBJID"].map(agg).fillna("")
    for m in spec.post:
        if m.algorithm == "age":
            dm[m.variable] = mapping.age(m, dm)
        elif m.algorithm == "condition":
            dm[m.variable], _ = mapping.condition(m, dm, "DM")
        elif m.algorithm == "hardcode":
            dm[m.variable], _ = mapping.hardcode(m, dm, "DM")
        else:
            raise SpecError(f"post mappings take condition, hardcode or age, not {m.algorithm}", file=str(spec.path), key=f"post.{m.variable}")
    return dm


def _epoch(dtc: pd.Series, refs: pd.DataFrame, rules: list[dict]) -> pd.Series:
    """First rule that holds: ``from``/``to`` inclusive, ``before``/``after`` exclusive bounds on
    DM date variables; a partial or missing date gets no EPOCH."""
    text = dtc.astype(str)
    day = text.str.slice(0, 10).where(text.str.len() >= 10, "")
    out = _epoch_of_day(day, refs, rules)
    # a date without its day still has an EPOCH when its whole month falls in one epoch
    month = text.str.len() == 7
    if month.any():
        first = (text + "-01").where(month, "")
        last = pd.Series("", index=dtc.index, dtype=object)
        ends = pd.to_datetime(first.where(month), format="%Y-%m-%d", errors="coerce") + pd.offsets.MonthEnd(0)
        last[month] = ends[month].dt.strftime("%Y-%m-%d")
        a, b = _epoch_of_day(first, refs, rules), _epoch_of_day(last, refs, rules)
        out = out.where(~(month & (a == b)), a)
    return out


def _epoch_of_day(day: pd.Series, refs: pd.DataFrame, rules: list[dict]) -> pd.Series:
    out = pd.Series("", index=day.index, dtype=object)
    decided = day == ""
    for rule in rules:
        ok = ~decided
        for op, var in ((k, v) for k, v in rule.items() if k != "epoch"):
            bound = refs[var]                 # already the calendar day, '' when unknown
            has = bound != ""
            if op == "from":
                ok &= has & (day >= bound)
            elif op == "to":
                ok &= has & (day <= bound)
            elif op == "before":
                ok &= has & (day < bound)
            elif op == "after":
                ok &= has & (day > bound)
            elif op == "missing":
                ok &= ~has
        out[ok] = rule["epoch"]
        decided |= ok
    return out


def _unscheduled_visitnum(frame: pd.DataFrame, dtc: str) -> None:
    """Unscheduled VISITNUM = the subject's last scheduled VISITNUM on or before the date + .01 each, and
    VISIT names the number ('UNSCHEDULED 3.01') so VISIT and VISITNUM stay one-to-one across the study
    (SDTMIG 3.4 section 4.4.5; ADaM AVISIT/AVISITN inherit it)."""
    uns = frame["VISITNUM"].isna() & (frame["VISIT"] != "")
    if not uns.any() or dtc not in frame:
        return
    day = pd.to_datetime(frame[dtc].astype(str).str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    work = pd.DataFrame({"USUBJID": frame["USUBJID"], "day": day, "VISITNUM": frame["VISITNUM"]})
    sched = work[~uns & day.notna()].sort_values("day").drop_duplicates(["USUBJID", "day"], keep="last")
    target = work[uns & day.notna()].drop(columns="VISITNUM").reset_index().sort_values("day")
    merged = pd.merge_asof(target, sched, on="day", by="USUBJID", direction="backward")
    merged["VISITNUM"] = merged["VISITNUM"].fillna(0)
    # one number per unscheduled visit (date), shared by all records of that visit
    merged["k"] = merged.groupby(["USUBJID", "VISITNUM"])["day"].rank(method="dense").astype(int)
    rows = merged["index"].to_numpy()
    frame.loc[rows, "VISITNUM"] = (merged["VISITNUM"] + 0.01 * merged["k"]).round(2).to_numpy()
    frame.loc[rows, "VISIT"] = frame.loc[rows, "VISIT"] + " " + frame.loc[rows, "VISITNUM"].map("{:.2f}".format)


def reference_days(dm: pd.DataFrame) -> pd.DataFrame:
    """DM's RF* dates as their calendar day (YYYY-MM-DD, '' when partial or absent), by USUBJID."""
    rf = [c for c in dm.columns if c.startswith("RF")]
    days = dm[rf].astype(str).apply(lambda c: c.str.slice(0, 10).where(c.str.len() >= 10, ""))
    return days.set_index(dm["USUBJID"])


def _last_before_exposure(spec: DomainSpec, frame: pd.DataFrame, first_dose: pd.Series) -> pd.Series:
    """--LOBXFL: 'Y' on the subject's last result of each test (``derive.lobxfl`` names what tells
    tests apart) dated on or before the day of the first dose (DM.RFXSTDTC), else ''. A result
    is a record with --ORRES that is not NOT DONE; its --DTC must be a complete date."""
    d = spec.domain
    text = frame[f"{d}DTC"].astype(str)
    day = text.str.slice(0, 10).where(text.str.len() >= 10, "")
    stat = frame[f"{d}STAT"].astype(str) if f"{d}STAT" in frame else pd.Series("", index=frame.index)
    result = (frame[f"{d}ORRES"].astype(str).str.strip() != "") & (stat != "NOT DONE")
    before = result & (day != "") & (first_dose != "") & (day <= first_dose)
    keys = ["USUBJID", *spec.lobxfl]
    last = frame[before].assign(_day=day[before]).sort_values([*keys, "_day"], kind="stable").groupby(keys).tail(1).index
    flag = pd.Series("", index=frame.index, dtype=object)
    flag[last] = "Y"
    return flag


def derive(spec: DomainSpec, frame: pd.DataFrame, dm: pd.DataFrame, cfg: StudyConfig) -> pd.DataFrame:
    ref_days = reference_days(dm)
    needed = {"RFSTDTC", "RFXSTDTC"} | {v for rule in cfg.epochs for k, v in rule.items() if k != "epoch"}
    refs = pd.DataFrame({var: frame["USUBJID"].map(ref_days[var]).fillna("") for var in needed if var in ref_days},
                        index=frame.index)
    for var, dtc in spec.study_days.items():
        frame[var] = study_day(frame[dtc], refs["RFSTDTC"])
    if "VISITNUM" in frame:
        _unscheduled_visitnum(frame, f"{spec.domain}DTC")
    if spec.epoch:
        frame["EPOCH"] = _epoch(frame[spec.epoch], refs, cfg.epochs)
    if spec.lobxfl:
        frame[f"{spec.domain}LOBXFL"] = _last_before_exposure(spec, frame, refs["RFXSTDTC"])
    if spec.seq:
        frame = frame.sort_values(["USUBJID", *spec.seq], kind="stable").reset_index(drop=True)
        frame[f"{spec.domain}SEQ"] = (frame.groupby("USUBJID").cumcount() + 1).astype(float)
    else:
        frame = frame.sort_values(["USUBJID"], kind="stable").reset_index(drop=True)
    return frame


def suppqual(spec: DomainSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """SUPP-- records for the non-standard variables, keyed to the parent by --SEQ (DM: by subject)."""
    parts = []
    seq = f"{spec.domain}SEQ"
    for src in spec.sources:
        for q in src.supp:
            col = f"_supp_{q.qnam}"
            values = frame[col] if col in frame else pd.Series("", index=frame.index)
            rows = frame[(frame["_src"] == src.key) & values.notna() & (values.astype(str) != "")]
            if rows.empty:
                continue
            parts.append(pd.DataFrame({
                "STUDYID": rows["STUDYID"], "RDOMAIN": spec.domain, "USUBJID": rows["USUBJID"],
                "IDVAR": "" if spec.domain == "DM" else seq,
                "IDVARVAL": "" if spec.domain == "DM" else rows[seq].astype(int).astype(str),
                "QNAM": q.qnam, "QLABEL": q.qlabel, "QVAL": rows[col], "QORIG": q.qorig, "QEVAL": "",
                "_form": rows["_form"], "_row": rows["_row"],
            }))
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True).sort_values(["USUBJID", "QNAM", "IDVARVAL"], kind="stable").reset_index(drop=True)


def trial_design(cfg: StudyConfig) -> dict[str, pd.DataFrame]:
    """TA, TE, TI, TS from the study's records, TV from its visit map."""
    out = {}
    for domain, records in cfg.trial_design.items():
        frame = pd.DataFrame(records)
        frame.insert(0, "DOMAIN", domain)
        frame.insert(0, "STUDYID", cfg.studyid)
        out[domain] = frame
    tv = [v for v in cfg.visits.values() if v.get("visitnum") is not None]
    if tv:
        out["TV"] = pd.DataFrame({
            "STUDYID": cfg.studyid, "DOMAIN": "TV",
            "VISITNUM": [float(v["visitnum"]) for v in tv], "VISIT": [v["visit"] for v in tv],
            "ARMCD": [v.get("armcd", "") for v in tv], "TVSTRL": [v.get("start_rule", "") for v in tv],
        })
        # VISITDY (Perm) only for visits scheduled by study day: a visit timed from randomization has
        # no planned day relative to RFSTDTC (the first dose); TVSTRL says when it is
        if any(v.get("visitdy") is not None for v in tv):
            out["TV"]["VISITDY"] = [float(v["visitdy"]) if v.get("visitdy") is not None else np.nan for v in tv]
    return out


def study_yaml_columns(cfg: StudyConfig) -> dict[str, set[str]]:
    """The variables of each dataset study.yaml describes: trial design (TA, TE, TI, TS, TV) and
    the subject-level SV and SE."""
    out = {domain: set(frame.columns) for domain, frame in trial_design(cfg).items()}
    if cfg.visit_domains:
        out["SV"] = set(SV_VARIABLES)
    if cfg.elements and "TA" in cfg.trial_design:
        out["SE"] = set(SE_VARIABLES)
    return out


def _check_not_collected(cfg: StudyConfig) -> StudyConfig:
    """study.yaml ``not_collected: {DATASET: {VAR: reason}}`` checked against the datasets it describes."""
    if not isinstance(cfg.not_collected, dict):
        raise SpecError("not_collected: {DATASET: {VARIABLE: reason}}", file=str(cfg.path), key="not_collected")
    produced, standard = study_yaml_columns(cfg), load_domains()
    checked = {}
    for domain, reasons in cfg.not_collected.items():
        if domain not in produced:
            raise SpecError(f"study.yaml describes no dataset {domain} (its own: {', '.join(sorted(produced))}); a domain "
                            "spec lists its own not_collected", file=str(cfg.path), key=f"not_collected.{domain}")
        checked[domain] = check_reasons(standard[domain], produced[domain], reasons, cfg.path, f"not_collected.{domain}")
    cfg.not_collected = checked
    return cfg


def expected_gaps(cfg: StudyConfig, specs: dict[str, DomainSpec]) -> list[Gap]:
    """Every Exp variable the study writes empty without saying why (trialkit.sdtm.expected)."""
    out = [g for spec in specs.values() for g in gaps(spec.meta, spec.filled, spec.not_collected, spec.path, "not_collected")]
    standard = load_domains()
    for domain, produced in study_yaml_columns(cfg).items():
        out += gaps(standard[domain], produced, cfg.not_collected.get(domain, {}), cfg.path, f"not_collected.{domain}")
    return out


def load_checked_specs(study: str | Path) -> tuple[RawDictionary, StudyConfig, dict[str, DomainSpec]]:
    """The raw dictionary, study.yaml and every domain spec, each checked, and every raw field either
    mapped or listed under not_mapped: all a run needs before it reads a record."""
    dictionary = load_raw_dictionary(study)
    cfg = _check_not_collected(load_study_config(study))
    specs = load_study_specs(study, dictionary)
    if "DM" not in specs:
        raise SpecError("a study needs a DM spec", file=str(study_dir(study) / "sdtm"))
    check_field_coverage(specs, dictionary, cfg.not_mapped, cfg.path, ENGINE_FIELDS)
    return dictionary, cfg, specs


def implausible_births(spec: DomainSpec, dm: pd.DataFrame, window: DateWindow) -> list[Finding]:
    """A BRTHDTC that is a real date but outside the study's plausible window, or after RFSTDTC (a
    negative age), named by the raw form, row and field it came from: the record is mapped as
    collected, and the data manager hears of it here as well as from the validator."""
    if "BRTHDTC" not in dm or "_form" not in dm:
        return []
    birth = dm["BRTHDTC"].astype(object).where(dm["BRTHDTC"].notna(), "").astype(str)
    reference = dm["RFSTDTC"] if "RFSTDTC" in dm else pd.Series("", index=dm.index)
    outside, after_start = outside_window(birth, window), later(birth, reference)
    source, mapping_ = next(((src, m) for src in spec.sources for m in src.mappings if m.variable == "BRTHDTC"), (None, None))
    field_ = str(mapping_.args.get(mapping_.algorithm, "BRTHDTC")) if mapping_ is not None else "BRTHDTC"
    # the provenance columns of the form BRTHDTC was read from (DM merges several forms: _form, _form_2...)
    suffix = next((c.removeprefix("_form") for c in dm.columns if c.startswith("_form")
                   and source is not None and (dm[c] == source.form).any()), "")
    forms, rows = dm[f"_form{suffix}"], dm[f"_row{suffix}"]
    out = []
    for k in np.flatnonzero((outside | after_start).to_numpy()):
        why = (f"birth date outside the plausible window {window.describe()}" if outside.iat[k]
               else f"birth date after RFSTDTC {reference.iat[k]} (a negative age)")
        out.append(Finding("warning", f"{forms.iat[k]}.csv", int(rows.iat[k]), field_, birth.iat[k], why,
                           mapping_.key if mapping_ is not None else None, str(dm["USUBJID"].iat[k]), "implausible"))
    return out


def run_sdtm(study: str | Path, raw_dir: Path, encoding: str | None = None, sheet: str | None = None) -> SdtmResult:
    dictionary, cfg, specs = load_checked_specs(study)
    export = read_export(raw_dir, encoding, sheet)
    check_export_study(export, study, dictionary, cfg.studyid, cfg.subject_form)
    result = SdtmResult(datasets={}, specs=specs,
                        raw_files={name: (ef.source, ef.locators) for name, ef in export.forms.items()})
    # coded fields whose mapping reports its own unknown values as errors (with the spec key); a field
    # recoded through an extensible codelist keeps an unknown value with only a warning, so a value
    # outside the raw dictionary's codes there (a typo such as "?") is still the dictionary's error
    ct_fields = {(src.form, m.args[m.algorithm]) for spec in specs.values() for src in spec.sources
                 for m in src.mappings if m.algorithm == "visit" or (m.algorithm == "ct" and not m.codelist.extensible)}
    forms = read_raw(export, dictionary, cfg.subject_form, result.ledger, result.findings, ct_fields)
    for name, frame in forms.items():
        wrong = frame["STUDYID"].str.strip() != cfg.studyid
        result.findings += [Finding("error", f"{name}.csv", int(r), "STUDYID", v, f"study identifier is not {cfg.studyid}", None, s, "studyid")
                            for r, v, s in zip(frame["_row"][wrong], frame["STUDYID"][wrong], frame["SUBJID"][wrong])]

    dm = build_domain(specs["DM"], forms, cfg, dictionary, result.findings)
    built = {"DM": dm}
    for domain, spec in specs.items():
        if domain != "DM":
            built[domain] = build_domain(spec, forms, cfg, dictionary, result.findings)
    built["DM"] = _dm_summaries(specs["DM"], dm, built)
    result.findings += implausible_births(specs["DM"], built["DM"], cfg.window.with_cutoff(cfg.trial_design.get("TS")))
    for domain, spec in specs.items():
        built[domain] = derive(spec, built[domain], built["DM"], cfg)
        supp = suppqual(spec, built[domain])
        if not supp.empty:
            built[f"SUPP{domain}"] = supp
    for domain, frame in built.items():
        pairs = [frame[[f"_form{sfx}", f"_row{sfx}"]].set_axis(PROVENANCE, axis=1)
                 for sfx in [c.removeprefix("_form") for c in frame.columns if c.startswith("_form")]]
        result.ledger.land(domain, len(frame), pd.concat(pairs, ignore_index=True) if pairs else pd.DataFrame(columns=PROVENANCE))
    for form, rows in result.ledger.unaccounted().items():
        result.ledger.reject(form, rows, "not mapped by any domain spec (form unmapped or excluded by a filter)")
        result.findings.append(Finding("warning", f"{form}.csv", rows[0], None, "", f"{len(rows)} record(s) not mapped by any domain spec",
                                       kind="unmapped"))
    built.update(trial_design(cfg))
    if cfg.visit_domains:
        planned = {float(v["visitnum"]) for v in cfg.visits.values() if v.get("visitnum") is not None}
        built["SV"] = subject_visits(cfg.studyid, built, cfg.visit_domains, planned)
    if cfg.elements and "TA" in built:
        built["SE"] = subject_elements(cfg.studyid, built["DM"], built["TA"], cfg.elements)
    standard = load_domains()
    result.datasets = {domain: add_absent(frame, standard[domain]) if domain in standard and len(frame.columns) else frame
                       for domain, frame in built.items()}
    result.findings += [Finding("warning", g.file.name, None, g.variable, "", str(g), f"{g.file.name}:{g.key}")
                        for g in expected_gaps(cfg, specs)]
    result.findings[:] = located(result.findings, export, dictionary.forms)
    return result


def public_columns(spec_columns: list[str], frame: pd.DataFrame) -> pd.DataFrame:
    """The dataset as it is written: spec variables in SDTMIG order, provenance dropped."""
    return frame[[c for c in spec_columns if c in frame.columns]]


def dataset_columns(domain: str, frame: pd.DataFrame, specs: dict[str, DomainSpec]) -> list[str]:
    meta = load_domains()
    if domain in specs:
        return specs[domain].columns()
    key = "SUPPQUAL" if domain.startswith("SUPP") else domain
    names = meta[key].names if key in meta else list(frame.columns)
    return [c for c in names if c in frame.columns]
