"""The report's APA tables as data, shared by ``report.html`` and ``tables.docx``.

Each builder returns an :class:`~alliance.report.apa.ApaTable` (title, column heads, sections of
rows, note); :mod:`alliance.report.docx_tables` sets them in Word and
:mod:`alliance.report.html` in HTML, so both show the same numbers in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alliance.instruments.labels import score_label
from alliance.instruments.registry import load_instruments
from alliance.models.fit import ModelResult
from alliance.models.plan import AnalysisPlan
from alliance.report import apa
from alliance.report.apa import (
    BETA,
    DELTA_R2,
    F2,
    P_ADJ,
    SE,
    ApaTable,
    B,
    N,
    P,
    Runs,
    Section,
    T,
    ci_head,
    count_word,
    fmt_ci,
    fmt_num,
    fmt_p,
    fmt_unit,
    italic,
    join,
    plain,
    stat_head,
)
from alliance.report.influence import influence_table
from alliance.report.mixed_models import mixed_apa_tables
from alliance.report.tables import descriptives_table

if TYPE_CHECKING:
    from alliance.pipeline import Analysis


def _by_outcome(models: Sequence[ModelResult]) -> dict[str, list[ModelResult]]:
    groups: dict[str, list[ModelResult]] = {}
    for m in models:
        groups.setdefault(apa.outcome_label(m.spec), []).append(m)
    return groups


def _outcome_heading(group: Sequence[ModelResult]) -> str:
    """``"CAPS total at post-treatment"``: the outcome as its models measure it."""
    spec = group[0].spec
    return f"{apa.outcome_label(spec)} {apa.timepoint_phrase(spec.outcome.post)}"


def _predictor_cell(m: ModelResult, several_predictors: bool) -> str:
    when = apa.capitalise(apa.timepoint_label(m.spec.timepoint))
    return f"{apa.predictor_label(m.spec)}, {when.lower()}" if several_predictors else when


def _level(models: Sequence[ModelResult]) -> float:
    return 1.0 - models[0].fit.alpha if models else 0.95


def alliance_effects_table(models: Sequence[ModelResult], plan: AnalysisPlan) -> ApaTable:
    """The main table: the alliance coefficient of every model with its effect sizes."""
    several = len({m.spec.predictor.score for m in models}) > 1
    sections = []
    for group in _by_outcome(models).values():
        rows = []
        for m in group:
            j = m.data.term
            fit = m.fit
            rows.append(
                (
                    _predictor_cell(m, several),
                    str(fit.n),
                    fmt_num(fit.estimate[j]),
                    fmt_num(fit.std_error[j]),
                    fmt_ci(fit.ci_low[j], fit.ci_high[j]),
                    fmt_unit(fit.std_beta[j]),
                    fmt_num(fit.t[j]),
                    fmt_p(fit.p[j]),
                    fmt_p(m.p_adjusted),
                    fmt_unit(m.term_stats["delta_r_squared"]),
                    fmt_num(m.term_stats["f_squared"]),
                )
            )
        sections.append(Section(plain(_outcome_heading(group)), tuple(rows)))
    predictors = apa.series(list(dict.fromkeys(apa.predictor_label(m.spec) for m in models)))
    k = len(models[0].fit.names) if models else 3
    adjustment = apa.multiplicity_text(plan, len(models))
    note = join(
        "Each row is one ordinary least-squares model: the outcome at post-treatment regressed "
        f"on its baseline score and {predictors} at the timepoint shown"
        + (f" (covariates: {apa.series(list(plan.covariates))})" if plan.covariates else "")
        + ", fitted to complete cases. ",
        italic("b"),
        " = unstandardised coefficient of alliance; ",
        italic("β"),
        " = standardised coefficient; ",
        italic("t"),
        " has ",
        italic("n"),
        f" − {k} degrees of freedom; ",
        italic("p"),
        " = two-sided ",
        italic("p"),
        " value; ",
        P_ADJ,
        " = ",
        italic("p"),
        f" value {adjustment}; Δ",
        italic("R"),
        "² = increase in ",
        italic("R"),
        "² over the baseline-only model on the same participants; ",
        italic("f"),
        "² = Cohen's effect size ΔR²/(1 − R²).",
    )
    return ApaTable(
        key="alliance_effects",
        title=f"Therapeutic Alliance ({predictors}) as a Predictor of Post-Treatment Severity",
        columns=(
            plain("Alliance timepoint"),
            N,
            B,
            SE,
            ci_head(_level(models)),
            BETA,
            T,
            P,
            P_ADJ,
            DELTA_R2,
            F2,
        ),
        sections=tuple(sections),
        note=note,
    )


def coefficients_table(models: Sequence[ModelResult]) -> ApaTable:
    """Every coefficient of every model, as a manuscript's supplement gives them."""
    sections = []
    for m in models:
        fit = m.fit
        rows = tuple(
            (
                apa.term_label(m.spec, name),
                fmt_num(fit.estimate[i]),
                fmt_num(fit.std_error[i]),
                fmt_ci(fit.ci_low[i], fit.ci_high[i]),
                "" if name == "intercept" else fmt_unit(fit.std_beta[i]),
                fmt_num(fit.t[i]),
                fmt_p(fit.p[i]),
            )
            for i, name in enumerate(fit.names)
        )
        label = join(
            f"{_outcome_heading([m])}; {apa.predictor_label(m.spec)} "
            f"{apa.timepoint_phrase(m.spec.timepoint)}; ",
            italic("n"),
            f" = {fit.n}, ",
            italic("R"),
            f"² = {fmt_unit(fit.r_squared)}, adjusted ",
            italic("R"),
            f"² = {fmt_unit(fit.adj_r_squared)}",
        )
        sections.append(Section(label, rows))
    return ApaTable(
        key="coefficients",
        title="All Coefficients of Each Model",
        columns=(plain("Term"), B, SE, ci_head(_level(models)), BETA, T, P),
        sections=tuple(sections),
        note=join(
            italic("p"),
            " values are unadjusted. ",
            italic("β"),
            " is the coefficient for standardised outcome and predictor (sample SDs of the "
            "model's participants).",
        ),
    )


# --------------------------------------------------------------------------- robustness

_ROBUST_NAMES = {
    "hc3": "HC3",
    "bootstrap": "BCa bootstrap",
    "permutation": "Permutation",
    "wild": "Wild bootstrap",
    "loo": "Leave-one-out",
}


def _robust_keys(models: Sequence[ModelResult]) -> list[str]:
    """Scalar statistics in ``extras["term"]``, in order of first appearance."""
    keys: dict[str, None] = {}
    for m in models:
        for key, value in m.extras.get("term", {}).items():
            if np.isscalar(value) and not isinstance(value, str):
                keys.setdefault(key, None)
    return list(keys)


def _robust_columns(keys: list[str]) -> list[tuple[str, ...]]:
    """Group ``<x>_ci_low``/``<x>_ci_high`` pairs into one interval column."""
    columns: list[tuple[str, ...]] = []
    for key in keys:
        if key.endswith("_ci_high") and key.removesuffix("_high") + "_low" in keys:
            continue
        if key.endswith("_ci_low") and key.removesuffix("_low") + "_high" in keys:
            columns.append((key, key.removesuffix("_low") + "_high"))
        else:
            columns.append((key,))
    return columns


def robust_head(column: tuple[str, ...], level: float) -> Runs:
    """A column head for a robust statistic key: ``hc3_p`` → "HC3 *p*"."""
    key = column[0]
    if len(column) == 2:
        method = key.removesuffix("_ci_low")
        return plain(
            f"{_ROBUST_NAMES.get(method, method.replace('_', ' '))} {apa.fmt_level(level)} CI"
        )
    if key.lower() in ("bf10", "bf01"):
        return stat_head("BF", key[2:])
    method, _, stat = key.partition("_")
    name = _ROBUST_NAMES.get(method, method.replace("_", " ").capitalize())
    symbols = {"p": P, "se": SE, "std_error": SE, "t": T, "p_adjusted": P_ADJ, "p_adj": P_ADJ}
    if stat in symbols:
        return join(f"{name} ", symbols[stat])
    return plain(key.replace("_", " "))


def robust_value(column: tuple[str, ...], values: dict[str, Any]) -> str:
    key = column[0]
    if len(column) == 2:
        return fmt_ci(values.get(column[0]), values.get(column[1]))
    value = values.get(key)
    if key.lower().startswith("bf"):
        return apa.fmt_bf(value)
    if key.endswith("_p") or "_p_" in key or key == "p":
        return fmt_p(value)
    return fmt_num(value)


def robustness_table(models: Sequence[ModelResult]) -> ApaTable | None:
    """Classical and robust inference for each alliance coefficient, or None without extras."""
    keys = _robust_keys(models)
    if not keys:
        return None
    columns = _robust_columns(keys)
    level = _level(models)
    several = len({m.spec.predictor.score for m in models}) > 1
    sections = []
    for group in _by_outcome(models).values():
        rows = []
        for m in group:
            j = m.data.term
            values = m.extras.get("term", {})
            rows.append(
                (
                    _predictor_cell(m, several),
                    fmt_num(m.fit.estimate[j]),
                    fmt_num(m.fit.std_error[j]),
                    fmt_p(m.fit.p[j]),
                    *(robust_value(c, values) for c in columns),
                )
            )
        sections.append(Section(plain(_outcome_heading(group)), tuple(rows)))
    return ApaTable(
        key="robustness",
        title="Classical and Robust Inference for the Alliance Coefficients",
        columns=(
            plain("Alliance timepoint"),
            B,
            SE,
            P,
            *(robust_head(c, level) for c in columns),
        ),
        sections=tuple(sections),
        note=join(
            "The first three statistics are the classical OLS results; the others are robust "
            "companions computed on the same participants. ",
            italic("p"),
            " values are unadjusted unless marked adj.",
            bca_caveat(models) if any(c[0].startswith("bootstrap") for c in columns) else "",
        ),
    )


# What tests/test_null_calibration.py measures (BCa coverage of nominal 95% intervals in
# simulated trials at the article's size): the caveat states it as a simulation at that n,
# beside the n of the models being reported, never as if it were this trial's.
BCA_CALIBRATION = {"n": 22, "trials": 2000, "normal": 0.94, "skewed": 0.90}


def bca_caveat(models: Sequence[ModelResult]) -> str:
    """The BCa small-sample caveat, with this analysis's n beside the simulation's."""
    ns = sorted({m.fit.n for m in models})
    this = (
        ""
        if not ns
        else f"; the models here have n = {ns[0]}"
        + (f"{apa.EN_DASH}{ns[-1]}" if ns[-1] != ns[0] else "")
    )
    c = BCA_CALIBRATION
    return (
        f" BCa intervals can be too narrow in small samples when residuals are skewed and "
        f"heteroscedastic: in {c['trials']:,} simulated trials at n = {c['n']}{this}, nominal "
        f"95% intervals covered the true coefficient about {100 * c['normal']:.0f}% of the time "
        f"with normal errors and about {100 * c['skewed']:.0f}% with skewed, heteroscedastic "
        "errors; the shortfall shrinks as n grows (Carpenter & Bithell, 2000)."
    )


# --------------------------------------------------------------------------- checks, data


def _comparable_vifs(checks: dict[str, Any]) -> list[float]:
    """Each term's GVIF^(1/df): the VIF itself for a one-column term, and for a factor on the
    same scale, so the largest can be read against the usual VIF thresholds (Fox & Monette,
    1992, compare GVIF^(1/(2df)) with √VIF)."""
    df = checks.get("vif_df", {})
    return [float(v) ** (1.0 / df.get(term, 1)) for term, v in checks.get("vif", {}).items()]


def diagnostics_table(models: Sequence[ModelResult], show_ids: bool) -> ApaTable | None:
    """Assumption checks and influential cases per model (``extras["diagnostics"]``)."""
    with_checks = [m for m in models if "diagnostics" in m.extras]
    if not with_checks:
        return None
    several = len({m.spec.predictor.score for m in models}) > 1
    sections = []
    for group in _by_outcome(with_checks).values():
        rows = []
        for m in group:
            d = m.extras["diagnostics"]
            vif = _comparable_vifs(d)
            influential = d.get("influential", [])
            cases = str(len(influential))
            if show_ids and influential:
                cases += " (" + ", ".join(str(c["participant_id"]) for c in influential) + ")"
            rows.append(
                (
                    _predictor_cell(m, several),
                    fmt_num(d["shapiro"]["W"], 3).replace("0.", ".", 1),
                    fmt_p(d["shapiro"]["p"]),
                    f"{fmt_num(d['breusch_pagan']['statistic'])} ({apa.fmt_int(d['breusch_pagan']['df'])})",
                    fmt_p(d["breusch_pagan"]["p"]),
                    fmt_num(max(vif)) if vif else apa.MISSING,
                    cases,
                )
            )
        sections.append(Section(plain(_outcome_heading(group)), tuple(rows)))
    return ApaTable(
        key="diagnostics",
        title="Model Diagnostics",
        columns=(
            plain("Alliance timepoint"),
            join("Shapiro–Wilk ", italic("W")),
            P,
            join("Breusch–Pagan ", italic("χ"), "² (", italic("df"), ")"),
            P,
            plain("Largest VIF"),
            join("Cases with Cook's ", italic("D"), " > 4/", italic("n")),
        ),
        sections=tuple(sections),
        note=join(
            "Shapiro–Wilk tests normality of the residuals (Royston, 1995); Breusch–Pagan "
            "(Koenker's studentised form, 1981) tests constant residual variance; VIF = variance "
            "inflation factor (for a categorical covariate, GVIF^(1/df); Fox & Monette, 1992); Cook's distance above 4/",
            italic("n"),
            " flags a participant with a large influence on the fit (Bollen & Jackman, 1990).",
        ),
    )


def plan_scores(plan: AnalysisPlan) -> dict[str, str]:
    """Score → label for the scores the plan analyses, outcomes first."""
    labels: dict[str, str] = {}
    for o in plan.outcomes:
        labels.setdefault(o.score, o.label or o.score)
    for p in plan.predictors:
        labels.setdefault(p.score, p.label or p.score)
    return labels


def plan_timepoints(plan: AnalysisPlan) -> dict[str, list[str]]:
    """Score → the timepoints the plan analyses it at, in the plan's order (outcomes first)."""
    timepoints: dict[str, list[str]] = {}
    for o in plan.outcomes:
        timepoints.setdefault(o.score, []).extend((o.baseline, o.post))
    for p in plan.predictors:
        timepoints.setdefault(p.score, []).extend(p.timepoints)
    return {score: list(dict.fromkeys(points)) for score, points in timepoints.items()}


def descriptives_apa_table(episodes: pd.DataFrame, plan: AnalysisPlan) -> ApaTable:
    """Mean, SD and n of every analysed score at the timepoints the plan analyses, over MDMA
    episodes, in the plan's order. Other timepoints of the same score (e.g. session-level
    measurements of a short form scored under the same name) belong to other tables."""
    table = descriptives_table(episodes)
    labels = plan_scores(plan)
    analysed = plan_timepoints(plan)
    sections = []
    for score, label in labels.items():
        of_score = table.loc[table["score"] == score].set_index("timepoint", drop=False)
        of_score = of_score.loc[[t for t in analysed[score] if t in of_score.index]]
        rows = tuple(
            (
                apa.capitalise(apa.timepoint_label(str(r.timepoint))),
                str(r.n),
                fmt_num(r.mean),
                fmt_num(r.sd),
                f"{fmt_num(r.min, 0)}{apa.EN_DASH}{fmt_num(r.max, 0)}" if r.n else apa.MISSING,
            )
            for r in of_score.itertuples(index=False)
        )
        if rows:
            sections.append(Section(plain(label), rows))
    return ApaTable(
        key="descriptives",
        title="Descriptive Statistics of the Analysed Scores Over MDMA Treatment Episodes",
        columns=(plain("Timepoint"), N, stat_head("M"), stat_head("SD"), plain("Range")),
        sections=tuple(sections),
        note=join(
            "One episode per participant. ",
            italic("n"),
            " counts the episodes with that score; ",
            italic("SD"),
            " is the sample standard deviation.",
        ),
    )


def reliability_apa_table(
    reliability: pd.DataFrame | None, episodes: int | None = None
) -> ApaTable | None:
    """Cronbach's alpha and McDonald's omega of the analysed scores, over the MDMA episodes.

    One section per instrument (named as its definition names it), one row per score and
    timepoint; ``episodes`` is the number of episodes the responses come from.
    """
    if reliability is None or reliability.empty:
        return None
    instruments = load_instruments()
    notes = reliability["note"] if "note" in reliability.columns else pd.Series(dtype=str)
    reasons = sorted({str(n) for n in notes.dropna() if str(n).strip()})
    sections = []
    for code, group in reliability.groupby("instrument", sort=False):
        inst = instruments.get(str(code))
        rows = tuple(
            (
                _scale_label(r, inst),
                apa.capitalise(apa.timepoint_label(str(r.timepoint))),
                apa.fmt_int(r.n),
                apa.fmt_int(r.n_items),
                fmt_unit(r.alpha),
                fmt_unit(r.omega),
            )
            for r in group.itertuples(index=False)
        )
        sections.append(Section(plain(inst.name if inst else str(code)), rows))
    units = [
        f"items of the {inst.name} are its symptoms, each the sum of its "
        f"{count_word(len(next(iter(inst.units.values()))))} ratings"
        for code in dict.fromkeys(reliability["instrument"])
        if (inst := instruments.get(str(code))) is not None and inst.units
    ]
    source = (
        f"Responses of the {episodes} MDMA treatment episodes analysed (one per participant)"
        if episodes is not None
        else "Responses of the MDMA treatment episodes analysed (one per participant)"
    )
    return ApaTable(
        key="reliability",
        title="Internal Consistency of the Analysed Scores",
        columns=(
            plain("Score"),
            plain("Timepoint"),
            N,
            plain("Items"),
            join("Cronbach's ", italic("α")),
            join("McDonald's ", italic("ω")),
        ),
        sections=tuple(sections),
        note=join(
            f"{source}; ",
            italic("n"),
            " = episodes with every item of the score answered; reverse-keyed items reversed "
            "first"
            + (f"; {apa.series(units)}" if units else "")
            + ". "
            + apa.MISSING
            + " = not estimated"
            + (f" ({'; '.join(reasons)})." if reasons else "."),
        ),
    )


def _scale_label(row: Any, inst: Any) -> str:
    """The score's label as its instrument definition gives it (never the score's code)."""
    label = getattr(row, "label", None)
    if isinstance(label, str) and label:
        return label
    if inst is not None:
        for score in inst.scores:
            if score.name == row.scale:
                return str(score.label)
    return score_label(str(row.scale))


def report_tables(analysis: Analysis, show_ids: bool = False) -> list[ApaTable]:
    """Every table of the report, in the order they appear, numbered by position."""
    models = analysis.models
    tables: list[ApaTable | None] = [
        descriptives_apa_table(analysis.episodes.frame, analysis.plan),
        reliability_apa_table(analysis.reliability, analysis.ledger.episodes),
        alliance_effects_table(models, analysis.plan) if models else None,
        robustness_table(models),
        coefficients_table(models) if models else None,
        diagnostics_table(models, show_ids),
        influence_table(models),
        *mixed_apa_tables(analysis),
    ]
    from alliance.missing.report import missing_tables  # multiple imputation, when run

    tables.extend(missing_tables(analysis))
    return [t for t in tables if t is not None]
