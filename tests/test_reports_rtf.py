"""Tests of trialkit.reports.rtf: one RTF file per table, written with rtflite.

The RTF is read back with a small decoder written here (``\\uN?`` escapes, ``\\{``, ``\\}``,
``\\\\``), independent of ``rtf_escape``, so that a text is checked as a reader shows it, not as
the writer encoded it. Rows are read from the table rows of the file (``\\trowd`` ... ``\\row``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from report_samples import TABLE1

from trialkit.reports.rtf import rtf_escape, table_document, write_rtf
from trialkit.reports.table import Row, Table

# Texts that rtflite would mangle on its own: braces, backslashes, its LaTeX and sub/superscript
# conversions (\alpha, _, ^, >=), characters 128-255 and beyond the BMP.
TRICKY = ("{braces} \\ back\\slash {", "ALT_INCREASED x^2 >= 3 \\alpha", "5 \u00b5g \u00b1 1 \u2265 \u00e9", "\U0001d6fc-blocker")
TABLE2 = Table(
    id="table2",
    title="Table 2. Verbatim terms {\u2265 grade 3}",
    columns=("Verbatim term", "n"),
    rows=tuple(Row(f"Term {i}", (term, str(i))) for i, term in enumerate(TRICKY)),
    footnotes=("\u00b5 = micro; \\ and {} are literal.",),
    source="tlf.yaml#table2",
)


RTF_TOKEN = re.compile(r"\\u(-?\d+)\?|\\([\\{}])|\\(line|tab)\b ?|\\[a-z]+-?\d* ?|\\[^a-z]|[{}\r\n]|(.)", flags=re.DOTALL)


def decode(rtf: str) -> str:
    """RTF text as a reader shows it: ``\\uN?`` (UTF-16 code units, surrogate pairs joined) to
    characters, ``\\{`` ``\\}`` ``\\\\`` to the character, ``\\line`` and ``\\tab`` to a newline and a
    tab; every other control word, unescaped brace and raw line break is dropped, as a reader
    drops them, so that an unescaped "{x}" or "\\slash" in the file does not read back as text."""
    units = bytearray()
    for code, symbol, word, char in RTF_TOKEN.findall(rtf):
        piece = chr(int(code) % 65536) if code else symbol or {"line": "\n", "tab": "\t"}.get(word, char)
        units += piece.encode("utf-16-le", "surrogatepass")
    return units.decode("utf-16-le")


def raw_rows(rtf: str) -> list[str]:
    """The RTF of every table row in the file, ``\\trowd`` to ``\\row``."""
    return re.findall(r"\\trowd(.*?)\\intbl\\row", rtf, flags=re.DOTALL)


def table_rows(rtf: str) -> list[list[str]]:
    """The cells of every table row in the file, decoded: ``{\\f0<format> text}\\cell`` in order."""
    cell = re.compile(r"\{\\f\d+(?:\\[a-z]+)* (.*?)\}\\cell", flags=re.DOTALL)
    return [[decode(text) for text in cell.findall(row)] for row in raw_rows(rtf)]


def cell_edges(rtf: str) -> list[list[int]]:
    """The right edges (\\cellx, twips) of the cells of every table row."""
    return [[int(x) for x in re.findall(r"\\cellx(\d+)", row)] for row in raw_rows(rtf)]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("rtf") / "tables"
    paths = [write_rtf(table, out) for table in (TABLE1, TABLE2)]
    return out, {path.stem: path.read_bytes() for path in paths}, paths


# --- escaping ---------------------------------------------------------------------------------------

def test_01_rtf_escape_by_hand():
    """Test 1: RTF's own escapes, \\line for a newline, \\uN? for anything outside printable ASCII
    (negative above U+7FFF, a surrogate pair beyond U+FFFF); printable ASCII as it is."""
    assert rtf_escape("a{b}c\\d") == "a\\{b\\}c\\\\d"
    assert rtf_escape("\u2265 5 \u00b5g") == "\\u8805? 5 \\u181?g"
    assert rtf_escape("x\ny\tz") == "x\\line y\\tab z"
    assert rtf_escape("\uff01") == "\\u-255?"
    assert rtf_escape("\U0001d6fc") == "\\u-10187?\\u-8452?"
    assert rtf_escape("p < 0.001 (95% CI) _^~") == "p < 0.001 (95% CI) _^~"


@pytest.mark.parametrize("text", [*TRICKY, "tab\tand\nnewline", "\x01control"])
def test_02_decode_undoes_rtf_escape(text):
    """Test 2: the test's decoder reads back what rtf_escape wrote, so the checks below compare
    texts as a reader sees them; unescaped, the same text would not survive it."""
    assert decode(rtf_escape(text)) == text
    if any(c in text for c in "{}\\"):
        assert decode(text) != text


# --- the files --------------------------------------------------------------------------------------

def test_03_one_ascii_rtf_file_per_table(written):
    """Test 3: <out>/<id>.rtf for each table and nothing else, each an RTF document ("{\\rtf1"),
    7-bit ASCII, with balanced groups (unescaped braces never close more than they opened)."""
    out, files, paths = written
    assert sorted(p.name for p in out.iterdir()) == ["table1.rtf", "table2.rtf"]
    assert paths == [out / "table1.rtf", out / "table2.rtf"]
    for data in files.values():
        assert data.startswith(b"{\\rtf1")
        assert max(data) < 128
        depth = 0
        for brace in re.sub(rb"\\[\\{}]", b"", data):
            depth += {ord("{"): 1, ord("}"): -1}.get(brace, 0)
            assert depth >= 0
        assert depth == 0


@pytest.mark.parametrize("table", [TABLE1, TABLE2], ids=["table1", "table2"])
def test_04_title_headers_rows_footnotes_and_source(written, table):
    """Test 4: the title and population, the spanner row (a blank cell over the stub, then each
    spanner), the column headers, then every row in order (a group header's cells blank), then
    the footnotes and "Source: ..." after the table, all decoded back to the Table's text."""
    _, files, _ = written
    rtf = files[table.id].decode("ascii")
    rows = table_rows(rtf)
    expected = [[table.stub, *table.columns]]
    if table.spanners:
        expected.insert(0, ["", *(text for text, _ in table.spanners)])
    expected += [[r.label] + ([""] * len(table.columns) if r.header else list(r.cells)) for r in table.rows]
    assert rows == expected
    head, tail = decode(rtf[:rtf.index("\\trowd")]), decode(rtf[rtf.rindex("\\intbl\\row"):])
    assert head.index(table.title) < (head.index(table.population) if table.population else len(head))
    at = [tail.index(note) for note in table.footnotes] + [tail.index(f"Source: {table.source}")]
    assert at == sorted(at)


def test_05_special_characters_survive(written):
    """Test 5: braces, backslashes, "_", "^", ">=", "\\alpha", "µ", "±", "≥", "é" and a character
    beyond the BMP come out as written, in the body, the title and the footnotes: rtflite's own
    conversion is off. In the raw file they are escapes (≥ is \\u8805?), never raw bytes."""
    _, files, _ = written
    rtf = files["table2"].decode("ascii")
    cells = [row[1] for row in table_rows(rtf)[1:]]
    assert cells == list(TRICKY)
    text = decode(rtf)
    assert TABLE2.title in text and TABLE2.footnotes[0] in text
    assert "\\u8805?" in rtf and "\\u181?" in rtf
    assert "\\super" not in rtf and "\\sub " not in rtf and "\\geq" not in rtf


def test_06_layout_landscape_bold_groups_indents_alignment(written):
    """Test 6: landscape paper; the group header label bold; indented rows indented (\\li) and the
    others not; value columns of numbers right-aligned (\\qr), the verbatim term column left."""
    _, files, _ = written
    rtf1 = files["table1"].decode("ascii")
    assert "\\landscape" in rtf1
    width, height = (int(re.search(rf"\\paper{k}(\d+)", rtf1).group(1)) for k in "wh")
    assert width > height
    for row, source in zip(raw_rows(rtf1)[2:], TABLE1.rows, strict=True):
        first = re.search(r"\\pard(.*?)\\cell", row, flags=re.DOTALL).group(1)
        assert ("{\\f0\\b " in first) == source.header
        assert re.search(r"\\li(\d+)", first).group(1) == str(240 * source.indent)
        if not source.header:
            assert re.findall(r"\\(q[lrc])\\fs", row) == ["ql", "qr", "qr", "qr", "qr"]
    verbatim = raw_rows(files["table2"].decode("ascii"))[1]
    assert re.findall(r"\\(q[lrc])\\fs", verbatim) == ["ql", "ql", "qr"]


def test_07_spanners_cover_their_columns(written):
    """Test 7: the spanner row's cell edges fall on the column row's edges at the end of each
    spanner (and of the stub), so each spanner sits exactly over its columns."""
    _, files, _ = written
    spanner, columns, *_ = cell_edges(files["table1"].decode("ascii"))
    ends = [0]
    for _, n in TABLE1.spanners:
        ends.append(ends[-1] + n)
    assert spanner == [columns[i] for i in ends]


def test_08_long_table_repeats_title_and_headers(tmp_path):
    """Test 8: a table longer than a page breaks into pages, each with the title and the column
    headers; the footnotes and the source come once, after the last row."""
    table = Table("long", "Table 9. Long", ("A",), tuple(Row(f"row {i}", (str(i),)) for i in range(80)),
                  stub="Stub", footnotes=("Footnote.",), source="here")
    rtf = write_rtf(table, tmp_path).read_text(encoding="ascii")
    pages = rtf.count("\\page") + 1
    assert pages > 1
    assert rtf.count("Table 9. Long") == pages
    assert sum(row == ["Stub", "A"] for row in table_rows(rtf)) == pages
    assert [row[0] for row in table_rows(rtf) if row != ["Stub", "A"]] == [f"row {i}" for i in range(80)]
    assert rtf.count("Footnote.") == 1
    assert rtf.rindex("Footnote.") > rtf.rindex("row 79")


def test_09_table_without_rows_is_refused(tmp_path):
    """Test 9: an empty table is an error naming it, and no file is written."""
    with pytest.raises(ValueError, match="empty: a table without rows"):
        table_document(Table("empty", "Table 0", ("A",), ()))
    with pytest.raises(ValueError, match="empty: a table without rows"):
        write_rtf(Table("empty", "Table 0", ("A",), ()), tmp_path)
    assert not (Path(tmp_path) / "empty.rtf").exists()


def test_10_alerts_are_the_first_title_lines_of_every_page(tmp_path):
    """Test 10: the report's banner and failed checks open the title block, bold, before the
    table's title, on every page of a long table (rtflite repeats the title block per page)."""
    alerts = ("SDTM: 3 errors, e.g. dm.csv row 4 column SEX; see sdtm/findings.json",
              "Inconsistent report: deaths {14} vs OS events {13}")
    table = Table("long", "Table 9. Long", ("A",), tuple(Row(f"row {i}", (str(i),)) for i in range(80)), stub="Stub")
    rtf = write_rtf(table, tmp_path, alerts=alerts).read_text(encoding="ascii")
    pages = rtf.count("\\page") + 1
    text = decode(rtf)
    assert pages > 1 and all(text.count(line) == pages for line in alerts)
    head = rtf[:rtf.index("\\trowd")]
    assert decode(head).index(alerts[0]) < decode(head).index(alerts[1]) < decode(head).index("Table 9. Long")
    assert re.search(r"\\b[^a-z].{0,40}SDTM: 3 errors", head)
    plain = write_rtf(table, tmp_path / "plain").read_text(encoding="ascii")
    assert "SDTM" not in plain
