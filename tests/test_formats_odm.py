"""The ODM 1.3.2 reader: records, locators, transactions, metadata, and hostile or broken XML."""

from pathlib import Path

import pytest

from trialkit.errors import InputError
from trialkit.formats.detect import detect_format
from trialkit.formats.odm import read_odm

SMALL = Path(__file__).parent / "data" / "odm" / "small.xml"
ODM_OPEN = '<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" FileOID="F" ODMVersion="1.3.2">'


@pytest.fixture(scope="module")
def small():
    return read_odm(SMALL)


def test_records_columns_and_locators(small):
    forms, _, _ = small
    assert detect_format(SMALL) == "odm"
    dm = forms["dm"]
    assert dm.frame.to_dict("list") == {"STUDYID": ["ST1", "ST1"], "SITEID": ["SITE01", "SITE01"], "SUBJID": ["01-001", "01-002"],
                                        "STUDYEVENTOID": ["SCREEN", "SCREEN"], "STUDYEVENTREPEATKEY": ["", ""],
                                        "SEX": ["F", "M"], "BRTHDT": ["1970-02-03", ""]}   # two non-repeating groups, one record
    assert dm.locators.tolist() == ["01-001/SCREEN/dm/IG.DM1", "01-002/SCREEN/dm/IG.DM1"]


def test_transactions_is_null_and_removal(small):
    forms, _, findings = small
    ae = forms["ae"]
    assert ae.frame[["AETERM", "AESEV"]].values.tolist() == [["HEADACHE", "SEVERE"], ["NAUSEA", ""]]   # Update, IsNull
    removed = [f for f in findings if f.severity == "notice"]
    assert [f.record for f in removed] == ["01-001/AE[1]/ae/IG.AE[3]"] and "Remove" in removed[0].message


def test_study_event_and_its_repeat_key_are_columns(small):
    """The StudyEventData a record sits in is a field of it, so a spec can map VISIT from it; a record
    updated by a later transaction keeps its event."""
    ae = small[0]["ae"]
    assert list(ae.frame.columns[:5]) == ["STUDYID", "SITEID", "SUBJID", "STUDYEVENTOID", "STUDYEVENTREPEATKEY"]
    assert ae.frame[["STUDYEVENTOID", "STUDYEVENTREPEATKEY", "AETERM"]].values.tolist() == [["AE", "1", "HEADACHE"], ["AE", "1", "NAUSEA"]]


def test_undeclared_item_is_a_finding_and_still_read(small):
    forms, _, findings = small
    (undeclared,) = [f for f in findings if f.severity == "warning"]
    assert (undeclared.column, undeclared.record) == ("AEXTRA", "01-001/AE[1]/ae/IG.AE[2]")
    assert forms["ae"].frame["AEXTRA"].tolist() == ["", "?"]


def test_metadata(small):
    _, meta, _ = small
    assert meta.study_oid == "ST1" and meta.forms["ae"].items == ("AETERM", "AESEV") and meta.forms["ae"].repeating
    assert meta.items["AETERM"].mandatory and not meta.items["AESEV"].mandatory and meta.items["AESEV"].codelist == "CL.SEV"
    assert meta.codelists["CL.SEV"].items == {"MILD": "Mild", "SEVERE": "SEVERE"}


def test_truncated_xml_names_line_and_column(tmp_path):
    path = tmp_path / "cut.xml"
    path.write_bytes(SMALL.read_bytes()[:3000])
    with pytest.raises(InputError) as err:
        read_odm(path)
    assert "malformed XML at line" in str(err.value) and err.value.row and err.value.row > 1 and "cut.xml" in str(err.value)


def test_xxe_is_refused(tmp_path):
    path = tmp_path / "xxe.xml"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE ODM [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n' + ODM_OPEN +
                    '<ClinicalData StudyOID="&x;"/></ODM>')
    with pytest.raises(InputError, match="declares entities"):
        read_odm(path)


def test_billion_laughs_is_refused(tmp_path):
    entities = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{k} "{("&a" + str(k - 1) + ";") * 10}">' for k in range(1, 10))
    path = tmp_path / "lol.xml"
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE ODM [{entities}]>\n{ODM_OPEN}<ClinicalData StudyOID="&a9;"/></ODM>')
    with pytest.raises(InputError, match="declares entities"):
        read_odm(path)


def test_clinical_data_without_metadata(tmp_path):
    path = tmp_path / "clin.xml"
    path.write_text(ODM_OPEN + '<ClinicalData StudyOID="S"><SubjectData SubjectKey="7"><SiteRef LocationOID="X"/>'
                    '<StudyEventData StudyEventOID="V1"><FormData FormOID="vs"><ItemGroupData ItemGroupOID="G">'
                    '<ItemData ItemOID="HR" Value="60"/></ItemGroupData></FormData></StudyEventData></SubjectData>'
                    '</ClinicalData></ODM>')
    forms, meta, findings = read_odm(path)
    assert meta is None and findings == [] and forms["vs"].frame.values.tolist() == [["S", "X", "7", "V1", "", "60"]]


def test_encoding_other_than_declared(tmp_path):
    path = tmp_path / "latin.xml"
    path.write_bytes(('<?xml version="1.0" encoding="UTF-8"?>\n' + ODM_OPEN + '<ClinicalData StudyOID="Ü"/></ODM>').encode("latin-1"))
    with pytest.raises(InputError, match="malformed XML at line 2, column"):
        read_odm(path)


REDCAP_CLASSIC = Path(__file__).parent / "data" / "odm" / "redcap_classic.xml"


def test_redcap_classic_forms_straight_under_subject_data():
    """REDCap's non-longitudinal export (tests/data/odm/SOURCE.md): FormData without StudyEventData
    is read, each FormRepeatKey a record of its own, the locator without a study event."""
    from lxml import etree

    ns = {"o": "http://www.cdisc.org/ns/odm/v1.3"}
    tree = etree.parse(str(REDCAP_CLASSIC))
    assert tree.find(".//o:StudyEventData", ns) is None and tree.find("o:ClinicalData/o:SubjectData/o:FormData", ns) is not None
    forms, meta, findings = read_odm(REDCAP_CLASSIC)
    assert findings == [] and list(forms) == ["Form.demographics", "Form.bp"]
    bp = forms["Form.bp"]
    expected = [(f.getparent().get("SubjectKey"), f.get("FormRepeatKey"), f.find("o:ItemGroupData/o:ItemData[@ItemOID='bp_systolic']", ns).get("Value"))
                for f in tree.iterfind(".//o:FormData[@FormOID='Form.bp']", ns)]
    assert len(expected) > len({s for s, _, _ in expected})      # a subject with several instances of the form
    assert list(zip(bp.frame["SUBJID"], bp.frame["bp_systolic"])) == [(s, v) for s, _, v in expected]
    assert bp.locators.tolist() == [f"{s}/Form.bp[{k}]/bp.date_bp[1]" for s, k, _ in expected]
    assert list(bp.frame.columns) == ["STUDYID", "SITEID", "SUBJID", *meta.forms["Form.bp"].items]   # no study event: no event columns


def test_a_subject_sent_again_is_looked_up_across_forms(tmp_path):
    """A transactional file naming a subject again: its records are found among every form read so
    far; a removed subject's records go (in the order met), and a record sent after its removal is new."""
    def subject(key, body, tx=""):
        return f'<SubjectData SubjectKey="{key}"{tx}><SiteRef LocationOID="S1"/>{body}</SubjectData>'

    def record(event, form, group, items, repeat=""):
        values = "".join(f'<ItemData ItemOID="{k}" Value="{v}"/>' for k, v in items.items())
        rk = f' ItemGroupRepeatKey="{repeat}"' if repeat else ""
        return f'<StudyEventData StudyEventOID="{event}"><FormData FormOID="{form}"><ItemGroupData ItemGroupOID="{group}"{rk}>{values}</ItemGroupData></FormData></StudyEventData>'

    path = tmp_path / "tx.xml"
    path.write_text(ODM_OPEN + '<ClinicalData StudyOID="S">' +
                    subject("1", record("V1", "vs", "G", {"HR": "60"}) + record("V1", "lb", "L", {"HGB": "12"}, "1")) +
                    subject("2", record("V1", "vs", "G", {"HR": "70"})) +
                    subject("1", record("V1", "vs", "G", {"HR": "61"}), ' TransactionType="Update"') +
                    subject("2", "", ' TransactionType="Remove"') +
                    subject("1", record("V1", "lb", "L", {"HGB": "13"}, "2")) +
                    subject("2", record("V1", "vs", "G", {"HR": "72"})) + "</ClinicalData></ODM>")
    forms, _, findings = read_odm(path)
    assert forms["vs"].frame[["SUBJID", "HR"]].values.tolist() == [["1", "61"], ["2", "72"]]
    assert forms["lb"].frame[["SUBJID", "HGB"]].values.tolist() == [["1", "12"], ["1", "13"]]
    assert forms["lb"].locators.tolist() == ["1/V1/lb/L[1]", "1/V1/lb/L[2]"]
    assert [(f.record, f.message) for f in findings] == [("2/V1/vs/G", 'record removed by TransactionType="Remove" on its SubjectData 2')]
