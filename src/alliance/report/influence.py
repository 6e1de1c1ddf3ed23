"""The report's influence section: does one participant carry a result?

For each model, a two-panel figure: on the left the DFBETA of the alliance term per participant
(how much b moves when that participant is left out), with the dashed line at b itself, where
leaving the participant out would erase the effect; on the right the term's p-value without that
participant on a log scale, against α. Point size grows with Cook's distance, and participants
whose removal (from every model, corrected again with the plan's method) changes this model's
conclusion are drawn as vermillion diamonds. A table summarises the same per model.

Participants are numbered in model order; identifiers appear only with ``--show-ids``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alliance.models.fit import ModelResult
from alliance.report import apa
from alliance.report.apa import ApaTable, N, Section, italic, join, plain
from alliance.report.canvas import (
    BLUE,
    GREY,
    SUPTITLE,
    TOP,
    VERMILLION,
    ReportFigure,
    file_stem,
    model_title,
    new_figure,
    report_style,
)
from alliance.report.summaries import TOP_INFLUENCE, bin_ranges, standout, summarised
from alliance.safe_text import plot_text


def influence_rows(model: ModelResult) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """DFBETA, Cook's distance, p without the participant and conclusion flips, model order."""
    rows = model.extras.get("influence", [])
    return (
        np.array([r["dfbeta"] for r in rows], dtype="float64"),
        np.array([r["cooks_distance"] for r in rows], dtype="float64"),
        np.array([r["p_without"] for r in rows], dtype="float64"),
        np.array([bool(r["changes_conclusion"]) for r in rows]),
    )


def _sizes(cooks: np.ndarray) -> np.ndarray:
    """Marker areas from 16 to 120 pt² by Cook's distance relative to the largest."""
    top = float(np.nanmax(cooks)) if len(cooks) and np.nanmax(cooks) > 0 else 1.0
    return 16.0 + 104.0 * np.nan_to_num(cooks) / top


# The smallest p the influence figure places on its log axis: a smaller p, or one that
# underflowed to 0 at a large n, is drawn here and labelled as below it.
P_FLOOR = 1e-308

# Labelled p values on the log axis: a 1-2-5 sequence, thinned to 1-5 and then to powers of
# ten when the range is wide, so every panel has between two and seven readable labels.
P_STEPS = ((1, 2, 5), (1, 5), (1,))
MAX_P_TICKS = 7


def p_axis_ticks(values: np.ndarray) -> tuple[list[float], tuple[float, float]]:
    """Major ticks and limits for a log-scale axis of p values.

    The limits pad the finite positive values by a fifth of a decade and are widened to the
    nearest tick outside them when fewer than two ticks would fall inside, so every panel,
    whatever its range, shows at least two labels and none above 1.
    """
    finite = np.asarray(values, dtype="float64")
    finite = finite[np.isfinite(finite) & (finite > 0)]
    lo = float(finite.min()) if finite.size else 0.01
    hi = float(min(finite.max(), 1.0)) if finite.size else 1.0
    lo, hi = lo / 10**0.2, min(hi * 10**0.2, 1.0)
    for steps in P_STEPS:
        top = 0
        bottom = int(np.floor(np.log10(lo))) - 1
        candidates = [m * 10.0**e for e in range(bottom, top + 1) for m in steps]
        candidates = sorted(c for c in candidates if c <= 1.0)
        ticks = [c for c in candidates if lo <= c <= hi]
        if len(ticks) <= MAX_P_TICKS:
            break
    else:  # many decades: every k-th power of ten, counted down from the largest
        step = -(-len(ticks) // MAX_P_TICKS)
        ticks = ticks[::-1][::step][::-1]
    if len(ticks) < 2:
        below = [c for c in candidates if c < lo]
        above = [c for c in candidates if c > hi]
        if below and (not ticks or not above):
            lo = below[-1]
            ticks.insert(0, lo)
        if len(ticks) < 2 and above:
            hi = above[0]
            ticks.append(hi)
    return ticks, (min(lo, ticks[0]) / 10**0.05, max(hi, ticks[-1]) * 10**0.05)


def p_tick_label(value: float) -> str:
    """A p tick as a plain decimal (``0.05``, ``0.001``, ``1``), or as a power of ten below
    0.0001 (``10⁻⁸``): short labels that never overlap."""
    if value >= 1e-4:
        return np.format_float_positional(value, precision=6, trim="-")
    mantissa, exponent = f"{value:.0e}".split("e")
    power = "10" + str(int(exponent)).translate(SUPERSCRIPTS)
    return power if mantissa == "1" else f"{mantissa}\u00d7{power}"


SUPERSCRIPTS = str.maketrans(
    "-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
)


def influence_figure(model: ModelResult, alpha: float, show_ids: bool = False) -> ReportFigure:
    """DFBETA and leave-one-out p of the alliance term for every participant of one model."""
    dfbeta, cooks, p_without, flips = influence_rows(model)
    j = model.data.term
    b = float(model.fit.estimate[j])
    case = np.arange(1, len(dfbeta) + 1)
    sizes = _sizes(cooks)
    title = f"Influence: {model_title(model)}"
    # here: --no-figures never loads matplotlib
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter

    binned = summarised(len(case))
    # A p too small for a double is 0, which a log axis cannot place: such values are drawn at
    # the axis floor, labelled as below it, instead of vanishing.
    p_drawn = np.where(np.isnan(p_without), np.nan, np.maximum(p_without, P_FLOOR))
    below_floor = bool(np.any(p_without < P_FLOOR))
    p_full = max(float(model.fit.p[j]), P_FLOOR)
    bins = 0
    with report_style():
        fig = new_figure(7.5, 3.4, columns=2, top=TOP + SUPTITLE)
        left, right = fig.subplots(1, 2)
        for ax, values in ((left, dfbeta), (right, p_drawn)):
            if binned:
                centre, low, high = bin_ranges(values)
                bins = len(centre)
                ax.vlines(centre, low, high, color=BLUE, linewidth=1.2, alpha=0.55, zorder=2,
                          label=f"range of each bin of about {len(case) // bins} participants")  # fmt: skip
                shown = standout(cooks, flips)
                shown = shown[~flips[shown]]
                ax.scatter(case[shown], values[shown], s=sizes[shown], color=BLUE,
                           edgecolor="white", linewidth=0.5, zorder=3,
                           label="largest Cook's distances")  # fmt: skip
            else:
                ax.scatter(case[~flips], values[~flips], s=sizes[~flips], color=BLUE,
                           edgecolor="white", linewidth=0.5, zorder=3,
                           label="conclusion holds")  # fmt: skip
            if flips.any():
                ax.scatter(case[flips], values[flips], s=sizes[flips], color=VERMILLION,
                           marker="D", edgecolor="black", linewidth=0.5, zorder=4,
                           label="removal changes the corrected conclusion")  # fmt: skip
            ax.set_xlabel("Participant (model order)")
            ax.set_xlim(0, len(case) + 1)
        left.axhline(0, color=GREY, linewidth=0.8, zorder=0)
        left.axhline(b, color=VERMILLION, linewidth=1.0, linestyle="--", zorder=1,
                     label=f"b = {apa.fmt_num(b)}")  # fmt: skip
        left.set_ylabel("DFBETA of b (points per alliance point)")
        left.set_title("Change in b without the participant", fontsize=9)
        right.set_yscale("log")
        right.axhline(alpha, color=GREY, linewidth=1.0, linestyle="--",
                      label=f"\u03b1 = {apa.fmt_unit(alpha, 2)}")  # fmt: skip
        right.axhline(p_full, color=BLUE, linewidth=0.8, linestyle=":",
                      label="p with everyone")  # fmt: skip
        right.set_ylabel("p without the participant (log scale)")
        ticks, limits = p_axis_ticks(np.concatenate([p_drawn, [alpha, p_full]]))
        labels = [p_tick_label(t) for t in ticks]
        if below_floor or p_full <= P_FLOOR:
            # The floor gets its own label; regular labels too close to it make room.
            span = np.log10(limits[1] / P_FLOOR)
            kept = [k for k, t in enumerate(ticks) if np.log10(t / P_FLOOR) > span / 12]
            ticks = [P_FLOOR, *(ticks[k] for k in kept)]
            labels = [f"<{p_tick_label(P_FLOOR)}", *(labels[k] for k in kept)]
            limits = (P_FLOOR / 10 ** (0.03 * span), limits[1])
        right.set_ylim(*limits)
        right.yaxis.set_major_locator(FixedLocator(ticks))
        right.yaxis.set_major_formatter(FixedFormatter(labels))
        right.yaxis.set_minor_formatter(NullFormatter())  # unlabelled: labels never collide
        right.set_title("Unadjusted p without the participant", fontsize=9)
        if show_ids and not binned:
            ids = model.data.participant_ids
            for i in np.flatnonzero(flips | (cooks > 4.0 / max(len(cooks), 1))):
                left.annotate(plot_text(ids[i]), (case[i], dfbeta[i]), xytext=(3, 3),
                              textcoords="offset points", fontsize=6.5, color=VERMILLION)  # fmt: skip
        left.legend(loc="best", fontsize=7)
        right.legend(loc="best", fontsize=7)
        fig.suptitle(plot_text(title), fontsize=10)
    n_flips = int(flips.sum())
    description = (
        f"Two panels for {len(case)} participants of the model {model_title(model)}. Left: "
        f"change in the alliance coefficient when each participant is left out (DFBETA), from "
        f"{apa.fmt_num(np.min(dfbeta)) if len(dfbeta) else '—'} to "
        f"{apa.fmt_num(np.max(dfbeta)) if len(dfbeta) else '—'}, against b = {apa.fmt_num(b)}. "
        f"Right: the coefficient's p-value without each participant, against \u03b1 = "
        f"{alpha:g}. Marker size shows Cook's distance (largest "
        f"{apa.fmt_num(np.max(cooks)) if len(cooks) else '—'}). Leaving out "
        f"{apa.count_word(n_flips)} participant{'s' if n_flips != 1 else ''} would change "
        "the conclusion after correction for multiple comparisons."
        + (
            f" p-values below {P_FLOOR:g} (too small for a double) are drawn at the axis floor."
            if below_floor
            else ""
        )
        + (
            f" The {len(case):,} participants are drawn as the range of their values in "
            f"{bins} bins of consecutive participants, with the {TOP_INFLUENCE} largest Cook's "
            "distances and every participant whose removal changes the conclusion drawn "
            "individually."
            if binned
            else ""
        )
    )
    return ReportFigure(
        name=f"influence_{file_stem(model.spec.key)}",
        title=title,
        description=description,
        caption=(
            f"Influence of single participants on {model_title(model)}: DFBETA of the alliance "
            "term (left; dashed line at b) and its p without each participant (right; dashed "
            "line at \u03b1). Marker size: Cook's distance; diamonds: participants whose "
            "removal changes the corrected conclusion."
            + (
                f" Vertical lines: the range within bins of about {len(case) // max(bins, 1)} "
                f"consecutive participants; points: the {TOP_INFLUENCE} largest Cook's distances."
                if binned
                else ""
            )
            + (" p-values below 10⁻³⁰⁸ are drawn at the axis floor." if below_floor else "")
        ),
        figure=fig,
        summary=(
            f"{title}: value ranges in {bins} bins of {len(case):,} participants" if binned else ""
        ),
    )


def influence_table(models: Sequence[ModelResult]) -> ApaTable | None:
    """Per model: n, largest |DFBETA| and Cook's distance, range of p, conclusion flips."""
    if not models or not all(m.extras.get("influence") for m in models):
        return None
    rows = []
    for m in models:
        dfbeta, cooks, p_without, flips = influence_rows(m)
        b = float(m.fit.estimate[m.data.term])
        largest = float(np.max(np.abs(dfbeta)))
        share = f" ({100 * largest / abs(b):.0f}% of |b|)" if b != 0 else ""
        rows.append(
            (
                model_title(m),
                str(m.fit.n),
                apa.fmt_num(largest, 3) + share,
                apa.fmt_num(float(np.max(cooks))),
                f"{apa.fmt_p(float(np.min(p_without)))} to {apa.fmt_p(float(np.max(p_without)))}",
                str(int(flips.sum())),
            )
        )
    return ApaTable(
        key="influence",
        title="Influence of Single Participants on the Alliance Coefficients",
        columns=(
            plain("Model"),
            N,
            join("Largest |DFBETA|"),
            join("Largest Cook's ", italic("D")),
            join(italic("p"), " without one participant"),
            plain("Removals changing the conclusion"),
        ),
        sections=(Section((), tuple(rows)),),
        note=join(
            "Each participant was left out in turn. DFBETA is the change in the unstandardised "
            "alliance coefficient b; ",
            italic("p"),
            " values are unadjusted. A removal changes the conclusion when, with that "
            "participant left out of every model and the plan's multiplicity correction applied "
            "again, a model's alliance test moves across α in either direction.",
        ),
    )
