"""The report's figures: alliance trajectories, added-variable plots, a forest plot of the
standardised alliance effects and residual diagnostics.

Figures are drawn with matplotlib's object-oriented API on the Agg canvas (no pyplot, no
global state, no display). Text is stored as glyph paths (``svg.fonttype = "path"``) with the
DejaVu Sans font shipped inside matplotlib, so an SVG looks the same on every machine, offline
and without the font installed; the hash salt is fixed and the date left out, so the same input
gives byte-identical SVG. Colours are the Okabe–Ito palette, distinguishable with the common
colour-vision deficiencies (Okabe & Ito, 2008).

The numbers drawn (means with t intervals, added-variable residuals, standardised intervals,
standardised residuals, normal quantiles) come from the small pure functions at the top.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from html import escape
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from alliance.models.fit import ModelResult
from alliance.report import apa

# Okabe & Ito (2008), "Color Universal Design": black, orange, sky blue, bluish green,
# yellow, blue, vermillion, reddish purple.
OKABE_ITO = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
BLUE, VERMILLION, ORANGE, GREEN, PURPLE, SKY = (
    "#0072B2",
    "#D55E00",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
)
GREY = "#9A9A9A"

RC: dict[Any, Any] = {
    "svg.fonttype": "path",
    "svg.hashsalt": "alliance-report",
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.fontsize": 8.0,
    "figure.dpi": 100.0,
    "savefig.bbox": "standard",
    "path.simplify": False,
}
PNG_DPI = 300


# --------------------------------------------------------------------------- numbers drawn


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean and its t-based confidence interval, ignoring missing values.

    Returns ``(mean, low, high, n)``; the interval is NaN for fewer than two values.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return (np.nan, np.nan, np.nan, 0)
    mean = float(x.mean())
    if n < 2:
        return (mean, np.nan, np.nan, n)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return (mean, mean - half, mean + half, n)


def _residualise(Z: np.ndarray, v: np.ndarray) -> np.ndarray:
    q, _ = np.linalg.qr(Z, mode="reduced")
    return v - q @ (q.T @ v)


def added_variable_residuals(
    y: np.ndarray, X: np.ndarray, term: int
) -> tuple[np.ndarray, np.ndarray]:
    """Residuals of one term and of y on all other columns of X: the added-variable plot.

    The least-squares slope of the y residuals on the term's residuals is the term's
    coefficient in the full model (Frisch–Waugh–Lovell theorem; Cook & Weisberg, 1982,
    *Residuals and Influence in Regression*, §2.3.2).

    Returns
    -------
    (x_residuals, y_residuals)
    """
    X = np.asarray(X, dtype=np.float64)
    rest = np.delete(X, term, axis=1)
    return _residualise(rest, X[:, term]), _residualise(rest, np.asarray(y, dtype=np.float64))


def standardised_effect(model: ModelResult) -> tuple[float, float, float]:
    """β of the alliance term with its confidence interval: b and its CI times sd(x)/sd(y).

    The SDs are the sample SDs (n − 1) of the model's participants, the definition of the
    standardised betas themselves, so β here equals ``fit.std_beta`` of the term.
    """
    j = model.data.term
    scale = float(np.std(model.data.X[:, j], ddof=1) / np.std(model.data.y, ddof=1))
    fit = model.fit
    return (
        float(fit.estimate[j]) * scale,
        float(fit.ci_low[j]) * scale,
        float(fit.ci_high[j]) * scale,
    )


def standardised_residuals(model: ModelResult) -> np.ndarray:
    """Internally studentised residuals e / (σ √(1 − h)), R's ``rstandard``."""
    fit = model.fit
    return np.asarray(fit.residuals / (fit.sigma * np.sqrt(1.0 - fit.leverage)))


def normal_quantiles(n: int) -> np.ndarray:
    """Expected normal order statistics as R's ``qqnorm`` plots them (``ppoints``).

    ppoints(n) = (i − a)/(n + 1 − 2a) with a = 3/8 for n ≤ 10 and 1/2 otherwise (Blom, 1958).
    """
    a = 0.375 if n <= 10 else 0.5
    i = np.arange(1, n + 1, dtype=np.float64)
    return np.asarray(stats.norm.ppf((i - a) / (n + 1 - 2 * a)))


# --------------------------------------------------------------------------- figure objects


@dataclass(frozen=True, eq=False)
class ReportFigure:
    """One figure: the drawing and the words that go with it."""

    name: str  # file stem under figures/
    title: str
    description: str  # alt text: what the figure shows, with its numbers
    caption: str  # visible caption
    figure: Figure


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _rc() -> AbstractContextManager[None]:
    return mpl.rc_context(RC)


def render_svg(figure: ReportFigure) -> str:
    """The figure as a standalone SVG document with ``<title>`` and ``<desc>``."""
    buffer = io.StringIO()
    with _rc():
        figure.figure.savefig(buffer, format="svg", metadata={"Date": None})
    # The constrained layout is now solved; keeping it fixed spares every later export
    # (the 300-dpi PNG) from solving it again, which is most of the time an export takes.
    figure.figure.set_layout_engine("none")
    return _accessible(buffer.getvalue(), figure.title, figure.description)


def render_png(figure: ReportFigure, dpi: int = PNG_DPI) -> bytes:
    """The figure as PNG at ``dpi`` (300 for print)."""
    buffer = io.BytesIO()
    with _rc():
        figure.figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


_SVG_OPEN = re.compile(r"<svg\b[^>]*>")


def _accessible(svg: str, title: str, description: str) -> str:
    """Add role, title and description right after the opening ``<svg>`` tag."""
    match = _SVG_OPEN.search(svg)
    if match is None:
        raise ValueError("not an SVG document")
    open_tag = match.group(0)[:-1] + f' role="img" aria-label="{escape(title)}">'
    inserted = f"\n <title>{escape(title)}</title>\n <desc>{escape(description)}</desc>"
    return svg[: match.start()] + open_tag + inserted + svg[match.end() :]


_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_ID = re.compile(r'\bid="([^"]+)"')
_HREF = re.compile(r'((?:xlink:)?href)="#([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")


def inline_svg(svg: str, prefix: str) -> str:
    """An SVG document made fit for embedding in HTML.

    The XML prolog goes, and every ``id`` (with the references to it) gets ``prefix`` so
    several figures in one page never share an identifier.
    """
    start = svg.index("<svg")
    # matplotlib's RDF metadata (creator, format) is for files, not for a page.
    body = _METADATA.sub("", svg[start:])
    body = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', body)
    body = _HREF.sub(lambda m: f'{m.group(1)}="#{prefix}-{m.group(2)}"', body)
    body = _URL.sub(lambda m: f"url(#{prefix}-{m.group(1)})", body)
    return body


# --------------------------------------------------------------------------- labels


def axis_label(label: str, score: str, ranges: Mapping[str, tuple[float, float]]) -> str:
    """``"CAPS total (0–136)"`` when the score's range is known, else ``"… (points)"``."""
    if score in ranges:
        low, high = ranges[score]
        return f"{label} ({low:g}{apa.EN_DASH}{high:g})"
    return f"{label} (points)"


def _model_title(model: ModelResult) -> str:
    spec = model.spec
    return (
        f"{apa.outcome_label(spec)} ~ {apa.predictor_label(spec)} at "
        f"{apa.timepoint_label(spec.timepoint)}"
    )


def _file_stem(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


# --------------------------------------------------------------------------- figures


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
    with _rc():
        fig = _figure(6.0, 4.0)
        ax = fig.add_subplot()
        for i, row in enumerate(values):
            # A line joins only consecutive observed sessions; isolated points stay visible.
            ax.plot(x, row, color=GREY, linewidth=0.8, alpha=0.7, marker="o", markersize=2.5)
            if show_ids:
                last = np.flatnonzero(np.isfinite(row))[-1]
                ax.annotate(
                    ids[i],
                    (x[last], row[last]),
                    xytext=(3, 0),
                    textcoords="offset points",
                    fontsize=6,
                    color="#555555",
                    va="center",
                )
        ax.plot(
            [],
            [],
            color=GREY,
            linewidth=0.8,
            marker="o",
            markersize=2.5,
            label="Individual participants",
        )
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
        ax.set_xticks(x, [apa.capitalise(apa.timepoint_label(t)) for t in shown])
        ax.set_xlim(-0.3, len(columns) - 0.7)
        ax.set_xlabel("Assessment")
        ax.set_ylabel(axis_label(label, score, ranges or {}))
        title = f"{label} across sessions"
        ax.set_title(title)
        ax.legend(loc="best")
    means_text = "; ".join(
        f"{apa.timepoint_label(t)}: mean {apa.fmt_num(m)} "
        f"({apa.fmt_level(level)} CI {apa.fmt_ci(lo, hi)}, n = {n})"
        for t, (m, lo, hi, n) in zip(shown, summary, strict=True)
    )
    return ReportFigure(
        name=f"trajectories_{_file_stem(score)}",
        title=title,
        description=(
            f"Line chart of {label} for {len(values)} MDMA treatment episodes at "
            f"{apa.series([apa.timepoint_label(t) for t in shown])}, one grey line per "
            f"participant and the mean in blue. {apa.capitalise(means_text)}."
        ),
        caption=(
            f"{label} at each assessment: one grey line per participant, mean with "
            f"{apa.fmt_level(level)} t-based confidence interval in blue."
        ),
        figure=fig,
    )


def _influential(model: ModelResult) -> set[int]:
    d = model.extras.get("diagnostics", {})
    ids = {str(c["participant_id"]) for c in d.get("influential", [])}
    return {i for i, pid in enumerate(model.data.participant_ids) if pid in ids}


def _label_points(ax: Axes, x: np.ndarray, y: np.ndarray, model: ModelResult) -> None:
    """Name the influential participants (Cook's D > 4/n): only called when ids may be shown."""
    for i in sorted(_influential(model)):
        ax.annotate(
            model.data.participant_ids[i],
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
    predictor = f"{apa.predictor_label(spec)}, {apa.timepoint_label(spec.timepoint)}"
    outcome = f"{apa.outcome_label(spec)}, post-treatment"
    others = [apa.term_label(spec, n) for i, n in enumerate(model.data.names) if i not in (0, j)]
    with _rc():
        fig = _figure(5.5, 4.2)
        ax = fig.add_subplot()
        ax.axhline(0, color="#CCCCCC", linewidth=0.8, zorder=0)
        ax.axvline(0, color="#CCCCCC", linewidth=0.8, zorder=0)
        ax.scatter(ex, ey, s=28, color=BLUE, edgecolor="white", linewidth=0.5, zorder=3)
        span = np.array([ex.min(), ex.max()]) if len(ex) else np.zeros(2)
        ax.plot(
            span, b * span, color=VERMILLION, linewidth=1.8, label=f"slope $b$ = {apa.fmt_num(b)}"
        )
        if show_ids:
            _label_points(ax, ex, ey, model)
        ax.set_xlabel(f"{predictor} (residual, points)")
        ax.set_ylabel(f"{outcome} (residual, points)")
        title = f"Added-variable plot: {_model_title(model)}"
        ax.set_title(title, fontsize=9)
        ax.legend(loc="best")
    return ReportFigure(
        name=f"added_variable_{_file_stem(spec.key)}",
        title=title,
        description=(
            f"Scatter plot of {model.fit.n} participants: {outcome} against {predictor}, both "
            f"as residuals after adjusting for {apa.series(others) or 'the intercept'}. The "
            f"fitted line's slope is the alliance coefficient, b = {apa.fmt_num(b)} "
            f"({apa.fmt_level(1 - model.fit.alpha)} CI "
            f"{apa.fmt_ci(model.fit.ci_low[j], model.fit.ci_high[j])})."
        ),
        caption=(
            f"Added-variable plot for {_model_title(model)}: residuals of both variables given "
            f"{apa.series(others) or 'the intercept'}; the line's slope equals b."
        ),
        figure=fig,
    )


def forest_figure(models: Sequence[ModelResult]) -> ReportFigure:
    """Standardised alliance effects (β with CI) of every model, marked by correction."""
    rows = [(m, *standardised_effect(m)) for m in models]
    outcomes = list(dict.fromkeys(apa.outcome_label(m.spec) for m in models))
    colours = dict(zip(outcomes, (BLUE, VERMILLION, GREEN, PURPLE, ORANGE, SKY), strict=False))
    level = 1 - models[0].fit.alpha if models else 0.95
    with _rc():
        fig = _figure(6.0, 1.4 + 0.42 * max(1, len(rows)))
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
        ax.set_yticks(
            y,
            [
                f"{apa.outcome_label(m.spec)}: {apa.predictor_label(m.spec)}, "
                f"{apa.timepoint_label(m.spec.timepoint)}"
                for m, *_ in rows
            ],
        )
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
        f"{apa.outcome_label(m.spec)} with {apa.predictor_label(m.spec)} at "
        f"{apa.timepoint_label(m.spec.timepoint)}: β = {apa.fmt_unit(beta)} "
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
    with _rc():
        fig = _figure(7.0, 3.4)
        left, right = fig.subplots(1, 2)
        left.axhline(0, color="#555555", linewidth=0.8, linestyle="--")
        left.scatter(fitted, residuals, s=24, color=BLUE, edgecolor="white", linewidth=0.5)
        left.set_xlabel("Fitted " + axis_label(outcome, spec.outcome.score, ranges or {}))
        left.set_ylabel("Residual (points)")
        left.set_title("Residuals vs fitted", fontsize=9)
        lim = float(np.nanmax(np.abs(np.concatenate([theoretical, standard])))) + 0.3
        right.plot([-lim, lim], [-lim, lim], color="#555555", linewidth=0.8, linestyle="--")
        right.scatter(
            theoretical, standard[order], s=24, color=BLUE, edgecolor="white", linewidth=0.5
        )
        right.set_xlabel("Theoretical normal quantile (SD units)")
        right.set_ylabel("Standardised residual (SD units)")
        right.set_title("Normal Q\u2013Q", fontsize=9)
        if show_ids:
            _label_points(left, fitted, residuals, model)
            placed = np.empty_like(theoretical)
            placed[order] = theoretical
            _label_points(right, placed, standard, model)
        title = f"Residual diagnostics: {_model_title(model)}"
        fig.suptitle(title, fontsize=10)
    checks = model.extras.get("diagnostics", {})
    shapiro = checks.get("shapiro")
    extra = (
        f" Shapiro–Wilk W = {apa.fmt_num(shapiro['W'], 3)}, p {apa.p_equals(shapiro['p'])}."
        if shapiro
        else ""
    )
    return ReportFigure(
        name=f"residuals_{_file_stem(spec.key)}",
        title=title,
        description=(
            f"Two scatter plots for {fit.n} participants: residuals against fitted values of "
            f"{outcome}, and standardised residuals against normal quantiles with the identity "
            f"line.{extra}"
        ),
        caption=(
            f"Residual diagnostics for {_model_title(model)}: residuals against fitted values "
            "(left) and normal Q–Q plot of standardised residuals (right)."
        ),
        figure=fig,
    )
