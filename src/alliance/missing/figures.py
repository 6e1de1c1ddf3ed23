"""The report's missing-data figures: observed against imputed values, the chains' convergence
traces, and the tipping-point curves of the δ-adjusted sensitivity analysis."""

from __future__ import annotations

import numpy as np

from alliance.missing.analysis import MultipleImputation
from alliance.missing.report import variable_label
from alliance.missing.tipping import SHIFTS
from alliance.report import apa
from alliance.report.canvas import (
    BLUE,
    GREEN,
    GREY,
    VERMILLION,
    ReportFigure,
    new_figure,
    report_style,
)
from alliance.safe_text import plot_text

PREFIX = "missing_"  # the report's supplement group of these figures


def _incomplete(result: MultipleImputation) -> list[int]:
    assert result.imputed is not None
    return [j for j in range(len(result.imputed.columns)) if result.imputed.missing[:, j].any()]


def distributions_figure(result: MultipleImputation) -> ReportFigure:
    """Per incomplete variable: observed values (blue) beside each imputation's imputed ones."""
    imputed = result.imputed
    assert imputed is not None
    columns = _incomplete(result)
    rows = len(columns)
    m = imputed.imputations
    with report_style():
        fig = new_figure(6.4, 1.1 + 1.6 * rows)
        fig.subplots_adjust(hspace=0.35)
        axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
        jitter = np.random.default_rng(0)  # fixed: the same figure for the same data
        for ax, j in zip(axes, columns, strict=True):
            gap = imputed.missing[:, j]
            observed = imputed.observed[~gap, j]
            ax.scatter(jitter.uniform(-0.2, 0.2, len(observed)), observed, s=8, color=BLUE,
                       alpha=0.6, linewidths=0)  # fmt: skip
            for i in range(m):
                values = imputed.values[i, gap, j]
                ax.scatter(i + 1 + jitter.uniform(-0.2, 0.2, len(values)), values, s=10,
                           color=VERMILLION, alpha=0.8, linewidths=0)  # fmt: skip
            ax.set_xlim(-0.7, m + 0.7)
            ax.set_ylabel(plot_text(variable_label(imputed.columns[j])), fontsize=7)
            ax.set_xticks([0, *range(5, m + 1, 5)] if m >= 10 else list(range(m + 1)))
        axes[-1].set_xlabel("Imputation (0 = observed values)")
        title = "Observed (blue) and imputed (red) values"
        fig.suptitle(title, fontsize=10)
    records = []
    for j in columns:
        gap = imputed.missing[:, j]
        records.append(
            f"{variable_label(imputed.columns[j])}: observed mean "
            f"{apa.fmt_num(np.mean(imputed.observed[~gap, j]))}, imputed mean "
            f"{apa.fmt_num(np.mean(imputed.values[:, gap, j]))} ({int(gap.sum())} missing)"
        )
    return ReportFigure(
        name=f"{PREFIX}observed_imputed",
        title=title,
        description="Strip plot of each incomplete score: observed values, then the imputed "
        "values of each imputation. " + "; ".join(records) + ".",
        caption="Observed values (blue, imputation 0) and the values imputed for the missing "
        "scores in each completed dataset (red). Predictive mean matching draws imputed "
        "values from observed ones, so they stay within the observed range.",
        figure=fig,
    )


def convergence_figure(result: MultipleImputation) -> ReportFigure:
    """Mean and SD of the imputed values per iteration, one line per chain (as mice's plot)."""
    imputed = result.imputed
    assert imputed is not None
    columns = _incomplete(result)
    rows = len(columns)
    steps = np.arange(1, imputed.iterations + 1)
    with report_style():
        fig = new_figure(6.4, 1.3 + 1.6 * rows, columns=2, top=0.6)
        fig.subplots_adjust(hspace=0.75)
        axes = fig.subplots(rows, 2, squeeze=False)
        for r, j in enumerate(columns):
            for c, (what, trace) in enumerate(
                (("mean", imputed.chain_mean[j]), ("SD", imputed.chain_sd[j]))
            ):
                ax = axes[r, c]
                if np.isnan(trace).all():  # one value imputed: no SD to trace
                    ax.text(0.5, 0.5, "one value imputed: no SD", ha="center", va="center",
                            transform=ax.transAxes, fontsize=7, color=GREY)  # fmt: skip
                    ax.set_xticks([])
                    ax.set_yticks([])
                    continue
                ax.plot(steps, trace, linewidth=0.7, alpha=0.6)
                ax.set_title(plot_text(f"{variable_label(imputed.columns[j])}: {what}"),
                             fontsize=7)  # fmt: skip
                if r == rows - 1:
                    ax.set_xlabel("Iteration")
        title = "Convergence of the imputation chains"
        fig.suptitle(title, fontsize=10)
    return ReportFigure(
        name=f"{PREFIX}convergence",
        title=title,
        description=f"Mean and standard deviation of the imputed values of each incomplete "
        f"score at each of {imputed.iterations} iterations, one line per chain "
        f"({imputed.imputations} chains).",
        caption="Convergence traces: the mean (left) and SD (right) of each score's imputed "
        "values after each iteration, one line per imputation chain. Converged chains mix "
        "freely with no trend.",
        figure=fig,
    )


def tipping_figure(result: MultipleImputation, alpha: float) -> ReportFigure:
    """Corrected p of every model against δ, one panel per shift, α and tipping points marked."""
    grid = result.sensitivity["grid"]
    keys = [m.spec.key for m in result.models]
    labels = [
        f"{apa.outcome_label(m.spec)}, {apa.timepoint_short(m.spec.timepoint)}"
        for m in result.models
    ]
    colours = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
    with report_style():
        fig = new_figure(6.6, 1.6 + 1.9 * len(SHIFTS), top=1.1)
        fig.subplots_adjust(hspace=0.55)
        axes = fig.subplots(len(SHIFTS), 1, squeeze=False)[:, 0]
        for ax, shift in zip(axes, SHIFTS, strict=True):
            rows = [g for g in grid if g["shift"] == shift]
            deltas = [g["delta"] for g in rows]
            for k in range(len(keys)):
                p = [g["models"][k]["p_adjusted"] for g in rows]
                ax.plot(deltas, p, color=colours[k % len(colours)], linewidth=1.2,
                        label=plot_text(labels[k]))  # fmt: skip
            ax.axhline(alpha, color=GREY, linestyle="--", linewidth=0.8)
            ax.axvline(0, color=GREEN, linewidth=0.6)
            ax.set_ylim(0, 1.02)
            ax.set_ylabel("Corrected p")
            ax.set_title(
                {"alliance": "Imputed alliance shifted", "outcome": "Imputed outcome shifted",
                 "both": "Both shifted"}[shift], fontsize=8)  # fmt: skip
        axes[-1].set_xlabel("δ (SD of the observed values)")
        axes[0].legend(loc="lower left", bbox_to_anchor=(0, 1.15), ncols=3, fontsize=6)
        title = "Tipping points: corrected p as imputed values move away from MAR"
        fig.suptitle(title, fontsize=10)
    points = result.sensitivity["tipping_points"]
    said = "; ".join(
        f"{label}: {'no change on the grid' if p['tipping_delta'] is None else 'changes at δ = ' + apa.fmt_num(p['tipping_delta'], 1) + ' (' + p['tipping_shift'] + ')'}"
        for label, p in zip(labels, points, strict=True)
    )
    return ReportFigure(
        name=f"{PREFIX}tipping_points",
        title=title,
        description="Corrected p-value of each model's alliance term against δ, for imputed "
        f"alliance, outcome or both shifted by δ SD; dashed line α = {alpha}. {said}.",
        caption="δ-adjusted sensitivity analysis: the corrected p of each alliance term as the "
        "imputed values are shifted by δ standard deviations (δ = 0: missing at random). "
        f"Where a curve crosses the dashed line (α = {alpha}) the conclusion tips.",
        figure=fig,
    )


def missing_figures(result: MultipleImputation | None, alpha: float) -> list[ReportFigure]:
    if result is None or not result.performed:
        return []
    return [
        distributions_figure(result),
        convergence_figure(result),
        tipping_figure(result, alpha),
    ]
