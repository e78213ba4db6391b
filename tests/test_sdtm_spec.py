"""Tests of trialkit.sdtm.spec: domain specs loaded and checked against metadata and the raw dictionary.

Numbered cases. The SDTMIG metadata and the CT file are not read: each test builds a tiny DomainMeta
(domain ZZ) and a small set of codelists, and writes a small spec mapping the ``bm`` form of the
shipped ball_relapse raw dictionary. Each broken spec must be a SpecError naming file and key.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from trialkit.errors import SpecError
from trialkit.raw_dictionary import load_raw_dictionary
from trialkit.sdtm import spec as spec_module
from trialkit.sdtm.spec import load_domain_spec
from trialkit.sdtm.standards import Codelist, DomainMeta, VariableMeta, inline_codelist


def _var(name, core="Perm", type_="Char", codelist=None):
    return VariableMeta(name, name.title(), type_, core, "", codelist)


ZZ = DomainMeta("ZZ", "Test Findings", "FINDINGS", "One record per test per visit per subject",
                ("STUDYID", "USUBJID", "ZZTESTCD", "VISITNUM"), (
                    _var("STUDYID", "Req"),
                    _var("DOMAIN", "Req"),
                    _var("USUBJID", "Req"),
                    _var("ZZSEQ", "Req", "Num"),
                    _var("ZZTESTCD", "Req"),
                    _var("ZZCAT"),
                    _var("ZZORRES", "Exp"),
                    _var("ZZSTRESN", "Exp", "Num"),
                    _var("ZZSTAT"),
                    _var("ZZBLFL"),
                    _var("VISITNUM", "Exp", "Num"),
                    _var("VISIT"),
                    _var("ZZDTC", "Exp"),
                    _var("ZZDY", "Perm", "Num"),
                ))
STANDARD = {"ZZ": ZZ}

NY = Codelist("NY", "No Yes Response", "C66742", False, ({"value": "N"}, {"value": "Y"}), False, {"N": "N", "Y": "Y", "NO": "N", "YES": "Y"})
CODELISTS = {"NY": NY, "STAT": inline_codelist("STAT", {"NOT DONE": "NOT DONE"})}

# a valid spec; variables are listed out of metadata order on purpose
VALID = {
    "domain": "ZZ",
    "sources": [{
        "form": "bm",
        "filter": "present(BMDAT)",
        "variables": {
            "ZZDTC": {"date": "BMDAT"},
            "ZZTESTCD": {"hardcode": "BLASTS"},
            "ZZORRES": {"assign": "BLASTPCT"},
            "ZZSTRESN": {"assign": "BLASTPCT", "number": True},
            "ZZCAT": {"ct": "PBBLAST", "codelist": "NY"},
            "ZZSTAT": {"condition": [{"if": "norm(MSTATUS) == 'M3'", "then": {"assign": "MSTATUS"}}], "else": ""},
            "VISIT": {"visit": "VISIT"},
        },
        "supp": [{"qnam": "EMD", "qlabel": "Extramedullary Disease", "field": "EMD"}],
    }],
    "derive": {"seq": ["USUBJID", "ZZDTC"], "study_day": {"ZZDY": "ZZDTC"}},
}


@pytest.fixture(scope="module")
def dictionary():
    return load_raw_dictionary("ball_relapse")


@pytest.fixture(autouse=True)
def no_standard_files(monkeypatch):
    """The metadata YAML under specs/standards/ must never be read by these tests."""
    monkeypatch.setattr(spec_module, "load_codelists", lambda *a, **k: CODELISTS)

    def forbidden(*a, **k):
        raise AssertionError("load_domains() called: the test passes its own standard")
    monkeypatch.setattr(spec_module, "load_domains", forbidden)


def _write(tmp_path, data, name="ZZ.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _spec(tmp_path, dictionary, change=None):
    data = copy.deepcopy(VALID)
    if change:
        change(data)
    path = _write(tmp_path, data)
    return path, (lambda: load_domain_spec(path, dictionary, STANDARD))


def _error(tmp_path, dictionary, change) -> SpecError:
    path, load = _spec(tmp_path, dictionary, change)
    with pytest.raises(SpecError) as err:
        load()
    assert err.value.file == str(path)
    return err.value


def _variables(data):
    return data["sources"][0]["variables"]


# ---- Test 1: a valid spec -------------------------------------------------------------------

def test_spec_01_valid_spec_loads(tmp_path, dictionary):
    path, load = _spec(tmp_path, dictionary)
    spec = load()
    assert spec.domain == "ZZ" and spec.path == path and spec.meta is ZZ
    (src,) = spec.sources
    assert src.form == "bm" and src.key == "sources[0]"
    assert src.filter is not None and src.filter.fields == frozenset({"BMDAT"})
    by_var = {m.variable: m for m in src.mappings}
    assert {v: m.algorithm for v, m in by_var.items()} == {
        "ZZDTC": "date", "ZZTESTCD": "hardcode", "ZZORRES": "assign", "ZZSTRESN": "assign",
        "ZZCAT": "ct", "ZZSTAT": "condition", "VISIT": "visit"}
    assert by_var["ZZCAT"].codelist is NY
    assert by_var["ZZDTC"].key == "ZZ.yaml:sources[0].variables.ZZDTC"
    ((expr, then),) = by_var["ZZSTAT"].conditions
    assert expr.fields == frozenset({"MSTATUS"}) and then == {"assign": "MSTATUS"}
    assert [(q.qnam, q.qlabel, q.field, q.qorig) for q in src.supp] == [("EMD", "Extramedullary Disease", "EMD", "CRF")]
    assert spec.seq == ("USUBJID", "ZZDTC") and spec.study_days == {"ZZDY": "ZZDTC"}


def test_spec_02_columns_follow_metadata_order(tmp_path, dictionary):
    _, load = _spec(tmp_path, dictionary)
    assert load().columns() == ["STUDYID", "DOMAIN", "USUBJID", "ZZSEQ", "ZZTESTCD", "ZZCAT", "ZZORRES", "ZZSTRESN",
                                "ZZSTAT", "VISITNUM", "VISIT", "ZZDTC", "ZZDY"]   # not ZZBLFL: nobody fills it


def test_spec_03_values_table_becomes_a_sponsor_codelist(tmp_path, dictionary):
    _, load = _spec(tmp_path, dictionary, lambda d: _variables(d).update(ZZCAT={"ct": "EMD", "values": {"Y": "EXTRAMEDULLARY"}}))
    m = next(m for m in load().sources[0].mappings if m.variable == "ZZCAT")
    assert m.codelist.sponsor and not m.codelist.extensible
    assert m.codelist.name == "ZZCAT (study)" and m.codelist.lookup == {"Y": "EXTRAMEDULLARY"}


# ---- Test 4: unknown variable ---------------------------------------------------------------

def test_spec_04_unknown_variable_names_the_key(tmp_path, dictionary):
    err = _error(tmp_path, dictionary, lambda d: _variables(d).update(ZZFOO={"assign": "EMD"}))
    assert err.key == "sources[0].variables.ZZFOO"
    assert "ZZFOO is not a variable of ZZ" in err.message


# ---- Test 5: Req variable not mapped --------------------------------------------------------

def test_spec_05_required_variable_not_mapped(tmp_path, dictionary):
    err = _error(tmp_path, dictionary, lambda d: _variables(d).pop("ZZTESTCD"))
    assert "ZZTESTCD" in err.message and "not mapped" in err.message
    assert err.key == "sources"


def test_spec_06_seq_not_derived_is_a_missing_required_variable(tmp_path, dictionary):
    err = _error(tmp_path, dictionary, lambda d: d["derive"].pop("seq"))
    assert "ZZSEQ" in err.message and "ZZTESTCD" not in err.message


# ---- Test 7: one algorithm per mapping ------------------------------------------------------

@pytest.mark.parametrize("mapping, problem", [
    ({"assign": "EMD", "hardcode": "X"}, "exactly one algorithm"),
    ({"number": True}, "exactly one algorithm"),
    ({"assign": "EMD", "codelist": "NY"}, "unknown option"),
    ("EMD", "expected a mapping"),
])
def test_spec_07_mapping_needs_exactly_one_algorithm(tmp_path, dictionary, mapping, problem):
    err = _error(tmp_path, dictionary, lambda d: _variables(d).update(ZZORRES=mapping))
    assert err.key == "sources[0].variables.ZZORRES"
    assert problem in err.message


# ---- Test 8: codelists ----------------------------------------------------------------------

def test_spec_08_unknown_codelist(tmp_path, dictionary):
    err = _error(tmp_path, dictionary, lambda d: _variables(d).update(ZZCAT={"ct": "PBBLAST", "codelist": "NOSUCH"}))
    assert err.key == "sources[0].variables.ZZCAT.codelist"
    assert "NOSUCH" in err.message


def test_spec_09_ct_without_codelist_or_values(tmp_path, dictionary):
    err = _error(tmp_path, dictionary, lambda d: _variables(d).update(ZZCAT={"ct": "PBBLAST"}))
    assert err.key == "sources[0].variables.ZZCAT"


# ---- Test 10: fields the form does not have -------------------------------------------------

@pytest.mark.parametrize("var, mapping, key", [
    ("ZZORRES", {"assign": "NOSUCH"}, "assign"),
    ("ZZCAT", {"ct": "NOSUCH", "codelist": "NY"}, "ct"),
    ("ZZDTC", {"date": "NOSUCH"}, "date"),
    ("ZZDTC", {"date": "BMDAT", "time": "NOSUCH"}, "time"),
    ("VISIT", {"visit": "NOSUCH"}, "visit"),
    ("ZZSTAT", {"condition": [{"if": "NOSUCH == 'x'", "then": "Y"}]}, "condition[0].if"),
    ("ZZSTAT", {"condition": [{"if": "EMD == 'Y'", "then": "A"}, {"if": "EMD == 'N'", "then": {"assign": "NOSUCH"}}]},
     "condition[1].then.assign"),
])
def test_spec_10_field_not_in_form_names_the_key(tmp_path, dictionary, var, mapping, key):
    err = _error(tmp_path, dictionary, lambda d: _variables(d).update({var: mapping}))
    assert err.key == f"sources[0].variables.{var}.{key}"
    assert "NOSUCH" in err.message


def test_spec_11_filter_field_not_in_form(tmp_path, dictionary):
    err = _error(tmp_path, dictionary, lambda d: d["sources"][0].update(filter="present(AETERM)"))
    assert err.key == "sources[0].filter" and "AETERM" in err.message


def test_spec_12_supp_field_not_in_form(tmp_path, dictionary):
    err = _error(tmp_path, dictionary, lambda d: d["sources"][0]["supp"][0].update(field="NOSUCH"))
    assert err.key == "sources[0].supp[0].field"


def test_spec_13_unknown_form(tmp_path, dictionary):
    err = _error(tmp_path, dictionary, lambda d: d["sources"][0].update(form="labs"))
    assert err.key == "sources[0].form" and "labs" in err.message


# ---- Test 14: forbidden expressions ---------------------------------------------------------

def test_spec_14_forbidden_expression_in_condition(tmp_path, dictionary):
    err = _error(tmp_path, dictionary,
                 lambda d: _variables(d).update(ZZSTAT={"condition": [{"if": "EMD == 'Y'", "then": "A"},
                                                                      {"if": "EMD.__class__", "then": "B"}]}))
    assert err.key == "sources[0].variables.ZZSTAT.condition[1].if"
    assert "Attribute" in err.message


def test_spec_15_forbidden_expression_in_filter(tmp_path, dictionary):
    err = _error(tmp_path, dictionary, lambda d: d["sources"][0].update(filter="__import__('os')"))
    assert err.key == "sources[0].filter"


@pytest.mark.parametrize("branches, key", [
    ([], "sources[0].variables.ZZSTAT"),
    ([{"if": "EMD == 'Y'"}], "sources[0].variables.ZZSTAT.condition[0]"),
    ([{"if": "EMD == 'Y'", "then": "A", "else": "B"}], "sources[0].variables.ZZSTAT.condition[0]"),
    ([{"if": "EMD == 'Y'", "then": {"hardcode": "A"}}], "sources[0].variables.ZZSTAT.condition[0].then"),
])
def test_spec_16_malformed_condition(tmp_path, dictionary, branches, key):
    err = _error(tmp_path, dictionary, lambda d: _variables(d).update(ZZSTAT={"condition": branches}))
    assert err.key == key


# ---- Test 17: unknown keys ------------------------------------------------------------------

def test_spec_17_unknown_top_level_key(tmp_path, dictionary):
    err = _error(tmp_path, dictionary, lambda d: d.update(variabels={}))
    assert err.key == "variabels" and "unknown key" in err.message


def test_spec_18_unknown_derive_key(tmp_path, dictionary):
    err = _error(tmp_path, dictionary, lambda d: d["derive"].update(epoc=[]))
    assert err.key == "derive.epoc"


def test_spec_19_unknown_study_day_variable(tmp_path, dictionary):
    err = _error(tmp_path, dictionary, lambda d: d["derive"]["study_day"].update(ZZENDY="ZZDTC"))
    assert err.key == "derive.study_day.ZZENDY"


def test_spec_20_domain_not_in_the_standard(tmp_path, dictionary):
    err = _error(tmp_path, dictionary, lambda d: d.update(domain="QQ"))
    assert err.key == "domain" and "QQ" in err.message


def test_spec_21_post_mapping_checks(tmp_path, dictionary):
    err = _error(tmp_path, dictionary, lambda d: d.update(post={"ZZFOO": {"hardcode": "X"}}))
    assert err.key == "post.ZZFOO"
    err = _error(tmp_path, dictionary, lambda d: d.update(post={"ZZBLFL": {"age": {"birth": "A"}}}))
    assert err.key == "post.ZZBLFL" and "age needs" in err.message


# ---- Test 22: SUPPQUAL names and labels -----------------------------------------------------

@pytest.mark.parametrize("qnam", ["emd", "EXTRAMEDD", "1EMD", "", "EM D", "EM-D"])
def test_spec_22_bad_qnam(tmp_path, dictionary, qnam):
    err = _error(tmp_path, dictionary, lambda d: d["sources"][0]["supp"][0].update(qnam=qnam))
    assert err.key == "sources[0].supp[0].qnam"
    assert "QNAM" in err.message


@pytest.mark.parametrize("qnam", ["EXTRAMED", "E", "EMD2", "EM_D"])
def test_spec_23_good_qnam(tmp_path, dictionary, qnam):
    _, load = _spec(tmp_path, dictionary, lambda d: d["sources"][0]["supp"][0].update(qnam=qnam))
    assert load().sources[0].supp[0].qnam == qnam


def test_spec_24_qlabel_over_40_characters(tmp_path, dictionary):
    err = _error(tmp_path, dictionary, lambda d: d["sources"][0]["supp"][0].update(qlabel="L" * 41))
    assert err.key == "sources[0].supp[0].qlabel"
    _, load = _spec(tmp_path, dictionary, lambda d: d["sources"][0]["supp"][0].update(qlabel="L" * 40))
    assert load().sources[0].supp[0].qlabel == "L" * 40


def test_spec_25_qlabel_missing(tmp_path, dictionary):
    err = _error(tmp_path, dictionary, lambda d: d["sources"][0]["supp"][0].pop("qlabel"))
    assert err.key == "sources[0].supp[0].qlabel"


def test_spec_26_non_ascii_qnam_is_refused(tmp_path, dictionary):
    _error(tmp_path, dictionary, lambda d: d["sources"][0]["supp"][0].update(qnam="ÉTAT"))


# ---- Test 27: unreadable YAML ---------------------------------------------------------------

def test_spec_27_yaml_syntax_error_names_file_and_line(tmp_path, dictionary):
    path = tmp_path / "ZZ.yaml"
    path.write_text("domain: ZZ\nsources: [\n  {form: bm\n", encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_domain_spec(path, dictionary, STANDARD)
    assert err.value.file == str(path) and err.value.row is not None


# ---- Test 28: Expected variables the study does not collect --------------------------------

def test_spec_28_an_unmapped_expected_variable_is_written_and_needs_a_reason(tmp_path, dictionary):
    """Test 28: an Exp variable the spec does not map (ZZSTRESN) is still a column of the dataset;
    without a not_collected reason it is a gap (the warning of trialkit.sdtm.expected), with one it is
    not, and the reason is kept for define.xml."""
    from trialkit.sdtm.expected import gaps

    path, load = _spec(tmp_path, dictionary, lambda d: _variables(d).pop("ZZSTRESN"))
    spec = load()
    assert "ZZSTRESN" in spec.columns() and "ZZSTRESN" not in spec.filled
    assert [(g.dataset, g.variable, g.key) for g in gaps(spec.meta, spec.filled, spec.not_collected, path, "not_collected")] == \
        [("ZZ", "ZZSTRESN", "not_collected")]
    _, load = _spec(tmp_path, dictionary, lambda d: (_variables(d).pop("ZZSTRESN"),
                                                     d.update(not_collected={"ZZSTRESN": " only text results "})))
    spec = load()
    assert spec.not_collected == {"ZZSTRESN": "only text results"}
    assert gaps(spec.meta, spec.filled, spec.not_collected, path, "not_collected") == []


@pytest.mark.parametrize("listed, problem", [
    ({"ZZBLFL": "not done"}, "is Perm, not Expected"),                 # a Perm variable not collected is left out
    ({"ZZORRES": "not done"}, "is filled"),                            # mapped by the spec
    ({"ZZSTRESN": "  "}, "give the reason"),
    ({"ZZFOO": "x"}, "not a variable of ZZ"),
])
def test_spec_29_not_collected_checks(tmp_path, dictionary, listed, problem):
    """Test 29: not_collected lists Exp variables the spec does not fill, each with a reason."""
    def change(d):
        _variables(d).pop("ZZSTRESN")
        d["not_collected"] = listed
    err = _error(tmp_path, dictionary, change)
    assert err.key == f"not_collected.{next(iter(listed))}" and problem in err.message


# ---- Test 30: DM-style summaries over other domains ---------------------------------------

def test_spec_30_summary_sources_with_filters(tmp_path, dictionary):
    """Test 30: a summary takes one source or several, each optionally filtered; stat is min or max."""
    summary = {"stat": "max", "sources": [{"domain": "EX", "variable": "EXENDTC"},
                                          {"domain": "DS", "variable": "DSSTDTC", "filter": "DSDECOD == 'RANDOMIZED'"}]}
    _, load = _spec(tmp_path, dictionary, lambda d: d.update(summaries={"ZZBLFL": summary}))
    s = load().summaries["ZZBLFL"]
    assert s.stat == "max" and [(x.domain, x.variable) for x in s.sources] == [("EX", "EXENDTC"), ("DS", "DSSTDTC")]
    assert s.sources[0].filter is None and s.sources[1].filter.fields == frozenset({"DSDECOD"})
    for bad, key in (({"domain": "EX", "variable": "EXSTDTC", "stat": "median"}, "summaries.ZZBLFL.stat"),
                     ({"stat": "max", "sources": [{"domain": "EX"}]}, "summaries.ZZBLFL.sources[0]"),
                     ({"stat": "max", "sources": [{"domain": "DS", "variable": "DSSTDTC", "filter": "__import__('os')"}]},
                      "summaries.ZZBLFL.sources[0].filter")):
        err = _error(tmp_path, dictionary, lambda d, b=bad: d.update(summaries={"ZZBLFL": b}))
        assert err.key == key, (bad, err.key)
