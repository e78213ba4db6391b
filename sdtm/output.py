"""Write an SDTM run: one XPT v5 per dataset (checked first, as xportr does), the row ledger and
the findings as JSON.

Types follow the SDTMIG metadata: Num variables are written as numbers, Char variables as text
(numbers mapped into a Char variable, e.g. a blast percentage into LBORRES, are written in their
shortest exact form: 12.5, 3). Provenance columns (_form, _row, _src) never reach the XPT: they go
to the sidecar provenance.tsv (trialkit.provenance: the SDTM record, the raw form and row, the file
the user has, the export's locator of the record, the spec source that mapped it), which later
stages read to name the raw record behind an SDTM record (trialkit.lineage, trialkit.trace).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.dataset_json import write_dataset
from trialkit.display import show
from trialkit.errors import TrialkitError
from trialkit.provenance import PROVENANCE_COLUMNS, PROVENANCE_FILE
from trialkit.sdtm.engine import SdtmResult, dataset_columns
from trialkit.sdtm.standards import load_domains
from trialkit.vectorize import per_unique
from trialkit.xpt import DatasetMeta, Variable


def _char(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        text = pd.Series(np.char.mod("%.15g", values.fillna(0).to_numpy(dtype=float)), index=values.index, dtype=object)
        return text.where(values.notna(), "")
    return values.astype(object).where(values.notna(), "").astype(str)


def dataset_meta(domain: str, columns: list[str]) -> DatasetMeta:
    standard = load_domains()
    meta = standard["SUPPQUAL" if domain.startswith("SUPP") and domain not in standard else domain]
    label = f"Supplemental Qualifiers for {domain[4:]}" if domain.startswith("SUPP") else meta.label
    variables = tuple(Variable(v.name, v.label, v.type) for v in meta.variables if v.name in columns)
    return DatasetMeta(domain, label, variables)


def xpt_frame(frame: pd.DataFrame, meta: DatasetMeta) -> pd.DataFrame:
    out = {}
    for v in meta.variables:
        col = frame[v.name]
        out[v.name] = pd.to_numeric(col.replace("", np.nan), errors="coerce").astype(float) if v.type == "Num" else _char(col)
    return pd.DataFrame(out)


ISO_8601 = r"^(\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2})?)?)?)?)?$"


def check_dtc(domain: str, frame: pd.DataFrame) -> None:
    """--DTC values are ISO 8601 (complete or partial, empty when unknown); anything else is a bug
    in a mapping, stopped before the file is written."""
    for col in (c for c in frame.columns if c.endswith("DTC")):
        bad = ~per_unique(frame[col].astype(str), lambda u: u.str.match(ISO_8601))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise TrialkitError(f"value {show(frame[col].iloc[row])} is not ISO 8601", file=f"{domain}.xpt", row=row + 1, column=col)




def provenance(domain: str, frame: pd.DataFrame, raw_files: dict[str, tuple[str, pd.Series | None]] | None = None) -> pd.DataFrame:
    """The raw records behind each record of ``frame``: one row per (record, raw record); a DM record
    merged from several forms has one per form. Trial design and derived datasets (SV, SE) have none.
    ``raw_files`` (SdtmResult.raw_files): per form, the file the user has and the records' locators."""
    raw_files = raw_files or {}
    parts = []
    for form_col in (c for c in frame.columns if c.startswith("_form")):
        suffix = form_col.removeprefix("_form")
        rows = pd.to_numeric(frame["_row" + suffix], errors="coerce")
        has = rows.notna().to_numpy()
        forms = frame[form_col].to_numpy()[has]
        row_numbers = rows.to_numpy()[has].astype(np.int64)
        part = pd.DataFrame({"dataset": domain, "record": np.flatnonzero(has) + 1, "form": forms, "row": row_numbers})
        part["file"] = [raw_files[f][0] if f in raw_files else f"{f}.csv" for f in forms]
        part["locator"] = ""
        for form, (_, locators) in raw_files.items():
            mine = (part["form"] == form).to_numpy()
            if locators is not None and mine.any():
                part.loc[mine, "locator"] = locators.to_numpy()[part["row"].to_numpy()[mine] - 1]
        part["spec_source"] = frame["_src"].to_numpy()[has] if not suffix and "_src" in frame else ""
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=PROVENANCE_COLUMNS)
    return pd.concat(parts, ignore_index=True).sort_values("record", kind="stable")


def write_provenance(provenance: pd.DataFrame, path: Path) -> None:
    """The sidecar, through polars' writer: one line per record and raw row is millions of lines at
    100,000 subjects, which pandas' to_csv formats one by one (3.6 million lines: 12 s against 1.6 s).
    The text columns hold a few names; each goes over as its distinct values and their positions."""
    import polars as pl

    columns = {}
    for name in PROVENANCE_COLUMNS:
        values = provenance[name]
        if pd.api.types.is_numeric_dtype(values):
            columns[name] = pl.Series(name, values.to_numpy())
        else:
            codes, names = pd.factorize(values)
            columns[name] = pl.Series(name, [str(v) for v in names], dtype=pl.String).gather(codes)
    pl.DataFrame(columns).write_csv(path, separator="\t")


def write_sdtm(result: SdtmResult, out: Path, *, strict: bool = False, formats: tuple[str, ...] = ("xpt",),
               links=None, written=None) -> dict:
    """Write each dataset as XPT and/or Dataset-JSON (``formats``: xpt, json, ndjson; ``links``: the
    define.xml identifiers Dataset-JSON refers to, trialkit.define.define_links), then the ledger
    and the findings. Each dataset written is also handed to ``written``
    (trialkit.define.WrittenDatasets), for define.xml."""
    out.mkdir(parents=True, exist_ok=True)
    summary = {}
    lineage = []
    for domain, frame in sorted(result.datasets.items()):
        lineage.append(provenance(domain, frame, result.raw_files))
        columns = dataset_columns(domain, frame, result.specs)
        meta = dataset_meta(domain, columns)
        data = xpt_frame(frame, meta)
        check_dtc(domain, data)
        files = write_dataset(data, meta, out, formats, strict=strict, links=links)
        if written is not None:
            written.add(files, data, meta)
        summary[domain] = {"file": files[0].name, "records": len(frame), "variables": len(meta.variables)}
    write_provenance(pd.concat(lineage, ignore_index=True), out / PROVENANCE_FILE)
    ledger = result.ledger.to_dict()
    (out / "ledger.json").write_text(json.dumps(ledger, indent=2) + "\n", encoding="utf-8")
    (out / "findings.json").write_text(json.dumps([f.to_dict() for f in result.findings], indent=2) + "\n", encoding="utf-8")
    errors = sum(f.severity == "error" for f in result.findings)
    return {"datasets": summary, "ledger": ledger, "findings": len(result.findings), "errors": errors}
