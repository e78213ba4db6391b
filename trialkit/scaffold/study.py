"""Write a starting study folder from an export: raw_dictionary.yaml, sdtm/study.yaml, a skeleton spec
per recognized domain and a minimal adam/ADSL.yaml, so that ``trialkit spec check`` passes and
``trialkit sdtm`` runs on the export the day the folder is written.

The folder is a start, not an answer: every guess the values could not settle carries a
``# to check:`` comment, and every field no skeleton maps is listed under study.yaml's
``not_mapped`` with the reason "to map" (the SDTM stage refuses a field that goes nowhere).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from trialkit.errors import InputError
from trialkit.formats.export import RawExport
from trialkit.scaffold.domains import DM_FIELDS, DomainDraft, event_fields, event_visits, find, recognize, visit_map
from trialkit.scaffold.infer import KEYS, FormGuess, infer_form
from trialkit.sdtm.standards import load_domains

STUDY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
TO_MAP = "to map"
WRITTEN = ("raw_dictionary.yaml", "sdtm", "adam")


@dataclass
class Scaffold:
    studyid: str
    subject_form: str
    forms: list[FormGuess]
    domains: list[DomainDraft]
    visits: list[dict]
    not_mapped: dict[str, dict[str, str]]

    def summary(self) -> list[str]:
        fields = sum(len(f.fields) - len(KEYS) for f in self.forms)
        unmapped = sum(len(v) for v in self.not_mapped.values())
        checks = sum(len(g.notes) for f in self.forms for g in f.fields) + sum(
            len(s.notes) for d in self.domains for s in d.sources)
        subjects = sum(f.subjects for f in self.forms if f.name == self.subject_form)
        return [f"{self.studyid}: {len(self.forms)} forms, {fields} fields, {subjects} subjects (subject form {self.subject_form})",
                (f"domains: {', '.join(d.domain for d in self.domains)}; visits: {len(self.visits)}; "
                 f"{fields - unmapped} fields mapped, {unmapped} under not_mapped ({TO_MAP}); {checks} '# to check' comments")]


def flow(value) -> str:
    """One YAML value on one line, quoted where YAML would misread it ("1", "Y", "")."""
    return yaml.safe_dump(value, default_flow_style=True, width=10**9, sort_keys=False, allow_unicode=True).strip().removesuffix("...").strip()


def comment(note: str | None) -> str:
    return f"  # {' '.join(note.split())}" if note else ""


def build_scaffold(export: RawExport) -> Scaffold:
    """Everything the folder will say, from the export alone."""
    if not export.forms:
        raise InputError("empty export: no form to start a study from", file=str(export.path))
    forms = [infer_form(form, export.metadata) for form in export.forms.values()]
    if not any(f.records for f in forms):
        raise InputError("empty export: every form is empty (header line only)", file=str(export.path))
    candidates = [f for f in forms if f.one_row_per_subject]
    if not candidates:
        busiest = max(forms, key=lambda f: f.subjects)
        raise InputError(f"no form holds one record per subject, so none can be the subject list DM is built from "
                         f"(form {busiest.name}, with the most subjects, has {busiest.records} records for {busiest.subjects})",
                         file=busiest.source, column="SUBJID")
    # the most subjects; among equals, the form with the most demographic fields
    subject_form = max(candidates, key=lambda f: (f.subjects, sum(find(f, names) is not None for names in DM_FIELDS.values())))
    ids = export.forms[subject_form.name].frame["STUDYID"].astype(str).str.strip()
    ids = ids[ids != ""]
    if ids.empty:
        raise InputError("the subject form has no STUDYID value: the study identifier cannot be read from the export",
                         file=subject_form.source, column="STUDYID")
    studyid = str(ids.value_counts().index[0])
    visits, visit_fields = visit_map(forms)
    if not visits and export.metadata is not None and export.metadata.events:
        visits = event_visits(export.metadata.events)     # ODM: the study events are the visits,
        visit_fields = event_fields(forms)                # mapped from each record's STUDYEVENTOID
    domains = recognize(subject_form, forms, visit_fields)
    used = {(s.form, f) for d in domains for s in d.sources for f in s.fields}
    not_mapped = {}
    for form in forms:
        left = {f.name: TO_MAP for f in form.fields if f.name not in KEYS and (form.name, f.name) not in used}
        if left:
            not_mapped[form.name] = left
    return Scaffold(studyid, subject_form.name, forms, domains, visits, not_mapped)


def raw_dictionary_text(s: Scaffold, export: RawExport) -> str:
    lines = [f"# Raw data dictionary of {s.studyid}, written by `trialkit scaffold` from {export.path} ({export.format}).",
             "# Types, codes, date formats and required-ness are read off the values of that export: check each",
             "# '# to check' comment, and widen codes the export did not happen to show.",
             "", f"study: {flow(s.studyid)}", f"export: {flow(f'{export.format} export {Path(export.path).name}')}", "", "forms:"]
    for form in s.forms:
        lines += [f"  {flow(form.name)}:", f"    label: {flow(form.label)}"]
        if form.name == s.subject_form:
            lines.append("    expected: true")
        if form.one_row_per_subject:
            lines.append("    one_row_per_subject: true")
        lines.append(f"    fields:{comment('to check: no record in the export, so no type could be read' if not form.records else None)}")
        for f in form.fields:
            note = "to check: " + "; ".join(f.notes) if f.notes else None
            lines.append(f"      - {flow(f.entry())}{comment(note)}")
    return "\n".join(lines) + "\n"


def domain_text(d: DomainDraft) -> str:
    lines = [f"# {d.domain}: skeleton written by `trialkit scaffold` ({d.why}).",
             "# Only the fields it was sure of are mapped; the others are under study.yaml's not_mapped.",
             f"domain: {d.domain}", "sources:"]
    for src in d.sources:
        lines += [f"  - form: {flow(src.form)}", "    variables:"]
        lines += [f"      {var}: {flow(m)}{comment(src.notes.get(var))}" for var, m in src.variables.items()]
    if d.seq:
        lines.append(f"derive: {flow({'seq': d.seq})}")
    return "\n".join(lines) + "\n"


def study_yaml_text(s: Scaffold) -> str:
    lines = [f"# Study-level SDTM settings of {s.studyid}, written by `trialkit scaffold`: the subject list (DM's first",
             "# source), the visit map from the visit codes the export holds (an ODM export's study events when no form",
             "# has a visit field), and every raw field no domain spec maps yet.",
             f"studyid: {flow(s.studyid)}", f"subjects: {flow(s.subject_form)}"]
    if s.visits:
        lines.append("visits:                    # raw visit code -> VISITNUM / VISIT; to check: order and names")
        lines += [f"  - {flow({k: x for k, x in v.items() if k != 'note'})}{comment(v.get('note'))}" for v in s.visits]
    else:
        lines.append("visits: []                 # no visit field recognized")
    if s.not_mapped:
        lines.append("not_mapped:                 # each field's reason: map it in a domain spec, or say why it stays out")
        for form, fields in s.not_mapped.items():
            lines.append(f"  {flow(form)}:")
            lines += [f"    {flow(name)}: {flow(reason)}" for name, reason in fields.items()]
    return "\n".join(lines) + "\n"


def adsl_text(dm: DomainDraft) -> str:
    meta = load_domains()["DM"]
    filled = {"STUDYID", "USUBJID", *(v for s in dm.sources for v in s.variables)}
    keep = [v.name for v in meta.variables if v.name in filled]
    labels = {v.name: v.label for v in meta.variables if v.name in filled}
    lines = ["# ADSL: the DM variables the SDTM skeleton maps, and no derivation yet (docs/new-study.md: steps).",
             "dataset: ADSL", "label: Subject-Level Analysis Dataset", f"from_dm: {flow(keep)}", "variables:"]
    lines += [f"  {name}: {flow(label)}" for name, label in labels.items()]
    return "\n".join(lines) + "\n"


def write_study(s: Scaffold, export: RawExport, out: Path, *, force: bool = False) -> list[Path]:
    """Write the folder; an existing one is refused unless ``force``, which replaces what scaffold
    writes (raw_dictionary.yaml, sdtm/, adam/) and leaves anything else in it alone."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("--out exists and is not a folder", file=str(out))
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise InputError("the study folder already exists and is not empty; give --force to replace its "
                             "raw_dictionary.yaml, sdtm/ and adam/, or another --out", file=str(out))
        for name in WRITTEN:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    files = {out / "raw_dictionary.yaml": raw_dictionary_text(s, export), out / "sdtm" / "study.yaml": study_yaml_text(s),
             out / "adam" / "ADSL.yaml": adsl_text(s.domains[0])}
    files |= {out / "sdtm" / f"{d.domain}.yaml": domain_text(d) for d in s.domains}
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def scaffold_study(export: RawExport, study: str, out: Path | None = None, *, force: bool = False) -> tuple[Scaffold, Path]:
    """``trialkit scaffold EXPORT --study NAME [--out DIR]``: the study folder (``--out``, else ./NAME)."""
    if not STUDY_NAME.match(study):
        raise InputError(f"--study {study!r}: a study name is a letter, then letters, digits, '_' or '-' (it names the folder)")
    s = build_scaffold(export)
    folder = Path(out) if out is not None else Path(study)
    write_study(s, export, folder, force=force)
    return s, folder
