"""read_export: the format told by content, folders and single files, and what is refused."""

import pandas as pd
import pyreadstat
import pytest

from trialkit.errors import InputError
from trialkit.formats import read_export
from trialkit.formats.detect import detect_format

ODM = '<?xml version="1.0"?>\n<odm:ODM xmlns:odm="http://www.cdisc.org/ns/odm/v1.3" FileOID="F"></odm:ODM>'


def test_format_by_content_not_suffix(tmp_path):
    sas = tmp_path / "dm.dat"
    pyreadstat.write_sas7bdat(pd.DataFrame({"SUBJID": ["1"]}), str(sas))
    odm = tmp_path / "export.txt"
    odm.write_text(ODM)
    other_xml = tmp_path / "define.xml"
    other_xml.write_text('<?xml version="1.0"?><ODM xmlns="http://www.cdisc.org/ns/odm/v2.0"/>')
    assert [detect_format(p) for p in (sas, odm, other_xml)] == ["sas7bdat", "odm", "csv"]


def test_folder_of_csv_and_a_renamed_sas_file(tmp_path):
    (tmp_path / "ae.csv").write_text("SUBJID\n1\n")
    pyreadstat.write_sas7bdat(pd.DataFrame({"SUBJID": ["2"]}), str(tmp_path / "dm.dat"))
    (tmp_path / "manifest.json").write_text("{}")
    export = read_export(tmp_path)
    assert {n: f.source for n, f in export.forms.items()} == {"ae": "ae.csv", "dm": "dm.dat"}
    assert export.forms["dm"].frame["SUBJID"].tolist() == ["2"] and export.findings == []


def test_single_odm_file_and_a_folder_holding_it(tmp_path):
    (tmp_path / "export.xml").write_text(ODM)
    assert read_export(tmp_path / "export.xml").format == read_export(tmp_path).format == "odm"


def test_whole_export_beside_other_files_is_an_error(tmp_path):
    (tmp_path / "export.xml").write_text(ODM)
    (tmp_path / "ae.csv").write_text("SUBJID\n1\n")
    with pytest.raises(InputError, match=r"export.xml holds a whole export \(ODM\) but the folder has other export files too \(ae.csv\)"):
        read_export(tmp_path)


def test_single_csv_file_is_refused_with_the_reason(tmp_path):
    (tmp_path / "ae.csv").write_text("SUBJID\n1\n")
    with pytest.raises(InputError, match="holds one form: give the folder"):
        read_export(tmp_path / "ae.csv")


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        read_export(tmp_path / "nowhere")
