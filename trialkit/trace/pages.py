"""Static trace pages: one self-contained HTML page per traced entry (e.g. per report cell), under
``report/trace/`` of the run.

A page lists its subjects; under each, the ADaM records traced with how each value was derived, then
the SDTM records they read, each with its raw records and, per variable, the raw field, raw value,
algorithm and spec key. Links are ``#`` anchors inside the page only, the CSS is inline, there is no
script and no URL outside the file: like report.html (trialkit.reports.html), the page can be mailed
or archived and still show the same thing. Every value goes through jinja2 with autoescaping on (a
raw AE term can hold anything). Each page is written whole or not at all
(trialkit.atomic_output.output_file).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import pandas as pd

from trialkit.atomic_output import output_file
from trialkit.trace.model import Trace
from trialkit.trace.run_folder import RunFolder

TEMPLATES = Path(__file__).parent / "templates"
TRACE_FOLDER = Path("trace")             # inside the run's report/ folder


def page_name(entry_id: str) -> str:
    """A file name for an entry id ('table1/r3c2' -> 'table1_r3c2.html'): letters, digits, . _ - only."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(entry_id)).strip("._") + ".html"


def _subjects(trace: Trace) -> list[dict]:
    """The page's sections: each subject with its ADaM and SDTM records; trial-level records last."""
    order = list(dict.fromkeys([a.usubjid for a in trace.adam] + [r.usubjid for r in trace.sdtm.values()]))
    order = [u for u in order if u] + ([""] if "" in order else [])
    return [{"usubjid": u, "anchor": f"subject-{k + 1}", "adam": [a for a in trace.adam if a.usubjid == u],
             "sdtm": [r for r in trace.sdtm.values() if r.usubjid == u]} for k, u in enumerate(order)]


@cache
def environment():
    """The templates of the trace pages (this one and trialkit.trace.report_pages'), autoescaping on."""
    from jinja2 import Environment, FileSystemLoader

    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True)


def render_trace_page(trace: Trace, home: str = "") -> str:
    """The page of ``trace``; ``home``: a relative link to the report it is part of, if any."""
    return environment().get_template("trace.html.j2").render(trace=trace, subjects=_subjects(trace), stops=trace.all_stops(),
                                                              home=home)


def write_trace_pages(run: RunFolder | Path, entries: Mapping[str, Trace | tuple[str, pd.DataFrame]],
                      variables: list[str] | None = None) -> dict[str, str]:
    """Write one page per entry under ``<run>/report/trace/`` and return {entry id: its path relative
    to report/, e.g. 'trace/table1_r3c2.html'}, the link a report cell gets. An entry is a ``Trace``
    or, as a report cell lists what it counted, (ADaM dataset name, frame of its records: USUBJID,
    PARAMCD for BDS, or ``record``), traced here (trialkit.trace.chain.trace_adam_records, with
    ``variables``)."""
    from trialkit.trace.chain import trace_adam_records

    run = run if isinstance(run, RunFolder) else RunFolder(run)
    folder = run.path / "report" / TRACE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for entry_id, entry in entries.items():
        trace = entry if isinstance(entry, Trace) else trace_adam_records(run, entry[0], entry[1], variables, f"{entry_id}")
        name = page_name(entry_id)
        with output_file(folder / name) as tmp:
            tmp.write_text(render_trace_page(trace), encoding="utf-8")
        written[entry_id] = str(TRACE_FOLDER / name)
    return written
