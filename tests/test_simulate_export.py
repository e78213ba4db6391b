"""Tests of the simulated EDC export (trialkit.simulate.writer / export / dirt) against the raw dictionary.

The raw dictionary (specs/studies/ball_relapse/raw_dictionary.yaml) is the contract of the export:
the simulator writes exactly its forms and columns, every clean value passes ``check_form``, and
``--dirty`` / ``--duplicate-rate`` change the export in exactly the places manifest.json lists. One
study of 300 subjects is simulated once and written clean, dirty (levels 1 and 2), with duplicates,
and clean a second time from a fresh simulation of the same seed, all in one module-scoped fixture.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner

from trialkit.cli import main as cli
from trialkit.errors import SpecError
from trialkit.raw_dictionary import (
    check_form,
    load_raw_dictionary,
    read_form,
    truncation_findings,
)
from trialkit.simulate.profile import load_profile
from trialkit.simulate.study import simulate_study
from trialkit.simulate.writer import MANIFEST, write_export
from trialkit.spec import study_dir

STUDY = "ball_relapse"
SUBJECTS = 300
SEED = 20240
DUPLICATE_RATE = 0.05
CELL_KINDS = ("impossible_date", "unknown_code", "missing_required")
ALL_KINDS = CELL_KINDS + ("duplicate_subject", "truncated_file")
PROBLEM = {
    "impossible_date": "impossible date",
    "unknown_code": "value not in codes",
    "missing_required": "required value missing",
}


@pytest.fixture(scope="module")
def dictionary():
    return load_raw_dictionary(STUDY)


@pytest.fixture(scope="module")
def exports(tmp_path_factory, dictionary) -> dict:
    """Folder and manifest of each export of the same seed: clean, dirty 1, dirty 2, dup, clean again."""
    profile = load_profile(STUDY)
    profile_path = study_dir(STUDY) / "profile.yaml"
    base = tmp_path_factory.mktemp("exports")
    study = simulate_study(profile, SUBJECTS, SEED)
    out = {}
    for name, kwargs in {
        "clean": {},
        "dirty1": {"dirty": 1},
        "dirty2": {"dirty": 2},
        "dup": {"duplicate_rate": DUPLICATE_RATE},
    }.items():
        manifest = write_export(study, dictionary, base / name, profile_path=profile_path, **kwargs)
        out[name] = (base / name, manifest)
    again = simulate_study(load_profile(STUDY), SUBJECTS, SEED)  # a fresh simulation, not the same object
    out["clean_again"] = (base / "clean_again", write_export(again, dictionary, base / "clean_again", profile_path=profile_path))
    return out


@pytest.fixture(scope="module")
def clean(exports, dictionary) -> dict[str, pd.DataFrame]:
    folder = exports["clean"][0]
    return {name: read_form(folder / f"{name}.csv") for name in dictionary.forms}


@pytest.fixture(scope="module")
def country_of(clean) -> dict[str, str]:
    """SUBJID -> COUNTRY from the clean enrol.csv (the dirty one has a duplicated SUBJID)."""
    enrol = clean["enrol"]
    assert enrol["SUBJID"].is_unique
    return dict(zip(enrol["SUBJID"], enrol["COUNTRY"]))


def country(frame: pd.DataFrame, country_of: dict[str, str]) -> pd.Series:
    return frame["SUBJID"].map(country_of)


def parse(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, na_filter=False)


def split_last_line(data: bytes) -> tuple[bytes, bytes]:
    """(everything up to and including the last newline, the text after it)."""
    cut = data.rfind(b"\n") + 1
    return data[:cut], data[cut:]


def cell_entries(manifest: dict) -> list[dict]:
    return [d for d in manifest["defects"] if d["kind"] in CELL_KINDS]


def entries_of(manifest: dict, kind: str) -> list[dict]:
    return [d for d in manifest["defects"] if d["kind"] == kind]


# ---- Test 1 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["clean", "dirty2", "dup"])
def test_export_01_files_headers_and_manifest(exports, dictionary, name):
    """Test 1: exactly the dictionary's forms plus manifest.json; headers in dictionary order;
    the manifest's rows and sha256 are those of the files."""
    folder, manifest = exports[name]
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{f}.csv" for f in dictionary.forms] + [MANIFEST])
    assert json.loads((folder / MANIFEST).read_text(encoding="utf-8")) == manifest
    assert list(manifest["forms"]) == list(dictionary.forms)
    for form_name, form in dictionary.forms.items():
        data = (folder / f"{form_name}.csv").read_bytes()
        lines = data.decode("utf-8").split("\n")
        assert lines[0] == ",".join(form.columns), form_name
        entry = manifest["forms"][form_name]
        assert entry["file"] == f"{form_name}.csv"
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), form_name
        records = len(lines) - 1 - (1 if data.endswith(b"\n") else 0)  # a truncated file has no final newline
        assert entry["rows"] == records, form_name
        assert entry["rows"] > 0, form_name
    assert manifest["study"] == "BALLR01"
    assert manifest["seed"] == SEED and manifest["subjects"] == SUBJECTS
    assert manifest["dictionary_sha256"] == hashlib.sha256(dictionary.path.read_bytes()).hexdigest()
    assert manifest["profile_sha256"] == hashlib.sha256((study_dir(STUDY) / "profile.yaml").read_bytes()).hexdigest()


# ---- Test 2 ------------------------------------------------------------------------------------
def test_export_02_clean_forms_agree_with_dictionary(clean, dictionary, country_of):
    """Test 2: check_form finds nothing in any clean form, site-local dates included."""
    for name, form in dictionary.forms.items():
        frame = clean[name]
        c = country(frame, country_of)
        assert c.notna().all(), name
        findings = check_form(frame, form, dictionary, country=c)
        assert findings == [], f"{name}: {[str(f) for f in findings[:5]]}"
    # the local-lab forms really are checked for the date format: the check is not vacuous
    assert {"DEU", "GBR"} <= set(country_of.values())
    assert len(clean["bm"]) > 0 and len(clean["mrd"]) > 0


def test_export_02b_code_slips_normalize_into_codes(clean, dictionary):
    """Test 2b: codes carry case/whitespace slips somewhere, and every one normalizes into its codes."""
    slips = []
    for name, form in dictionary.forms.items():
        for f in form.fields:
            if f.type != "code":
                continue
            values = clean[name][f.name]
            present = values[values != ""]
            exact = present.isin(set(f.codes))
            slipped = present[~exact]
            upper = {c.upper(): c for c in f.codes}
            assert slipped.str.strip().str.upper().isin(set(upper)).all(), (name, f.name, slipped.unique()[:5])
            slips += [(name, f.name, v) for v in slipped]
    values = [v for _, _, v in slips]
    assert len(slips) >= 50
    assert any(v != v.lstrip() for v in values), "no leading-whitespace slip"
    assert any(v != v.rstrip() for v in values), "no trailing-whitespace slip"
    assert any(v.strip() != v.strip().upper() for v in values), "no case slip"
    assert len({(n, f) for n, f, _ in slips}) >= 10  # spread over many fields, not one


def test_export_02c_site_local_decimals_and_dates(clean, country_of):
    """Test 2c: a comma country's lab writes decimal commas and its own date; GBR a dot and DD/MM/YYYY."""
    bm = clean["bm"]
    c = country(bm, country_of)
    deu, gbr = bm[c == "DEU"], bm[c == "GBR"]
    assert len(deu) > 0 and len(gbr) > 0
    assert deu["BLASTPCT"].str.fullmatch(r"\d+,\d").all()
    assert gbr["BLASTPCT"].str.fullmatch(r"\d+\.\d").all()
    assert deu["BMDAT"].str.fullmatch(r"\d{2}\.\d{2}\.\d{4}").all()
    assert gbr["BMDAT"].str.fullmatch(r"\d{2}/\d{2}/\d{4}").all()
    # the comma decimal is quoted in the CSV and comes back as one field
    assert deu["MSTATUS"].str.strip().str.upper().isin({"M1", "M2", "M3"}).all()


# ---- Test 3 ------------------------------------------------------------------------------------
def test_export_03_subject_keys(clean, dictionary):
    """Test 3: one-row-per-subject forms have unique SUBJIDs; every form's SUBJIDs are enrolled."""
    enrolled = set(clean["enrol"]["SUBJID"])
    assert len(enrolled) == SUBJECTS
    one_row = [n for n, f in dictionary.forms.items() if f.one_row_per_subject]
    assert {"enrol", "dm", "dh", "eot", "death", "eos"} == set(one_row)
    for name in one_row:
        assert clean[name]["SUBJID"].is_unique, name
    for name, frame in clean.items():
        assert set(frame["SUBJID"]) <= enrolled, name
        assert (frame["STUDYID"] == "BALLR01").all(), name
        assert (frame["SUBJID"].str[:4] == frame["SITEID"]).all(), name  # SUBJID = site - sequence
    for name in ("enrol", "dm", "dh", "eot"):
        assert set(clean[name]["SUBJID"]) == enrolled, name


# ---- Test 4 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "per_kind"), [("dirty1", 1), ("dirty2", 5)])
def test_export_04_dirt_is_exactly_the_manifest(exports, clean, dictionary, name, per_kind):
    """Test 4: clean vs dirty of the same seed differ in exactly the manifest's defects."""
    clean_folder = exports["clean"][0]
    folder, manifest = exports[name]
    assert manifest["dirty"] == int(name[-1])
    kinds = [d["kind"] for d in manifest["defects"]]
    assert {k: kinds.count(k) for k in ALL_KINDS} == {k: per_kind for k in ALL_KINDS}
    for d in manifest["defects"]:
        assert d["file"] == f"{d['form']}.csv" and d["line"] == d["row"] + 1

    truncated = {d["form"]: d for d in entries_of(manifest, "truncated_file")}
    duplicated = {}
    for d in entries_of(manifest, "duplicate_subject"):
        duplicated.setdefault(d["form"], []).append(d)
    cells = {(d["form"], d["row"], d["field"]): d for d in cell_entries(manifest)}
    assert len(cells) == 3 * per_kind
    assert len({(f, r) for f, r, _ in cells}) == len(cells)  # one defect per record

    seen_cells = {}
    for form_name, form in dictionary.forms.items():
        clean_data = (clean_folder / f"{form_name}.csv").read_bytes()
        data = (folder / f"{form_name}.csv").read_bytes()
        reference = clean[form_name]
        touched = form_name in truncated or form_name in duplicated or any(k[0] == form_name for k in cells)
        if not touched:
            assert data == clean_data, f"{form_name} changed without a manifest entry"
            continue

        if form_name in truncated:
            d = truncated[form_name]
            assert form_name not in duplicated
            assert not form.one_row_per_subject
            assert d["row"] == len(reference)  # the last record is the one cut
            assert not data.endswith(b"\n")
            head, last = split_last_line(data)
            clean_head, clean_last = split_last_line(clean_data.rstrip(b"\n"))
            assert head.count(b"\n") == clean_head.count(b"\n")
            if not any(k[0] == form_name for k in cells):  # else the cell defects differ, checked below
                assert head == clean_head
            assert 0 < len(last) < len(clean_last) and clean_last.startswith(last)
            fields = next(csv.reader([last.decode("utf-8")]))
            assert len(fields) < len(form.columns)
            # every cell of the records before the cut line is checked below
            dirty = parse(head)
            reference = reference.iloc[:-1]
        else:
            assert data.endswith(b"\n")
            dirty = parse(data)

        extra = dirty.iloc[len(reference):]
        base = dirty.iloc[: len(reference)].reset_index(drop=True)
        assert list(dirty.columns) == form.columns

        # appended rows are exactly the duplicate_subject entries
        dups = duplicated.get(form_name, [])
        assert len(extra) == len(dups), form_name
        for k, d in enumerate(sorted(dups, key=lambda e: e["row"])):
            assert d["row"] == len(reference) + k + 1
            row = dirty.iloc[d["row"] - 1]
            target = base.iloc[d["duplicate_of"] - 1]  # the subject whose SUBJID the row takes
            assert row["SUBJID"] == d["injected"] == target["SUBJID"]
            assert row["SITEID"] == target["SITEID"]
            assert d["original"] != d["injected"]
            # the other values are those of the record of the subject named in `original`
            source = base[base["SUBJID"] == d["original"]]
            assert len(source) == 1
            others = [c for c in form.columns if c not in ("SUBJID", "SITEID")]
            assert row[others].tolist() == source.iloc[0][others].tolist()
            # and they conflict with the target subject's own record
            assert row[others].tolist() != target[others].tolist()

        # the cells that differ are exactly the manifest's cell defects
        diff = base.ne(reference.reset_index(drop=True))
        for r, c in zip(*diff.to_numpy().nonzero()):
            seen_cells[(form_name, int(r) + 1, form.columns[c])] = (reference.iat[r, c], base.iat[r, c])
    assert set(seen_cells) == set(cells)
    for key, (original, injected) in seen_cells.items():
        assert (cells[key]["original"], cells[key]["injected"]) == (original, injected), key


def test_export_04b_defect_values_are_of_their_kind(exports, dictionary):
    """Test 4b: each cell defect hits a field of the right type and writes the documented kind of value."""
    for d in cell_entries(exports["dirty2"][1]):
        f = next(x for x in dictionary.forms[d["form"]].fields if x.name == d["field"])
        if d["kind"] == "impossible_date":
            assert f.type == "date" and f.format == "edc"
            assert d["injected"][-4:] == d["original"][-4:]  # same year, impossible day
            assert d["injected"][:6] in ("31-APR", "30-FEB", "31-JUN", "31-SEP", "31-NOV", "32-JAN")
        elif d["kind"] == "unknown_code":
            assert f.type == "code"
            assert d["injected"].strip().upper() not in {c.upper() for c in f.codes}
        else:
            assert f.required and d["injected"] == "" and d["original"].strip() != ""


@pytest.mark.parametrize("seed", [5, 11])  # 120 subjects: seed 5 copies an impossible date, 11 a blank SUBJID
def test_export_04c_duplicate_subject_rows_carry_no_other_defect(dictionary, tmp_path, seed):
    """Test 4c: a duplicate_subject row is another subject's clean record under an enrolled SUBJID,
    so its only defect is the duplication ("one defect per record, so each finding has one cause")."""
    study = simulate_study(load_profile(STUDY), 120, seed)
    manifest = write_export(study, dictionary, tmp_path / "dirty", dirty=2)
    enrol = read_form(tmp_path / "dirty" / "enrol.csv")
    enrolled = set(enrol["SUBJID"]) - {""}
    for d in entries_of(manifest, "duplicate_subject"):
        frame = read_form(tmp_path / "dirty" / f"{d['form']}.csv")
        assert frame.at[d["row"] - 1, "SUBJID"] in enrolled, d
        found = check_form(frame, dictionary.forms[d["form"]], dictionary)
        assert [f.problem for f in found if f.row == d["row"]] == [
                "second record for a subject in a one-row-per-subject form"], d


# ---- Test 5 ------------------------------------------------------------------------------------
def test_export_05_check_form_finds_each_defect(exports, dictionary, country_of):
    """Test 5: check_form reports every cell defect at its row and field with the right problem,
    and nothing in the dirty export that the manifest does not explain."""
    folder, manifest = exports["dirty2"]
    findings = {}
    for name, form in dictionary.forms.items():
        frame = read_form(folder / f"{name}.csv")
        findings[name] = check_form(frame, form, dictionary, country=country(frame, country_of))
    for d in cell_entries(manifest):
        expected = (d["form"], d["row"], d["field"], d["injected"], PROBLEM[d["kind"]])
        got = [(f.form, f.row, f.field, f.value, f.problem) for f in findings[d["form"]]]
        assert expected in got, (expected, [g for g in got if g[1] == d["row"]])
    # truncated records are caught too: their cut-off required fields read as missing
    for d in entries_of(manifest, "truncated_file"):
        at_row = [f for f in findings[d["form"]] if f.row == d["row"]]
        assert any(f.problem == "required value missing" for f in at_row), d["form"]
    # every finding sits on a record the manifest names (a cell defect, a duplicate or a truncated record)
    explained = {(d["form"], d["row"]) for d in manifest["defects"]}
    for name, found in findings.items():
        for f in found:
            assert (f.form, f.row) in explained, str(f)


# ---- Test 6 ------------------------------------------------------------------------------------
def test_export_06_duplicates_are_adjacent_exact_copies(exports, clean, dictionary):
    """Test 6: every duplicate is an exact copy of the row before it, only in the profile's
    duplicable forms (ae/bm/mrd/survfu), and removing them gives back the clean export."""
    DUPLICABLE_FORMS = load_profile(STUDY).duplicable_forms
    clean_folder = exports["clean"][0]
    folder, manifest = exports["dup"]
    assert manifest["defects"] == []
    entries = manifest["duplicates"]
    assert {d["form"] for d in entries} == set(DUPLICABLE_FORMS) == {"ae", "bm", "mrd", "survfu"}
    total = sum(len(clean[n]) for n in DUPLICABLE_FORMS)
    assert 0.035 * total < len(entries) < 0.065 * total
    for name in dictionary.forms:
        data = (folder / f"{name}.csv").read_bytes()
        if name not in DUPLICABLE_FORMS:
            assert data == (clean_folder / f"{name}.csv").read_bytes(), name
            continue
        frame = read_form(folder / f"{name}.csv")
        rows = [d for d in entries if d["form"] == name]
        assert len(frame) == len(clean[name]) + len(rows) == manifest["forms"][name]["rows"]
        assert len({d["row"] for d in rows}) == len(rows)
        for d in rows:
            assert d["duplicate_of"] == d["row"] - 1
            assert frame.iloc[d["row"] - 1].tolist() == frame.iloc[d["duplicate_of"] - 1].tolist()
        kept = frame.drop(index=[d["row"] - 1 for d in rows]).reset_index(drop=True)
        pd.testing.assert_frame_equal(kept, clean[name])
        # byte-level: the file minus the duplicated lines is the clean file
        lines = data.split(b"\n")
        drop = {d["row"] for d in rows}  # data row r is line index r (line 0 is the header)
        assert b"\n".join(line for i, line in enumerate(lines) if i not in drop) == (clean_folder / f"{name}.csv").read_bytes()


# ---- Test 7 ------------------------------------------------------------------------------------
def test_export_07_same_seed_same_bytes(exports, dictionary, tmp_path):
    """Test 7: the same seed gives byte-identical files and an identical manifest (nothing in it
    depends on time or place); the CLI writes the same export as the API."""
    (a, ma), (b, mb) = exports["clean"], exports["clean_again"]
    assert ma == mb  # no timestamp, path or host in the manifest: all of it must match
    for name in dictionary.forms:
        assert (a / f"{name}.csv").read_bytes() == (b / f"{name}.csv").read_bytes(), name
    assert (a / MANIFEST).read_bytes() == (b / MANIFEST).read_bytes()
    # the dirty and duplicated exports keep the clean export's fields that do not describe dirt
    for name in ("dirty2", "dup"):
        m = exports[name][1]
        same = {k: v for k, v in m.items() if k not in ("dirty", "duplicate_rate", "files", "forms", "duplicates", "defects")}
        assert same == {k: v for k, v in ma.items() if k in same}
    # the CLI of the same seed: the same dirty export, byte for byte
    out = tmp_path / "cli"
    result = CliRunner().invoke(cli, ["simulate", "--out", str(out), "--dirty", "2", "--seed", str(SEED),
                                      "--subjects", str(SUBJECTS)])
    assert result.exit_code == 0, result.output
    dirty_folder, dirty_manifest = exports["dirty2"]
    assert json.loads((out / MANIFEST).read_text(encoding="utf-8")) == dirty_manifest
    for name in dictionary.forms:
        assert (out / f"{name}.csv").read_bytes() == (dirty_folder / f"{name}.csv").read_bytes(), name


def test_export_07b_another_seed_differs(exports, dictionary, tmp_path):
    """Test 7b: a different seed gives a different export (the seed is really used)."""
    study = simulate_study(load_profile(STUDY), 40, SEED + 1)
    other = write_export(study, dictionary, tmp_path / "other")
    assert other["seed"] == SEED + 1
    clean = exports["clean"][1]
    assert other["forms"]["dm"]["sha256"] != clean["forms"]["dm"]["sha256"]


# ---- Test 8 ------------------------------------------------------------------------------------
def problems(frame: pd.DataFrame, form_name: str, dictionary, country=None) -> list[tuple]:
    return [(f.row, f.field, f.value, f.problem)
            for f in check_form(frame, dictionary.forms[form_name], dictionary, country=country)]


def test_export_08a_missing_and_extra_columns(clean, dictionary):
    """Test 8a: a missing column and an unknown extra column are reported at row 0."""
    frame = clean["dm"].head(3).drop(columns=["SEX"]).assign(FOO="x")
    found = problems(frame, "dm", dictionary)
    assert (0, "SEX", "", "column missing from the form") in found
    assert (0, "FOO", "", "column not in the dictionary") in found
    assert len(found) == 2


def test_export_08b_edc_dates(clean, dictionary):
    """Test 8b: partial dates only where allowed, impossible days, unknown month with a known day."""
    enrol = clean["enrol"].head(4).copy()
    enrol.loc[0, "ICDAT"] = "UN-JAN-2019"
    enrol.loc[1, "ICDAT"] = "30-FEB-2019"
    enrol.loc[2, "RANDDAT"] = "2019-01-05"
    found = problems(enrol, "enrol", dictionary)
    assert found == [
        (1, "ICDAT", "UN-JAN-2019", "partial date where a complete date is required"),
        (2, "ICDAT", "30-FEB-2019", "impossible date"),
        (3, "RANDDAT", "2019-01-05", "not a DD-MON-YYYY date"),
    ]
    dm = clean["dm"].head(3).copy()
    dm.loc[0, "BRTHDAT"] = "UN-JAN-2019"   # allowed: BRTHDAT is partial
    dm.loc[1, "BRTHDAT"] = "UN-UNK-2019"   # allowed
    dm.loc[2, "BRTHDAT"] = "12-UNK-2019"
    assert problems(dm, "dm", dictionary) == [(3, "BRTHDAT", "12-UNK-2019", "day given with an unknown month")]


def test_export_08c_site_local_date_in_wrong_format(clean, dictionary, country_of):
    """Test 8c: a site-local date in another country's format is reported with the site's format."""
    bm = clean["bm"]
    c = country(bm, country_of)
    frame = pd.concat([bm[c == "DEU"].head(1), bm[c == "GBR"].head(1)], ignore_index=True)
    assert problems(frame, "bm", dictionary, country=country(frame, country_of)) == []
    frame.loc[0, "BMDAT"] = "05/01/2019"    # GBR style at a German site
    frame.loc[1, "BMDAT"] = "05.01.2019"    # German style at a British site
    found = problems(frame, "bm", dictionary, country=country(frame, country_of))
    assert found == [
        (1, "BMDAT", "05/01/2019", "not a valid date in the site's format %d.%m.%Y"),
        (2, "BMDAT", "05.01.2019", "not a valid date in the site's format %d/%m/%Y"),
    ]
    frame.loc[0, "BMDAT"] = "31.04.2019"    # right format, no such day
    found = problems(frame, "bm", dictionary, country=country(frame, country_of))
    assert (1, "BMDAT", "31.04.2019", "not a valid date in the site's format %d.%m.%Y") in found
    # a country the dictionary has no format for
    found = problems(frame.head(1), "bm", dictionary, country=pd.Series(["USA"]))
    assert found[0][3] == "site country has no local date format in the dictionary"


def test_export_08d_unknown_field_type_names_the_field(tmp_path):
    """Test 8d: a field of unknown type 'blob' is a SpecError keyed at the field's flattened position."""
    folder = tmp_path / "custom"
    folder.mkdir()
    shipped = study_dir(STUDY) / "raw_dictionary.yaml"
    text = shipped.read_text(encoding="utf-8")
    old = "{name: SEX, label: Sex, type: code,"
    assert text.count(old) == 1
    (folder / "raw_dictionary.yaml").write_text(text.replace(old, "{name: SEX, label: Sex, type: blob,"), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_raw_dictionary(folder)
    err = info.value
    # dm's fields: STUDYID, SITEID, SUBJID (the shared keys), BRTHDAT, SEX -> SEX is fields[4]
    assert err.key == "forms.dm.fields[4]"
    assert "'blob'" in err.message
    assert err.file == str(folder / "raw_dictionary.yaml")
    # the unchanged copy loads, so the error is the edit's
    shutil.copy(shipped, folder / "raw_dictionary.yaml")
    assert load_raw_dictionary(folder).forms["dm"].columns[4] == "SEX"


# ---- Test 9 ------------------------------------------------------------------------------------
def test_export_09_structural_defects_are_findings(dictionary, tmp_path):
    """Test 9: the two defects that are not bad cells are still found by the dictionary checks:
    a second record for a subject in a one-row-per-subject form, and a file cut off mid-record
    (pandas alone would pad the cut record with empty fields and say nothing)."""
    from click.testing import CliRunner

    from trialkit.cli import main

    out = tmp_path / "dirty"
    result = CliRunner().invoke(main, ["simulate", "--subjects", "120", "--seed", "5", "--dirty", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    for d in manifest["defects"]:
        form = dictionary.forms[d["form"]]
        if d["kind"] == "duplicate_subject":
            findings = check_form(read_form(out / d["file"]), form, dictionary)
            hits = [f for f in findings if f.row == d["row"] and f.field == "SUBJID"]
            assert [f.problem for f in hits] == ["second record for a subject in a one-row-per-subject form"]
        if d["kind"] == "truncated_file":
            (finding,) = truncation_findings(out / d["file"], form)
            assert finding.row == d["row"] and "file truncated" in finding.problem
    untouched = [n for n in dictionary.forms if n not in {d["form"] for d in manifest["defects"]}]
    assert untouched and all(truncation_findings(out / f"{n}.csv", dictionary.forms[n]) == [] for n in untouched)


# ---- Test 10 -----------------------------------------------------------------------------------
def test_export_10_unparseable_csv_is_an_input_error(tmp_path):
    """Test 10: a file cut inside a quoted field cannot be parsed: an InputError naming the file."""
    from trialkit.errors import InputError

    path = tmp_path / "bm.csv"
    path.write_text('A,B,C\n1,"2,5",3\n1,"2', encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_form(path)
    assert str(path) in str(info.value) and "truncated" in str(info.value)


# ---- Test 11 -----------------------------------------------------------------------------------
LAYOUT_DICTIONARY = """
study: XX
forms:
  scan:
    label: Scans
    fields:
      - {name: STUDYID, label: Study, type: text, required: true}
      - {name: SITEID, label: Site, type: text, required: true}
      - {name: SUBJID, label: Subject, type: text, required: true}
      - {name: SCANDT, label: Scan date, type: date, format: MM/DD/YYYY, required: true}
"""


@pytest.mark.parametrize(("edit", "words"), [
    (None, None),
    ("format: MM-DD-YYYY", "date field needs format: edc, site_local or one of"),
    ("format: MM/DD/YYYY, partial: true", "partial: true needs format: edc"),
], ids=["layout", "unknown-layout", "partial-layout"])
def test_export_11_date_fields_in_one_layout_for_every_row(tmp_path, edit, words):
    """Test 11: an EDC that writes every date MM/DD/YYYY (another study's export) is described by
    ``format: MM/DD/YYYY``: check_form reads each value in that layout, with no site country needed;
    an unknown layout, or partial dates (which only the edc format can write), is a SpecError."""
    text = LAYOUT_DICTIONARY if edit is None else LAYOUT_DICTIONARY.replace("format: MM/DD/YYYY", edit)
    (tmp_path / "raw_dictionary.yaml").write_text(text, encoding="utf-8")
    if words is not None:
        with pytest.raises(SpecError) as info:
            load_raw_dictionary(tmp_path)
        assert info.value.key == "forms.scan.fields[3]" and words in info.value.message
        return
    dictionary = load_raw_dictionary(tmp_path)
    frame = pd.DataFrame({"STUDYID": "XX", "SITEID": "1", "SUBJID": ["1-1", "1-2", "1-3", "1-4"],
                          "SCANDT": ["01/31/2022", "31/01/2022", "02/30/2022", "2022-01-31"]})
    found = [(f.row, f.field, f.value, f.problem) for f in check_form(frame, dictionary.forms["scan"], dictionary)]
    assert found == [(k, "SCANDT", v, "not a valid MM/DD/YYYY date") for k, v in
                     ((2, "31/01/2022"), (3, "02/30/2022"), (4, "2022-01-31"))]
