"""Domain specs (specs/studies/<study>/sdtm/<DOMAIN>.yaml): loaded, checked, ready to run.

A spec says, per target variable, which one mapping algorithm fills it (in the spirit of sdtm.oak):

    assign: FIELD                 copy a raw field (``number: true`` reads decimals with . or ,)
    ct: FIELD, codelist: NAME     recode through controlled terminology (synonyms, case, whitespace)
    ct: FIELD, values: {a: b}     recode through a study-local table
    hardcode: VALUE               a constant
    condition: [{if: EXPR, then: VALUE or {assign: FIELD}}, ...], else: VALUE
    date: FIELD [, time: FIELD]   ISO 8601 --DTC, partial dates kept partial
    visit: FIELD                  VISITNUM and VISIT from the study's visit map
    age: {birth: VAR, reference: VAR}   (DM, after the summaries)

STUDYID, DOMAIN and USUBJID are filled for every domain; ``derive`` adds --SEQ (sort order per
USUBJID), --DY (study days), EPOCH and --LOBXFL (the last result before the first dose). DM's
``summaries`` take a subject's earliest or latest date over other domains' records (each source may
filter them: ``{domain: DS, variable: DSSTDTC, filter: "DSDECOD == 'RANDOMIZED'"}``).

Every Expected variable of the domain is written, even when the spec maps nothing for it (SDTMIG 3.4
section 4.1.5: Exp columns are present even when all null); ``not_collected: {VAR: reason}`` says
why such a variable is empty, and define.xml gives that reason as the variable's comment. An Exp
variable neither mapped nor given a reason is a warning (trialkit.sdtm.expected).

Everything is checked when the spec is loaded, against the
SDTMIG metadata and the raw dictionary: an unknown variable, a Req variable nobody fills, a field the
form does not have, a codelist that does not exist, an expression outside the grammar. Each error
names the spec file and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from trialkit.errors import SpecError
from trialkit.expressions import Expression, parse
from trialkit.raw_dictionary import RawDictionary
from trialkit.sdtm.expected import check_reasons
from trialkit.sdtm.standards import (
    Codelist,
    DomainMeta,
    inline_codelist,
    load_codelists,
    load_domains,
)
from trialkit.spec import load_yaml, study_dir

ALGORITHMS = ("assign", "ct", "hardcode", "condition", "date", "visit", "age")
AUTO = ("STUDYID", "DOMAIN", "USUBJID")


@dataclass(frozen=True)
class Mapping:
    variable: str
    algorithm: str
    args: dict
    key: str                                   # spec file:key, for findings
    codelist: Codelist | None = None
    conditions: tuple[tuple[Expression, object], ...] = ()


@dataclass(frozen=True)
class Supp:
    qnam: str
    qlabel: str
    field: str
    qorig: str = "CRF"


@dataclass(frozen=True)
class Source:
    form: str
    mappings: tuple[Mapping, ...]
    supp: tuple[Supp, ...] = ()
    filter: Expression | None = None
    key: str = ""


@dataclass(frozen=True)
class SummarySource:
    domain: str
    variable: str
    filter: Expression | None = None       # over the source domain's records, in its own variable names


@dataclass(frozen=True)
class Summary:
    """A DM variable taken per subject from other domains' records: the earliest (``min``) or latest
    (``max``) value over every source (ISO 8601 text sorts as its dates do)."""

    stat: str
    sources: tuple[SummarySource, ...]


@dataclass(frozen=True)
class DomainSpec:
    domain: str
    path: Path
    meta: DomainMeta
    sources: tuple[Source, ...]
    seq: tuple[str, ...] = ()
    study_days: dict[str, str] = field(default_factory=dict)
    epoch: str | None = None
    summaries: dict[str, Summary] = field(default_factory=dict)
    post: tuple[Mapping, ...] = ()
    keys: tuple[str, ...] = ()     # the IG's natural keys plus the study's (``keys:``): unique per record
    lobxfl: tuple[str, ...] = ()   # derive.lobxfl: the variables that tell one test from another, besides USUBJID
    not_collected: dict[str, str] = field(default_factory=dict)   # Exp variable -> why it is empty

    @property
    def filled(self) -> set[str]:
        names = set(AUTO)
        for src in self.sources:
            for m in src.mappings:
                names.add(m.variable)
                if m.algorithm == "visit":
                    names |= {"VISIT", "VISITNUM"}
        names |= {m.variable for m in self.post} | set(self.summaries) | set(self.study_days)
        if self.seq:
            names.add(f"{self.domain}SEQ")
        if self.epoch:
            names.add("EPOCH")
        if self.lobxfl:
            names.add(f"{self.domain}LOBXFL")
        return names

    def columns(self) -> list[str]:
        """The variables written: those this spec fills and every Expected one, in SDTMIG order."""
        filled = self.filled
        return [v.name for v in self.meta.variables if v.name in filled or v.core == "Exp"]


def _mapping(variable: str, raw: dict, *, where: str, path: Path, form_fields: set[str] | None, codelists) -> Mapping:
    if not isinstance(raw, dict):
        raise SpecError("expected a mapping with one algorithm", file=str(path), key=where)
    algos = [a for a in raw if a in ALGORITHMS]
    if len(algos) != 1:
        raise SpecError(f"give exactly one algorithm of {', '.join(ALGORITHMS)} (got {sorted(raw)})", file=str(path), key=where)
    algo = algos[0]
    allowed_extra = {"assign": {"number", "plain_decimal"}, "ct": {"codelist", "values"}, "date": {"time"}, "condition": {"else"}}.get(algo, set())
    unknown = set(raw) - {algo} - allowed_extra
    if unknown:
        raise SpecError(f"unknown option(s) {sorted(unknown)} for {algo}", file=str(path), key=where)

    def need_field(name, k):
        if form_fields is not None and name not in form_fields:
            raise SpecError(f"the form has no field {name!r}", file=str(path), key=f"{where}.{k}")

    codelist = None
    conditions = ()
    if algo in ("assign", "ct", "date", "visit"):
        need_field(raw[algo], algo)
    if algo == "date" and "time" in raw:
        need_field(raw["time"], "time")
    if algo == "assign" and raw.get("number", True) not in (True, "if_numeric"):
        raise SpecError("number: takes true or if_numeric", file=str(path), key=f"{where}.number")
    for k in ("hardcode", "else"):
        if isinstance(raw.get(k), bool):
            raise SpecError(f"{k}: YAML read a yes/no word as a boolean; quote the value", file=str(path), key=f"{where}.{k}")
    if algo == "ct":
        if "codelist" in raw and "values" in raw:
            raise SpecError("ct takes codelist: or values:, not both", file=str(path), key=where)
        if "codelist" in raw:
            if raw["codelist"] not in codelists:
                raise SpecError(f"unknown codelist {raw['codelist']!r}", file=str(path), key=f"{where}.codelist")
            codelist = codelists[raw["codelist"]]
        elif isinstance(raw.get("values"), dict):
            codelist = inline_codelist(f"{variable} (study)", raw["values"])
        else:
            raise SpecError("ct needs codelist: NAME or values: {collected: submission}", file=str(path), key=where)
    if algo == "condition":
        branches = raw["condition"]
        if not isinstance(branches, list) or not branches:
            raise SpecError("condition needs a list of {if: EXPR, then: VALUE}", file=str(path), key=where)
        parsed = []
        for k, branch in enumerate(branches):
            if not isinstance(branch, dict) or set(branch) != {"if", "then"}:
                raise SpecError("each branch needs exactly if: and then:", file=str(path), key=f"{where}.condition[{k}]")
            expr = parse(branch["if"], file=str(path), key=f"{where}.condition[{k}].if")
            for name in expr.fields:
                need_field(name, f"condition[{k}].if")
            then = branch["then"]
            if isinstance(then, bool):
                raise SpecError("then: YAML read a yes/no word as a boolean; quote the value", file=str(path), key=f"{where}.condition[{k}].then")
            if isinstance(then, dict):
                if set(then) != {"assign"}:
                    raise SpecError("then: takes a value or {assign: FIELD}", file=str(path), key=f"{where}.condition[{k}].then")
                need_field(then["assign"], f"condition[{k}].then.assign")
            parsed.append((expr, then))
        conditions = tuple(parsed)
    if algo == "age" and (not isinstance(raw["age"], dict) or set(raw["age"]) != {"birth", "reference"}):
        raise SpecError("age needs {birth: VAR, reference: VAR}", file=str(path), key=where)
    return Mapping(variable, algo, dict(raw), f"{path.name}:{where}", codelist, conditions)


def load_domain_spec(path: Path, dictionary: RawDictionary, standard: dict[str, DomainMeta] | None = None) -> DomainSpec:
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise SpecError("a domain spec is a mapping", file=str(path))
    unknown = set(data) - {"domain", "sources", "derive", "summaries", "post", "keys", "not_collected"}
    if unknown:
        raise SpecError(f"unknown key(s) {sorted(unknown)}", file=str(path), key=min(unknown))
    standard = standard or load_domains()
    codelists = load_codelists()
    domain = data.get("domain")
    if domain not in standard:
        raise SpecError(f"domain {domain!r} is not in the SDTMIG metadata", file=str(path), key="domain")
    meta = standard[domain]

    def check_variable(name: str, where: str) -> None:
        if meta.variable(name) is None:
            raise SpecError(f"{name} is not a variable of {domain} in SDTMIG 3.4", file=str(path), key=where)

    sources = []
    for s, raw in enumerate(data.get("sources") or []):
        where = f"sources[{s}]"
        if not isinstance(raw, dict):
            raise SpecError("each source is a mapping with form: and variables:", file=str(path), key=where)
        form = raw.get("form")
        if form not in dictionary.forms:
            raise SpecError(f"form {form!r} is not in the raw dictionary", file=str(path), key=f"{where}.form")
        fields = set(dictionary.forms[form].columns)
        mappings = []
        for var, m in (raw.get("variables") or {}).items():
            check_variable(var, f"{where}.variables.{var}")
            mappings.append(_mapping(var, m, where=f"{where}.variables.{var}", path=path, form_fields=fields, codelists=codelists))
        flt = parse(raw["filter"], file=str(path), key=f"{where}.filter") if raw.get("filter") else None
        if flt:
            missing = flt.fields - fields
            if missing:
                raise SpecError(f"filter uses fields not in form {form}: {sorted(missing)}", file=str(path), key=f"{where}.filter")
        supp = []
        for q, sq in enumerate(raw.get("supp") or []):
            if not isinstance(sq, dict):
                raise SpecError("each supp entry is a mapping with qnam, qlabel, field", file=str(path), key=f"{where}.supp[{q}]")
            if sq.get("field") not in fields:
                raise SpecError(f"the form has no field {sq.get('field')!r}", file=str(path), key=f"{where}.supp[{q}].field")
            qnam = str(sq.get("qnam", ""))
            if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,7}", qnam):
                raise SpecError(f"QNAM {qnam!r} must be 1-8 upper-case ASCII letters, digits or _, starting with a letter", file=str(path), key=f"{where}.supp[{q}].qnam")
            if len(str(sq.get("qlabel", ""))) > 40 or not sq.get("qlabel"):
                raise SpecError("QLABEL is required and at most 40 characters", file=str(path), key=f"{where}.supp[{q}].qlabel")
            supp.append(Supp(qnam, sq["qlabel"], sq["field"], sq.get("qorig", "CRF")))
        sources.append(Source(form, tuple(mappings), tuple(supp), flt, where))

    derive = data.get("derive") or {}
    unknown = set(derive) - {"seq", "study_day", "epoch", "lobxfl"}
    if unknown:
        raise SpecError(f"unknown derive key(s) {sorted(unknown)}", file=str(path), key=f"derive.{min(unknown)}")
    for var in (derive.get("study_day") or {}):
        check_variable(var, f"derive.study_day.{var}")
    lobxfl = derive.get("lobxfl") or []
    if lobxfl:
        check_variable(f"{domain}LOBXFL", "derive.lobxfl")
        for k, var in enumerate(lobxfl):
            check_variable(var, f"derive.lobxfl[{k}]")
    post = []
    for var, m in (data.get("post") or {}).items():
        check_variable(var, f"post.{var}")
        post.append(_mapping(var, m, where=f"post.{var}", path=path, form_fields=None, codelists=codelists))
    summaries = {}
    for var, body in (data.get("summaries") or {}).items():
        check_variable(var, f"summaries.{var}")
        summaries[var] = parse_summary(body, path, f"summaries.{var}")
    extra_keys = data.get("keys") or []
    for k, var in enumerate(extra_keys):
        check_variable(var, f"keys[{k}]")
    spec = DomainSpec(domain, path, meta, tuple(sources), tuple(derive.get("seq") or ()),
                      dict(derive.get("study_day") or {}), derive.get("epoch"), summaries, tuple(post),
                      tuple(dict.fromkeys([*meta.keys, *extra_keys])), tuple(lobxfl))
    missing = [v.name for v in meta.variables if v.core == "Req" and v.name not in spec.filled]
    if missing:
        raise SpecError(f"required variable(s) {', '.join(missing)} of {domain} are not mapped", file=str(path), key="sources")
    return replace(spec, not_collected=check_reasons(meta, spec.filled, data.get("not_collected") or {}, path, "not_collected"))


def parse_summary(body, path: Path, where: str) -> Summary:
    """``{domain, variable, stat}`` (one source) or ``{stat, sources: [{domain, variable, filter}, ...]}``."""
    if not isinstance(body, dict) or set(body) - {"domain", "variable", "stat", "sources"}:
        raise SpecError("a summary is {domain, variable, stat} or {stat, sources: [{domain, variable, filter}]}",
                        file=str(path), key=where)
    stat = body.get("stat", "min")
    if stat not in ("min", "max"):
        raise SpecError(f"stat must be min or max, not {stat!r}", file=str(path), key=f"{where}.stat")
    raw = body.get("sources") or [{"domain": body.get("domain"), "variable": body.get("variable")}]
    sources = []
    for k, src in enumerate(raw):
        key = f"{where}.sources[{k}]" if "sources" in body else where
        if not isinstance(src, dict) or not src.get("domain") or not src.get("variable") or set(src) - {"domain", "variable", "filter"}:
            raise SpecError("each summary source names domain: and variable:, and may give a filter:", file=str(path), key=key)
        flt = parse(src["filter"], file=str(path), key=f"{key}.filter") if src.get("filter") else None
        sources.append(SummarySource(str(src["domain"]), str(src["variable"]), flt))
    return Summary(stat, tuple(sources))


def load_study_specs(study: str | Path, dictionary: RawDictionary) -> dict[str, DomainSpec]:
    """All domain specs of a study, checked; the study's sdtm/study.yaml is loaded separately."""
    folder = study_dir(study) / "sdtm"
    if not folder.is_dir():
        raise SpecError("study has no sdtm/ folder of domain specs", file=str(folder))
    standard = load_domains()
    specs = {}
    for path in sorted(folder.glob("[A-Z]*.yaml")):
        spec = load_domain_spec(path, dictionary, standard)
        if spec.domain in specs:
            raise SpecError(f"domain {spec.domain} is specified twice", file=str(path), key="domain")
        specs[spec.domain] = spec
    return specs


def mapping_fields(args: dict) -> list[str]:
    """The raw fields one mapping reads, in the order it names them (a date, then its time); ``args``
    is the mapping as the spec writes it (Mapping.args)."""
    fields = [args[k] for k in ("assign", "ct", "date", "time", "visit") if k in args]
    for branch in args.get("condition") or []:
        fields += sorted(parse(branch["if"]).fields)
        if isinstance(branch["then"], dict):
            fields.append(branch["then"]["assign"])
    return list(dict.fromkeys(fields))


def fields_used(spec: DomainSpec) -> set[tuple[str, str]]:
    """(form, field) pairs a spec reads: mapped, tested in a condition or filter, or kept in SUPPQUAL."""
    used = set()
    for src in spec.sources:
        for m in src.mappings:
            used |= {(src.form, f) for f in mapping_fields(m.args)}
        if src.filter is not None:
            used |= {(src.form, f) for f in src.filter.fields}
        used |= {(src.form, q.field) for q in src.supp}
    return used


def check_field_coverage(specs: dict[str, DomainSpec], dictionary: RawDictionary, not_mapped: dict, path: Path,
                         engine_fields: tuple[str, ...]) -> None:
    """Every raw field is read by some spec or listed under not_mapped with a reason: a field that
    silently goes nowhere is data lost without a trace."""
    used = set().union(*(fields_used(s) for s in specs.values())) if specs else set()
    for form_name, form in dictionary.forms.items():
        listed = not_mapped.get(form_name) or {}
        for f in form.fields:
            if f.name in engine_fields or (form_name, f.name) in used:
                if f.name in listed:
                    raise SpecError(f"{f.name} is mapped, so it must not be listed as not mapped", file=str(path), key=f"not_mapped.{form_name}.{f.name}")
                continue
            if f.name not in listed:
                raise SpecError(f"raw field {form_name}.{f.name} is mapped by no domain spec; map it or list it under "
                                "not_mapped with the reason", file=str(path), key=f"not_mapped.{form_name}")
            if not str(listed[f.name]).strip():
                raise SpecError("give the reason the field is not mapped", file=str(path), key=f"not_mapped.{form_name}.{f.name}")
