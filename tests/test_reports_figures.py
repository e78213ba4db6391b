"""Tests of trialkit.reports.figures: Kaplan-Meier panels, forest plot, saving.

The figures are read back through their artists (lines, texts, legend) and compared with what they
must show, worked out by hand from the tiny inputs or taken from the ``stats`` objects they draw,
never from the drawing code. The last case builds Figure 1A and 1B from a generated study.
"""

from __future__ import annotations

import math
import struct
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from trialkit.errors import InputError
from trialkit.reports.build import read_adam
from trialkit.reports.figures import (
    ForestRow,
    KMPanel,
    Subgroup,
    compute_forest_rows,
    forest_figure,
    km_figure,
    km_panels_figure,
    save_figure,
)
from trialkit.reports.stats import (
    HazardRatio,
    LogRank,
    cox_hr,
    format_ci,
    format_p,
    km_by_group,
    stratified_logrank,
)

# --- helpers and data -------------------------------------------------------------------------------

# Months (scale=1), "+" = censored. at_times: 0, 12, 24 (up to the longest follow-up, 30).
ALPHA = [(2, 0), (5, 1), (8, 0), (13, 0), (13, 1), (20, 0), (26, 1), (30, 0)]
BETA = [(1, 0), (3, 0), (4, 1), (6, 0), (9, 0), (12, 1), (15, 0), (27, 1)]
TINY = pd.DataFrame({
    "AVAL": [t for t, _ in ALPHA + BETA],
    "CNSR": [c for _, c in ALPHA + BETA],
    "ARM": ["Alpha"] * 8 + ["Beta"] * 8,
})


def tiny_curves():
    return km_by_group(TINY, "ARM", scale=1)


def by_label(fig: Figure, label: str):
    return next(ax for ax in fig.axes if ax.get_label() == label)


def lines(ax) -> dict:
    return {line.get_label(): line for line in ax.lines}


def texts_by_row(ax) -> dict[float, list]:
    """Texts of an axes grouped by their y position, each row sorted by x."""
    rows: dict[float, list] = {}
    for text in ax.texts:
        rows.setdefault(round(text.get_position()[1], 9), []).append(text)
    return {y: sorted(row, key=lambda t: t.get_position()[0]) for y, row in rows.items()}


def hazard(hr, lower, upper, *, n=(54, 57), events=(17, 30), evaluable=True) -> HazardRatio:
    return HazardRatio(hr, lower, upper, 0.001 if evaluable else math.nan, "HC3", "BLIN", n[1], n[0], events[1], events[0],
                       "efron", "lifelines", evaluable=evaluable, reason="" if evaluable else "arm HC3: 4 subjects")


def png_chunks(data: bytes) -> dict[bytes, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = {}, 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        chunks[kind] = data[at + 8:at + 8 + length]
        at += 12 + length
    return chunks


# --- Kaplan-Meier panel -----------------------------------------------------------------------------

def test_01_step_curves_are_the_km_tables():
    """Test 1: each arm's curve is a post-step line whose data are KaplanMeier.table time / surv."""
    curves = tiny_curves()
    fig = km_figure(curves, title="EFS", landmark=None)
    drawn = lines(by_label(fig, "km 0"))
    for arm, km in curves.items():
        line = drawn[arm]
        assert line.get_drawstyle() == "steps-post"
        np.testing.assert_array_equal(line.get_xdata(), km.table["time"].to_numpy())
        np.testing.assert_array_equal(line.get_ydata(), km.table["surv"].to_numpy())
    # by hand: Alpha's curve starts at 1, drops to 7/8 at month 2 and ends at 0 after the event at 30
    assert drawn["Alpha"].get_ydata()[[0, 1, -1]].tolist() == pytest.approx([1.0, 7 / 8, 0.0])


def test_02_censor_marks_sit_at_the_censored_times():
    """Test 2: censor marks at every censored time of the input, at the height of the curve there."""
    curves = tiny_curves()
    drawn = lines(by_label(km_figure(curves, title="EFS", landmark=None), "km 0"))
    for arm, data in (("Alpha", ALPHA), ("Beta", BETA)):
        marks = drawn[f"_{arm} censored"]
        assert marks.get_linestyle() == "None"
        assert marks.get_xdata().tolist() == sorted({t for t, c in data if c == 1})
        table = curves[arm].table.set_index("time")
        np.testing.assert_array_equal(marks.get_ydata(), table.loc[marks.get_xdata(), "surv"].to_numpy())
    # by hand: Beta censored at 4 after events at 1 and 3 (S = 6/8), at 12 after 6 and 9 (S = 0.45)
    # and at 27 after 15 (S = 0.225)
    assert drawn["_Beta censored"].get_ydata().tolist() == pytest.approx([0.75, 0.45, 0.225])


def test_03_numbers_at_risk_are_at_times_n_risk_under_the_ticks():
    """Test 3: one at-risk row per arm, named, holding at_times.n_risk (counted by hand too), each
    number centred under its x tick once drawn."""
    curves = tiny_curves()
    fig = km_figure(curves, title="EFS", landmark=None)
    ax, risk = by_label(fig, "km 0"), by_label(fig, "at risk 0")
    assert ax.get_xticks().tolist() == [0, 12, 24] == curves["Alpha"].at_times.index.tolist()
    rows = {row[0].get_text(): row[1:] for row in texts_by_row(risk).values()}
    assert set(rows) == {"Alpha", "Beta"}
    by_hand = {"Alpha": [8, 5, 2], "Beta": [8, 3, 1]}
    for arm, numbers in rows.items():
        assert [int(t.get_text()) for t in numbers] == curves[arm].at_times["n_risk"].tolist() == by_hand[arm]
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    for numbers in rows.values():
        centres = [t.get_window_extent(renderer).intervalx.mean() for t in numbers]
        ticks = ax.transData.transform(np.c_[ax.get_xticks(), np.zeros(3)])[:, 0]
        np.testing.assert_allclose(centres, ticks, atol=0.5)


def test_04_xmax_cuts_the_axis_and_the_at_risk_columns():
    """Test 4: with xmax=20 the axis ends at 20 and only the columns for 0 and 12 remain."""
    fig = km_figure(tiny_curves(), title="EFS", landmark=None, xmax=20)
    assert by_label(fig, "km 0").get_xlim() == (0, 20)
    rows = {row[0].get_text(): [t.get_text() for t in row[1:]] for row in texts_by_row(by_label(fig, "at risk 0")).values()}
    assert rows == {"Alpha": ["8", "5"], "Beta": ["8", "3"]}


@pytest.mark.parametrize("p, shown", [(0.0004, "p < 0.001"), (0.0123, "p = 0.012")])
def test_05_hr_and_p_annotation_uses_format_ci_and_format_p(p, shown):
    """Test 5: the panel prints "Stratified HR x (95% CI a-b)" and "Stratified log-rank p ..." from
    the inputs, the p worded as the publication does ("p < 0.001", "p = 0.012")."""
    hr = hazard(0.3512, 0.2049, 0.6071)
    hr = HazardRatio(**{**hr.__dict__, "strata": ("STRAT1R", "STRAT2R")})
    logrank = LogRank(12.0, 1, p, strata=("STRAT1R", "STRAT2R"))
    fig = km_figure(tiny_curves(), title="EFS", hr=hr, logrank=logrank, landmark=None)
    title = by_label(fig, "km 0").get_legend().get_title().get_text()
    assert title == f"Stratified HR 0.35 (95% CI {format_ci(hr.lower, hr.upper)})\nStratified log-rank {shown}"
    assert format_ci(hr.lower, hr.upper) == "0.20-0.61" and shown.replace(" ", "").endswith(format_p(p))


def test_06_annotation_of_unstratified_and_not_evaluable_estimates():
    """Test 6: computed unstratified estimates are printed without "Stratified"; a not evaluable HR
    says so instead of printing NaN."""
    hr, logrank = cox_hr(TINY, "ARM", "Beta"), stratified_logrank(TINY, "ARM")
    title = by_label(km_figure(tiny_curves(), title="EFS", hr=hr, logrank=logrank, landmark=None), "km 0").get_legend().get_title()
    assert title.get_text() == (f"HR {hr.hr:.2f} (95% CI {format_ci(hr.lower, hr.upper)})\n"
                                f"Log-rank p = {format_p(logrank.p)}")
    lost = hazard(math.nan, math.nan, math.nan, evaluable=False)
    title = by_label(km_figure(tiny_curves(), title="EFS", hr=lost, landmark=None), "km 0").get_legend().get_title()
    assert title.get_text() == "HR not evaluable"


def test_07_landmark_estimates_in_the_legend():
    """Test 7: landmark=12 labels each arm with its 1-year estimate (by hand: Alpha 7/8 * 5/6 = 73%,
    Beta 7/8 * 6/7 * 4/5 * 3/4 = 45%); a landmark missing from at_times is a ValueError."""
    legend = by_label(km_figure(tiny_curves(), title="EFS", landmark=12), "km 0").get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["Alpha: 1-year 73%", "Beta: 1-year 45%"]
    with pytest.raises(ValueError, match="no estimate at the landmark 48"):
        km_figure(tiny_curves(), title="EFS", landmark=48)


def test_08_arms_differ_by_line_style_and_marker():
    """Test 8 (greyscale): the arms' curves differ in line style, their censor marks in marker, and
    each legend entry shows both."""
    drawn = lines(by_label(km_figure(tiny_curves(), title="EFS", landmark=None), "km 0"))
    assert drawn["Alpha"].get_linestyle() != drawn["Beta"].get_linestyle()
    assert drawn["_Alpha censored"].get_marker() != drawn["_Beta censored"].get_marker()
    handles = by_label(km_figure(tiny_curves(), title="EFS", landmark=None), "km 0").get_legend().legend_handles
    assert [(h.get_linestyle(), h.get_marker()) for h in handles] == [
        (drawn[arm].get_linestyle(), drawn[f"_{arm} censored"].get_marker()) for arm in ("Alpha", "Beta")]


def test_09_two_panels_side_by_side():
    """Test 9: Figure 1A as one figure: two curve axes next to each other, each with its at-risk
    axes underneath sharing its x axis, titled as given."""
    curves = tiny_curves()
    fig = km_panels_figure([KMPanel(curves, "A  EFS"), KMPanel(curves, "B  OS", ylabel="Overall survival (%)")], landmark=None)
    assert [ax.get_label() for ax in fig.axes] == ["km 0", "at risk 0", "km 1", "at risk 1"]
    left, right = by_label(fig, "km 0"), by_label(fig, "km 1")
    assert (left.get_title(loc="left"), right.get_title(loc="left"), right.get_ylabel()) == ("A  EFS", "B  OS", "Overall survival (%)")
    assert left.get_position().x1 <= right.get_position().x0
    for i in (0, 1):
        assert by_label(fig, f"at risk {i}").get_shared_x_axes().joined(by_label(fig, f"at risk {i}"), by_label(fig, f"km {i}"))
        assert by_label(fig, f"at risk {i}").get_position().y1 <= by_label(fig, f"km {i}").get_position().y0


def test_10_curves_that_cannot_share_an_at_risk_table():
    """Test 10: curves estimated at different times, more arms than greyscale styles, or none at all
    are ValueErrors: the at-risk rows would not line up, or arms could not be told apart."""
    first = km_by_group(TINY[TINY["ARM"] == "Alpha"], "ARM", scale=1)
    second = km_by_group(TINY[TINY["ARM"] == "Beta"], "ARM", scale=1, times=[0, 6, 12])
    with pytest.raises(ValueError, match="different at_times"):
        km_figure({**first, **second}, title="EFS", landmark=None)
    five = km_by_group(TINY.assign(ARM=[f"G{i % 5}" for i in range(16)]), "ARM", scale=1)
    with pytest.raises(ValueError, match="5 curves, but only 4 line styles"):
        km_figure(five, title="EFS", landmark=None)
    with pytest.raises(ValueError, match="at least one curve"):
        km_figure({}, title="EFS")


# --- forest plot ------------------------------------------------------------------------------------

FOREST = [
    ForestRow("All patients", hazard(0.38, 0.22, 0.65)),
    ForestRow("Marrow status", header=True),
    ForestRow("M1", hazard(0.401, 0.2349, 0.6951, n=(50, 53), events=(16, 29)), indent=1),
    ForestRow("M2", hazard(math.nan, math.nan, math.nan, n=(4, 4), events=(1, 0), evaluable=False), indent=1),
]


def test_11_forest_points_on_a_log_axis_with_their_ci_text():
    """Test 11: squares at the HRs of the evaluable rows (rows 0 and 2) on a log x axis with a line at
    1, whiskers from lower to upper limit, "0.38 (0.22-0.65)" in the right-hand column, and the
    "favours" labels either side of 1 under the last row."""
    fig = forest_figure(FOREST, title="Figure 1B")
    plot = by_label(fig, "forest")
    assert plot.get_xscale() == "log"
    points = lines(plot)["hazard ratio"]
    assert points.get_xdata().tolist() == [0.38, 0.401] and points.get_ydata().tolist() == [0, 2]
    segments = {c.get_label(): c.get_segments() for c in plot.collections}
    np.testing.assert_allclose(np.array(segments["95% CI"]), [[[0.22, 0], [0.65, 0]], [[0.2349, 2], [0.6951, 2]]])
    assert {x for seg in segments["no effect"] for x in seg[:, 0]} == {1.0}
    estimates = {y: row[0].get_text() for y, row in texts_by_row(by_label(fig, "forest estimates")).items()}
    assert estimates[0] == f"0.38 ({format_ci(0.22, 0.65)})" == "0.38 (0.22-0.65)"
    assert estimates[2] == "0.40 (0.23-0.70)"
    favours = [(t.get_text(), t.get_position()) for t in plot.texts]
    assert favours == [("\u2190 BLIN better", (1 / 1.08, 4)), ("HC3 better \u2192", (1.08, 4))]  # arm codes by default


def test_12_not_evaluable_row_has_text_and_no_point():
    """Test 12: the M2 row (row 3) says "Not evaluable", keeps its n per arm and has neither square
    nor whisker; the header row (row 1) is bold and has no numbers; given arms and favours are printed."""
    fig = forest_figure(FOREST, title="Figure 1B", arms=("Blin", "Chemo"), favours=("Blin better", "Chemo better"))
    plot = by_label(fig, "forest")
    assert [t.get_text() for t in plot.texts] == ["\u2190 Blin better", "Chemo better \u2192"]
    assert 3 not in lines(plot)["hazard ratio"].get_ydata()
    assert all(seg[0, 1] != 3 for seg in next(c for c in plot.collections if c.get_label() == "95% CI").get_segments())
    assert texts_by_row(by_label(fig, "forest estimates"))[3][0].get_text() == "Not evaluable"
    table = {y: [t.get_text() for t in row] for y, row in texts_by_row(by_label(fig, "forest table")).items()}
    assert table[-1] == ["Subgroup", "n (Blin / Chemo)", "Events"]
    assert table[0] == ["All patients", "54 / 57", "17 / 30"]
    assert table[1] == ["Marrow status"]
    assert table[3] == ["M2", "4 / 4", "1 / 0"]
    header = texts_by_row(by_label(fig, "forest table"))[1][0]
    assert header.get_fontweight() == "bold" and texts_by_row(by_label(fig, "forest table"))[2][0].get_fontweight() == "normal"


def test_13_forest_row_checks():
    """Test 13: a header with an HR, a subgroup without one, or a negative indent is a ValueError."""
    with pytest.raises(ValueError, match="header row has no hazard ratio"):
        ForestRow("Sex", hazard(0.5, 0.2, 0.9), header=True)
    with pytest.raises(ValueError, match="header row has no hazard ratio"):
        ForestRow("Female")
    with pytest.raises(ValueError, match="indent"):
        ForestRow("Female", hazard(0.5, 0.2, 0.9), indent=-1)


# --- forest rows from data --------------------------------------------------------------------------

def forest_data(n: int = 90, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ADTTE with EFS and OS records (OS times differ, so a missed PARAMCD filter shows) and SEX;
    ADSL with EMDFL, which ADTTE lacks."""
    rng = np.random.default_rng(seed)
    ids = [f"S-{i:03d}" for i in range(n)]
    arm = rng.choice(["A", "B"], n)
    sex = rng.choice(["F", "M"], n)
    efs = pd.DataFrame({"USUBJID": ids, "PARAMCD": "EFS", "AVAL": rng.exponential(np.where(arm == "B", 900, 400)).round() + 1,
                        "CNSR": (rng.random(n) < 0.3).astype(float), "ARMCD": arm, "SEX": sex})
    os_ = efs.assign(PARAMCD="OS", AVAL=efs["AVAL"] * 2, CNSR=1 - efs["CNSR"])
    adsl = pd.DataFrame({"USUBJID": ids[::-1], "EMDFL": rng.choice(["Y", "N"], n)})  # another order than ADTTE
    return pd.concat([efs, os_], ignore_index=True), adsl


SUBGROUPS = [("Sex", "SEX", [("F", "Female"), ("M", "Male")]), Subgroup("Extramedullary disease", "EMDFL", [("Y", "Yes"), ("N", "No")])]


def test_14_forest_rows_are_cox_hr_of_each_subgroup():
    """Test 14: an overall row, then per subgroup a header and one indented row per level, each the
    unstratified cox_hr of that level's EFS records, selected here by hand (EMDFL through ADSL)."""
    adtte, adsl = forest_data()
    rows = compute_forest_rows(adtte, adsl, paramcd="EFS", subgroups=SUBGROUPS, reference="A")
    assert [(r.label, r.header, r.indent) for r in rows] == [
        ("All patients", False, 0), ("Sex", True, 0), ("Female", False, 1), ("Male", False, 1),
        ("Extramedullary disease", True, 0), ("Yes", False, 1), ("No", False, 1)]
    efs = adtte[adtte["PARAMCD"] == "EFS"]
    emd = dict(zip(adsl["USUBJID"], adsl["EMDFL"]))
    expected = [efs, efs[efs["SEX"] == "F"], efs[efs["SEX"] == "M"],
                efs[efs["USUBJID"].map(emd) == "Y"], efs[efs["USUBJID"].map(emd) == "N"]]
    got = [r.hr for r in rows if not r.header]
    assert got == [cox_hr(frame, "ARMCD", "A") for frame in expected]
    assert all(hr.evaluable and hr.strata == () for hr in got)
    assert got[0].n_reference + got[0].n_treatment == 90


def test_15_forest_rows_input_errors():
    """Test 15: no PARAMCD records, a subgroup variable in neither dataset, a subject missing from
    ADSL and a duplicated subject are InputErrors naming the column."""
    adtte, adsl = forest_data()
    cases = [
        ({"paramcd": "PFS"}, adsl, adtte, "PARAMCD", "no ADTTE records with PARAMCD 'PFS'"),
        ({"subgroups": [("Region", "REGION", [("EU", "Europe")])]}, adsl, adtte, "REGION", "neither ADTTE nor ADSL"),
        ({}, adsl.iloc[1:], adtte, "USUBJID", "1 ADTTE subjects not in ADSL: S-089"),
        ({}, adsl, pd.concat([adtte, adtte.iloc[[3]]]), "USUBJID", "more than one record in ADTTE \\(PARAMCD EFS\\): S-003"),
        ({}, pd.concat([adsl, adsl.iloc[[0]]]), adtte, "USUBJID", "more than one record in ADSL: S-089"),
    ]
    for change, adsl_in, adtte_in, column, message in cases:
        args = {"paramcd": "EFS", "subgroups": SUBGROUPS, "reference": "A", **change}
        with pytest.raises(InputError, match=message) as err:
            compute_forest_rows(adtte_in, adsl_in, **args)
        assert err.value.column == column


# --- saving -----------------------------------------------------------------------------------------

def test_16_save_figure_png_300_dpi_and_reproducible_svg(tmp_path):
    """Test 16: a PNG whose pHYs chunk says 300 dpi (11811 pixels per metre) and whose size is the
    figure's at 300 dpi; an SVG that parses and has no date; the same figure saved again, and the
    same input built into a new figure, give identical SVG bytes."""
    def build():
        return km_figure(tiny_curves(), title="EFS", hr=cox_hr(TINY, "ARM", "Beta"), landmark=12)
    fig = build()
    png, svg = save_figure(fig, tmp_path / "out" / "figure_1a")
    assert (png.name, svg.name) == ("figure_1a.png", "figure_1a.svg")
    chunks = png_chunks(png.read_bytes())
    assert struct.unpack(">IIB", chunks[b"pHYs"]) == (11811, 11811, 1)
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    assert (width, height) == tuple(round(v * 300) for v in fig.get_size_inches())
    first = svg.read_bytes()
    assert ET.fromstring(first).tag == "{http://www.w3.org/2000/svg}svg"
    assert b"<dc:date>" not in first
    save_figure(fig, tmp_path / "out" / "figure_1a")
    assert svg.read_bytes() == first
    _, again = save_figure(build(), tmp_path / "again" / "figure_1a")
    assert again.read_bytes() == first


# --- the generated study ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def generated(demo):
    """The reference study's ADaM at the profile's size and demo seed, as `trialkit demo` wrote it."""
    return read_adam(demo / "adam")


def test_17_figures_from_the_generated_study_render_without_warnings(generated, tmp_path):
    """Test 17: Figure 1A (EFS and OS, stratified HR and log-rank) and Figure 1B (EFS by subgroup,
    variables from ADTTE and ADSL) from the generated study draw and save with warnings as errors;
    the at-risk row at time 0 counts each arm's subjects; the two-patient M2 subgroup is not evaluable."""
    adtte, adsl = generated["ADTTE"], generated["ADSL"]
    panels = []
    for paramcd, title in (("EFS", "A  Event-free survival"), ("OS", "B  Overall survival")):
        data = adtte[adtte["PARAMCD"] == paramcd]
        panels.append(KMPanel(km_by_group(data, "TRT01P"), title,
                              cox_hr(data, "ARMCD", "HC3", strata=["STRAT1R", "STRAT2R"]),
                              stratified_logrank(data, "ARMCD", ["STRAT1R", "STRAT2R"])))
    subgroups = [("Marrow status", "MARBL", [("M1", "M1"), ("M2", "M2")]),
                 ("Baseline MRD", "MRDBLGR", [("<1E-3", "< 1e-3"), (">=1E-3", ">= 1e-3")]),
                 ("Sex", "SEX", [("F", "Female"), ("M", "Male")])]
    rows = compute_forest_rows(adtte, adsl, paramcd="EFS", subgroups=subgroups, reference="HC3")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig_a = km_panels_figure(panels)
        fig_b = forest_figure(rows, title="Figure 1B")
        written = save_figure(fig_a, tmp_path / "figure_1a") + save_figure(fig_b, tmp_path / "figure_1b")
    assert all(path.stat().st_size > 0 for path in written)
    efs = adtte[adtte["PARAMCD"] == "EFS"]
    at_zero = {row[0].get_text(): int(row[1].get_text()) for row in texts_by_row(by_label(fig_a, "at risk 0")).values()}
    assert at_zero == efs["TRT01P"].value_counts().to_dict()
    m2 = next(r for r in rows if r.label == "M2")
    assert not m2.hr.evaluable
    assert texts_by_row(by_label(fig_b, "forest estimates"))[rows.index(m2)][0].get_text() == "Not evaluable"


def test_18_report_forest_plot_has_no_title_of_its_own_and_readable_text(generated):
    """Test 18: the report's Figure 1B carries no title inside the image (the page prints the
    shell's title above it: it showed twice), and every text in it is at least as large as the KM
    figure's axis labels (10 pt; it was 8 pt, small on the page)."""
    from matplotlib.text import Text

    from trialkit.reports.build import forest_plot
    from trialkit.reports.tables import Analysis
    from trialkit.reports.tlf import load_report_spec
    from trialkit.xpt import sas_date_variables

    spec = load_report_spec("ball_relapse")
    shell = next(s for s in spec.figures if s.type == "forest")
    fig = forest_plot(shell, Analysis(spec, {n: sas_date_variables(f) for n, f in generated.items()}))
    assert fig.get_suptitle() == ""
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]
    km_axis = km_figure(tiny_curves(), title="EFS", landmark=None).axes[0].xaxis.label.get_fontsize()
    assert sizes and min(sizes) >= km_axis == 10
