"""The report's tables (reports/tables.py) and shells (reports/tlf.py): each builder's numbers are
recomputed here on another path (counts with plain pandas, HRs with statsmodels PHReg, rates with
scipy's beta quantiles, KM with statsmodels SurvfuncRight) from the same generated study; every
shell mistake is a SpecError naming the file and key."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml
from scipy.stats import beta
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight

from trialkit.errors import SpecError
from trialkit.reports.build import read_adam
from trialkit.reports.tables import Analysis, build_table, n_pct
from trialkit.reports.tlf import load_report_spec
from trialkit.spec import study_dir

ARMS = {"BLIN": "Blinatumomab", "HC3": "Chemotherapy"}


@pytest.fixture(scope="module")
def adam(demo):
    """The reference study's ADaM at the profile's size and demo seed, as `trialkit demo` wrote it."""
    return read_adam(demo / "adam")


@pytest.fixture(scope="module")
def tables(adam):
    spec = load_report_spec("ball_relapse")
    analysis = Analysis(spec, adam)
    return {shell.id: build_table(shell, analysis) for shell in spec.tables}


def _row(table, label):
    return next(r for r in table.rows if r.label == label)


def _itt(adam):
    adsl = adam["ADSL"]
    return adsl[adsl["ITTFL"] == "Y"].assign(GRP=lambda d: d["ARMCD"].map(ARMS))


def _phreg_hr(data):
    """HR blinatumomab vs chemotherapy by statsmodels PHReg (Efron), the route lifelines is not."""
    x = (data["GRP"] == "Blinatumomab").astype(float).to_numpy()[:, None]
    fit = PHReg(data["AVAL"].to_numpy(), x, status=(data["CNSR"] == 0).astype(int).to_numpy(), ties="efron").fit()
    lo, hi = np.exp(fit.conf_int()[0])
    return f"{np.exp(fit.params[0]):.2f} ({lo:.2f}-{hi:.2f})"


def test_tables_01_table1_counts_hrs_and_rates_recomputed(adam, tables):
    """Test 1: Table 1 n per arm (pandas), EFS/OS HRs (statsmodels PHReg) and MRD remission rates with
    Clopper-Pearson limits (scipy beta quantiles) for every subgroup row."""
    itt = _itt(adam)
    adtte = adam["ADTTE"].merge(itt[["USUBJID", "GRP"]], on="USUBJID")
    adrs = adam["ADRS"].merge(itt[["USUBJID", "GRP"]], on="USUBJID")
    table = tables["table1"]
    groups = {"All patients": itt, "MRD < 1e-3": itt[itt["MRDBLGR"] == "<1E-3"], "MRD >= 1e-3": itt[itt["MRDBLGR"] == ">=1E-3"]}
    for label, subjects in groups.items():
        cells = _row(table, label).cells
        assert cells[:2] == tuple(str((subjects["GRP"] == a).sum()) for a in ("Blinatumomab", "Chemotherapy"))
        for k, paramcd in enumerate(("EFS", "OS")):
            data = adtte[(adtte["PARAMCD"] == paramcd) & adtte["USUBJID"].isin(subjects["USUBJID"])]
            assert cells[2 + k] == _phreg_hr(data), (label, paramcd)
        mrd = adrs[(adrs["PARAMCD"] == "MRDREM") & adrs["USUBJID"].isin(subjects["USUBJID"])]
        for k, arm in enumerate(("Blinatumomab", "Chemotherapy")):
            x, n = int((mrd[mrd["GRP"] == arm]["AVALC"] == "Y").sum()), int(mrd[mrd["GRP"] == arm]["AVALC"].isin(["Y", "N"]).sum())
            lo = 0.0 if x == 0 else beta.ppf(0.025, x, n - x + 1)
            hi = 1.0 if x == n else beta.ppf(0.975, x + 1, n - x)
            assert cells[4 + k] == f"{100 * x / n:.0f} ({100 * lo:.0f}-{100 * hi:.0f}); {x}/{n}", (label, arm)


def test_tables_02_tte_summary_events_median_and_landmark(adam, tables):
    """Test 2: Table 2 events by type (pandas counts) and the 4-year KM estimate (statsmodels
    SurvfuncRight, log-log CI) for EFS."""
    itt = _itt(adam)
    efs = adam["ADTTE"].merge(itt[["USUBJID", "GRP"]], on="USUBJID").query("PARAMCD == 'EFS'")
    table = tables["table2"]
    start = table.rows.index(next(r for r in table.rows if r.header and r.label == "Event-free survival"))
    rows = {r.label: r.cells for r in table.rows[start + 1:start + 12]}
    n = efs["GRP"].value_counts()
    for i, arm in enumerate(("Blinatumomab", "Chemotherapy")):
        sub = efs[efs["GRP"] == arm]
        assert rows["Subjects with an event"][i] == n_pct(int((sub["CNSR"] == 0).sum()), int(n[arm]))
        relapses = int(((sub["CNSR"] == 0) & (sub["EVNTDESC"] == "RELAPSE")).sum())
        assert rows["Relapse"][i] == n_pct(relapses, int(n[arm]))
        sf = SurvfuncRight(sub["AVAL"].to_numpy() / 30.5, (sub["CNSR"] == 0).astype(int).to_numpy())
        k = np.searchsorted(sf.surv_times, 48.0, side="right") - 1
        assert rows["4-year estimate (95% CI)"][i].startswith(f"{100 * sf.surv_prob[k]:.0f}% (")
    assert rows["Stratified HR (95% CI)"][1] == "Reference"


def test_tables_03_counts_and_characteristics_by_hand(adam, tables):
    """Test 3: disposition, baseline and relapse counts equal plain pandas counts, with percentages of
    the arm's N; a variable row lists each observed value."""
    itt = _itt(adam)
    n = itt["GRP"].value_counts()
    hsct = itt[itt["HSCTFL"] == "Y"]["GRP"].value_counts()
    assert _row(tables["table4"], "Allogeneic HSCT").cells == (
        n_pct(hsct["Blinatumomab"], n["Blinatumomab"]), n_pct(hsct["Chemotherapy"], n["Chemotherapy"]), n_pct(len(hsct.index) and int(hsct.sum()), len(itt)))
    female = itt[itt["SEX"] == "F"]["GRP"].value_counts()
    assert _row(tables["table3"], "Female").cells[:2] == (n_pct(female["Blinatumomab"], n["Blinatumomab"]),
                                                          n_pct(female["Chemotherapy"], n["Chemotherapy"]))
    assert tables["table3"].columns[-1] == f"Total (N = {len(itt)})"
    # a discontinuation counts up to the data cut-off (EOSDT on or before DCUTDT)
    dead = itt[(itt["DCSREAS"] == "DEATH") & ~(itt["EOSDT"] > itt["DCUTDT"])]["GRP"].value_counts()
    assert _row(tables["table4"], "Death").cells[0] == n_pct(dead.get("Blinatumomab", 0), n["Blinatumomab"])


def test_tables_04_ae_tables_count_subjects_once_at_worst_grade(adam, tables):
    """Test 4: AE overview counts subjects (not events) of the safety set by treatment received; the
    worst-grade rows of a category add up to its subjects; SOC/PT rows are counted by hand."""
    adsl = adam["ADSL"]
    safety = adsl[adsl["SAFFL"] == "Y"].assign(GRP=lambda d: d["TRT01AN"].map({1.0: "Blinatumomab", 2.0: "Chemotherapy"}))
    adae = adam["ADAE"].merge(safety[["USUBJID", "GRP"]], on="USUBJID").query("TRTEMFL == 'Y'")
    n = safety["GRP"].value_counts()
    gr3 = adae[adae["GR3FL"] == "Y"].drop_duplicates("USUBJID")["GRP"].value_counts()
    t6 = tables["table6"]
    assert _row(t6, "Grade >= 3").cells == (n_pct(gr3["Blinatumomab"], n["Blinatumomab"]), n_pct(gr3["Chemotherapy"], n["Chemotherapy"]))
    start = t6.rows.index(_row(t6, "Neurologic events"))
    total = sum(int(r.cells[0].split()[0]) for r in t6.rows[start + 1:start + 6])
    assert str(total) == t6.rows[start].cells[0].split()[0]
    t7 = tables["table7"]
    pyrexia = adae[adae["AEDECOD"] == "Pyrexia"].drop_duplicates("USUBJID")["GRP"].value_counts()
    assert _row(t7, "Pyrexia").cells[0] == n_pct(pyrexia.get("Blinatumomab", 0), n["Blinatumomab"])
    assert t7.spanners == ((f"Blinatumomab (N = {n['Blinatumomab']})", 2), (f"Chemotherapy (N = {n['Chemotherapy']})", 2))
    # exactly the SOCs and PTs some subject has (read_adam holds them as categories, which also know
    # the absent terms of other SOCs)
    pairs, soc = set(), None
    for r in t7.rows[1:]:
        soc = r.label if r.indent == 0 else soc
        pairs |= {(soc, r.label)} if r.indent == 1 else set()
    assert pairs == set(zip(adae["AEBODSYS"].astype(str), adae["AEDECOD"].astype(str)))
    assert len(t7.rows) == 1 + adae["AEBODSYS"].nunique() + len(pairs)


def _bad_spec(tmp_path, change):
    study = tmp_path / "study"
    shutil.copytree(study_dir("ball_relapse"), study)
    path = study / "tlf" / "report.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return study


@pytest.mark.parametrize(("change", "key"), [
    (lambda d: d["tables"][0].update(type="pie"), "tables[0].type"),
    (lambda d: d["tables"][1].pop("parameters"), "tables[1].parameters"),
    (lambda d: d["tables"][2].update(colour="red"), "tables[2].colour"),
    (lambda d: d["tables"][3].update(population="PP"), "tables[3].population"),
    (lambda d: d["tables"][3]["rows"][0].update(where="ITTFL = 'Y'"), "tables[3].rows[0].where"),
    (lambda d: d["populations"]["ITT"]["arm"]["levels"].update(HC3="Placebo"), "populations.ITT.arm.levels"),
    (lambda d: d["figures"][0].update(id="table1"), "tables"),
    (lambda d: d["tables"][3]["rows"][1].update(where="norm(SAFFL) == 'Y'"), "tables[3].rows[1].where"),
    (lambda d: d["populations"]["SAFETY"].update(where="SAFFL == ITTFL"), "populations.SAFETY.where"),
], ids=["type", "missing-key", "unknown-key", "population", "expression", "arm-levels", "duplicate-id", "not-ars",
        "population-not-ars"])
def test_tables_05_shell_mistakes_name_file_and_key(tmp_path, change, key):
    """Test 5: each mistake in report.yaml is a SpecError naming the file and the key."""
    with pytest.raises(SpecError) as exc:
        load_report_spec(_bad_spec(tmp_path, change))
    assert exc.value.key == key and exc.value.file.endswith("report.yaml")


def test_tables_06_percent_decimals_and_cutoff_footnote_from_the_spec(adam, tmp_path):
    """Test 6: `percent_decimals: 1` prints "19 (35.2%)"-style cells; every table's footnotes end with
    the data cut-off taken from ADSL.DCUTDT."""
    study = _bad_spec(tmp_path, lambda d: d.update(percent_decimals=1))
    spec = load_report_spec(study)
    analysis = Analysis(spec, adam)
    table = build_table(next(s for s in spec.tables if s.id == "table4"), analysis)
    itt = _itt(adam)
    n = int((itt["GRP"] == "Blinatumomab").sum())
    hsct = int(((itt["GRP"] == "Blinatumomab") & (itt["HSCTFL"] == "Y")).sum())
    assert _row(table, "Allogeneic HSCT").cells[0] == f"{hsct} ({100 * hsct / n:.1f}%)"
    cutoff = adam["ADSL"]["DCUTDT"].iloc[0].strftime("%Y-%m-%d")
    assert table.footnotes[-1].startswith(f"Data cut-off: {cutoff}; ")


def test_tables_07_breslow_ties_from_the_shell_match_statsmodels(adam, tmp_path):
    """Test 7: `ties: breslow` (SAS PROC PHREG's default) gives statsmodels PHReg's Breslow HR."""
    study = _bad_spec(tmp_path, lambda d: d["tables"][0].update(ties="breslow"))
    spec = load_report_spec(study)
    table = build_table(spec.tables[0], Analysis(spec, adam))
    itt = _itt(adam)
    efs = adam["ADTTE"].merge(itt[["USUBJID", "GRP"]], on="USUBJID").query("PARAMCD == 'EFS'")
    x = (efs["GRP"] == "Blinatumomab").astype(float).to_numpy()[:, None]
    fit = PHReg(efs["AVAL"].to_numpy(), x, status=(efs["CNSR"] == 0).astype(int).to_numpy(), ties="breslow").fit()
    lo, hi = np.exp(fit.conf_int()[0])
    assert _row(table, "All patients").cells[2] == f"{np.exp(fit.params[0]):.2f} ({lo:.2f}-{hi:.2f})"


# CT submission value -> the label a table shows: the CT decode where it spells the value, else the
# value in title case (the NCI preferred term "African American" is other words than the data)
RACE_LABELS = {"WHITE": "White", "ASIAN": "Asian", "BLACK OR AFRICAN AMERICAN": "Black or African American",
               "AMERICAN INDIAN OR ALASKA NATIVE": "American Indian or Alaska Native", "NOT REPORTED": "Not Reported",
               "OTHER": "Other", "UNKNOWN": "Unknown",
               "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER": "Native Hawaiian or Other Pacific Islander"}


def test_tables_08_coded_values_are_labelled_from_the_shell_or_the_ct(adam, tables):
    """Test 8: Race rows (no levels in the shell; ADaMIG gives RACE the RACE codelist) are labelled
    as CDISC writes the terms, like Sex (the shell's Female / Male), never the stored upper case
    ("WHITE" before); the disposition reasons by NCOMPLT ("Death", "Lost To Follow-Up"), each
    reason present with a row; counts by hand."""
    t3 = tables["table3"]
    start = t3.rows.index(next(r for r in t3.rows if r.header and r.label == "Race"))
    end = next(i for i in range(start + 1, len(t3.rows)) if t3.rows[i].header)
    itt = _itt(adam)
    races = sorted(itt["RACE"].astype(str).unique())
    assert [r.label for r in t3.rows[start + 1:end]] == [RACE_LABELS[v] for v in races]
    for row, value in zip(t3.rows[start + 1:end], races):
        assert row.cells[-1] == n_pct(int((itt["RACE"] == value).sum()), len(itt))
    t4 = tables["table4"]
    reasons = [r.label for r in t4.rows if r.indent == 1]
    values = sorted(set(itt["DCSREAS"].astype(str)) - {"", "DEATH"})
    assert reasons[0] == "Death" and len(reasons) == 1 + len(values)
    for label, value in zip(reasons[1:], values, strict=True):       # CT spelling: the value's words, not its case
        assert label.casefold() == value.casefold() and label != value and label[0].isupper()


def test_tables_09_title_case_and_decode_by_hand():
    """Test 9: the decode rule: CT spelling when it is the value's words, title case (small words
    lower, after a slash too) when the CT's term is other words, the value as stored without a codelist."""
    from trialkit.reports.decode import decode, title_case

    assert title_case("WITHDRAWAL BY PARENT/GUARDIAN") == "Withdrawal by Parent/Guardian"
    assert title_case("OR") == "Or"
    assert decode("COMPLETED", "NCOMPLT") == "Completed"          # CT term "Complete"
    assert decode("WITHDRAWAL BY PARENT/GUARDIAN", "NCOMPLT") == "Withdrawal by Parent/Guardian"   # CT: "Study Subject ..."
    assert decode("LOST TO FOLLOW-UP", "NCOMPLT").casefold() == "lost to follow-up"               # CT's own case
    assert decode("CD19-NEGATIVE", None) == "CD19-NEGATIVE"
    assert decode("SPONSOR TERM", "NCOMPLT") == "Sponsor Term"     # a value of an extensible list, not in it
