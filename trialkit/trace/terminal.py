"""A trace on the terminal: a rich tree of the ADaM records, then one of the SDTM records they read,
each down to its raw records and fields, then every sentence saying where the chain stops.

The SDTM records are listed once, after the ADaM records that name them (``from SDTM DS record 2``):
one subject's ADSL reads its DM record for twenty variables, and a tree repeating it twenty times
would hide the chain rather than show it. Every label is a ``Text``, never markup: a raw value such
as ``[M2]`` is shown as the export holds it.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from trialkit.display import MISSING
from trialkit.trace.model import AdamRecord, RawField, SdtmRecord, Trace


def quoted(value: str | None) -> str:
    """A raw or SDTM value as a message quotes it: 'text', missing, or 'not read'."""
    if value is None:
        return "not read"
    return f"'{value}'" if value != "" else MISSING


def adam_label(record: AdamRecord) -> str:
    values = " · ".join(f"{k} {v}" for k, v in record.values.items() if v != "" and k != "PARAMCD")
    return f"{record.dataset} record {record.record} · USUBJID {record.usubjid}" + (f" · PARAMCD {record.paramcd}" if record.paramcd else "") \
        + (f" · {values}" if values else "")


def sdtm_label(record: SdtmRecord) -> str:
    seq = f" · {record.dataset}SEQ {record.seq}" if record.seq else ""
    return f"SDTM {record.dataset} record {record.record}" + (f" · USUBJID {record.usubjid}" if record.usubjid else "") + seq


def field_label(f: RawField) -> str:
    raw = ", ".join(f"{name} {quoted(value)}" for name, value in f.raw.items())
    return f"{f.variable} {quoted(f.value)}" + (f" ← {raw}" if raw else "") + f" [{f.algorithm}; {f.spec_key}]"


def adam_tree(record: AdamRecord) -> Tree:
    tree = Tree(Text(adam_label(record), style="bold"))
    for d in record.derivations:
        branch = tree.add(Text(f"{d.variable} {quoted(d.value)}"))
        for step in d.steps:
            branch.add(Text(step, style="dim"))
        for dataset, number, variables in d.records_read():
            branch.add(Text(f"from SDTM {dataset} record {number}" + (f" ({', '.join(variables)})" if variables else ""), style="cyan"))
        for stop in d.stops:
            branch.add(Text(f"stops: {stop}", style="yellow"))
    for stop in record.stops:
        tree.add(Text(f"stops: {stop}", style="yellow"))
    return tree


def sdtm_tree(record: SdtmRecord) -> Tree:
    tree = Tree(Text(sdtm_label(record), style="bold cyan"))
    for raw in record.raw:
        branch = tree.add(Text(f"raw {raw.label}" + (f" (form {raw.form})" if raw.file.rsplit(".", 1)[0] != raw.form else "")))
        for f in raw.fields:
            branch.add(Text(field_label(f)))
    for f in record.derived:
        tree.add(Text(field_label(f)))
    for ref in record.sources:
        tree.add(Text(f"from SDTM {ref.dataset} record {ref.record} ({ref.variable})", style="cyan"))
    for stop in record.stops:
        tree.add(Text(f"stops: {stop}", style="yellow"))
    return tree


def print_trace(trace: Trace, console: Console) -> None:
    for record in trace.adam:
        console.print(adam_tree(record))
    for record in trace.sdtm.values():
        console.print(sdtm_tree(record))
    stops = trace.all_stops()
    console.print(Text(f"the chain reaches the raw export everywhere ({len(trace.adam)} ADaM and {len(trace.sdtm)} SDTM record(s))"
                       if not stops else "where the chain stops:", style="bold"))
    for stop in stops:
        console.print(Text(f"  - {stop}", style="yellow"))
