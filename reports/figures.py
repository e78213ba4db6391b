"""Figures of the report: Kaplan-Meier curves with numbers at risk (Figure 1A), the forest plot of
subgroup hazard ratios (Figure 1B), and saving them as a 300 dpi PNG and a reproducible SVG.

The figures draw what ``stats`` computed and compute nothing of their own: the step curve is
``KaplanMeier.table``, the at-risk row is ``KaplanMeier.at_times``, the printed HR and p come from
``format_ci`` / ``format_p``, so a figure can never disagree with the table that prints the same
estimate. The one exception is ``compute_forest_rows``, which only selects the records of each
subgroup and hands them to ``stats.cox_hr``.

Conventions, and why:

* Object-oriented matplotlib only: figures are ``matplotlib.figure.Figure`` on an Agg canvas, never
  pyplot, so building a report touches no global figure registry and no interactive backend, and
  figures are freed like any other object.
* Printed in greyscale, arms must stay apart: each arm has its own line style *and* censor marker
  (colour only helps on screen). More arms than styles is an error, not a silent repeat.
* Times are in the unit of the ``KaplanMeier`` objects (``km_by_group`` gives months); the x ticks
  are exactly the times of ``at_times`` (every 12 months by default), so each number at risk sits
  under its tick by construction: the at-risk axes shares the x axis of the curve axes.
* The survival axis is 0-1 drawn as percent (``PercentFormatter``), so the plotted data are the
  estimates themselves, not estimates x 100.
* Which subgroups a forest plot shows is data (``Subgroup`` tuples, later read from the study's TLF
  spec); this module knows no study's variable names.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator, PercentFormatter
from matplotlib.transforms import blended_transform_factory, offset_copy

from trialkit.errors import InputError
from trialkit.reports.stats import HazardRatio, KaplanMeier, LogRank, cox_hr, format_ci, format_p

# (colour, line style, censor marker) per arm, in curve order. Okabe-Ito colours (colour-blind safe);
# the styles and markers alone keep the arms apart in greyscale.
ARM_STYLES = (
    ("#0072B2", "-", "|"),
    ("#D55E00", "--", "+"),
    ("#009E73", ":", "x"),
    ("#CC79A7", "-.", "1"),
)
PNG_DPI = 300
SVG_SALT = "trialkit"   # svg.hashsalt: clip-path and other ids derive from it instead of a random uuid
FONT = 8                # points: KM annotation and at-risk text
FOREST_FONT = 10        # points: every text of the forest plot, the size of the KM axis labels (its table is the figure)
RISK_GAP = 16           # points between an arm's name and its at-risk number at time 0
TOL = 1e-9              # comparing times in output units


# --- Kaplan-Meier (Figure 1A) -----------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class KMPanel:
    """One Kaplan-Meier panel: ``curves`` maps the arm label shown in the legend and the at-risk table
    to its estimate (in drawing order); ``hr`` and ``logrank`` are printed in the panel when given."""

    curves: Mapping[str, KaplanMeier]
    title: str
    hr: HazardRatio | None = None
    logrank: LogRank | None = None
    ylabel: str = "Survival (%)"


def landmark_name(months: float) -> str:
    """"4-year" for 48, "18-month" for 18: how the published figures name a landmark estimate."""
    return f"{months / 12:g}-year" if months >= 12 and months % 12 == 0 else f"{months:g}-month"


def annotation(hr: HazardRatio | None, logrank: LogRank | None) -> str:
    """The HR and log-rank lines printed in a KM panel, e.g. "Stratified HR 0.35 (95% CI 0.20-0.61)"
    over "Stratified log-rank p < 0.001"; "Stratified" only when the estimate was stratified. The
    interval is labelled 95% because that is what ``cox_hr`` computes unless told otherwise."""
    lines = []
    if hr is not None:
        name = "Stratified HR" if hr.strata else "HR"
        lines.append(f"{name} {hr.hr:.2f} (95% CI {format_ci(hr.lower, hr.upper)})" if hr.evaluable
                     else f"{name} not evaluable")
    if logrank is not None:
        name = "Stratified log-rank" if logrank.strata else "Log-rank"
        p = format_p(logrank.p)
        lines.append(f"{name} p {'< ' + p[1:] if p.startswith('<') else '= ' + p}" if logrank.evaluable
                     else f"{name} test not evaluable")
    return "\n".join(lines)


def _shared_times(curves: Mapping[str, KaplanMeier]) -> pd.Index:
    """The at-risk times common to all curves: one column of the at-risk table per time."""
    if not curves:
        raise ValueError("a Kaplan-Meier panel needs at least one curve")
    if len(curves) > len(ARM_STYLES):
        raise ValueError(f"{len(curves)} curves, but only {len(ARM_STYLES)} line styles tell arms apart in greyscale")
    first, *others = (km.at_times.index for km in curves.values())
    if not all(first.equals(index) for index in others):
        raise ValueError("the curves have different at_times: estimate them in one km_by_group call, "
                         "so that the at-risk rows line up")
    return first


def _landmark_label(label: str, km: KaplanMeier, landmark: float | None) -> str:
    if landmark is None:
        return label
    times = km.at_times.index
    hit = np.flatnonzero(np.isclose(times.to_numpy(dtype=float), landmark, atol=TOL))
    if not hit.size:
        raise ValueError(f"no estimate at the landmark {landmark:g} in at_times (times {', '.join(f'{t:g}' for t in times)}): "
                         "pass it in km_by_group(times=...) or use landmark=None")
    surv = km.at_times["surv"].iloc[hit[0]]
    return f"{label}: {landmark_name(landmark)} {'NE' if math.isnan(surv) else f'{surv:.0%}'}"


def _draw_km(ax: Axes, risk: Axes, panel: KMPanel, *, landmark: float | None, xmax: float | None, xlabel: str) -> None:
    """Curves, censor marks, legend and annotation on ``ax``; the numbers at risk on ``risk``, whose x
    axis is shared with ``ax`` so that column i sits under tick i."""
    times = _shared_times(panel.curves)
    end = max(km.table["time"].iloc[-1] for km in panel.curves.values()) if xmax is None else xmax
    keep = np.asarray(times <= end + TOL)
    ticks = times[keep]
    handles = []
    for (label, km), (colour, style, marker) in zip(panel.curves.items(), ARM_STYLES):
        table = km.table
        ax.step(table["time"].to_numpy(), table["surv"].to_numpy(), where="post", color=colour, linestyle=style,
                linewidth=1.4, label=label)
        censored = table[table["n_censor"] > 0]
        # "_" keeps the marks out of any automatic legend; the legend below uses proxies that show both
        ax.plot(censored["time"].to_numpy(), censored["surv"].to_numpy(), linestyle="none", marker=marker,
                markersize=6, markeredgewidth=1.1, color=colour, label=f"_{label} censored")
        handles.append(Line2D([], [], color=colour, linestyle=style, marker=marker, markersize=6,
                              label=_landmark_label(label, km, landmark)))
    ax.set_xlim(0, end * 1.02 if xmax is None else xmax)   # a little room for a censor mark at the last time
    ax.set_ylim(0, 1.03)
    ax.xaxis.set_major_locator(FixedLocator(ticks.to_numpy(dtype=float)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_major_locator(FixedLocator(np.linspace(0, 1, 6)))
    ax.yaxis.set_major_formatter(PercentFormatter(1, decimals=0))
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(panel.ylabel)
    ax.set_title(panel.title, loc="left", fontweight="bold")
    # The HR / p lines are the legend's title: one block, which "best" places where it covers the
    # fewest curve points, since no fixed corner is free for every pair of curves.
    ax.legend(handles=handles, title=annotation(panel.hr, panel.logrank) or None, loc="best", fontsize=FONT,
              title_fontsize=FONT, alignment="left", frameon=False, handlelength=3)

    risk.axis("off")
    risk.set_title("Number at risk", loc="left", fontsize=FONT, fontweight="bold")
    along_x = blended_transform_factory(risk.transData, risk.transAxes)
    name_at = offset_copy(risk.transAxes, fig=risk.figure, x=-RISK_GAP, units="points")  # clear of a 4-digit n at x = 0
    n_rows = len(panel.curves)
    for i, (label, km) in enumerate(panel.curves.items()):
        y = 1 - (i + 0.5) / n_rows
        risk.text(0, y, label, transform=name_at, ha="right", va="center", fontsize=FONT)
        for t, n in zip(ticks, km.at_times["n_risk"].to_numpy()[keep]):
            risk.text(t, y, f"{n:d}", transform=along_x, ha="center", va="center", fontsize=FONT)


def km_panels_figure(panels: Sequence[KMPanel], *, landmark: float | None = 48, xmax: float | None = None,
                     xlabel: str = "Months", suptitle: str | None = None) -> Figure:
    """Kaplan-Meier panels side by side, each with its numbers at risk underneath: Figure 1A is
    ``[KMPanel(efs_curves, "A  Event-free survival", ...), KMPanel(os_curves, "B  Overall survival", ...)]``.

    One figure rather than two so that the panels share size, fonts and layout, as they do in print.
    ``landmark`` (months; None: none) adds each arm's estimate at that time to its legend entry
    ("Blinatumomab: 4-year 59%"), read from ``at_times``, which must therefore contain it. ``xmax``
    cuts the time axis (default: the longest follow-up); at-risk columns beyond it are left out.

    The axes are labelled "km i" and "at risk i" (panel i), each curve by its arm and its censor
    marks "_<arm> censored", so that a reader of the figure (the tests) finds them without
    relying on drawing order.
    """
    if not panels:
        raise ValueError("no panels to draw")
    rows = max(len(p.curves) for p in panels)
    fig = Figure(figsize=(5.6 * len(panels), 4.2 + 0.22 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, len(panels), height_ratios=(3.6, 0.35 + 0.22 * rows))
    for col, panel in enumerate(panels):
        ax = fig.add_subplot(grid[0, col], label=f"km {col}")
        risk = fig.add_subplot(grid[1, col], sharex=ax, label=f"at risk {col}")
        _draw_km(ax, risk, panel, landmark=landmark, xmax=xmax, xlabel=xlabel)
    if suptitle:
        fig.suptitle(suptitle, fontweight="bold")
    return fig


def km_figure(curves: Mapping[str, KaplanMeier], *, title: str, hr: HazardRatio | None = None,
              logrank: LogRank | None = None, landmark: float | None = 48, xmax: float | None = None,
              ylabel: str = "Survival (%)", xlabel: str = "Months") -> Figure:
    """One Kaplan-Meier panel (see ``km_panels_figure``): step curves by arm with censor marks, the
    numbers at risk under each x tick, the HR / log-rank annotation and the landmark estimates."""
    return km_panels_figure([KMPanel(curves, title, hr, logrank, ylabel)], landmark=landmark, xmax=xmax, xlabel=xlabel)


# --- forest plot (Figure 1B) ------------------------------------------------------------------------

@dataclass(frozen=True)
class ForestRow:
    """A forest-plot row: a subgroup with its hazard ratio, or a group header (``header=True``, no HR)
    such as "Baseline MRD". ``indent`` shifts the label right by that many steps."""

    label: str
    hr: HazardRatio | None = None
    header: bool = False
    indent: int = 0

    def __post_init__(self) -> None:
        if self.header != (self.hr is None):
            raise ValueError(f"forest row {self.label!r}: a header row has no hazard ratio and every other row has one")
        if self.indent < 0:
            raise ValueError(f"forest row {self.label!r}: indent must be >= 0, got {self.indent}")


class Subgroup(NamedTuple):
    """A block of the forest plot: its ``header``, the ``variable`` that defines it and the
    ``levels`` shown, as (value in the data, label in the figure), in display order. Levels not
    listed (e.g. "NOT EVALUABLE") are not shown."""

    header: str
    variable: str
    levels: Sequence[tuple[Hashable, str]]


def compute_forest_rows(adtte: pd.DataFrame, adsl: pd.DataFrame | None = None, *, paramcd: str,
                        subgroups: Sequence[Subgroup | tuple[str, str, Sequence[tuple[Hashable, str]]]],
                        reference: Hashable, group: str = "ARMCD", overall: str | None = "All patients") -> list[ForestRow]:
    """The rows of a forest plot: ``overall`` (None: left out) on all records of ``paramcd``, then per
    subgroup a header row and one row per level, each an unstratified Cox HR (``cox_hr``) of the
    records with that value: within a subgroup the stratification factors are too thin to stratify
    by, which is why the publication's subgroup HRs are unstratified.

    ``adtte`` should already be the analysis population (e.g. ITT). A subgroup variable missing from
    ADTTE is taken from ``adsl`` by USUBJID. Input that would make a row silently wrong raises
    ``InputError`` naming the column: no ``paramcd`` records, a subject twice in them or in ADSL, a
    subject missing from ADSL, a subgroup variable in neither dataset.
    """
    for column in ("PARAMCD", "USUBJID"):
        if column not in adtte.columns:
            raise InputError("not found in ADTTE", column=column)
    data = adtte[adtte["PARAMCD"] == paramcd]
    if data.empty:
        found = ", ".join(map(str, pd.unique(adtte["PARAMCD"])))
        raise InputError(f"no ADTTE records with PARAMCD {paramcd!r} (found {found or 'none'})", column="PARAMCD")
    _no_duplicates(data, f"ADTTE (PARAMCD {paramcd})")
    blocks = [Subgroup(*block) for block in subgroups]
    wanted = [v for v in dict.fromkeys(b.variable for b in blocks) if v not in data.columns]
    if wanted:
        absent = [v for v in wanted if adsl is None or v not in adsl.columns]
        if absent:
            raise InputError("subgroup variable found in neither ADTTE nor ADSL", column=", ".join(absent))
        _no_duplicates(adsl, "ADSL")
        data = data.merge(adsl[["USUBJID", *wanted]], on="USUBJID", how="left", indicator="_in_adsl")
        lost = data.loc[data["_in_adsl"] == "left_only", "USUBJID"].tolist()
        if lost:
            raise InputError(f"{len(lost)} ADTTE subjects not in ADSL: {', '.join(map(str, lost[:5]))}", column="USUBJID")
    rows = [ForestRow(overall, cox_hr(data, group, reference))] if overall is not None else []
    for block in blocks:
        rows.append(ForestRow(block.header, header=True))
        rows.extend(ForestRow(label, cox_hr(data[data[block.variable] == value], group, reference), indent=1)
                    for value, label in block.levels)
    return rows


def _no_duplicates(frame: pd.DataFrame, name: str) -> None:
    twice = frame["USUBJID"][frame["USUBJID"].duplicated(keep=False)]
    if not twice.empty:  # rows: index + 1, the row in the dataset as read (the PARAMCD filter keeps the index)
        shown = ", ".join(map(str, pd.unique(twice)[:5]))
        raise InputError(f"subjects with more than one record in {name}: {shown} (rows {', '.join(map(str, (twice.index[:5] + 1)))})",
                         column="USUBJID")


def hr_text(hr: HazardRatio) -> str:
    """"0.38 (0.22-0.65)", or "Not evaluable": the right-hand column of the forest plot."""
    return f"{hr.hr:.2f} ({format_ci(hr.lower, hr.upper)})" if hr.evaluable else "Not evaluable"


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks in [lo, hi] at 1-2-5 times a power of 10, thinned to 1-3 and then to powers of 10 as the
    range widens, so that the labels never run into each other on a ~3 inch axis."""
    width = math.log10(hi / lo)
    steps = (1, 2, 5) if width <= 2.5 else (1, 3) if width <= 5 else (1,)
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    return [v for v in (m * 10.0 ** e for e in decades for m in steps) if lo <= v <= hi]


def forest_figure(rows: Sequence[ForestRow], *, title: str | None = None, xlabel: str = "Hazard ratio (95% CI)",
                  favours: tuple[str, str] | None = None, arms: tuple[str, str] | None = None, xlim: tuple[float, float] | None = None) -> Figure:
    """Forest plot, one line per row from top to bottom: label (headers bold, levels indented), n and
    events per arm, the HR as a square with its CI as a whisker on a log axis with a line at 1, and
    the HR (CI) as text on the right. A not evaluable row shows "Not evaluable" and no square.

    ``arms`` names the (treatment, reference) columns, by default the arm codes the hazard ratios
    carry. ``favours`` is printed under the plot, left and right of 1, by default "<arm> better"
    (the study's wording, e.g. "Blinatumomab better", belongs in its spec, not here). ``xlim`` defaults to a range
    symmetric about 1 (on the log scale) that holds every confidence interval. ``title`` is drawn
    above the plot when given; the report leaves it out, since its page prints the title already.

    Row i is drawn at y = i on every axes ("forest table", "forest", "forest estimates"); the
    squares are the line "hazard ratio", the whiskers "95% CI", the line at 1 "no effect".
    """
    if not rows:
        raise ValueError("no forest rows to draw")
    estimates = [r.hr for r in rows if r.hr is not None]
    if arms is None:
        first = next((hr for hr in estimates if hr.treatment is not None), None)
        arms = (str(first.treatment), str(first.reference)) if first is not None else ("Treatment", "Reference")
    favours = favours or (f"{arms[0]} better", f"{arms[1]} better")
    y = np.arange(len(rows))
    shown = np.array([r.hr is not None and r.hr.evaluable for r in rows])
    values = np.array([(r.hr.hr, r.hr.lower, r.hr.upper) if r.hr is not None else (np.nan,) * 3 for r in rows])
    if xlim is None:  # symmetric about 1 on the log scale: equal room for either "favours" side
        logs = np.abs(np.log(values[shown, 1:]))
        half = max(logs.max() if logs.size else 0.0, math.log(2)) * 1.15
        lo, hi = math.exp(-half), math.exp(half)
    else:
        lo, hi = xlim

    fig = Figure(figsize=(10, 1.5 + 0.32 * len(rows)), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(1, 3, width_ratios=(3.6, 3.0, 1.5), wspace=0)
    plot = fig.add_subplot(grid[0, 1], label="forest")
    table = fig.add_subplot(grid[0, 0], sharey=plot, label="forest table")
    right = fig.add_subplot(grid[0, 2], sharey=plot, label="forest estimates")

    plot.set_xscale("log")
    plot.set_xlim(lo, hi)
    plot.set_ylim(len(rows) + 0.6, -1.6)   # inverted: first row on top; row -1 holds the column headers,
    plot.vlines(1.0, -0.6, len(rows) + 0.6, color="black", linewidth=0.8, label="no effect")  # row len(rows): "favours"
    plot.hlines(y[shown], values[shown, 1], values[shown, 2], color="black", linewidth=1.2, label="95% CI")
    plot.plot(values[shown, 0], y[shown], linestyle="none", marker="s", markersize=5, color="black", label="hazard ratio")
    plot.xaxis.set_major_locator(FixedLocator(_log_ticks(lo, hi)))
    plot.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    plot.xaxis.set_minor_locator(NullLocator())
    plot.yaxis.set_visible(False)
    plot.spines[["top", "right", "left"]].set_visible(False)
    plot.tick_params(labelsize=FOREST_FONT)
    plot.set_xlabel(xlabel, fontsize=FOREST_FONT)
    gap = 1.08  # the favours labels start this factor away from the line at 1
    plot.text(1 / gap, len(rows), f"\u2190 {favours[0]}", ha="right", va="center", fontsize=FOREST_FONT)
    plot.text(gap, len(rows), f"{favours[1]} \u2192", ha="left", va="center", fontsize=FOREST_FONT)

    columns = blended_transform_factory(table.transAxes, table.transData)
    estimate_at = blended_transform_factory(right.transAxes, right.transData)
    table.axis("off")
    right.axis("off")
    head = {"fontsize": FOREST_FONT, "fontweight": "bold", "va": "center"}
    table.text(0.0, -1, "Subgroup", transform=columns, ha="left", **head)
    table.text(0.66, -1, f"n ({arms[0]} / {arms[1]})", transform=columns, ha="center", **head)
    table.text(0.90, -1, "Events", transform=columns, ha="center", **head)
    right.text(0.06, -1, "HR (95% CI)", transform=estimate_at, ha="left", **head)
    for i, row in enumerate(rows):
        table.text(0.03 * row.indent, i, row.label, transform=columns, ha="left", va="center", fontsize=FOREST_FONT,
                   fontweight="bold" if row.header else "normal")
        if row.hr is None:
            continue
        hr = row.hr
        table.text(0.66, i, f"{hr.n_treatment} / {hr.n_reference}", transform=columns, ha="center", va="center",
                   fontsize=FOREST_FONT)
        table.text(0.90, i, f"{hr.events_treatment} / {hr.events_reference}", transform=columns, ha="center",
                   va="center", fontsize=FOREST_FONT)
        right.text(0.06, i, hr_text(hr), transform=estimate_at, ha="left", va="center", fontsize=FOREST_FONT,
                   style="normal" if hr.evaluable else "italic")
    if title:
        fig.suptitle(title, fontweight="bold", x=0.02, ha="left")
    return fig


# --- output -----------------------------------------------------------------------------------------

def save_figure(fig: Figure, stem: str | Path) -> list[Path]:
    """Write ``stem``.png (300 dpi, recorded in the PNG's pHYs chunk) and ``stem``.svg; returns both
    paths. The SVG is byte-for-byte reproducible, so that a re-run of the report shows no spurious
    diff: no creation date in its metadata, ids from a fixed ``svg.hashsalt`` instead of a random
    one, and text as paths (``svg.fonttype``) so the result does not depend on the viewer's fonts."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = (stem.with_name(stem.name + suffix) for suffix in (".png", ".svg"))
    with matplotlib.rc_context({"svg.hashsalt": SVG_SALT, "svg.fonttype": "path"}):
        fig.savefig(png, format="png", dpi=PNG_DPI)
        fig.savefig(svg, format="svg", metadata={"Date": None})
    return [png, svg]
