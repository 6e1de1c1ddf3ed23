"""The report's figures: alliance trajectories, added-variable plots, a forest plot of the
standardised alliance effects and residual diagnostics.

Style, rendering and labels are shared with the other figures (:mod:`alliance.report.canvas`);
the numbers drawn come from :mod:`alliance.report.plot_numbers`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from alliance.models.fit import ModelResult
from alliance.report import apa
from alliance.report.canvas import (
    BLUE,
    GREEN,
    GREY,
    LEFT,
    ORANGE,
    PURPLE,
    RC,
    SKY,
    SUPTITLE,
    TOP,
    VERMILLION,
    ReportFigure,
    axis_label,
    file_stem,
    model_title,
    new_figure,
    report_style,
    text_width,
)
from alliance.report.plot_numbers import (
    added_variable_residuals,
    mean_ci,
    normal_quantiles,
    standardised_effect,
    standardised_residuals,
)
from alliance.report.summaries import (
    MAX_TRAJECTORY_LINES,
    QQ_POINTS,
    TAIL_POINTS,
    density,
    qq_rows,
    quantile_bands,
    summarised,
)
from alliance.safe_text import plot_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def trajectory_figure(
    episodes: pd.DataFrame,
    score: str,
    timepoints: Sequence[str],
    label: str,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    show_ids: bool = False,
    level: float = 0.95,
) -> ReportFigure:
    """Each participant's alliance over the sessions (grey) and the mean with its CI."""
    columns = [f"{score}__{t}" for t in timepoints if f"{score}__{t}" in episodes.columns]
    shown = [c.split("__", 1)[1] for c in columns]
    values = episodes[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    keep = np.isfinite(values).any(axis=1)
    values = values[keep]
    ids = episodes.loc[keep, "participant_id"].astype(str).to_list()
    x = np.arange(len(columns), dtype=np.float64)
    summary = [mean_ci(values[:, k], level) for k in range(len(columns))]
    means = np.array([s[0] for s in summary])
    lows = np.array([s[1] for s in summary])
    highs = np.array([s[2] for s in summary])
    banded = summarised(len(values), MAX_TRAJECTORY_LINES)
    lines = (
        f"the median (dark grey) and the 25–75 % and 10–90 % ranges (shaded) of the "
        f"{len(values):,} participants, in place of one line each"
        if banded
        else "one grey line per participant"
    )
    with report_style():
        fig = new_figure(6.0, 4.0)
        ax = fig.add_subplot()
        if banded:
            bands = quantile_bands(values)
            ax.fill_between(x, bands[0.10], bands[0.90], color=GREY, alpha=0.25, linewidth=0,
                            label="10–90 % of participants")  # fmt: skip
            ax.fill_between(x, bands[0.25], bands[0.75], color=GREY, alpha=0.45, linewidth=0,
                            label="25–75 % of participants")  # fmt: skip
            ax.plot(x, bands[0.50], color="#555555", linewidth=1.4, marker="o", markersize=3,
                    label="Median")  # fmt: skip
        else:
            # One line object for every participant, each row cut from the next by a NaN: a
            # line joins only consecutive observed sessions and isolated points stay visible,
            # as with one plot call per participant, at a fraction of the drawing cost.
            cut = np.full((len(values), 1), np.nan)
            ax.plot(
                np.hstack([np.tile(x, (len(values), 1)), cut]).ravel(),
                np.hstack([values, cut]).ravel(),
                color=GREY, linewidth=0.8, alpha=0.7, marker="o", markersize=2.5,
            )  # fmt: skip
            for i in range(len(values)) if show_ids else ():
                row = values[i]
                last = np.flatnonzero(np.isfinite(row))[-1]
                ax.annotate(
                    plot_text(ids[i]),
                    (x[last], row[last]),
                    xytext=(3, 0),
                    textcoords="offset points",
                    fontsize=6,
                    color="#555555",
                    va="center",
                )
            ax.plot([], [], color=GREY, linewidth=0.8, marker="o", markersize=2.5,
                    label="Individual participants")  # fmt: skip
        ax.errorbar(
            x,
            means,
            yerr=[means - lows, highs - means],
            color=BLUE,
            linewidth=2.2,
            marker="s",
            markersize=6,
            capsize=4,
            capthick=1.5,
            label=f"Mean with {apa.fmt_level(level)} CI",
            zorder=3,
        )
        ax.set_xticks(x, [plot_text(apa.capitalise(apa.timepoint_short(t))) for t in shown])
        ax.set_xlim(-0.3, len(columns) - 0.7)
        ax.set_xlabel("Assessment")
        ax.set_ylabel(plot_text(axis_label(label, score, ranges or {})))
        title = f"{label} across sessions"
        ax.set_title(plot_text(title))
        ax.legend(loc="best")
    means_text = "; ".join(
        f"{apa.timepoint_label(t)}: mean {apa.fmt_num(m)} "
        f"({apa.fmt_level(level)} CI {apa.fmt_ci(lo, hi)}, n = {n})"
        for t, (m, lo, hi, n) in zip(shown, summary, strict=True)
    )
    return ReportFigure(
        name=f"trajectories_{file_stem(score)}",
        title=title,
        description=(
            f"Line chart of {label} for {len(values)} MDMA treatment episodes at "
            f"{apa.series([apa.timepoint_label(t) for t in shown])}, {lines} and the mean"
            f"{' of all' if banded else ''} in blue. {apa.capitalise(means_text)}."
        ),
        caption=(
            f"{label} at each assessment: {lines}"
            f"{'; mean of all participants' if banded else ', mean'} with "
            f"{apa.fmt_level(level)} t-based confidence interval in blue."
        ),
        figure=fig,
        summary=(
            f"{title}: median and quantile bands instead of {len(values):,} lines" if banded else ""
        ),
    )


def _influential(model: ModelResult) -> set[int]:
    d = model.extras.get("diagnostics", {})
    ids = {str(c["participant_id"]) for c in d.get("influential", [])}
    return {i for i, pid in enumerate(model.data.participant_ids) if pid in ids}


def _label_points(ax: Axes, x: np.ndarray, y: np.ndarray, model: ModelResult) -> None:
    """Name the influential participants (Cook's D > 4/n): only called when ids may be shown."""
    for i in sorted(_influential(model)):
        ax.annotate(
            plot_text(model.data.participant_ids[i]),
            (x[i], y[i]),
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=7,
            color=VERMILLION,
        )


def added_variable_figure(model: ModelResult, show_ids: bool = False) -> ReportFigure:
    """Partial-regression (added-variable) plot of the alliance term of one model."""
    spec = model.spec
    j = model.data.term
    ex, ey = added_variable_residuals(model.data.y, model.data.X, j)
    b = float(model.fit.estimate[j])
    predictor = f"{apa.predictor_label(spec)}, {apa.timepoint_short(spec.timepoint)}"
    outcome = f"{apa.outcome_label(spec)}, post-treatment"
    others = [apa.term_label(spec, n) for i, n in enumerate(model.data.names) if i not in (0, j)]
    with report_style():
        fig = new_figure(5.5, 4.2)
        ax = fig.add_subplot()
        ax.axhline(0, color="#CCCCCC", linewidth=0.8, zorder=0)
        ax.axvline(0, color="#CCCCCC", linewidth=0.8, zorder=0)
        cloud = summarised(len(ex))
        if cloud:
            density(ax, ex, ey, BLUE)
        else:
            ax.scatter(ex, ey, s=28, color=BLUE, edgecolor="white", linewidth=0.5, zorder=3)  # fmt: skip
        span = np.array([ex.min(), ex.max()]) if len(ex) else np.zeros(2)
        ax.plot(
            span, b * span, color=VERMILLION, linewidth=1.8, label=f"slope $b$ = {apa.fmt_num(b)}"
        )
        if show_ids and not cloud:
            _label_points(ax, ex, ey, model)
        ax.set_xlabel(plot_text(f"{predictor} (residual, points)"))
        ax.set_ylabel(plot_text(f"{outcome} (residual, points)"))
        title = f"Added-variable plot: {model_title(model)}"
        ax.set_title(plot_text(title), fontsize=9)
        ax.legend(loc="best")
    return ReportFigure(
        name=f"added_variable_{file_stem(spec.key)}",
        title=title,
        description=(
            f"{'Hexagonal-bin density' if cloud else 'Scatter plot'} of {model.fit.n} "
            f"participants: {outcome} against {predictor}, both "
            f"as residuals after adjusting for {apa.series(others) or 'the intercept'}. The "
            f"fitted line's slope is the alliance coefficient, b = {apa.fmt_num(b)} "
            f"({apa.fmt_level(1 - model.fit.alpha)} CI "
            f"{apa.fmt_ci(model.fit.ci_low[j], model.fit.ci_high[j])})."
        ),
        caption=(
            f"Added-variable plot for {model_title(model)}: residuals of both variables given "
            f"{apa.series(others) or 'the intercept'}; the line's slope equals b."
            + (f" Shade: participants per hexagon ({model.fit.n:,} in all)." if cloud else "")
        ),
        figure=fig,
        summary=f"{title}: a density of {model.fit.n:,} points" if cloud else "",
    )


def forest_figure(models: Sequence[ModelResult]) -> ReportFigure:
    """Standardised alliance effects (β with CI) of every model, marked by correction."""
    rows = [(m, *standardised_effect(m)) for m in models]
    outcomes = list(dict.fromkeys(apa.outcome_label(m.spec) for m in models))
    colours = dict(zip(outcomes, (BLUE, VERMILLION, GREEN, PURPLE, ORANGE, SKY), strict=False))
    level = 1 - models[0].fit.alpha if models else 0.95
    with report_style():
        labels = [
            plot_text(
                f"{apa.outcome_label(m.spec)}: {apa.predictor_label(m.spec)}, "
                f"{apa.timepoint_short(m.spec.timepoint)}"
            )
            for m, *_ in rows
        ]
        widest = max((text_width(label, RC["font.size"]) for label in labels), default=0.0)
        # Room for the long model labels on the left, the legend and title above the axes.
        fig = new_figure(
            6.0, 1.4 + 0.42 * max(1, len(rows)), left=max(LEFT, widest + 0.25), top=0.65
        )
        ax = fig.add_subplot()
        y = np.arange(len(rows))[::-1].astype(np.float64)
        for yi, (m, beta, low, high) in zip(y, rows, strict=True):
            colour = colours.get(apa.outcome_label(m.spec), BLUE)
            ax.plot([low, high], [yi, yi], color=colour, linewidth=1.8)
            ax.plot(
                [beta],
                [yi],
                marker="o",
                markersize=7,
                color=colour,
                markerfacecolor=colour if m.survives_correction else "white",
                markeredgewidth=1.6,
            )
        ax.axvline(0, color="#555555", linewidth=0.8, linestyle="--")
        ax.set_yticks(y, labels)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xlabel(f"Standardised $\\beta$ with {apa.fmt_level(level)} CI (SD units)")
        ax.plot([], [], marker="o", color="#333333", linestyle="none", label="survives correction")
        ax.plot(
            [],
            [],
            marker="o",
            color="#333333",
            markerfacecolor="white",
            linestyle="none",
            label="does not survive correction",
        )
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=2)
        title = "Standardised alliance effects"
        fig.suptitle(title, fontsize=10)
    description = "; ".join(
        f"{apa.outcome_label(m.spec)} with {apa.predictor_label(m.spec)} "
        f"{apa.timepoint_phrase(m.spec.timepoint)}: β = {apa.fmt_unit(beta)} "
        f"{apa.fmt_ci(low, high, unit=True)}"
        + ("" if m.survives_correction else " (does not survive correction)")
        for m, beta, low, high in rows
    )
    return ReportFigure(
        name="forest_standardised_effects",
        title=title,
        description=(
            f"Forest plot of the standardised alliance coefficient of {len(rows)} models with "
            f"{apa.fmt_level(level)} confidence intervals; filled markers survive correction "
            f"for multiple comparisons. {description}."
        ),
        caption=(
            f"Standardised alliance effects (β) with {apa.fmt_level(level)} confidence "
            "intervals: the interval of b scaled by sd(alliance)/sd(outcome) of each model's "
            "participants. Filled markers: the effect survives correction for multiple "
            "comparisons."
        ),
        figure=fig,
    )


def residual_figure(
    model: ModelResult,
    show_ids: bool = False,
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> ReportFigure:
    """Residuals against fitted values and a normal Q–Q plot of standardised residuals."""
    spec = model.spec
    fit = model.fit
    residuals = np.asarray(fit.residuals)
    fitted = np.asarray(fit.fitted)
    standard = standardised_residuals(model)
    order = np.argsort(standard, kind="stable")
    theoretical = normal_quantiles(len(standard))
    outcome = f"{apa.outcome_label(spec)}, post-treatment"
    with report_style():
        fig = new_figure(7.0, 3.4, columns=2, top=TOP + SUPTITLE)
        left, right = fig.subplots(1, 2)
        left.axhline(0, color="#555555", linewidth=0.8, linestyle="--")
        cloud = summarised(len(fitted))
        if cloud:
            density(left, fitted, residuals, BLUE)
        else:
            left.scatter(fitted, residuals, s=24, color=BLUE, edgecolor="white", linewidth=0.5)  # fmt: skip
        left.set_xlabel(
            plot_text("Fitted " + axis_label(outcome, spec.outcome.score, ranges or {}))
        )
        left.set_ylabel("Residual (points)")
        left.set_title("Residuals vs fitted", fontsize=9)
        lim = float(np.nanmax(np.abs(np.concatenate([theoretical, standard])))) + 0.3
        right.plot([-lim, lim], [-lim, lim], color="#555555", linewidth=0.8, linestyle="--")
        drawn = qq_rows(len(standard))
        right.scatter(theoretical[drawn], standard[order][drawn], s=24, color=BLUE,
                      edgecolor="white", linewidth=0.5)  # fmt: skip
        right.set_xlabel("Theoretical normal quantile (SD units)")
        right.set_ylabel("Standardised residual (SD units)")
        right.set_title("Normal Q\u2013Q", fontsize=9)
        if show_ids and not cloud:
            _label_points(left, fitted, residuals, model)
            placed = np.empty_like(theoretical)
            placed[order] = theoretical
            _label_points(right, placed, standard, model)
        title = f"Residual diagnostics: {model_title(model)}"
        fig.suptitle(plot_text(title), fontsize=10)
    checks = model.extras.get("diagnostics", {})
    shapiro = checks.get("shapiro")
    extra = (
        f" Shapiro–Wilk W = {apa.fmt_num(shapiro['W'], 3)}, p {apa.p_equals(shapiro['p'])}."
        if shapiro
        else ""
    )
    return ReportFigure(
        name=f"residuals_{file_stem(spec.key)}",
        title=title,
        description=(
            f"Two {'panels' if cloud else 'scatter plots'} for {fit.n} participants: residuals "
            "against fitted values of "
            f"{outcome}, and standardised residuals against normal quantiles with the identity "
            f"line.{extra}"
        ),
        caption=(
            f"Residual diagnostics for {model_title(model)}: residuals against fitted values "
            "(left) and normal Q–Q plot of standardised residuals (right)."
            + (
                f" Left: participants per hexagon ({fit.n:,} in all). Right: the order "
                f"statistics at {QQ_POINTS} evenly spaced probabilities and the {TAIL_POINTS} "
                "most extreme on each side."
                if cloud
                else ""
            )
        ),
        figure=fig,
        summary=(
            f"{title}: a density of {fit.n:,} residuals and a Q–Q plot of "
            f"{len(drawn)} order statistics"
            if cloud
            else ""
        ),
    )
