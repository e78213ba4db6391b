"""Metadata operations (validators/core/operations/metadata.py) and the library accessors they use:
each case a tiny study and library, the operation's result compared exactly."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from trialkit.sdtm.standards import DomainMeta, VariableMeta
from trialkit.validators.core import frames, operations
from trialkit.validators.core.context import Context, NotExecutable
from trialkit.validators.core.library import Library
from trialkit.validators.core.operations import DomainNotFound
from trialkit.validators.core.rules import CoreRule
from trialkit.validators.core.study import Dataset, Study, Variable


def mv(name: str, role: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, label=name.title(), type="Char", role=role)


class Model(SimpleNamespace):
    """The SDTM model as the library reads it (sdtm.standards.SdtmModel's interface), in miniature."""

    def class_variables(self, cls: str) -> tuple:
        return self.classes[cls]


GO = (mv("STUDYID", "Identifier"), mv("DOMAIN", "Identifier"), mv("USUBJID", "Identifier"), mv("--SEQ", "Identifier"),
      mv("VISITNUM", "Timing"), mv("--DTC", "Timing"))
MODEL = Model(classes={"GENERAL OBSERVATIONS": GO, "EVENTS": (mv("--TERM", "Topic"), mv("--DECOD", "Synonym Qualifier"))},
              datasets={"TX": SimpleNamespace(cls="TRIAL DESIGN",
                                              variables=(mv("STUDYID", "Identifier"), mv("TXVAL", "Result")))},
              identifiers=tuple(v for v in GO if v.role == "Identifier"), timing=tuple(v for v in GO if v.role == "Timing"))


def iv(name: str, core: str, role: str) -> VariableMeta:
    return VariableMeta(name, name.title(), "Char", core, role)


AE_IG = DomainMeta("AE", "Adverse Events", "EVENTS", "", (), (
    iv("STUDYID", "Req", "Identifier"), iv("DOMAIN", "Req", "Identifier"), iv("USUBJID", "Req", "Identifier"),
    iv("AESEQ", "Req", "Identifier"), iv("AEGRPID", "Perm", "Identifier"), iv("AEREFID", "Perm", "Identifier"),
    iv("AETERM", "Req", "Topic"), iv("AESER", "Exp", "Record Qualifier"), iv("AEDTC", "Perm", "Timing"),
    iv("AEENRTPT", "Perm", "Timing")))
LIBRARY = Library("sdtmig", "3.4", {"AE": AE_IG}, model=MODEL)

AE = Dataset("AE", pd.DataFrame({"STUDYID": ["S"], "DOMAIN": ["AE"], "USUBJID": ["1"], "AESEQ": [1.0], "AETERM": ["X"],
                                 "AEDTC": ["2024"]}), (Variable("STUDYID"), Variable("DOMAIN")), "Adverse Events", "ae.xpt")
XX = Dataset("XX", pd.DataFrame({"STUDYID": ["S"], "DOMAIN": ["XX"], "USUBJID": ["1"], "XXTERM": ["Y"]}))
SUPPXX = Dataset("SUPPXX", pd.DataFrame({"RDOMAIN": ["XX", "AE"], "QNAM": ["XXA", "AETERM"]}))
STUDY = Study([AE, XX, SUPPXX])


def run(op: dict, dataset: Dataset = AE, rule_type: str = "Record Data", library: Library = LIBRARY,
        study: Study = STUDY) -> pd.Series:
    rule = CoreRule("CORE-T", "test", {"Rule Type": rule_type, "Operations": [{"id": "$r", **op}],
                                       "Check": {"all": [{"name": "$r", "operator": "exists"}]}})
    frame = frames.build(rule, dataset, study, library)
    ctx = Context(frame, dataset, study, library, rule, wildcard=dataset.wildcard)
    operations.known()
    return operations.apply(ctx)["$r"]


def test_01_study_domains_and_dataset_names():
    assert run({"operator": "study_domains"}).iloc[0] == ["", "AE", "XX"]
    assert run({"operator": "dataset_names"}).iloc[0] == ["AE", "SUPPXX", "XX"]


def test_02_column_order_from_the_records_or_the_submitted_dataset():
    assert run({"operator": "get_column_order_from_dataset"}).iloc[0] == ["STUDYID", "DOMAIN", "USUBJID", "AESEQ",
                                                                          "AETERM", "AEDTC"]
    by_variable = run({"operator": "get_column_order_from_dataset"}, rule_type="Variable Metadata Check")
    assert by_variable.iloc[0] == ["STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AETERM", "AEDTC"]
    assert len(by_variable) == 2          # one row per variable of the metadata frame


def test_03_variable_exists_in_the_submitted_dataset_whatever_the_rule_type():
    assert run({"operator": "variable_exists", "name": "AETERM"}, rule_type="Dataset Metadata Check").iloc[0] is True
    assert run({"operator": "variable_exists", "name": "--SER"}).iloc[0] is False


def test_04_domain_label_custom_and_related_custom():
    assert run({"operator": "domain_label"}).iloc[0] == "Adverse Events"
    assert run({"operator": "domain_label"}, dataset=XX).iloc[0] == ""
    assert run({"operator": "domain_is_custom"}, dataset=XX).iloc[0] is True
    tx = Dataset("TX", pd.DataFrame({"STUDYID": ["S"], "DOMAIN": ["TX"]}))
    assert run({"operator": "domain_is_custom"}, dataset=tx).iloc[0] is False         # a model dataset
    with pytest.raises(DomainNotFound):                                               # CORE: domain not found
        run({"operator": "domain_is_custom", "domain": "TX"})
    assert run({"operator": "related_domain_is_custom"}, dataset=SUPPXX).tolist() == [True, True]


def test_05_extract_metadata():
    assert run({"operator": "extract_metadata", "name": "dataset_label"}).iloc[0] == "Adverse Events"
    assert run({"operator": "extract_metadata", "name": "dataset_location"}).iloc[0] == "ae.xpt"


def test_06_ig_variables_in_model_order_ig_only_identifiers_inserted_at_the_end_of_the_identifiers():
    # AEGRPID then AEREFID are IG-only identifiers: each goes to the end of the model's identifiers,
    # the later one before the earlier (CORE inserts both at the same place); AEENRTPT ends the list
    assert run({"operator": "get_column_order_from_library"}).iloc[0] == [
        "STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AEREFID", "AEGRPID", "AETERM", "AEDECOD", "AESER", "VISITNUM",
        "AEDTC", "AEENRTPT"]
    assert run({"operator": "required_variables"}).iloc[0] == ["STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AETERM"]
    assert run({"operator": "expected_variables"}).iloc[0] == ["AESER"]
    assert run({"operator": "permissible_variables"}).iloc[0] == ["AEREFID", "AEGRPID", "AEDECOD", "VISITNUM",
                                                                  "AEDTC", "AEENRTPT"]
    timing = {"operator": "get_column_order_from_library", "key_name": "role", "key_value": "Timing"}
    assert run(timing).iloc[0] == ["VISITNUM", "AEDTC", "AEENRTPT"]
    assert run({**timing, "operator": "get_dataset_filtered_variables"}).iloc[0] == ["AEDTC"]


def test_07_model_column_order_of_a_custom_domain_from_its_variables():
    assert run({"operator": "get_model_column_order"}, dataset=XX).iloc[0] == [
        "STUDYID", "DOMAIN", "USUBJID", "XXSEQ", "XXTERM", "XXDECOD", "VISITNUM", "XXDTC"]
    filtered = {"operator": "get_model_filtered_variables", "key_name": "role", "key_value": "Timing"}
    assert run(filtered, dataset=XX).iloc[0] == ["VISITNUM", "XXDTC"]


def test_08_parent_model_column_order_per_rdomain_and_a_missing_parent():
    result = run({"operator": "get_parent_model_column_order"}, dataset=SUPPXX)
    assert result.iloc[0][-3:] == ["XXDECOD", "VISITNUM", "XXDTC"] and result.iloc[1][4] == "AETERM"
    lonely = Dataset("SUPPZZ", pd.DataFrame({"RDOMAIN": ["ZZ"], "QNAM": ["A"]}))
    with pytest.raises(DomainNotFound):
        run({"operator": "get_parent_model_column_order"}, dataset=lonely, study=Study([lonely]))


def test_09_model_operations_without_the_model_are_not_executed():
    with pytest.raises(NotExecutable):
        run({"operator": "required_variables"}, library=Library("sdtmig", "3.4", {"AE": AE_IG}))
