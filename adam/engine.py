"""Run a study's ADaM specs over its SDTM datasets: ADSL first, then every other dataset.

Specs live in specs/studies/<study>/adam/, one YAML file per dataset, its kind told by its keys:
ADSL.yaml (``from_dm``: variables kept from DM, then derivation steps), a time-to-event dataset
(``cutoff`` and ``parameters``: event and censor sources, plus the ADSL variables carried for
analysis), a BDS dataset (``parameters`` / ``derived``: collected and derived parameters) and an
occurrence dataset (``source``: one record per record of an SDTM domain, then steps, e.g. ADAE).
Each dataset's variables carry their label from the spec; dates are SAS dates with the DATE9.
format in the XPT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from trialkit.adam.bds import build_bds, check_parameters
from trialkit.adam.checks import assert_unique
from trialkit.adam.errors import AdamError
from trialkit.adam.steps import apply_steps, check_steps
from trialkit.adam.tte import TteParameter, derive_param_tte, parse_parameters
from trialkit.dataset_json import dataset_files, read_dataset, write_dataset
from trialkit.errors import InputError, SpecError
from trialkit.formats.parquet import read_parquet
from trialkit.memory_budget import check_fits
from trialkit.spec import load_yaml, study_dir
from trialkit.vectorize import compact, plain
from trialkit.xpt import DatasetMeta, Variable


@dataclass
class AdamSpec:
    name: str
    label: str
    path: Path
    labels: dict[str, str]
    keep: list[str] = field(default_factory=list)
    steps: list = field(default_factory=list)
    parameters: list[TteParameter] = field(default_factory=list)
    cutoff: str | None = None
    adsl_vars: list[str] = field(default_factory=list)
    collected: list[dict] = field(default_factory=list)       # BDS: collected parameters
    derived: list[dict] = field(default_factory=list)         # BDS: derived parameters
    reference: str | None = None                              # BDS: the date ADY counts from
    source: str | None = None                                 # OCCDS: the SDTM domain read record by record

    @property
    def kind(self) -> str:
        """adsl, tte, bds or occds, from the keys the spec uses."""
        if self.keep and not self.source:
            return "adsl"
        if self.source:
            return "occds"
        return "tte" if self.cutoff else "bds"


def load_adam_spec(path: Path) -> AdamSpec:
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise SpecError("an ADaM spec is a mapping", file=str(path))
    unknown = set(data) - {"dataset", "label", "variables", "from_dm", "steps", "parameters", "derived", "cutoff",
                           "adsl_vars", "reference", "source", "keep"}
    if unknown:
        raise SpecError(f"unknown key(s) {sorted(unknown)}", file=str(path), key=min(unknown))
    if "source" in data and "from_dm" in data:
        raise SpecError("a dataset is built from DM (from_dm) or from one SDTM domain (source), not both", file=str(path),
                        key="source")
    for need in ("dataset", "label"):
        if not data.get(need):
            raise SpecError("required key is missing", file=str(path), key=need)
    labels = data.get("variables") or {}
    for var, label in labels.items():
        if len(var) > 8 or len(str(label)) > 40:
            raise SpecError("variable names are at most 8 characters and labels at most 40", file=str(path), key=f"variables.{var}")
    bds = "cutoff" not in data and "parameters" in data
    if bds:
        check_parameters(data.get("parameters"), data.get("derived"), path)
    return AdamSpec(data["dataset"], data["label"], path, labels, list(data.get("from_dm") or data.get("keep") or []),
                    check_steps(data.get("steps"), path),
                    [] if bds else parse_parameters(data.get("parameters"), path),
                    data.get("cutoff"), list(data.get("adsl_vars") or []),
                    list(data.get("parameters") or []) if bds else [], list(data.get("derived") or []),
                    data.get("reference"), data.get("source"))


def read_sdtm(folder: Path, only: set[str] | None = None) -> dict[str, pd.DataFrame]:
    """The SDTM datasets of a folder, XPT or Dataset-JSON (``only``: just these, by name; DM always;
    refused up front when even the lower bound of their memory is more than the machine has),
    repeated text as categories (trialkit.vectorize.compact): a 100,000-subject SDTM held as one
    string per cell set the ADaM stage's memory peak."""
    if not Path(folder).is_dir():
        raise InputError("SDTM folder not found", file=str(folder))
    files = {name: path for name, path in dataset_files(folder).items() if only is None or name in only | {"DM"}}
    if "DM" not in files:
        raise InputError("no DM in the SDTM folder (dm.xpt or dm.json)", file=str(folder))
    check_fits(files.values(), "the ADaM stage's SDTM", "derive with --engine spark (the SDTM as Parquet: trialkit "
               "sdtm --format parquet), which reads a share of the subjects at a time, or on a machine with more memory")
    return read_sdtm_files(files)


def read_sdtm_files(files: dict[str, Path], subjects: tuple[str | None, str | None] | None = None
                    ) -> dict[str, pd.DataFrame]:
    """The datasets ``files`` names (name -> file), as :func:`read_sdtm` holds them; ``subjects``:
    only the records of those subjects, from Parquet files (trialkit.formats.parquet.read_parquet),
    as each Spark task of trialkit.adam.spark_engine reads its share."""
    out = {}
    for path in files.values():
        frame, meta = read_dataset(path) if subjects is None else read_parquet(path, subjects=subjects)
        out[meta.name.upper()] = compact(frame)
    return out


def build_adsl(spec: AdamSpec, sdtm: dict[str, pd.DataFrame]) -> pd.DataFrame:
    dm = sdtm["DM"]
    missing = [v for v in spec.keep if v not in dm]
    if missing:
        raise AdamError("DM lacks variables ADSL keeps", dataset="DM", variables=missing)
    assert_unique(dm, ["USUBJID"], "DM")   # ADSL is one record per subject: a repeated DM subject stops here
    adsl = dm[spec.keep].copy()
    return apply_steps(adsl, spec.steps, sdtm, "ADSL")


def build_adtte(spec: AdamSpec, adsl: pd.DataFrame, sources: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The time-to-event dataset of ``spec``; ``sources``: the SDTM and the ADaM datasets derived so far."""
    if spec.cutoff not in adsl:
        raise AdamError(f"cut-off date variable {spec.cutoff} is not in ADSL", dataset="ADSL", variables=[spec.cutoff])
    cutoff = pd.Timestamp(adsl[spec.cutoff].iloc[0])
    parts = [derive_param_tte(adsl, sources, p, cutoff) for p in spec.parameters]
    adtte = pd.concat(parts, ignore_index=True)
    carried = adsl[["USUBJID", *spec.adsl_vars]]
    return adtte.merge(carried, on="USUBJID", how="left").sort_values(["USUBJID", "PARAMCD"], kind="stable").reset_index(drop=True)


def build_occds(spec: AdamSpec, adsl: pd.DataFrame, sdtm: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One record per record of the source domain (``keep``: its variables, all when empty), then
    the spec's steps, which may merge ADSL variables by USUBJID."""
    source = sdtm.get(spec.source)
    if source is None:
        raise AdamError(f"{spec.name}: source dataset {spec.source} is not in the SDTM folder", dataset=spec.source)
    keep = spec.keep or [c for c in source.columns if not c.startswith("_")]
    missing = [v for v in keep if v not in source]
    if missing:
        raise AdamError(f"{spec.source} lacks variables {spec.name} keeps", dataset=spec.source, variables=missing)
    return apply_steps(source[keep].copy(), spec.steps, {**sdtm, "ADSL": adsl}, spec.name)


def dataset_meta(spec: AdamSpec, frame: pd.DataFrame) -> DatasetMeta:
    variables = []
    for col in frame.columns:
        if col not in spec.labels:
            raise SpecError(f"{spec.name}.{col} has no label in the spec", file=str(spec.path), key=f"variables.{col}")
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            variables.append(Variable(col, spec.labels[col], "Num", format="DATE9."))
        elif pd.api.types.is_numeric_dtype(frame[col]):
            variables.append(Variable(col, spec.labels[col], "Num"))
        else:
            variables.append(Variable(col, spec.labels[col], "Char"))
    return DatasetMeta(spec.name, spec.label, tuple(variables))


def needed_datasets(specs: list[AdamSpec]) -> set[str]:
    """The SDTM datasets the specs read: nothing else is loaded."""
    names = {"DM"}
    for spec in specs:
        for kind, body, _ in spec.steps:
            if kind == "merged":
                names.add(body["dataset"])
            elif kind == "constant":
                names |= {c["dataset"] for c in body.values()}
        for p in spec.parameters:
            names |= {s.dataset for s in (*p.events, *p.censors)}
        names |= {p["dataset"] for p in spec.collected}
        if spec.source:
            names.add(spec.source)
    return names - {"ADSL"} - {spec.name for spec in specs}      # ADaM sources are derived, not read


def load_study_specs(study: str | Path) -> list[AdamSpec]:
    """Every ADaM spec of a study, ADSL first (the others may read it), then in file-name order,
    time-to-event specs last."""
    folder = study_dir(study) / "adam"
    specs = [load_adam_spec(p) for p in sorted(folder.glob("*.yaml"))]
    adsl = [s for s in specs if s.kind == "adsl"]
    if [s.name for s in adsl] != ["ADSL"]:
        raise SpecError("a study's ADaM has exactly one subject-level spec, ADSL.yaml (from_dm)", file=str(folder))
    # time-to-event datasets last: their sources may be the other ADaM datasets (ADRS), as in admiral
    return adsl + [s for s in specs if s.kind not in ("adsl", "tte")] + [s for s in specs if s.kind == "tte"]


def load_event_specs(study: str | Path | None, events: Path | None = None) -> list[AdamSpec]:
    """The time-to-event specs the event rules check: the file ``events`` (the ADTTE.yaml shape), else
    every one of the study's adam/*.yaml. Unlike load_study_specs no ADSL.yaml is needed: validation
    reads ADSL from the ADaM folder and never uses the spec that derives it."""
    if events is not None:
        spec = load_adam_spec(Path(events))
        if spec.kind != "tte":
            raise SpecError("an event-definition file declares cutoff: and parameters: with events and censors, "
                            "as a study's adam/ADTTE.yaml", file=str(events))
        return [spec]
    folder = study_dir(study) / "adam"
    return [s for s in (load_adam_spec(p) for p in sorted(folder.glob("*.yaml"))) if s.kind == "tte"]


def run_adam(study: str | Path, sdtm_dir: Path, out: Path | None = None, formats: tuple[str, ...] = ("xpt",),
             links=None, written=None) -> dict[str, pd.DataFrame]:
    """Derive every ADaM dataset of the study; with ``out``, write each in ``formats`` (xpt, json,
    ndjson; ``links``: trialkit.define.define_links for Dataset-JSON) and hand it to ``written``
    (trialkit.define.WrittenDatasets), for define.xml."""
    specs = load_study_specs(study)
    datasets = derive_datasets(specs, read_sdtm(sdtm_dir, needed_datasets(specs)))
    if out is not None:
        write_datasets(specs, datasets, out, formats, links, written)
    return datasets


def derive_datasets(specs: list[AdamSpec], sdtm: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every dataset of ``specs`` (ADSL first, as load_study_specs orders them) from the SDTM
    datasets ``sdtm``: all of a study's subjects (run_adam) or a share of them (a Spark task)."""
    # the SDTM text is held as categories; the datasets derived from it are text again (plain), so
    # that no category of a source column (e.g. every SUPPDM.QVAL) travels with an ADaM variable
    adsl = plain(build_adsl(specs[0], sdtm))
    datasets = {"ADSL": adsl}
    for spec in specs[1:]:
        if spec.kind == "tte":
            frame = build_adtte(spec, adsl, {**sdtm, **datasets})
        elif spec.kind == "bds":
            frame = build_bds(spec.collected, spec.derived, sdtm, adsl, spec.reference, spec.adsl_vars)
        else:
            frame = build_occds(spec, adsl, sdtm)
        datasets[spec.name] = plain(frame)
    return datasets


def write_datasets(specs: list[AdamSpec], datasets: dict[str, pd.DataFrame], out: Path, formats: tuple[str, ...],
                   links=None, written=None) -> None:
    """Write each dataset in ``formats`` with its spec's metadata and hand it to ``written``."""
    out.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        frame = datasets[spec.name]
        meta = dataset_meta(spec, frame)
        files = write_dataset(frame, meta, out, formats, links=links)
        if written is not None:
            written.add(files, frame, meta)
