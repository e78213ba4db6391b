"""A large ODM snapshot read in forked workers, a range of SubjectData each (trialkit.formats.odm_ranges):
the same forms, locators, metadata and findings as one pass; a damaged file reported at the file's
own line and column; what the cut cannot cover read in one pass.

The ranges are made small (a few kB) so that a small simulated export is cut many times."""

from __future__ import annotations

import re

import pytest

from trialkit.errors import InputError
from trialkit.forked import can_fork
from trialkit.formats import odm_ranges
from trialkit.formats.odm import read_odm
from trialkit.raw_dictionary import load_raw_dictionary
from trialkit.simulate.profile import load_profile
from trialkit.simulate.study import simulate_study
from trialkit.simulate.writer import write_export

pytestmark = pytest.mark.skipif(not can_fork(), reason="forked workers need the fork start method")


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A clean simulated ODM export of 12 subjects."""
    out = tmp_path_factory.mktemp("odm_parallel") / "raw"
    write_export(simulate_study(load_profile("ball_relapse"), 12, 5), load_raw_dictionary("ball_relapse"), out, format="odm")
    return out / "export.xml"


def one_pass(path, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(odm_ranges, "PARALLEL_MIN_BYTES", 10**12)
        return read_odm(path)


@pytest.fixture
def small_ranges(monkeypatch):
    monkeypatch.setattr(odm_ranges, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(odm_ranges, "RANGE_BYTES", 4000)


def same(a, b) -> None:
    forms_a, meta_a, findings_a = a
    forms_b, meta_b, findings_b = b
    assert list(forms_a) == list(forms_b)
    for name in forms_a:
        assert forms_a[name].frame.equals(forms_b[name].frame), name
        assert forms_a[name].locators.tolist() == forms_b[name].locators.tolist(), name
        assert forms_a[name].labels == forms_b[name].labels
    assert meta_a == meta_b
    assert [vars(f) for f in findings_a] == [vars(f) for f in findings_b]


def test_ranges_read_in_workers_give_what_one_pass_gives(export, small_ranges, monkeypatch):
    plan = odm_ranges.plan(export)
    assert plan is not None and len(plan.ranges) > 3
    data = export.read_bytes()
    assert all(data[a:].startswith(b"<SubjectData") for a, _ in plan.ranges)
    assert [b for _, b in plan.ranges[:-1]] == [a for a, _ in plan.ranges[1:]]
    parallel = read_odm(export)
    same(parallel, one_pass(export, monkeypatch))
    assert "STUDYEVENTOID" in parallel[0]["dm"].frame and len(parallel[0]["dm"].frame) == 12


def test_undeclared_item_is_named_at_its_first_record(export, small_ranges, monkeypatch, tmp_path):
    data = export.read_bytes()
    plan = odm_ranges.plan(export)
    # an item no FormDef declares, in the third range and the last: the finding names the first
    third, last = plan.ranges[2][0], plan.ranges[-1][0]
    extra = b'<ItemData ItemOID="XTRA" Value="1"/></ItemGroupData>'
    for at in sorted((third, last), reverse=True):
        cut = data.index(b"</ItemGroupData>", at)
        data = data[:cut] + extra + data[cut + len(b"</ItemGroupData>"):]
    path = tmp_path / "export.xml"
    path.write_bytes(data)
    parallel = read_odm(path)
    same(parallel, one_pass(path, monkeypatch))
    (warning,) = [f for f in parallel[2] if f.column == "XTRA"]
    key = re.match(rb'<SubjectData[^>]*? SubjectKey="([^"]*)"', data[third:]).group(1).decode()
    assert warning.record.startswith(f"{key}/")      # the third range's first subject


def test_damaged_file_is_reported_at_the_files_line_and_column(export, small_ranges, monkeypatch, tmp_path):
    path = tmp_path / "cut.xml"
    data = export.read_bytes()
    # a damaged range in the middle (an element never closed): a worker's range does not parse
    middle = data.index(b"<ItemData", len(data) // 2)
    path.write_bytes(data[:middle] + b"<Broken>" + data[middle:])
    assert odm_ranges.plan(path) is not None
    with pytest.raises(InputError) as parallel:
        read_odm(path)
    with pytest.raises(InputError) as sequential:
        one_pass(path, monkeypatch)
    assert str(parallel.value) == str(sequential.value) and "malformed XML at line" in str(parallel.value)
    assert parallel.value.row == data[:middle].count(b"\n") + 1    # the file's line of <Broken> (its group's end tag mismatches)
    # cut short (no end of ClinicalData): not cut into ranges, read in one pass, reported where it stops
    path.write_bytes(data[:len(data) * 2 // 3])
    assert odm_ranges.plan(path) is None
    with pytest.raises(InputError, match="malformed XML at line"):
        read_odm(path)


def test_a_subject_in_two_ranges_is_read_in_one_pass(export, small_ranges, monkeypatch, tmp_path):
    data = export.read_bytes()
    plan = odm_ranges.plan(export)
    first, last = plan.ranges[0], plan.ranges[-1]
    subject = data[first[0]:first[1]].split(b"</SubjectData>")[0] + b"</SubjectData>"
    path = tmp_path / "again.xml"
    path.write_bytes(data[:last[0]] + subject + data[last[0]:])   # the first subject sent again, later in the file
    parallel = read_odm(path)
    same(parallel, one_pass(path, monkeypatch))


def test_what_the_plan_does_not_cover(export, small_ranges, tmp_path):
    data = export.read_bytes()
    tx = tmp_path / "tx.xml"
    tx.write_bytes(data.replace(b"<SubjectData ", b'<SubjectData TransactionType="Upsert" ', 1))
    assert odm_ranges.plan(tx) is None
    two = tmp_path / "two.xml"
    end = data.index(b"</ClinicalData>") + len(b"</ClinicalData>")
    start = data.index(b"<ClinicalData")
    two.write_bytes(data[:end] + data[start:end] + data[end:])
    assert odm_ranges.plan(two) is None


def test_a_part_is_decoded_with_the_files_encoding(export, small_ranges, monkeypatch, tmp_path):
    """A file in ISO-8859-1: each range is parsed with the file's XML declaration, so "Ã©" stays "Ã©"
    (its two bytes would read as the one character é in UTF-8, the encoding a part without it gets)."""
    text = export.read_text(encoding="utf-8")
    assert text.startswith("<?xml version='1.0' encoding='utf-8'?>")
    text = text.replace("encoding='utf-8'", "encoding='ISO-8859-1'", 1)
    last = text.rindex('Value="', 0, text.rindex("<SubjectData")) + len('Value="')
    path = tmp_path / "latin.xml"
    path.write_bytes((text[:last] + "Ã©" + text[last:]).encode("latin-1"))
    plan = odm_ranges.plan(path)
    assert plan.opening.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>") and len(plan.ranges) > 3
    parallel = read_odm(path)
    same(parallel, one_pass(path, monkeypatch))
    assert any(f.frame.map(lambda v: v.startswith("Ã©")).any().any() for f in parallel[0].values())
