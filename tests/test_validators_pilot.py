"""``trialkit validate`` on real data written by someone else: the CDISC pilot study (CDISCPILOT01)
SDTM (SDTMIG 3.2, 2018 update) and ADaM (ADaMIG 1.0 era) in ../shared/reference. Every error and
warning that fires is listed here and explained in docs/conformance.md ("The CDISC pilot through
trialkit validate"); none comes from a trialkit bug. All 31 SDTM datasets are checked against the
SDTMIG 3.4 metadata and the SDTM CT 2025-03-28 package. The whole package is needed (marked
``reference``): the counts are the documented ones."""

from __future__ import annotations

from collections import Counter

import pytest
from reference_data import PILOT

from trialkit.validators.run import validate

pytestmark = pytest.mark.reference

EXPECTED = {
    # SDTMIG 3.4 Exp variables the 3.2 package predates (--LOBXFL in LB, QS and VS; DM.ARMNRS, DM.ACTARMUD;
    # SV.SVPRESP, SV.SVOCCUR)
    ("TK-SDTM-0002", "DM"): 2, ("TK-SDTM-0002", "SV"): 2,
    ("TK-SDTM-0002", "LBCH"): 1, ("TK-SDTM-0002", "LBHE"): 1, ("TK-SDTM-0002", "LBUR"): 1,
    ("TK-SDTM-0002", "QSCO"): 1, ("TK-SDTM-0002", "QSDA"): 1, ("TK-SDTM-0002", "QSGI"): 1, ("TK-SDTM-0002", "QSHI"): 1,
    ("TK-SDTM-0002", "QSMM"): 1, ("TK-SDTM-0002", "QSNI"): 1, ("TK-SDTM-0002", "VS"): 1,
    # screen failures coded ARMCD = 'Scrnfail' (SDTMIG 3.2); 3.4 wants a null ARMCD and ARMNRS
    ("TK-XDS-0004", "DM"): 52,
    # a second EX record starting the day after DM.RFXENDTC (a real inconsistency of the package)
    ("TK-XDS-0005", "EX"): 4,
    # ACTARM and EOSSTT became Req in ADaMIG 1.1; four labels differ from the IG's
    ("TK-ADAM-0001", "ADSL"): 2, ("TK-ADAM-0006", "ADSL"): 1, ("TK-ADAM-0006", "ADTTE"): 3,
    ("TK-ADAM-0006", "ADQSCIBC"): 1,
    # trialkit's rule files (specs/rules/trialkit) for Pinnacle 21's kinds: AE records without an end
    # (SD0021), LBHE numeric standard results without units (SD0029), the 12 DM subjects whose ACTARMCD
    # differs from ARMCD (SD2236)
    ("TK-SDTM-0101", "AE"): 472, ("TK-SDTM-0103", "LBHE"): 1798, ("TK-SDTM-0104", "DM"): 12,
}


@pytest.fixture(scope="module")
def pilot():
    run = validate(None, PILOT / "sdtm", PILOT / "adam", encoding="cp1252", rules=("trialkit",))
    return run.findings, run.datasets


def test_pilot_01_every_file_read_with_its_encoding(pilot):
    """Test 1: all 31 SDTM and 4 ADaM files are read (cp1252); none is an unreadable-file finding."""
    findings, checked = pilot
    assert len(checked) == 35
    assert [f for f in findings if f.rule == "TK-IO-0001"] == []


def test_pilot_02_errors_and_warnings_are_exactly_the_documented_ones(pilot):
    """Test 2: the (rule, dataset) counts of every error and warning equal the documented list."""
    findings, _ = pilot
    got = Counter((f.rule, f.dataset) for f in findings if f.severity in ("error", "warning"))
    assert dict(got) == EXPECTED


def test_pilot_03_the_findings_name_what_the_documentation_says(pilot):
    """Test 3: the design finding is the screen-failure arm code, the exposure finding names the four
    subjects and their second EX record, the ADSL finding names ACTARM and EOSSTT."""
    findings, _ = pilot
    design = {f.value for f in findings if f.rule == "TK-XDS-0004"}
    assert design == {"Scrnfail"}
    exposure = sorted((f.usubjid, f.seq) for f in findings if f.rule == "TK-XDS-0005")
    assert exposure == [("01-704-1233", 2.0), ("01-705-1031", 2.0), ("01-705-1303", 2.0), ("01-705-1377", 2.0)]
    assert sorted(f.variable for f in findings if f.rule == "TK-ADAM-0001") == ["ACTARM", "EOSSTT"]


def test_pilot_04_every_dataset_checked_notices_only_for_sponsor_terms(pilot):
    """Test 4: every dataset is in the SDTMIG 3.4 metadata (QS split by questionnaire, SC, VS and RELREC
    included), so none is skipped; notices are values outside extensible codelists (sponsor terms such
    as DSDECOD 'FINAL LAB VISIT', QSCAT 'ADAS-COG', TSVCDREF 'CDISC') and COUNTRY = USA, outside the
    countries the study overlay keeps (ISO 3166, which SDTM CT no longer publishes); and the sponsor
    variables added to AE, CM, DS, EX and MH (TK-SDTM-0107, Pinnacle 21's SD1076 kind)."""
    findings, _ = pilot
    assert [f for f in findings if f.rule == "TK-SDTM-0011"] == []
    notices = Counter(f.rule for f in findings if f.severity == "notice")
    assert set(notices) == {"TK-SDTM-0006", "TK-SDTM-0012", "TK-SDTM-0107"}
    assert [(f.dataset, f.variable, f.value) for f in findings if f.rule == "TK-SDTM-0012"] == [("DM", "COUNTRY", "USA")]
    assert {f.dataset for f in findings if f.rule == "TK-SDTM-0107"} == {"AE", "CM", "DS", "EX", "MH"}
    assert {(f.dataset, f.variable, f.value) for f in findings if f.rule == "TK-SDTM-0006"} >= {
        ("DS", "DSDECOD", "FINAL LAB VISIT"), ("QSCO", "QSCAT", "ADAS-COG"), ("TS", "TSVCDREF", "CDISC")}
