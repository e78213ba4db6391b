"""Tests of ``trialkit simulate --format`` (trialkit.simulate.export_formats, tables, odm).

One small study (30 subjects) is simulated once and written in every format, clean and dirty (level
2). Each format is read back here with the library made for it (pyreadstat, openpyxl, lxml), never
with trialkit's own readers, and compared with the CSV export of the same seed: the same text in
every cell (SAS formats lose trailing blanks, as SAS does), the ODM valid against the ODM 1.3.2 XSD
that odmlib ships, and every planted defect at the file and record the manifest names.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json

import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner
from lxml import etree
from openpyxl import load_workbook

from trialkit.cli import EXPORT_FORMATS
from trialkit.cli import main as cli
from trialkit.raw_dictionary import load_raw_dictionary, read_form
from trialkit.simulate import odm
from trialkit.simulate.export import KEY_FIELDS
from trialkit.simulate.export_formats import FORMATS as WRITERS
from trialkit.simulate.profile import load_profile
from trialkit.simulate.study import simulate_study
from trialkit.simulate.tables import member_name
from trialkit.simulate.writer import MANIFEST, write_export
from trialkit.spec import study_dir

STUDY = "ball_relapse"
SUBJECTS = 30
SEED = 4242
FORMATS = ("csv", "odm", "sas7bdat", "xpt", "xlsx")
NS = {"odm": odm.NS}


@pytest.fixture(scope="module")
def dictionary():
    return load_raw_dictionary(STUDY)


@pytest.fixture(scope="module")
def exports(tmp_path_factory, dictionary) -> dict:
    """(folder, manifest) per (format, dirty level) of one simulated study."""
    study = simulate_study(load_profile(STUDY), SUBJECTS, SEED)
    base = tmp_path_factory.mktemp("formats")
    profile_path = study_dir(STUDY) / "profile.yaml"
    return {(fmt, dirty): (base / f"{fmt}{dirty}", write_export(study, dictionary, base / f"{fmt}{dirty}", dirty=dirty, format=fmt,
                                                                profile_path=profile_path))
            for fmt in FORMATS for dirty in (0, 2)}


def odm_frames(path) -> dict[str, pd.DataFrame]:
    """The ODM's records per form as text frames (keys from the structure), in document order."""
    rows: dict[str, list[dict]] = {}
    tree = etree.parse(str(path), etree.XMLParser(recover=True))   # a cut file: the records before the cut
    study = tree.find("odm:ClinicalData", NS).get("StudyOID")
    for subject in tree.iterfind("odm:ClinicalData/odm:SubjectData", NS):
        keys = {"STUDYID": study, "SITEID": subject.find("odm:SiteRef", NS).get("LocationOID"),
                "SUBJID": subject.get("SubjectKey")}
        for form in subject.iterfind("odm:StudyEventData/odm:FormData", NS):
            for group in form.iterfind("odm:ItemGroupData", NS):
                rows.setdefault(form.get("FormOID"), []).append(
                    {**keys, **{item.get("ItemOID"): item.get("Value") for item in group.iterfind("odm:ItemData", NS)}})
    return {name: pd.DataFrame(records) for name, records in rows.items()}


def read_back(fmt: str, folder, manifest: dict, dictionary) -> dict[str, pd.DataFrame]:
    """Every form as text, '' = missing, columns in the dictionary's order."""
    if fmt == "odm":
        frames = odm_frames(folder / "export.xml")
    elif fmt == "xlsx":
        book = load_workbook(folder / "export.xlsx", read_only=True)
        frames = {}
        for name in book.sheetnames:
            header, *body = book[name].iter_rows(values_only=True)
            width = len(header)   # a row's trailing empty cells are not stored
            frames[name] = pd.DataFrame([["" if v is None else v for v in row] + [""] * (width - len(row)) for row in body],
                                        columns=header)
    elif fmt == "csv":
        frames = {name: read_form(folder / entry["file"]) for name, entry in manifest["forms"].items()}
    else:
        read = pyreadstat.read_xport if fmt == "xpt" else pyreadstat.read_sas7bdat
        frames = {name: read(str(folder / entry["file"]))[0] for name, entry in manifest["forms"].items()}
    return {name: frames.get(name, pd.DataFrame()).reindex(columns=form.columns).fillna("").astype(str)
            for name, form in dictionary.forms.items()}


def sas_text(frame: pd.DataFrame) -> pd.DataFrame:
    """What SAS keeps of text values: no trailing blanks."""
    return frame.apply(lambda column: column.str.rstrip())


# ---- Test 1 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_formats_01_manifest_names_format_files_and_checksums(exports, dictionary, fmt):
    """Test 1: the manifest says the format, lists every file written with its SHA-256, and maps each
    form to its file; nothing else is in the folder."""
    folder, manifest = exports[(fmt, 0)]
    assert manifest["format"] == fmt
    assert json.loads((folder / MANIFEST).read_text(encoding="utf-8")) == manifest
    assert sorted(p.name for p in folder.iterdir()) == sorted([*manifest["files"], MANIFEST])
    for file, digest in manifest["files"].items():
        assert hashlib.sha256((folder / file).read_bytes()).hexdigest() == digest
    assert list(manifest["forms"]) == list(dictionary.forms)
    assert {entry["file"] for entry in manifest["forms"].values()} == set(manifest["files"])


# ---- Test 2 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["odm", "sas7bdat", "xpt", "xlsx"])
def test_formats_02_same_text_as_csv(exports, dictionary, fmt):
    """Test 2: each format holds the CSV export's values cell for cell and record for record (ODM in
    its document order, which is the CSV's: records grouped by subject in one subject order)."""
    csv = read_back("csv", *exports[("csv", 0)], dictionary)
    other = read_back(fmt, *exports[(fmt, 0)], dictionary)
    trailing = {name: int((frame != frame.apply(lambda c: c.str.rstrip())).to_numpy().sum()) for name, frame in csv.items()}
    assert sum(trailing.values()) > 0   # the study has code slips with trailing blanks: the SAS case is real
    for name in dictionary.forms:
        expected = sas_text(csv[name]) if fmt in ("xpt", "sas7bdat") else csv[name]
        pd.testing.assert_frame_equal(other[name], expected, obj=f"{fmt} {name}")
        assert len(other[name]) == exports[(fmt, 0)][1]["forms"][name]["rows"]


# ---- Test 3 ------------------------------------------------------------------------------------
def test_formats_03_odm_is_valid_odm_1_3_2(exports, dictionary):
    """Test 3: the ODM file validates against the ODM 1.3.2 schema (odmlib's copy of CDISC's XSD); its
    metadata is the raw dictionary's: FormOID = form, ItemOID = field, codes as CodeLists."""
    schema_path = importlib.resources.files("odmlib") / "schemas" / "odm" / "1.3.2" / "ODM1-3-2.xsd"
    schema = etree.XMLSchema(etree.parse(str(schema_path)))
    folder, manifest = exports[("odm", 0)]
    tree = etree.parse(str(folder / "export.xml"))
    assert schema.validate(tree), schema.error_log.filter_from_errors()[:3]
    root = tree.getroot()
    assert root.get("ODMVersion") == "1.3.2" and root.get("FileType") == "Snapshot"
    assert root.get("FileOID") and root.get("CreationDateTime")
    mdv = root.find("odm:Study/odm:MetaDataVersion", NS)
    assert [f.get("OID") for f in mdv.iterfind("odm:FormDef", NS)] == list(dictionary.forms)
    items = {i.get("OID"): i for i in mdv.iterfind("odm:ItemDef", NS)}
    for name, form in dictionary.forms.items():
        group = mdv.find(f"odm:ItemGroupDef[@OID='{odm.item_group(name)}']", NS)
        assert [r.get("ItemOID") for r in group.iterfind("odm:ItemRef", NS)] == [c for c in form.columns if c not in KEY_FIELDS]
        assert group.get("Repeating") == ("No" if form.one_row_per_subject else "Yes")
        for f in form.fields:
            if f.name in KEY_FIELDS:
                continue
            assert items[f.name].find("odm:Question/odm:TranslatedText", NS).text
            if f.codes:
                codelist = mdv.find(f"odm:CodeList[@OID='CL.{f.name}']", NS)
                assert set(f.codes) <= {c.get("CodedValue") for c in codelist.iterfind("odm:CodeListItem", NS)}
    # a site of every subject is a Location of the AdminData
    locations = {loc.get("OID") for loc in root.iterfind("odm:AdminData/odm:Location", NS)}
    sites = {ref.get("LocationOID") for ref in root.iterfind("odm:ClinicalData/odm:SubjectData/odm:SiteRef", NS)}
    assert sites and sites <= locations


# ---- Test 4 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_formats_04_cell_defects_sit_where_the_manifest_says(exports, dictionary, fmt):
    """Test 4: every impossible date, unknown code and emptied required value is in the format's
    file at the manifest's record (and, for ODM, at its locator); ODM never empties a subject key
    (the subject is the file's structure)."""
    folder, manifest = exports[(fmt, 2)]
    frames = read_back(fmt, folder, manifest, dictionary)
    cells = [d for d in manifest["defects"] if d["kind"] in ("impossible_date", "unknown_code", "missing_required")]
    assert {d["kind"] for d in cells} == {"impossible_date", "unknown_code", "missing_required"}
    for d in cells:
        assert d["file"] == manifest["forms"][d["form"]]["file"]
        value = frames[d["form"]][d["field"]].iat[d["row"] - 1]
        injected = d["injected"].rstrip() if fmt in ("xpt", "sas7bdat") else d["injected"]
        assert value == injected, d
        if fmt == "odm":
            subject, event, form, group = d["locator"].split("/")
            assert (frames[form]["SUBJID"].iat[d["row"] - 1], event, group) == (subject, odm.EVENT,
                                                                               f"{odm.item_group(form)}[{group.split('[')[1]}")
            assert d["field"] not in KEY_FIELDS
        if fmt == "xlsx":
            assert (d["sheet"], d["sheet_row"]) == (d["form"], d["row"] + 1)
        if fmt == "csv":
            assert d["line"] == d["row"] + 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_formats_05_duplicate_subjects_sit_where_the_manifest_says(exports, dictionary, fmt):
    """Test 5: the record given another subject's ID is at the manifest's row, with that subject's
    ID, and the record it duplicates is at ``duplicate_of`` (in ODM: right after it, in the same
    SubjectData, with repeat key 2 in a non-repeating group)."""
    folder, manifest = exports[(fmt, 2)]
    frames = read_back(fmt, folder, manifest, dictionary)
    duplicates = [d for d in manifest["defects"] if d["kind"] == "duplicate_subject"]
    assert len(duplicates) == 5
    for d in duplicates:
        frame = frames[d["form"]]
        assert frame["SUBJID"].iat[d["row"] - 1] == frame["SUBJID"].iat[d["duplicate_of"] - 1] == d["injected"]
        if fmt == "odm":
            assert d["row"] == d["duplicate_of"] + 1 and d["locator"].endswith("[2]")


# ---- Test 6 ------------------------------------------------------------------------------------
def test_formats_06_cut_files(exports, dictionary):
    """Test 6: the cut file of each format: the CSV's last line and the XPT's last observation are cut
    in half (the XPT's size no longer a multiple of 80 bytes, and pyreadstat reads it one record
    short without a word: the reader must notice); the ODM stops inside its last ItemGroupData, the
    one the manifest names; SAS7BDAT and XLSX get no cut file."""
    for fmt in ("sas7bdat", "xlsx"):
        assert not [d for d in exports[(fmt, 2)][1]["defects"] if d["kind"] == "truncated_file"]

    folder, manifest = exports[("xpt", 2)]
    cuts = [d for d in manifest["defects"] if d["kind"] == "truncated_file"]
    assert len(cuts) == 5
    for d in cuts:
        path = folder / d["file"]
        assert path.stat().st_size % 80 != 0
        assert d["row"] == manifest["forms"][d["form"]]["rows"]
        assert len(pyreadstat.read_xport(str(path))[0]) == d["row"] - 1

    folder, manifest = exports[("csv", 2)]
    for d in (d for d in manifest["defects"] if d["kind"] == "truncated_file"):
        data = (folder / d["file"]).read_bytes()
        assert not data.endswith(b"\n") and data.count(b"\n") == d["row"]   # header + complete records

    folder, manifest = exports[("odm", 2)]
    (cut,) = [d for d in manifest["defects"] if d["kind"] == "truncated_file"]
    data = (folder / "export.xml").read_bytes()
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(data)
    subject, _, form, group = cut["locator"].split("/")
    last_subject = data.rfind(b"<SubjectData ")
    assert f'SubjectKey="{subject}"'.encode() in data[last_subject:last_subject + 200]
    opened = data[data.rfind(b"<ItemGroupData "):]
    key = group.split("[")[1].rstrip("]")
    assert f'ItemGroupOID="{odm.item_group(form)}" ItemGroupRepeatKey="{key}"'.encode() in opened
    assert b"</ItemGroupData>" not in opened


# ---- Test 7 ------------------------------------------------------------------------------------
def test_formats_07_same_seed_same_odm_bytes(exports, dictionary, tmp_path):
    """Test 7: ODM is deterministic (its CreationDateTime is the snapshot date, cut-off + export
    lag, not the clock): the CLI writes the same bytes as the API for the same seed."""
    result = CliRunner().invoke(cli, ["simulate", "--format", "odm", "--subjects", str(SUBJECTS), "--seed", str(SEED),
                                      "--out", str(tmp_path / "odm")])
    assert result.exit_code == 0, result.output
    assert "(odm, 1 files;" in result.output
    folder, manifest = exports[("odm", 0)]
    assert (tmp_path / "odm" / "export.xml").read_bytes() == (folder / "export.xml").read_bytes()
    assert json.loads((tmp_path / "odm" / MANIFEST).read_text(encoding="utf-8")) == manifest
    profile = load_profile(STUDY)
    created = etree.parse(str(folder / "export.xml")).getroot().get("CreationDateTime")
    assert created.startswith(str(profile.dates.data_cutoff + pd.Timedelta(days=profile.dates.export_lag_days).to_pytimedelta()))


def test_formats_08_sas_member_names_and_unknown_format(exports, dictionary):
    """Test 8: XPT / SAS7BDAT members are named as v5 allows (``ex_blin`` -> ``EXBLIN``), the
    file keeps the form's name; --format offers exactly the writers there are, and an unknown one
    is a usage error naming the choices."""
    folder, _ = exports[("xpt", 0)]
    assert pyreadstat.read_xport(str(folder / "ex_blin.xpt"), metadataonly=True)[1].table_name == "EXBLIN"
    assert member_name("randomization") == "RANDOMIZ"
    folder, _ = exports[("sas7bdat", 0)]
    meta = pyreadstat.read_sas7bdat(str(folder / "ae.sas7bdat"), metadataonly=True)[1]
    assert meta.table_name == "AE" and meta.column_names_to_labels["AETERM"] == \
        next(f.label for f in dictionary.forms["ae"].fields if f.name == "AETERM")
    assert set(EXPORT_FORMATS) == set(WRITERS) == set(FORMATS)   # the CLI's choices (kept light to import) are the writers
    result = CliRunner().invoke(cli, ["simulate", "--format", "parquet", "--out", "x"])
    assert result.exit_code == 2 and "csv" in result.output and "odm" in result.output
