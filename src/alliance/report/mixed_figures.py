"""Figures of the mixed models: session trajectories of alliance and symptoms (spaghetti plots)
for each ``[[longitudinal]]`` model, and its within- and between-person alliance slopes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from alliance.instruments.labels import score_label
from alliance.models.longitudinal import LongitudinalResult
from alliance.report import apa
from alliance.report.canvas import (
    BLUE,
    LEFT,
    RC,
    VERMILLION,
    ReportFigure,
    file_stem,
    new_figure,
    report_style,
    text_width,
)
from alliance.report.figures import trajectory_figure
from alliance.safe_text import plot_text

if TYPE_CHECKING:
    from alliance.pipeline import Analysis


def slopes_figure(results: list[LongitudinalResult]) -> ReportFigure:
    """b with 95 % CI of the within- and between-person alliance slopes of every model."""
    from matplotlib.ticker import MaxNLocator  # matplotlib loads only when figures are drawn

    rows = []
    for r in results:
        terms = r.fit.terms().set_index("name")
        for kind, colour in (("within", BLUE), ("between", VERMILLION)):
            t = terms.loc[f"{r.spec.predictor}_{kind}"]
            rows.append((r.spec.name, kind, colour, t["estimate"], t["ci_low"], t["ci_high"]))
    labels = [plot_text(f"{name}: {kind}") for name, kind, *_ in rows]
    with report_style():
        widest = max((text_width(label, RC["font.size"]) for label in labels), default=0.0)
        fig = new_figure(6.0, 1.4 + 0.42 * len(rows), left=max(LEFT, widest + 0.25), top=0.5)
        ax = fig.add_subplot()
        y = np.arange(len(rows))[::-1].astype(np.float64)
        for yi, (_, _, colour, b, low, high) in zip(y, rows, strict=True):
            ax.plot([low, high], [yi, yi], color=colour, linewidth=1.8)
            ax.plot([b], [yi], marker="o", markersize=7, color=colour)
        ax.axvline(0, color="#555555", linewidth=0.8, linestyle="--")
        ax.set_yticks(y, labels)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))  # long decimals must not collide
        ax.set_xlabel("b (outcome points per alliance point) with 95% CI")
        title = "Within- and between-person alliance slopes"
        fig.suptitle(title, fontsize=10)
    description = "; ".join(
        f"{name}, {kind}: b = {apa.fmt_num(b)} {apa.fmt_ci(low, high)}"
        for name, kind, _, b, low, high in rows
    )
    return ReportFigure(
        name="mixed_within_between_slopes",
        title=title,
        description=f"Alliance slopes of the lagged mixed models with 95% CIs. {description}.",
        caption=(
            "Within-person slope (blue): the outcome at the next session per point of alliance "
            "above the participant's own mean; between-person slope (red): per point of a "
            "participant's mean alliance above the sample's. 95% CIs on "
            + " or ".join(dict.fromkeys(r.fit.df_method_label for r in results))
            + " df."
        ),
        figure=fig,
    )


def mixed_figures(
    analysis: Analysis, ranges: Mapping[str, tuple[float, float]], show_ids: bool
) -> list[ReportFigure]:
    """Trajectories of each longitudinal model's alliance and outcome, then the slopes."""
    mixed = analysis.mixed
    if mixed is None or not mixed.longitudinal:
        return []
    figures = []
    drawn: set[tuple[str, tuple[str, ...]]] = set()
    for r in mixed.longitudinal:
        for score in (r.spec.predictor, r.spec.outcome):
            if (score, r.spec.timepoints) in drawn:
                continue
            drawn.add((score, r.spec.timepoints))
            figure = trajectory_figure(
                analysis.episodes.frame,
                score,
                r.spec.timepoints,
                score_label(score),
                ranges,
                show_ids,
            )
            stem = file_stem(f"sessions_{score}_{r.spec.timepoints[0]}_{r.spec.timepoints[-1]}")
            figures.append(replace(figure, name=stem))
    figures.append(slopes_figure(mixed.longitudinal))
    return figures
