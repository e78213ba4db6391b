"""define.xml metadata of a study's ADaM datasets, read from the ADaM specs that drive the derivations.

Labels come from each spec's ``variables``; the origin of each variable from how the spec makes it:
kept from DM (``from_dm``) or from the source domain of an occurrence dataset (``source``/``keep``),
merged from another dataset (``merged``) or carried from ADSL (``adsl_vars``): **Predecessor**
("DM.AGE"), with the record selection as a comment; made by a step (trialkit.adam.steps: dates with
their imputation rules, study days, flags...), a time-to-event parameter or a BDS parameter:
**Derived**, with the derivation written out from the spec; parameter codes and names: **Assigned**.
A variable the spec labels but nothing makes has no origin, which :mod:`trialkit.define` reports as
a spec error.

The dataset class, structure and keys are the ADaMIG 1.3 ones for the four kinds of spec
(``AdamSpec.kind``): ADSL; time-to-event (BDS, subclass TIME-TO-EVENT); BDS; occurrence (OCCDS).
The text of the engine-made variables of ADTTE and BDS (ADT, CNSR, ANL01FL...) follows
trialkit.adam.tte and trialkit.adam.bds.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from trialkit.adam.engine import AdamSpec, load_study_specs
from trialkit.adam.tte import START, TteParameter, TteSource
from trialkit.define_model import CodelistDef, DatasetDef, Origin, StudyDefine, Term, ValueDef, VariableDef, Where, spec_comment
from trialkit.define_sdtm import ct_codelist, ct_version, sdtm_define

ADAMIG = ("ADaMIG", "1.3")
ADSL_CLASS = ("SUBJECT LEVEL ANALYSIS DATASET", None, "One record per subject", ("STUDYID", "USUBJID"))
TTE_CLASS = ("BASIC DATA STRUCTURE", "TIME-TO-EVENT", "One record per subject per parameter", ("STUDYID", "USUBJID", "PARAMCD"))
OCCDS = "OCCURRENCE DATA STRUCTURE"
BDS_CLASS = ("BASIC DATA STRUCTURE", None, "One record per subject per parameter per analysis visit per analysis date",
             ("STUDYID", "USUBJID", "PARAMCD", "AVISITN", "ADT"))
MANDATORY = ("STUDYID", "USUBJID", "PARAMCD", "PARAM")


def _key(step_key: str) -> str:
    return step_key.split(":", 1)[1]


def _then(then) -> str:
    return then["assign"] if isinstance(then, dict) else repr(then)


def _cases(var: str, cases: list[dict], otherwise) -> str:
    branches = [f"{_then(c['then'])} if {c['if']}" for c in cases]
    return f"{var} = " + "; ".join([*branches, f"otherwise {_then(otherwise)}" if otherwise is not None else "otherwise empty"])


def _literal_codelist(key: str, values: list, source: Where) -> CodelistDef | None:
    """A sponsor codelist of the text values a spec enumerates (None when any value is not literal
    text: numbers and copied variables are not coded)."""
    if not values or not all(isinstance(v, str) for v in values):
        return None
    return CodelistDef(key, f"{key} (values of the spec)", tuple(Term(v) for v in dict.fromkeys(values)), source)


class _Builder:
    """Collects one dataset's variables: origin, method, comment and codelist per name."""

    def __init__(self, spec: AdamSpec, codelists: dict[str, CodelistDef]) -> None:
        self.spec = spec
        self.codelists = codelists          # "DATASET.VARIABLE" -> codelist, for predecessors
        self.made: dict[str, VariableDef] = {}      # made by the spec, labelled when the dataset is assembled

    def add(self, name: str, origin: Origin | tuple[Origin, ...], key: str, *, method: str | None = None,
            comment: str | None = None, codelist: CodelistDef | None = None, values: tuple[ValueDef, ...] = ()) -> None:
        origins = origin if isinstance(origin, tuple) else (origin,)
        self.made[name] = VariableDef(name, "", Where(self.spec.path, f"variables.{name}"), origins, Where(self.spec.path, key),
                                      method, comment, codelist, name in MANDATORY, None, values)

    def predecessor(self, name: str, dataset: str, variable: str, key: str, comment: str | None = None) -> None:
        self.add(name, Origin("Predecessor", f"{dataset}.{variable}"), key, comment=comment,
                 codelist=self.codelists.get(f"{dataset}.{variable}"))

    def dataset(self, cls: tuple) -> DatasetDef:
        """The dataset with every variable its spec labels; one that nothing makes keeps no origin."""
        spec = self.spec
        out = DatasetDef(spec.name, spec.label, Where(spec.path, "label"), cls[0], cls[2], cls[3], spec.name != "ADSL",
                         subclass=cls[1], comment=spec_comment(spec.path))
        for name, label in spec.labels.items():
            label_at = Where(spec.path, f"variables.{name}")
            made = self.made.get(name, VariableDef(name, "", label_at, (), label_at, mandatory=name in MANDATORY))
            out.variables[name] = replace(made, label=str(label))
        for name, variable in out.variables.items():
            if variable.codelist is not None:
                self.codelists[f"{spec.name}.{name}"] = variable.codelist
        return out


_IMPUTED = {"D": "the day", "M": "the day and month", "Y": "the day, month and year"}
_FILL = {"first": "the first possible date", "last": "the last possible date", "mid": "the middle of the possible dates"}


def _date_text(var: str, rule) -> str:
    """The derivation of a ``dates`` step's variable: no imputation, or admiral's imputation rules."""
    if not isinstance(rule, dict):
        return f"{var} = the date of {rule}; empty when {rule} is partial (no imputation)"
    imputed = rule.get("impute", "n")
    if imputed == "n":
        return f"{var} = the date of {rule['dtc']}; empty when {rule['dtc']} is partial (no imputation)"
    text = (f"{var} = the date of {rule['dtc']}; a partial date missing at most {_IMPUTED[imputed]} is imputed to "
            f"{_FILL[rule.get('fill', 'first')]}")
    if rule.get("min_dates"):
        text += f", not before {', '.join(rule['min_dates'])}"
    if rule.get("max_dates"):
        text += f", not after {', '.join(rule['max_dates'])}"
    return text


def _steps(b: _Builder, spec: AdamSpec, ny: CodelistDef) -> None:
    """The variables the spec's steps make (trialkit.adam.steps), in the order they are made."""
    for kind, body, step_key in spec.steps:
        key = _key(step_key)
        if kind == "merged":
            selection = f"The subject's {body['dataset']} record" + (f" where {body['filter']}" if body.get("filter") else "")
            chosen = f", the {body['mode']} by {', '.join(body['order'])}" if body.get("order") else ""
            for new, old in (body.get("new_vars") or {}).items():
                b.predecessor(new, body["dataset"], old, key, comment=selection + chosen)
            if body.get("exist_flag"):
                b.add(body["exist_flag"], Origin("Derived"), key, codelist=ny,
                      method=f"{body['exist_flag']} = 'Y' when the subject has a {body['dataset']} record"
                             + (f" where {body['filter']}" if body.get("filter") else "") + ", otherwise 'N'")
            continue
        for var, rule in body.items():
            if kind == "dates":
                b.add(var, Origin("Derived"), key, method=_date_text(var, rule))
                if isinstance(rule, dict):
                    flag = f"{var[:-2]}DTF"
                    b.add(flag, Origin("Derived"), key, method=f"{flag} = the highest part of {var} imputed: 'D' (day), "
                                                               "'M' (month) or 'Y' (year); empty when not imputed")
            elif kind == "study_day":
                ref, date = rule["reference"], rule["date"]
                b.add(var, Origin("Derived"), key,
                      method=f"{var} = {date} - {ref} + 1 on or after {ref}, {date} - {ref} before it (no day 0)")
            elif kind == "constant":
                where = f" where {rule['filter']}" if rule.get("filter") else ""
                b.add(var, Origin("Derived"), key, method=f"{var} = {rule['dataset']}.{rule['variable']}{where}"
                      + (" as a date" if rule.get("date") else "") + ", the same for every subject")
            elif kind == "offset":
                text = f"{var} = {rule['from']} + {rule['days']} days"
                if "otherwise" in rule:
                    text += f"; when {rule['from']} is missing, {rule['otherwise']['from']} + {rule['otherwise']['days']} days"
                b.add(var, Origin("Derived"), key, method=text)
            elif kind == "interval":
                months = rule.get("unit") == "months"
                b.add(var, Origin("Derived"), key, method=f"{var} = ({rule['to']} - {rule['from']}) in days"
                      + (" / 30.4375 (months)" if months else ""))
            elif kind == "latest":
                b.add(var, Origin("Derived"), key, method=f"{var} = the latest of {', '.join(rule)}")
            elif kind == "condition":
                values = [c["then"] for c in rule["cases"]] + ([rule["else"]] if "else" in rule else [])
                b.add(var, Origin("Derived"), key, method=_cases(var, rule["cases"], rule.get("else")),
                      codelist=_literal_codelist(f"{spec.name}.{var}", values, Where(spec.path, f"{key}.condition.{var}")))
            elif kind == "flag":
                b.add(var, Origin("Derived"), key, method=f"{var} = 'Y' if {rule}, otherwise 'N'", codelist=ny)


def _adsl(spec: AdamSpec, codelists: dict[str, CodelistDef], ny: CodelistDef) -> DatasetDef:
    b = _Builder(spec, codelists)
    for name in spec.keep:
        b.predecessor(name, "DM", name, "from_dm")
    _steps(b, spec, ny)
    return b.dataset(ADSL_CLASS)


def _occds(spec: AdamSpec, codelists: dict[str, CodelistDef], ny: CodelistDef) -> DatasetDef:
    """One record per record of the source domain: its kept variables are predecessors (every
    labelled variable no step makes, when the spec keeps them all)."""
    b = _Builder(spec, codelists)
    _steps(b, spec, ny)
    kept = spec.keep or [name for name in spec.labels if name not in b.made]
    for name in kept:
        b.predecessor(name, str(spec.source), name, "keep" if spec.keep else "source")
    return b.dataset((OCCDS, None, f"One record per {spec.source} record", ("STUDYID", "USUBJID", f"{spec.source}SEQ")))


def _source_text(src: TteSource, start: str) -> str:
    where = f" where {src.filter.text}" if src.filter is not None else ""
    date = f"dated at the start ({start})" if src.date == START else f"date {src.date}"
    clamp = ", dated at the start if earlier" if src.clamp_to_start else ""
    return f"{src.description}: {src.dataset}{where}, {date}{clamp}"


def _tte_method(p: TteParameter, cutoff: str) -> str:
    events = "; ".join(f"[{k}] {_source_text(s, p.start)}" for k, s in enumerate(p.events, 1))
    censors = "; ".join(f"[{k}] {_source_text(s, p.start)}" for k, s in enumerate(p.censors, 1))
    return (f"{p.paramcd} ({p.param}): AVAL = ADT - {p.start} + 1 (days). Records after ADSL.{cutoff} are ignored. "
            f"Event (CNSR = 0): the earliest of {events or 'none'}; on a tie the source listed first; a partial event date "
            f"counts from the first day of its month, not before {p.start}. Without an event, censoring (CNSR = 1) at the "
            f"latest of {censors}; censoring dates are not imputed.")


def _adtte(spec: AdamSpec, codelists: dict[str, CodelistDef]) -> DatasetDef:
    b = _Builder(spec, codelists)
    params = spec.parameters
    where = Where(spec.path, "parameters")
    b.predecessor("STUDYID", "ADSL", "STUDYID", "parameters")
    b.predecessor("USUBJID", "ADSL", "USUBJID", "parameters")
    for name in spec.adsl_vars:
        b.predecessor(name, "ADSL", name, "adsl_vars")
    b.add("PARAMCD", Origin("Assigned"), "parameters", codelist=CodelistDef(
        f"{spec.name}.PARAMCD", f"{spec.name} parameter codes", tuple(Term(p.paramcd, p.param) for p in params), where))
    b.add("PARAM", Origin("Assigned"), "parameters")
    b.add("STARTDT", Origin("Derived"), "parameters", method="STARTDT = the parameter's start date in ADSL: "
          + "; ".join(f"{p.paramcd}: {p.start}" for p in params))
    b.add("ADT", Origin("Derived"), "parameters", method="ADT = the date of the first event on or before the data cut-off, "
          f"else of the last censoring (ADSL.{spec.cutoff}); the sources of each parameter are given with AVAL")
    aval = tuple(ValueDef("AVAL", (("PARAMCD", p.paramcd),), f"Analysis Value for {p.paramcd}", (Origin("Derived"),),
                          Where(spec.path, f"parameters[{k}]"), _tte_method(p, str(spec.cutoff))) for k, p in enumerate(params))
    b.add("AVAL", Origin("Derived"), "parameters", method="\n".join(v.method for v in aval), values=aval)
    b.add("AVALU", Origin("Assigned"), "parameters", comment="'DAYS' on every record")
    b.add("CNSR", Origin("Derived"), "parameters", method="CNSR = 0 when ADT is an event date, 1 when it is a censoring date")
    descriptions = [s.description for p in params for s in (*p.events, *p.censors)]
    b.add("EVNTDESC", Origin("Derived"), "parameters", method="EVNTDESC = the description of the source that gave ADT",
          codelist=_literal_codelist(f"{spec.name}.EVNTDESC", descriptions, where))
    b.add("CNSDTDSC", Origin("Derived"), "parameters", method="CNSDTDSC = the description of the censoring source that gave "
          "ADT; empty for events", codelist=_literal_codelist(f"{spec.name}.CNSDTDSC",
                                                              [s.description for p in params for s in p.censors], where))
    for var, what in (("SRCDOM", "dataset"), ("SRCVAR", "date variable"), ("SRCSEQ", "--SEQ")):
        b.add(var, Origin("Derived"), "parameters", method=f"{var} = the {what} of the source record that gave ADT")
    return b.dataset(TTE_CLASS)


def _avalc(spec: AdamSpec, ny: CodelistDef) -> tuple[ValueDef, ...]:
    out = []
    for kind, items in (("parameters", spec.collected), ("derived", spec.derived)):
        for k, p in enumerate(items):
            source = Where(spec.path, f"{kind}[{k}]")
            where, text = (("PARAMCD", p["paramcd"]),), f"Analysis Value (C) for {p['paramcd']}"
            selection = f"{p.get('dataset', 'ADRS')} records" + (f" where {p['filter']}" if p.get("filter") else "")
            if kind == "parameters" and isinstance(p["avalc"], str):
                out.append(ValueDef("AVALC", where, text, (Origin("Predecessor", f"{p['dataset']}.{p['avalc']}"),), source,
                                    comment=f"The {selection}"))
            elif kind == "parameters":
                rule = p["avalc"]
                values = [c["then"] for c in rule["cases"]] + ([rule["else"]] if "else" in rule else [])
                out.append(ValueDef("AVALC", where, text, (Origin("Derived"),), source,
                                    f"{_cases('AVALC', rule['cases'], rule.get('else'))}, on the {selection}",
                                    codelist=_literal_codelist(f"{spec.name}.AVALC.{p['paramcd']}", values, source)))
            else:
                base = f"{p['from']} records" + (f" where {p['filter']}" if p.get("filter") else "")
                if "yes_if" in p:
                    method, codelist = f"AVALC = 'Y' when any of the subject's {base} has {p['yes_if']}, otherwise 'N'", ny
                else:
                    method = (f"AVALC = the first of {', '.join(p['best'])} that the subject's {base} reached, "
                              f"otherwise {p.get('else', '')!r}")
                    otherwise = [p["else"]] if "else" in p else []
                    codelist = _literal_codelist(f"{spec.name}.AVALC.{p['paramcd']}", [*p["best"], *otherwise], source)
                out.append(ValueDef("AVALC", where, text, (Origin("Derived"),), source, method + " (one record per ADSL subject)",
                                    codelist=codelist))
    return tuple(out)


def _bds(spec: AdamSpec, codelists: dict[str, CodelistDef], ny: CodelistDef) -> DatasetDef:
    b = _Builder(spec, codelists)
    params = [*spec.collected, *spec.derived]
    where = Where(spec.path, "parameters")
    domains = list(dict.fromkeys(p["dataset"] for p in spec.collected))
    b.predecessor("STUDYID", "ADSL", "STUDYID", "parameters")
    b.add("USUBJID", Origin("Predecessor", ", ".join(f"{d}.USUBJID" for d in [*domains, "ADSL"])), "parameters")
    for name in spec.adsl_vars:
        b.predecessor(name, "ADSL", name, "adsl_vars")
    b.add("PARAMCD", Origin("Assigned"), "parameters", codelist=CodelistDef(
        f"{spec.name}.PARAMCD", f"{spec.name} parameter codes", tuple(Term(p["paramcd"], p["param"]) for p in params), where))
    b.add("PARAM", Origin("Assigned"), "parameters")
    b.add("PARCAT1", Origin("Assigned"), "parameters",
          codelist=_literal_codelist(f"{spec.name}.PARCAT1", [p["parcat1"] for p in params if p.get("parcat1")], where))
    avalc = _avalc(spec, ny)
    b.add("AVALC", tuple(dict.fromkeys(o for v in avalc for o in v.origins)), "parameters", values=avalc,
          method="\n".join(f"{v.where[0][1]}: {v.method}" for v in avalc if v.method) or None)
    dates = "; ".join(f"{p['paramcd']}: {p['dataset']}.{p['date']}" for p in spec.collected)
    b.add("ADT", Origin("Derived"), "parameters", method=f"ADT = the date of the source record's date ({dates}); empty when "
          "partial (no imputation) and for the derived parameters")
    b.add("ADY", Origin("Derived"), "reference", method=f"ADY = ADT - ADSL.{spec.reference} + 1 on or after "
          f"{spec.reference}, ADT - {spec.reference} before it (no day 0)")
    for var, source in (("AVISIT", "VISIT"), ("AVISITN", "VISITNUM")):
        b.add(var, Origin("Derived"), "parameters", method=f"{var} = {source} of the source record; empty for the derived "
              "parameters")
    b.add("ANL01FL", Origin("Derived"), "parameters", codelist=ny, method="ANL01FL = 'Y' on the last record by ADT and "
          "SRCSEQ of each subject, parameter and visit, and on every derived-parameter record")
    for var, what, derived in (("SRCDOM", "dataset", "'ADRS'"), ("SRCVAR", "date variable", "'AVALC'"),
                               ("SRCSEQ", "--SEQ", "empty")):
        b.add(var, Origin("Derived"), "parameters", method=f"{var} = the {what} of the source record; {derived} for the derived "
              "parameters")
    return b.dataset(BDS_CLASS)


def adam_define(study: str | Path) -> StudyDefine:
    """The define.xml metadata of every ADaM dataset of the study's specs (adam/*.yaml), from the
    specs alone. ADSL comes first: the other datasets carry its variables as predecessors."""
    sdtm = sdtm_define(study)
    codelists = {f"{d.name}.{v.name}": v.codelist for d in sdtm.datasets.values() for v in d.variables.values()
                 if v.codelist is not None}
    out = StudyDefine("ADaM", sdtm.studyid, sdtm.title, ADAMIG, ct_version())
    for spec in load_study_specs(study):
        if spec.kind == "tte":
            out.datasets[spec.name] = _adtte(spec, codelists)
        else:
            build = {"adsl": _adsl, "bds": _bds, "occds": _occds}[spec.kind]
            out.datasets[spec.name] = build(spec, codelists, ct_codelist("NY", Where(spec.path, "variables")))
    return out
