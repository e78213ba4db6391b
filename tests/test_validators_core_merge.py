"""Match Datasets (validators/core/merge.py, relationships.py): each case a tiny study, the frame the
check would see, compared exactly (records, values, source record numbers)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from trialkit.validators.core import merge
from trialkit.validators.core.context import Context, MissingVariable, NotExecutable
from trialkit.validators.core.joins import MergeFailed
from trialkit.validators.core.library import Library
from trialkit.validators.core.rules import CoreRule
from trialkit.validators.core.study import ROW, SOURCE, Dataset, Study, tag

NO_MODEL = Library("sdtmig", "3.4", {})
MODEL = Library("sdtmig", "3.4", {}, model=SimpleNamespace(classes={
    "EVENTS": (SimpleNamespace(name="--TERM"), SimpleNamespace(name="--DECOD")),
    "GENERAL OBSERVATIONS": (SimpleNamespace(name="STUDYID"), SimpleNamespace(name="--SEQ"))}, datasets={}))


def ds(name: str, **columns) -> Dataset:
    return Dataset(name, pd.DataFrame(columns))


def frame_for(dataset: Dataset, study: Study, match: list[dict], check: dict | None = None,
              library: Library = NO_MODEL) -> pd.DataFrame:
    rule = CoreRule("CORE-T", "test", {"Check": check or {"all": [{"name": "X", "operator": "exists"}]},
                                       "Match Datasets": match})
    ctx = Context(tag(dataset.frame, dataset.name), dataset, study, library, rule, wildcard=dataset.wildcard)
    return merge.apply(ctx)


def rows(frame: pd.DataFrame, *columns: str) -> list[tuple]:
    values = frame[list(columns)].astype(object).where(frame[list(columns)].notna(), None)
    return [tuple(r) for r in values.itertuples(index=False)]


AE = ds("AE", STUDYID=["S", "S", "S"], DOMAIN=["AE"] * 3, USUBJID=["1", "2", "9"], AESEQ=[1.0, 2.0, 3.0],
        AESTDTC=["2024-01-02", "2024-02-01", "2024-03-01"])
DM = ds("DM", STUDYID=["S", "S"], DOMAIN=["DM", "DM"], USUBJID=["1", "2"], RFSTDTC=["2024-01-01", "2024-01-05"])


def test_01_keyed_join_is_inner_keeps_the_left_record_numbers_and_suffixes_shared_columns():
    out = frame_for(AE, Study([AE, DM]), [{"Name": "DM", "Keys": ["USUBJID"]}])
    assert rows(out, "USUBJID", "RFSTDTC", "DOMAIN", "DOMAIN.DM", SOURCE, ROW) == [
        ("1", "2024-01-01", "AE", "DM", "AE", 1), ("2", "2024-01-05", "AE", "DM", "AE", 2)]


def test_02_left_join_keeps_records_without_a_partner():
    out = frame_for(AE, Study([AE, DM]), [{"Name": "DM", "Keys": ["USUBJID"], "Join Type": "left"}])
    assert rows(out, "USUBJID", "RFSTDTC", ROW) == [("1", "2024-01-01", 1), ("2", "2024-01-05", 2), ("9", None, 3)]


def test_03_left_and_right_keys_and_check_references_rename_the_right_columns():
    be = ds("BE", USUBJID=["1", "1"], BEREFID=["A", "B"])
    relspec = ds("RELSPEC", USUBJID=["1"], REFID=["B"], PARENT=["P"])
    check = {"all": [{"name": "RELSPEC.PARENT", "operator": "empty"}]}
    out = frame_for(be, Study([be, relspec]), [{"Name": "RELSPEC", "Keys": ["USUBJID", {"Left": "BEREFID", "Right": "REFID"}]}],
                    check)
    assert rows(out, "BEREFID", "RELSPEC.PARENT", ROW) == [("B", "P", 2)]


def test_04_a_dataset_the_study_lacks_or_the_evaluated_domain_itself_is_not_joined():
    assert rows(frame_for(AE, Study([AE]), [{"Name": "DM", "Keys": ["USUBJID"]}]), ROW) == [(1,), (2,), (3,)]
    assert list(frame_for(AE, Study([AE]), [{"Name": "AE", "Keys": ["USUBJID"]}]).columns) == list(tag(AE.frame, "AE").columns)


def test_05_a_key_either_side_lacks_is_a_missing_variable():
    with pytest.raises(MissingVariable):
        frame_for(AE, Study([AE, DM]), [{"Name": "DM", "Keys": ["VISITNUM"]}])


SUPPAE = ds("SUPPAE", STUDYID=["S"] * 4, RDOMAIN=["AE"] * 4, USUBJID=["1", "1", "2", "2"], IDVAR=["AESEQ"] * 4,
            IDVARVAL=["1", "1", "2.00", "2"], QNAM=["AESOSP", "AETRTEM", "AESOSP", "AETRTEM"],
            QLABEL=["x"] * 4, QVAL=["ABORTION", "Y", "OTHER", "N"], QORIG=["CRF", "CRF", "CRF", "DERIVED"])


def test_06_supp_one_idvar_pivots_qnam_columns_on_the_numeric_key_and_splits_by_origin():
    out = frame_for(AE, Study([AE, SUPPAE]), [{"Name": "SUPPAE", "Keys": ["USUBJID"]}])
    assert rows(out, "USUBJID", "AESEQ", "AESOSP", "AETRTEM", "QORIG", ROW) == [
        ("1", 1.0, "ABORTION", "Y", "CRF", 1), ("2", 2.0, "OTHER", None, "CRF", 2),
        ("2", 2.0, None, "N", "DERIVED", 2), ("9", 3.0, None, None, None, 3)]


def test_07_supp_blank_idvar_joins_on_the_subject():
    dm = ds("DM", STUDYID=["S", "S"], DOMAIN=["DM", "DM"], USUBJID=["1", "2"])
    supp = ds("SUPPDM", STUDYID=["S"], RDOMAIN=["DM"], USUBJID=["2"], IDVAR=[None], IDVARVAL=[None], QNAM=["RACE1"],
              QLABEL=["Race 1"], QVAL=["ASIAN"])
    out = frame_for(dm, Study([dm, supp]), [{"Name": "SUPP--", "Keys": ["USUBJID"]}])
    assert rows(out, "USUBJID", "RACE1") == [("1", None), ("2", "ASIAN")]


def test_08_supp_several_idvars_join_once_per_idvar():
    supp = ds("SUPPAE", STUDYID=["S", "S"], RDOMAIN=["AE", "AE"], USUBJID=["1", "2"], IDVAR=["AESEQ", "AESTDTC"],
              IDVARVAL=["1", "2024-02-01"], QNAM=["AESOSP", "AEX"], QLABEL=["a", "b"], QVAL=["ABORTION", "X"])
    out = frame_for(AE, Study([AE, supp]), [{"Name": "SUPPAE", "Keys": ["USUBJID"]}])
    assert rows(out, "USUBJID", "AESOSP", "AEX") == [("1", "ABORTION", None), ("2", None, "X"), ("9", None, None)]


def test_09_supp_with_two_values_of_one_qnam_for_one_record_fails_the_merge():
    supp = ds("SUPPAE", STUDYID=["S", "S"], RDOMAIN=["AE", "AE"], USUBJID=["1", "1"], IDVAR=["AESEQ", "AESEQ"],
              IDVARVAL=["1", "1"], QNAM=["AESOSP", "AESOSP"], QLABEL=["a", "a"], QVAL=["A", "B"])
    with pytest.raises(MergeFailed):
        frame_for(AE, Study([AE, supp]), [{"Name": "SUPPAE", "Keys": ["USUBJID"]}])


def test_10_child_supp_records_get_their_parent_record_by_idvar():
    supp = ds("SUPPAE", STUDYID=["S", "S", "S"], RDOMAIN=["AE"] * 3, USUBJID=["1", "2", "1"],
              IDVAR=["AESEQ", "AESEQ", "AESTDTC"], IDVARVAL=[" 1 ", "7", "2024-01-02"], QNAM=["A", "B", "C"],
              QLABEL=["a", "b", "c"], QVAL=["x", "y", "z"])
    out = frame_for(supp, Study([AE, supp]), [{"Name": "SUPP--", "Keys": ["USUBJID", "IDVAR", "IDVARVAL"], "Child": True}])
    assert rows(out, "QNAM", "AESEQ", "DOMAIN", ROW) == [("A", 1.0, "AE", 1), ("B", None, None, 2), ("C", 1.0, "AE", 3)]


def test_11_child_co_records_for_other_domains_stay_and_a_missing_idvar_variable_finds_no_parent():
    co = ds("CO", STUDYID=["S"] * 3, DOMAIN=["CO"] * 3, RDOMAIN=["AE", "AE", "DM"], USUBJID=["2", "1", "1"],
            IDVAR=["AESEQ", "NONSENSE", None], IDVARVAL=["2", "1", None], COVAL=["a", "b", "c"])
    out = frame_for(co, Study([co, AE]), [{"Name": "CO", "Keys": ["USUBJID", "IDVAR", "IDVARVAL"], "Child": True}])
    assert rows(out, "COVAL", "DOMAIN", "AESTDTC", ROW) == [
        ("c", "CO", None, 3), ("a", "AE", "2024-02-01", 1), ("b", "CO", None, 2)]


RELREC = ds("RELREC", STUDYID=["S"] * 4, RDOMAIN=["FA", "AE", "FA", "AE"], USUBJID=["1", "1", "2", "2"],
            IDVAR=["FASEQ", "AESEQ", "FALNKGRP", "AELNKID"], IDVARVAL=["1", "1", None, None], RELID=["R1", "R1", "R2", "R2"])
AE2 = ds("AE", STUDYID=["S", "S", "S"], DOMAIN=["AE"] * 3, USUBJID=["1", "2", "2"], AESEQ=[1.0, 1.0, 2.0],
         AELNKID=["1", "5", "6"], AETERM=["HEADACHE", "RASH", "PAIN"])
FA = ds("FA", STUDYID=["S", "S", "S"], DOMAIN=["FA"] * 3, USUBJID=["1", "2", "2"], FASEQ=[1.0, 1.0, 2.0],
        FALNKGRP=["9", "5", "7"], FAOBJ=["HEADACHE", "RASH", "X"])


def test_12_relrec_joins_the_records_each_pair_relates_with_wildcard_names():
    out = frame_for(FA, Study([FA, AE2, RELREC]), [{"Name": "RELREC"}], library=MODEL)
    assert rows(out, "USUBJID", "FAOBJ", "RELREC.**TERM", "RELREC.**SEQ", "RELREC.AELNKID", ROW) == [
        ("1", "HEADACHE", "HEADACHE", 1.0, "1", 1), ("2", "RASH", "RASH", 1.0, "5", 2)]


def test_13_relrec_custom_wildcard_and_no_model():
    out = frame_for(FA, Study([FA, AE2, RELREC]), [{"Name": "RELREC", "Wildcard": "__"}], library=MODEL)
    assert "RELREC.__TERM" in out.columns
    with pytest.raises(NotExecutable):
        frame_for(FA, Study([FA, AE2, RELREC]), [{"Name": "RELREC"}])


def test_14_relrec_relating_nothing_leaves_no_records():
    assert frame_for(AE2, Study([AE2, RELREC.__class__("RELREC", RELREC.frame.iloc[0:0])]), [{"Name": "RELREC"}],
                     library=MODEL).empty


@pytest.mark.parametrize("how", ["inner", "left"])
@pytest.mark.parametrize("seed", range(6))
def test_keyed_join_by_lookup_is_the_frame_pandas_merge_makes(how, seed):
    """A join whose right keys are unique and never empty is made by looking each left key up
    (joins._looked_up, faster and lighter than merge on DM-sized lookups): on random frames with
    text, category, integer and float columns, shared and different key names, columns both sides
    have, and left keys without a partner, it is the frame ``merge`` makes, value for value and
    dtype for dtype."""
    from trialkit.validators.core import joins

    rng = __import__("numpy").random.default_rng(seed)
    n, m = int(rng.integers(0, 40)), int(rng.integers(0, 15))
    subjects = [f"S-{i}" for i in rng.choice(30, size=m, replace=False)]
    right = pd.DataFrame({"USUBJID": subjects, "VISITNUM": rng.integers(1, 4, m),
                          "ARM": pd.Categorical(rng.choice(["A", "B"], m)), "AGE": rng.integers(18, 80, m),
                          "WT": rng.normal(70, 5, m).round(1), "DOMAIN": ["DM"] * m, "FLAG": rng.choice([True, False], m)})
    left = pd.DataFrame({"USUBJID": pd.Categorical([f"S-{i}" for i in rng.integers(0, 30, n)]),
                         "SUBJ": [f"S-{i}" for i in rng.integers(0, 30, n)], "VISITNUM": rng.integers(1, 4, n),
                         "DOMAIN": ["AE"] * n, "AESEQ": rng.integers(1, 9, n).astype(float)})
    cases = [(["USUBJID"], ["USUBJID"]), (["SUBJ"], ["USUBJID"]), (["USUBJID", "VISITNUM"], ["USUBJID", "VISITNUM"]),
             (["SUBJ", "VISITNUM"], ["USUBJID", "VISITNUM"])]
    for left_keys, right_keys in cases:
        if right[right_keys].duplicated().any():
            right = right.drop_duplicates(right_keys)
        assert joins._lookup_will_do(left, right, left_keys, right_keys)
        made = joins._looked_up(left, right, left_keys, right_keys, "DM", how)
        merged = left.merge(right, how=how, left_on=left_keys, right_on=right_keys, suffixes=("", ".DM"))
        pd.testing.assert_frame_equal(made, merged.reset_index(drop=True), check_categorical=False)


def test_keyed_join_merges_when_a_lookup_would_not_be_merge():
    """Duplicate or empty right keys, an empty left key, and number keys against text keys go to
    pandas' merge (its pairing of empty keys, its error for mismatched key types)."""
    from trialkit.validators.core.joins import _lookup_will_do, keyed_join

    left = pd.DataFrame({"K": ["a", "b"], "N": [1, 2]})
    assert not _lookup_will_do(left, pd.DataFrame({"K": ["a", "a"]}), ["K"], ["K"])
    assert not _lookup_will_do(left, pd.DataFrame({"K": ["a", None]}), ["K"], ["K"])
    assert not _lookup_will_do(pd.DataFrame({"K": ["a", None]}), pd.DataFrame({"K": ["a"]}), ["K"], ["K"])
    assert not _lookup_will_do(left, pd.DataFrame({"K": [1, 2]}), ["K"], ["K"])
    with pytest.raises(MergeFailed):
        keyed_join(left, pd.DataFrame({"K": [1, 2]}), ["K"], ["K"], "DM")
