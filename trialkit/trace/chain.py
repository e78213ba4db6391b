"""Where a trace starts and how its halves join: ADaM records -> SDTM records -> raw export.

Entry points (one ``Trace`` per call):

- ``trace_adam_records(run, dataset, records)``: any number of records of one ADaM dataset, given as
  a frame with USUBJID (and PARAMCD for BDS datasets, or ``record``: the 1-based record number), as
  a report cell lists the records it counted; every subject's steps are run once for all of them
  (``trace_adam_datasets``: the same over several datasets, as a report's subject pages ask).
- ``find_adam_records(run, dataset, usubjid, paramcd)``: the records the command line names.
- ``trace_sdtm(run, domain, usubjid, seq)``: one SDTM record, the lower half of the chain.

An ADaM record reaches SDTM by what the ADaM stage wrote or declared: SRCDOM / SRCVAR / SRCSEQ
(ADTTE, ADRS; an SRCDOM that is an ADaM dataset is followed through that dataset's record, as the
CDISC pilot's ADTTE names ADAE), the source domain's --SEQ carried by an occurrence dataset (ADAE: AESEQ), the start
date of an ADTTE parameter (an ADSL variable), and ADSL's own variables through ADSL.yaml's steps
(trialkit.trace.adsl_steps). A name the run does not have (dataset, subject, parameter, --SEQ,
variable) is an ``InputError`` (exit 2) listing the nearest ones; a link the data do not allow to
follow is a sentence in the trace (exit 0).
"""

from __future__ import annotations

import difflib

import pandas as pd

from trialkit.display import plain, show_list
from trialkit.errors import InputError
from trialkit.trace.adsl_steps import AdslSteps
from trialkit.trace.model import AdamRecord, Derivation, SdtmRef, Trace
from trialkit.trace.run_folder import RunFolder
from trialkit.trace.sdtm_records import seq_variable, trace_sdtm_record

SHOWN_ADAM = ("PARAMCD", "PARAM", "AVAL", "AVALC", "STARTDT", "ADT", "CNSR", "EVNTDESC", "CNSDTDSC", "AVISIT",
              "SRCDOM", "SRCVAR", "SRCSEQ")
SUMMARY_DEPTH = 2        # a DM summary's source records are traced; theirs (none today) would not be


def nearest(value: str, candidates, what: str) -> str:
    """'nearest subjects: BALLR01-0101-001, ...': the closest names first, for an exit-2 message."""
    names = sorted({str(c) for c in candidates})
    close = difflib.get_close_matches(str(value), names, n=5, cutoff=0.0)
    return f"nearest {what}: {show_list(close)}" if close else f"the run has no {what}"


def _dataset(run: RunFolder, stage: str, name: str) -> pd.DataFrame:
    frame = run.dataset(stage, name.upper())
    if frame is None:
        names = run.adam_files if stage == "adam" else run.sdtm_files
        folder = run.adam_dir if stage == "adam" else run.sdtm_dir
        raise InputError(f"no {stage.upper()} dataset {name} ({nearest(name.upper(), names, 'datasets')})", file=str(folder))
    return frame


def _subject(frame: pd.DataFrame, usubjid: str, dataset: str, run: RunFolder) -> pd.DataFrame:
    mine = frame[frame["USUBJID"].astype(str) == usubjid]
    if mine.empty:
        raise InputError(f"{dataset} has no record of subject {usubjid} ({nearest(usubjid, frame['USUBJID'], 'subjects')})",
                         file=str(run.path))
    return mine


def find_adam_records(run: RunFolder, dataset: str, usubjid: str, paramcd: str | None = None) -> pd.DataFrame:
    """The records of ADaM ``dataset`` of one subject (and parameter): ``--adam DATASET USUBJID [--paramcd]``."""
    frame = _dataset(run, "adam", dataset)
    mine = _subject(frame, usubjid, dataset.upper(), run)
    if paramcd is None:
        return mine
    if "PARAMCD" not in frame:
        raise InputError(f"{dataset.upper()} has no PARAMCD (not a BDS dataset): leave out --paramcd", file=str(run.path))
    chosen = mine[mine["PARAMCD"].astype(str) == paramcd]
    if chosen.empty:
        raise InputError(f"{dataset.upper()} has no {paramcd} record of {usubjid} (the subject's parameters: "
                         f"{show_list(sorted(set(mine['PARAMCD'].astype(str))))})", file=str(run.path))
    return chosen


def _adam_rows(frame: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` that ``records`` names: by record number where given, else by USUBJID
    (and PARAMCD where ``records`` has it)."""
    for column in ("record", "_record"):       # _record: the rows find_adam_records returned
        if column in records:
            return frame[frame["_record"].isin(pd.to_numeric(records[column]).astype(int))]
    keys = [k for k in ("USUBJID", "PARAMCD") if k in records and k in frame]
    wanted = pd.MultiIndex.from_frame(records[keys].astype(str))
    return frame[pd.MultiIndex.from_frame(frame[keys].astype(str)).isin(wanted)]


def _source_derivations(run: RunFolder, dataset: str, row: pd.Series, adsl: AdslSteps, adsl_row, subjects) -> list[Derivation]:
    """How the record's analysis value came from SDTM: SRCDOM/SRCVAR/SRCSEQ, or the source --SEQ."""
    usubjid, record = str(row["USUBJID"]), int(row["_record"])
    target = next((v for v in ("ADT", "AVALC", "AVAL") if v in row.index), "USUBJID")
    value = plain(row[target], target)
    srcdom = plain(row.get("SRCDOM", ""))
    if srcdom:
        srcvar, srcseq = plain(row.get("SRCVAR", "")), plain(row.get("SRCSEQ", ""))
        said = f"SRCDOM {srcdom}, SRCVAR {srcvar}" + (f", SRCSEQ {srcseq}" if srcseq else "")
        if srcdom == "ADSL":
            out = adsl.explain(adsl_row, usubjid, srcvar, subjects)
            out.variable, out.value = target, value
            out.steps.insert(0, said)
            return [out]
        if not srcseq:
            why = f"{dataset} record {record} has no SRCSEQ: which {srcdom} record it came from is not recorded"
            return [Derivation(target, value, [said], stops=[why])]
        if srcdom in run.sdtm_files:
            return [_by_seq(run, srcdom, usubjid, srcseq, [srcvar], Derivation(target, value, [said]))]
        if srcdom in run.adam_files and srcdom != dataset:
            return [_through_adam(run, srcdom, usubjid, srcseq, srcvar, Derivation(target, value, [said]), adsl, subjects)]
        why = (f"{dataset} record {record} comes from {srcdom}.{srcvar}, which is neither an SDTM nor an ADaM dataset of "
               "the run: the chain stops at this record")
        return [Derivation(target, value, [said], stops=[why])]
    domain = _source_domain(run, dataset)
    seq = seq_variable(domain)
    if seq in row.index and plain(row[seq]):
        # the variables the dataset keeps from its source record (ADAE.yaml keep:), each explained there
        kept = [v for v in run.adam_spec(dataset).get("keep") or [] if v not in ("STUDYID", "USUBJID", seq)]
        out = Derivation(seq, plain(row[seq]), [f"{dataset} keeps {seq} of {domain}" + (f" and {', '.join(kept)}" if kept else "")])
        return [_by_seq(run, domain, usubjid, plain(row[seq]), kept or [""], out)]
    why = f"{dataset} record {record} carries neither SRCDOM/SRCSEQ nor {seq}: which SDTM record it came from is not recorded"
    return [Derivation(target, value, stops=[why])]


def _through_adam(run: RunFolder, source: str, usubjid: str, srcseq: str, srcvar: str, out: Derivation, adsl: AdslSteps,
                  subjects) -> Derivation:
    """``out`` followed through the ADaM record SRCDOM/SRCSEQ name (ADaMIG: SRCSEQ is the source's ASEQ;
    a source without ASEQ, as the CDISC pilot's ADAE, is matched on the --SEQ it keeps of its SDTM
    domain), then on from that record to SDTM as its own source says."""
    frame = run.dataset("adam", source)
    seq = "ASEQ" if "ASEQ" in frame else seq_variable(_source_domain(run, source))
    record = run.record_by("adam", source, seq, usubjid, srcseq)
    if record is None:
        out.stops.append(f"no {source} record with USUBJID {usubjid} and {seq} {srcseq}: the chain stops at the ADaM record")
        return out
    row = frame.iloc[record - 1]
    out.steps.append(f"{source} record {record} ({seq} {srcseq}): {srcvar} {plain(row.get(srcvar, ''), srcvar) or 'missing'}")
    if plain(row.get("SRCDOM", "")) in run.adam_files:       # one ADaM hop only: SRCDOMs naming each other would loop
        out.stops.append(f"{source} record {record} comes from ADaM {plain(row['SRCDOM'])} in turn: the trace "
                         "follows one ADaM source and stops here")
        return out
    for further in _source_derivations(run, source, row, adsl, None, subjects):
        out.steps += further.steps
        out.sources += further.sources
        out.stops += further.stops
    return out


def _source_domain(run: RunFolder, dataset: str) -> str:
    """The SDTM domain an occurrence dataset's records come from: its ADaM spec's ``source:``, else
    the name without AD (ADAE -> AE)."""
    return str(run.adam_spec(dataset).get("source") or dataset[2:])


def _by_seq(run: RunFolder, domain: str, usubjid: str, seq: str, variables: list[str], out: Derivation) -> Derivation:
    """``out`` with the SDTM record of ``domain`` with this USUBJID and --SEQ as its source of ``variables``."""
    record = run.record_by("sdtm", domain, seq_variable(domain), usubjid, seq)
    if record is None:
        out.stops.append(f"no {domain} record with USUBJID {usubjid} and {seq_variable(domain)} {seq} in {run.shown(run.sdtm_dir)}: "
                         "the chain stops at the ADaM record")
    else:
        out.sources += [SdtmRef(domain, record, variable) for variable in variables]
    return out


def _start_derivation(run: RunFolder, dataset: str, row: pd.Series, adsl: AdslSteps, adsl_row, subjects) -> list[Derivation]:
    """An ADTTE parameter's start date: the ADSL variable its spec names (``start: RANDDT``)."""
    paramcd = plain(row.get("PARAMCD", ""))
    spec = run.adam_spec(dataset)
    start = next((p.get("start") for p in spec.get("parameters") or [] if str(p.get("paramcd")) == paramcd), None)
    if not start or "STARTDT" not in row.index:
        return []
    out = adsl.explain(adsl_row, str(row["USUBJID"]), start, subjects)
    out.steps.insert(0, f"{spec['_path'].name} parameter {paramcd}: STARTDT = ADSL.{start}")
    out.variable, out.value = "STARTDT", plain(row["STARTDT"], "STARTDT")
    return [out]


def _check_variables(run: RunFolder, variables: list[str] | None) -> None:
    if not variables:
        return
    adsl = run.dataset("adam", "ADSL")
    names = [c for c in adsl.columns if not c.startswith("_")] if adsl is not None else []
    for v in variables or []:
        if v not in names:
            raise InputError(f"ADSL has no variable {v} ({nearest(v, names, 'variables')})", file=str(run.adam_dir))


def _adsl_row(run: RunFolder, usubjid: str) -> pd.Series | None:
    """The subject's ADSL record, for the values of the ADSL variables a BDS record's trace explains."""
    mine = run.subject_positions("adam", "ADSL", usubjid)
    return run.dataset("adam", "ADSL").iloc[mine[0]] if len(mine) else None


def trace_adam_records(run: RunFolder, dataset: str, records: pd.DataFrame, variables: list[str] | None = None,
                       start: str = "") -> Trace:
    """Trace the records of ADaM ``dataset`` that ``records`` names (see ``_adam_rows``) down to raw.
    ``variables``: the ADSL variables to explain (default: every ADSL variable for ADSL records, none
    for other datasets, whose source and start date are always explained)."""
    return trace_adam_datasets(run, {dataset: records}, variables, start or f"{dataset.upper()}: {len(records)} record(s)")


def trace_adam_datasets(run: RunFolder, wanted: dict[str, pd.DataFrame], variables: list[str] | None = None,
                        start: str = "") -> Trace:
    """``trace_adam_records`` over several datasets at once (dataset -> the records it names), in one
    Trace: ADSL.yaml's merged steps run once for every subject of every dataset (the subject pages of
    a report trace a batch of subjects' ADSL, ADTTE, ADRS and ADAE records together)."""
    frames = {name.upper(): _dataset(run, "adam", name) for name in wanted}
    _check_variables(run, variables)
    trace = Trace(str(run.shown_as), start)
    for spec in {run.adam_spec(name).get("_path") for name in ("ADSL", *frames)} - {None}:
        if run.spec_changed(spec):
            trace.stops.append(f"{spec} changed since the run (its SHA-256 differs from manifest.json's): the steps shown "
                               "are today's, not necessarily the run's")
    chosen = {}
    for (dataset, frame), records in zip(frames.items(), wanted.values()):
        chosen[dataset] = rows = _adam_rows(frame, records)
        if len(rows) < len(records):
            trace.stops.append(f"{len(records) - len(rows)} of the {len(records)} record(s) asked for are not in {dataset} of "
                               "the run: they are not traced")
    adsl = AdslSteps(run)
    subjects = sorted(set().union(*(set(rows["USUBJID"].astype(str)) for rows in chosen.values())))
    for dataset, rows in chosen.items():
        explained = variables
        if dataset == "ADSL" and variables is None:
            explained = [c for c in frames[dataset].columns if not c.startswith("_") and c not in ("STUDYID", "USUBJID")]
        for _, row in rows.iterrows():
            trace.adam.append(_adam_record(run, dataset, row, adsl, explained, subjects))
    _add_sdtm(run, trace, [ref for a in trace.adam for d in a.derivations for ref in d.sources])
    return trace


def _adam_record(run: RunFolder, dataset: str, row: pd.Series, adsl: AdslSteps, variables: list[str] | None,
                 subjects: list[str]) -> AdamRecord:
    """One ADaM record with its source, start date and ``variables`` (of ADSL) explained."""
    usubjid = str(row["USUBJID"])
    adsl_row = row if dataset == "ADSL" else _adsl_row(run, usubjid) if variables or row.get("SRCDOM") == "ADSL" else None
    shown = {v: plain(row[v], v) for v in SHOWN_ADAM if v in row.index}
    out = AdamRecord(dataset, int(row["_record"]), usubjid, plain(row.get("PARAMCD", "")), shown)
    if dataset != "ADSL":
        out.derivations += _source_derivations(run, dataset, row, adsl, adsl_row, subjects)
        out.derivations += _start_derivation(run, dataset, row, adsl, adsl_row, subjects)
    out.derivations += [adsl.explain(adsl_row, usubjid, v, subjects) for v in variables or []]
    return out


def _add_sdtm(run: RunFolder, trace: Trace, refs: list[SdtmRef], depth: int = 0) -> None:
    """Trace each SDTM record ``refs`` name, once, explaining the variables read from it; then the
    records a DM summary took its value from."""
    wanted: dict[tuple[str, int], set[str]] = {}
    for ref in refs:
        wanted.setdefault((ref.dataset, ref.record), set()).update({ref.variable} - {""})
    more = []
    for (dataset, record), variables in wanted.items():
        if f"{dataset}:{record}" in trace.sdtm:
            continue
        found = trace_sdtm_record(run, dataset, record, variables)
        trace.sdtm[found.id] = found
        more += found.sources
    if more and depth < SUMMARY_DEPTH:
        _add_sdtm(run, trace, more, depth + 1)


def trace_sdtm(run: RunFolder, domain: str, usubjid: str, seq: str) -> Trace:
    """One SDTM record (``--sdtm DOMAIN USUBJID SEQ``) down to the raw export, every variable explained."""
    domain = domain.upper()
    frame = _dataset(run, "sdtm", domain)
    mine = _subject(frame, usubjid, domain, run)
    seqvar = seq_variable(domain)
    # a dataset without --SEQ (DM: one record per subject) numbers the subject's records 1, 2...
    numbers = mine[seqvar].map(plain) if seqvar in frame else pd.Series(range(1, len(mine) + 1), index=mine.index).map(plain)
    chosen = mine[numbers == plain(pd.to_numeric(seq, errors="coerce"))]
    if chosen.empty:
        said = seqvar if seqvar in frame else f"record (no {seqvar}: the subject's records count 1, 2...)"
        raise InputError(f"{domain} has no record of {usubjid} with {said} {seq} (the subject's: {show_list(numbers)})",
                         file=str(run.sdtm_dir))
    trace = Trace(str(run.shown_as), f"SDTM {domain} {usubjid} {seqvar} {seq}")
    row = chosen.iloc[0]
    filled = {c for c in frame.columns if not c.startswith("_") and plain(row[c], c) != ""}
    record = trace_sdtm_record(run, domain, int(row["_record"]), filled)
    trace.sdtm[record.id] = record
    _add_sdtm(run, trace, record.sources, 1)
    return trace
