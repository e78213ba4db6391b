"""The corpus of odd inputs that once gave a Python traceback (tests/data/bad/, one small file each):
each must now give the trialkit error named here, naming the file (and key or column where there is
one), and nothing else. See tests/data/bad/README.md for where each case came from."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trialkit.dataset_json import DatasetJsonError, read_dataset_json
from trialkit.errors import InputError, SpecError
from trialkit.expressions import parse
from trialkit.formats.csv_form import read_csv_form
from trialkit.raw_dictionary import load_raw_dictionary
from trialkit.spec import load_yaml

BAD = Path(__file__).parent / "data" / "bad"


def _raw_dictionary(path: Path, tmp_path: Path):
    shutil.copy(path, tmp_path / "raw_dictionary.yaml")
    return load_raw_dictionary(tmp_path)


def _expression(path: Path, tmp_path: Path):
    return parse(path.read_text(encoding="utf-8").strip(), file=path.name, key="variables.AEONGO.condition")


# file -> (how it is read, the error it must give, words the message must hold)
CASES = {
    "raw_dictionary_alias_bomb.yaml": (_raw_dictionary, SpecError, "expands to more than 1,000,000 values"),
    "spec_deep_nesting.yaml": (lambda p, _: load_yaml(p), SpecError, "nested more than 100 levels"),
    "dm_column_name_list.json": (lambda p, _: read_dataset_json(p), DatasetJsonError, "columns[0].name is an array"),
    "dm_column_name_int.json": (lambda p, _: read_dataset_json(p), DatasetJsonError, "columns[0].name is 5"),
    "dm_deeply_nested.json": (lambda p, _: read_dataset_json(p), DatasetJsonError, "nested far deeper"),
    "expression_5000_nots.txt": (_expression, SpecError, "longer than 2,000 characters"),
    "expression_in_string.txt": (_expression, SpecError, "'in' takes a list on its right"),
    "expression_equals_list.txt": (_expression, SpecError, "a list can only follow 'in'"),
    "latin1.csv": (lambda p, _: read_csv_form(p), InputError, "cannot be decoded as utf-8"),
}


def test_bad_01_every_corpus_file_has_its_expected_error():
    assert sorted(CASES) == sorted(p.name for p in BAD.iterdir() if p.name not in ("README.md", "SOURCE.md"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_02_corpus_file_gives_its_trialkit_error(name, tmp_path):
    read, error, words = CASES[name]
    with pytest.raises(error, match=None) as err:
        read(BAD / name, tmp_path)
    assert type(err.value) is error
    assert words in str(err.value)
    assert name in str(err.value) or "raw_dictionary.yaml" in str(err.value)
