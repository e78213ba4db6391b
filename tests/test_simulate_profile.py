"""Tests of the calibration profile checks (trialkit.simulate.profile).

A bad profile value must stop the simulator before anything is drawn, with a SpecError whose ``key``
is the dotted key path and whose one-line message names the file and the key. Each test starts from
the shipped ball_relapse profile, changes one value and checks the error.
"""

from __future__ import annotations

import copy
import shutil

import pytest
import yaml

from trialkit.errors import SpecError
from trialkit.simulate.profile import Profile, load_profile, parse_profile
from trialkit.spec import study_dir

SHIPPED = study_dir("ball_relapse") / "profile.yaml"
SOURCE = "studies/custom/profile.yaml"


@pytest.fixture(scope="module")
def shipped_data() -> dict:
    with SHIPPED.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def spec_error(data: dict, mutate) -> SpecError:
    """Apply ``mutate`` to a deep copy of ``data`` and return the SpecError parse_profile raises."""
    bad = copy.deepcopy(data)
    mutate(bad)
    with pytest.raises(SpecError) as info:
        parse_profile(bad, source=SOURCE)
    return info.value


# ---- Test 1 ------------------------------------------------------------------------------------
def test_profile_01_negative_rate_names_key(shipped_data):
    """Test 1: a negative rate is a SpecError keyed at the rate."""
    err = spec_error(shipped_data, lambda d: d["events"].__setitem__("lost_to_follow_up_per_year", -0.1))
    assert err.key == "events.lost_to_follow_up_per_year"
    assert "greater than or equal to 0" in err.message


# ---- Test 2 ------------------------------------------------------------------------------------
def test_profile_02_distribution_must_sum_to_one(shipped_data):
    """Test 2: a distribution whose probabilities do not sum to 1 names the key and the sum."""
    err = spec_error(shipped_data, lambda d: d["population"]["race"].__setitem__("WHITE", 0.80))
    assert err.key == "population.race"
    assert "sum" in err.message
    assert "0.94" in err.message  # the actual total, 0.80 + 0.14


# ---- Test 3 ------------------------------------------------------------------------------------
def test_profile_03_unknown_key_is_an_error(shipped_data):
    """Test 3: a typo'd key is not ignored (it would silently fall back to a default)."""
    err = spec_error(shipped_data, lambda d: d["population"].__setitem__("femal", 0.5))
    assert err.key == "population.femal"
    assert err.message == "unknown key"


# ---- Test 4 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "key"),
    [
        (("population", "female"), "population.female"),
        (("treatment", "treated", "HC3"), "treatment.treated.HC3"),
        (("mrd_response", "remission", "HC3", "LOW"), "mrd_response.remission.HC3.LOW"),
        (("events", "death_after_relapse", "BLIN", "HIGH"), "events.death_after_relapse.BLIN.HIGH"),
    ],
)
def test_profile_04_probability_above_one(shipped_data, path, key):
    """Test 4: a probability above 1 is keyed at the value, however deep it sits."""

    def mutate(d):
        node = d
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = 1.2

    err = spec_error(shipped_data, mutate)
    assert err.key == key
    assert "less than or equal to 1" in err.message


# ---- Test 5 ------------------------------------------------------------------------------------
def test_profile_05_per_arm_table_missing_an_arm(shipped_data):
    """Test 5: a per-arm table without one of the study's arms is caught at load time, and the
    message names the arms it should have (see also Test 11 for the key)."""
    err = spec_error(shipped_data, lambda d: d["transplant"]["in_cr2"].pop("HC3"))
    assert err.key == "transplant.in_cr2"
    assert "HC3" in err.message


# ---- Test 6 ------------------------------------------------------------------------------------
def test_profile_06_hazard_share_wrong_length(shipped_data):
    """Test 6: hazard_share needs one value per interval of hazard_breaks_months (5 with 6 breaks)."""
    err = spec_error(shipped_data, lambda d: d["events"]["hazard_share"].__setitem__("BLIN", [0.5, 0.5]))
    assert err.key == "events.hazard_share.BLIN"
    assert "5 values" in err.message


# ---- Test 7 ------------------------------------------------------------------------------------
def test_profile_07_end_of_treatment_visit_must_exist(shipped_data):
    """Test 7: end_of_treatment_visit must name one of the visits."""
    err = spec_error(shipped_data, lambda d: d["treatment"].__setitem__("end_of_treatment_visit", "C1D28"))
    assert err.key == "treatment.end_of_treatment_visit"
    assert "'C1D28'" in err.message
    assert "not in visits" in err.message


# ---- Test 8 ------------------------------------------------------------------------------------
def test_profile_08_shipped_profile_loads_by_name_and_by_folder(tmp_path):
    """Test 8: the shipped profile loads by study name, and a copy loads from a folder path."""
    by_name = load_profile("ball_relapse")
    assert isinstance(by_name, Profile)
    assert by_name.study.default_subjects == 111
    assert set(by_name.arms) == {"BLIN", "HC3"}

    shutil.copy(SHIPPED, tmp_path / "profile.yaml")
    by_folder = load_profile(tmp_path)
    assert by_folder == by_name
    assert load_profile(str(tmp_path)) == by_name


# ---- Test 9 ------------------------------------------------------------------------------------
def test_profile_09_yaml_syntax_error_names_file_and_line(tmp_path):
    """Test 9: a YAML syntax error is a SpecError with the file and the (1-based) line."""
    path = tmp_path / "profile.yaml"
    path.write_text("study:\n  studyid: BALLR01\n   title: indented one space too far\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_profile(tmp_path)
    err = info.value
    assert err.file == str(path)
    assert err.row == 3
    assert str(err).startswith(f"{path}:3: ")
    assert "invalid YAML" in str(err)


# ---- Test 10 -----------------------------------------------------------------------------------
def test_profile_10_message_is_one_line_with_file_and_key(shipped_data, tmp_path):
    """Test 10: str(SpecError) is the one line the CLI prints: file, key and problem."""
    bad = copy.deepcopy(shipped_data)
    bad["adverse_events"]["related"]["BLIN"] = -0.5
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(bad, sort_keys=False), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_profile(tmp_path)
    text = str(info.value)
    assert "\n" not in text
    assert info.value.key == "adverse_events.related.BLIN"
    assert text == f"{path}: key adverse_events.related.BLIN: Input should be greater than or equal to 0 (got -0.5)"


# ---- Test 11 -----------------------------------------------------------------------------------
# Checks that span several keys (model validators) must still key the value at fault, not the model
# that holds them.
@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d["transplant"]["in_cr2"].pop("HC3"), "transplant.in_cr2"),
        (lambda d: d["events"]["hazard_share"].__setitem__("BLIN", [0.5, 0.5]), "events.hazard_share.BLIN"),
        (lambda d: d["events"]["hazard_share"].__setitem__("BLIN", [0.1] * 5), "events.hazard_share.BLIN"),
        (lambda d: d["treatment"].__setitem__("end_of_treatment_visit", "C1D28"), "treatment.end_of_treatment_visit"),
        (lambda d: d["population"]["marrow_mrd_stratum"]["HC3"].__setitem__("M3", d["population"]["marrow_mrd_stratum"]["HC3"].pop("M2")),
         "population.marrow_mrd_stratum.HC3"),
        (lambda d: d["population"]["marrow_mrd_stratum"].pop("BLIN"), "population.marrow_mrd_stratum"),
    ],
    ids=["missing-arm", "hazard-share-length", "hazard-share-sum", "eot-visit", "stratum-names", "stratum-missing-arm"],
)
def test_profile_11_cross_field_errors_key_the_value_at_fault(shipped_data, mutate, key):
    """Test 11: errors found by cross-field checks carry the key at fault in ``err.key``."""
    err = spec_error(shipped_data, mutate)
    assert err.key == key


# ---- Test 12 -----------------------------------------------------------------------------------
def test_profile_12_misspelt_key_reported_as_unknown_not_missing(shipped_data):
    """Test 12: a misspelt key is reported as the unknown key, not as its correct spelling missing."""
    def mutate(d):
        d["population"]["femal"] = d["population"].pop("female")

    err = spec_error(shipped_data, mutate)
    assert err.key == "population.femal"
    assert err.message.startswith("unknown key")


# ---- Test 13 -----------------------------------------------------------------------------------
def test_profile_13_not_a_mapping(tmp_path):
    """Test 13: a profile that is a list, not a mapping, says so without naming internal classes."""
    (tmp_path / "profile.yaml").write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_profile(tmp_path)
    assert info.value.message == "expected a mapping, got list"
    assert "Profile" not in str(info.value)


# ---- Test 14 -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("model", "message"), [(None, "required key is missing"), ("leukemia", "unknown model leukemia")])
def test_profile_14_model_names_the_simulators_models(shipped_data, model, message):
    """Test 14: ``model`` picks the disease model; missing or unknown, it is a SpecError keyed at
    ``model`` that lists the models there are."""
    err = spec_error(shipped_data, lambda d: d.pop("model") if model is None else d.__setitem__("model", model))
    assert err.key == "model" and err.message.startswith(message)
    assert "leukaemia_efs, recist_pfs" in err.message


@pytest.fixture(scope="module")
def recist_data() -> dict:
    with (study_dir("solid_tumour") / "profile.yaml").open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


# ---- Test 15 -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("mutate", "key", "text"), [
    (lambda d: d["forms"]["demography"]["fields"].__setitem__("SEXCD", "gender"), "forms.demography.fields.SEXCD",
     "subjects records have no gender"),
    (lambda d: d["forms"]["death"]["fields"]["DTHCAUS"]["codes"].__setitem__("PD", "PD"), "forms.death.fields.DTHCAUS.codes",
     "the model says PROGRESSION, OTHER"),
    (lambda d: d["progression"]["median_days"].pop("B"), "progression.median_days", "expected ['A', 'B']"),
    (lambda d: d["progression"]["hazard_ratio"].__setitem__("ecog", {"2": 1.5}), "progression.hazard_ratio.ecog",
     "codes ['2'] are not drawn"),
    (lambda d: d["forms"].__setitem__("extra", {"records": "scans", "fields": {}}), "forms.extra.records", "Input should be"),
], ids=["unknown-variable", "unknown-outcome", "arm-missing", "hazard-ratio-code", "unknown-record-kind"])
def test_profile_15_recist_profile_forms_and_arms_are_checked(recist_data, mutate, key, text):
    """Test 15: the shipped ONCO02 profile (model recist_pfs) loads; a form field taking a variable its
    records do not have, a code for an outcome the model never gives, a per-arm table without an
    arm, a hazard ratio for a code never drawn, an unknown record kind: each a SpecError at its key."""
    assert load_profile("solid_tumour").model == "recist_pfs"
    err = spec_error(recist_data, mutate)
    assert err.key == key and text in err.message, (err.key, err.message)


# ---- Test 16 -----------------------------------------------------------------------------------
def test_profile_16_a_study_without_profile_says_how_to_give_it_one(tmp_path):
    """Test 16: a study folder without profile.yaml cannot be simulated; the error says so, names the
    shipped studies' profiles by model to copy from and the section of docs/new-study.md."""
    with pytest.raises(SpecError) as info:
        load_profile(tmp_path)
    text = str(info.value)
    assert text.startswith(str(tmp_path / "profile.yaml"))
    assert "cannot be simulated" in text and "docs/new-study.md" in text
    assert "ball_relapse (leukaemia_efs)" in text and "solid_tumour (recist_pfs)" in text
