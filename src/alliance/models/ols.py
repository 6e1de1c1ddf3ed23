"""Ordinary least squares by QR decomposition, with the statistics the article reports.

One fit gives everything R's ``summary(lm(...))`` and ``confint`` give for the model (estimates,
standard errors, t, p, CIs, R², adjusted R²) plus standardised betas, residuals, fitted values
and leverages. The alliance term's effect sizes over the baseline-only model (partial r, ΔR²,
Cohen's f²) come from :func:`alliance_term_stats`.

The normal equations are never formed: with X = QR, b = R⁻¹Q'y, (X'X)⁻¹ = R⁻¹R⁻ᵀ and the hat
values are the row sums of Q², which keeps full accuracy when predictors are nearly collinear
(Golub & Van Loan 2013, *Matrix Computations*, 4th ed., §5.3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy import stats

# A column counts as collinear when what is left of it after projecting out the earlier
# columns is below this fraction of its norm: the tolerance of R's lm() (dqrdc2, tol = 1e-7),
# so a design R fits is fitted here and one R would drop a column from is refused.
COLLINEARITY_TOL = 1e-7
# A fit whose residual sum of squares is below this fraction of the outcome's total sum of squares
# (residual SD under a millionth of the outcome's SD) is exact up to rounding: its standard errors,
# t and p are rounding noise and 1 − R² is zero or nearly, so the model is refused. R's lm()
# fits it with the warning "essentially perfect fit: summary may be unreliable". No two measured
# scores agree that closely; an outcome that is a copy or a linear function of a predictor does.
PERFECT_FIT_TOL = 1e-12
# Values beyond this magnitude square past a double's range when sums of squares are formed.
MAX_ABS_VALUE = 1e150


@dataclass(frozen=True, eq=False)
class OLSFit:
    """The result of one least-squares fit; arrays are read-only.

    Per-term arrays (``estimate`` … ``std_beta``) follow the order of ``names``; per-case arrays
    (``residuals``, ``fitted``, ``leverage``) the order of the rows of X.
    """

    names: tuple[str, ...]
    estimate: np.ndarray
    std_error: np.ndarray
    t: np.ndarray
    p: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    std_beta: np.ndarray
    r_squared: float
    adj_r_squared: float
    df_resid: int
    sigma: float
    residuals: np.ndarray
    fitted: np.ndarray
    leverage: np.ndarray
    n: int
    rss: float
    vcov: np.ndarray
    alpha: float = 0.05

    def index(self, name: str) -> int:
        """Position of term ``name`` in ``names``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no term {name!r} in the model; terms are {list(self.names)}") from None


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a


def _constant_columns(X: np.ndarray) -> np.ndarray:
    """Columns that take a single value: the intercept (there is no slope to standardise)."""
    return np.ptp(X, axis=0) == 0


def _collinear_message(X: np.ndarray, names: Sequence[str]) -> str:
    """Name every column that is a linear combination of the columns before it.

    Columns are taken in order, as R's lm() does: a column is kept when it adds a direction the
    kept columns do not span, so the message names the later column of a collinear set.
    """
    kept: list[int] = []
    problems = []
    for j in range(X.shape[1]):
        column = X[:, j]
        norm = float(np.linalg.norm(column))
        if norm == 0.0:
            problems.append(f"'{names[j]}' is all zeros")
            continue
        if kept:
            coef, *_ = np.linalg.lstsq(X[:, kept], column, rcond=None)
            left = float(np.linalg.norm(column - X[:, kept] @ coef))
        else:
            coef, left = np.zeros(0), norm
        if left > COLLINEARITY_TOL * norm:
            kept.append(j)
            continue
        scale = np.abs(coef) * np.linalg.norm(X[:, kept], axis=0)
        parts = [f"'{names[k]}'" for k, s in zip(kept, scale, strict=True) if s > 1e-7 * norm]
        problems.append(f"'{names[j]}' is a linear combination of {', '.join(parts)}")
    return (
        "the design matrix is rank deficient, so not every coefficient can be estimated: "
        + "; ".join(problems)
        + ". Drop or recode the collinear column(s)."
    )


def _check_inputs(y: np.ndarray, X: np.ndarray, names: Sequence[str]) -> None:
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (cases x terms); found {X.ndim} dimension(s)")
    n, p = X.shape
    if y.shape != (n,):
        raise ValueError(f"y must be 1-D with one value per row of X ({n}); found shape {y.shape}")
    if len(names) != p:
        raise ValueError(f"names has {len(names)} entries for {p} columns of X")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(X))):
        raise ValueError("y and X must be finite: select complete cases before fitting")
    if max(float(np.max(np.abs(y), initial=0.0)), float(np.max(np.abs(X), initial=0.0))) > (
        MAX_ABS_VALUE
    ):
        raise ValueError(
            f"values beyond ±{MAX_ABS_VALUE:g} cannot be fitted (their squares overflow): "
            "check the data for a wrong value or unit"
        )
    if n <= p:
        raise ValueError(
            f"too few cases: n = {n} for {p} coefficients leaves no residual degrees of freedom "
            "(need n > number of terms)"
        )


def fit_ols(y: np.ndarray, X: np.ndarray, names: Sequence[str], alpha: float = 0.05) -> OLSFit:
    """Fit y = Xb + e by least squares and return the usual inference, as R's ``lm`` does.

    Parameters
    ----------
    y
        Response, shape (n,).
    X
        Design matrix, shape (n, p), including the intercept column of ones when the model has
        one. R² is centred (about the mean of y) when X has a constant column and uncentred
        otherwise, as in ``summary.lm``.
    names
        One name per column of X.
    alpha
        Confidence intervals have level 1 − alpha.

    Returns
    -------
    OLSFit
        Estimates, standard errors, t and two-sided p on n − p degrees of freedom, t-based
        confidence intervals, standardised betas b·sd(x)/sd(y) (sample SDs; NaN for a constant
        column), R², adjusted R², residual SD ``sigma``, residuals, fitted values, leverages and
        the covariance matrix of the estimates sigma²(X'X)⁻¹.

    Raises
    ------
    ValueError
        When n ≤ p, when values are missing, infinite or beyond ±1e150, when a column of X
        is a linear combination of the others (the message names it), or when the fit is exact
        (residual sum of squares at most 1e-12 of the total: R² = 1 up to rounding).

    References
    ----------
    Chambers, J. M. (1992). Linear models. In *Statistical Models in S*, ch. 4. Wadsworth.
    Golub, G. H., & Van Loan, C. F. (2013). *Matrix Computations* (4th ed.), §5.3.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.column_stack([np.ones(5), [1.0, 2.0, 3.0, 4.0, 5.0]])
    >>> fit = fit_ols(np.array([2.1, 3.9, 6.2, 7.8, 10.1]), X, ["intercept", "x"])
    >>> np.round(fit.estimate, 3)
    array([0.05, 1.99])
    >>> round(fit.r_squared, 4)
    0.9973
    """
    y = np.asarray(y, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    _check_inputs(y, X, names)
    n, p = X.shape

    if np.ptp(y) == 0:
        raise ValueError(
            f"the response is the same ({y[0]:g}) for all {n} cases, so there is nothing to explain"
        )
    q, r = np.linalg.qr(X, mode="reduced")
    # |r_jj| is what is left of column j after projecting out columns 0..j-1: R's criterion.
    if np.any(np.abs(np.diag(r)) <= COLLINEARITY_TOL * np.linalg.norm(X, axis=0)):
        raise ValueError(_collinear_message(X, names))

    effects = q.T @ y
    estimate = scipy.linalg.solve_triangular(r, effects)
    fitted = q @ effects
    residuals = y - fitted
    df_resid = n - p
    rss = float(residuals @ residuals)
    constant = _constant_columns(X)
    has_intercept = bool(np.any(constant & (X[0] != 0)))
    total = float(np.sum((y - y.mean()) ** 2)) if has_intercept else float(y @ y)
    if rss <= PERFECT_FIT_TOL * total:
        raise ValueError(
            f"the model fits the {n} cases exactly (R² = 1, no residual variance), so its "
            "standard errors, t and p cannot be estimated; the outcome is a linear function of "
            "the predictors (is a column a copy of another, or the outcome itself?)"
        )
    sigma2 = rss / df_resid
    r_inv = scipy.linalg.solve_triangular(r, np.eye(p))
    unscaled = r_inv @ r_inv.T
    vcov = sigma2 * unscaled
    std_error = np.sqrt(sigma2 * np.diag(unscaled))
    t = estimate / std_error
    p_value = 2.0 * stats.t.sf(np.abs(t), df_resid)
    half_width = stats.t.ppf(1.0 - alpha / 2.0, df_resid) * std_error

    r_squared = 1.0 - rss / total
    adj_r_squared = 1.0 - (1.0 - r_squared) * (n - int(has_intercept)) / df_resid

    sd_x = X.std(axis=0, ddof=1)
    std_beta = np.where(constant, np.nan, estimate * sd_x / y.std(ddof=1))

    return OLSFit(
        names=tuple(str(name) for name in names),
        estimate=_readonly(estimate),
        std_error=_readonly(std_error),
        t=_readonly(t),
        p=_readonly(p_value),
        ci_low=_readonly(estimate - half_width),
        ci_high=_readonly(estimate + half_width),
        std_beta=_readonly(std_beta),
        r_squared=r_squared,
        adj_r_squared=adj_r_squared,
        df_resid=df_resid,
        sigma=float(np.sqrt(sigma2)),
        residuals=_readonly(residuals),
        fitted=_readonly(fitted),
        leverage=_readonly(np.sum(q**2, axis=1)),
        n=n,
        rss=rss,
        vcov=_readonly(vcov),
        alpha=alpha,
    )


def alliance_term_stats(full: OLSFit, reduced: OLSFit, term: str) -> dict[str, float]:
    """Effect sizes of one term: partial r, ΔR² over the model without it, and Cohen's f².

    Parameters
    ----------
    full
        The model with the term (e.g. ``post ~ baseline + wai``).
    reduced
        The same model without the term, fitted on the same cases (``post ~ baseline``).
    term
        Name of the term in ``full``.

    Returns
    -------
    dict
        ``partial_r`` = t / sqrt(t² + df_resid) of the term in ``full`` (its sign);
        ``delta_r_squared`` = R²(full) − R²(reduced);
        ``f_squared`` = ΔR² / (1 − R²(full)), Cohen's local effect size.

    References
    ----------
    Cohen, J., Cohen, P., West, S. G., & Aiken, L. S. (2003). *Applied Multiple
    Regression/Correlation Analysis for the Behavioral Sciences* (3rd ed.), §3.5.
    Selya, A. S., et al. (2012). A practical guide to calculating Cohen's f², a measure of local
    effect size, from PROC MIXED. *Frontiers in Psychology*, 3, 111.
    """
    j = full.index(term)
    if term in reduced.names:
        raise ValueError(f"the reduced model must not contain {term!r}")
    if reduced.n != full.n:
        raise ValueError(
            f"the models must be fitted on the same cases: full has n = {full.n}, "
            f"reduced has n = {reduced.n}"
        )
    t = float(full.t[j])
    delta = full.r_squared - reduced.r_squared
    unexplained = 1.0 - full.r_squared  # > 0: fit_ols refuses exact fits
    return {
        "partial_r": t / float(np.sqrt(t * t + full.df_resid)),
        "delta_r_squared": delta,
        "f_squared": delta / unexplained if unexplained > 0 else math.inf,
    }
