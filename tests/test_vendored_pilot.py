"""The CDISC pilot files vendored in tests/data are what tests/data/make_cdiscpilot01.py makes from
the full package (marked ``reference``: it needs that package, ../shared/reference in CI)."""

from __future__ import annotations

import sys

import pandas as pd
import pyreadstat
import pytest
from reference_data import PILOT, PILOT_SLICE, ROOT

sys.path.insert(0, str(ROOT / "tests" / "data"))
from make_cdiscpilot01 import SLICED, WHOLE, build, keep_records, subjects

pytestmark = pytest.mark.reference


def test_vendored_01_files_are_the_scripts_output_byte_for_byte():
    """Test 1: re-running the script on the full package gives every vendored file exactly, and
    nothing else is vendored."""
    made = build(PILOT)
    assert set(made) == set(WHOLE) | set(SLICED)
    assert {p.relative_to(PILOT_SLICE).as_posix() for p in PILOT_SLICE.rglob("*.xpt")} == set(made)
    for name, data in made.items():
        assert (PILOT_SLICE / name).read_bytes() == data, name


@pytest.mark.parametrize("name", SLICED)
def test_vendored_02_a_slice_reads_as_the_full_files_rows_of_its_subjects(name):
    """Test 2: read back, a sliced file is the full file's rows of the chosen subjects, with the
    same variables, labels, stored lengths and formats."""
    full, full_meta = pyreadstat.read_xport(str(PILOT / name), encoding="cp1252")
    part, part_meta = pyreadstat.read_xport(str(PILOT_SLICE / name), encoding="cp1252")
    assert set(part["USUBJID"]) == set(subjects(PILOT))
    pd.testing.assert_frame_equal(part, full[full["USUBJID"].isin(set(part["USUBJID"]))].reset_index(drop=True))
    for attr in ("column_names_to_labels", "variable_storage_width", "original_variable_types", "table_name"):
        assert getattr(part_meta, attr) == getattr(full_meta, attr), attr


def test_vendored_03_keeping_no_record_leaves_the_header_alone():
    """Test 3: the slicer's arithmetic on its own: no records is the header (a multiple of 80
    bytes) that pyreadstat reads as an empty dataset with every variable."""
    data = (PILOT / "sdtm" / "ae.xpt").read_bytes()
    empty = keep_records(data, [])
    assert len(empty) % 80 == 0 and data.startswith(empty)
    assert keep_records(data, [0])[len(empty):].rstrip(b" ") != b""
