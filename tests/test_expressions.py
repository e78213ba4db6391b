"""Tests of trialkit.expressions: the whitelisted grammar of spec filters and conditions.

Numbered cases, tiny inline frames. Every allowed construct is evaluated on a frame whose rows make
the assertion able to fail; every forbidden construct must be a SpecError naming the key it was
parsed under, so a spec can never run code.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from trialkit.errors import SpecError
from trialkit.expressions import MAX_DEPTH, parse


def _rows(expr: str, frame: pd.DataFrame) -> list[bool]:
    return parse(expr).evaluate(frame).tolist()


BM = pd.DataFrame({
    "MSTATUS": ["M1", "M2", "M3", "m1 "],
    "PBBLAST": ["N", "N", "Y", "N"],
    "BLASTPCT": ["2,5", "10.0", "40", ""],
})


# ---- Test 1: == and != ------------------------------------------------------------------------

def test_expressions_01_equal_and_not_equal():
    assert _rows("MSTATUS == 'M1'", BM) == [True, False, False, False]   # 'm1 ' is not 'M1' without norm()
    assert _rows("MSTATUS != 'M1'", BM) == [False, True, True, True]
    assert _rows("'M1' == MSTATUS", BM) == [True, False, False, False]   # constant on the left


# ---- Test 2: in / not in lists ----------------------------------------------------------------

def test_expressions_02_in_and_not_in_lists():
    assert _rows("MSTATUS in ['M2', 'M3']", BM) == [False, True, True, False]
    assert _rows("MSTATUS not in ['M2', 'M3']", BM) == [True, False, False, True]
    assert _rows("MSTATUS in ('M1',)", BM) == [True, False, False, False]   # a tuple works like a list


# ---- Test 3: and / or / not -------------------------------------------------------------------

def test_expressions_03_and_or_not():
    assert _rows("MSTATUS == 'M1' and PBBLAST == 'N'", BM) == [True, False, False, False]
    assert _rows("MSTATUS == 'M3' or PBBLAST == 'N'", BM) == [True, True, True, True]
    assert _rows("MSTATUS == 'M2' or MSTATUS == 'M3'", BM) == [False, True, True, False]
    assert _rows("not MSTATUS == 'M1'", BM) == [False, True, True, True]
    assert _rows("not (MSTATUS == 'M1' or PBBLAST == 'Y')", BM) == [False, True, False, True]
    # three operands of one BoolOp
    assert _rows("PBBLAST == 'N' and MSTATUS != 'M2' and MSTATUS != 'M1'", BM) == [False, False, False, True]


# ---- Test 4: norm() trims and upper-cases ----------------------------------------------------

def test_expressions_04_norm_trims_and_upper_cases():
    assert _rows("norm(MSTATUS) == 'M1'", BM) == [True, False, False, True]
    assert _rows("norm(MSTATUS) in ['M1']", BM) == [True, False, False, True]


# ---- Test 5: blank() and present() -------------------------------------------------------------

def test_expressions_05_blank_and_present():
    frame = pd.DataFrame({"X": ["", "  ", "a", " b "]})
    assert _rows("blank(X)", frame) == [True, True, False, False]
    assert _rows("present(X)", frame) == [False, False, True, True]


# ---- Test 6: number() reads a decimal comma ---------------------------------------------------

def test_expressions_06_number_with_decimal_comma():
    assert _rows("number(BLASTPCT) < 5", BM) == [True, False, False, False]    # '2,5' is 2.5
    assert _rows("number(BLASTPCT) >= 10", BM) == [False, True, True, False]  # '' is no number: False
    assert _rows("number(BLASTPCT) == 2.5", BM) == [True, False, False, False]
    assert _rows("number(BLASTPCT) <= 10", BM) == [True, True, False, False]
    assert _rows("number(BLASTPCT) > 10", BM) == [False, False, True, False]
    values = parse("number(BLASTPCT)").evaluate(BM)
    assert values.iloc[:3].tolist() == [2.5, 10.0, 40.0] and np.isnan(values.iloc[3])


# ---- Test 7: chained comparison --------------------------------------------------------------

def test_expressions_07_chained_comparison():
    frame = pd.DataFrame({"V": ["4", "5", "24,9", "25", ""]})
    assert _rows("5 <= number(V) < 25", frame) == [False, True, True, False, False]
    assert _rows("0 < number(V) <= 5", frame) == [True, True, False, False, False]


# ---- Test 8: constants alone are broadcast ----------------------------------------------------

def test_expressions_08_constant_comparison_is_broadcast_over_the_frame():
    assert _rows("1 < 2", BM) == [True] * 4
    assert _rows("'A' == 'B'", BM) == [False] * 4
    assert parse("'A' == 'B'").evaluate(BM).index.equals(BM.index)


# ---- Test 9: fields --------------------------------------------------------------------------

def test_expressions_09_fields_lists_the_referenced_fields_only():
    e = parse("norm(MSTATUS) == 'M1' and (blank(AEENDAT) or number(BLASTPCT) > 5) and X in ['M1']")
    assert e.fields == frozenset({"MSTATUS", "AEENDAT", "BLASTPCT", "X"})   # not norm, blank, number
    assert parse("1 < 2").fields == frozenset()
    assert parse("MSTATUS == 'M1'").text == "MSTATUS == 'M1'"


# ---- Test 10: a field the frame lacks ---------------------------------------------------------

def test_expressions_10_field_missing_from_frame_is_a_key_error():
    with pytest.raises(KeyError, match="NOPE"):
        parse("NOPE == 'x'").evaluate(BM)


# ---- Test 11: forbidden constructs -----------------------------------------------------------

FORBIDDEN = [
    ("x.__class__", "Attribute"),
    ("MSTATUS.upper() == 'M1'", "may be called"),
    ("open('f')", "may be called"),
    ("__import__('os')", "may be called"),
    ("MSTATUS[0] == 'M'", "Subscript"),
    ("(lambda: 1)()", "may be called"),
    ("lambda: 1", "Lambda"),
    ("f'{MSTATUS}' == 'M1'", "JoinedStr"),
    ("A + B", "BinOp"),
    ("number(A) * 2 > 1", "BinOp"),
    ("True", "constant True"),
    ("MSTATUS == True", "constant True"),
    ("MSTATUS == None", "constant None"),
    ("norm(MSTATUS, strip=1) == 'M1'", "may be called"),
    ("norm(x=MSTATUS) == 'M1'", "may be called"),
    ("norm(MSTATUS, PBBLAST) == 'M1'", "may be called"),
    ("norm() == 'M1'", "may be called"),
    ("MSTATUS is None", "Is"),
    ("A if B else C", "IfExp"),
    ("{'a': 1}", "Dict"),
    ("[x for x in A]", "ListComp"),
    ("(y := 1)", "NamedExpr"),
    ("b'x' == A", "constant b'x'"),
    ("MSTATUS == 'M1' and", "cannot parse"),
]


@pytest.mark.parametrize("text, problem", FORBIDDEN, ids=[t for t, _ in FORBIDDEN])
def test_expressions_11_forbidden_construct_is_a_spec_error_naming_the_key(text, problem):
    with pytest.raises(SpecError) as err:
        parse(text, file="BM.yaml", key="sources[0].filter")
    assert err.value.key == "sources[0].filter"
    assert err.value.file == "BM.yaml"
    assert problem in str(err.value)
    assert "key sources[0].filter" in str(err.value)


# ---- Test 12: missing values never make a row True -------------------------------------------
# Raw forms are read as text ('' for empty), but frames built by joins (DM's later sources, merged
# left on USUBJID) and mapped variables (AGE, _country) carry NaN / None.

MISSING = pd.DataFrame({"A": [np.nan, None, "X"]}, dtype=object)


@pytest.mark.parametrize("text, expected", [
    ("A == 'X'", [False, False, True]),
    ("A in ['X', 'Y']", [False, False, True]),
    ("norm(A) == 'X'", [False, False, True]),
    ("number(A) > 0", [False, False, False]),
    ("number(A) == 1", [False, False, False]),
])
def test_expressions_12_missing_value_is_false_in_positive_tests(text, expected):
    assert _rows(text, MISSING) == expected


@pytest.mark.parametrize("text", [
    "A != 'X'",
    "A not in ['X']",
    "not A == 'X'",
    "number(A) != 1",
    "present(A)",
    "norm(A) in ['NAN', 'NONE']",
])
def test_expressions_13_missing_value_never_makes_a_row_true(text):
    assert _rows(text, MISSING.iloc[:2]) == [False, False]


# ---- Test 14: a function name used as a field -------------------------------------------------

def test_expressions_14_bare_function_name_is_refused_at_parse():
    with pytest.raises(SpecError):
        parse("norm == 'X'", key="k")



def test_expressions_15_negative_numbers_are_allowed():
    """Test 15: a minus sign on a number is allowed (study days before the start are negative);
    on anything else it is not."""
    frame = pd.DataFrame({"A": ["-3", "0", "", "2"]})
    assert parse("-1 > number(A)").evaluate(frame).tolist() == [True, False, False, False]
    with pytest.raises(SpecError):
        parse("-number(A) > 1")


# ---- Test 16: what spec check accepts never fails at run time for its shape --------------------

@pytest.mark.parametrize(("text", "says"), [
    ("AEONGO in 'YN'", "'in' takes a list on its right"),
    ("AEONGO not in AEOUT", "'not in' takes a list on its right"),
    ("AEONGO == ['Y']", "a list can only follow 'in' or 'not in'"),
    ("['Y'] in ['Y', 'N']", "the left side of 'in' is a single value"),
    ("AEONGO in [AEOUT]", "a list holds constants only"),
    ("['Y'] and AEONGO == 'Y'", "a list can only follow 'in' or 'not in'"),   # found by tests/test_fuzz.py
    ("blank('x')", "may be called"),
    ("number(norm(AGE)) > 1", "may be called"),
])
def test_expressions_16_operand_shapes_are_checked_at_parse(text, says):
    with pytest.raises(SpecError, match=re.escape(says)) as err:
        parse(text, file="AE.yaml", key="variables.AEONGO.condition")
    assert err.value.file == "AE.yaml" and err.value.key == "variables.AEONGO.condition"


def test_expressions_17_deep_nesting_is_a_spec_error_not_a_recursion_error():
    for text in ("not " * 5000 + "A == 'x'", "not " * (MAX_DEPTH + 1) + "A == 'x'", "(" * 300 + "A" + ")" * 300):
        with pytest.raises(SpecError) as err:
            parse(text, file="DM.yaml", key="filter")
        assert err.value.key == "filter" and len(str(err.value)) < 300


def test_expressions_18_text_against_number_order_is_a_spec_error_at_evaluation():
    expr = parse("AGE > 5", file="ADSL.yaml", key="steps[0].flag")
    with pytest.raises(SpecError, match="compares values of different types") as err:
        expr.evaluate(pd.DataFrame({"AGE": ["7", "3"]}))
    assert err.value.file == "ADSL.yaml" and err.value.key == "steps[0].flag"
    assert parse("number(AGE) > 5").evaluate(pd.DataFrame({"AGE": ["7", "3"]})).tolist() == [True, False]
