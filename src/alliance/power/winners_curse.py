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
  ζ, so the conditional MLE matches the conditional mean to the observation), found by
  bisection. ρ̂ = tanh(ζ̂).

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

import numpy as np
from numpy.typing import ArrayLike
from scipy import special, stats

from alliance.power.analytic import check_design, critical_partial_r


def fisher_se(n: int, k: int) -> float:
    """Standard error of atanh(partial r) with ``k`` covariates in ``n`` cases."""
    if n - 3 - k < 1:
        raise ValueError(
            f"n = {n} with {k} covariate(s) leaves no degrees of freedom for Fisher's z"
        )
    return 1.0 / math.sqrt(n - 3 - k)


def selected_mean(zeta: ArrayLike, se: float, c: float) -> np.ndarray:
    """E[Z | |Z| > c] for Z ~ N(ζ, se²), computed stably in both tails (vectorised over ζ)."""
    zeta = np.asarray(zeta, dtype=float)
    upper = (c - zeta) / se
    lower = (-c - zeta) / se
    log_up = special.log_ndtr(-upper)  # log P(Z > c)
    log_low = special.log_ndtr(lower)  # log P(Z < −c)
    top = np.maximum(log_up, log_low)
    mass = np.exp(log_up - top) + np.exp(log_low - top)
    # E[Z; Z > c] = ζ·P + se·φ(upper); E[Z; Z < −c] = ζ·P − se·φ(lower)
    log_phi = -0.5 * math.log(2 * math.pi)
    density = np.exp(log_phi - upper**2 / 2 - top) - np.exp(log_phi - lower**2 / 2 - top)
    return np.asarray(zeta + se * density / mass)


def conditional_mle_z(z: ArrayLike, se: float, c: float) -> np.ndarray:
    """ζ̂ solving E_ζ[Z | |Z| > c] = z for each selected |z| > c (others returned unchanged).

    E_ζ[Z | sel] rises with ζ from 0 at ζ = 0 and is at least z at ζ = |z| when |z| > c (the
    region removed lies below the mean), so the root lies in [0, |z|]: bisection, vectorised,
    to 1e-12 on the z scale.
    """
    z = np.asarray(z, dtype=float)
    size = np.abs(z)
    low, high = np.zeros_like(size), size.copy()
    for _ in range(60):
        middle = (low + high) / 2
        below = selected_mean(middle, se, c) < size
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    return np.where(size > c, np.sign(z) * (low + high) / 2, z)


def selection(n: int, k: int, alpha: float) -> tuple[float, float]:
    """(se, c): Fisher-z standard error and the |z| beyond which the t test rejects."""
    check_design(n, k, alpha)
    return fisher_se(n, k), math.atanh(critical_partial_r(n, k, alpha))


def conditional_mle(partial_r: float, n: int, k: int, alpha: float) -> float:
    """The winner's-curse-corrected partial r of a result significant at ``alpha`` (module doc).

    Returns the observed value when the result is not significant (no selection to correct).
    """
    if not -1 < partial_r < 1:
        raise ValueError(
            f"a partial correlation must lie strictly between -1 and 1, not {partial_r}"
        )
    se, c = selection(n, k, alpha)
    z = math.atanh(partial_r)
    if abs(z) <= c:
        return partial_r
    return math.tanh(float(conditional_mle_z(z, se, c)))


def fisher_ci(partial_r: float, n: int, k: int, level: float = 0.95) -> tuple[float, float]:
    """Fisher-z confidence interval of a partial r with ``k`` covariates."""
    se = fisher_se(n, k)
    z = math.atanh(partial_r)
    half = stats.norm.isf((1 - level) / 2) * se
    return math.tanh(z - half), math.tanh(z + half)
