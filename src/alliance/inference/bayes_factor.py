"""Default JZS Bayes factor for adding the alliance term to the baseline model.

bf10 is the ratio of two Bayes factors against the intercept-only model, for the full model
(baseline [+ covariates] + alliance) and the reduced one (without alliance), as R's
``BayesFactor::lmBF(full) / lmBF(reduced)`` computes it with its default prior scale for
continuous predictors (``rscaleCont = "medium"`` = √2/4).

With continuous predictors, ``lmBF`` gives all of them one shared g (``createGMap``) with the
Zellner–Siow mixture prior g ~ Inverse-Gamma(1/2, r²N/2), and the Bayes factor against the
intercept-only model is the one-dimensional integral (Liang et al., 2008; Rouder & Morey, 2012)

    BF = ∫ (1 + g)^((N − p − 1)/2) (1 + g(1 − R²))^(−(N − 1)/2) IG(g; 1/2, r²N/2) dg,

which ``BayesFactor:::linearReg.R2stat`` evaluates by quadrature over u = log g, centred at the
mode. This module does the same with ``scipy.integrate.quad`` in log space, so a very large BF
does not overflow.

Categorical covariates: ``lmBF`` would give a factor its own g and estimate the Bayes factor by
sampling. Here treatment-coded dummy columns are entered as continuous regressors sharing the one
g, which is what ``regressionBF``/``lmBF`` give when the dummies are passed as numeric columns;
the report's methods paragraph says so when a plan has such a covariate.

References
----------
Liang, F., Paulo, R., Molina, G., Clyde, M. A., & Berger, J. O. (2008). Mixtures of g priors for
Bayesian variable selection. *JASA*, 103, 410–423.
Rouder, J. N., & Morey, R. D. (2012). Default Bayes factors for model selection in regression.
*Multivariate Behavioral Research*, 47, 877–903.
Morey, R. D., & Rouder, J. N. (2024). BayesFactor: Computation of Bayes factors for common
designs. R package.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate, optimize, special

MEDIUM = float(np.sqrt(2.0) / 4.0)  # BayesFactor's rscaleCont = "medium"


def _log_integrand(u: float, n: int, p: int, r2: float, rscale: float) -> float:
    """log of the integrand over u = log g, Jacobian included (as integrand.regression.u)."""
    shape, scale = 0.5, rscale**2 * n / 2.0
    likelihood = 0.5 * ((n - p - 1) * np.logaddexp(0.0, u)
                        - (n - 1) * np.logaddexp(0.0, u + np.log1p(-r2)))  # fmt: skip
    with np.errstate(over="ignore"):  # far left tail: exp(-u) = inf gives density 0, as it is
        decay = scale * np.exp(-u)
    log_prior = shape * np.log(scale) - special.gammaln(shape) - (shape + 1) * u - decay
    return float(likelihood + log_prior + u)


def log_bf_vs_null(r_squared: float, n: int, p: int, rscale: float = MEDIUM) -> float:
    """log BF of a p-predictor regression with R² against the intercept-only model.

    p = 0 is the intercept-only model itself (log BF 0).
    """
    if p == 0:
        return 0.0
    if not 0.0 <= r_squared < 1.0:
        raise ValueError(f"R² must lie in [0, 1), not {r_squared}")
    if p >= n - 1:
        raise ValueError(f"{p} predictors need more than {p + 1} cases, not {n}")

    def f(u: float) -> float:
        return _log_integrand(u, n, p, r_squared, rscale)

    mode = optimize.minimize_scalar(lambda u: -f(u), bounds=(-40.0, 60.0), method="bounded",
                                    options={"xatol": 1e-10}).x  # fmt: skip
    peak = f(mode)
    # ∫ exp(f(u) − peak) du, split at the mode so the quadrature sees the peak.
    total = 0.0
    for low, high in ((-np.inf, mode), (mode, np.inf)):
        value, _ = integrate.quad(
            lambda u: np.exp(f(u) - peak), low, high, epsabs=0.0, epsrel=1e-11, limit=500
        )
        total += value
    return float(np.log(total) + peak)


def _r_squared(y: np.ndarray, X: np.ndarray) -> float:
    """R² of y on X, where X holds an intercept column."""
    coef = np.linalg.lstsq(X, y, rcond=None)[0]
    residual = y - X @ coef
    centred = y - y.mean()
    return float(1.0 - residual @ residual / (centred @ centred))


def log_bf10(y: np.ndarray, X: np.ndarray, term: int, rscale: float = MEDIUM) -> float:
    """log Bayes factor for adding column ``term`` of X (intercept in column 0) to the rest."""
    y = np.asarray(y, dtype="float64")
    X = np.asarray(X, dtype="float64")
    n, k = X.shape
    reduced = np.delete(X, term, axis=1)
    full_bf = log_bf_vs_null(_r_squared(y, X), n, k - 1, rscale)
    reduced_bf = log_bf_vs_null(_r_squared(y, reduced), n, k - 2, rscale) if k > 2 else 0.0
    return full_bf - reduced_bf


def bf10(y: np.ndarray, X: np.ndarray, term: int, rscale: float = MEDIUM) -> float:
    """Bayes factor for adding column ``term`` of X to the model without it (> 1 favours it)."""
    return float(np.exp(log_bf10(y, X, term, rscale)))
