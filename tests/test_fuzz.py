"""Fuzz tests: the spec expression parser, YAML spec and raw-dictionary loading, Dataset-JSON
reading, and the raw CSV and XPT readers (damaged bytes of a good file), fed generated input. Each must give a result, a finding or a clean trialkit error, never
another exception and never a hang (hypothesis' deadline per example). The default run keeps the
examples few (seconds in all); the ``slow`` mark runs many more (``pytest -m slow tests/test_fuzz.py``).
Hypothesis shrinks a failure to its smallest input and prints it: add it to tests/data/bad/."""

from __future__ import annotations

import json
import string
import tempfile
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialkit.dataset_json import read_dataset_json
from trialkit.errors import TrialkitError
from trialkit.expressions import parse
from trialkit.formats import read_export
from trialkit.raw_dictionary import load_raw_dictionary
from trialkit.spec import load_yaml
from trialkit.xpt import DatasetMeta, Variable, read_xpt, write_xpt

FAST = settings(max_examples=60, deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow],
                derandomize=True)
LONG = settings(max_examples=3000, deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.too_slow])

# ---- generated inputs ---------------------------------------------------------------------------

FIELDS = ("AEONGO", "AGE", "SEX", "X")
_atoms = st.one_of(st.sampled_from(FIELDS), st.sampled_from(["'Y'", "'N'", "''", "1", "-2", "3.5", "[]", "['Y', 'N']",
                                                             "[1, 2]", "True", "None", "x.y", "f(X)"]))
_ops = st.sampled_from([" == ", " != ", " < ", " >= ", " in ", " not in ", " and ", " or ", " + ", " is ", " ** "])


def _combine(children):
    return st.one_of(
        st.tuples(children, _ops, children).map("".join),
        children.map(lambda c: f"not {c}"),
        children.map(lambda c: f"({c})"),
        st.tuples(st.sampled_from(["blank", "present", "norm", "number", "len", "eval"]), children).map(lambda t: f"{t[0]}({t[1]})"),
    )


EXPRESSIONS = st.one_of(st.recursive(_atoms, _combine, max_leaves=12), st.text(max_size=60))
FRAME = pd.DataFrame({"AEONGO": ["Y", "N", "", " y"], "AGE": [34.0, None, 7.0, 130.0], "SEX": ["M", "F", "U", ""],
                      "X": ["1", "2,5", "a", ""]})

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                     st.text(string.ascii_letters + " -_.:", max_size=12))
JSON_VALUES = st.recursive(_scalars, lambda c: st.one_of(st.lists(c, max_size=4),
                                                         st.dictionaries(st.text(max_size=8), c, max_size=4)), max_leaves=20)
DICTIONARY_KEYS = st.sampled_from(["forms", "sites", "study", "fields", "name", "label", "type", "codes", "format",
                                   "partial", "pattern", "required", "expected", "date", "decimal", "x"])
YAML_TREES = st.recursive(_scalars, lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(DICTIONARY_KEYS, c, max_size=5)),
                          max_leaves=30)
GOOD_JSON = {"datasetJSONCreationDateTime": "2024-01-01T00:00:00", "datasetJSONVersion": "1.1.0", "itemGroupOID": "IG.DM",
             "records": 2, "name": "DM", "label": "Demographics",
             "columns": [{"itemOID": "IT.DM.USUBJID", "name": "USUBJID", "label": "Subject", "dataType": "string", "length": 8},
                         {"itemOID": "IT.DM.AGE", "name": "AGE", "label": "Age", "dataType": "integer"},
                         {"itemOID": "IT.DM.BRTHDTC", "name": "BRTHDT", "label": "Birth", "dataType": "date",
                          "targetDataType": "integer"}],
             "rows": [["01-001", 34, "1990-01-01"], ["01-002", None, None]]}


def _mutated(draw_path: list, value) -> dict:
    """GOOD_JSON with the value at ``draw_path`` (keys / indexes, as far as they reach) replaced."""
    doc = json.loads(json.dumps(GOOD_JSON))
    node = doc
    for step in draw_path[:-1]:
        if _reaches(node, step):
            node = node[step]
    if _reaches(node, draw_path[-1]) or (isinstance(node, dict) and isinstance(draw_path[-1], str)):
        node[draw_path[-1]] = value
    return doc


def _reaches(node, step) -> bool:
    """Whether ``step`` indexes into ``node``: a key of an object, a position in an array."""
    return (isinstance(node, dict) and step in node) or (
        isinstance(node, list) and isinstance(step, int) and step < len(node))


PATHS = st.lists(st.one_of(st.sampled_from(list(GOOD_JSON) + ["name", "dataType", "targetDataType", "length", "label"]),
                           st.integers(0, 3)), min_size=1, max_size=4)

# ---- the properties -----------------------------------------------------------------------------


def _expression_property(text: str) -> None:
    try:
        expr = parse(text, file="fuzz.yaml", key="filter")
    except TrialkitError:
        return
    frame = FRAME.reindex(columns=sorted(set(FRAME.columns) | expr.fields), fill_value="")
    try:
        result = expr.evaluate(frame)
    except TrialkitError:
        return
    assert len(result) == len(frame)


def _yaml_property(tree, raw_text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "raw_dictionary.yaml"
        for text in (yaml.safe_dump(tree), raw_text):
            path.write_text(text, encoding="utf-8")
            for load in (lambda: load_yaml(path), lambda: load_raw_dictionary(folder)):
                try:
                    load()
                except TrialkitError:
                    pass


def _dataset_json_property(path_steps: list, value, ndjson: bool) -> None:
    doc = _mutated(path_steps, value)
    with tempfile.TemporaryDirectory() as folder:
        if ndjson:
            file = Path(folder) / "dm.ndjson"
            rows = doc.pop("rows", [])
            file.write_text(json.dumps(doc) + "\n" + "\n".join(json.dumps(r) for r in (rows if isinstance(rows, list) else [rows])))
        else:
            file = Path(folder) / "dm.json"
            file.write_text(json.dumps(doc))
        try:
            frame, meta = read_dataset_json(file)
        except TrialkitError:
            return
        assert list(frame.columns) == [v.name for v in meta.variables]


GOOD_CSV = ("STUDYID,SITEID,SUBJID,AETERM,AESTDAT\n" + "".join(f'S1,01,01-{i:03d},"HEAD, ACHE",0{i % 9 + 1}-JAN-2020\n'
                                                            for i in range(6))).encode()
# damage: (position as a share of the file, kind, bytes); kinds cut the file there, insert or overwrite
DAMAGE = st.lists(st.tuples(st.floats(0, 1), st.sampled_from(["cut", "insert", "overwrite"]),
                            st.binary(min_size=1, max_size=6) | st.sampled_from([b"\x00", b'"', b"\n", b",", b"\xe2\x80\xa8",
                                                                                  b"\xff\xfe", b";"])), max_size=4)


def _damaged(data: bytes, damage: list) -> bytes:
    for share, kind, chunk in damage:
        at = int(share * len(data))
        data = data[:at] if kind == "cut" else data[:at] + chunk + data[at + (len(chunk) if kind == "overwrite" else 0):]
    return data


def _good_xpt() -> bytes:
    frame = pd.DataFrame({"SUBJID": [f"01-{i:03d}" for i in range(5)], "AETERM": ["HEADACHE", "NAUSEA", "", "RASH", "X" * 30],
                          "AEDOSE": [1.0, 2.5, None, 4.0, 5.0]})
    meta = DatasetMeta("AE", "Adverse events", (Variable("SUBJID", "Subject", "Char"), Variable("AETERM", "Term", "Char"),
                                                Variable("AEDOSE", "Dose", "Num")))
    with tempfile.TemporaryDirectory() as tmp:
        write_xpt(frame, meta, Path(tmp) / "ae.xpt")
        return (Path(tmp) / "ae.xpt").read_bytes()


GOOD_XPT = _good_xpt()


def _raw_file_property(name: str, good: bytes, damage: list) -> None:
    """A damaged raw export file (CSV or XPT) reads as forms of text, or is a clean trialkit error."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / name).write_bytes(_damaged(good, damage))
        try:
            export = read_export(Path(tmp))
        except TrialkitError:
            return
        for form in export.forms.values():
            assert all(isinstance(c, str) for c in form.frame.columns)
            assert all(form.frame[c].map(lambda v: isinstance(v, str)).all() for c in form.frame.columns)


def _raw_csv_property(damage: list) -> None:
    _raw_file_property("ae.csv", GOOD_CSV, damage)


def _raw_xpt_property(damage: list) -> None:
    _raw_file_property("ae.xpt", GOOD_XPT, damage)


def _xpt_dataset_property(damage: list) -> None:
    """A damaged SDTM XPT dataset reads with its metadata, or is a clean trialkit error (TK-IO-0001)."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "ae.xpt").write_bytes(_damaged(GOOD_XPT, damage))
        try:
            frame, meta = read_xpt(Path(tmp) / "ae.xpt")
        except TrialkitError:
            return
        assert list(frame.columns) == [v.name for v in meta.variables]


def test_fuzz_04_good_raw_files_read():
    # the undamaged files read, so the damage below tests what it changes
    for name, good in (("ae.csv", GOOD_CSV), ("ae.xpt", GOOD_XPT)):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / name).write_bytes(good)
            assert len(read_export(Path(tmp)).forms["ae"].frame) == (6 if name == "ae.csv" else 5)
    _xpt_dataset_property([])


def test_fuzz_00_good_dataset_json_reads():
    # the unmutated document reads, so the mutations below test what they change
    _dataset_json_property(["nothing-changed"], None, False)
    _dataset_json_property(["nothing-changed"], None, True)


test_fuzz_01_expressions = FAST(given(EXPRESSIONS)(_expression_property))
test_fuzz_02_yaml_and_raw_dictionary = FAST(given(YAML_TREES, st.text(max_size=80))(_yaml_property))
test_fuzz_03_dataset_json = FAST(given(PATHS, JSON_VALUES, st.booleans())(_dataset_json_property))
test_fuzz_05_raw_csv = FAST(given(DAMAGE)(_raw_csv_property))
test_fuzz_06_raw_xpt = FAST(given(DAMAGE)(_raw_xpt_property))
test_fuzz_07_xpt_dataset = FAST(given(DAMAGE)(_xpt_dataset_property))

test_fuzz_11_expressions_long = pytest.mark.slow(LONG(given(EXPRESSIONS)(_expression_property)))
test_fuzz_12_yaml_and_raw_dictionary_long = pytest.mark.slow(LONG(given(YAML_TREES, st.text(max_size=200))(_yaml_property)))
test_fuzz_13_dataset_json_long = pytest.mark.slow(LONG(given(PATHS, JSON_VALUES, st.booleans())(_dataset_json_property)))
test_fuzz_15_raw_csv_long = pytest.mark.slow(LONG(given(DAMAGE)(_raw_csv_property)))
test_fuzz_16_raw_xpt_long = pytest.mark.slow(LONG(given(DAMAGE)(_raw_xpt_property)))
test_fuzz_17_xpt_dataset_long = pytest.mark.slow(LONG(given(DAMAGE)(_xpt_dataset_property)))
