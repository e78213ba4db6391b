"""Tests of trialkit.sdtm.standards and trialkit.sdtm.terminology: the shipped SDTMIG 3.4 metadata,
the SDTM v2.0 model and the SDTM CT package with its study overlay.

Numbered cases. Cases 1-6 read the shipped files and check them against what is known
independently of them: the SDTMIG's own rules (40-character labels, Char/Num, Req/Exp/Perm), terms
anyone can look up (C66731 Sex, C66742 No Yes Response), the CDISC CORE engine's variable/codelist
map of SDTMIG 3.4 (shared/reference/core-cache, a second source for every codelist link; marked
`reference`) and the model (every IG variable must be one the model allows). Cases 7-10 build a
tiny NCI-format package to pin the merge rules and their errors.
"""

from __future__ import annotations

import gzip
import pickle
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from reference_data import REFERENCE

from trialkit.errors import SpecError
from trialkit.sdtm.standards import (
    GENERAL_OBSERVATION_CLASSES,
    codelist_links,
    domain_class,
    load_codelists,
    load_domains,
    load_model,
)
from trialkit.sdtm.terminology import read_package

CORE_MAPS = REFERENCE / "core-cache" / "variable_codelist_maps.pkl"
CLASSES = {"SPECIAL PURPOSE", "INTERVENTIONS", "EVENTS", "FINDINGS", "FINDINGS ABOUT", "TRIAL DESIGN",
           "STUDY REFERENCE", "RELATIONSHIP"}
ROLES = {"Identifier", "Topic", "Timing", "Grouping Qualifier", "Result Qualifier", "Synonym Qualifier",
         "Record Qualifier", "Variable Qualifier", "Rule"}
# the SDTMIG 3.4 datasets, from its section 3.2.1 table (63)
IG_DATASETS = {"CO", "DM", "SE", "SM", "SV", "AG", "CM", "EC", "EX", "ML", "PR", "SU", "AE", "BE", "CE", "DS", "DV", "HO",
               "MH", "BS", "CP", "CV", "DA", "DD", "EG", "FT", "GF", "IE", "IS", "LB", "MB", "MI", "MK", "MS", "NV", "OE",
               "PC", "PE", "PP", "QS", "RE", "RP", "RS", "SC", "SS", "TR", "TU", "UR", "VS", "FA", "SR", "TA", "TD", "TE",
               "TI", "TM", "TS", "TV", "RELREC", "RELSPEC", "RELSUB", "SUPPQUAL", "OI"}


@pytest.fixture(scope="module")
def domains():
    return load_domains()


@pytest.fixture(scope="module")
def ct():
    return load_codelists()


def test_01_every_sdtmig_dataset_with_class_label_structure(domains):
    assert set(domains) == IG_DATASETS
    for name, meta in domains.items():
        assert meta.cls in CLASSES, name
        label = meta.label.replace("[domain name]", "AE")      # SUPPQUAL's label is a template: "... for AE"
        assert label and len(label) <= 40 and meta.structure.startswith("One record per"), name
        assert meta.keys and set(meta.keys) <= set(meta.names), name
    assert {n: domains[n].cls for n in ("VS", "AE", "CM", "FA", "DM", "TS", "RELREC", "OI")} == {
        "VS": "FINDINGS", "AE": "EVENTS", "CM": "INTERVENTIONS", "FA": "FINDINGS ABOUT", "DM": "SPECIAL PURPOSE",
        "TS": "TRIAL DESIGN", "RELREC": "RELATIONSHIP", "OI": "STUDY REFERENCE"}


def test_02_every_variable_is_well_formed(domains):
    for name, meta in domains.items():
        assert len(set(meta.names)) == len(meta.names), name
        for v in meta.variables:
            where = f"{name}.{v.name}"
            assert v.name.isupper() and len(v.name) <= 8, where
            assert 0 < len(v.label) <= 40, where
            assert v.type in ("Char", "Num"), where
            assert v.core in ("Req", "Exp", "Perm"), where
            assert v.role in ROLES, where
            assert v.codelist == (v.codelists[0] if v.codelists else None), where
    vs = domains["VS"].variable("VSTESTCD")
    assert (vs.core, vs.role, vs.codelist) == ("Req", "Topic", "VSTESTCD")
    assert domains["DS"].variable("DSDECOD").codelists == ("NCOMPLT", "PROTMLST", "OTHEVENT")


def test_03_every_codelist_a_variable_names_is_in_the_ct(domains, ct):
    missing = {(d, v.name, c) for d, meta in domains.items() for v in meta.variables for c in v.codelists if c not in ct}
    assert missing == set()


@pytest.mark.reference
def test_04_codelist_links_agree_with_the_core_engine_map():
    """The NCI codes of each variable's codelists equal CORE's sdtmig-3-4 map, a second export of the
    CDISC Library, except trialkit's two documented additions (DOMAIN, COUNTRY) and MSRESCAT, whose
    codelist SDTM CT no longer holds."""
    core = {k: set(v) for k, v in pickle.loads(CORE_MAPS.read_bytes())["sdtmig-3-4-codelists"].items() if k != "name"}
    ours: dict[str, set[str]] = {}
    for (_, variable), codes in codelist_links().items():
        if variable not in ("DOMAIN", "COUNTRY"):
            ours.setdefault(variable, set()).update(codes)
    assert {k: v for k, v in core.items() if k not in ours} == {"MSRESCAT": {"C85495"}}
    assert {k: (v, core.get(k)) for k, v in ours.items() if core.get(k) != v} == {}
    assert len(ours) == 523
    assert codelist_links()[("DS", "DSDECOD")] == ("C66727", "C114118", "C150811")


def test_05_known_terms(ct):
    sex = ct["SEX"]
    assert (sex.code, sex.extensible) == ("C66731", False)
    assert {t["value"]: t["code"] for t in sex.terms} == {"F": "C16576", "M": "C20197", "U": "C17998", "INTERSEX": "C45908"}
    ny = ct["NY"]
    assert (ny.code, ny.extensible, ny.subset) == ("C66742", False, False)
    assert sorted(ny.values) == ["N", "NA", "U", "Y"]
    assert ct["UNIT"].extensible and len(ct["UNIT"].terms) > 900
    lb = {t["value"]: t for t in ct["LBTESTCD"].terms}
    assert (lb["ALB"]["code"], lb["ALB"]["decode"]) == ("C64431", "Albumin")      # a test code decodes to its test name
    assert len(ct) > 1100 and ct["COUNTRY"].subset and ct["TOXGR"].sponsor
    recoded, unmatched = ct["NY"].recode(pd.Series(["yes", " n ", "Maybe", ""]))
    assert recoded.tolist() == ["Y", "N", "", ""] and unmatched.tolist() == [False, False, True, False]
    recoded, unmatched = ct["UNIT"].recode(pd.Series(["Pa", "PA", "pa"]))          # Pa (pascal) and PA differ only in case
    assert recoded.tolist() == ["Pa", "PA", ""] and unmatched.tolist() == [False, False, True]


def test_06_model_classes_and_ig_variables_the_model_allows(domains):
    model = load_model()
    assert [v.name for v in model.identifiers[:3]] == ["STUDYID", "DOMAIN", "USUBJID"]
    assert {"VISITNUM", "EPOCH", "--DTC", "--STDTC"} <= {v.name for v in model.timing}
    assert [v.name for v in model.class_variables("FINDINGS")[:2]] == ["--TESTCD", "--TEST"]
    assert [v.name for v in model.class_variables("FINDINGS ABOUT")[:3]] == ["--TESTCD", "--TEST", "--OBJ"]
    assert [v.name for v in model.class_variables("INTERVENTIONS")[:1]] == ["--TRT"]
    assert [v.name for v in model.class_variables("EVENTS")[:1]] == ["--TERM"]
    for name, meta in domains.items():
        allowed = {v.named_for(name) for v in model.variables_for(name, meta.cls)}
        assert set(meta.names) <= allowed, (name, set(meta.names) - allowed)
    assert (domain_class("SUPPAE"), domain_class("sj"), domain_class("XX")) == ("RELATIONSHIP", "SPECIAL PURPOSE", None)
    assert all(c in model.classes for c in GENERAL_OBSERVATION_CLASSES)


def _package(tmp_path: Path, rows: list[str]) -> Path:
    header = ("Code\tCodelist Code\tCodelist Extensible (Yes/No)\tCodelist Name\tCDISC Submission Value\t"
              "CDISC Synonym(s)\tCDISC Definition\tNCI Preferred Term")
    path = tmp_path / "pkg.txt.gz"
    path.write_bytes(gzip.compress("\n".join([header, *rows]).encode()))
    return path


ROWS = ["C1\t\tNo\tYes No\tYN\t\tdef\tYes No Terminology",
        "C11\tC1\t\tYes No\tY\tYes\tdef\tYes",
        "C12\tC1\t\tYes No\tN\tNo\tdef\tNo",
        "C2\t\tYes\tWidget Test Code\tWTESTCD\t\tdef\tWidget Test Code Terminology",
        "C21\tC2\t\tWidget Test Code\tWLEN\tWidget Length\tdef\tWidget Length Measurement",
        "C3\t\tYes\tWidget Test Name\tWTEST\t\tdef\tWidget Test Name Terminology",
        "C21\tC3\t\tWidget Test Name\tWidget Length\tWidget Length\tdef\tWidget Length Measurement"]


def test_07_package_read_with_decodes(tmp_path):
    pkg = read_package(_package(tmp_path, ROWS))
    assert sorted(pkg) == ["WTEST", "WTESTCD", "YN"]
    assert [(t["value"], t["decode"], t["cdisc_synonyms"]) for t in pkg["YN"].terms] == [("Y", "Yes", ("Yes",)), ("N", "No", ("No",))]
    assert pkg["WTESTCD"].terms[0]["decode"] == "Widget Length"        # the paired test name, not the NCI term
    assert pkg["WTEST"].terms[0]["decode"] == "Widget Length"
    assert (pkg["YN"].code, pkg["YN"].extensible, pkg["WTESTCD"].extensible) == ("C1", False, True)


def test_08_overlay_adds_synonyms_extensions_and_sponsor_lists(tmp_path):
    pkg = read_package(_package(tmp_path, ROWS))
    pkg.merge({"YN": {"terms": [{"value": "Y", "synonyms": ["YES"]}]},
               "WTESTCD": {"terms": [{"value": "WWID", "decode": "Widget Width", "extended": True}]},
               "MYLIST": {"name": "Sponsor list", "sponsor": True, "terms": [{"value": "A"}]}}, file="overlay.yaml")
    assert pkg["YN"].recode(pd.Series(["yes"]))[0].tolist() == ["Y"]
    assert [(t["value"], t.get("extended", False)) for t in pkg["WTESTCD"].terms] == [("WLEN", False), ("WWID", True)]
    assert pkg["MYLIST"].sponsor and "MYLIST" in list(pkg) and len(pkg) == 4


@pytest.mark.parametrize("overlay, message, key", [
    ({"YN": {"terms": [{"value": "MAYBE", "extended": True}]}}, "not extensible", "codelists.YN.terms[0]"),
    ({"WTESTCD": {"terms": [{"value": "WWID"}]}}, "mark a sponsor extension", "codelists.WTESTCD.terms[0]"),
    ({"YN": {"terms": [{"value": "Y", "code": "C99"}]}}, "synonyms only", "codelists.YN.terms[0]"),
    ({"YN": {"extensible": True}}, "only terms and note", "codelists.YN"),
    ({"YN": {"sponsor": True, "terms": []}}, "not a sponsor list", "codelists.YN"),
    ({"YN": {"terms": [{"value": "Y", "synonyms": ["N"]}]}}, "maps to two terms", "codelists.YN"),
])
def test_09_bad_overlay_is_an_error_naming_file_and_key(tmp_path, overlay, message, key):
    pkg = read_package(_package(tmp_path, ROWS))
    with pytest.raises(SpecError, match=message) as err:
        pkg.merge(overlay, file="overlay.yaml")
    assert (err.value.file, err.value.key) == ("overlay.yaml", key)


def test_10_not_a_package_file_is_an_error_naming_it(tmp_path):
    bad = tmp_path / "bad.txt.gz"
    bad.write_bytes(gzip.compress(b"Code\tName\nC1\tx\n"))
    with pytest.raises(SpecError, match="not an NCI EVS terminology file") as err:
        read_package(bad)
    assert err.value.file == str(bad)
    with pytest.raises(SpecError, match="cannot read"):
        read_package(tmp_path / "missing.txt.gz")


def test_11_the_package_ships_as_package_data():
    ct_dir = resources.files("trialkit.specs").joinpath("standards", "ct")
    assert ct_dir.joinpath("sdtm-terminology-2025-03-28.txt.gz").is_file()
    assert resources.files("trialkit.specs").joinpath("standards", "sdtm-2.0", "FINDINGS.yaml").is_file()
