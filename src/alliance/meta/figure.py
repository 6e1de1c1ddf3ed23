"""The forest plot of a meta-analysis, in the report's style (:mod:`alliance.report.canvas`).

Rows from the top: each study (square sized by its weight, 95 % CI), the pooled estimate
(diamond spanning its CI) with its 95 % prediction interval (a line through the diamond), then,
set apart under a rule, the published effects of the literature table (open circles, their
published interval where one was verified; not pooled unless the user asked). On the right:
r [CI] and the weight. The x axis is r, oriented so that positive means higher alliance with
better outcome.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alliance.meta.analysis import MetaAnalysis
from alliance.meta.literature import Benchmark
from alliance.meta.pooling import METHOD_NAMES, TEST_NAMES
from alliance.report import apa
from alliance.report.canvas import (
    BLUE,
    GREY,
    LEFT,
    RC,
    VERMILLION,
    ReportFigure,
    new_figure,
    report_style,
    text_width,
)
from alliance.safe_text import plot_text

ROW = 0.32  # inches per row
# Beyond this many studies one row per study is unreadable (and 10,000 rows exceed what a
# canvas can hold): the studies are drawn as a rug of their r on one row instead, and listed
# in meta.html and meta.json.
MAX_STUDY_ROWS = 60
MAX_LABEL = 56  # characters of a study name drawn; the tables name it in full


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "\u2026"


def forest_plot(result: MetaAnalysis) -> ReportFigure:
    pooled = result.pooled
    level = pooled.level
    r_ci_low, r_ci_high, r_pi_low, r_pi_high = pooled.r_interval
    rows: list[tuple[str, float, float, float, str, str]] = []
    many = len(result.effects) > MAX_STUDY_ROWS
    for effect, weight in zip(result.effects, pooled.weights, strict=True):
        if many:
            break
        low, high = effect.interval(level)
        rows.append((_short(effect.name), effect.r, low, high, f"{weight:.1f}%", "study"))
    rug_label = f"{len(result.effects):,} studies (each r; listed in meta.html)"
    pooled_label = f"Pooled ({pooled.method.upper()}, {TEST_NAMES[pooled.test]})"
    literature = [
        b
        for b in result.literature
        if b.key not in {e.benchmark.key for e in result.effects if e.benchmark is not None}
    ]
    n_rows = len(rows) + int(many) + 2 + (len(literature) + 1 if literature else 0)
    labels = [plot_text(r[0]) for r in rows] + [pooled_label, "Prediction interval", rug_label]
    labels += [plot_text(_short(b.label)) for b in literature]
    with report_style():
        widest = max(text_width(label, RC["font.size"]) for label in labels)
        right = 1.9  # r [CI] and weight columns
        width = max(6.5, widest + 0.35 + 3.2 + right)
        fig = new_figure(width, 1.2 + ROW * n_rows, left=max(LEFT, widest + 0.3), top=0.55)
        fig.subplots_adjust(right=1 - right / width)
        ax = fig.add_subplot()
        y = float(n_rows)
        ticks: list[float] = []
        tick_labels: list[str] = []
        largest = float(pooled.weights.max())
        for (name, r, low, high, weight, _), w in zip(
            rows, pooled.weights[: len(rows)], strict=True
        ):
            y -= 1
            ax.plot([low, high], [y, y], color="#333333", linewidth=1.0)
            size = 4 + 8 * np.sqrt(w / largest)
            ax.plot([r], [y], marker="s", markersize=size, color=BLUE, linestyle="none")
            _right_text(ax, y, f"{apa.fmt_unit(r)} {apa.fmt_ci(low, high, unit=True)}", weight)
            ticks.append(y)
            tick_labels.append(plot_text(name))
        if many:
            y -= 1
            rs = [e.r for e in result.effects]
            ax.plot(
                rs,
                [y] * len(rs),
                marker="|",
                markersize=9,
                color=BLUE,
                alpha=0.25,
                linestyle="none",
            )
            ticks.append(y)
            tick_labels.append(rug_label)
        y -= 1
        diamond_x = [r_ci_low, pooled.r, r_ci_high, pooled.r, r_ci_low]
        diamond_y = [y, y + 0.3, y, y - 0.3, y]
        ax.fill(diamond_x, diamond_y, color=VERMILLION, zorder=3)
        _right_text(
            ax, y, f"{apa.fmt_unit(pooled.r)} {apa.fmt_ci(r_ci_low, r_ci_high, unit=True)}", "100%"
        )
        ticks.append(y)
        tick_labels.append(pooled_label)
        y -= 1
        ax.plot([r_pi_low, r_pi_high], [y, y], color=VERMILLION, linewidth=1.2, linestyle="--")
        ax.plot(
            [r_pi_low, r_pi_high],
            [y, y],
            marker="|",
            markersize=8,
            color=VERMILLION,
            linestyle="none",
        )
        _right_text(ax, y, apa.fmt_ci(r_pi_low, r_pi_high, unit=True), "")
        ticks.append(y)
        tick_labels.append("95% prediction interval")
        if literature:
            y -= 1
            ax.axhline(y, color=GREY, linewidth=0.6)
            ax.text(
                0.0,
                y,
                " Published effects (not pooled)",
                transform=ax.get_yaxis_transform(),
                va="center",
                ha="left",
                fontsize=7.5,
                color="#555555",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
            )
            for b in literature:
                y -= 1
                draw_published_effect(ax, b, y)
                if b.ci_low is not None and b.ci_high is not None:
                    shown = f"{apa.fmt_unit(b.r)} {apa.fmt_ci(b.ci_low, b.ci_high, unit=True)}"
                else:
                    shown = f"{apa.fmt_unit(b.r)} (no CI)"
                _right_text(ax, y, shown, "")
                ticks.append(y)
                tick_labels.append(plot_text(_short(b.label)))
        ax.axvline(0, color="#555555", linewidth=0.8, linestyle=":")
        ax.axvline(pooled.r, color=VERMILLION, linewidth=0.6, linestyle="--", alpha=0.6)
        ax.set_yticks(ticks, tick_labels)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        ax.set_ylim(y - 0.7, n_rows - 0.3)
        ax.set_xlim(*_limits(result))
        ax.set_xlabel(
            f"r with {apa.fmt_level(level)} CI (positive: higher alliance, better outcome)"
        )
        header = ax.get_yaxis_transform()
        ax.text(
            1.02,
            n_rows - 0.3,
            "r [95% CI]",
            transform=header,
            ha="left",
            va="bottom",
            fontsize=7.5,
            color="#555555",
        )
        ax.annotate(
            "weight",
            xy=(1.0, n_rows - 0.3),
            xycoords=header,
            xytext=(118, 0),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=7.5,
            color="#555555",
        )
        title = "Alliance–outcome correlation: forest plot"
        fig.suptitle(title, fontsize=10)
    return ReportFigure(
        name="forest_meta",
        title=title,
        description=_describe(result, literature),
        caption=_caption(result, bool(literature)),
        figure=fig,
    )


def draw_published_effect(ax: Any, effect: Benchmark, y: float) -> None:
    """A published effect at height ``y``: a grey hollow circle, with its interval when the
    source gives one; drawn alike in the meta-analysis forest plot and the analyze report."""
    if effect.ci_low is not None and effect.ci_high is not None:
        ax.plot([effect.ci_low, effect.ci_high], [y, y], color="#555555", linewidth=1.0)
    ax.plot(
        [effect.r],
        [y],
        marker="o",
        markersize=6,
        color="#555555",
        markerfacecolor="white",
        markeredgewidth=1.4,
        linestyle="none",
    )


def _right_text(ax: object, y: float, interval: str, weight: str) -> None:
    transform = ax.get_yaxis_transform()  # type: ignore[attr-defined]
    ax.text(1.02, y, interval, transform=transform, ha="left", va="center", fontsize=7.5)  # type: ignore[attr-defined]
    if weight:
        ax.annotate(  # type: ignore[attr-defined]
            weight,
            xy=(1.0, y),
            xycoords=transform,
            xytext=(118, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize=7.5,
        )


def _limits(result: MetaAnalysis) -> tuple[float, float]:
    values = [result.pooled.r_interval[2], result.pooled.r_interval[3], 0.0]
    for effect in result.effects:
        values += list(effect.interval(result.pooled.level))
    for b in result.literature:
        values += [v for v in (b.r, b.ci_low, b.ci_high) if v is not None]
    low, high = min(values), max(values)
    pad = 0.05 * max(high - low, 0.2)
    return max(-1.0, low - pad), min(1.0, high + pad)


def _describe(result: MetaAnalysis, literature: list[Benchmark]) -> str:
    pooled = result.pooled
    ci_low, ci_high, pi_low, pi_high = pooled.r_interval
    studies = "; ".join(
        f"{e.name}: r = {apa.fmt_unit(e.r)}, weight {w:.1f}%"
        for e, w in zip(result.effects[:MAX_STUDY_ROWS], pooled.weights, strict=False)
    ) + ("; …" if len(result.effects) > MAX_STUDY_ROWS else "")
    text = (
        f"Forest plot of {pooled.k} studies: {studies}. Pooled r = {apa.fmt_unit(pooled.r)}, "
        f"95% CI {apa.fmt_ci(ci_low, ci_high, unit=True)}, 95% prediction interval "
        f"{apa.fmt_ci(pi_low, pi_high, unit=True)}."
    )
    if literature:
        text += (
            " Published effects drawn apart, not pooled: "
            + "; ".join(f"{b.label}: r = {apa.fmt_unit(b.r)}" for b in literature)
            + "."
        )
    return text


def _caption(result: MetaAnalysis, literature: bool) -> str:
    pooled = result.pooled
    text = (
        f"Each study's correlation of alliance with outcome (squares sized by weight) with its "
        f"95% confidence interval on Fisher's z; the diamond is the random-effects pooled r "
        f"(τ² by {METHOD_NAMES[pooled.method]}, {TEST_NAMES[pooled.test]} interval) and the "
        "dashed line its 95% prediction interval, where a new study's effect is expected to "
        "fall. Positive r: higher alliance with better outcome."
    )
    if result.any_flipped:
        text += (
            " Correlations with symptom severity (higher is worse) are shown with their sign "
            "flipped."
        )
    if literature:
        text += (
            " Below the rule: published alliance–outcome effects for comparison (open circles; "
            "an interval only where the source gives one), not pooled with the studies."
        )
    return text
