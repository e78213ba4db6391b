"""Define-XML 2.1 for a study's SDTM or ADaM datasets, from the specs that made them and the files
written.

A reviewer reads datasets through their define.xml, so it must never disagree with them. Everything
in it comes from the same specs that drive the mapping and the derivations
(:mod:`trialkit.define_sdtm`, :mod:`trialkit.define_adam`), and everything about the data from the
data actually written (handed over by the stage that writes it, or read back from the files): each
variable's Length is the stored length of the XPT (or Dataset-JSON) file, its DataType what
:mod:`trialkit.columns` finds in its values, and each codelist lists the
CT terms the data uses (plus, flagged ExtendedValue, values an extensible list does not have). A
file whose labels or variables differ from its spec is an error, not a define.xml.

The document is built with odmlib's Define-XML 2.1 model (:mod:`trialkit.define_xml`) and checked
against the Define-XML 2.1 schema that odmlib ships (``odmlib/schemas/define/2.1/define2-1-0.xsd``, read with lxml) before it
is written. Spec metadata that cannot make a valid define.xml (a label over 40 characters, a
codelist without terms, a variable without an origin) is a SpecError naming the spec file and key;
:func:`check_define_specs` finds it before any dataset is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

import pandas as pd
from lxml import etree
from odmlib.schema_manager import get_schema_path

from trialkit.atomic_output import replacing
from trialkit.dataset_json import dataset_files, read_dataset
from trialkit.define_adam import adam_define
from trialkit.define_model import CodelistDef, DatasetDef, Origin, StudyDefine, Where
from trialkit.define_sdtm import sdtm_define
from trialkit.define_xml import DatasetColumn, define_xml, metadata_version_oid, study_oid
from trialkit.errors import InputError, SpecError, TrialkitError
from trialkit.xpt import MAX_LABEL, DatasetMeta

Kind = Literal["SDTM", "ADaM"]


# --------------------------------------------------------------------------------------------
# the specs


def _fail(where: Where, message: str) -> None:
    raise SpecError(message, file=str(where.file), key=where.key)


def _check_label(label: str, where: Where, what: str) -> None:
    if not label or not label.strip():
        _fail(where, f"{what} has no label; define.xml and XPT need one")
    if len(label) > MAX_LABEL:
        _fail(where, f"{what} label {label!r} is {len(label)} characters; define.xml and XPT v5 allow {MAX_LABEL}")


def _check_codelist(codelist: CodelistDef | None) -> None:
    """A codelist needs terms, except an extensible CDISC list whose study terms are all
    extensions (the CT subset lists none; the data's values are listed as extended values)."""
    if codelist is not None and not codelist.terms and not (codelist.standard and codelist.extensible):
        _fail(codelist.source, f"codelist {codelist.name!r} has no terms; define.xml cannot list an empty codelist")


def _check_origin(origins: tuple[Origin, ...], method: str | None, where: Where, what: str) -> None:
    if not origins:
        _fail(where, f"{what} has no origin: the spec neither collects, assigns, derives nor carries it")
    if any(o.type == "Derived" for o in origins) and not method:
        _fail(where, f"{what} is derived but the spec gives no derivation to describe")


def check_define_specs(kind: Kind, study: str | Path) -> StudyDefine:
    """Load the study's SDTM or ADaM specs as define.xml sees them and check that they can make a
    valid define.xml: every dataset and variable label 1-40 characters, every codelist with terms,
    every variable (and value-level entry) with an origin and, when derived, a derivation. Call it
    before writing datasets: a SpecError names the spec file and key. Returns the metadata."""
    if kind not in ("SDTM", "ADaM"):
        raise ValueError(f"kind is 'SDTM' or 'ADaM', not {kind!r}")
    define = sdtm_define(study) if kind == "SDTM" else adam_define(study)
    for ds in define.datasets.values():
        _check_label(ds.label, ds.source, f"dataset {ds.name}")
        for var in ds.variables.values():
            what = f"{ds.name}.{var.name}"
            _check_label(var.label, var.source, what)
            _check_origin(var.origins, var.method, var.origin_source, what)
            _check_codelist(var.codelist)
            for value in var.values:
                condition = " and ".join(f"{k} = {v}" for k, v in value.where)
                _check_origin(value.origins, value.method, value.source, f"{what} where {condition}")
                _check_codelist(value.codelist)
    return define


@dataclass(frozen=True)
class DefineLinks:
    """What a Dataset-JSON file needs to point at its define.xml: the study and metadata version
    OIDs, and each dataset's key variables (keySequence)."""

    study_oid: str
    metadata_version_oid: str
    keys: dict[str, tuple[str, ...]]


def define_links(kind: Kind, study: str | Path) -> DefineLinks:
    """The OIDs and keys :func:`trialkit.dataset_json.write_dataset_json` takes, so that Dataset-JSON
    files carry the same identifiers as the define.xml written beside them."""
    return _links(check_define_specs(kind, study))


def _links(define: StudyDefine) -> DefineLinks:
    return DefineLinks(study_oid(define), metadata_version_oid(define), {d.name: d.keys for d in define.datasets.values()})


# --------------------------------------------------------------------------------------------
# the data


def _distinct(values: pd.Series) -> pd.Series:
    """The distinct values of a column: all define.xml needs (length, data type, significant digits,
    codelist terms used). Keeping them instead of the column keeps a 100,000-subject SDTM out of memory."""
    return pd.Series(pd.unique(values), dtype=values.dtype)


Tables = dict[str, tuple[DatasetDef, Path, list[DatasetColumn]]]


def describe_dataset(define: StudyDefine, path: Path, frame: pd.DataFrame, meta: DatasetMeta
                     ) -> tuple[DatasetDef, Path, list[DatasetColumn]]:
    """What define.xml needs of one dataset written to ``path``: its spec and, per variable, the
    distinct values (also per value-level entry), checked against the spec. ``frame`` and ``meta``
    are the dataset as read from the file or as handed to the writer; :mod:`trialkit.columns`
    describes both alike (tests/test_define.py builds define.xml both ways and compares)."""
    ds = define.datasets.get(meta.name)
    if ds is None:
        raise InputError(f"no {define.kind} spec describes dataset {meta.name}, so define.xml cannot", file=str(path))
    if meta.label != ds.label:
        raise InputError(f"dataset label {meta.label!r} differs from the spec's {ds.label!r} ({ds.source.file.name}: "
                         f"{ds.source.key})", file=str(path))
    columns = []
    for var in meta.variables:
        definition = ds.variables.get(var.name)
        if definition is None:
            raise InputError("no spec describes this variable, so define.xml cannot give its origin", file=str(path),
                             column=var.name)
        if var.label != definition.label:
            raise InputError(f"label {var.label!r} differs from the spec's {definition.label!r} "
                             f"({definition.source.file.name}: {definition.source.key})", file=str(path), column=var.name)
        rows = []
        for value in definition.values:
            mask = pd.Series(True, index=frame.index)
            for other, wanted in value.where:
                mask &= frame[other].astype(str) == wanted if other in frame else False
            if mask.any():                     # a test or parameter without records has no metadata to give
                rows.append((value, _distinct(frame.loc[mask, var.name])))
        columns.append(DatasetColumn(definition, var, _distinct(frame[var.name]), rows))
    return ds, path, columns


class WrittenDatasets:
    """define.xml's view of the datasets a stage writes, taken as each is written.

    The SDTM and ADaM stages hand every dataset here right after writing it, so define.xml needs no
    second read of the files (a quarter of the SDTM stage at 20,000 subjects). Only distinct values
    are kept, so the frames can be freed as the stage goes on. ``links`` are the Dataset-JSON
    identifiers of the same define.xml (as :func:`define_links` gives them)."""

    def __init__(self, kind: Kind, study: str | Path):
        self.define = check_define_specs(kind, study)
        self.links = _links(self.define)
        self.tables: Tables = {}

    def add(self, files: list[Path], frame: pd.DataFrame, meta: DatasetMeta) -> None:
        """``files``: what write_dataset wrote, XPT first (the file define.xml points at, as
        dataset_files prefers it)."""
        self.tables[meta.name] = describe_dataset(self.define, files[0], frame, meta)


def _read(define: StudyDefine, folder: Path) -> Tables:
    """The datasets of ``folder`` the specs describe, checked against their specs."""
    files = dataset_files(folder) if Path(folder).is_dir() else {}
    if not files:
        raise InputError(f"no {define.kind} datasets (.xpt, .json, .ndjson, .parquet) in the folder", file=str(folder))
    unknown = sorted(set(files) - set(define.datasets))
    if unknown:
        raise InputError(f"no {define.kind} spec describes dataset(s) {', '.join(unknown)}, so define.xml cannot",
                         file=str(files[unknown[0]]))
    return {name: describe_dataset(define, path, *read_dataset(path)) for name, path in files.items()}


def build_define(kind: Kind, study: str | Path, datasets_dir: str | os.PathLike, *, created: datetime | None = None,
                 define_dir: str | os.PathLike | None = None, written: WrittenDatasets | None = None) -> bytes:
    """The define.xml (UTF-8 bytes) of the study's ``kind`` datasets written in ``datasets_dir``.

    Metadata comes from the specs (checked by :func:`check_define_specs`), lengths, data types and
    codelist terms from the data: the datasets ``written`` handed over as they were written, else
    the files in ``datasets_dir`` (.xpt, else .json / .ndjson / .parquet). Each dataset's leaf points at its
    file relative to ``define_dir`` (default: ``datasets_dir``, where define.xml belongs). A dataset
    no spec describes, or whose labels or variables differ from its spec, is an InputError naming
    the file.
    """
    folder = Path(datasets_dir)
    if written is not None:
        define, tables = written.define, dict(sorted(written.tables.items()))  # in file order, as _read gives them
    else:
        define = check_define_specs(kind, study)
        tables = _read(define, folder)
    return define_xml(define, tables, Path(define_dir) if define_dir is not None else folder, created)


@lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(get_schema_path("define", "2.1")))


def validate_define(document: bytes | str | os.PathLike) -> list[str]:
    """Schema errors of a define.xml (bytes, or a file path) against the Define-XML 2.1 XSD odmlib
    ships; an empty list when it is valid."""
    tree = etree.fromstring(document) if isinstance(document, bytes) else etree.parse(str(document))
    schema = _schema()
    if schema.validate(tree):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def write_define(kind: Kind, study: str | Path, datasets_dir: str | os.PathLike, out_path: str | os.PathLike | None = None,
                 *, created: datetime | None = None, written: WrittenDatasets | None = None) -> Path:
    """Build the define.xml of the ``kind`` datasets in ``datasets_dir`` (or of those ``written``
    there, see :func:`build_define`), check it against the Define-XML 2.1 schema and write it to
    ``out_path`` (default ``<datasets_dir>/define.xml``), whole or not at all. Returns the path."""
    target = Path(out_path) if out_path is not None else Path(datasets_dir) / "define.xml"
    document = build_define(kind, study, datasets_dir, created=created, define_dir=target.parent, written=written)
    errors = validate_define(document)
    if errors:
        raise TrialkitError(f"define.xml does not validate against the Define-XML 2.1 schema ({len(errors)} errors): "
                            + "; ".join(errors[:3]), file=str(target))
    with replacing(target) as tmp:
        tmp.write_bytes(document)
    return target
