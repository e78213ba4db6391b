"""Tests of trialkit.define: Define-XML 2.1 for the SDTM and ADaM datasets of the demo study.

The demo is run once (``trialkit demo``); both define.xml files are then read back with lxml and
compared with the XPT files they describe: labels, lengths and data types per variable, every data
value of a coded variable in its codelist, value-level metadata per test code and parameter, origins
and derivations taken from the specs. Bad specs are built in tmp_path from a copy of the shipped
study; each error must name the spec file and key, before anything is written.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree
from odmlib.schema_manager import get_schema_path

from trialkit.dataset_json import write_dataset_json
from trialkit.define import WrittenDatasets, build_define, check_define_specs, define_links, validate_define, write_define
from trialkit.errors import InputError, SpecError
from trialkit.sdtm.standards import load_codelists
from trialkit.spec import study_dir
from trialkit.xpt import DatasetMeta, Variable, read_xpt, write_xpt

STUDY = "ball_relapse"
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1",
      "xlink": "http://www.w3.org/1999/xlink"}
HREF = "{http://www.w3.org/1999/xlink}href"



@pytest.fixture(scope="session")
def defines(demo, tmp_path_factory) -> dict[str, Path]:
    """write_define on a copy of the demo's datasets (the demo folder is shared by the whole run)."""
    copy = tmp_path_factory.mktemp("defines")
    for stage in ("sdtm", "adam"):
        shutil.copytree(demo / stage, copy / stage)
    return {"SDTM": write_define("SDTM", STUDY, copy / "sdtm"), "ADaM": write_define("ADaM", STUDY, copy / "adam")}


class Define:
    """A define.xml read back: elements by OID, and what the test needs to walk it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.root = etree.parse(str(path)).getroot()
        self.by_oid = {el.get("OID"): el for el in self.root.iter() if el.get("OID")}

    def all(self, tag: str) -> list:
        return self.root.findall(f".//{tag}", NS)

    def text(self, el) -> str:
        return el.find("odm:Description/odm:TranslatedText", NS).text

    def codelist(self, item_def) -> set[str] | None:
        ref = item_def.find("odm:CodeListRef", NS)
        if ref is None:
            return None
        cl = self.by_oid[ref.get("CodeListOID")]
        return {i.get("CodedValue") for i in cl if i.tag in (f"{{{NS['odm']}}}CodeListItem", f"{{{NS['odm']}}}EnumeratedItem")}

    def datasets(self):
        """(ItemGroupDef, frame, meta) for every dataset, read from the file its leaf points at."""
        for ig in self.all("odm:ItemGroupDef"):
            frame, meta = read_xpt(self.path.parent / ig.find("def:leaf", NS).get(HREF))
            yield ig, frame, meta

    def value_level(self, item_def):
        """(ItemDef of the value, rows mask) for each value-level entry of a variable."""
        ref = item_def.find("def:ValueListRef", NS)
        if ref is None:
            return
        for item_ref in self.by_oid[ref.get("ValueListOID")].findall("odm:ItemRef", NS):
            where = self.by_oid[item_ref.find("def:WhereClauseRef", NS).get("WhereClauseOID")]
            checks = [(self.by_oid[rc.get(f"{{{NS['def']}}}ItemOID")].get("Name"), rc.find("odm:CheckValue", NS).text)
                      for rc in where.findall("odm:RangeCheck", NS)]
            yield self.by_oid[item_ref.get("ItemOID")], item_ref, checks


@pytest.fixture(scope="session")
def sdtm(defines) -> Define:
    return Define(defines["SDTM"])


@pytest.fixture(scope="session")
def adam(defines) -> Define:
    return Define(defines["ADaM"])


def _copy_study(tmp_path: Path) -> Path:
    folder = tmp_path / "study"
    shutil.copytree(study_dir(STUDY), folder)
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# 1. valid Define-XML 2.1


def test_01_both_defines_validate_against_the_define_21_xsd_odmlib_ships(defines):
    schema = etree.XMLSchema(etree.parse(get_schema_path("define", "2.1")))
    for kind, path in defines.items():
        tree = etree.parse(str(path))
        assert schema.validate(tree), f"{kind}: {schema.error_log}"
        assert tree.getroot().find("odm:Study/odm:MetaDataVersion", NS).get(f"{{{NS['def']}}}DefineVersion") == "2.1.0"


def test_02_standards_name_the_ig_and_the_ct_package(sdtm, adam):
    found = {(s.get("Name"), s.get("Type"), s.get("Version")) for s in sdtm.all("def:Standards/def:Standard")}
    assert found == {("SDTMIG", "IG", "3.4"), ("CDISC/NCI", "CT", "2025-03-28")}
    standards = adam.all("def:Standards/def:Standard")
    assert ("ADaMIG", "IG", "1.3") in {(s.get("Name"), s.get("Type"), s.get("Version")) for s in standards}


def test_03_validate_define_reports_a_broken_document(sdtm):
    broken = sdtm.path.read_bytes().replace(b'Repeating="Yes"', b'Repeating="Often"', 1)
    errors = validate_define(broken)
    assert errors and "Repeating" in errors[0]


# --------------------------------------------------------------------------------------------
# 2. the define agrees with the files


def test_04_every_dataset_written_is_described_with_its_labels_lengths_and_order(demo, sdtm, adam):
    for define, folder in ((sdtm, demo / "sdtm"), (adam, demo / "adam")):
        described = {ig.get("Name") for ig in define.all("odm:ItemGroupDef")}
        assert described == {p.stem.upper() for p in folder.glob("*.xpt")}
        for ig, frame, meta in define.datasets():
            assert define.text(ig) == meta.label
            refs = ig.findall("odm:ItemRef", NS)
            assert [define.by_oid[r.get("ItemOID")].get("Name") for r in refs] == [v.name for v in meta.variables]
            for ref, var in zip(refs, meta.variables):
                item = define.by_oid[ref.get("ItemOID")]
                where = f"{meta.name}.{var.name}"
                assert define.text(item) == var.label, where
                assert int(item.get("Length")) == var.length, where    # the stored XPT length
                if var.type == "Char":
                    longest = frame[var.name].str.encode("utf-8").str.len().max() if len(frame) else 0
                    assert var.length == max(longest, 1), where        # ... which is the longest value written
                assert item.get(f"{{{NS['def']}}}DisplayFormat") == var.format, where


def test_05_data_types_follow_the_values(sdtm, adam):
    items = {**{o: e for o, e in sdtm.by_oid.items() if o.startswith("IT.")}, **{o: e for o, e in adam.by_oid.items()
                                                                                 if o.startswith("IT.")}}
    assert items["IT.LB.LBSEQ"].get("DataType") == "integer"
    assert items["IT.LB.LBSTRESN"].get("DataType") == "float"
    assert int(items["IT.LB.LBSTRESN"].get("SignificantDigits")) >= 1
    assert items["IT.EX.EXSTDTC"].get("DataType") == "datetime"        # infusions carry a time
    assert items["IT.DM.RFSTDTC"].get("DataType") == "datetime"        # the first dose: a blinatumomab infusion's time
    assert items["IT.DM.RFICDTC"].get("DataType") == "date"
    assert items["IT.TE.TEDUR"].get("DataType") == "durationDatetime"
    assert (items["IT.ADSL.TRTSDT"].get("DataType"), items["IT.ADSL.TRTSDT"].get(f"{{{NS['def']}}}DisplayFormat")) == \
        ("integer", "DATE9.")


def test_06_every_value_of_a_coded_variable_is_in_its_codelist(sdtm, adam):
    checked = 0
    for define in (sdtm, adam):
        for ig, frame, meta in define.datasets():
            for ref in ig.findall("odm:ItemRef", NS):
                item = define.by_oid[ref.get("ItemOID")]
                name = item.get("Name")
                values = frame[name].astype(str)
                terms = define.codelist(item)
                if terms is not None:
                    assert set(values[values != ""]) <= terms, f"{meta.name}.{name}"
                    checked += 1
                for value_item, _, checks in define.value_level(item):
                    mask = pd.Series(True, index=frame.index)
                    for other, wanted in checks:
                        mask &= frame[other].astype(str) == wanted
                    assert mask.any(), f"{value_item.get('OID')} describes no record"
                    subset = frame.loc[mask, name]
                    if value_item.get("DataType") == "text":
                        assert int(value_item.get("Length")) == max(subset.str.len().max(), 1), value_item.get("OID")
                    value_terms = define.codelist(value_item)
                    if value_terms is not None:
                        shown = subset.astype(str)
                        assert set(shown[shown != ""]) <= value_terms, value_item.get("OID")
                        checked += 1
    assert checked > 40


def test_07_ct_codelists_carry_the_nci_codes_of_the_ct_and_only_the_terms_used(sdtm):
    ct = load_codelists()
    sex = sdtm.by_oid["CL.SEX"]
    assert sex.find("odm:Alias", NS).get("Name") == ct["SEX"].code == "C66731"
    items = {i.get("CodedValue"): i.find("odm:Alias", NS).get("Name") for i in sex.findall("odm:CodeListItem", NS)}
    assert items == {"F": "C16576", "M": "C20197"}                    # U is in the CT, not in the data
    for cl in sdtm.all("odm:CodeList"):
        if cl.get(f"{{{NS['def']}}}StandardOID") is None:
            continue
        codes = {str(t["value"]): t.get("code") for t in ct[cl.get("OID")[3:]].terms}
        for item in cl:
            alias = item.find("odm:Alias", NS) if item.get("CodedValue") else None
            if alias is not None:
                assert codes[item.get("CodedValue")] == alias.get("Name"), (cl.get("OID"), item.get("CodedValue"))


def test_08_an_extended_value_of_an_extensible_list_is_flagged(sdtm):
    def extended(oid: str) -> dict:
        return {i.get("CodedValue"): i.get(f"{{{NS['def']}}}ExtendedValue") for i in sdtm.by_oid[oid] if i.get("CodedValue")}

    assert extended("CL.ONCRSCAT") == {"BONE MARROW RESPONSE": "Yes"}     # the CT subset has no term: the data's value
    assert extended("CL.ONCRTSCD") == {"MARSTAT": "Yes", "OVRLRESP": None}  # the CT file marks MARSTAT extended: true


# --------------------------------------------------------------------------------------------
# 3. origins, derivations, value-level metadata from the specs


def _origin(define: Define, oid: str):
    origins = define.by_oid[oid].findall("def:Origin", NS)
    return [(o.get("Type"), "".join(o.itertext()).strip()) for o in origins], origins


def _method_of(define: Define, dataset: str, variable: str) -> str:
    refs = define.by_oid[f"IG.{dataset}"].findall("odm:ItemRef", NS)
    ref = next(r for r in refs if r.get("ItemOID") == f"IT.{dataset}.{variable}")
    return define.text(define.by_oid[ref.get("MethodOID")])


def test_09_collected_data_name_the_raw_form_as_the_crf_page(sdtm):
    (origin,), elements = _origin(sdtm, "IT.DM.SEX")
    assert origin == ("Collected", "form dm, field SEX recoded to CT SEX")
    page = elements[0].find("def:DocumentRef/def:PDFPageRef", NS)
    assert (page.get("Type"), page.get("PageRefs")) == ("NamedDestination", "dm")
    assert sdtm.root.find(".//def:AnnotatedCRF/def:DocumentRef", NS).get("leafID") == "LF.acrf"


def test_10_assigned_derived_protocol_origins_follow_the_algorithm(sdtm):
    assert _origin(sdtm, "IT.LB.LBTESTCD")[0] == [("Assigned", "")]
    assert _origin(sdtm, "IT.LB.LBSEQ")[0] == [("Derived", "")]
    assert "sorting by LBDTC, LBTESTCD" in _method_of(sdtm, "LB", "LBSEQ")        # derive.seq of LB.yaml
    assert "DM.RFSTDTC" in _method_of(sdtm, "LB", "LBDY")
    assert "SCREENING if before RFSTDTC" in _method_of(sdtm, "LB", "EPOCH")
    assert _origin(sdtm, "IT.TS.TSVAL")[0][0][0] == "Protocol"
    assert "'CR' if norm(MSTATUS) == 'M1'" in _method_of(sdtm, "RS", "RSORRES")


def test_11_lb_and_rs_results_have_value_level_metadata_per_test_code(sdtm):
    for dataset, variable, tests in (("LB", "LBORRES", {"BLASTNCE", "LEUKCE"}), ("RS", "RSSTRESC", {"MARSTAT", "OVRLRESP"})):
        rows = list(sdtm.value_level(sdtm.by_oid[f"IT.{dataset}.{variable}"]))
        assert {checks[0][1] for _, _, checks in rows} == tests
    marrow = sdtm.by_oid["IT.RS.RSSTRESC.MARSTAT"]
    # M1/M2/M3 are ONCRSR terms in SDTM CT 2025-03-28 (C204689-C204691): the CDISC list, not a study recode table
    assert marrow.find("odm:CodeListRef", NS).get("CodeListOID") == "CL.ONCRSR"
    assert {"M1", "M2", "M3"} <= sdtm.codelist(marrow)
    (origin,), _ = _origin(sdtm, "IT.LB.LBORRES.BLASTNCE")
    assert origin == ("Collected", "form bm, field BLASTPCT")


def test_12_adam_predecessors_name_the_source_variable(adam):
    assert _origin(adam, "IT.ADSL.AGE")[0] == [("Predecessor", "DM.AGE")]
    assert _origin(adam, "IT.ADTTE.TRT01P")[0] == [("Predecessor", "ADSL.TRT01P")]
    comment = adam.by_oid[adam.by_oid["IT.ADSL.MRDBLC"].get(f"{{{NS['def']}}}CommentOID")]
    assert "LBTESTCD == 'LEUKCE' and VISIT == 'SCREENING'" in adam.text(comment)


def test_13_adtte_aval_per_paramcd_carries_event_and_censor_definitions(adam):
    rows = {checks[0][1]: (item, ref) for item, ref, checks in adam.value_level(adam.by_oid["IT.ADTTE.AVAL"])}
    assert set(rows) == {"EFS", "OS", "RFS"}
    efs = adam.text(adam.by_oid[rows["EFS"][1].get("MethodOID")])
    assert "RELAPSE: CE where CECAT == 'RELAPSE', date CESTDTC" in efs
    assert "LAST DISEASE ASSESSMENT: RS where RSTESTCD == 'MARSTAT', date RSDTC" in efs
    assert "ADSL.DCUTDT" in efs
    paramcd = adam.by_oid[adam.by_oid["IT.ADTTE.PARAMCD"].find("odm:CodeListRef", NS).get("CodeListOID")]
    decodes = {i.get("CodedValue"): "".join(i.itertext()).strip() for i in paramcd.findall("odm:CodeListItem", NS)}
    assert decodes["OS"] == "Overall Survival (days)"


def test_14_adrs_avalc_per_paramcd(adam):
    rows = {checks[0][1]: item for item, _, checks in adam.value_level(adam.by_oid["IT.ADRS.AVALC"])}
    assert set(rows) == {"MARSTAT", "OVRLRESP", "MRDRESP", "MRDREM", "CREOT", "BOR"}
    assert _origin(adam, rows["MARSTAT"].get("OID"))[0] == [("Predecessor", "RS.RSSTRESC")]
    assert adam.codelist(rows["BOR"]) == {"CR", "NON-CR", "RELAPSE", "NOT EVALUABLE"}


def test_15_an_occurrence_dataset_keeps_its_source_records_and_states_its_imputations(adam):
    adae = adam.by_oid["IG.ADAE"]
    assert adae.find("def:Class", NS).get("Name") == "OCCURRENCE DATA STRUCTURE"
    assert _origin(adam, "IT.ADAE.AESEQ")[0] == [("Predecessor", "AE.AESEQ")]
    assert "imputed to the first possible date, not before TRTSDT" in _method_of(adam, "ADAE", "ASTDT")
    assert _origin(adam, "IT.ADAE.ASTDTF")[0] == [("Derived", "")]


def test_16_define_links_match_the_document(sdtm):
    links = define_links("SDTM", STUDY)
    assert links.study_oid == sdtm.root.find("odm:Study", NS).get("OID")
    assert links.metadata_version_oid == sdtm.root.find("odm:Study/odm:MetaDataVersion", NS).get("OID")
    assert links.keys["DM"] == ("STUDYID", "USUBJID")


def test_17_a_folder_of_dataset_json_files_gives_the_same_define(demo, adam, tmp_path):
    expected = set()
    for path in (demo / "adam").glob("*.xpt"):
        frame, meta = read_xpt(path)
        expected.add(write_dataset_json(frame, meta, tmp_path, ndjson=path.stem == "adrs").name)
    json_define = Define(write_define("ADaM", STUDY, tmp_path))
    assert {ig.find("def:leaf", NS).get(HREF) for ig in json_define.all("odm:ItemGroupDef")} == expected
    assert "adrs.ndjson" in expected
    lengths = {o: e.get("Length") for o, e in adam.by_oid.items() if o.startswith("IT.")}
    assert {o: e.get("Length") for o, e in json_define.by_oid.items() if o.startswith("IT.")} == lengths


# --------------------------------------------------------------------------------------------
# 4. bad input


@pytest.mark.parametrize("kind, file, old, new, key", [
    ("ADaM", "adam/ADTTE.yaml", "label: Time-to-Event Analysis Dataset", "label: Time-to-Event Analysis Dataset of Every Subject",
     "label"),
    ("SDTM", "sdtm/DM.yaml", "values: {BLIN: BLIN, HC3: HC3}", "values: {}", "sources[0].variables.ARMCD.values"),
    ("ADaM", "adam/ADSL.yaml", "  LSTALVDT: Date Last Known Alive",
     "  LSTALVDT: Date Last Known Alive\n  FOOVAR: Made by Nothing", "variables.FOOVAR"),
    ("SDTM", "sdtm/DM.yaml", "field: RANDNO, qorig: CRF", "field: RANDNO, qorig: PAPER", "sources[0].supp[0].qorig"),
], ids=["label-too-long", "codelist-without-terms", "variable-without-origin", "unknown-qorig"])
def test_18_bad_spec_metadata_is_an_error_naming_file_and_key(tmp_path, kind, file, old, new, key):
    study = _copy_study(tmp_path)
    _edit(study / file, old, new)
    with pytest.raises(SpecError) as err:
        check_define_specs(kind, study)
    assert Path(err.value.file) == study / file
    assert err.value.key == key


def test_19_a_bad_spec_stops_write_define_before_any_file_is_written(demo, tmp_path):
    study = _copy_study(tmp_path)
    _edit(study / "adam/ADTTE.yaml", "label: Time-to-Event Analysis Dataset", "label: " + "X" * 41)
    out = tmp_path / "out" / "define.xml"
    out.parent.mkdir()
    with pytest.raises(SpecError):
        write_define("ADaM", study, demo / "adam", out)
    assert list(out.parent.iterdir()) == []


def test_20_a_variable_no_spec_describes_is_an_input_error_naming_file_and_column(demo, tmp_path):
    frame, meta = read_xpt(demo / "sdtm" / "dm.xpt")
    frame["FOO"] = "x"
    write_xpt(frame, DatasetMeta(meta.name, meta.label, (*meta.variables, Variable("FOO", "Foo", "Char"))), tmp_path)
    with pytest.raises(InputError) as err:
        build_define("SDTM", STUDY, tmp_path)
    assert err.value.column == "FOO" and err.value.file.endswith("dm.xpt")


def test_21_key_variables_identify_every_record_of_the_datasets_written(demo):
    """Test 21: the keys define.xml states (the IG's plus the study's, e.g. AE's AESPID) identify
    every record of every SDTM dataset written, so a reviewer can trust them as keys."""
    links = define_links("SDTM", STUDY)
    assert links.keys["AE"][-1] == "AESPID" and links.keys["DS"][-1] == "DSSCAT"
    for path in sorted((demo / "sdtm").glob("*.xpt")):
        frame, meta = read_xpt(path)
        keys = [k for k in links.keys.get(meta.name, ()) if k in frame]
        if keys and not meta.name.startswith("SUPP"):
            assert not frame.duplicated(keys).any(), (meta.name, keys, frame[frame.duplicated(keys, keep=False)].head())


@pytest.mark.parametrize("formats", [("xpt",), ("ndjson",)])
def test_22_define_from_the_datasets_as_written_equals_define_from_the_files(demo, tmp_path, formats):
    """Test 22: the SDTM and ADaM stages hand each dataset to define.xml as they write it, instead of
    reading the files again; the define.xml they write must be byte for byte the one the files give.
    The demo ran the stages with XPT; NDJSON runs them again."""
    from trialkit.pipeline import adam_stage, sdtm_stage

    out = demo
    if formats != ("xpt",):
        out = tmp_path
        sdtm_stage(STUDY, demo / "raw", out / "sdtm", formats=formats)
        adam_stage(STUDY, out / "sdtm", out / "adam", formats=formats)
    for kind, folder in (("SDTM", out / "sdtm"), ("ADaM", out / "adam")):
        written = (folder / "define.xml").read_bytes()
        created = datetime.fromisoformat(etree.fromstring(written).get("CreationDateTime"))
        assert build_define(kind, STUDY, folder, created=created) == written, kind
        assert WrittenDatasets(kind, STUDY).links == define_links(kind, STUDY)


def test_23_an_expected_variable_not_collected_says_why_and_derived_dates_say_how(sdtm):
    """Test 23: an Exp variable the study does not collect is in define.xml with origin Not Available
    and the spec's not_collected reason as its comment (SDTMIG 3.4 section 4.1.5), from a domain spec
    (AE.AELLT) or study.yaml (TA.TATRANS); DM's reference dates, SE's and SV's new variables describe
    their derivations."""
    for oid, reason in (("IT.AE.AELLT", "the EDC codes the preferred term, not the lowest level term"),
                        ("IT.TA.TATRANS", "no arm leaves its element order")):
        assert _origin(sdtm, oid)[0] == [("Not Available", "")]
        comment = sdtm.by_oid[sdtm.by_oid[oid].get(f"{{{NS['def']}}}CommentOID")]
        assert sdtm.text(comment).startswith(f"Not collected: {reason}")
    assert "DS.DSSTDTC where DSDECOD == 'RANDOMIZED'" in _method_of(sdtm, "DM", "RFENDTC")
    assert _method_of(sdtm, "DM", "RFSTDTC") == "Earliest of EX.EXSTDTC per subject"
    assert "DM.RFXSTDTC, else DM.RFENDTC" in _method_of(sdtm, "SE", "SEENDTC")
    assert "SESTDTC - DM.RFSTDTC + 1" in _method_of(sdtm, "SE", "SESTDY")
    assert "trial design (TV)" in _method_of(sdtm, "SV", "SVPRESP")
    assert "on or before the date of DM.RFXSTDTC" in _method_of(sdtm, "LB", "LBLOBXFL")
