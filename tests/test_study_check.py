"""``trialkit spec check`` (trialkit/study_check.py): the shipped study passes; each kind of spec
mistake, in a copy of the study, is one error naming the spec file and key, before any data is read."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from trialkit.cli import main
from trialkit.errors import SpecError
from trialkit.spec import study_dir
from trialkit.study_check import check_study


def _copy(tmp_path, file: str, old: str, new: str):
    study = tmp_path / "study"
    shutil.copytree(study_dir("ball_relapse"), study)
    path = study / file
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return study


def test_study_check_01_shipped_study_passes_every_part():
    """Test 1: the shipped study's specs pass, each part named."""
    lines = check_study("ball_relapse")
    assert [line.split(":")[0] for line in lines] == [
        "raw dictionary and SDTM specs", "ADaM specs", "define.xml metadata", "report shells"]


@pytest.mark.parametrize(("file", "old", "new", "name", "key", "words"), [
    ("adam/ADTTE.yaml", "date: CESTDTC", "date: CESTDC", "ADTTE.yaml", "parameters[0].events[2]", "CESTDC"),
    ("adam/ADTTE.yaml", "  - dataset: CE\n", "  - dataset: XE\n", "ADTTE.yaml", "parameters[0].events[2]", "XE is not produced"),
    ("adam/ADSL.yaml", "new_vars: {MARBL: RSSTRESC}", "new_vars: {MARBL: RSSTRES}", "ADSL.yaml", "steps[", "RSSTRES"),
    ("adam/ADAE.yaml", "source: AE", "source: AX", "ADAE.yaml", "source", "AX is not produced"),
    ("tlf/report.yaml", "dataset: ADAE", "dataset: ADXX", "report.yaml", "tables[5].dataset", "ADXX"),
    ("sdtm/AE.yaml", "AESER:", "AESERR:", "AE.yaml", None, "AESERR"),
], ids=["event-date-variable", "event-dataset", "merged-variable", "occds-source", "shell-dataset", "sdtm-variable"])
def test_study_check_02_mistakes_name_file_and_key(tmp_path, file, old, new, name, key, words):
    """Test 2: an event source's misspelt date or dataset, an ADSL step reading a variable the SDTM
    spec does not produce, an occurrence dataset from an unknown domain, a report shell on a dataset
    the study does not derive, an SDTM variable not in the SDTMIG: each a SpecError naming file and key."""
    with pytest.raises(SpecError) as exc:
        check_study(_copy(tmp_path, file, old, new))
    assert exc.value.file.endswith(name), exc.value.file
    if key is not None:
        assert (exc.value.key or "").startswith(key), exc.value.key
    assert words in str(exc.value)


def test_study_check_03_cli_exit_codes(tmp_path):
    """Test 3: `trialkit spec check` exits 0 on the shipped study and 2 with one error line otherwise."""
    ok = CliRunner().invoke(main, ["spec", "check", "ball_relapse"])
    assert ok.exit_code == 0 and ok.output.count("ok: ") == 4
    bad = CliRunner().invoke(main, ["spec", "check", str(_copy(tmp_path, "adam/ADTTE.yaml", "date: CESTDTC", "date: CESTDC"))])
    assert bad.exit_code == 2
    assert bad.output.startswith("trialkit: error:") and "ADTTE.yaml" in bad.output and "CESTDC" in bad.output


def test_study_check_04_event_filters_may_name_adsl_variables(tmp_path):
    """Test 4: an event source's filter may test ADSL variables (the engine merges them onto the
    source's records); a name neither the source nor ADSL has is still an error naming the source."""
    old = "        filter: \"CECAT == 'RELAPSE'\"\n        date: CESTDTC"
    assert check_study(_copy(tmp_path / "ok", "adam/ADTTE.yaml", old, old.replace("'RELAPSE'", "'RELAPSE' and ITTFL == 'Y'")))
    with pytest.raises(SpecError) as exc:
        check_study(_copy(tmp_path / "bad", "adam/ADTTE.yaml", old, old.replace("'RELAPSE'", "'RELAPSE' and ITTFX == 'Y'")))
    assert exc.value.key.startswith("parameters[0].events[2]") and "ITTFX" in str(exc.value)


def test_study_check_05_a_derived_variable_without_a_label(tmp_path):
    """Test 5: an ADSL step deriving a variable that `variables:` does not label is named at check
    time, not when ADSL is written."""
    study = _copy(tmp_path, "adam/ADSL.yaml", "  CARTFL: CAR-T Cell Therapy by Cut-off Flag\n", "")
    with pytest.raises(SpecError) as exc:
        check_study(study)
    assert exc.value.file.endswith("ADSL.yaml") and exc.value.key == "variables.CARTFL"


def test_study_check_05_an_expected_variable_without_a_reason_is_a_warning(tmp_path):
    """Test 5: the shipped study explains every Expected variable it does not collect; in a copy whose
    LB spec drops the reason for LBNRIND, `trialkit spec check` still exits 0 and warns once, naming
    LB.yaml, the variable and the key the reason belongs under."""
    from trialkit.study_check import spec_warnings

    assert spec_warnings("ball_relapse") == [] and spec_warnings("solid_tumour") == []
    study = _copy(tmp_path, "sdtm/LB.yaml", '  LBNRIND: "marrow blasts and MRD have no reference range, so no result is '
                                            'flagged against one"\n', "")
    done = CliRunner().invoke(main, ["spec", "check", str(study)])
    assert done.exit_code == 0 and done.stdout.count("ok: ") == 4
    assert done.stderr.splitlines() == [("warning: LB.yaml: LB.LBNRIND is Expected (SDTMIG 3.4) but nothing fills it and "
                                         "no reason is given under not_collected; it is written empty")]
