"""Which SDTM domains an export's forms hold, and the fields a skeleton spec can map with confidence.

A domain is recognized only by names a data manager would recognize too (AETERM or AEVERB for the
adverse event term, SEX or GENDER, SYSBP...; CDASH names and their common EDC variants) and by the
values (a sex field whose every code decodes to male / female; countries as ISO 3166 alpha-3). Each
recognized field is mapped with the one algorithm its type calls for; everything else is left to the
data manager under study.yaml's ``not_mapped`` ("to map"). Nothing here knows a study's forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from trialkit.formats.export import EVENT_COLUMNS, EventMeta
from trialkit.scaffold.infer import CODE_MAX_DISTINCT, DISTINCT_KEPT, FieldGuess, FormGuess, natural_order

DATE_TYPES = {"date"}
NUMBER_TYPES = {"integer", "decimal"}


@dataclass
class SourceDraft:
    form: str
    variables: dict[str, dict] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)    # variable -> "to check" comment

    @property
    def fields(self) -> set[str]:
        return {v for m in self.variables.values() for k, v in m.items() if k in ("assign", "ct", "date", "visit")}


@dataclass
class DomainDraft:
    domain: str
    sources: list[SourceDraft]
    seq: list[str] = field(default_factory=list)
    why: str = ""                # the comment at the top of the spec: what made the domain recognized


def key(name: str) -> str:
    """A field name as the tables below spell it: the last part of a dotted ODM ItemOID, upper case,
    letters and digits only (``IT.VS.SYSBP`` -> ``SYSBP``, ``brth_dat`` -> ``BRTHDAT``)."""
    return re.sub(r"[^A-Z0-9]", "", name.rsplit(".", 1)[-1].upper())


DM_FIELDS = {
    "SEX": {"SEX", "SEXCD", "GENDER", "GENDERCD"},
    "BRTHDTC": {"BRTHDAT", "BRTHDT", "BRTHDTC", "DOB", "BIRTHDT", "BIRTHDATE", "DATEOFBIRTH", "BRTHDATE"},
    "AGE": {"AGE", "AGEYRS", "AGEYR", "AGEY"},
    "RACE": {"RACE", "RACECD"},
    "ETHNIC": {"ETHNIC", "ETHNICITY", "ETHNICCD"},
    "COUNTRY": {"COUNTRY", "CTRY", "CNTRY", "COUNTRYCD"},
    "RFICDTC": {"RFICDAT", "RFICDTC", "ICDT", "ICDAT", "CONSDT", "CONSENTDT", "ICFDT", "DSICDAT"},
    "DTHDTC": {"DTHDAT", "DTHDT", "DTHDTC", "DEATHDT", "DEATHDAT", "DEATHDATE"},
}
SEX_TERMS = {"M": "M", "MALE": "M", "F": "F", "FEMALE": "F", "U": "U", "UNKNOWN": "U", "UNDIFFERENTIATED": "UNDIFFERENTIATED"}
RACE_TERMS = {t: t for t in ("AMERICAN INDIAN OR ALASKA NATIVE", "ASIAN", "BLACK OR AFRICAN AMERICAN",
                             "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER", "WHITE", "NOT REPORTED", "UNKNOWN", "OTHER", "MULTIPLE")}
RACE_TERMS |= {"BLACK": "BLACK OR AFRICAN AMERICAN", "CAUCASIAN": "WHITE", "AMERICAN INDIAN/ALASKA NATIVE": "AMERICAN INDIAN OR ALASKA NATIVE",
               "MORE THAN ONE RACE": "MULTIPLE", "UNKNOWN / NOT REPORTED": "UNKNOWN", "NOT REPORTED": "NOT REPORTED"}
ETHNIC_TERMS = {t: t for t in ("HISPANIC OR LATINO", "NOT HISPANIC OR LATINO", "NOT REPORTED", "UNKNOWN")}
ETHNIC_TERMS |= {"LATINO": "HISPANIC OR LATINO", "HISPANIC": "HISPANIC OR LATINO", "NON-LATINO": "NOT HISPANIC OR LATINO",
                 "NOT HISPANIC": "NOT HISPANIC OR LATINO", "UNKNOWN / NOT REPORTED": "UNKNOWN"}
YES_NO = {"Y": "Y", "YES": "Y", "N": "N", "NO": "N"}

# events and interventions: the topic field that makes the form the domain's, then the others
EVENTS = {
    "AE": {"topic": ("AETERM", {"AETERM", "AEVERB", "AEVERBATIM", "AETERMVERB"}),
           "text": {"AEDECOD": {"AEDECOD", "AEPT", "AEPTNM", "AEPTERM"}, "AEBODSYS": {"AEBODSYS", "AESOC", "AESOCNM"},
                    "AETOXGR": {"AETOXGR", "AEGRADE", "GRADE", "AETOXGRD", "CTCGRADE"}},
           "dates": {"AESTDTC": {"AESTDAT", "AESTDT", "AESTDTC", "AEONSETDT", "AESTARTDT"},
                     "AEENDTC": {"AEENDAT", "AEENDT", "AEENDTC", "AESTOPDT", "AERESDT"}},
           "yes_no": {"AESER": {"AESER", "SERIOUS", "AESERIOUS"}}},
    "CM": {"topic": ("CMTRT", {"CMTRT", "CMTERM", "CMNAME", "MEDNAME", "CMMED", "CMVERB"}),
           "text": {"CMINDC": {"CMINDC", "CMIND", "CMINDIC"}, "CMDECOD": {"CMDECOD"}},
           "dates": {"CMSTDTC": {"CMSTDAT", "CMSTDT", "CMSTDTC"}, "CMENDTC": {"CMENDAT", "CMENDT", "CMENDTC"}},
           "yes_no": {}},
    "MH": {"topic": ("MHTERM", {"MHTERM", "MHVERB", "MHTERMVERB"}),
           "text": {"MHDECOD": {"MHDECOD", "MHPT"}, "MHBODSYS": {"MHBODSYS", "MHSOC"}},
           "dates": {"MHSTDTC": {"MHSTDAT", "MHSTDT", "MHSTDTC"}, "MHENDTC": {"MHENDAT", "MHENDT", "MHENDTC"}},
           "yes_no": {}},
    "EX": {"topic": ("EXTRT", {"EXTRT", "EXTRTNM", "AGENT", "DRUG", "STUDYDRUG"}),
           "text": {"EXDOSU": {"EXDOSU", "DOSEUNIT", "DOSU", "EXDOSEU"}},
           "dates": {"EXSTDTC": {"EXSTDAT", "EXSTDT", "EXSTDTC", "ADMDT", "DOSEDT", "EXDAT"},
                     "EXENDTC": {"EXENDAT", "EXENDT", "EXENDTC"}},
           "yes_no": {}, "number": {"EXDOSE": {"EXDOSE", "DOSE", "DOSEADM", "EXDOSADM"}}},
    "DS": {"topic": ("DSTERM", {"DSTERM", "DSVERB"}),
           "text": {"DSDECOD": {"DSDECOD"}},
           "dates": {"DSSTDTC": {"DSSTDAT", "DSSTDT", "DSSTDTC"}},
           "yes_no": {}},
}
# the domain's Req variables besides the topic that a skeleton must fill to load: filled from the
# topic field when the export has no field of their own (the verbatim term stands in for the coded one)
FALLBACK = {"AEDECOD": "AETERM", "DSDECOD": "DSTERM"}

VITAL_SIGNS = {
    "SYSBP": ("Systolic Blood Pressure", {"SYSBP", "VSSYSBP", "SBP", "SYSTOLIC", "SYSTOLICBP", "BPSYSTOLIC", "BPSYS"}),
    "DIABP": ("Diastolic Blood Pressure", {"DIABP", "VSDIABP", "DBP", "DIASTOLIC", "DIASTOLICBP", "BPDIASTOLIC", "BPDIA"}),
    "PULSE": ("Pulse Rate", {"PULSE", "VSPULSE", "HR", "HEARTRATE", "PULSERATE"}),
    "RESP": ("Respiratory Rate", {"RESP", "VSRESP", "RESPRATE", "RR"}),
    "TEMP": ("Temperature", {"TEMP", "VSTEMP", "TEMPERATURE", "BODYTEMP"}),
    "WEIGHT": ("Weight", {"WEIGHT", "VSWEIGHT", "WT", "WEIGHTKG", "BODYWEIGHT"}),
    "HEIGHT": ("Height", {"HEIGHT", "VSHEIGHT", "HT", "HEIGHTCM"}),
    "BMI": ("Body Mass Index", {"BMI", "VSBMI"}),
}
VS_DATES = {"VSDAT", "VSDT", "VSDTC", "VSDATE", "VISDAT", "VISITDT", "VISDT", "ASSDT", "ASMDT", "DATEBP", "BPDATE", "BPDAT"}
UNITS = {"cm", "kg", "mmHg", "beats/min", "bpm", "breaths/min", "C", "F", "kg/m2", "in", "lb", "m"}
UNIT_WORDS = {"kilograms": "kg", "kilogram": "kg", "centimeters": "cm", "centimetres": "cm", "pounds": "lb", "inches": "in",
              "beats per minute": "beats/min", "breaths per minute": "breaths/min", "celsius": "C"}
VISIT_FIELDS = {"VISIT", "VISITCD", "VISCD", "VISNAM", "VISITNAME", "VISITID", "VISID", "FOLDER", "EVENT", "VISITNUM"}


def find(form: FormGuess, names: set[str], types: set[str] | None = None, *, by_label: bool = False) -> FieldGuess | None:
    """The first field of the form whose name (or, ``by_label``, whose label without a trailing
    parenthesis: 'Height (cm)') is one of ``names``, and whose type is one of ``types``."""
    def named(f: FieldGuess) -> bool:
        return key(f.name) in names or (by_label and key(re.sub(r"\(.*\)\s*$", "", f.label)) in names)
    return next((f for f in form.fields if named(f) and (types is None or f.type in types)), None)


def recode(f: FieldGuess, terms: dict[str, str]) -> dict[str, str] | None:
    """{code: submission value} when every code of a field (by its decode, or itself) is a
    term or a synonym of one; None when any is not (the mapping is then the data manager's)."""
    # a field typed text because the export shows it too rarely to call it coded is read by its values
    codes = f.codes if f.type == "code" else {v: v for v in f.distinct} if f.type == "text" and f.distinct else {}
    if not codes or len(codes) > CODE_MAX_DISTINCT:
        return None
    out = {}
    for code, decode in codes.items():
        term = terms.get(decode.strip().upper()) or terms.get(code.strip().upper())
        if term is None:
            return None
        out[code] = term
    return out


def visit_field(form: FormGuess) -> FieldGuess | None:
    return find(form, VISIT_FIELDS, {"code", "text", "integer"})


def visit_map(forms: list[FormGuess]) -> tuple[list[dict], dict[str, str]]:
    """study.yaml's visit map from every visit field's observed codes, in natural order; a code or
    decode that says unscheduled gets no VISITNUM (the SDTM stage numbers it by date). Also returns
    form -> the visit field it has."""
    fields = {form.name: f for form in forms if (f := visit_field(form)) is not None}
    # a visit field typed text (too few records to call it coded) still names visits, unless it
    # holds more distinct values than a schedule has (free text)
    observed = {name: f.codes or ({v: v for v in f.distinct} if len(f.distinct) < DISTINCT_KEPT else {})
                for name, f in fields.items()}
    codes: dict[str, str] = {}
    for values in observed.values():
        for code, decode in values.items():
            codes.setdefault(code.upper(), decode)
    visits, number = [], 0
    # screening and baseline first, then in natural order (WK6 before WK12), as a schedule reads
    first = re.compile(r"SCR|BASE|^BL$|PRE")
    for code in sorted(codes, key=lambda c: (not first.search(c), natural_order(c))):
        decode = codes[code]
        label = (decode if decode.upper() != code else code).upper()[:40]
        if "UNS" in code or "UNSCHED" in label:
            visits.append({"raw": code, "visit": "UNSCHEDULED"})
        else:
            number += 1
            visits.append({"raw": code, "visitnum": number, "visit": label})
    return visits, {name: f.name for name, f in fields.items() if observed[name]}


def event_visits(events: dict[str, EventMeta]) -> list[dict]:
    """study.yaml's visit map from an ODM export's StudyEventDefs, in the Protocol's order: the
    StudyEventOID is the raw code, its Name the VISIT. A repeating event (several StudyEventRepeatKeys
    per subject) gets a note: one VISITNUM then covers every repeat."""
    visits = []
    for number, event in enumerate(events.values(), 1):
        visit = {"raw": event.oid, "visitnum": number, "visit": (event.name or event.oid).upper()[:40]}
        if event.repeating:
            visit["note"] = "to check: a repeating study event (Repeating=\"Yes\"): this VISITNUM covers every repeat"
        visits.append(visit)
    return visits


def event_fields(forms: list[FormGuess]) -> dict[str, str]:
    """form -> its study event field (an ODM export's STUDYEVENTOID), for the forms that sit in study
    events: mapped to VISIT through the visit map event_visits makes."""
    return {form.name: EVENT_COLUMNS[0] for form in forms if any(f.name == EVENT_COLUMNS[0] for f in form.fields)}


def recognize_dm(subject_form: FormGuess, forms: list[FormGuess]) -> DomainDraft:
    """DM: the subject form first (every subject, SUBJID and SITEID), then the recognized fields of
    every one-row-per-subject form; SEX and COUNTRY, which DM requires, are left empty with a note
    when no field is recognized."""
    first = SourceDraft(subject_form.name, {"SUBJID": {"assign": "SUBJID"}, "SITEID": {"assign": "SITEID"}})
    sources = [first]
    taken: set[str] = set()
    for form in [subject_form, *(f for f in forms if f.one_row_per_subject and f is not subject_form)]:
        src = first if form is subject_form else SourceDraft(form.name)
        for variable, names in DM_FIELDS.items():
            f = find(form, names)
            if f is None or variable in taken:
                continue
            mapping = _dm_mapping(variable, f)
            if mapping is None:
                continue
            src.variables.update(mapping)
            taken.add(variable)
        if src is not first and src.variables:
            sources.append(src)
    for variable, reason in (("SEX", "no sex field whose codes decode to male / female was recognized"),
                             ("COUNTRY", "no country field with ISO 3166 alpha-3 codes was recognized")):
        if variable not in taken:
            first.variables[variable] = {"hardcode": ""}
            first.notes[variable] = f"to map: DM requires {variable}; {reason}"
    return DomainDraft("DM", sources, why=f"one record per subject of {subject_form.name}, the form with the most subjects")


def _dm_mapping(variable: str, f: FieldGuess) -> dict | None:
    if variable == "SEX":
        values = recode(f, SEX_TERMS)
        return {"SEX": {"ct": f.name, "values": values}} if values else None
    if variable == "RACE":
        values = recode(f, RACE_TERMS)
        return {"RACE": {"ct": f.name, "values": values}} if values else None
    if variable == "ETHNIC":
        values = recode(f, ETHNIC_TERMS)
        return {"ETHNIC": {"ct": f.name, "values": values}} if values else None
    if variable == "COUNTRY":
        values = list(f.codes) if f.type == "code" else list(f.distinct) if f.type == "text" else []
        if values and all(re.fullmatch(r"[A-Z]{3}", v.strip().upper()) for v in values):
            return {"COUNTRY": {"ct": f.name, "codelist": "COUNTRY"}}
        return None
    if variable == "AGE":
        return {"AGE": {"assign": f.name, "number": True}, "AGEU": {"hardcode": "YEARS"}} if f.type == "integer" else None
    if variable == "DTHDTC":
        return {"DTHDTC": {"date": f.name}, "DTHFL": {"hardcode": "Y"}} if f.type in DATE_TYPES else None
    return {variable: {"date": f.name}} if f.type in DATE_TYPES else None


def recognize_events(forms: list[FormGuess]) -> list[DomainDraft]:
    """AE, CM, MH, EX, DS: a source per form whose topic field is recognized (EX also needs the date
    given); --SEQ in the order of the start date when it is mapped."""
    out = []
    for domain, spec in EVENTS.items():
        topic, names = spec["topic"]
        sources = []
        for form in forms:
            f = find(form, names, {"text", "code"})
            if f is None:
                continue
            src = SourceDraft(form.name, {topic: {"assign": f.name}})
            for variable, alias in spec["text"].items():
                if (g := find(form, alias, {"text", "code", "integer"})) is not None:
                    src.variables[variable] = {"assign": g.name}
            for variable, alias in spec.get("number", {}).items():
                if (g := find(form, alias, NUMBER_TYPES)) is not None:
                    src.variables[variable] = {"assign": g.name, "number": True}
            for variable, alias in spec["dates"].items():
                if (g := find(form, alias, DATE_TYPES)) is not None:
                    src.variables[variable] = {"date": g.name}
            for variable, alias in spec["yes_no"].items():
                if (g := find(form, alias)) is not None and (values := recode(g, YES_NO)):
                    src.variables[variable] = {"ct": g.name, "values": values}
            if domain == "EX" and "EXSTDTC" not in src.variables:
                continue
            for variable, stand_in in FALLBACK.items():
                if variable.startswith(domain) and variable not in src.variables:
                    src.variables[variable] = {"assign": f.name}
                    src.notes[variable] = f"to check: no coded term in the export; {stand_in}'s field stands in"
            sources.append(src)
        if sources:
            start = f"{domain}STDTC"
            seq = [start, topic] if all(start in s.variables for s in sources) else [topic]
            out.append(DomainDraft(domain, sources, seq, why=f"{topic}-like field(s): "
                                   + ", ".join(f"{s.form}.{s.variables[topic]['assign']}" for s in sources)))
    return out


def _unit(f: FieldGuess) -> str | None:
    """The unit a label gives in parentheses at its end: 'height (cm)' -> 'cm'."""
    found = re.search(r"\(([^()]+)\)\s*$", f.label or "")
    unit = found.group(1).strip() if found else ""
    return unit if unit in UNITS else UNIT_WORDS.get(unit.lower())


def recognize_vital_signs(forms: list[FormGuess], visit_fields: dict[str, str]) -> DomainDraft | None:
    """VS from forms that collect vital signs one field per test (SYSBP, DIABP, PULSE..., by name or
    label): one source per test, its VSTESTCD and VSTEST written in, the field as VSORRES, the unit
    when the label gives it; the date and visit when the form has a field for them."""
    sources, taken = [], set()
    for form in forms:
        date = find(form, VS_DATES, DATE_TYPES)
        for testcd, (test, names) in VITAL_SIGNS.items():
            f = find(form, names | {key(test)}, NUMBER_TYPES, by_label=True)
            # a test collected on a second form (height at screening and at baseline) is the data
            # manager's to map: define.xml describes each test once, and the two may differ in meaning
            if f is None or testcd in taken:
                continue
            taken.add(testcd)
            src = SourceDraft(form.name, {"VSTESTCD": {"hardcode": testcd}, "VSTEST": {"hardcode": test},
                                          "VSORRES": {"assign": f.name}, "VSSTRESC": {"assign": f.name},
                                          "VSSTRESN": {"assign": f.name, "number": True}})
            unit = _unit(f)
            if unit:
                src.variables |= {"VSORRESU": {"hardcode": unit}, "VSSTRESU": {"hardcode": unit}}
            else:
                src.notes["VSORRES"] = "to check: the unit is not in the field's label; add VSORRESU / VSSTRESU"
            if date is not None:
                src.variables["VSDTC"] = {"date": date.name}
            if form.name in visit_fields:
                src.variables["VISIT"] = {"visit": visit_fields[form.name]}
            sources.append(src)
    if not sources:
        return None
    return DomainDraft("VS", sources, ["VSTESTCD", "VSDTC"] if all("VSDTC" in s.variables for s in sources) else ["VSTESTCD"],
                       why="one field per vital sign: " + ", ".join(f"{s.form}.{s.variables['VSORRES']['assign']}" for s in sources))


def recognize_long_findings(forms: list[FormGuess], visit_fields: dict[str, str]) -> list[DomainDraft]:
    """LB and VS collected one record per test (LBTESTCD, LBORRES... as fields): each field named as
    the domain's variable is assigned to it, its --DAT date to --DTC."""
    out = []
    for domain in ("LB", "VS"):
        sources = []
        for form in forms:
            testcd = find(form, {f"{domain}TESTCD"}, {"text", "code"})
            orres = find(form, {f"{domain}ORRES"})
            if testcd is None or orres is None:
                continue
            src = SourceDraft(form.name)
            for suffix in ("TESTCD", "TEST", "CAT", "ORRES", "ORRESU", "ORNRLO", "ORNRHI", "STRESC", "STRESU"):
                if (f := find(form, {f"{domain}{suffix}"})) is not None:
                    src.variables[f"{domain}{suffix}"] = {"assign": f.name}
            src.variables.setdefault(f"{domain}TEST", {"assign": testcd.name})
            if (d := find(form, {f"{domain}DAT", f"{domain}DT", f"{domain}DTC"}, DATE_TYPES)) is not None:
                src.variables[f"{domain}DTC"] = {"date": d.name}
            if form.name in visit_fields:
                src.variables["VISIT"] = {"visit": visit_fields[form.name]}
            sources.append(src)
        if sources:
            out.append(DomainDraft(domain, sources, [f"{domain}TESTCD"],
                                   why=f"one record per test: {domain}TESTCD and {domain}ORRES in " + ", ".join(s.form for s in sources)))
    return out


def recognize(subject_form: FormGuess, forms: list[FormGuess], visit_fields: dict[str, str]) -> list[DomainDraft]:
    """Every domain recognized with confidence, DM first; VS one field per test only when the
    export has no VS collected one record per test."""
    drafts = [recognize_dm(subject_form, forms), *recognize_events(forms)]
    long = recognize_long_findings(forms, visit_fields)
    drafts += long
    if not any(d.domain == "VS" for d in long) and (vs := recognize_vital_signs(forms, visit_fields)) is not None:
        drafts.append(vs)
    return drafts
