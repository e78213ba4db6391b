"""trialkit.scaffold: a starting study folder from a raw export (numbered cases, tiny frames; the
end-to-end cases scaffold the simulated exports of both shipped studies at 20 subjects, then run
``spec check`` and ``sdtm`` on the result)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from trialkit.cli import main
from trialkit.errors import InputError
from trialkit.formats import read_export
from trialkit.formats.export import CodeListMeta, EventMeta, ExportForm, ExportMetadata, FormMeta, ItemMeta, RawExport
from trialkit.raw_dictionary import check_form, load_raw_dictionary
from trialkit.scaffold import build_scaffold, scaffold_study
from trialkit.scaffold.infer import infer_field
from trialkit.sdtm.engine import load_checked_specs, run_sdtm


def form(name: str, **columns) -> ExportForm:
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame({"STUDYID": ["S1"] * n, "SITEID": ["01"] * n, **columns}, dtype=str)
    frame = frame[["STUDYID", "SITEID", "SUBJID", *(c for c in columns if c != "SUBJID")]]
    return ExportForm(name, frame, f"{name}.csv")


def export(*forms: ExportForm, metadata: ExportMetadata | None = None) -> RawExport:
    return RawExport(Path("export"), "csv", {f.name: f for f in forms}, metadata)


def guess(values, **kw):
    return infer_field("X", pd.Series(values, dtype=str), **kw)


SUBJECTS = ["001", "002", "003", "004", "005", "006", "007", "008"]


def demography() -> ExportForm:
    return form("dm", SUBJID=SUBJECTS, SEX=["M", "F", "f ", "M", "F", "M", "F", "M"],
                BRTHDAT=["05-JAN-1960", "UN-MAR-1971", "12-DEC-1980", "01-FEB-1955", "30-JUN-1949", "UN-UNK-1962",
                         "17-AUG-1977", "03-MAR-1990"],
                COUNTRY=["FRA", "DEU", "FRA", "DEU", "FRA", "DEU", "FRA", "DEU"])


def adverse_events() -> ExportForm:
    return form("ae", SUBJID=["001", "001", "002", "004"], AETERM=["headache", "nausea", "rash", "headache"],
                AESTDAT=["03/04/2020", "04/05/2020", "10/01/2020", "02/02/2020"], AESER=["N", "N", "Y", "N"])


# -- 1. types, codes and date layouts read off the values ------------------------------------------

@pytest.mark.parametrize(("values", "fmt", "partial"), [
    (["05-JAN-2019", "UN-MAR-2012", "UN-UNK-2001"], "edc", True),
    (["05-JAN-2019", "17-feb-2012"], "edc", False),
    (["31.01.2020", "01.02.2020"], "DD.MM.YYYY", False),
    (["2020-01-31", "2021-12-01"], "YYYY-MM-DD", False),
    (["31/01/2020", "01/02/2020"], "DD/MM/YYYY", False),
    (["01/31/2020", "02/01/2020"], "MM/DD/YYYY", False),
])
def test_01_date_layouts_are_recognized(values, fmt, partial):
    g = guess(values)
    assert (g.type, g.format, g.partial, g.notes) == ("date", fmt, partial, [])


def test_02_a_date_layout_the_values_cannot_decide_is_a_guess_to_check():
    g = guess(["03/04/2020", "01/02/2021"])
    assert (g.type, g.format) == ("date", "DD/MM/YYYY")
    assert "MM/DD/YYYY" in g.notes[0]


@pytest.mark.parametrize(("values", "words"), [
    (["2020-01-31T10:00", "2020-02-01T08:30:00"], "date-time"),
    (["2020-01", "2020-02-13", "2019"], "partial"),
    (["31.01.2020", "01/31/2020", "2020-02-01"], "site_local"),
])
def test_03_dates_the_raw_dictionary_cannot_type_stay_text_with_a_note(values, words):
    g = guess(values)
    assert g.type == "text" and words in g.notes[0]


@pytest.mark.parametrize(("values", "kind"), [
    (["12:30", "08:05"], "time"),
    (["1E-05", "3.2E-03"], "sci"),
    (["12", "130", "7", "44"], "integer"),
    (["1.5", "20", "3.25"], "decimal"),
    (["1,5", "2.0"], "text"),
    (["a long free comment", "another one"], "text"),
])
def test_04_other_types(values, kind):
    assert guess(values).type == kind


def test_05_few_repeated_values_are_codes_one_per_spelling_sites_slipped_on():
    g = guess(["Y", "N", "y", " N", "Y", "N", "N", "Y"])
    assert g.type == "code" and g.codes == {"N": "N", "Y": "Y"}
    assert not check_form(pd.DataFrame({"X": ["Y", "n "]}), _one_field_form(g), None)


def _one_field_form(g):
    from trialkit.raw_dictionary import Field, Form
    return Form("f", "f", (Field(**g.entry()),))


def test_06_a_free_text_field_stays_text_however_few_its_values():
    g = infer_field("AETERM", pd.Series(["headache", "nausea"] * 8))
    assert g.type == "text"


def test_07_small_integers_repeated_are_codes_counts_are_integers():
    assert guess(["1", "2", "2", "1", "1", "2", "2", "1"]).type == "code"
    assert guess([str(k) for k in range(1, 30)]).type == "integer"


def test_08_required_when_never_empty_or_when_the_odm_metadata_says_mandatory():
    assert guess(["a", "b"]).required is True
    assert guess(["a", ""]).required is False
    assert guess(["a", ""], mandatory=True).required is True


def test_09_odm_code_list_gives_codes_and_decodes_and_observed_extras_are_flagged():
    g = guess(["1", "2", "9"], codelist={"1": "Male", "2": "Female"})
    assert g.codes == {"1": "Male", "2": "Female", "9": "9"}
    assert "9" in g.notes[0]


# -- 2. the study folder -----------------------------------------------------------------------------

def test_10_subject_form_studyid_domains_and_not_mapped(tmp_path):
    s, folder = scaffold_study(export(adverse_events(), demography()), "mine", tmp_path / "mine")
    assert (s.studyid, s.subject_form) == ("S1", "dm")
    assert [d.domain for d in s.domains] == ["DM", "AE"]
    dm = yaml.safe_load((folder / "sdtm" / "DM.yaml").read_text())["sources"][0]["variables"]
    assert dm["SEX"] == {"ct": "SEX", "values": {"F": "F", "M": "M"}}
    assert dm["COUNTRY"] == {"ct": "COUNTRY", "codelist": "COUNTRY"}
    assert dm["BRTHDTC"] == {"date": "BRTHDAT"}
    ae = yaml.safe_load((folder / "sdtm" / "AE.yaml").read_text())["sources"][0]["variables"]
    assert ae["AESTDTC"] == {"date": "AESTDAT"} and ae["AESER"]["values"] == {"N": "N", "Y": "Y"}
    assert "to check" in (folder / "sdtm" / "AE.yaml").read_text()          # AEDECOD from the verbatim term
    raw = (folder / "raw_dictionary.yaml").read_text()
    line = next(x for x in raw.splitlines() if "name: AESTDAT" in x)
    assert "format: DD/MM/YYYY" in line and "# to check" in line            # 03/04/2020: day or month first?
    dictionary = load_raw_dictionary(folder)
    assert dictionary.forms["dm"].one_row_per_subject and not dictionary.forms["ae"].one_row_per_subject
    assert {f.name: f.partial for f in dictionary.forms["dm"].fields}["BRTHDAT"] is True
    load_checked_specs(folder)                                               # every field mapped or not_mapped


def test_11_unrecognized_required_dm_variables_are_left_empty_with_a_note(tmp_path):
    s, folder = scaffold_study(export(form("subjects", SUBJID=SUBJECTS[:3], GENDERX=["1", "2", "1"])), "x", tmp_path / "x")
    text = (folder / "sdtm" / "DM.yaml").read_text()
    assert "SEX: {hardcode: ''}  # to map" in text and "COUNTRY: {hardcode: ''}  # to map" in text
    assert s.not_mapped == {"subjects": {"GENDERX": "to map"}}


def test_12_vital_signs_one_field_per_test_become_one_source_per_test_with_visit_and_unit(tmp_path):
    vs = form("vitals", SUBJID=["001", "001", "002", "002"], VISIT=["SCREENING", "WEEK2", "SCREENING", "WEEK2"],
              VSDAT=["2020-01-02", "2020-01-16", "2020-01-03", "2020-01-17"], SYSBP=["120", "131", "118", "125"],
              WEIGHT=["70.5", "71", "80.2", "79.9"])
    vs.labels = {"SYSBP": "Systolic blood pressure (mmHg)"}
    s, folder = scaffold_study(export(demography(), vs), "v", tmp_path / "v")
    sources = yaml.safe_load((folder / "sdtm" / "VS.yaml").read_text())["sources"]
    assert [src["variables"]["VSTESTCD"]["hardcode"] for src in sources] == ["SYSBP", "WEIGHT"]
    assert sources[0]["variables"]["VSORRESU"] == {"hardcode": "mmHg"} and "VSORRESU" not in sources[1]["variables"]
    assert sources[0]["variables"]["VISIT"] == {"visit": "VISIT"}
    assert [(v["raw"], v.get("visitnum")) for v in s.visits] == [("SCREENING", 1), ("WEEK2", 2)]


def test_13_odm_metadata_gives_labels_codes_and_mandatory(tmp_path):
    meta = ExportMetadata("ST.1", {"F.DM": FormMeta("F.DM", "Demographics", ("IT.SEX", "IT.AGE"))},
                          {"IT.SEX": ItemMeta("IT.SEX", "SEX", "text", question="Sex at birth", codelist="CL.SEX"),
                           "IT.AGE": ItemMeta("IT.AGE", "AGE", "integer", question="Age", mandatory=True)},
                          {"CL.SEX": CodeListMeta("CL.SEX", "Sex", "text", {"1": "Male", "2": "Female"})})
    dm = form("F.DM", SUBJID=["A", "B", "C"], **{"IT.SEX": ["1", "2", "1"], "IT.AGE": ["34", "", "71"]})
    _, folder = scaffold_study(export(dm, metadata=meta), "odm", tmp_path / "odm")
    fields = {f.name: f for f in load_raw_dictionary(folder).forms["F.DM"].fields}
    assert fields["IT.SEX"].label == "Sex at birth" and fields["IT.SEX"].codes == {"1": "Male", "2": "Female"}
    assert fields["IT.AGE"].required is True and fields["IT.AGE"].type == "integer"
    assert load_raw_dictionary(folder).forms["F.DM"].label == "Demographics"
    dm_spec = yaml.safe_load((folder / "sdtm" / "DM.yaml").read_text())["sources"][0]["variables"]
    assert dm_spec["SEX"] == {"ct": "IT.SEX", "values": {"1": "M", "2": "F"}}
    assert dm_spec["AGE"] == {"assign": "IT.AGE", "number": True}


# -- 3. bad input: one clear error naming the file and record ----------------------------------------

def test_14_an_empty_export_is_refused(tmp_path):
    with pytest.raises(InputError, match="empty export"):
        build_scaffold(export())
    with pytest.raises(InputError, match="every form is empty"):
        build_scaffold(export(form("dm", SUBJID=[])))


def test_15_a_form_without_a_subject_column_is_refused_naming_the_file(tmp_path):
    bad = ExportForm("lab", pd.DataFrame({"STUDYID": ["S1"], "SITEID": ["1"], "PATIENT": ["7"]}), "lab.csv")
    with pytest.raises(InputError) as err:
        build_scaffold(export(demography(), bad))
    assert str(err.value).startswith("lab.csv: column SUBJID: form lab has no SUBJID column")


def test_16_a_record_without_subject_names_its_row():
    with pytest.raises(InputError, match=r"^dm.csv:2: column SUBJID: record without a subject"):
        build_scaffold(export(form("dm", SUBJID=["001", " "])))


@pytest.mark.parametrize(("name", "column", "match"), [
    ("my form", "X", "form name 'my form'"),
    ("dm", "Date of birth", "column Date of birth: field name 'Date of birth'"),
])
def test_17_names_that_cannot_be_yaml_keys_or_spec_fields_are_refused(name, column, match):
    bad = form(name, SUBJID=["001"], **{column: ["x"]})
    with pytest.raises(InputError, match=match):
        build_scaffold(export(bad))


def test_18_no_form_with_one_record_per_subject(tmp_path):
    with pytest.raises(InputError, match="no form holds one record per subject"):
        build_scaffold(export(adverse_events()))


def test_19_an_existing_folder_is_refused_unless_force(tmp_path):
    folder = tmp_path / "study"
    (folder / "sdtm").mkdir(parents=True)
    (folder / "sdtm" / "XX.yaml").write_text("old")
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="already exists.*--force"):
        scaffold_study(export(demography()), "study", folder)
    scaffold_study(export(demography()), "study", folder, force=True)
    assert not (folder / "sdtm" / "XX.yaml").exists() and (folder / "notes.txt").read_text() == "mine"
    with pytest.raises(InputError, match="study name"):
        scaffold_study(export(demography()), "../up", tmp_path / "other")


# -- 4. end to end: the shipped studies' simulated exports -------------------------------------------

@pytest.mark.parametrize("study", ["ball_relapse", "solid_tumour"])
def test_20_scaffold_then_spec_check_and_sdtm_on_a_shipped_studys_export(study, runner, tmp_path):
    raw, folder = tmp_path / "raw", tmp_path / "new"
    assert runner.invoke(main, ["simulate", "--study", study, "--subjects", "20", "--seed", "3", "--out", str(raw)]).exit_code == 0
    done = runner.invoke(main, ["scaffold", str(raw), "--study", "new", "--out", str(folder)])
    assert done.exit_code == 0, done.output
    checked = runner.invoke(main, ["spec", "check", str(folder)])
    assert checked.exit_code == 0, checked.output
    result = run_sdtm(folder, raw)
    assert not [f for f in result.findings if f.severity == "error"]
    assert len(result.datasets["DM"]) == 20
    ae_rows = len(pd.read_csv(raw / ("ae.csv" if study == "ball_relapse" else "adverse.csv"), dtype=str))
    assert len(result.datasets["AE"]) == ae_rows
    assert (result.datasets["AE"]["AESTDTC"].str.match(r"^\d{4}")).mean() > 0.9
    ran = runner.invoke(main, ["sdtm", "--study", str(folder), str(raw), "--out", str(tmp_path / "sdtm")])
    assert ran.exit_code == 0, ran.output
    again = runner.invoke(main, ["scaffold", str(raw), "--study", "new", "--out", str(folder)])
    assert again.exit_code == 2 and "--force" in again.output


# -- 5. a real ODM file written by an EDC (REDCap; tests/data/odm/SOURCE.md) -------------------------

REDCAP = Path(__file__).parent / "data" / "odm" / "redcap_longitudinal.xml"


def _items(path: Path, oid: str) -> list[str]:
    """The values of one item in the file, read on their own (lxml), in document order."""
    from lxml import etree

    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
    return [e.get("Value") for e in etree.parse(str(path)).iterfind(f".//odm:ItemData[@ItemOID='{oid}']", ns)]


def test_21_a_redcap_odm_export_is_scaffolded_and_mapped_to_dm_and_vs(runner, tmp_path):
    folder = tmp_path / "redcap"
    done = runner.invoke(main, ["scaffold", str(REDCAP), "--study", "redcap", "--out", str(folder)])
    assert done.exit_code == 0, done.output
    assert runner.invoke(main, ["spec", "check", str(folder)]).exit_code == 0
    ran = runner.invoke(main, ["sdtm", "--study", str(folder), str(REDCAP), "--out", str(tmp_path / "sdtm")])
    assert ran.exit_code == 0, ran.output
    result = run_sdtm(folder, REDCAP)
    dm, vs = result.datasets["DM"], result.datasets["VS"]
    studyid = "Project.REDCapRLongitudinal"
    assert sorted(dm["USUBJID"]) == sorted(f"{studyid}-{k}" for k in _items(REDCAP, "study_id"))
    assert sorted(dm["SEX"]) == sorted({"0": "F", "1": "M"}[v] for v in _items(REDCAP, "sex"))
    assert set(dm["RACE"]) <= {"AMERICAN INDIAN OR ALASKA NATIVE", "ASIAN", "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER",
                               "BLACK OR AFRICAN AMERICAN", "WHITE", "MULTIPLE", "UNKNOWN"} and all(dm["RACE"] != "")
    height = vs[vs["VSTESTCD"] == "HEIGHT"]
    assert sorted(height["VSORRES"]) == sorted(_items(REDCAP, "height")) and set(height["VSORRESU"]) == {"cm"}
    assert set(vs["VSTESTCD"]) == {"HEIGHT", "WEIGHT", "BMI"} and len(vs) == 3 * len(dm)
    # no form has a visit field: VISIT comes from the study event each record sits in (its STUDYEVENTOID)
    from lxml import etree

    ns = {"o": "http://www.cdisc.org/ns/odm/v1.3"}
    tree = etree.parse(str(REDCAP))
    names = {e.get("OID"): e.get("Name").upper()[:40] for e in tree.iterfind(".//o:StudyEventDef", ns)}
    events = [(item.xpath("ancestor::o:SubjectData/@SubjectKey", namespaces=ns)[0],
               names[item.xpath("ancestor::o:StudyEventData/@StudyEventOID", namespaces=ns)[0]])
              for item in tree.iterfind(".//o:ItemData[@ItemOID='height']", ns)]
    assert sorted(zip(height["USUBJID"], height["VISIT"])) == sorted((f"{studyid}-{k}", v) for k, v in events)
    assert len(set(height["VISIT"])) > 1 and all(height["VISITNUM"].notna())


def test_22_an_odm_exports_study_events_are_the_visits(tmp_path):
    """No form has a visit field: the StudyEventDefs become study.yaml's visits, in the Protocol's
    StudyEventRef order, the event's Name as VISIT; a repeating event carries a note to check."""
    from lxml import etree

    ns = {"o": "http://www.cdisc.org/ns/odm/v1.3"}
    mdv = etree.parse(str(REDCAP)).find(".//o:MetaDataVersion", ns)
    names = {e.get("OID"): e.get("Name") for e in mdv.iterfind("o:StudyEventDef", ns)}
    order = [r.get("StudyEventOID") for r in mdv.iterfind("o:Protocol/o:StudyEventRef", ns)]
    _, folder = scaffold_study(read_export(REDCAP), "redcap", tmp_path / "redcap")
    visits = yaml.safe_load((folder / "sdtm" / "study.yaml").read_text())["visits"]
    assert [(v["raw"], v["visitnum"], v["visit"]) for v in visits] == [(oid, k, names[oid].upper()[:40]) for k, oid in enumerate(order, 1)]
    meta = ExportMetadata("ST.1", {}, {}, {}, {"SCR": EventMeta("SCR", "Screening"), "CYC": EventMeta("CYC", "Cycle", repeating=True)})
    _, folder = scaffold_study(export(demography(), metadata=meta), "ev", tmp_path / "ev")
    text = (folder / "sdtm" / "study.yaml").read_text()
    assert [(v["raw"], v["visitnum"], v["visit"]) for v in yaml.safe_load(text)["visits"]] == [("SCR", 1, "SCREENING"), ("CYC", 2, "CYCLE")]
    assert [line for line in text.splitlines() if "Repeating" in line] == \
        ['  - {raw: CYC, visitnum: 2, visit: CYCLE}  # to check: a repeating study event (Repeating="Yes"): this VISITNUM covers every repeat']
