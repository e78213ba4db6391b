"""`trialkit adam --engine spark`: the pandas derivations, run by Spark tasks on shares of the subjects.

Why this shape and not Spark expressions: an ADaM derivation is a subject's records turned into that
subject's ADaM records (ADSL, the occurrence and BDS datasets, ADTTE), and the one definition of it
is trialkit.adam.engine.derive_datasets with the spec steps it runs. A second definition as Spark
SQL would drift from it; so the Spark engine does not translate the derivations, it distributes
them: the study's subjects (DM's USUBJIDs, sorted) are cut into shares of ``subjects_per_task``,
and one Spark task per share reads the records of its subjects from the SDTM Parquet files (only
the row groups whose statistics can hold them; a dataset without USUBJID, such as TS, whole), runs
derive_datasets on them and writes its part of every ADaM dataset as Parquet. The driver then joins
the parts in subject order into each dataset's file (text lengths: the longest of the parts), and
writes the other formats and define.xml from those files. Neither the driver nor a task ever holds
more than one share of the SDTM (the driver: one ADaM dataset while it writes XPT or define.xml).

What this asks of the data and the specs, checked before any task starts:

- the SDTM is Parquet (``trialkit sdtm --format parquet``): one study's folder (``dm.parquet`` ...)
  or a pool (``dm/STUDY01.parquet`` ..., validators.pooled), whose studies are derived one by one
  with the same specs and written as a pool (``adsl/STUDY01.parquet`` ..., Parquet only);
- a ``constant`` step reads a study-level dataset (no USUBJID: TS...), since a task sees only its
  subjects' records of the others;
- the records come out in subject order, each subject's in the pandas engine's order: the same
  order as the pandas engine where the SDTM is sorted by USUBJID, as SDTMIG sorts it.

A derivation error stops the stage as it does on pandas, with the error of the first failing share;
its row numbers then count within that share's records, and the message says so. Warnings a task
raises (AdamWarning) are raised again by the driver, once each.
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from trialkit.adam.engine import AdamSpec, dataset_meta, derive_datasets, load_study_specs, needed_datasets, read_sdtm_files
from trialkit.adam.errors import AdamError
from trialkit.atomic_output import replacing
from trialkit.dataset_json import dataset_files, write_dataset
from trialkit.errors import InputError, SpecError, TrialkitError
from trialkit.formats.parquet import ROW_GROUP_ROWS, read_parquet, write_parquet
from trialkit.validators.pooled import is_pool, pooled_folders, study_files

SUBJECTS_PER_TASK = 5000
_KEY = b"trialkit.length"


@dataclass(frozen=True)
class Share:
    """The subjects of one task: one study's USUBJIDs from ``first`` up to, not including, ``stop``
    (None: unbounded, so that every record of the study falls in exactly one share)."""

    study: str
    index: int
    first: str | None
    stop: str | None

    def describe(self) -> str:
        lower, upper = self.first or "the first subject", self.stop or "the last"
        return f"{self.study + ': ' if self.study else ''}subjects from {lower} up to {upper}"


def sdtm_studies(folder: Path, needed: set[str]) -> dict[str, dict[str, Path]]:
    """The Parquet files of the datasets the specs read, per study: ``{"": {name: file}}`` for one
    study's folder, ``{study: {name: file}}`` for a pool. Anything else is an InputError saying what
    the Spark engine reads."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("SDTM folder not found", file=str(folder))
    if is_pool(folder):
        domains = pooled_folders(folder)
        return {dm.stem: {name: domains[name] / dm.name for name in sorted(needed)
                          if name in domains and (domains[name] / dm.name).is_file()}
                for dm in study_files(domains["DM"])}
    found = {name: path for name, path in dataset_files(folder).items() if name in needed}
    if "DM" not in found:
        raise InputError("no DM in the SDTM folder (dm.parquet)", file=str(folder))
    # the Parquet file of a dataset written in several formats (dataset_files prefers the XPT)
    files = {name: next((p for p in path.parent.glob(f"{path.stem}.*") if p.suffix.lower() == ".parquet"), path)
             for name, path in found.items()}
    other = sorted(str(p) for p in files.values() if p.suffix.lower() != ".parquet")
    if other:
        raise InputError("adam --engine spark reads the SDTM as Parquet (trialkit sdtm --format parquet, or a pool "
                         f"as trialkit simulate --pool writes it); this folder has {Path(other[0]).name} instead",
                         file=other[0])
    return {"": files}


def check_constants(specs: list[AdamSpec], studies: dict[str, dict[str, Path]]) -> None:
    """A ``constant`` step must read a dataset without USUBJID: a task sees only its subjects'."""
    for spec in specs:
        for kind, body, key in spec.steps:
            if kind != "constant":
                continue
            for var, c in body.items():
                for files in studies.values():
                    path = files.get(c["dataset"])
                    if path is not None and "USUBJID" in pq.read_schema(path).names:
                        raise SpecError(f"constant {var} reads {c['dataset']}, a dataset of subjects' records: on "
                                        "--engine spark each task reads only its subjects', so a constant comes "
                                        "from a study-level dataset (TS...); use --engine pandas",
                                        file=str(spec.path), key=key)


def shares(study: str, dm: Path, subjects_per_task: int) -> list[Share]:
    """The study's shares: its DM's USUBJIDs sorted and cut every ``subjects_per_task``."""
    ids = sorted({u for u in pq.read_table(dm, columns=["USUBJID"]).column(0).to_pylist() if u is not None})
    starts = ids[::subjects_per_task][1:]
    bounds = [None, *starts, None]
    return [Share(study, i, bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def derive_share(study_ref: str, files: dict[str, Path], share: Share, parts: Path) -> dict:
    """One Spark task: read the share's records, derive every ADaM dataset, write each as a part.
    Returns ``{"parts": {dataset: (file, records)}, "warnings": [...]}``, or ``{"error": err}`` for
    a TrialkitError (pickled back to the driver whole, as Spark would not)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            specs = load_study_specs(study_ref)
            datasets = derive_datasets(specs, read_sdtm_files(files, (share.first, share.stop)))
            written = {}
            for spec in specs:
                frame = datasets[spec.name]
                target = parts / spec.name / f"{share.study or 'study'}.{share.index:06d}.parquet"
                target.parent.mkdir(parents=True, exist_ok=True)
                written[spec.name] = (str(write_parquet(frame, dataset_meta(spec, frame), target)), len(frame))
        except TrialkitError as err:
            return {"error": err}
    return {"parts": written, "warnings": [(w.category, str(w.message)) for w in caught]}


def join_parts(parts: list[tuple[str, int]], target: Path) -> Path:
    """One Parquet file of the parts, in order, as write_parquet would write the parts' frames
    concatenated: each text variable's length the longest, and a variable's type that of the parts
    holding values (a share where a text variable, say from a merge no subject of it matched, is
    missing throughout derives it as an empty Num, which the whole study's text makes Char: its
    records are then empty text, as pandas' concatenation gives). Types that still differ are an
    AdamError naming the variable."""
    tables = [(pq.read_schema(path), path, n) for path, n in parts]
    first = next((schema for schema, _, n in tables if n), tables[0][0])
    fields = []
    for field in first:
        meta = dict(field.metadata or {})
        typed = [(schema.field(field.name).metadata, path) for schema, path, n in tables if n]
        if len({_type(mine) for mine, _ in typed}) > 1:        # only then read which parts hold no value
            typed = [(mine, path) for mine, path in typed if not _all_missing(path, field.name)]
        typed = [mine for mine, _ in typed]
        meta.update({k: v for k, v in (typed[0] if typed else {}).items() if k in (b"trialkit.type", b"trialkit.format")})
        for mine in typed:
            if _type(mine) != _type(meta):
                raise AdamError(f"{field.name} is {_kind(mine)} in one share of subjects and {_kind(meta)} in another",
                                dataset=first.metadata.get(b"trialkit.name", b"").decode(), variables=[field.name])
        lengths = [int(schema.field(field.name).metadata[_KEY]) for schema, _, n in tables
                   if _KEY in (schema.field(field.name).metadata or {})]
        if meta.get(b"trialkit.type") == b"Char":
            meta[_KEY] = str(max(lengths or [1])).encode()
        kind = pa.string() if meta.get(b"trialkit.type") == b"Char" else field.type
        fields.append(pa.field(field.name, kind, metadata=meta))
    schema = pa.schema(fields, metadata=first.metadata)
    with replacing(target) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for path, n in parts:
            if n:
                table = pq.read_table(path)
                columns = [column if column.type == f.type else pa.array([""] * n, type=pa.string())
                           for column, f in zip(table.columns, schema, strict=True)]
                writer.write_table(pa.Table.from_arrays(columns, schema=schema), row_group_size=ROW_GROUP_ROWS)
    return target


def _all_missing(path: str, name: str) -> bool:
    """Whether the part's Num variable holds no value (a Char one is never missing throughout here)."""
    column = pq.read_table(path, columns=[name]).column(0)
    return not pa.types.is_string(column.type) and column.null_count == len(column)


def _type(meta: dict) -> tuple:
    """A variable's SAS type and format, from its Parquet field metadata."""
    return meta.get(b"trialkit.type"), meta.get(b"trialkit.format")


def _kind(meta: dict) -> str:
    return (meta.get(b"trialkit.type") or b"?").decode()


def run_adam_spark(study: str | Path, sdtm_dir: Path, out: Path, *, formats: tuple[str, ...] = ("xpt",),
                   master: str | None = None, subjects_per_task: int = SUBJECTS_PER_TASK, written=None
                   ) -> dict[str, tuple[int, int]]:
    """Derive the study's ADaM datasets from ``sdtm_dir`` in Spark tasks and write them in ``out``
    (``formats``; a pool: Parquet only), each handed to ``written`` (trialkit.define.WrittenDatasets;
    None for a pool) as the pandas engine hands them. Returns each dataset's (records, variables); a pool's records
    summed over its studies."""
    from trialkit.spark_session import DEFAULT_MASTER, spark_session

    specs = load_study_specs(study)
    studies = sdtm_studies(sdtm_dir, needed_datasets(specs))
    pooled = is_pool(sdtm_dir)
    if pooled and set(formats) != {"parquet"}:
        raise InputError("a pooled ADaM is written as Parquet only, as the pool (adsl/STUDY01.parquet ...): "
                         "give --format parquet", file=str(sdtm_dir))
    check_constants(specs, studies)
    tasks = [(files, share) for name, files in studies.items()
             for share in shares(name, files["DM"], subjects_per_task)]
    parts = out / ".parts"
    spark = spark_session(master or DEFAULT_MASTER)
    study_ref = str(study)
    results = (spark.sparkContext.parallelize(tasks, len(tasks))
               .map(lambda task: derive_share(study_ref, task[0], task[1], parts)).collect())
    for (_, share), result in zip(tasks, results, strict=True):
        if "error" in result:
            err = result["error"]
            err.message = f"{share.describe()} (row numbers count within them): {err.message}"
            raise err
    for category, message in dict.fromkeys(w for r in results for w in r["warnings"]):
        warnings.warn(message, category, stacklevel=2)
    shapes = {}
    for spec in specs:
        for name in studies:
            mine = [r["parts"][spec.name] for (_, share), r in zip(tasks, results, strict=True) if share.study == name]
            target = (out / spec.name.lower() / f"{name}.parquet") if pooled else out / f"{spec.name.lower()}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            join_parts(mine, target)
            records = shapes.get(spec.name, (0, 0))[0] + sum(n for _, n in mine)
            shapes[spec.name] = (records, len(pq.read_schema(target).names))
            if not pooled:
                frame, meta = read_parquet(target)
                files = write_dataset(frame, meta, out, tuple(f for f in formats if f != "parquet"),
                                      links=written.links if written is not None else None)
                if written is not None:
                    written.add([*files, target], frame, meta)
            if "parquet" not in formats:
                target.unlink()
    shutil.rmtree(parts, ignore_errors=True)
    return shapes
