"""``trialkit validate --engine spark``: the rules on Spark DataFrames, for pooled data too large for pandas.

One rule definition serves both engines (DESIGN.md). The schema rules are the pandera schemas the
pandas engine builds (validators/sdtm_schema.py, validators/adam_schema.py), not a copy: each of their checks is a narwhals
expression (validators/schema_findings.py ``ColumnCheck`` / ``FrameCheck``), which pandera's pandas
backend evaluates on pandas columns and :class:`SparkTables` here evaluates on Spark columns, all
checks of a dataset in one Spark job that brings back only the failing records. The findings are
then made by the same code as the pandas engine's (``findings_from_cases``), so they are the same
records, field for field.

Why not pandera's own pyspark.sql backend: in pandera 0.35 a check there returns one boolean per
column (failure cases are None), and its narwhals backend on PySpark returns the failing values
without the records' positions; a finding must name the record (row, USUBJID, --SEQ). The schema is
still pandera's; only the evaluation of its checks is done here.

Datasets are read as Spark reads them: Parquet natively (rows numbered by Spark's own
``_metadata.row_index``, the position in the file, so no shuffle); XPT,
Dataset-JSON and CSV through trialkit's readers (validators/inputs.py), handed to Spark through Arrow.
Each variable's label (ADaM's label rule reads it) travels in its Spark column's metadata: read off
the Parquet schema, or off the file by trialkit's reader. An unreadable file is a TK-IO-0001
finding, as in the pandas engine.
"""

from __future__ import annotations

from itertools import accumulate
from pathlib import Path

import narwhals as nw
import pandas as pd
import pandera.pandas as pa

from trialkit.formats.parquet import parquet_meta
from trialkit.validators.inputs import DatasetFile, dataset_paths, read_one
from trialkit.validators.pooled import inspect, is_pooled
from trialkit.validators.rules import IO_UNREADABLE, RuleRun, ValidationFinding
from trialkit.validators.schema_findings import ColumnCheck, FrameCheck, blank_text, findings_from_cases, is_notice, null

ROW = "__trialkit_row"        # 1-based record number in the file, as the pandas engine counts it
_SAS_EPOCH = "1960-01-01"
NOT_ON_SPARK = "not run on spark"


class NotOnSpark(Exception):
    """A rule whose definition is not an expression both engines evaluate (a pandas-only check)."""


def read_spark_folder(spark, folder: Path, encoding: str | None = None
                      ) -> tuple[dict[str, nw.LazyFrame], list[ValidationFinding], dict[str, DatasetFile]]:
    """The datasets of ``folder`` as narwhals frames over Spark DataFrames, by upper-case name, each
    with its record numbers in ``ROW``; a finding per file that cannot be read; and each dataset's
    file with its metadata, as the pandas engine's ``read_folder`` gives them (a Parquet file's read
    off its schema: an undeclared Char length is None)."""
    datasets, findings, files = {}, [], {}
    for name, path in sorted(dataset_paths(folder).items()):
        if is_pooled(path):
            frame, more, meta = _read_pooled(spark, name, path)
            findings += more
            finding = None
            if frame is None:
                continue
        elif path.suffix.lower() == ".parquet" and path.is_file():
            frame, finding, meta = _read_parquet(spark, name, path)
        else:
            _, pandas_frame, file, finding = read_one((name, path), encoding)
            frame = None if finding is not None else _from_pandas(spark, pandas_frame)
            meta = file.meta if file is not None else None
        if finding is not None:
            findings.append(finding)
        else:
            datasets[name], files[name] = nw.from_native(frame), DatasetFile(path, meta)
    return datasets, findings, files


def _read_parquet(spark, name: str, path: Path):
    """A Parquet dataset as Spark reads it, its values as the pandas engine holds them (:func:`_as_read`),
    rows numbered, each variable's label in its column's metadata; the finding that says why it
    cannot be read; its metadata (read off the schema)."""
    from pyspark.sql import functions as F

    read, finding = _spark_read(spark, name, [path], path.name)
    columns, finding = (None, finding) if finding is not None else _as_read(read, name, path.name)
    if finding is not None:
        return None, finding, None
    meta = parquet_meta(path)
    return read.select(*_labelled(columns, meta), (F.col("_metadata.row_index") + 1).alias(ROW)), None, meta


def _read_pooled(spark, name: str, path: Path):
    """A pooled domain folder (validators/pooled.py) as one Spark DataFrame, its values as
    :func:`_read_parquet` reads them, a drifted variable's values in its study as missing, records
    numbered across the files in file-name order as the pandas engine numbers them.

    The study files of one schema are one Spark read (a folder of 80 studies is then one scan, not
    a union of 80: a union of a read per file made every plan of the dataset 80 times as large, and
    the million-subject pool's plans ran the driver's heap out); a file's first record number is
    looked up by its name (``_metadata.file_name``) and its records counted on from there."""
    from pyspark.sql import functions as F

    pool, findings = inspect(name, path)
    if pool is None:
        return None, findings, None
    first = dict(zip(pool.files, accumulate(pool.rows, initial=0)))      # records before each file
    frames = []
    for files in pool.alike():
        read, finding = _spark_read(spark, name, files, f"{path.name}/{files[0].name}")
        columns, finding = (None, finding) if finding is not None else _as_read(read, name, f"{path.name}/{files[0].name}")
        if finding is not None:
            return None, [*findings, finding], None
        for column in pool.drifted.get(files[0], ()):     # one schema: the same drift in each of the files
            columns[column] = F.lit(None).cast("string" if pool.types[column] == "Char" else "double")
        offsets = F.create_map(*(F.lit(v) for f in files for v in (f.name, first[f])))
        row = F.element_at(offsets, F.col("_metadata.file_name")) + F.col("_metadata.row_index") + 1
        frames.append(read.select(*(column.alias(c) for c, column in columns.items()), row.alias(ROW)))
    pooled = frames[0]
    for frame in frames[1:]:
        pooled = pooled.unionByName(frame, allowMissingColumns=True)
    # the metadata of the first study file without drift, as the pandas engine takes them (inputs.read_pooled)
    meta = parquet_meta(next((f for f in pool.files if f not in pool.drifted), pool.files[0]))
    return pooled.select(*_labelled({c: F.col(f"`{c}`") for c in pooled.columns if c != ROW}, meta), ROW), findings, meta


def _spark_read(spark, name: str, files: list[Path], shown: str):
    """Spark's read of Parquet files of one schema, or the finding (naming ``shown``) that says why not."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        return spark.read.parquet(*(str(f) for f in files)), None
    except (PySparkException, Py4JJavaError) as exc:
        java = getattr(exc, "java_exception", None)
        why = (java.getMessage() if java is not None else str(exc)).splitlines()[0]
        return None, ValidationFinding(IO_UNREADABLE.id, IO_UNREADABLE.severity, name,
                                       f"{shown}: not a readable Parquet file (Spark: {why})")


def _as_read(frame, name: str, shown: str):
    """Each column of a Spark read as the pandas engine holds it (Char as text, '' when missing; Num
    as SAS numbers: dates as days, timestamps as seconds since 1960-01-01), by name; or the finding
    naming a column that is neither text nor a number."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    columns = {}
    for field in frame.schema.fields:
        column = F.col(f"`{field.name}`")
        if isinstance(field.dataType, T.DateType):
            column = F.datediff(column, F.lit(_SAS_EPOCH).cast("date")).cast("double")
        elif isinstance(field.dataType, (T.TimestampType, T.TimestampNTZType)):
            column = (F.unix_timestamp(column.cast("timestamp")) - F.unix_timestamp(F.lit(_SAS_EPOCH).cast("timestamp"))
                      ).cast("double")
        elif isinstance(field.dataType, (T.NumericType, T.BooleanType)):
            column = column.cast("double")
        elif isinstance(field.dataType, T.StringType):
            column = F.coalesce(column, F.lit(""))      # a missing Char value is '', as read_parquet reads it
        else:
            return None, ValidationFinding(IO_UNREADABLE.id, IO_UNREADABLE.severity, name,
                                           f"{shown}: column {field.name} of type {field.dataType.simpleString()}: "
                                           "neither text nor a number")
        columns[field.name] = column
    return columns, None


def _labelled(columns: dict, meta) -> list:
    """The columns named, each with its variable's label (``meta``) in its metadata."""
    labels = {v.name: v.label for v in meta.variables}
    return [column.alias(name, metadata={"label": labels.get(name, "")}) for name, column in columns.items()]


def _from_pandas(spark, frame: pd.DataFrame):
    """A frame trialkit's readers gave (text as str or category, numbers as float) as a Spark
    DataFrame of text and double columns, rows numbered, the file's labels in the columns' metadata."""
    from pyspark.sql import types as T

    columns, fields, labels = {}, [], frame.attrs.get("labels") or {}
    for name in frame.columns:
        values, label = frame[name], {"label": labels.get(name, "")}
        if pd.api.types.is_numeric_dtype(values):
            columns[name] = values.astype("float64")
            fields.append(T.StructField(name, T.DoubleType(), metadata=label))
        else:
            text = values.astype(object)
            columns[name] = text.where(text.notna(), None).map(lambda v: v if v is None else str(v))
            fields.append(T.StructField(name, T.StringType(), metadata=label))
    columns[ROW] = pd.Series(range(1, len(frame) + 1), index=frame.index, dtype="int64")
    fields.append(T.StructField(ROW, T.LongType(), nullable=False))
    return spark.createDataFrame(pd.DataFrame(columns, index=frame.index), T.StructType(fields))


def _records(collected: pd.DataFrame) -> pd.DataFrame:
    """Collected records labelled by their 0-based positions, as ``record`` and ``value`` read them."""
    return collected.set_index(collected[ROW].astype("int64") - 1).drop(columns=[ROW])


class _Domains:
    """A dataset's DOMAIN values, collected by a Spark job only when sdtm_schema.resolve asks for them
    (a split dataset such as LBCH); ``in`` and ``[...]`` as on the pandas frame it stands for."""

    def __init__(self, frame: nw.LazyFrame, present: bool) -> None:
        self.frame, self.present = frame, present

    def __contains__(self, column: str) -> bool:
        return self.present and column == "DOMAIN"

    def __getitem__(self, column: str) -> pd.Series:
        return self.frame.select(column).unique().collect().to_pandas()[column]


class SparkTables:
    """The schema rules on narwhals frames over Spark DataFrames (validators/schema_findings.Tables)."""

    def prepare(self, frame: nw.LazyFrame) -> nw.LazyFrame:
        return frame

    def columns(self, frame: nw.LazyFrame) -> list[str]:
        return [c for c in frame.collect_schema().names() if c != ROW]

    def domains(self, frame: nw.LazyFrame) -> _Domains:
        return _Domains(frame, "DOMAIN" in self.columns(frame))

    def _keys(self, frame: nw.LazyFrame, seq: str | None) -> list[str]:
        return [ROW] + [c for c in ("USUBJID", seq) if c and c in self.columns(frame)]

    def numeric(self, frame: nw.LazyFrame, column: str) -> bool:
        return frame.collect_schema()[column].is_numeric()

    def labels(self, frame: nw.LazyFrame) -> dict[str, str]:
        """The labels read_spark_folder put in the columns' Spark metadata."""
        return {f.name: f.metadata["label"] for f in nw.to_native(frame).schema.fields if f.metadata.get("label")}

    def combinations(self, frame: nw.LazyFrame, columns: list[str], seq: str | None) -> pd.DataFrame:
        """One Spark job: each combination's first record (a window over the combination's values,
        which groups nulls, and NaNs, as pandas' ``duplicated`` does)."""
        keep = list(dict.fromkeys([*columns, *self._keys(frame, seq)]))
        first = frame.filter(nw.col(ROW) == nw.col(ROW).min().over(*columns)).select(keep).collect().to_pandas()
        return _records(first).sort_index()

    def unmatched(self, frame: nw.LazyFrame, column: str, other: nw.LazyFrame, seq: str | None) -> pd.DataFrame:
        """An anti join on the values as text, not a list of ``other``'s values in the plan: DM's subjects
        of a pool are too many for a literal list (20 datasets against 10,000 subjects took 90 s so)."""
        dtype, key = frame.collect_schema()[column], "__trialkit_key"
        known = other.select(nw.col(column).cast(nw.String).alias(key)).filter(~nw.col(key).is_null()).unique()
        keep = list(dict.fromkeys([*self._keys(frame, seq), column]))
        rows = (frame.filter(~blank_text(nw.col(column), dtype)).with_columns(nw.col(column).cast(nw.String).alias(key))
                .join(known, on=key, how="anti").select(keep).collect().to_pandas())
        return _records(rows).sort_index()

    def schema_findings(self, name: str, label: str, schema: pa.DataFrameSchema, frame: nw.LazyFrame, seq: str | None,
                        missing, frame_rules: dict[str, str] | None) -> list[ValidationFinding]:
        """Every check of ``schema`` over ``frame`` in one Spark job, then the findings as the pandas
        engine makes them from pandera's failure cases.

        The job brings back each record failing an error or warning check (each is a finding), but of
        a notice check only the first record of each failing value, with the value's record count
        (``findings_from_cases`` makes one finding of them): a sponsor's term outside an extensible
        codelist can fill a million records of a pooled LB, which the driver could not hold."""
        dtypes = frame.collect_schema()
        present = self.columns(frame)
        cases = [{"check": "column_in_dataframe", "column": None, "failure_case": column, "index": None}
                 for column, spec in schema.columns.items() if spec.required and column not in present]
        checks = [(check, column) for column, spec in schema.columns.items() if column in present for check in spec.checks]
        checks += [(check, None) for check in schema.checks]
        flags = {f"__ok{k}": self._expression(check, column, dtypes) for k, (check, column) in enumerate(checks)}
        checked = {f"__ok{k}": (check.name, column) for k, (check, column) in enumerate(checks)}
        records = pd.DataFrame()
        if flags:
            values = [column for check, column in checks if column is not None]
            keep = list(dict.fromkeys([*self._keys(frame, seq), *values]))
            failing = frame.with_columns(**flags).filter(nw.any_horizontal(*[~nw.col(f) for f in flags], ignore_nulls=False))
            # a notice check's failing value: its records counted, the first marked (windows over the failing records only)
            by_value = {f: [f, *([column] if column else [])] for f, (check_name, column) in checked.items()
                        if is_notice(check_name)}
            shown = [~nw.col(f) for f in flags if f not in by_value]
            if by_value:
                failing = failing.with_columns(**{f"__n{f}": nw.len().over(*over) for f, over in by_value.items()},
                                               **{f"__first{f}": nw.col(ROW) == nw.col(ROW).min().over(*over)
                                                  for f, over in by_value.items()})
                shown += [~nw.col(f) & nw.col(f"__first{f}") for f in by_value]
            counted = [f"__{what}{f}" for f in by_value for what in ("n", "first")]
            records = _records(failing.filter(nw.any_horizontal(*shown, ignore_nulls=False))
                               .select(*keep, *flags, *counted).collect().to_pandas())
            for flag, (check_name, column) in checked.items():
                bad = records[~records[flag].astype(bool)]
                if flag in by_value:        # a record brought back by another check is not this value's first
                    bad = bad[bad[f"__first{flag}"].astype(bool)]
                count = bad[f"__n{flag}"] if flag in by_value else pd.Series(1, index=bad.index)
                cases += [{"check": check_name, "column": column, "index": i, "count": int(count.at[i]),
                           "failure_case": None if column is None else bad[column].at[i]} for i in bad.index]
        if not cases:
            return []
        return findings_from_cases(name, label, pd.DataFrame(cases), records, seq, missing, frame_rules)

    @staticmethod
    def _expression(check: pa.Check, column: str | None, dtypes) -> nw.Expr:
        """The check's expression, True where a record passes; pandera's ``ignore_na`` lets nulls pass."""
        fn = check._check_fn
        if column is None and isinstance(fn, FrameCheck):
            return fn.expression(dict(dtypes))
        if column is not None and isinstance(fn, ColumnCheck):
            expr = fn.expression(column, dtypes[column])
            return expr | null(nw.col(column), dtypes[column]) if check.ignore_na else expr
        raise NotOnSpark(f"check {check.name} is a pandas function, not an expression both engines evaluate")


def first_record(frame: nw.LazyFrame) -> pd.DataFrame:
    """A dataset's first record in its file, as a pandas frame (one Spark job)."""
    return nw.to_native(frame).orderBy(ROW).limit(1).toPandas().drop(columns=[ROW])


def not_run(rule_id: str, source: str, why: str, family: bool = False) -> RuleRun:
    """The RuleRun of a rule (or ``family`` of trialkit's rules) the Spark engine cannot evaluate yet:
    listed as not executed, never as passed."""
    return RuleRun(rule_id, source, "not executed", reason=f"{NOT_ON_SPARK}: {why}", family=family)

