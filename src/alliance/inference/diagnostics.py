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


def variance_inflation(X: np.ndarray, terms: Sequence[str]) -> dict[str, float]:
    """Generalised variance inflation factor of every term of X, as R's ``car::vif``.

    ``terms`` names the term of each column of X; the dummies of a categorical covariate share
    one. For the columns J of a term, GVIF = det(R_JJ) det(R_−J−J) / det(R), with R the
    correlation matrix of the non-constant columns (the intercept left out). For a one-column
    term this is the ordinary VIF 1 / (1 − R²ⱼ); for a factor it does not depend on which level
    is the reference, which per-dummy VIFs do. A term alone in the model gets 1.

    References
    ----------
    Fox, J., & Monette, G. (1992). Generalized collinearity diagnostics. *Journal of the
    American Statistical Association*, 87, 178–183.
    """
    Z = np.asarray(X, dtype=np.float64)
    labels = np.asarray([str(t) for t in terms])
    if len(labels) != Z.shape[1]:
        raise ValueError(f"terms must name each of the {Z.shape[1]} columns; found {len(labels)}")
    varying = np.ptp(Z, axis=0) > 0  # the intercept is constant
    R = np.corrcoef(Z[:, varying], rowvar=False).reshape(int(varying.sum()), -1)
    labels = labels[varying]
    log_det_all = np.linalg.slogdet(R)[1]
    out = {}
    for term in dict.fromkeys(labels):
        inside = labels == term
        log_gvif = (
            np.linalg.slogdet(R[np.ix_(inside, inside)])[1]
            + np.linalg.slogdet(R[np.ix_(~inside, ~inside)])[1]
            - log_det_all
        )
        out[str(term)] = float(np.exp(log_gvif))
    return out


def term_columns(terms: Sequence[str], X: np.ndarray) -> dict[str, int]:
    """How many non-constant columns of X each term has (its degrees of freedom)."""
    varying = np.ptp(np.asarray(X, dtype=np.float64), axis=0) > 0
    out: dict[str, int] = {}
    for term, keep in zip(terms, varying, strict=True):
        if keep:
            out[str(term)] = out.get(str(term), 0) + 1
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


def diagnostics(
    fit: OLSFit,
    X: np.ndarray,
    participant_ids: Sequence[str],
    terms: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Assumption checks and influence of one fitted model.

    Parameters
    ----------
    fit
        The model, from :func:`alliance.models.ols.fit_ols`.
    X
        The design matrix it was fitted on.
    participant_ids
        The participant of each row of X.
    terms
        The term of each column of X (a categorical covariate's dummies share one); by
        default each column is its own term, named as in the fit.

    Returns
    -------
    dict
        ``shapiro`` (``W``, ``p``), ``breusch_pagan`` (``statistic``, ``df``, ``p``), ``vif``
        (term → generalised VIF, intercept excluded), ``vif_df`` (term → its number of
        columns), ``cooks_distance`` (array, row order),
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
    column_terms = list(fit.names if terms is None else terms)
    cooks = cooks_distance(fit)
    threshold = 4.0 / fit.n
    above = np.flatnonzero(cooks > threshold)
    above = above[np.argsort(-cooks[above], kind="stable")]
    return {
        "shapiro": shapiro_wilk(fit.residuals),
        "breusch_pagan": breusch_pagan(fit.residuals, design),
        "vif": variance_inflation(design, column_terms),
        "vif_df": term_columns(column_terms, design),
        "cooks_distance": cooks,
        "cooks_threshold": threshold,
        "influential": [
            {"participant_id": ids[i], "cooks_distance": float(cooks[i])} for i in above
        ],
    }
