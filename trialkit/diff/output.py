"""What ``trialkit diff`` prints and writes: a terminal summary, every difference as JSON, one HTML page.

The JSON holds everything (every record added, removed or changed with each changed variable's old
and new value, rows 1-based as a reader counts them); the terminal and the page show the counts
per dataset, the duplicate-key findings, the subjects behind ADSL / ADTTE changes and the report
cells that moved, and the page lists up to ``PAGE_RECORDS`` records per dataset (the rest are in the
JSON). The page is self-contained (no CDN, inline style) and every value is escaped (jinja2
autoescape): a value from the data is text, never markup.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from trialkit.diff.folders import KINDS, DiffResult
from trialkit.diff.records import NEW, OLD, DatasetDiff

TEMPLATES = Path(__file__).parent / "templates"
PAGE_RECORDS = 500
SHOWN = 10     # subjects and cells on the terminal


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    """Records of ``frame`` with the row positions 1-based (``old_row`` / ``new_row``)."""
    out = frame[[c for c in columns if c in frame.columns]].rename(columns={OLD: "old_row", NEW: "new_row"})
    for column in ("old_row", "new_row"):
        if column in out.columns:
            out[column] = pd.to_numeric(out[column], errors="coerce") + 1
    return json.loads(out.to_json(orient="records"))


def dataset_summary(section: str, diff: DatasetDiff) -> dict:
    return {"section": section, "dataset": diff.name, "keys": diff.keys, "old_records": diff.old_records,
            "new_records": diff.new_records, "added": len(diff.added), "removed": len(diff.removed),
            "changed": diff.changed, "variables_added": diff.variables_added, "variables_removed": diff.variables_removed}


def to_json(result: DiffResult) -> dict:
    """Every difference, machine-readable (the schema is documented in the README)."""
    datasets = []
    for section, diffs in result.sections.items():
        for diff in diffs:
            datasets.append({**dataset_summary(section, diff), "ignored": diff.ignored,
                             "added_records": _rows(diff.added, [*diff.keys, NEW]),
                             "removed_records": _rows(diff.removed, [*diff.keys, OLD]),
                             "changes": _rows(diff.changes, [*diff.keys, OLD, NEW, "variable", "old", "new"])})
    return {"kind": result.kind, "old": str(result.old), "new": str(result.new), "study": result.study,
            "studyid": result.studyid, "differs": result.differs,
            "summary": [dataset_summary(s, d) for s, diffs in result.sections.items() for d in diffs],
            "duplicates": result.duplicates, "reading": result.reading, "subjects": result.subjects, "report": result.report, "datasets": datasets}


def write_json(result: DiffResult, path: Path) -> Path:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(to_json(result), indent=1) + "\n", encoding="utf-8")
    return Path(path)


def write_html(result: DiffResult, path: Path) -> Path:
    from jinja2 import Environment, FileSystemLoader

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    sections = []
    for section, diffs in result.sections.items():
        moved = [d for d in diffs if d.differs]
        sections.append({"name": section, "datasets": [
            {**dataset_summary(section, d),
             "records": d.records().head(PAGE_RECORDS).drop(columns=[OLD, NEW]).to_dict("records"),
             "more": max(0, len(d.added) + len(d.removed) + d.changed - PAGE_RECORDS)} for d in moved]})
    page = env.get_template("diff.html.j2").render(
        result=result, kind=KINDS[result.kind], summary=[dataset_summary(s, d) for s, ds in result.sections.items() for d in ds],
        sections=sections, page_records=PAGE_RECORDS)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(page, encoding="utf-8")
    return Path(path)


def print_summary(result: DiffResult, console) -> None:
    """The terminal summary: a table of counts per dataset, then findings, subjects and report cells."""
    from rich.table import Table

    console.print(f"trialkit diff: two {KINDS[result.kind]}s of {result.studyid or 'unknown study'}: "
                  f"{result.old} -> {result.new}", markup=False)
    table = Table(show_edge=False)
    for column in ("dataset", "records old", "records new", "added", "removed", "changed", "variables"):
        table.add_column(column, justify="left" if column in ("dataset", "variables") else "right")
    same = 0
    for section, diffs in result.sections.items():
        same += sum(not d.differs for d in diffs)
        for d in (d for d in diffs if d.differs):
            variables = ", ".join([*(f"+{v}" for v in d.variables_added), *(f"-{v}" for v in d.variables_removed)])
            name = f"{section}/{d.name}" if len(result.sections) > 1 else d.name
            table.add_row(name, "-" if d.old_records is None else str(d.old_records),
                          "-" if d.new_records is None else str(d.new_records),
                          str(len(d.added)), str(len(d.removed)), str(d.changed), variables)
    if same < sum(len(diffs) for diffs in result.sections.values()):
        console.print(table)
    console.print(f"{same} dataset(s) unchanged", markup=False)
    for note in result.reading:
        console.print(f"{note['side']}: {note['finding']}", markup=False)
    for dup in result.duplicates[:SHOWN]:
        keys = ", ".join(f"{k}={v}" for k, v in dup["keys"].items())
        console.print(f"finding: {dup['dataset']} ({dup['side']}): duplicate natural keys {keys} in records "
                      f"{', '.join(map(str, dup['rows']))}; paired with the other transfer's by content, then in file order", markup=False)
    if len(result.duplicates) > SHOWN:
        console.print(f"and {len(result.duplicates) - SHOWN} more duplicate keys (all in --json)")
    for item in result.subjects[:SHOWN]:
        analysis = "; ".join(" ".join(filter(None, (a["dataset"], a["record"], a["change"]))) for a in item["analysis"])
        sources = item["sdtm_sources"] or item["sdtm_other"]
        why = "; ".join(" ".join(filter(None, (s["dataset"], s["record"], s["change"]))) + (f": {s['detail']}" if s["detail"] else "")
                        + (f" ({s['raw']})" if s.get("raw") else "")
                        for s in sources[:3]) or ("SDTM not compared" if result.kind == "adam" else "no SDTM change")
        console.print(f"subject {item['subject']}: {analysis} <- {why}", markup=False)
    if len(result.subjects) > SHOWN:
        console.print(f"and {len(result.subjects) - SHOWN} more subjects (all in --json)")
    for table_diff in result.report:
        for cell in table_diff["cells"][:SHOWN]:
            console.print(f"report {table_diff['table']} | {cell['row']} | {cell['column']}: "
                          f"{cell['old'] or '(none)'} -> {cell['new'] or '(none)'}", markup=False)
        subjects = table_diff["subjects"]
        console.print(f"  moved by {len(subjects)} subject(s) with changed {', '.join(table_diff['datasets'])} records: "
                      f"{', '.join(subjects[:SHOWN])}{' ...' if len(subjects) > SHOWN else ''}", markup=False)
    console.print("differences found" if result.differs else "no differences", markup=False)
