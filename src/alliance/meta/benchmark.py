"""The trial beside the literature: a forest plot for ``report.html`` of ``alliance analyze``.

Each model's alliance effect as a partial r, oriented as in ``alliance meta`` (positive =
higher alliance with better outcome, so a partial r with post-treatment severity is flipped),
with its 95 % CI from Fisher's z with variance 1/(n − 3 − covariates); below a rule, the
published effects of the bundled literature table (:mod:`alliance.meta.literature`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats

from alliance.meta.figure import draw_published_effect
from alliance.meta.literature import load_literature
from alliance.meta.studies import WORSE, score_directions
from alliance.models.fit import ModelResult
from alliance.report import apa
from alliance.report.canvas import (
    BLUE,
    GREY,
    LEFT,
    RC,
    ReportFigure,
    new_figure,
    report_style,
    text_width,
)
from alliance.safe_text import plot_text


def oriented_partial_r(
    model: ModelResult, directions: dict[str, str]
) -> tuple[float, float, float, bool] | None:
    """(r, CI low, CI high, flipped) of a model's alliance term, or None when it cannot be
    placed (no partial r, too few cases, or an outcome of unknown direction)."""
    spec = model.spec
    r = model.term_stats.get("partial_r")
    covariates = len(model.fit.names) - 2  # every term but the intercept and alliance's
    n = model.fit.n
    if r is None or not math.isfinite(r) or not -1 < r < 1 or n <= 3 + covariates:
        return None
    if spec.outcome.score not in directions or spec.predictor.score not in directions:
        return None
    flip = (directions[spec.outcome.score] == WORSE) != (directions[spec.predictor.score] == WORSE)
    z = math.atanh(-r if flip else r)
    half = float(stats.norm.isf(0.025)) / math.sqrt(n - 3 - covariates)
    return math.tanh(z), math.tanh(z - half), math.tanh(z + half), flip


def benchmark_figure(models: Sequence[ModelResult]) -> ReportFigure | None:
    """The models' partial r beside the published alliance–outcome effects (None if no model
    can be placed)."""
    directions = score_directions()
    rows = []
    for model in models:
        placed = oriented_partial_r(model, directions)
        if placed is not None:
            label = (
                f"{apa.outcome_label(model.spec)}: {apa.predictor_label(model.spec)}, "
                f"{apa.timepoint_short(model.spec.timepoint)}"
            )
            rows.append((plot_text(label), *placed))
    if not rows:
        return None
    version, literature = load_literature()
    labels = [r[0] for r in rows] + [plot_text(b.label) for b in literature]
    with report_style():
        widest = max(text_width(label, RC["font.size"]) for label in labels)
        n_rows = len(rows) + 1 + len(literature)
        fig = new_figure(
            max(6.5, widest + 5.0), 1.3 + 0.32 * n_rows, left=max(LEFT, widest + 0.25), top=0.5
        )
        ax = fig.add_subplot()
        y = float(n_rows)
        ticks, tick_labels = [], []
        for label, r, low, high, _ in rows:
            y -= 1
            ax.plot([low, high], [y, y], color=BLUE, linewidth=1.6)
            ax.plot([r], [y], marker="s", markersize=7, color=BLUE, linestyle="none")
            ticks.append(y)
            tick_labels.append(label)
        y -= 1
        ax.axhline(y, color=GREY, linewidth=0.6)
        for b in literature:
            y -= 1
            draw_published_effect(ax, b, y)
            ticks.append(y)
            tick_labels.append(plot_text(b.label))
        ax.axvline(0, color="#555555", linewidth=0.8, linestyle=":")
        ax.set_yticks(ticks, tick_labels)
        ax.tick_params(axis="y", length=0)
        ax.set_ylim(y - 0.7, n_rows - 0.3)
        ax.set_xlim(-1, 1)
        ax.set_xlabel("partial r with 95% CI (positive: higher alliance, better outcome)")
        title = "Alliance effects beside the published alliance–outcome effects"
        fig.suptitle(title, fontsize=10)
    flipped = any(row[4] for row in rows)
    description = (
        "; ".join(
            f"{label}: r = {apa.fmt_unit(r)} {apa.fmt_ci(low, high, unit=True)}"
            for label, r, low, high, _ in rows
        )
        + ". Published: "
        + "; ".join(f"{b.label}: r = {apa.fmt_unit(b.r)}" for b in literature)
    )
    return ReportFigure(
        name="forest_literature",
        title=title,
        description=f"Forest plot of each model's partial correlation of alliance with outcome "
        f"beside published effects. {description}.",
        caption=(
            "Each model's partial correlation of alliance with outcome (squares, 95% CI from "
            "Fisher's z with variance 1/(n − 3 − covariates)), oriented so that a positive r "
            "means higher alliance with a better outcome"
            + (
                ": the partial r with post-treatment symptom severity is shown with its sign "
                "flipped"
                if flipped
                else ""
            )
            + ". Below the rule, published alliance–outcome effects (open circles; an interval "
            f"only where the source gives one; literature table version {version}, see "
            "alliance meta --literature for citations)."
        ),
        figure=fig,
    )
