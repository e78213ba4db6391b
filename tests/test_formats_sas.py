"""The SAS7BDAT / XPT reader: typed values become the text a user sees."""

import datetime as dt

import pandas as pd
import pyreadstat
import pytest

from trialkit.errors import InputError
from trialkit.formats.detect import detect_format
from trialkit.formats.sas import read_sas_form

FRAME = pd.DataFrame({"SUBJID": ["01-001", "01-002"], "AGE": [34.0, None], "WT": [70.25, 81.0],
                      "BRTHDT": [dt.date(1990, 1, 5), None]})


@pytest.mark.parametrize("fmt", ["sas7bdat", "xpt"])
def test_values_as_text(tmp_path, fmt):
    path = tmp_path / f"dm.{fmt}"
    write = pyreadstat.write_sas7bdat if fmt == "sas7bdat" else pyreadstat.write_xport
    write(FRAME, str(path), column_labels=["Subject", "Age", "Weight", "Birth date"])
    assert detect_format(path) == fmt
    form = read_sas_form(path, fmt)
    assert form.name == "dm" and form.source == f"dm.{fmt}"
    assert form.frame.to_dict("list") == {"SUBJID": ["01-001", "01-002"], "AGE": ["34", ""], "WT": ["70.25", "81"],
                                          "BRTHDT": ["1990-01-05", ""]}
    assert form.labels["AGE"] == "Age"


def test_not_sas_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "ae.sas7bdat"
    path.write_bytes(b"not a SAS file")
    with pytest.raises(InputError, match="ae.sas7bdat"):
        read_sas_form(path, "sas7bdat")
