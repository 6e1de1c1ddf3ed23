"""Shrinking an effect that was reported because it was significant (the winner's curse).

A pilot's partial r that reached significance overstates the population value on average: the
studies that happened to draw a large r are the ones selected. The correction used here is the
conditional maximum-likelihood estimator of Ghosh, Zou & Wright (2008) and Zhong & Prentice
(2008), on Fisher's z scale:

- ẑ = atanh(r) is taken as normal around ζ = atanh(ρ) with standard error s = 1/√(n − 3 − k)
  (k covariates; the variance of a partial correlation's z, as in meta-analysis);
- the result was selected because its test rejected at level α, i.e. |ẑ| > c with
  c = atanh(r_crit), r_crit the critical partial r of that t test;
- the likelihood of ζ given ẑ *and* the selection is the normal density truncated to |z| > c;
  its maximiser ζ̂ solves E_ζ[Z | |Z| > c] = ẑ (the truncated normal is an exponential family in
  ζ, so the conditional MLE matches the conditional mean to the observation), found by bracketed
  root search. ρ̂ = tanh(ζ̂).

A result that was not significant was not selected by significance; no correction applies and
the observed value is returned. ``tests/test_winners_curse.py`` checks the estimator against a
simulation of the selection it corrects.

References
----------
Ghosh, A., Zou, F., & Wright, F. A. (2008). Estimating odds ratios in genome scans: an approximate
conditional likelihood approach. *American Journal of Human Genetics*, 82, 1064–1074.
Zhong, H., & Prentice, R. L. (2008). Bias-reduced estimators and confidence intervals for odds
ratios in genome-wide association studies. *Biostatistics*, 9, 621–634.
"""

from __future__ import annotations

import math

from scipy import optimize, stats

from alliance.power.analytic import check_design, critical_partial_r


def fisher_se(n: int, k: int) -> float:
    """Standard error of atanh(partial r) with ``k`` covariates in ``n`` cases."""
    if n - 3 - k < 1:
        raise ValueError(
            f"n = {n} with {k} covariate(s) leaves no degrees of freedom for Fisher's z"
        )
    return 1.0 / math.sqrt(n - 3 - k)


def selected_mean(zeta: float, se: float, c: float) -> float:
    """E[Z | |Z| > c] for Z ~ N(ζ, se²), computed stably in both tails."""
    upper = (c - zeta) / se
    lower = (-c - zeta) / se
    # log-masses of the two tails and their density terms
    log_up = stats.norm.logsf(upper)
    log_low = stats.norm.logcdf(lower)
    top = max(log_up, log_low)
    w_up, w_low = math.exp(log_up - top), math.exp(log_low - top)
    # E[Z; Z > c] = ζ·P + se·φ(upper); E[Z; Z < −c] = ζ·P − se·φ(lower)
    d_up = math.exp(stats.norm.logpdf(upper) - top)
    d_low = math.exp(stats.norm.logpdf(lower) - top)
    return zeta + se * (d_up - d_low) / (w_up + w_low)


def conditional_mle(partial_r: float, n: int, k: int, alpha: float) -> float:
    """The winner's-curse-corrected partial r of a result significant at ``alpha`` (module doc).

    Returns the observed value when the result is not significant (no selection to correct).
    """
    if not -1 < partial_r < 1:
        raise ValueError(
            f"a partial correlation must lie strictly between -1 and 1, not {partial_r}"
        )
    check_design(n, k, alpha)
    se = fisher_se(n, k)
    c = math.atanh(critical_partial_r(n, k, alpha))
    z = math.atanh(partial_r)
    if abs(z) <= c:
        return partial_r
    sign = 1.0 if z > 0 else -1.0
    z = abs(z)
    # E_ζ[Z | sel] rises with ζ from 0 at ζ = 0 and exceeds z at ζ = z (the region removed lies
    # below the mean), so the root lies in [0, z].
    root = optimize.brentq(lambda zeta: selected_mean(zeta, se, c) - z, 0.0, z, xtol=1e-12)
    return sign * math.tanh(root)


def fisher_ci(partial_r: float, n: int, k: int, level: float = 0.95) -> tuple[float, float]:
    """Fisher-z confidence interval of a partial r with ``k`` covariates."""
    se = fisher_se(n, k)
    z = math.atanh(partial_r)
    half = stats.norm.isf((1 - level) / 2) * se
    return math.tanh(z - half), math.tanh(z + half)
