"""The lower half of the chain: an SDTM record -> the raw records behind it -> per variable, the raw
field the spec mapped it from, by which algorithm, and the raw value as the export holds it.

The SDTM stage wrote where each record came from (sdtm/provenance.tsv: file, form, row, locator and
the spec source); the domain spec says which raw field and algorithm fill each variable. Nothing is
re-derived: the raw value is read from the raw file and shown beside the SDTM value, so a reader
sees the mapping at work (``'05-JAN-2019'`` -> ``2019-01-05``). A DM variable the SDTM stage took
from other domains (RFXSTDTC: the first EX dose) names the records it took it from, which are then
traced in turn.
"""

from __future__ import annotations

from trialkit.display import plain
from trialkit.trace.model import RawField, RawRecord, SdtmRecord, SdtmRef
from trialkit.trace.run_folder import RunFolder


def seq_variable(dataset: str) -> str:
    return f"{dataset}SEQ"


def _text(columns: dict, position: int, variable: str) -> str:
    """A variable's value in record ``position`` as text ('' when the dataset has no such variable);
    ``columns``: RunFolder.columns of the dataset."""
    return plain(columns[variable][position], variable) if variable in columns else ""


def _spec_fields(run: RunFolder, dataset: str, columns: dict, position: int, raw: RawRecord, spec_source: str,
                 wanted: set[str] | None) -> tuple[list[RawField], list[str]]:
    """The variables of the record that ``raw`` filled, each with its raw field(s) and value(s)."""
    domain = dataset.removeprefix("SUPP") if dataset.startswith("SUPP") else dataset
    spec = run.domain_spec(domain)
    if spec is None:
        why = (f"no SDTM spec of {domain} for study {run.study or 'unknown (no manifest.json)'}: which raw field filled "
               f"each variable of {dataset} record {position + 1} is not known")
        return [], [why]
    sources = [s for s in spec.sources if s.key == spec_source] or [s for s in spec.sources if s.form == raw.form]
    values, why = run.raw_form(raw.file, raw.form)
    stops = [] if values is not None else [f"{raw.label}: raw values not read: {why}"]
    if run.spec_changed(spec.path):
        stops.append(f"{spec.path} changed since the run (its SHA-256 differs from manifest.json's): the mappings shown "
                     "are today's, not necessarily the run's")
    found = values is not None and 0 < raw.row <= len(values)
    if values is not None and not found:
        stops.append(f"{raw.label}: {raw.file} has {len(values)} record(s) of form {raw.form}: not the export the run read")
    row, place = run.columns("raw", raw.form) if found else {}, raw.row - 1

    def read(names) -> dict[str, str | None]:
        """raw field -> its value ('' = empty), None where the raw record could not be read."""
        return {f: str(row[f][place]) if f in row else None for f in names}

    out = []
    for src in sources:
        if dataset.startswith("SUPP"):
            qnam = _text(columns, position, "QNAM")
            out += [RawField("QVAL", _text(columns, position, "QVAL"), f"supp (QNAM {qnam})", f"{spec.path.name}:{src.key}.supp[{k}]",
                             read([q["field"]])) for k, q in enumerate(src.supp) if q.get("qnam") == qnam]
            continue
        for m in src.mappings:
            for variable in m.targets:
                if wanted is None or variable in wanted:
                    out.append(RawField(variable, _text(columns, position, variable), m.algorithm, m.key, read(m.fields)))
    return out, stops


def _derived_fields(run: RunFolder, dataset: str, columns: dict, position: int, wanted: set[str],
                    done: set[str]) -> tuple[list[RawField], list[SdtmRef]]:
    """Wanted variables no raw field filled: a DM summary (with the records it took its value from)
    or a derivation of the SDTM stage (--SEQ, --DY, EPOCH, AGE)."""
    spec = run.domain_spec(dataset)
    fields, refs = [], []
    usubjid = _text(columns, position, "USUBJID")
    for variable in sorted(wanted - done - {"STUDYID", "DOMAIN", "USUBJID"}):
        value = _text(columns, position, variable)
        summary = spec.summaries.get(variable) if spec is not None else None
        post = spec.post.get(variable) if spec is not None else None
        if post is not None:
            rule = post.args.get(post.algorithm)
            said = f" from {', '.join(f'{k} {v}' for k, v in rule.items())}" if isinstance(rule, dict) else ""
            fields.append(RawField(variable, value, f"{post.algorithm}{said} (after the summaries)", post.key))
            continue
        if summary is None:
            key = f"{spec.path.name}:derive" if spec is not None else "no spec"
            fields.append(RawField(variable, value, "derived by the SDTM stage, not read from a raw field", key))
            continue
        names = ", ".join(f"{s.domain}.{s.variable}" for s in summary.sources)
        fields.append(RawField(variable, value, f"{'earliest' if summary.stat == 'min' else 'latest'} of {names} over the "
                               "subject's records", f"{spec.path.name}:summaries.{variable}"))
        for source in summary.sources:
            other = run.dataset("sdtm", source.domain)
            if other is None or source.variable not in other or not value:
                continue
            mine = run.subject_rows("sdtm", source.domain, usubjid)
            mine = mine[mine[source.variable].astype(str) == value]
            if source.filter is not None and len(mine):
                mine = mine[source.filter.evaluate(mine).to_numpy()]
            refs += [SdtmRef(source.domain, int(r), source.variable) for r in mine["_record"]]
    return fields, list({(r.dataset, r.record, r.variable): r for r in refs}.values())


def trace_sdtm_record(run: RunFolder, dataset: str, record: int, wanted: set[str] | None = None) -> SdtmRecord:
    """SDTM ``dataset`` record ``record`` (1-based) down to the raw export; ``wanted``: the variables
    to explain (None: every variable a raw field filled)."""
    if run.dataset("sdtm", dataset) is None:
        return SdtmRecord(dataset, record, "", "", stops=[f"SDTM dataset {dataset} is not in {run.shown(run.sdtm_dir)}"])
    columns, position = run.columns("sdtm", dataset), record - 1
    shown = sorted(wanted) if wanted is not None else [c for c in columns if not c.startswith("_")]
    out = SdtmRecord(dataset, record, _text(columns, position, "USUBJID"), _text(columns, position, seq_variable(dataset)),
                     {v: _text(columns, position, v) for v in shown if v in columns})
    if run.provenance is None:
        out.stops.append("sdtm/provenance.tsv is missing (an SDTM folder another tool wrote?): the chain "
                         f"stops at SDTM {dataset} record {record}; the raw record behind it is not known")
        return out
    rows = run.provenance_rows(dataset, record)
    if not len(rows["record"]):
        out.stops.append(f"SDTM {dataset} record {record} has no raw record in provenance.tsv: the SDTM stage built it from "
                         "the study's specs (trial design, subject visits or elements), not from a raw form")
    for form, row, file, locator, spec_source in zip(rows["form"], rows["row"], rows["file"], rows["locator"], rows["spec_source"]):
        raw = RawRecord(str(file), str(form), int(row), str(locator))
        out.raw.append(raw)
        raw.fields, stops = _spec_fields(run, dataset, columns, position, raw, str(spec_source), wanted)
        out.stops += stops
    if wanted is not None and not dataset.startswith("SUPP"):
        out.derived, out.sources = _derived_fields(run, dataset, columns, position, wanted,
                                                   {f.variable for r in out.raw for f in r.fields})
    return out
