"""reports.cells: cell ids (readable, unique, stable) and the sources cells record."""

from __future__ import annotations

import pytest

from trialkit.reports.cells import Source, arm_keys, by_arm, cell_ids, row_paths, slug
from trialkit.reports.table import Row
from trialkit.reports.where import Condition

ROWS = (Row("Event-free survival", header=True),
        Row("Subjects with an event", ("1", "2")),
        Row("Death", ("1", "0"), indent=1),
        Row("Death", ("0", "1"), indent=1),
        Row("Censored", ("3", "4")),
        Row("Overall survival", header=True),
        Row("Subjects with an event", ("5", "6")))


@pytest.mark.parametrize(("label", "expected"), [
    ("MRD < 1e-3", "mrd-lt-1e-3"), ("MRD >= 1e-3", "mrd-ge-1e-3"), ("Grade \u2265 3", "grade-ge-3"),
    ("Median, months (95% CI)", "median-months-95-ci"), ("M1 (< 5% blasts)", "m1-lt-5-blasts"), ("???", "-"),
])
def test_01_slug(label, expected):
    assert slug(label) == expected


def test_02_row_paths_follow_headers_and_indents():
    assert row_paths(ROWS)[2] == ("Event-free survival", "Subjects with an event", "Death")
    assert row_paths(ROWS)[4] == ("Event-free survival", "Censored")
    assert row_paths(ROWS)[6] == ("Overall survival", "Subjects with an event")


def test_03_ids_are_unique_a_repeated_row_numbered_in_table_order():
    ids = cell_ids("table2", ROWS, arm_keys(["Blinatumomab", "Chemotherapy"]))
    assert ids[0] == ()
    assert ids[2] == ("table2/event-free-survival/subjects-with-an-event/death/blinatumomab",
                      "table2/event-free-survival/subjects-with-an-event/death/chemotherapy")
    assert ids[3][0] == "table2/event-free-survival/subjects-with-an-event/death-2/blinatumomab"
    assert ids[6][1] == "table2/overall-survival/subjects-with-an-event/chemotherapy"
    assert cell_ids("table2", ROWS, arm_keys(["Blinatumomab", "Chemotherapy"])) == ids


def test_04_column_keys_and_sources_by_arm_with_a_total():
    assert arm_keys(["Blinatumomab", "Chemotherapy"], "n", total=True) == ("blinatumomab/n", "chemotherapy/n", "total/n")
    where = Condition("ADSL", "SEX", "EQ", ("F",))
    sources = by_arm(["A", "B"], "n-pct", "ADSL", "USUBJID", where, raws=[1, 2, 3], total=True)
    assert [(s.group, s.raw, s.where) for s in sources] == [("A", "1", where), ("B", "2", where), (None, "3", where)]
    with pytest.raises(ValueError):
        Source("mean", "ADSL", "AGE")
