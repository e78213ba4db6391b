"""reports.cell_records: the ADaM records behind a report cell, by re-applying its ars.json analysis."""

from __future__ import annotations

import json
import re

import pytest

from trialkit.errors import InputError
from trialkit.reports.cell_records import RECORD, cell_records
from trialkit.xpt import read_xpt


@pytest.fixture(scope="module")
def report(demo) -> dict:
    return json.loads((demo / "report" / "report.json").read_text(encoding="utf-8"))


def _count_cells(report: dict, table_id: str, prefix: str = "") -> list[tuple[str, str]]:
    table = next(t for t in report["tables"] if t["id"] == table_id)
    return [(cid, text) for row in table["rows"] for cid, text in zip(row["cell_ids"], row["cells"])
            if cid.startswith(prefix) and re.fullmatch(r"\d+( \(\d+%\))?", text)]


def test_01_subjects_of_table1_counts_and_table2_efs_events_are_the_numbers_shown(demo, report):
    """Table 1's n cells, Table 2's EFS events by type, Table 4's deaths (one subject of the demo
    died after the data cut-off: the report does not count them, nor may the records)."""
    cells = [*_count_cells(report, "table1"), *_count_cells(report, "table2", "table2/event-free-survival/subjects-with-an-event"),
             *_count_cells(report, "table4", "table4/discontinued-from-the-study/death")]
    assert len(cells) >= 6 + 4
    for cell_id, text in cells:
        dataset, records = cell_records(demo / "report", demo / "adam", cell_id)
        assert records["USUBJID"].nunique() == int(text.split()[0]), cell_id
    assert dataset == "ADSL"


def test_02_records_carry_their_parameter_and_position_in_the_file(demo):
    dataset, records = cell_records(demo / "report", demo / "adam", "table2/event-free-survival/subjects-with-an-event/blinatumomab")
    assert dataset == "ADTTE"
    assert set(records["PARAMCD"]) == {"EFS"} and set(records["CNSR"]) == {0}
    adtte, _ = read_xpt(demo / "adam" / "adtte.xpt")
    at = adtte.iloc[records[RECORD] - 1].reset_index(drop=True)
    assert at[["USUBJID", "PARAMCD", "AVAL"]].equals(records[["USUBJID", "PARAMCD", "AVAL"]])


def test_03_a_hazard_ratio_cell_is_both_arms_records(demo):
    _, records = cell_records(demo / "report", demo / "adam", "table1/all-patients/efs/hr")
    assert set(records["PARAMCD"]) == {"EFS"} and records["ARMCD"].nunique() == 2


def test_04_an_unknown_cell_lists_the_nearest_ids(demo):
    with pytest.raises(InputError) as err:
        cell_records(demo / "report", demo / "adam", "table1/mrd-lt-1e-3/blinatumab/n")
    assert "no report cell table1/mrd-lt-1e-3/blinatumab/n; nearest: table1/mrd-lt-1e-3/blinatumomab/n" in str(err.value)
    assert "report.json" in str(err.value)


def test_05_a_fixed_text_cell_has_no_records(demo):
    with pytest.raises(InputError, match="fixed text"):
        cell_records(demo / "report", demo / "adam", "table2/event-free-survival/stratified-hr-95-ci/chemotherapy")


def test_06_a_report_folder_without_ars_json_is_named(demo, tmp_path):
    (tmp_path / "report.json").write_text((demo / "report" / "report.json").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(InputError, match="ars.json"):
        cell_records(tmp_path, demo / "adam", "table1/all-patients/blinatumomab/n")


@pytest.mark.slow
def test_07_every_count_cell_of_every_table(demo, report):
    """Every n / n (%) cell of the demo report (315 of them; 2.5 min on a loaded machine): its records'
    subjects are the number shown, worst-grade rows and the AE table's terms included."""
    cells = [cell for table in report["tables"] for cell in _count_cells(report, table["id"])]
    located = {cid for table in report["tables"] for cid in table["cells"]}
    found = [(cid, text, cell_records(demo / "report", demo / "adam", cid)[1]["USUBJID"].nunique())
             for cid, text in cells if cid in located]
    assert len(found) > 300
    assert [(cid, text, n) for cid, text, n in found if n != int(text.split()[0])] == []
