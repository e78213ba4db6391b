"""One RTF file per table, for the submission package (rtflite, the Python port of r2rtf).

The layout is the usual TLF page: landscape, "Page x of y" at the top right, the title and the
population line centred above the table, horizontal rules only (above and below the column headers
and under the last row, a short rule under each spanner), value columns right-aligned where they
hold numbers (the same choice as the HTML page, ``html.numeric_columns``), group header rows bold,
indented rows indented, then the footnotes and the "Source:" line.

Text is escaped here, not by rtflite, because rtflite (checked in 2.6) does not escape it:

* ``{``, ``}`` and ``\\`` go into the file as they are, so a cell with a brace would break the
  RTF group structure;
* with its ``text_convert`` on (the default for titles, headers, body and footnotes) it also reads
  ``_`` and ``^`` as sub- and superscript, ``>=`` as a symbol and ``\\alpha`` as LaTeX, so
  "ALT_INCREASED" or a verbatim AE term would silently change;
* characters 128-255 ("µ", "±" aside) are written raw, as UTF-8 bytes into a file that declares
  ``\\ansi``, which Word shows as "Âµ".

So every text goes through ``rtf_escape`` (RTF's own escapes; every non-ASCII character as
``\\uN?``, UTF-16 code units, "?" the fallback for readers without Unicode), rtflite's conversion is
switched off everywhere, and the file is written as ASCII: a non-ASCII byte in it would be a bug
and fails loudly instead of becoming mojibake.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import rtflite as rtf

from trialkit.reports.html import numeric_columns
from trialkit.reports.table import Table

INDENT_TWIPS = 240                 # one indent level: 1/6 inch (1440 twips = 1 inch)
MIN_WIDTH, MAX_WIDTH = 6, 40       # relative column widths, in characters of the longest text
HEADER_WRAP = 14                   # a column header longer than this may wrap (at word breaks)
FONT_SIZE = 9                      # points, everything but the title (rtflite's default size)
# "Page x of y" as Word fields, each with its size inside: rtflite's default ("Page \chpgn of ...")
# loses the space after the page number and LibreOffice draws the field results at 12 pt.
PAGE_OF = (r"Page {\field{\*\fldinst {\fs18 PAGE }}{\fldrslt {\fs18 1}}} of "     # \fs18: FONT_SIZE in half points
           r"{\field{\*\fldinst {\fs18 NUMPAGES }}{\fldrslt {\fs18 1}}}")
PLAIN_ESCAPES = {"\\": "\\\\", "{": "\\{", "}": "\\}", "\n": "\\line ", "\t": "\\tab "}


def rtf_escape(text: str) -> str:
    """``text`` as RTF: ``\\``, ``{`` and ``}`` escaped, line breaks as ``\\line``, every character
    outside printable ASCII as ``\\uN?`` (N the signed 16-bit UTF-16 code unit, two of them for a
    character beyond U+FFFF), e.g. "≥ 5 µg" -> ``\\u8805? 5 \\u181?g``."""
    out = []
    for char in text:
        if char in PLAIN_ESCAPES:
            out.append(PLAIN_ESCAPES[char])
        elif " " <= char <= "~":
            out.append(char)
        else:
            units = char.encode("utf-16-le")
            for i in range(0, len(units), 2):
                unit = int.from_bytes(units[i:i + 2], "little")
                out.append(f"\\u{unit - 65536 if unit > 32767 else unit}?")
    return "".join(out)


def _widths(table: Table) -> list[float]:
    """Relative column widths: each column as wide as its longest cell or its header (a header
    longer than HEADER_WRAP may wrap, down to its longest word), within [MIN_WIDTH, MAX_WIDTH] so
    that a long label wraps rather than squeezing the numbers."""
    def fit(n: int) -> float:
        return float(min(max(n, MIN_WIDTH), MAX_WIDTH))

    def header(text: str) -> int:
        return max([min(len(text), HEADER_WRAP)] + [len(word) for word in text.split()])

    stub = max([header(table.stub)] + [len(r.label) + 3 * r.indent for r in table.rows])
    values = [max([header(column)] + [len(r.cells[i]) for r in table.rows if not r.header])
              for i, column in enumerate(table.columns)]
    return [fit(stub)] + [fit(n) for n in values]


def _page() -> rtf.RTFPage:
    """Landscape with rtflite's margins, the table as wide as the text area (so that footnotes and
    source, which are paragraphs, line up with it), single rules above and below the table."""
    default = rtf.RTFPage(orientation="landscape")
    return rtf.RTFPage(orientation="landscape", border_first="single", border_last="single",
                       col_width=default.width - default.margin[0] - default.margin[1])


def _headers(table: Table, widths: list[float], justify: list[str]) -> list[rtf.RTFColumnHeader]:
    """The spanner row (when the table has one: a blank cell over the stub, each spanner over its
    columns, ruled underneath unless blank) and the column header row."""
    headers = []
    if table.spanners:
        spans, at = [widths[0]], 1
        for _, n in table.spanners:
            spans.append(sum(widths[at:at + n]))
            at += n
        headers.append(rtf.RTFColumnHeader(
            text=[""] + [rtf_escape(text) for text, _ in table.spanners], col_rel_width=spans,
            border_left=[""], border_right=[""], border_top=[""],
            border_bottom=[""] + ["single" if text else "" for text, _ in table.spanners],
            text_justification=["l"] + ["c"] * len(table.spanners), text_format=["b"], text_convert=[False]))
    headers.append(rtf.RTFColumnHeader(
        text=[rtf_escape(table.stub)] + [rtf_escape(c) for c in table.columns], col_rel_width=widths,
        border_left=[""], border_right=[""], border_top=[""], border_bottom=["single"],
        text_justification=justify, text_format=["b"], text_convert=[False]))
    return headers


def table_document(table: Table, alerts: tuple[str, ...] = ()) -> rtf.RTFDocument:
    """The rtflite document of ``table``: the rows as a polars frame of escaped text (column "stub"
    for the labels, "c1".."cN" for the cells; a group header row has blank cells), and per cell the
    attributes rtflite takes as row x column matrices: bold group headers, left indent by level.
    ``alerts`` (the report's banner and failed consistency checks) are the first title lines, bold,
    so a table printed or mailed alone still says that its numbers are in question."""
    if not table.rows:
        raise ValueError(f"{table.id}: a table without rows cannot be written (give it a row such as 'No events')")
    names = ["stub"] + [f"c{i + 1}" for i in range(len(table.columns))]
    blank = [""] * len(table.columns)
    frame = pl.DataFrame([[rtf_escape(r.label)] + (blank if r.header else [rtf_escape(c) for c in r.cells]) for r in table.rows],
                         schema={name: pl.String for name in names}, orient="row")
    widths = _widths(table)
    justify = ["l"] + ["r" if numeric else "l" for numeric in numeric_columns(table)]
    body = rtf.RTFBody(
        col_rel_width=widths,
        text_justification=[justify] * len(table.rows),
        text_format=[["b" if r.header else ""] + [""] * len(table.columns) for r in table.rows],
        text_indent_left=[[INDENT_TWIPS * r.indent] + [0] * len(table.columns) for r in table.rows],
        border_left=[[""]], border_right=[[""]], border_top=[[""]], border_bottom=[[""]],
        border_first=[[""]], border_last=[["single"]],
        text_convert=[[False]])
    notes = {"text_justification": [["l"]], "text_convert": [[False]], "as_table": False}
    title = [*alerts, table.title] + ([table.population] if table.population else [])
    return rtf.RTFDocument(
        df=frame,
        rtf_page=_page(),
        rtf_page_header=rtf.RTFPageHeader(text=PAGE_OF, text_font_size=[FONT_SIZE]),
        rtf_title=rtf.RTFTitle(text=[rtf_escape(line) for line in title], text_format=["b"] * (len(alerts) + 1) + [""],
                               text_convert=[False]),
        rtf_column_header=_headers(table, widths, justify),
        rtf_body=body,
        rtf_footnote=rtf.RTFFootnote(text=[rtf_escape(f) for f in table.footnotes], **notes) if table.footnotes else None,
        rtf_source=rtf.RTFSource(text=[f"Source: {rtf_escape(table.source)}"], **notes) if table.source else None,
    )


def write_rtf(table: Table, out: Path, alerts: tuple[str, ...] = ()) -> Path:
    """Write ``table`` to ``out``/<table.id>.rtf (``out`` is a folder, created if needed; one file
    per table, named by the id the HTML page uses as its anchor) and return the file's path."""
    path = Path(out) / f"{table.id}.rtf"
    text = table_document(table, alerts).rtf_encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("ascii"))
    return path
