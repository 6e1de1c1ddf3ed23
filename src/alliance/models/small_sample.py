"""Models fitted on too few episodes to trust: flagged wherever their numbers are shown.

With fewer than 10 episodes an estimate rests on a handful of people, and with fewer than 5
residual degrees of freedom the t reference distribution is so wide, and the residuals so few,
that intervals, p-values and every assumption check (normality, constant variance, influence)
mean little. Such a model is still fitted and reported, since the user declared it, but the
console, results.json and the report say so beside it.
"""

from __future__ import annotations

from collections.abc import Iterable

from alliance.models.fit import ModelResult

MIN_EPISODES = 10
MIN_RESIDUAL_DF = 5


def small_sample_reasons(n: int, df_resid: int) -> list[str]:
    """Why a model of ``n`` episodes and ``df_resid`` residual df is flagged (empty: it is not)."""
    reasons = []
    if n < MIN_EPISODES:
        reasons.append(f"fitted on {n} episodes (fewer than {MIN_EPISODES})")
    if df_resid < MIN_RESIDUAL_DF:
        reasons.append(f"{df_resid} residual degrees of freedom (fewer than {MIN_RESIDUAL_DF})")
    return reasons


def model_reasons(model: ModelResult) -> list[str]:
    return small_sample_reasons(int(model.fit.n), int(model.fit.df_resid))


def small_sample_warnings(models: Iterable[ModelResult]) -> list[str]:
    """One sentence per flagged model, naming it by its key."""
    warnings = []
    for model in models:
        if reasons := model_reasons(model):
            warnings.append(
                f"model {model.spec.key}: {' and '.join(reasons)}; its estimates, intervals "
                "and p-values are unreliable at this size"
            )
    return warnings
