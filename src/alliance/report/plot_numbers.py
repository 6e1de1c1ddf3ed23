"""The numbers the report's figures draw: means with t intervals, added-variable residuals,
standardised effects and residuals, normal quantiles. Pure functions, tested against R."""

from __future__ import annotations

import numpy as np
from scipy import stats

from alliance.models.fit import ModelResult


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean and its t-based confidence interval, ignoring missing values.

    Returns ``(mean, low, high, n)``; the interval is NaN for fewer than two values.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return (np.nan, np.nan, np.nan, 0)
    mean = float(x.mean())
    if n < 2:
        return (mean, np.nan, np.nan, n)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return (mean, mean - half, mean + half, n)


def _residualise(Z: np.ndarray, v: np.ndarray) -> np.ndarray:
    q, _ = np.linalg.qr(Z, mode="reduced")
    return v - q @ (q.T @ v)


def added_variable_residuals(
    y: np.ndarray, X: np.ndarray, term: int
) -> tuple[np.ndarray, np.ndarray]:
    """Residuals of one term and of y on all other columns of X: the added-variable plot.

    The least-squares slope of the y residuals on the term's residuals is the term's
    coefficient in the full model (Frisch–Waugh–Lovell theorem; Cook & Weisberg, 1982,
    *Residuals and Influence in Regression*, §2.3.2).

    Returns
    -------
    (x_residuals, y_residuals)
    """
    X = np.asarray(X, dtype=np.float64)
    rest = np.delete(X, term, axis=1)
    return _residualise(rest, X[:, term]), _residualise(rest, np.asarray(y, dtype=np.float64))


def standardised_effect(model: ModelResult) -> tuple[float, float, float]:
    """β of the alliance term with its confidence interval: b and its CI times sd(x)/sd(y).

    The SDs are the sample SDs (n − 1) of the model's participants, the definition of the
    standardised betas themselves, so β here equals ``fit.std_beta`` of the term.
    """
    j = model.data.term
    scale = float(np.std(model.data.X[:, j], ddof=1) / np.std(model.data.y, ddof=1))
    fit = model.fit
    return (
        float(fit.estimate[j]) * scale,
        float(fit.ci_low[j]) * scale,
        float(fit.ci_high[j]) * scale,
    )


def standardised_residuals(model: ModelResult) -> np.ndarray:
    """Internally studentised residuals e / (σ √(1 − h)), R's ``rstandard``."""
    fit = model.fit
    return np.asarray(fit.residuals / (fit.sigma * np.sqrt(1.0 - fit.leverage)))


def normal_quantiles(n: int) -> np.ndarray:
    """Expected normal order statistics as R's ``qqnorm`` plots them (``ppoints``).

    ppoints(n) = (i − a)/(n + 1 − 2a) with a = 3/8 for n ≤ 10 and 1/2 otherwise (Blom, 1958).
    """
    a = 0.375 if n <= 10 else 0.5
    i = np.arange(1, n + 1, dtype=np.float64)
    return np.asarray(stats.norm.ppf((i - a) / (n + 1 - 2 * a)))
