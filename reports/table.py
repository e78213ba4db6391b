"""A renderer-agnostic table: what the table builders produce and the HTML and RTF writers consume.

Every cell is already formatted text (HR to 2 decimals, "p < 0.001", "49/54 (91%)"): numbers are
formatted once, by the builder that knows the shell's rules, so the HTML page and the RTF file can
never show the same estimate two ways.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trialkit.reports.cells import Source


@dataclass(frozen=True)
class Row:
    label: str
    cells: tuple[str, ...] = ()
    indent: int = 0          # 0 = top level, 1 = a level under a group header
    header: bool = False     # a group header row (label only, spans the table)
    cell_ids: tuple[str, ...] = ()              # the stable id of each cell (reports.cells), in report.json
    sources: tuple[Source | None, ...] = ()     # what each cell was computed from (None: a fixed text such
                                                # as "Reference"); written to ars.json, not report.json


@dataclass(frozen=True)
class Table:
    id: str                                  # file stem and HTML anchor, e.g. "table1"
    title: str                               # "Table 1. Outcomes by baseline MRD"
    columns: tuple[str, ...]                 # header of every column after the row label column
    rows: tuple[Row, ...]
    stub: str = ""                           # header of the row label column
    spanners: tuple[tuple[str, int], ...] = ()   # optional header row above ``columns``: (text, columns spanned)
    footnotes: tuple[str, ...] = ()          # populations, methods, data cut-off
    source: str = ""                         # the spec and program that produced the table
    population: str = ""                     # e.g. "Full analysis set (intention to treat), N = 111"
    column_keys: tuple[str, ...] = ()        # the column part of the cell ids (reports.cells), e.g. "blinatumomab/n"

    def __post_init__(self):
        width = len(self.columns)
        bad = [r.label for r in self.rows if not r.header and len(r.cells) != width]
        if bad:
            raise ValueError(f"{self.id}: rows {bad[:3]} do not have {width} cells")
        unsourced = [r.label for r in self.rows if r.sources and len(r.sources) != len(r.cells)]
        if unsourced:
            raise ValueError(f"{self.id}: rows {unsourced[:3]} do not have a source for each cell")
        if self.spanners and sum(n for _, n in self.spanners) != width:
            raise ValueError(f"{self.id}: spanners cover {sum(n for _, n in self.spanners)} of {width} columns")


@dataclass(frozen=True)
class FigureRef:
    id: str                                  # "figure1a"
    title: str
    png: str                                 # file name of the 300 dpi PNG next to the report
    svg: str
    footnotes: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class CheckResult:
    """One consistency check of the report (reports.consistency): two outputs' counts that must agree."""
    check: str          # what must agree, as the spec words it
    passed: bool
    detail: str         # the counts compared and, on a failure, the subjects that differ

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


@dataclass(frozen=True)
class Report:
    study: str
    title: str
    cutoff: str                              # data cut-off date, ISO 8601
    tables: tuple[Table, ...] = ()
    figures: tuple[FigureRef, ...] = ()
    generated_by: str = ""                   # "trialkit 0.1.0"
    notes: tuple[str, ...] = field(default_factory=tuple)
    banner: tuple[str, ...] = ()             # shown on every page: why the numbers may be wrong (run --force)
    checks: tuple[CheckResult, ...] = ()     # the consistency checks, passed or not

    @property
    def alerts(self) -> tuple[str, ...]:
        """What every page must say before its numbers: the banner, then each failed consistency check."""
        return (*self.banner, *(f"Inconsistent report: {c}" for c in self.checks if not c.passed))
