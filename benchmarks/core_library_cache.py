"""A full offline cache for the CDISC CORE engine, its CDISC Library metadata built from trialkit's own.

Why: the offline CORE cache (shared/reference/core-cache) lacks the three CDISC Library files the engine
reads for class, dataset and variable metadata (standards_details.pkl, standards_models.pkl,
variables_metadata.pkl; they need a CDISC Library API key to build), and its SDTM CT stops at
2015-12-18. With the stub that shared/tools/core_validate.py puts in their place, CORE 0.17.1 skips
209 of the 430 SDTMIG 3.4 rules on the CDISC pilot and ends 11 in "Class metadata is not found", so a
comparison with trialkit's interpreter covers only half the rules. trialkit holds that metadata
itself: SDTMIG 3.4 (specs/standards/sdtmig-3.4/), the SDTM v2.0 model (sdtm-2.0/) and the NCI SDTM CT
package (ct/). This script writes it in the CDISC Library JSON shapes the engine reads.

What it writes into --out (default /tmp/core-cache-full): a symlink to every file of --cache, and

- standards_details.pkl: {"standards/sdtmig/3-4": the IG product}: ``classes`` (Library class names,
  "Special-Purpose", "Findings About"...) holding ``datasets`` (name, label, datasetStructure,
  ``datasetVariables``: name, label, ordinal, role, core, simpleDatatype and ``_links.codelist``),
  ``_links.model`` -> /mdr/sdtm/2-0, and ``dataset_names``, as CDISCLibraryService.get_standard_details
  returns it;
- standards_models.pkl: {"models/sdtm/2-0": the model}: ``classes`` with ``classVariables`` (General
  Observations holds the identifiers and timing variables, Findings About only --OBJ) or with their
  ``datasets`` (DM, TA, RELREC...), the same datasets listed at the top level, ``dataset_names``,
  ``standard_type``, as get_model_details returns it;
- variables_metadata.pkl: {"library_variables_metadata/sdtmig/3-4": {dataset: {variable: IG variable}}};
- sdtmct-<date>.pkl: {"package", "codelists": [conceptId, definition, extensible, name, preferredTerm,
  submissionValue, synonyms, terms: [conceptId, definition, preferredTerm, submissionValue, synonyms]]},
  as get_codelist_terms_map writes it, from the NCI EVS file itself (the loader of sdtm/terminology.py
  leaves out definitions, and the study overlay is no part of CDISC CT).

Where trialkit's IG files knowingly add to the IG (specs/standards/README.md) the IG is followed: no
DOMAIN -> DOMAIN codelist link (COUNTRY's is dropped anyway, its codelist is not in the package), no
MHSTDY in MH. Ordinals count from 1 within each dataset or class, as in the Library.

Run (with trialkit installed, from outside the repository root):
    python benchmarks/core_library_cache.py [--out /tmp/core-cache-full] [--cache .../core-cache]
    CORE_CACHE=/tmp/core-cache-full shared/tools/core-validate DIR OUT.json --version 3-4 --ct sdtmct-2025-03-28
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import pickle
import re
import sys
from importlib import resources
from pathlib import Path

import yaml

from trialkit.sdtm.standards import load_domains, load_model

SHARED_CACHE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "core-cache"
IG, IG_HREF = "sdtmig/3-4", "/mdr/sdtmig/3-4"
MODEL_HREF = "/mdr/sdtm/2-0"
# trialkit's class names (CT spelling) -> the CDISC Library's, in the model's order
LIBRARY_CLASS = {
    "GENERAL OBSERVATIONS": "General Observations", "INTERVENTIONS": "Interventions", "EVENTS": "Events",
    "FINDINGS": "Findings", "FINDINGS ABOUT": "Findings About", "ASSOCIATED PERSONS": "Associated Persons",
    "SPECIAL PURPOSE": "Special-Purpose", "TRIAL DESIGN": "Trial Design", "STUDY REFERENCE": "Study Reference",
    "RELATIONSHIP": "Relationship",
}
NOT_IN_IG = {("MH", "MHSTDY")}                   # variables trialkit adds to an IG domain table
NO_IG_CODELIST = {"DOMAIN"}                      # codelists trialkit links where the IG gives none


def ct_package() -> tuple[str, list[dict]]:
    """(package name, codelists) of the NCI SDTM CT file that specs/standards/ct/sdtm-ct.yaml names."""
    ct = resources.files("trialkit.specs").joinpath("standards", "ct")
    package_file = yaml.safe_load(ct.joinpath("sdtm-ct.yaml").read_text(encoding="utf-8"))["package_file"]
    date = re.search(r"\d{4}-\d{2}-\d{2}", package_file).group()
    codelists: dict[str, dict] = {}
    with gzip.open(ct.joinpath(package_file), "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            synonyms = row["CDISC Synonym(s)"]
            item = {"conceptId": row["Code"], "definition": row["CDISC Definition"],
                    "preferredTerm": row["NCI Preferred Term"], "submissionValue": row["CDISC Submission Value"],
                    "synonyms": synonyms.split("; ") if synonyms else []}
            if row["Codelist Code"]:
                codelists[row["Codelist Code"]]["terms"].append(item)
            else:           # the key order of the engine's own packages
                codelists[row["Code"]] = {"conceptId": row["Code"], "definition": row["CDISC Definition"],
                                          "extensible": row["Codelist Extensible (Yes/No)"] == "Yes",
                                          "name": row["Codelist Name"]} | item | {"terms": []}
    return f"sdtmct-{date}", list(codelists.values())


def ig_variable(dataset: str, number: int, variable, codes: dict[str, str], package: str) -> dict:
    links = {"self": {"href": f"{IG_HREF}/datasets/{dataset}/variables/{variable.name}"}}
    codelists = [codes[name] for name in variable.codelists if name in codes and name not in NO_IG_CODELIST]
    if codelists:
        links["codelist"] = [{"href": f"/mdr/ct/packages/{package}/codelists/{code}"} for code in codelists]
    return {"name": variable.name, "label": variable.label, "ordinal": str(number), "role": variable.role,
            "core": variable.core, "simpleDatatype": variable.type, "_links": links}


def ig_product(codes: dict[str, str], package: str) -> dict:
    """SDTMIG 3.4 as the CDISC Library's /mdr/sdtmig/3-4, with the engine's ``dataset_names``."""
    classes: dict[str, list[dict]] = {}
    for name, meta in load_domains("sdtmig-3.4").items():
        variables = [v for v in meta.variables if (name, v.name) not in NOT_IN_IG]
        classes.setdefault(meta.cls, []).append({
            "name": name, "label": meta.label, "datasetStructure": meta.structure,
            "_links": {"self": {"href": f"{IG_HREF}/datasets/{name}"},
                       "parentClass": {"title": LIBRARY_CLASS[meta.cls]}},
            "datasetVariables": [ig_variable(name, i, v, codes, package) for i, v in enumerate(variables, 1)]})
    ordered = [cls for cls in LIBRARY_CLASS if cls in classes]
    return {
        "name": "SDTMIG v3.4", "version": "3.4", "effectiveDate": "2021-11-29", "registrationStatus": "Final",
        "_links": {"self": {"href": IG_HREF}, "model": {"href": MODEL_HREF, "title": "SDTM v2.0"}},
        "classes": [{"name": LIBRARY_CLASS[cls], "ordinal": str(i),
                     "datasets": [ds | {"ordinal": str(j)} for j, ds in enumerate(classes[cls], 1)]}
                    for i, cls in enumerate(ordered, 1)],
        "dataset_names": {ds["name"] for datasets in classes.values() for ds in datasets},
    }


def model_variables(variables) -> list[dict]:
    return [{"name": v.name, "label": v.label, "ordinal": str(i), "role": v.role, "simpleDatatype": v.type}
            for i, v in enumerate(variables, 1)]


def model_product() -> dict:
    """The SDTM v2.0 model as the CDISC Library's /mdr/sdtm/2-0, with the engine's ``standard_type`` and
    ``dataset_names``."""
    model = load_model()
    datasets: dict[str, list[dict]] = {}
    for name, ds in model.datasets.items():
        datasets.setdefault(ds.cls, []).append({
            "name": name, "label": ds.label, "_links": {"parentClass": {"title": LIBRARY_CLASS[ds.cls]}},
            "datasetVariables": model_variables(ds.variables)})
    classes = []
    for i, cls in enumerate((c for c in LIBRARY_CLASS if c in model.classes or c in datasets), 1):
        entry = {"name": LIBRARY_CLASS[cls], "ordinal": str(i)}
        if cls in model.classes:
            entry["classVariables"] = model_variables(model.classes[cls])
        if cls in datasets:
            entry["datasets"] = [ds | {"ordinal": str(j)} for j, ds in enumerate(datasets[cls], 1)]
        classes.append(entry)
    every = [ds for c in classes for ds in c.get("datasets", [])]
    return {"name": "SDTM v2.0", "version": "2-0", "effectiveDate": "2021-11-29", "registrationStatus": "Final",
            "standard_type": "sdtm", "_links": {"self": {"href": MODEL_HREF}}, "classes": classes,
            "datasets": every, "dataset_names": {ds["name"] for ds in every}}


def write_cache(out: Path, cache: Path) -> list[str]:
    """Fill ``out`` (created if need be) and return the names of the files written there."""
    out.mkdir(parents=True, exist_ok=True)
    for entry in sorted(cache.iterdir()):
        link = out / entry.name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(entry.resolve())
    package, codelists = ct_package()
    codes = {c["submissionValue"]: c["conceptId"] for c in codelists}
    ig = ig_product(codes, package)
    variables = {ds["name"]: {v["name"]: v for v in ds["datasetVariables"]} for c in ig["classes"] for ds in c["datasets"]}
    written = {
        "standards_details.pkl": {f"standards/{IG}": ig},
        "standards_models.pkl": {"models/sdtm/2-0": model_product()},
        "variables_metadata.pkl": {f"library_variables_metadata/{IG}": variables},
        f"{package}.pkl": {"package": package, "codelists": codelists},
    }
    for name, data in written.items():
        path = out / name
        if path.is_symlink():
            path.unlink()
        with open(path, "wb") as fh:
            pickle.dump(data, fh)
    return list(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/core-cache-full"), help="the cache folder to write")
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("CORE_CACHE", SHARED_CACHE)),
                        help="the offline CORE cache to copy (default: $CORE_CACHE or shared/reference/core-cache)")
    args = parser.parse_args(argv)
    written = write_cache(args.out, args.cache)
    print(f"{args.out}: the files of {args.cache} (symlinked) and {', '.join(written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
