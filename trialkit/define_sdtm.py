"""define.xml metadata of a study's SDTM datasets, read from the same specs that drive the mapping.

Labels, types, core, roles, keys, class and structure come from the SDTMIG metadata
(specs/standards/sdtmig-3.4/), codelists from the CT (specs/standards/ct/), and each variable's
origin from the algorithm its domain spec gives it, in the spirit of sdtm.oak's algorithm names:

- ``assign``, ``ct``, ``date`` and ``visit`` (VISIT) read a raw field: **Collected**, with the raw
  form as the place in the annotated CRF (the raw dictionary has no CRF page numbers, so the form
  name is the PDF named destination);
- ``hardcode``: **Assigned**;
- ``condition``, ``age``, the DM summaries and everything under ``derive`` (--SEQ, --DY, EPOCH,
  VISITNUM), and USUBJID: **Derived**, with the derivation written out from the spec;
- trial design datasets (TA, TE, TI, TS, TV), from sdtm/study.yaml: **Protocol**; SV and SE, built
  from the other domains: **Derived**;
- an Expected variable the study does not collect, written empty (trialkit.sdtm.expected): **Not
  Available**, with the spec's ``not_collected`` reason as the variable's comment.

Findings whose sources each set --TESTCD with ``hardcode`` get value-level metadata per test code
for their result variables; SUPP-- datasets get it per QNAM for QVAL, with the raw field's codes
from the raw dictionary as the codelist.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from trialkit.define_model import (
    QORIG_ORIGINS,
    CodelistDef,
    DatasetDef,
    Origin,
    StudyDefine,
    Term,
    ValueDef,
    VariableDef,
    Where,
    merge_origins,
    spec_comment,
)
from trialkit.errors import SpecError
from trialkit.raw_dictionary import RawDictionary
from trialkit.sdtm.engine import StudyConfig, load_checked_specs, study_yaml_columns
from trialkit.sdtm.expected import absent
from trialkit.sdtm.spec import DomainSpec, Mapping
from trialkit.sdtm.standards import SDTMIG, DomainMeta, load_codelists, load_domains
from trialkit.spec import load_yaml

STANDARDS = Path(str(resources.files("trialkit.specs").joinpath("standards")))
CT_FILE = STANDARDS / "ct" / "sdtm-ct.yaml"
RESULTS = ("ORRES", "ORRESU", "STRESC", "STRESN", "STRESU")     # value-level metadata per --TESTCD
FREE_RESULTS = ("ORRES", "STRESC")        # copied from a field, a result is not coded: no codelist
TRIAL_DESIGN = ("TA", "TE", "TI", "TS", "TV")
_STUDY_DAY = ("{0} = {1} - DM.RFSTDTC + 1 on or after RFSTDTC, {1} - DM.RFSTDTC before it (no day 0); empty when "
              "either date is partial")
_EPOCH_BOUNDS = {"from": "on or after {}", "to": "on or before {}", "before": "before {}", "after": "after {}",
                 "missing": "{} is missing"}


def ct_version() -> str:
    """The CT package date the study declares ("SDTM CT 2024-03-29" -> "2024-03-29")."""
    package = str(load_yaml(CT_FILE).get("package", ""))
    return package.split()[-1] if package else ""


def ct_codelist(name: str, used_by: Where) -> CodelistDef:
    """A codelist of the study's CT (``used_by``: the spec place that names it, for the error when
    the CT has no such list)."""
    ct = load_codelists()
    if name not in ct:
        raise SpecError(f"codelist {name!r} is not in the controlled terminology ({CT_FILE.name})", file=str(used_by.file),
                        key=used_by.key)
    cl = ct[name]
    terms = tuple(Term(str(t["value"]), t.get("decode"), t.get("code"), bool(t.get("extended"))) for t in cl.terms)
    return CodelistDef(name, cl.label, terms, Where(CT_FILE, f"codelists.{name}"), cl.code, cl.extensible, not cl.sponsor)


class _Context:
    """What every dataset of one study needs: the SDTMIG metadata, the raw dictionary, study.yaml."""

    def __init__(self, cfg: StudyConfig, dictionary: RawDictionary) -> None:
        self.cfg = cfg
        self.dictionary = dictionary
        self.standard = load_domains()

    def meta(self, name: str) -> DomainMeta:
        return self.standard["SUPPQUAL" if name.startswith("SUPP") else name]

    def label_source(self, dataset: str, variable: str | None = None) -> Where:
        meta = self.meta(dataset)
        file = STANDARDS / SDTMIG / f"{meta.domain}.yaml"
        if variable is None:
            return Where(file, "label")
        return Where(file, f"variables[{meta.names.index(variable)}]")

    def variable(self, dataset: str, name: str, origins: list[Origin], origin_source: Where, *, method: str | None = None,
                 codelist: CodelistDef | None = None, values: tuple[ValueDef, ...] = (), comment: str | None = None
                 ) -> VariableDef:
        vm = self.meta(dataset).variable(name)
        return VariableDef(name, vm.label, self.label_source(dataset, name), merge_origins(origins), origin_source, method,
                           comment, codelist, vm.core == "Req", vm.role or None, values)

    def standard_codelist(self, dataset: str, name: str) -> CodelistDef | None:
        vm = self.meta(dataset).variable(name)
        return ct_codelist(vm.codelist, self.label_source(dataset, name)) if vm.codelist else None


def _where(m: Mapping) -> str:
    return m.key.split(":", 1)[1]


def _then_text(then) -> str:
    return then["assign"] if isinstance(then, dict) else repr(str(then))


def _condition_text(m: Mapping) -> str:
    branches = [f"{_then_text(b['then'])} if {b['if']}" for b in m.args["condition"]]
    otherwise = f"otherwise {_then_text(m.args['else'])}" if "else" in m.args else "otherwise empty"
    return f"{m.variable} = " + "; ".join([*branches, otherwise])


def _mapping_origin(m: Mapping, form: str | None) -> tuple[Origin, str | None]:
    """The origin of one mapping and, for a derived one, its derivation in words."""
    args, at = m.args, f"form {form}, field " if form else ""
    if m.algorithm in ("assign", "ct", "visit"):
        recoded = "" if m.algorithm != "ct" else (f" recoded to CT {args['codelist']}" if "codelist" in args
                                                  else " recoded by the spec's table")
        return Origin("Collected", f"{at}{args[m.algorithm]}{recoded}", form), None
    if m.algorithm == "date":
        fields = " and ".join(f for f in (args["date"], args.get("time")) if f)
        return Origin("Collected", f"{at}{fields} as ISO 8601", form), None
    if m.algorithm == "hardcode":
        return Origin("Assigned"), None
    if m.algorithm == "age":
        return Origin("Derived"), (f"AGE = whole years from {args['age']['birth']} to {args['age']['reference']} "
                                   "(a birth date without its day counts from the first of its month)")
    return Origin("Derived"), _condition_text(m) + (f" (fields of form {form}; norm() trims and upper-cases)" if form else "")


def _codelist(ctx: _Context, dataset: str, name: str, mappings: list[Mapping], path: Path, key: str | None = None
              ) -> CodelistDef | None:
    """The codelist define.xml gives a variable: the CT list a ``ct`` mapping names; for a study
    recode table (``ct`` with ``values``) the IG's list when every submission value is in it, else
    the table itself as a sponsor list (``key``, default DATASET.VARIABLE, names it); otherwise the
    IG's list, except for results copied from a field (free results are not coded)."""
    for m in mappings:
        if m.algorithm == "ct" and "codelist" in m.args:
            return ct_codelist(m.args["codelist"], Where(path, _where(m) + ".codelist"))
    ig = ctx.standard_codelist(dataset, name)
    tables = [m for m in mappings if m.algorithm == "ct" and "values" in m.args]
    if tables:
        values = list(dict.fromkeys(str(v) for m in tables for v in m.args["values"].values()))
        if values and ig is not None and set(values) <= {t.value for t in ig.terms}:
            return ig
        return CodelistDef(key or f"{dataset}.{name}", f"{name} (study recode table)", tuple(Term(v) for v in values),
                           Where(path, _where(tables[0]) + ".values"))
    if name[len(dataset):] in FREE_RESULTS and all(m.algorithm == "assign" for m in mappings):
        return None
    return ig


def _derivations(spec: DomainSpec, cfg: StudyConfig) -> dict[str, tuple[Origin, str, str]]:
    """Variables made by the engine itself or by ``derive`` / ``summaries``: origin, method and the
    spec key that asks for them."""
    d, out = spec.domain, {}
    out["STUDYID"] = Origin("Assigned", f"the study identifier of {cfg.path.name}"), "", "domain"
    out["DOMAIN"] = Origin("Assigned"), "", "domain"
    out["USUBJID"] = Origin("Derived"), f"USUBJID = STUDYID-SUBJID: '{cfg.studyid}-' followed by the raw form's SUBJID", "domain"
    out["VISITNUM"] = Origin("Derived"), ("VISITNUM of the collected visit in the study's visit map (sdtm/study.yaml "
                                          "visits); an unscheduled visit gets the subject's last scheduled VISITNUM on or "
                                          "before its date plus 0.01 for each unscheduled visit after it"), "sources"
    if spec.seq:
        out[f"{d}SEQ"] = (Origin("Derived"), f"Number of the record within USUBJID after sorting by {', '.join(spec.seq)}",
                          "derive.seq")
    for var, dtc in spec.study_days.items():
        out[var] = Origin("Derived"), _STUDY_DAY.format(var, dtc), f"derive.study_day.{var}"
    if spec.epoch:
        rules = "; ".join(f"{r['epoch']} if " + " and ".join(_EPOCH_BOUNDS[k].format(v) for k, v in r.items() if k != "epoch")
                          for r in cfg.epochs)
        out["EPOCH"] = Origin("Derived"), (f"EPOCH of {spec.epoch} by the study's epoch rules (sdtm/study.yaml), the first that "
                                           f"holds: {rules}; a date without its day gets the epoch its whole month falls in"), \
            "derive.epoch"
    if spec.lobxfl:
        out[f"{d}LOBXFL"] = Origin("Derived"), (
            f"'Y' on the subject's last record of each {', '.join(spec.lobxfl)} with a result ({d}ORRES present, "
            f"{d}STAT not NOT DONE) whose {d}DTC is a complete date on or before the date of DM.RFXSTDTC"), "derive.lobxfl"
    for var, s in spec.summaries.items():
        which = "Earliest" if s.stat == "min" else "Latest"
        names = ", ".join(f"{x.domain}.{x.variable}" + (f" where {x.filter.text}" if x.filter else "") for x in s.sources)
        out[var] = Origin("Derived"), f"{which} of {names} per subject", f"summaries.{var}"
    return out


def _value_level(ctx: _Context, spec: DomainSpec) -> dict[str, tuple[ValueDef, ...]]:
    """Result variables per test code, when every source sets --TESTCD with ``hardcode``."""
    d, topic = spec.domain, f"{spec.domain}TESTCD"
    tests = []
    for src in spec.sources:
        codes = [m for m in src.mappings if m.variable == topic and m.algorithm == "hardcode"]
        if not codes:
            return {}
        tests.append((str(codes[0].args["hardcode"]), src))
    out: dict[str, list[ValueDef]] = {}
    for var in (d + r for r in RESULTS):
        for test, src in tests:
            mapped = [m for m in src.mappings if m.variable == var]
            if not mapped:
                continue
            origin, method = _mapping_origin(mapped[0], src.form)
            label = ctx.meta(d).variable(var).label
            out.setdefault(var, []).append(ValueDef(
                var, ((topic, test),), f"{label} for {topic} = {test}", (origin,), Where(spec.path, _where(mapped[0])), method,
                codelist=_codelist(ctx, d, var, mapped, spec.path, key=f"{d}.{var}.{test}")))
    return {k: tuple(v) for k, v in out.items()}


def _domain(ctx: _Context, spec: DomainSpec) -> DatasetDef:
    d, meta = spec.domain, spec.meta
    by_variable: dict[str, list[tuple[Mapping, str | None]]] = {}
    for src in spec.sources:
        for m in src.mappings:
            by_variable.setdefault(m.variable, []).append((m, src.form))
            if m.algorithm == "visit":
                by_variable.setdefault("VISIT", []).append((m, src.form))
    for m in spec.post:
        by_variable.setdefault(m.variable, []).append((m, None))
    derived = _derivations(spec, ctx.cfg)
    value_level = _value_level(ctx, spec)
    dataset = DatasetDef(d, meta.label, ctx.label_source(d), meta.cls, meta.structure, spec.keys or meta.keys, d != "DM", domain=d,
                         comment=spec_comment(spec.path))
    for name in spec.columns():
        pairs = [(m, form) for m, form in by_variable.get(name, []) if not (m.algorithm == "visit" and name == "VISITNUM")]
        if pairs:
            parts = [_mapping_origin(m, form) for m, form in pairs]
            several = len({form for _, form in pairs}) > 1
            methods = [(f"Form {form}: " if several and form else "") + text
                       for (_, form), (_, text) in zip(pairs, parts) if text]
            source = Where(spec.path, _where(pairs[0][0]))
            codelist = None if name in value_level else _codelist(ctx, d, name, [m for m, _ in pairs], spec.path)
            dataset.variables[name] = ctx.variable(d, name, [o for o, _ in parts], source, method="\n".join(methods) or None,
                                                   codelist=codelist, values=value_level.get(name, ()))
        elif name in derived:
            origin, method, key = derived[name]
            dataset.variables[name] = ctx.variable(d, name, [origin], Where(spec.path, key), method=method or None,
                                                   codelist=ctx.standard_codelist(d, name))
        else:  # an Expected variable the spec does not fill: written empty, with the spec's reason
            dataset.variables[name] = _not_collected(ctx, d, name, spec.not_collected, Where(spec.path, "not_collected"))
    return dataset


def _not_collected(ctx: _Context, dataset: str, name: str, reasons: dict[str, str], where: Where) -> VariableDef:
    reason = reasons.get(name)
    return ctx.variable(dataset, name, [Origin("Not Available")], Where(where.file, f"{where.key}.{name}" if reason else where.key),
                        comment=f"Not collected: {reason}" if reason else None, codelist=ctx.standard_codelist(dataset, name))


def _supp(ctx: _Context, spec: DomainSpec) -> DatasetDef:
    name, parent = f"SUPP{spec.domain}", spec.domain
    meta = ctx.meta(name)
    dataset = DatasetDef(name, f"Supplemental Qualifiers for {parent}", ctx.label_source(name), meta.cls, meta.structure,
                         meta.keys, True, domain=name)
    values, origins = [], []
    for src in spec.sources:
        fields = {f.name: (k, f) for k, f in enumerate(ctx.dictionary.forms[src.form].fields)}
        for q_index, q in enumerate(src.supp):
            key = f"{src.key}.supp[{q_index}]"
            kind = QORIG_ORIGINS.get(str(q.qorig).strip().upper())
            if kind is None:
                raise SpecError(f"QORIG {q.qorig!r} is not an origin define.xml knows ({', '.join(QORIG_ORIGINS)})",
                                file=str(spec.path), key=f"{key}.qorig")
            origin = Origin(kind, f"form {src.form}, field {q.field}", src.form if kind == "Collected" else None)
            k, field = fields[q.field]
            codelist = None
            if field.codes:
                codelist = CodelistDef(f"{name}.{q.qnam}", f"{q.qnam} (raw dictionary codes of {src.form}.{q.field})",
                                       tuple(Term(c, v) for c, v in field.codes.items()),
                                       Where(ctx.dictionary.path, f"forms.{src.form}.fields[{k}]"))
            method = f"Copied from form {src.form}, field {q.field}" if kind == "Derived" else None
            values.append(ValueDef("QVAL", (("QNAM", q.qnam),), q.qlabel, (origin,), Where(spec.path, key), method,
                                   codelist=codelist))
            origins.append(origin)
    seq = f"{parent}SEQ"
    to_subject = "empty: DM qualifiers belong to the subject"
    assigned = Where(spec.path, "sources")
    for var, origin, text in (
        ("STUDYID", Origin("Assigned"), None), ("RDOMAIN", Origin("Assigned"), None),
        ("USUBJID", Origin("Derived"), f"USUBJID of the {parent} record the qualifier belongs to"),
        ("IDVAR", Origin("Assigned"), to_subject if parent == "DM" else f"'{seq}'"),
        ("IDVARVAL", *((Origin("Assigned"), to_subject) if parent == "DM" else
                       (Origin("Derived"), f"{seq} of the {parent} record the qualifier belongs to"))),
        ("QNAM", Origin("Assigned"), None), ("QLABEL", Origin("Assigned"), None), ("QORIG", Origin("Assigned"), None),
        ("QEVAL", Origin("Assigned"), None),
    ):
        derived = origin.type == "Derived"
        dataset.variables[var] = ctx.variable(name, var, [origin], assigned, codelist=ctx.standard_codelist(name, var),
                                              method=text if derived else None, comment=None if derived else text)
    dataset.variables["QVAL"] = ctx.variable(name, "QVAL", origins, assigned, values=tuple(values), method=(
        "\n".join(f"{v.where[0][1]}: {v.method}" for v in values if v.method) or None))
    return dataset


def _trial_design(ctx: _Context, domain: str) -> DatasetDef:
    cfg, meta = ctx.cfg, ctx.meta(domain)
    columns = study_yaml_columns(cfg)[domain]
    source = Where(cfg.path, "visits" if domain == "TV" else f"trial_design.{domain}")
    dataset = DatasetDef(domain, meta.label, ctx.label_source(domain), meta.cls, meta.structure, meta.keys, True,
                         reference_data=True, domain=domain)
    empty = absent(meta, columns)
    for name in meta.names:
        if name in columns:
            origin = Origin("Assigned") if name in ("STUDYID", "DOMAIN") else Origin("Protocol", f"{cfg.path.name} {source.key}")
            dataset.variables[name] = ctx.variable(domain, name, [origin], source, codelist=ctx.standard_codelist(domain, name))
        elif name in empty:
            dataset.variables[name] = _not_collected(ctx, domain, name, cfg.not_collected.get(domain, {}),
                                                     Where(cfg.path, f"not_collected.{domain}"))
    return dataset


def _subject_visits(ctx: _Context) -> DatasetDef:
    cfg, meta = ctx.cfg, ctx.meta("SV")
    domains = ", ".join(cfg.visit_domains)
    methods = {
        "USUBJID": f"USUBJID of the {domains} records",
        "VISITNUM": f"Each visit (VISITNUM, VISIT) of the subject's {domains} records",
        "VISIT": f"Each visit (VISITNUM, VISIT) of the subject's {domains} records",
        "SVPRESP": "'Y' when VISITNUM is a visit of the trial design (TV), else empty",
        "SVOCCUR": "'Y' for a visit of the trial design (TV): the visit has records, so it occurred; empty for an unplanned visit",
        "SVSTDTC": f"Earliest date (YYYY-MM-DD) of the subject's {domains} records of the visit",
        "SVENDTC": f"Latest date (YYYY-MM-DD) of the subject's {domains} records of the visit",
        "SVSTDY": _STUDY_DAY.format("SVSTDY", "SVSTDTC"),
        "SVENDY": _STUDY_DAY.format("SVENDY", "SVENDTC"),
    }
    return _derived_dataset(ctx, "SV", meta, methods, Where(cfg.path, "subject_visits"))


def _subject_elements(ctx: _Context) -> DatasetDef:
    cfg, meta = ctx.cfg, ctx.meta("SE")

    def element(e: dict) -> str:
        return e["etcd"] if "etcd" in e else f"the element of the subject's {e['etcd_from']}"

    def first_of(names) -> str:
        return ", else ".join(f"DM.{n}" for n in ([names] if isinstance(names, str) else names))

    starts = "; ".join(f"{element(e)}: {first_of(e['start'])}"
                       + (f" (only when DM.{e['only_if']} is present)" if e.get("only_if") else "") for e in cfg.elements)
    ends = "; ".join(f"{element(e)}: {first_of(e['end'])}" for e in cfg.elements if e.get("end"))
    methods = {
        "USUBJID": "USUBJID of DM",
        "SESEQ": "Number of the record within USUBJID after sorting by SESTDTC, TAETORD",
        "ETCD": "Elements of sdtm/study.yaml subject_elements: " + ", ".join(element(e) for e in cfg.elements),
        "ELEMENT": "ELEMENT of TA for the subject's ARMCD and ETCD",
        "TAETORD": "TAETORD of TA for the subject's ARMCD and ETCD",
        "EPOCH": "EPOCH of TA for the subject's ARMCD and ETCD",
        "SESTDTC": f"Start of the element: {starts}",
        "SEENDTC": f"End of the element: {ends}",
        "SESTDY": _STUDY_DAY.format("SESTDY", "SESTDTC"),
        "SEENDY": _STUDY_DAY.format("SEENDY", "SEENDTC"),
    }
    return _derived_dataset(ctx, "SE", meta, methods, Where(cfg.path, "subject_elements"))


def _derived_dataset(ctx: _Context, name: str, meta: DomainMeta, methods: dict[str, str], source: Where) -> DatasetDef:
    dataset = DatasetDef(name, meta.label, ctx.label_source(name), meta.cls, meta.structure, meta.keys, True, domain=name)
    for var in meta.names:
        if var in ("STUDYID", "DOMAIN"):
            dataset.variables[var] = ctx.variable(name, var, [Origin("Assigned")], source,
                                                  codelist=ctx.standard_codelist(name, var))
        elif var in methods:
            dataset.variables[var] = ctx.variable(name, var, [Origin("Derived")], source, method=methods[var],
                                                  codelist=ctx.standard_codelist(name, var))
    return dataset


def sdtm_define(study: str | Path) -> StudyDefine:
    """The define.xml metadata of every SDTM dataset the study's specs can write, from the specs
    alone (loading them checks them as the SDTM stage does)."""
    dictionary, cfg, specs = load_checked_specs(study)
    ctx = _Context(cfg, dictionary)
    title = next((str(r.get("TSVAL")) for r in cfg.trial_design.get("TS", []) if r.get("TSPARMCD") == "TITLE"), cfg.studyid)
    out = StudyDefine("SDTM", cfg.studyid, title, ("SDTMIG", SDTMIG.split("-")[1]), ct_version())
    for domain, spec in specs.items():
        out.datasets[domain] = _domain(ctx, spec)
        if any(src.supp for src in spec.sources):
            out.datasets[f"SUPP{domain}"] = _supp(ctx, spec)
    for domain in TRIAL_DESIGN:
        if domain in cfg.trial_design or (domain == "TV" and any(v.get("visitnum") is not None for v in cfg.visits.values())):
            out.datasets[domain] = _trial_design(ctx, domain)
    if cfg.visit_domains:
        out.datasets["SV"] = _subject_visits(ctx)
    if cfg.elements and "TA" in cfg.trial_design:
        out.datasets["SE"] = _subject_elements(ctx)
    return out
