"""trialkit's per-subject rule families on Spark: the pandas engine's own code, run on shares of subjects.

The plausibility (TK-SDTM-0130..0134), cross-dataset (TK-XDS) and ADTTE event-definition
(TK-ADTTE) rules join a record to its subject's records elsewhere (DM's RFSTDTC, DTHDTC, BRTHDTC,
ADSL, the event sources). Each subject's records are all they need, so a subject's records are
brought together and the pandas rules run on them there: one definition serves both engines
(DESIGN.md), and no rule is kept twice, once in pandas and once in Spark expressions.

How: every dataset with USUBJID is cut by a hash of the trimmed USUBJID into ``shares`` (about
SUBJECTS_PER_SHARE subjects each, at least one per Spark worker thread); a record without USUBJID
lands in one share like any other value. Each Spark partition of each dataset packs its records
share by share as Arrow IPC blobs (``mapInArrow``: no pandas, no Python loop over records), the
blobs of a share meet in one task (the one shuffle; a share's data is all a task holds), and the
task rebuilds each dataset of its share in file order and runs the families on them. Datasets
without USUBJID (the trial design: TA, TV, TS) are small and go whole to every task.

A finding names a record by its position in the frame the rule saw; the task turns it into the
record's number in the file (``ROW``, as the pandas engine counts). A finding that does not depend
on records (a source dataset missing for an ADTTE parameter) comes out of every share the same:
it is kept as often as one share gives it.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import narwhals as nw
import pandas as pd

from trialkit.validators.rules import ValidationFinding
from trialkit.validators.spark_engine import ROW

SUBJECTS_PER_SHARE = 5000
SHARE = "__trialkit_share"
# a family: the pandas engine's function of the SDTM and ADaM frames (name -> frame) to its findings
Family = Callable[[dict[str, pd.DataFrame], dict[str, pd.DataFrame]], list[ValidationFinding]]
_FIELDS = ("rule", "severity", "dataset", "message", "variable", "usubjid", "seq", "row", "value")
_OUT = (f"{SHARE} int, family string, seconds double, rule string, severity string, dataset string, message string, "
        "variable string, usubjid string, seq double, row long, value string")
_PACKED = f"{SHARE} int, dataset string, payload binary"


@dataclass(frozen=True)
class _Plan:
    """What every task gets: the families, the whole datasets, and the sharded datasets' columns."""
    families: dict[str, Family]
    whole: dict[str, pd.DataFrame]            # by name, with ROW
    sharded: dict[str, dict[str, str]]        # name -> column -> "string" | "double" | "long"
    adam: frozenset[str]                      # the names that are ADaM datasets


def run_by_subject(spark, sdtm: dict[str, nw.LazyFrame], adam: dict[str, nw.LazyFrame], families: dict[str, Family],
                   shares: int | None = None) -> dict[str, tuple[list[ValidationFinding], float]]:
    """Each family's findings on the datasets (narwhals frames over Spark DataFrames with ROW) and
    its seconds, summed over the tasks."""
    from pyspark.sql import functions as F

    frames = {name: nw.to_native(frame) for name, frame in {**sdtm, **adam}.items()}
    by_subject = {name: frame for name, frame in frames.items() if "USUBJID" in frame.columns}
    whole = {name: frame.toPandas().sort_values(ROW, kind="stable").reset_index(drop=True)
             for name, frame in frames.items() if name not in by_subject}
    if shares is None:
        dm = by_subject.get("DM")
        subjects = dm.count() if dm is not None else 0
        shares = max(spark.sparkContext.defaultParallelism, math.ceil(subjects / SUBJECTS_PER_SHARE))
    plan = _Plan(families, whole, {name: _types(frame) for name, frame in by_subject.items()}, frozenset(adam))
    packed = spark.createDataFrame([(s, "", b"") for s in range(shares)], _PACKED)   # every share runs, even empty
    for name, frame in by_subject.items():
        text = F.regexp_replace(F.coalesce(F.col("USUBJID").cast("string"), F.lit("")), r"^\s+|\s+$", "")
        share = F.pmod(F.xxhash64(text), F.lit(shares)).cast("int")
        packed = packed.unionByName(frame.withColumn(SHARE, share).mapInArrow(_packer(name), _PACKED))
    out = packed.repartition(shares, SHARE).groupBy(SHARE).applyInPandas(_task(plan), _OUT).toPandas()
    seconds = out[out["rule"].isna()].groupby("family")["seconds"].sum()
    found = _kept(out[out["rule"].notna()])
    return {f: (found.get(f, []), float(seconds.get(f, 0.0))) for f in families}


def _types(frame) -> dict[str, str]:
    return {field.name: field.dataType.simpleString() for field in frame.schema.fields}


def _packer(name: str):
    """A partition's records, each Arrow batch cut by share into one IPC blob per share."""
    def pack(batches):
        import pyarrow as pa
        import pyarrow.compute as pc

        for batch in batches:
            shares = batch.column(SHARE)
            order = pc.sort_indices(shares)
            batch, shares = batch.take(order), shares.take(order)
            keep = [c for c in batch.schema.names if c != SHARE]
            ids, blobs, start = [], [], 0
            for entry in pc.value_counts(shares).to_pylist():
                part = batch.slice(start, entry["counts"]).select(keep)
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, part.schema) as writer:
                    writer.write_batch(part)
                ids.append(entry["values"])
                blobs.append(sink.getvalue().to_pybytes())
                start += entry["counts"]
            yield pa.RecordBatch.from_pydict({SHARE: pa.array(ids, pa.int32()), "dataset": [name] * len(ids),
                                              "payload": pa.array(blobs, pa.binary())})
    return pack


def _task(plan: _Plan):
    """The function a share's task runs: rebuild its datasets, run each family, findings as rows."""
    def run(packed: pd.DataFrame) -> pd.DataFrame:
        import pyarrow as pa

        datasets = {name: frame for name, frame in plan.whole.items()}
        for name, types in plan.sharded.items():
            blobs = packed.loc[packed["dataset"] == name, "payload"]
            parts = [pa.ipc.open_stream(b).read_all().to_pandas() for b in blobs]
            frame = pd.concat(parts, ignore_index=True) if parts else _empty(types)
            datasets[name] = frame.sort_values(ROW, kind="stable").reset_index(drop=True)
        rows = {name: frame[ROW].to_numpy() for name, frame in datasets.items()}
        sdtm = {n: f.drop(columns=[ROW]) for n, f in datasets.items() if n not in plan.adam}
        adam = {n: f.drop(columns=[ROW]) for n, f in datasets.items() if n in plan.adam}
        share, records = int(packed[SHARE].iat[0]), []
        for family, check in plan.families.items():
            started = time.perf_counter()
            found = check(sdtm, adam)
            records.append({SHARE: share, "family": family, "seconds": time.perf_counter() - started})
            records += [{SHARE: share, "family": family, "seconds": 0.0, **_in_file(f, rows)} for f in found]
        out = pd.DataFrame.from_records(records, columns=[SHARE, "family", "seconds", *_FIELDS])
        # text columns as objects: pyarrow turns an all-NaN float column into a ChunkedArray for Spark's string
        return out.astype({c: object for c in out.columns if c not in (SHARE, "seconds", "seq")})
    return run


def _empty(types: dict[str, str]) -> pd.DataFrame:
    """A share without records of a dataset: its columns, typed as the other shares' frames are."""
    dtype = {"string": object, "double": "float64", "bigint": "int64"}
    return pd.DataFrame({c: pd.Series(dtype=dtype.get(t, object)) for c, t in types.items() if c != SHARE})


def _in_file(finding: ValidationFinding, rows: dict) -> dict:
    """The finding's fields, its row the record's number in the file instead of its position in the share."""
    row = finding.row
    if row is not None:
        if finding.dataset not in rows:
            raise ValueError(f"a {finding.rule} finding names row {row} of {finding.dataset}, which the rule was not given")
        row = int(rows[finding.dataset][int(row) - 1])
    values = {f: getattr(finding, f) for f in _FIELDS}
    return {**values, "row": row, "seq": None if values["seq"] is None else float(values["seq"])}


def _kept(found: pd.DataFrame) -> dict[str, list[ValidationFinding]]:
    """Each family's findings by dataset, row and rule. A finding that several shares gave alike does
    not depend on records (each share checked the same missing dataset): it is kept as often as one
    share gave it."""
    per_share: Counter = Counter()
    for record in found.to_dict("records"):
        values = {f: (None if f != "value" and pd.isna(record[f]) else record[f]) for f in _FIELDS}
        values["row"] = None if values["row"] is None else int(values["row"])
        per_share[(record["family"], ValidationFinding(**values), record[SHARE])] += 1
    times: Counter = Counter()
    for (family, finding, _), n in per_share.items():
        times[(family, finding)] = max(times[(family, finding)], n)
    kept: dict[str, list[ValidationFinding]] = {}
    for family, finding in sorted(times, key=lambda item: (item[1].dataset, item[1].row or 0, item[1].rule, item[1].message)):
        kept.setdefault(family, []).extend([finding] * times[(family, finding)])
    return kept
