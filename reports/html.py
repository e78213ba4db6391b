"""The analysis report as one self-contained HTML page: the tables and figures of a ``Report``, with a
table of contents on screen and one output per page in print.

Self-contained means the page can be mailed, archived or opened offline years later and still show
the same thing: the CSS is inline, there is no script, no web font, and no URL to anything outside
the file (the only links are the table of contents' ``#id`` anchors and, when the trace pages were
written, each computed cell's relative link to its page under trace/, inside the report folder).

Figures are embedded as the SVG that ``save_figure`` wrote, base64-encoded in an ``<img>`` data URI,
rather than as the 300 dpi PNG or as inline ``<svg>`` markup:

* vector: sharp at any zoom and in print, and smaller than the 300 dpi PNG (which grows by a third
  more in base64); ``save_figure`` draws text as paths, so the SVG needs no font on the reader's side;
* isolated: an ``<img>`` SVG is its own document, so the ids matplotlib gives clip paths and glyphs
  (the same ids in every figure, since ``save_figure`` fixes the hash salt for reproducibility) cannot
  collide between figures, the page's CSS cannot restyle the figure, and a browser runs no script
  and fetches nothing from an image;
* nothing is marked ``|safe``: the data URI is an attribute value, escaped like any other text.

Every string of the report goes through jinja2 with autoescaping on: a cell holding
``<script>alert(1)</script>`` (an AE verbatim term can hold anything) shows as that text.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from pathlib import Path

from trialkit.errors import InputError
from trialkit.reports.table import Report, Table

TEMPLATES = Path(__file__).parent / "templates"

# Cells that say "no number here" and sit in numeric columns of TLFs; they do not count either way.
NO_VALUE = {"", "-", "\u2013", "\u2014", "na", "n/a", "ne", "nr", "not evaluable", "not estimable", "not reached",
            "not applicable", "not calculated", "reference"}
WORD = re.compile(r"[^\W\d_]{3,}")


def numeric_columns(table: Table) -> tuple[bool, ...]:
    """Per value column of ``table``: whether it holds numbers and is therefore right-aligned, so
    that digits line up. A cell counts as a number when it has a digit and no word of three
    letters or more ("49/54 (91%)", "0.38 (0.22-0.65)", "p < 0.001" do; "12 months", "Seizure" do
    not); blank and "no value" cells ("NE", "Not evaluable", "Reference") do not count; the column
    is numeric when its numbers outnumber its words. Inferred from the cells because ``Table``
    carries no alignment; the RTF writer uses the same answer, so both renderings agree."""
    body = [row.cells for row in table.rows if not row.header]
    flags = []
    for i in range(len(table.columns)):
        values = [cells[i].strip() for cells in body if cells[i].strip().lower() not in NO_VALUE]
        numbers = sum(1 for value in values if any(c.isdigit() for c in value) and not WORD.search(value))
        flags.append(numbers > len(values) - numbers)
    return tuple(flags)


def _svg_data_uri(path: Path) -> str:
    return f"data:image/svg+xml;base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def page_title(report: Report) -> str:
    """The page's title: the report title, with the study id in front unless it starts with it
    (the BALLR01 spec's title does: "BALLR01: BALLR01: ..." would read as a typo)."""
    if not report.study or report.title.startswith(report.study):
        return report.title or report.study
    return f"{report.study}: {report.title}" if report.title else report.study


def _check_ids(report: Report) -> None:
    """Table and figure ids are the page's anchors: a repeated id would make a TOC entry jump to
    the wrong output."""
    twice = sorted(k for k, n in Counter([t.id for t in report.tables] + [f.id for f in report.figures]).items() if n > 1)
    if twice:
        raise ValueError(f"report {report.title!r}: output ids used more than once: {', '.join(twice)}")


def render_html(report: Report, figure_dir: Path, links: dict[str, str] | None = None) -> str:
    """The page as a string; ``figure_dir`` holds the SVG files the ``FigureRef``s name. A missing
    figure file is an ``InputError`` naming it: a report with a hole where Figure 1A should be
    must not be written. ``links``: cell id -> the relative address of its trace page
    (trialkit.trace.report_pages), made a link around the cell's number."""
    from jinja2 import Environment, FileSystemLoader

    _check_ids(report)
    figures = []
    for ref in report.figures:
        svg = Path(figure_dir) / ref.svg
        if not svg.is_file():
            raise InputError(f"SVG of figure {ref.id!r} not found", file=str(svg))
        figures.append({"ref": ref, "src": _svg_data_uri(svg)})
    tables = [{"table": t, "numeric": numeric_columns(t)} for t in report.tables]
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2").render(report=report, title=page_title(report), tables=tables, figures=figures,
                                                     failed=[c for c in report.checks if not c.passed], links=links or {})


def write_html(report: Report, out: Path, figure_dir: Path, links: dict[str, str] | None = None) -> Path:
    """Write the report page to ``out`` (an .html file; its folder is created) and return ``out``."""
    out = Path(out)
    html = render_html(report, figure_dir, links)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
