"""reports.where: spec filters as ARS where clauses, the data cut-off stated on them, their evaluation."""

from __future__ import annotations

import pandas as pd
import pytest

from trialkit.errors import SpecError
from trialkit.expressions import parse
from trialkit.reports.cutoff import cut_dataset
from trialkit.reports.tlf import Cutoff, DatedValue
from trialkit.reports.where import (
    Compound,
    Condition,
    all_of,
    as_of_cutoff,
    clause_json,
    describe,
    evaluate,
    from_expression,
    record_cutoff,
)

ADSL = pd.DataFrame({"USUBJID": ["A", "B", "C", "D"], "SEX": ["F", "M", "F", ""], "TRT01AN": [1.0, 2.0, 1.0, float("nan")],
                     "DTHFL": ["Y", "Y", "", ""], "DTHDT": pd.to_datetime(["2021-01-05", "2021-03-01", None, None]),
                     "EOSSTT": ["DISCONTINUED", "DISCONTINUED", "ONGOING", "ONGOING"],
                     "EOSDT": pd.to_datetime(["2021-01-05", "2021-03-01", None, None])})
CUTOFF = Cutoff("DCUTDT", (DatedValue("DTHFL", "DTHDT", "N"), DatedValue("EOSSTT", "EOSDT", "ONGOING")), {"ADAE": "ASTDT"})
DATE = pd.Timestamp("2021-02-01")


def qualified(frame: pd.DataFrame, dataset: str = "ADSL") -> pd.DataFrame:
    return frame.add_prefix(f"{dataset}.")


def selected(where, frame: pd.DataFrame, dataset: str = "ADSL") -> list[str]:
    return list(frame["USUBJID"][evaluate(clause_json(where), qualified(frame, dataset))])


@pytest.mark.parametrize(("text", "expected"), [
    # 1: one comparison
    ("SEX == 'F'", Condition("ADSL", "SEX", "EQ", ("F",))),
    # 2: a list; numbers as the spec writes them
    ("TRT01AN in [1, 2.0]", Condition("ADSL", "TRT01AN", "IN", ("1", "2"))),
    # 3: a constant on the left is mirrored
    ("3 <= AGE", Condition("ADSL", "AGE", "GE", ("3",))),
    # 4: and / or / not
    ("SEX == 'F' and not (DTHFL == 'Y' or EOSSTT != 'ONGOING')",
     Compound("AND", (Condition("ADSL", "SEX", "EQ", ("F",)), Compound("NOT", (Compound("OR", (
         Condition("ADSL", "DTHFL", "EQ", ("Y",)), Condition("ADSL", "EOSSTT", "NE", ("ONGOING",)))),))))),
    # 5: blank() and present() compare with the blank text
    ("present(AVALC)", Condition("ADSL", "AVALC", "NE", ("",))),
    # 6: a chained comparison is the AND of its links
    ("1 < AGE < 9", Compound("AND", (Condition("ADSL", "AGE", "GT", ("1",)), Condition("ADSL", "AGE", "LT", ("9",))))),
])
def test_01_spec_filters_become_ars_conditions(text, expected):
    assert from_expression("ADSL", parse(text)) == expected


@pytest.mark.parametrize("text", ["norm(SEX) == 'F'", "AGE > HEIGHT", "number(AGE) > 5"])
def test_02_what_ars_cannot_state_is_a_spec_error_naming_the_key(text):
    with pytest.raises(SpecError) as err:
        from_expression("ADSL", parse(text, file="report.yaml", key="tables[0].rows[1].where"))
    assert "tables[0].rows[1].where" in str(err.value) and "ARS where clause" in str(err.value)


def test_03_conditions_select_as_the_spec_filter_does():
    """Text and numbers compare as the spec writes them; a missing value satisfies no condition but
    its NOT; blank text is the text ""."""
    for text, expected in [("SEX == 'F'", ["A", "C"]), ("TRT01AN == 1", ["A", "C"]), ("TRT01AN != 1", ["B"]),
                           ("blank(SEX)", ["D"]), ("SEX in ['F', 'M']", ["A", "B", "C"]), ("TRT01AN >= 2", ["B"])]:
        where = from_expression("ADSL", parse(text))
        assert selected(where, ADSL) == expected, text
        assert selected(where, ADSL) == list(ADSL["USUBJID"][parse(text).evaluate(ADSL).to_numpy()]), text
    assert selected(Compound("NOT", (Condition("ADSL", "TRT01AN", "IN", ("1",)),)), ADSL) == ["B", "D"]


@pytest.mark.parametrize("text", ["DTHFL == 'Y'", "DTHFL != 'Y'", "EOSSTT == 'ONGOING'", "EOSSTT == 'DISCONTINUED' and SEX == 'M'",
                                  "not (DTHFL == 'N')"])
def test_04_cutoff_clause_on_the_data_selects_what_the_report_counted_on_the_cut_data(text):
    """B died and left the study after the cut-off: the report read DTHFL N and EOSSTT ONGOING."""
    cut = cut_dataset("ADSL", ADSL, CUTOFF, DATE)
    where = from_expression("ADSL", parse(text))
    assert selected(as_of_cutoff(where, CUTOFF, DATE), ADSL) == selected(where, cut), text


def test_05_records_dated_after_the_cutoff_are_left_out_undated_kept():
    adae = pd.DataFrame({"USUBJID": ["A", "B", "C"], "ASTDT": pd.to_datetime(["2021-01-10", "2021-02-10", None])})
    assert selected(record_cutoff("ADAE", CUTOFF, DATE), adae, "ADAE") == ["A", "C"]
    assert list(cut_dataset("ADAE", adae, CUTOFF, DATE)["USUBJID"]) == ["A", "C"]
    assert record_cutoff("ADTTE", CUTOFF, DATE) is None


def test_06_all_of_splices_ands_and_describe_reads_as_a_line():
    a, b, c = (Condition("ADTTE", v, "EQ", (x,)) for v, x in [("PARAMCD", "EFS"), ("CNSR", "0"), ("EVNTDESC", "DEATH")])
    assert all_of([a, None, Compound("AND", (b, c)), a]) == Compound("AND", (a, b, c))
    assert all_of([None]) is None and all_of([a]) == a
    assert describe(Compound("AND", (a, Compound("NOT", (Condition("ADSL", "SEX", "IN", ("F", "")),))))) == \
        "ADTTE.PARAMCD EQ EFS AND (NOT (ADSL.SEX IN [F, ]))"
