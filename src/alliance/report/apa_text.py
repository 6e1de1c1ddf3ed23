"""The methods and results paragraphs, in APA style, written from the plan and the numbers.

A researcher pastes them into a manuscript and edits them; every number in them comes from the
fitted models, every choice from the plan. Formatting rules are those of :mod:`apa`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from alliance.models.fit import ModelResult
from alliance.models.plan import AnalysisPlan
from alliance.report.apa import (
    EN_DASH,
    METHOD_NAMES,
    Runs,
    capitalise,
    count_word,
    fmt_ci,
    fmt_level,
    fmt_num,
    fmt_unit,
    italic,
    join,
    multiplicity_text,
    outcome_label,
    p_equals,
    parenthetical,
    plain,
    predictor_label,
    series,
    timepoint_label,
    timepoint_phrase,
)

EPISODE_RULES = {
    "first_mdma": (
        "Each participant contributed one MDMA treatment episode, their first MDMA exposure: "
        "the randomised phase for participants allocated to MDMA and the open-label crossover "
        "phase for participants allocated to placebo, with that phase's own baseline."
    ),
    "randomized_only": (
        "Only randomised-phase MDMA treatment episodes were analysed; participants allocated to "
        "placebo did not contribute an episode."
    ),
    "last_mdma": (
        "Each participant contributed one MDMA treatment episode, their last MDMA exposure: the "
        "open-label phase when a participant had one, otherwise the randomised MDMA phase."
    ),
}


def _distinct(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def robust_methods(keys: Iterable[str], plan: AnalysisPlan, categorical: bool = False) -> list[str]:
    """Sentences naming the robust companions whose results are present.

    ``categorical``: some model has a categorical covariate, whose dummies the Bayes factor
    treats as continuous regressors (BayesFactor's lmBF would give a factor its own g).
    """
    keys = set(keys)
    parts = []
    if any(k.startswith("hc3") for k in keys):
        parts.append(
            "heteroscedasticity-consistent (HC3) standard errors (MacKinnon & White, 1985)"
        )
    if any(k.startswith("bootstrap") for k in keys):
        parts.append(
            f"bias-corrected and accelerated (BCa) bootstrap {fmt_level(1 - plan.alpha)} "
            f"confidence intervals ({plan.inference.bootstrap:,} case resamples; Efron, 1987)"
        )
    if any(k.startswith("permutation") for k in keys):
        parts.append(
            "Freedman–Lane permutation p-values "
            f"({plan.inference.permutations:,} permutations; Freedman & Lane, 1983)"
        )
    if "bf10" in keys:
        shared = (
            ", the dummy-coded categorical covariates sharing the continuous predictors' g"
            if categorical
            else ""
        )
        parts.append(
            "default Bayes factors for adding alliance to the baseline model (JZS prior, "
            f"r = {plan.inference.bf_rscale:.3f}{shared}; Rouder & Morey, 2012)"
        )
    return parts


def borrowed_baseline_sentence(borrowed: int) -> str:
    """Says how many open-label baselines were the end of the placebo phase (the data decide)."""
    if borrowed <= 0:
        return ""
    who = "participant" if borrowed == 1 else "participants"
    return (
        f" For {count_word(borrowed)} crossover {who} without an open-label baseline "
        "assessment, the end of the placebo phase served as the baseline."
    )


def methods_paragraph(
    plan: AnalysisPlan,
    models: Sequence[ModelResult],
    seed: int,
    software: str,
    borrowed_baselines: int = 0,
) -> Runs:
    """The analysis as a methods section describes it, written from the plan and the data.

    ``software`` names the program and versions, e.g. ``"alliance 0.1.0 (Python 3.11)"``;
    ``borrowed_baselines`` counts the episodes whose baseline was the end of the placebo phase.
    """
    specs = plan.model_specs()
    outcomes = _distinct(o.label or o.score for o in plan.outcomes)
    predictors = _distinct(p.label or p.score for p in plan.predictors)
    timepoints = _distinct(
        parenthetical(timepoint_label(t)) for p in plan.predictors for t in p.timepoints
    )
    covariates = [c for c in plan.covariates]
    n_models = len(specs)
    level = fmt_level(1 - plan.alpha)
    model_sentence = (
        f"For each outcome ({series(outcomes)}), the post-treatment score was regressed on its "
        f"baseline score and {series(predictors, 'or')} at one timepoint "
        f"({series(timepoints)})"
        + (f", with {series(covariates)} as additional covariates" if covariates else "")
        + f": {count_word(n_models)} ordinary least-squares models, each fitted to the "
        "participants with complete data on its variables."
    )
    keys = {k for m in models for k in m.extras.get("term", {})}
    categorical = any("[" in name for m in models for name in m.data.names)  # dummy columns
    robust = robust_methods(keys, plan, categorical)
    runs = [
        plain(
            EPISODE_RULES[plan.episode_rule]
            + borrowed_baseline_sentence(borrowed_baselines)
            + " "
            + model_sentence
            + " We report "
        ),
        plain("unstandardised ("),
        italic("b"),
        plain(") and standardised ("),
        italic("β"),
        plain(f") coefficients of alliance with {level} confidence intervals, the increase in "),
        italic("R"),
        plain("² over the baseline-only model fitted to the same participants (Δ"),
        italic("R"),
        plain("²) and Cohen's (1988) "),
        italic("f"),
        plain("² = Δ"),
        italic("R"),
        plain("²/(1 − "),
        italic("R"),
        plain("²). The "),
        italic("p"),
        plain(
            f" values of the {count_word(n_models)} alliance coefficients were "
            f"{multiplicity_text(plan, n_models)}; "
        ),
        italic("α"),
        plain(f" = {fmt_unit(plan.alpha)}."),
    ]
    if robust:
        runs.append(plain(f" As robustness checks we report {series(robust)}."))
    runs.append(plain(f" Analyses were run with {software}, random seed {seed}."))
    return join(*runs)


def adjusted_p_name(method: str) -> str:
    """How the text names the corrected p: ``"Holm-adjusted"``, ``"Benjamini–Hochberg-adjusted"``."""
    return f"{METHOD_NAMES[method][0].removesuffix(' false discovery rate')}-adjusted"


def effect_runs(model: ModelResult, method: str = "holm") -> Runs:
    """``b = −0.45, 95% CI [−0.80, −0.10], β = −.41, t(19) = −2.70, p = .014, Holm-adjusted p …``.

    ``method``: the plan's multiplicity correction; with ``"none"`` no adjusted p is given.
    """
    fit = model.fit
    j = model.data.term
    stats = model.term_stats
    level = fmt_level(1 - fit.alpha)
    adjusted: tuple[Runs | str, ...] = (
        ()
        if method == "none"
        else (f", {adjusted_p_name(method)} ", italic("p"), f" {p_equals(model.p_adjusted)}")
    )
    return join(
        italic("b"),
        f" = {fmt_num(fit.estimate[j])}, {level} CI {fmt_ci(fit.ci_low[j], fit.ci_high[j])}, ",
        italic("β"),
        f" = {fmt_unit(fit.std_beta[j])}, ",
        italic("t"),
        f"({fit.df_resid}) = {fmt_num(fit.t[j])}, ",
        italic("p"),
        f" {p_equals(fit.p[j])}",
        *adjusted,
        ", Δ",
        italic("R"),
        f"² = {fmt_unit(stats['delta_r_squared'])}, ",
        italic("f"),
        f"² = {fmt_num(stats['f_squared'])}",
    )


def _effect_name(model: ModelResult) -> str:
    spec = model.spec
    return f"{predictor_label(spec)} {timepoint_phrase(spec.timepoint)}"


def model_sentence(model: ModelResult, plan: AnalysisPlan) -> Runs:
    """One model's result, worded by what survives: a finding only when the corrected test is
    significant; a nominal effect that does not survive correction says so."""
    j = model.data.term
    predictor = _effect_name(model)
    outcome = f"{outcome_label(model.spec)} {timepoint_phrase(model.spec.outcome.post)}"
    nominal = float(model.fit.p[j]) < plan.alpha
    corrected = plan.multiplicity.method != "none"
    if nominal and (model.survives_correction or not corrected):
        direction = "lower" if float(model.fit.estimate[j]) < 0 else "higher"
        lead = f"Higher {predictor} predicted {direction} {outcome}"
    elif nominal:
        name = METHOD_NAMES[plan.multiplicity.method][0]
        lead = f"{capitalise(predictor)} was not associated with {outcome} after {name} correction"
    else:
        lead = f"{capitalise(predictor)} did not significantly predict {outcome}"
    return join(
        f"{lead} (",
        italic("n"),
        f" = {model.fit.n}; ",
        effect_runs(model, plan.multiplicity.method),
        ").",
    )


def _correction_sentence(plan: AnalysisPlan, models: Sequence[ModelResult]) -> str:
    if plan.multiplicity.method == "none":
        return "No correction for multiple comparisons was applied."
    name = METHOD_NAMES[plan.multiplicity.method][0]
    names = [f"{_effect_name(m)} on {outcome_label(m.spec)}" for m in models]
    kept = [n for n, m in zip(names, models, strict=True) if m.survives_correction]
    lost = [
        n
        for n, m in zip(names, models, strict=True)
        if not m.survives_correction and float(m.fit.p[m.data.term]) < plan.alpha
    ]
    text = f"After {name} correction, "
    if not kept:
        text += "no alliance effect remained significant"
    elif len(kept) == len(models):
        text += f"all {count_word(len(models))} alliance effects remained significant"
    else:
        text += (
            f"{count_word(len(kept))} of the {count_word(len(models))} alliance effects "
            f"remained significant ({parenthetical(series(kept))})"
        )
    if lost and kept:
        text += f"; the effect of {series(lost)} did not"
    elif lost:
        text += f" (nominally significant before correction: {parenthetical(series(lost))})"
    return text + "."


def results_paragraph(
    plan: AnalysisPlan, models: Sequence[ModelResult], participants_in: int, episodes: int
) -> Runs:
    """The results of every alliance model, written from the numbers."""
    if not models:
        return plain("No model was fitted.")
    ns = sorted({m.fit.n for m in models})
    n_text = f" = {ns[0]}" if len(ns) == 1 else f" = {ns[0]}{EN_DASH}{ns[-1]}"
    runs: list[Runs | str] = [
        f"Of the {participants_in} participants in the data, {episodes} had an MDMA treatment "
        "episode; the models used ",
        italic("n"),
        f"{n_text} participants with complete data. Every model controlled for the outcome's "
        "baseline score. ",
    ]
    for m in models:
        runs.extend([model_sentence(m, plan), " "])
    runs.append(_correction_sentence(plan, models))
    return join(*runs)
