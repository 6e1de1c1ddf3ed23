"""Power of the t test of one alliance coefficient, analytically (docs/power.md).

The model is ``post ~ baseline [+ covariates] + alliance``; ``k`` counts the covariates with the
baseline included, so the alliance test has 1 numerator and ``v = N − k − 2`` denominator degrees
of freedom. The effect is Cohen's f² = r²/(1 − r²) of the alliance term's partial correlation r.

Fixed design (the predictors' values are held fixed across replications):

- ``"gpower"``: G*Power's "linear multiple regression: R² increase" (Faul et al., 2009),
  noncentrality λ = f²·N;
- ``"pwr"``: R's ``pwr::pwr.f2.test`` (Champely, 2020), λ = f²·(u + v + 1) = f²·(N − k), which
  equals G*Power's only without covariates.

Random design (the predictors are drawn anew with each sample, multivariate normal, as a
replication will meet them): the sample partial correlation controlling k variables in N cases is
distributed as a simple correlation in N − k cases (Fisher, 1924), whose exact density under a
population value ρ is Fisher's (1915); power is the probability that it falls beyond the critical
value of the same t test, integrated numerically. It is slightly lower than the fixed-design
power at small N and is the planning figure (docs/power.md).

References
----------
Faul, F., Erdfelder, E., Buchner, A., & Lang, A.-G. (2009). Statistical power analyses using
G*Power 3.1. *Behavior Research Methods*, 41, 1149–1160.
Fisher, R. A. (1915). Frequency distribution of the values of the correlation coefficient in
samples from an indefinitely large population. *Biometrika*, 10, 507–521.
Fisher, R. A. (1924). The distribution of the partial correlation coefficient. *Metron*, 3,
329–332.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy import integrate, special, stats

from alliance.limits import MAX_N

CONVENTIONS = ("gpower", "pwr")


def f2_from_partial_r(r: float) -> float:
    """Cohen's f² of a term whose partial correlation with the outcome is ``r``."""
    if not -1 < r < 1:
        raise ValueError(f"a partial correlation must lie strictly between -1 and 1, not {r}")
    return r * r / (1 - r * r)


def partial_r_from_f2(f2: float) -> float:
    """The (positive) partial correlation whose Cohen's f² is ``f2``."""
    if not f2 >= 0:
        raise ValueError(f"f² must be 0 or more, not {f2}")
    return math.sqrt(f2 / (1 + f2))


def denominator_df(n: int, k: int) -> int:
    """Residual degrees of freedom of ``post ~ k covariates + alliance`` with an intercept."""
    return n - k - 2


def check_design(n: int, k: int, alpha: float) -> None:
    """ValueError unless N, k and alpha make a testable model."""
    if k < 0:
        raise ValueError(f"the number of covariates cannot be negative ({k})")
    if denominator_df(n, k) < 1:
        raise ValueError(
            f"N = {n} leaves no residual degrees of freedom with {k} covariate(s) and alliance "
            f"(need N ≥ {k + 3})"
        )
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, not {alpha}")


def noncentrality(f2: float, n: int, k: int, convention: str = "gpower") -> float:
    """λ of the F test of the alliance term under ``convention`` (module docstring)."""
    if convention == "gpower":
        return f2 * n
    if convention == "pwr":
        return f2 * (n - k)
    raise ValueError(f"unknown convention {convention!r}; choose one of {', '.join(CONVENTIONS)}")


def fixed_design_power(
    f2: float, n: int, k: int, alpha: float = 0.05, convention: str = "gpower"
) -> float:
    """Power of the alliance test at effect ``f2`` with ``n`` cases and ``k`` covariates."""
    check_design(n, k, alpha)
    v = denominator_df(n, k)
    critical = stats.f.isf(alpha, 1, v)
    lam = noncentrality(f2, n, k, convention)
    if lam == 0:
        return float(stats.f.sf(critical, 1, v))
    return float(stats.ncf.sf(critical, 1, v, lam))


def _log_correlation_density(r: float, rho: float, m: int) -> float:
    """log of Fisher's (1915) density of a sample correlation of ``m`` cases, population ρ."""
    log_norm = (
        math.log(m - 2)
        + special.gammaln(m - 1)
        - 0.5 * math.log(2 * math.pi)
        - special.gammaln(m - 0.5)
    )
    return float(
        log_norm
        + 0.5 * (m - 1) * math.log1p(-rho * rho)
        + 0.5 * (m - 4) * math.log1p(-r * r)
        - (m - 1.5) * math.log1p(-rho * r)
        + math.log(special.hyp2f1(0.5, 0.5, m - 0.5, (1 + rho * r) / 2))
    )


def critical_partial_r(n: int, k: int, alpha: float = 0.05) -> float:
    """|r| beyond which the two-sided t test of the alliance term rejects."""
    check_design(n, k, alpha)
    v = denominator_df(n, k)
    t = stats.t.isf(alpha / 2, v)
    return float(t / math.sqrt(t * t + v))


def random_design_power(partial_r: float, n: int, k: int, alpha: float = 0.05) -> float:
    """Exact power of the alliance test when the predictors are multivariate normal."""
    if not -1 < partial_r < 1:
        raise ValueError(
            f"a partial correlation must lie strictly between -1 and 1, not {partial_r}"
        )
    check_design(n, k, alpha)
    m = n - k  # a partial correlation controlling k variables behaves as a correlation of N − k
    r_c = critical_partial_r(n, k, alpha)

    def density(r: float) -> float:
        return math.exp(_log_correlation_density(r, partial_r, m))

    # Power is one minus the mass inside (−r_c, r_c): one smooth piece of the density, so quad
    # meets its tolerance even where the tails are vanishingly thin. The density peaks near ρ.
    inside = [partial_r] if -r_c < partial_r < r_c else None
    accept = integrate.quad(
        density, -r_c, r_c, points=inside, epsabs=1e-13, epsrel=1e-11, limit=200
    )[0]
    return float(min(1.0, max(0.0, 1.0 - accept)))


def required_n(
    power_at: Callable[[int], float], target: float, k: int, guess: int | None = None
) -> int | None:
    """Smallest N whose power reaches ``target`` (power increases with N), or None by MAX_N.

    The search starts at ``guess`` (default: the smallest N, k + 3), steps outwards in doubling
    steps to a bracket and bisects it. Any start gives the same N; a good one (Fisher's z
    approximation, as ``alliance analyze``'s planning section gives) needs a handful of exact
    power integrals instead of about twenty.
    """
    if not 0 < target < 1:
        raise ValueError(f"the target power must lie between 0 and 1, not {target}")
    smallest = k + 3
    start = smallest if guess is None else min(max(guess, smallest), MAX_N)
    if power_at(start) >= target:  # passes: step down to a failing N
        high, step = start, 1
        low = max(high - step, smallest)
        while low > smallest and power_at(low) >= target:
            high, step = low, step * 2
            low = max(high - step, smallest)
        if low == smallest and power_at(smallest) >= target:
            return smallest
    else:  # fails: step up to a passing N
        low, step = start, 1
        high = min(low + step, MAX_N)
        while high < MAX_N and power_at(high) < target:
            low, step = high, step * 2
            high = min(low + step, MAX_N)
        if high == MAX_N and power_at(MAX_N) < target:
            return None
    while high - low > 1:  # power(low) < target <= power(high)
        middle = (low + high) // 2
        if power_at(middle) >= target:
            high = middle
        else:
            low = middle
    return high
