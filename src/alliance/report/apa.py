"""Numbers, tables and paragraphs in APA style (American Psychological Association, 2020).

Rules applied (APA *Publication Manual*, 7th ed., §6.36 and Table 6.5):

- statistics are given to two decimals (b, SE, t, f², BF), p-values to three;
- no leading zero for values that cannot exceed 1 in absolute value (p, β, r, R², ΔR², α, ω);
- exact p-values down to .001, below that "p < .001";
- statistical symbols in italics, confidence intervals in square brackets;
- negative numbers with a true minus sign (U+2212), and no "−0.00".

Text that carries italics is a sequence of :class:`Run` objects, so the same sentence or table
header can be rendered as HTML (``<i>``), as a Word run, or as plain text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from alliance.models.fit import ModelResult
from alliance.models.plan import AnalysisPlan, ModelSpec

MINUS = "\u2212"
EN_DASH = "\u2013"
MISSING = "\u2014"  # em dash: a number that could not be computed


@dataclass(frozen=True)
class Run:
    """A piece of text with one style."""

    text: str
    italic: bool = False
    sub: bool = False


Runs = tuple[Run, ...]


def plain(text: str) -> Runs:
    return (Run(text),)


def italic(text: str) -> Runs:
    return (Run(text, italic=True),)


def join(*parts: Runs | str) -> Runs:
    """Concatenate runs; a bare string is a plain run."""
    out: list[Run] = []
    for part in parts:
        out.extend(plain(part) if isinstance(part, str) else part)
    return tuple(r for r in out if r.text)


def to_text(runs: Iterable[Run]) -> str:
    """Plain text, for alt text, search and tests."""
    return "".join(r.text for r in runs)


# --------------------------------------------------------------------------- numbers


def _finite(x: Any) -> bool:
    return x is not None and math.isfinite(float(x))


def _signed(text: str) -> str:
    return MINUS + text[1:] if text.startswith("-") else text


def fmt_num(x: Any, decimals: int = 2) -> str:
    """A number with a fixed number of decimals, e.g. ``-0.4567`` → ``"−0.46"``."""
    if not _finite(x):
        return MISSING
    text = f"{float(x):.{decimals}f}"
    if float(text) == 0.0:
        text = text.lstrip("-")  # "−0.00" says nothing a reader needs
    return _signed(text)


def fmt_unit(x: Any, decimals: int = 2) -> str:
    """A value bounded by ±1 without its leading zero: ``0.412`` → ``".41"``, ``-0.4`` → ``"−.40"``."""
    text = fmt_num(x, decimals)
    return re.sub(r"^(\u2212?)0\.", r"\1.", text)


def fmt_p(p: Any) -> str:
    """A p-value as APA writes it after "p": ``".032"``, ``"< .001"``, ``"> .999"``."""
    if not _finite(p):
        return MISSING
    value = float(p)
    if value < 0.001:
        return "< .001"
    if round(value, 3) >= 1.0:
        # Three decimals would print "1.000": not a p-value anyone should read as certainty.
        return "> .999"
    return fmt_unit(value, 3)


def p_equals(p: Any) -> str:
    """The relation and value after the symbol: ``"= .032"`` or ``"< .001"``."""
    text = fmt_p(p)
    return text if text[0] in "<>" else f"= {text}"


def fmt_ci(low: Any, high: Any, decimals: int = 2, unit: bool = False) -> str:
    """A confidence interval: ``"[−0.80, −0.10]"``."""
    fmt = fmt_unit if unit else fmt_num
    return f"[{fmt(low, decimals)}, {fmt(high, decimals)}]"


def fmt_bf(bf: Any) -> str:
    """A Bayes factor: two decimals, or powers of ten when it is very large or very small."""
    if not _finite(bf):
        return MISSING
    value = float(bf)
    if value <= 0:
        return fmt_num(value)
    if value >= 1000 or value < 0.01:
        exponent = math.floor(math.log10(value))
        mantissa = value / 10**exponent
        return f"{mantissa:.2f} \u00d7 10^{_signed(str(exponent))}"
    return fmt_num(value)


def fmt_int(x: Any) -> str:
    return MISSING if not _finite(x) else str(round(float(x)))


# --------------------------------------------------------------------------- labels

_TIMEPOINT_PATTERNS = [
    (re.compile(r"^pre_s(\d+)$"), "pre-session {0}"),
    (re.compile(r"^post_s(\d+)$"), "post-session {0}"),
    (re.compile(r"^s(\d+)$"), "session {0}"),
]
_TIMEPOINT_NAMES = {"baseline": "baseline", "post": "post-treatment"}


def timepoint_label(timepoint: str) -> str:
    """A readable name for a timepoint code: ``pre_s3`` → ``"pre-session 3"``, ``s4`` → ``"session 4"``."""
    if timepoint in _TIMEPOINT_NAMES:
        return _TIMEPOINT_NAMES[timepoint]
    for pattern, template in _TIMEPOINT_PATTERNS:
        match = pattern.match(timepoint)
        if match:
            return template.format(*match.groups())
    return timepoint.replace("_", " ")


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def series(items: Sequence[str], conjunction: str = "and") -> str:
    """``a``, ``a and b``, ``a, b, and c`` (APA uses the serial comma)."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} {conjunction} {items[1]}"
    return ", ".join(items[:-1]) + f", {conjunction} {items[-1]}"


NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def count_word(n: int) -> str:
    """APA spells out numbers below ten in running text."""
    return NUMBER_WORDS[n] if 0 <= n < 10 else str(n)


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Section:
    """Rows under an optional spanning label (e.g. one outcome)."""

    label: Runs
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ApaTable:
    """A table as APA sets it: number, italic title, column heads, body, note.

    The same object is rendered to HTML and to Word, so both always say the same thing.
    """

    key: str  # file-name-safe identifier
    title: str
    columns: tuple[Runs, ...]
    sections: tuple[Section, ...]
    note: Runs = ()

    @property
    def n_rows(self) -> int:
        return sum(len(s.rows) for s in self.sections)


def stat_head(symbol: str, sub: str = "") -> Runs:
    """An italic statistic symbol with an optional plain subscript, e.g. p with "adj"."""
    runs = [Run(symbol, italic=True)]
    if sub:
        runs.append(Run(sub, sub=True))
    return tuple(runs)


def ci_head(level: float) -> Runs:
    return plain(f"{fmt_level(level)} CI")


def fmt_level(level: float) -> str:
    """``0.95`` → ``"95%"``."""
    percent = 100.0 * level
    return f"{percent:.0f}%" if abs(percent - round(percent)) < 1e-9 else f"{percent:g}%"


B = stat_head("b")
SE = stat_head("SE")
BETA = stat_head("β")
T = stat_head("t")
P = stat_head("p")
P_ADJ = stat_head("p", "adj")
N = stat_head("n")
DELTA_R2 = join("Δ", italic("R"), "²")
F2 = join(italic("f"), "²")


# --------------------------------------------------------------------------- model labels


def outcome_label(spec: ModelSpec) -> str:
    return spec.outcome.label or spec.outcome.score


def predictor_label(spec: ModelSpec) -> str:
    return spec.predictor.label or spec.predictor.score


def term_label(spec: ModelSpec, name: str) -> str:
    """A coefficient's name as a reader knows it."""
    if name == "intercept":
        return "Intercept"
    if name == "baseline":
        return f"{outcome_label(spec)} at baseline"
    if name == spec.predictor.score:
        return f"{predictor_label(spec)} at {timepoint_label(spec.timepoint)}"
    return name


METHOD_NAMES = {
    "holm": ("Holm", "Holm, 1979"),
    "bonferroni": ("Bonferroni", "Dunn, 1961"),
    "hochberg": ("Hochberg", "Hochberg, 1988"),
    "bh": ("Benjamini–Hochberg false discovery rate", "Benjamini & Hochberg, 1995"),
    "by": ("Benjamini–Yekutieli false discovery rate", "Benjamini & Yekutieli, 2001"),
}


def multiplicity_text(plan: AnalysisPlan, n_tests: int) -> str:
    """How p-values were adjusted, for a table note or the methods."""
    method = plan.multiplicity.method
    if method == "none":
        return "not adjusted for multiple comparisons"
    name, citation = METHOD_NAMES[method]
    scope = (
        f"across all {count_word(n_tests)} alliance tests"
        if plan.multiplicity.family == "all"
        else "within each outcome's alliance tests"
    )
    return f"adjusted with the {name} procedure ({citation}) {scope}"


# --------------------------------------------------------------------------- paragraphs

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


def methods_paragraph(
    plan: AnalysisPlan, models: Sequence[ModelResult], seed: int, software: str
) -> Runs:
    """The analysis as a methods section describes it, written from the plan.

    ``software`` names the program and versions, e.g. ``"alliance 0.1.0 (Python 3.11)"``.
    """
    specs = plan.model_specs()
    outcomes = _distinct(o.label or o.score for o in plan.outcomes)
    predictors = _distinct(p.label or p.score for p in plan.predictors)
    timepoints = _distinct(timepoint_label(t) for p in plan.predictors for t in p.timepoints)
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
        plain(EPISODE_RULES[plan.episode_rule] + " " + model_sentence + " We report "),
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


def effect_runs(model: ModelResult) -> Runs:
    """``b = −0.45, 95% CI [−0.80, −0.10], β = −.41, t(19) = −2.70, p = .014, …``."""
    fit = model.fit
    j = model.data.term
    stats = model.term_stats
    level = fmt_level(1 - fit.alpha)
    return join(
        italic("b"),
        f" = {fmt_num(fit.estimate[j])}, {level} CI {fmt_ci(fit.ci_low[j], fit.ci_high[j])}, ",
        italic("β"),
        f" = {fmt_unit(fit.std_beta[j])}, ",
        italic("t"),
        f"({fit.df_resid}) = {fmt_num(fit.t[j])}, ",
        italic("p"),
        f" {p_equals(fit.p[j])}, adjusted ",
        italic("p"),
        f" {p_equals(model.p_adjusted)}, Δ",
        italic("R"),
        f"² = {fmt_unit(stats['delta_r_squared'])}, ",
        italic("f"),
        f"² = {fmt_num(stats['f_squared'])}",
    )


def _effect_name(model: ModelResult) -> str:
    spec = model.spec
    return f"{predictor_label(spec)} at {timepoint_label(spec.timepoint)}"


def _model_sentence(model: ModelResult, alpha: float) -> Runs:
    j = model.data.term
    predictor = _effect_name(model)
    outcome = f"post-treatment {outcome_label(model.spec)}"
    if float(model.fit.p[j]) < alpha:
        direction = "lower" if float(model.fit.estimate[j]) < 0 else "higher"
        lead = f"Higher {predictor} predicted {direction} {outcome}"
    else:
        lead = f"{capitalise(predictor)} did not significantly predict {outcome}"
    return join(f"{lead} (", italic("n"), f" = {model.fit.n}; ", effect_runs(model), ").")


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
            f"remained significant ({series(kept)})"
        )
    if lost and kept:
        text += f"; the effect of {series(lost)} did not"
    elif lost:
        text += f" (nominally significant before correction: {series(lost)})"
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
        runs.extend([_model_sentence(m, plan.alpha), " "])
    runs.append(_correction_sentence(plan, models))
    return join(*runs)
