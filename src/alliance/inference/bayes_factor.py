"""Default JZS Bayes factor for adding the alliance term to the baseline model.

bf10 compares the full model (baseline [+ covariates] + alliance) with the reduced model
(without alliance) as the ratio of their Bayes factors against the intercept-only model, which
is what R's ``BayesFactor::lmBF(full) / lmBF(reduced)`` computes with its default prior scale for
continuous predictors, ``rscaleCont = "medium"`` = √2/4.

Prior (Zellner–Siow / JZS; Liang et al., 2008; Rouder & Morey, 2012). The intercept and error
variance get the usual flat / Jeffreys priors; the p standardised slopes get a g-prior whose g is
shared by all continuous predictors (``BayesFactor:::createGMap`` maps every continuous column
to one g) and mixed over g ~ Inverse-Gamma(1/2, r²N/2). Integrating the slopes out leaves a
one-dimensional integral over g for the Bayes factor against the intercept-only model,

    BF = ∫ (1 + g)^((N − p − 1)/2) (1 + g(1 − R²))^(−(N − 1)/2) IG(g; 1/2, r²N/2) dg,

which depends on the data only through N, p and R². ``lmBF`` sends a model whose predictors
are all continuous to ``BayesFactor:::linearReg.R2stat`` (method "quadrature"), which
integrates this over u = log g with R's ``integrate`` at its default rel.tol ≈ 1.2e-4. So lmBF's
value is neither a Monte Carlo nor a Laplace estimate; its ``error`` column is integrate's own
estimate of the relative error (1e-7 to 1.2e-4 on the reference fixtures). What it returns is
closer than that: within 9.5e-7 on log BF of the same integral evaluated at rel.tol 1e-13, and
mostly within 1e-9 (tests/fixtures/r/bayes/bf10.json).

This module evaluates the same integral with ``scipy.integrate.quad`` over u = log g, entirely
in log space (the integrand is scaled by its peak, found from the cubic that the derivative of
the log integrand reduces to, and the likelihood is written so that its two N-sized logs do not
cancel), so a BF beyond a double's range (log BF > 709) is still exact. It agrees with the
rel.tol-1e-13 integral to 5e-11 on log BF (relative 1e-13) and so with lmBF to within lmBF's
own quadrature error, below 1e-6; quadrature warnings start only beyond N = 10⁶ with R² near 1.

Categorical covariates. ``lmBF`` gives a factor its own g (fixed-effect scale rscaleFixed = 1/2,
on BayesFactor's orthonormal sum-to-zero contrasts) separate from the continuous predictors'
g, and with more than one g it estimates the Bayes factor by Monte Carlo integration over the
g's (methods "simple" or "importance"; error 0.3 to 0.9 % of the BF at 100,000 iterations). This implementation instead enters treatment-coded
dummy columns as further continuous regressors sharing the one g, which is exactly what
``regressionBF`` or ``lmBF`` give when the dummies are passed as numeric columns (checked to
1e-6). It is not what ``lmBF`` gives with the covariate as a factor: with episode phase as the
covariate in the article's six models on the two reference data sets, the log bf10 of the
factor version differ from the numeric-dummy version by 0.04 to 0.53 (BF ratios up to 1.7),
in either direction, 8 to 150 times its sampling error. Reports should say the dummies share the continuous g.

References
----------
Liang, F., Paulo, R., Molina, G., Clyde, M. A., & Berger, J. O. (2008). Mixtures of g priors for
Bayesian variable selection. *Journal of the American Statistical Association*, 103, 410–423.
Rouder, J. N., & Morey, R. D. (2012). Default Bayes factors for model selection in regression.
*Multivariate Behavioral Research*, 47, 877–903.
Morey, R. D., & Rouder, J. N. (2022). BayesFactor: Computation of Bayes factors for common
designs (R package version 0.9.12-4.4).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import integrate, special

from alliance.models.ols import COLLINEARITY_TOL

MEDIUM = math.sqrt(2.0) / 4.0  # BayesFactor's rscaleCont = "medium"
# Largest prior scale r accepted: r²N/2 must stay finite (1e308² overflows), and past this the
# prior puts all its mass on effects no data could show, so the BF is the prior's alone.
MAX_RSCALE = 1e6

# Breakpoints around the peak, in units of the peak's width in u = log g: quad then sees the
# peak even when N is large and it is narrow, and the infinite tails start where the integrand
# is already small.
_BREAKS = (-12.0, -4.0, -1.0, 0.0, 1.0, 4.0, 12.0)


def _log_integrand(u: float, n: int, p: int, c: float, scale: float) -> float:
    """log of the integrand over u = log g (Jacobian g included); c = 1 − R², scale = r²N/2.

    The likelihood (1 + g)^((N−p−1)/2) (1 + cg)^(−(N−1)/2) is evaluated as
    (1 + g)^(−p/2) a^(−(N−1)/2) with a = (1 + cg)/(1 + g) = 1 − R² g/(1 + g), so the two
    N-sized logs do not cancel: the rounding error is about N·ε·|log(1 − R²)|, not N·ε·u.
    """
    weight = special.expit(u)  # g / (1 + g)
    if c >= 0.5:
        log_a = math.log1p(-(1.0 - c) * weight)
    else:
        log_a = math.log(special.expit(-u) + c * weight)
    likelihood = -0.5 * p * np.logaddexp(0.0, u) - 0.5 * (n - 1) * log_a
    with np.errstate(over="ignore"):  # far left tail: exp(−u) = inf gives density 0, as it is
        decay = scale * np.exp(-u)
    log_prior = 0.5 * math.log(scale) - special.gammaln(0.5) - 0.5 * u - decay  # IG(½, scale), ×g
    return float(likelihood + log_prior)


def _peak(n: int, p: int, c: float, scale: float) -> tuple[float, float]:
    """Mode of the log integrand in u and the width 1/√(−f'') there.

    Setting the u-derivative to zero and multiplying by 2g(1 + g)(1 + cg) gives the cubic
    −c(p+1)g³ + (N−p−1 − (N−1)c − (1+c) + 2sc)g² + (2s(1+c) − 1)g + 2s = 0 (s = scale), which has a
    positive root since its leading coefficient is negative and its constant positive.
    """
    roots = np.roots([-c * (p + 1), n - p - 1 - (n - 1) * c - (1 + c) + 2 * scale * c,
                      2 * scale * (1 + c) - 1, 2 * scale])  # fmt: skip
    # The global maximum is a real positive root; real parts of any complex pair are only extra
    # candidates, which lose the comparison, so no tolerance on the imaginary parts is needed.
    candidates = roots.real[roots.real > 0]
    mode = max(np.log(candidates), key=lambda u: _log_integrand(u, n, p, c, scale))
    g = math.exp(mode)
    curvature = (0.5 * (n - p - 1) * g / (1 + g) ** 2 - 0.5 * (n - 1) * c * g / (1 + c * g) ** 2
                 - scale / g)  # fmt: skip
    return float(mode), 1.0 / math.sqrt(max(-curvature, 1e-12))


def _log_bf_vs_null(c: float, n: int, p: int, rscale: float) -> float:
    """log BF against the intercept-only model, from c = 1 − R² (kept exact near R² = 1)."""
    if p == 0:
        return 0.0
    if p < 0 or p >= n - 1:
        raise ValueError(f"{p} predictors need more than {p + 1} cases and p ≥ 0, not N = {n}")
    if not 0.0 < c <= 1.0:
        raise ValueError(f"R² must lie in [0, 1), not {1.0 - c}")
    if not 0.0 < rscale <= MAX_RSCALE:
        raise ValueError(f"the prior scale must lie in (0, {MAX_RSCALE:g}], not {rscale}")
    scale = rscale * rscale * n / 2.0
    mode, width = _peak(n, p, c, scale)
    peak = _log_integrand(mode, n, p, c, scale)

    def scaled(u: float) -> float:
        return math.exp(_log_integrand(u, n, p, c, scale) - peak)

    edges = [-math.inf, *(mode + k * width for k in _BREAKS), math.inf]
    total = sum(
        integrate.quad(scaled, low, high, epsabs=0.0, epsrel=1e-10, limit=200)[0]
        for low, high in itertools.pairwise(edges)
    )
    return math.log(total) + peak


def log_jzs_bf_vs_null(r_squared: float, n: int, p: int, rscale: float = MEDIUM) -> float:
    """log JZS Bayes factor of a p-predictor regression with this R² against the intercept-only
    model on N cases (``BayesFactor:::linearReg.R2stat(N, p, R2)$bf``).

    p = 0 is the intercept-only model itself (log BF 0). Requires 0 ≤ R² < 1 and p < N − 1.
    """
    return _log_bf_vs_null(1.0 - r_squared, n, p, rscale)


def jzs_bf_vs_null(r_squared: float, n: int, p: int, rscale: float = MEDIUM) -> float:
    """The Bayes factor of :func:`log_jzs_bf_vs_null` itself (inf beyond a double's range)."""
    return _exp(log_jzs_bf_vs_null(r_squared, n, p, rscale))


def _exp(log_value: float) -> float:
    try:
        return math.exp(log_value)
    except OverflowError:
        return math.inf


def _one_minus_r_squared(y: np.ndarray, X: np.ndarray) -> float:
    """RSS / TSS of y on X (X holds an intercept), by QR: 1 − R², accurate even when R² ≈ 1.

    Columns that ``fit_ols`` would call collinear (R's lm tolerance) are refused: lmBF would
    still count them in p while lm drops them, which is no Bayes factor anyone should report.
    """
    q, r = np.linalg.qr(X)
    if np.any(np.abs(np.diag(r)) <= COLLINEARITY_TOL * np.linalg.norm(X, axis=0)):
        raise ValueError("the Bayes factor needs linearly independent columns of X")
    residual = y - q @ (q.T @ y)
    centred = y - y.mean()
    return min(float(residual @ residual / (centred @ centred)), 1.0)  # R² ≥ 0 up to rounding


def log_bf10(y: np.ndarray, X: np.ndarray, term: int, rscale: float = MEDIUM) -> float:
    """log Bayes factor for adding column ``term`` of X to the model of the other columns.

    X holds the intercept column (any constant column) and p non-intercept columns; the full
    model has p predictors and the reduced one p − 1, both on all N rows, as
    ``lmBF(full) / lmBF(reduced)``. Positive values favour including the term.
    """
    y = np.asarray(y, dtype="float64")
    X = np.asarray(X, dtype="float64")
    if y.ndim != 1 or X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise ValueError(
            f"y must be a vector with one entry per row of X, not {y.shape}, {X.shape}"
        )
    n, k = X.shape
    constant = np.flatnonzero(np.all(X[:1] == X, axis=0) & (X[0] != 0))
    if len(constant) != 1:
        raise ValueError("X must hold exactly one intercept (constant, non-zero) column")
    if not (0 <= term < k) or term == constant[0]:
        raise ValueError(f"term must be a non-intercept column of X, not {term}")
    if not np.all(np.isfinite(y)) or not np.all(np.isfinite(X)) or np.ptp(y) == 0:
        raise ValueError("y and X must be finite and y must vary")
    reduced = np.delete(X, term, axis=1)
    full = _log_bf_vs_null(_one_minus_r_squared(y, X), n, k - 1, rscale)
    return full - _log_bf_vs_null(_one_minus_r_squared(y, reduced), n, k - 2, rscale)


def bf10(y: np.ndarray, X: np.ndarray, term: int, rscale: float = MEDIUM) -> float:
    """Bayes factor for adding column ``term`` of X (> 1 favours it; inf past a double's range)."""
    return _exp(log_bf10(y, X, term, rscale))


def bf01(y: np.ndarray, X: np.ndarray, term: int, rscale: float = MEDIUM) -> float:
    """Bayes factor for leaving column ``term`` of X out: 1 / bf10 (> 1 favours the null)."""
    return _exp(-log_bf10(y, X, term, rscale))
