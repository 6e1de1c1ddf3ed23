"""Checks of a fitted linear model's assumptions and of single participants' influence.

At n ≈ 20 one participant can carry a result, so each model is reported with: normality of the
residuals (Shapiro–Wilk), constancy of their variance (Koenker's studentised Breusch–Pagan
test), collinearity of the predictors (variance inflation factors) and each case's Cook's
distance, naming the participants above the conventional 4/n cut-off. The numbers agree with
R's ``shapiro.test``, ``lmtest::bptest``, ``car::vif`` and ``cooks.distance``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from alliance.models.ols import OLSFit


def _projection_residuals(Z: np.ndarray, v: np.ndarray) -> np.ndarray:
    """v minus its least-squares projection on the columns of Z (by QR)."""
    q, _ = np.linalg.qr(Z, mode="reduced")
    return v - q @ (q.T @ v)


def shapiro_wilk(residuals: np.ndarray) -> dict[str, float]:
    """Shapiro–Wilk test of normality: ``{"W", "p"}``, as R's ``shapiro.test``.

    Both use Royston's (1995) algorithm AS R94.

    References
    ----------
    Shapiro, S. S., & Wilk, M. B. (1965). An analysis of variance test for normality (complete
    samples). *Biometrika*, 52, 591–611.
    Royston, P. (1995). Remark AS R94: A remark on algorithm AS 181: The W-test for normality.
    *Applied Statistics*, 44, 547–551.
    """
    result = stats.shapiro(np.asarray(residuals, dtype=np.float64))
    return {"W": float(result.statistic), "p": float(result.pvalue)}


def breusch_pagan(residuals: np.ndarray, X: np.ndarray) -> dict[str, float]:
    """Koenker's studentised Breusch–Pagan test of constant error variance.

    The squared residuals, centred, are regressed on the columns of the design matrix X
    (intercept included); the statistic n·R² of that regression is referred to a chi-squared
    distribution on (columns of X − 1) degrees of freedom. This is ``lmtest::bptest(fit)`` with
    its default ``studentize = TRUE``, which unlike the original test does not assume normal
    errors.

    Returns
    -------
    dict
        ``statistic``, ``df`` and ``p``.

    References
    ----------
    Breusch, T. S., & Pagan, A. R. (1979). A simple test for heteroscedasticity and random
    coefficient variation. *Econometrica*, 47, 1287–1294.
    Koenker, R. (1981). A note on studentizing a test for heteroscedasticity. *Journal of
    Econometrics*, 17, 107–112.
    """
    e = np.asarray(residuals, dtype=np.float64)
    Z = np.asarray(X, dtype=np.float64)
    n, k = Z.shape
    w = e**2 - float(e @ e) / n
    explained = w - _projection_residuals(Z, w)
    statistic = n * float(explained @ explained) / float(w @ w)
    df = k - 1
    return {"statistic": statistic, "df": float(df), "p": float(stats.chi2.sf(statistic, df))}


def variance_inflation(X: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """Variance inflation factor 1 / (1 − R²ⱼ) of every non-constant column of X.

    R²ⱼ is from the regression of column j on all the other columns (intercept included). For
    one-column terms this is ``car::vif``; for a factor coded by several dummy columns car
    reports one generalised VIF per term instead, whereas this gives one value per column.

    References
    ----------
    Fox, J., & Monette, G. (1992). Generalized collinearity diagnostics. *Journal of the
    American Statistical Association*, 87, 178–183.
    """
    Z = np.asarray(X, dtype=np.float64)
    constant = np.ptp(Z, axis=0) == 0
    out = {}
    for j in range(Z.shape[1]):
        if constant[j]:
            continue  # the intercept
        column = Z[:, j]
        rest = np.delete(Z, j, axis=1)
        residual = _projection_residuals(rest, column)
        centred = column - column.mean()
        # 1 / (1 - R²) = total sum of squares / residual sum of squares
        out[str(names[j])] = float(centred @ centred) / float(residual @ residual)
    return out


def cooks_distance(fit: OLSFit) -> np.ndarray:
    """Cook's distance of every case: the shift of all fitted values when it is left out.

    D_i = e_i² h_i / (p σ² (1 − h_i)²), as R's ``cooks.distance``.

    References
    ----------
    Cook, R. D. (1977). Detection of influential observation in linear regression.
    *Technometrics*, 19, 15–18.
    """
    p = len(fit.names)
    h = fit.leverage
    return (fit.residuals / (fit.sigma * (1.0 - h))) ** 2 * h / p


def diagnostics(fit: OLSFit, X: np.ndarray, participant_ids: Sequence[str]) -> dict[str, Any]:
    """Assumption checks and influence of one fitted model.

    Parameters
    ----------
    fit
        The model, from :func:`alliance.models.ols.fit_ols`.
    X
        The design matrix it was fitted on.
    participant_ids
        The participant of each row of X.

    Returns
    -------
    dict
        ``shapiro`` (``W``, ``p``), ``breusch_pagan`` (``statistic``, ``df``, ``p``), ``vif``
        (term name → VIF, intercept excluded), ``cooks_distance`` (array, row order),
        ``cooks_threshold`` (4/n) and ``influential``: the participants whose Cook's distance
        exceeds 4/n, largest first, as ``{"participant_id", "cooks_distance"}``.

    References
    ----------
    Bollen, K. A., & Jackman, R. W. (1990). Regression diagnostics: An expository treatment
    of outliers and influential cases. In J. Fox & J. S. Long (Eds.), *Modern Methods of Data
    Analysis* (pp. 257–291). Sage. (The 4/n cut-off.)
    """
    design = np.asarray(X, dtype=np.float64)
    ids = [str(i) for i in participant_ids]
    if design.shape != (fit.n, len(fit.names)) or len(ids) != fit.n:
        raise ValueError(
            f"X must be the fit's design matrix ({fit.n} x {len(fit.names)}) with one participant "
            f"id per row; found X {design.shape} and {len(ids)} ids"
        )
    cooks = cooks_distance(fit)
    threshold = 4.0 / fit.n
    above = np.flatnonzero(cooks > threshold)
    above = above[np.argsort(-cooks[above], kind="stable")]
    return {
        "shapiro": shapiro_wilk(fit.residuals),
        "breusch_pagan": breusch_pagan(fit.residuals, design),
        "vif": variance_inflation(design, fit.names),
        "cooks_distance": cooks,
        "cooks_threshold": threshold,
        "influential": [
            {"participant_id": ids[i], "cooks_distance": float(cooks[i])} for i in above
        ],
    }
