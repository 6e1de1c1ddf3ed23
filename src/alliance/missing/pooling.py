"""Rubin's rules with Barnard–Rubin degrees of freedom, exactly as R's ``mice::pool``.

For one coefficient over m completed datasets with estimates Q_i and squared standard errors U_i
(``mice`` 3.15, ``pool.fitlist`` with ``rule = "rubin1987"``):

- qbar = mean(Q_i), ubar = mean(U_i), b = var(Q_i) (denominator m − 1),
  t = ubar + (1 + 1/m) b, the pooled standard error is sqrt(t);
- riv = (1 + 1/m) b / ubar, lambda = (1 + 1/m) b / t;
- df (Barnard & Rubin 1999): lambda floored at 1e-4, dfold = (m − 1) / lambda²,
  dfobs = (dfcom + 1) / (dfcom + 3) · dfcom · (1 − lambda), df = dfold · dfobs / (dfold + dfobs),
  with dfcom = n − p, the complete-data residual degrees of freedom of the linear model;
- fmi = (riv + 2 / (df + 3)) / (riv + 1);
- t statistic qbar / sqrt(t), two-sided p from Student's t on df, CI qbar ± t_{df} sqrt(t).

R² is pooled as ``mice::pool.r.squared`` (Harel 2009): the mean of the Fisher z of sqrt(R²),
back-transformed and squared. Partial r is pooled on Fisher's z the same way (with its sign).

References: Rubin (1987) *Multiple Imputation for Nonresponse in Surveys*; Barnard & Rubin
(1999) Biometrika 86, 948–955; Harel (2009) J. Applied Statistics 36, 1109–1118; van Buuren
(2018) *Flexible Imputation of Missing Data*, 2nd ed., §2.3 and §5.2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

LAMBDA_FLOOR = 1e-4  # mice's barnard.rubin floor: keeps df finite when b = 0


@dataclass(frozen=True, eq=False)
class Pooled:
    """Pooled statistics per coefficient (arrays in the order of the columns given)."""

    m: int
    dfcom: float
    estimate: np.ndarray  # qbar
    ubar: np.ndarray
    b: np.ndarray
    t: np.ndarray  # total variance
    std_error: np.ndarray
    statistic: np.ndarray
    df: np.ndarray
    p: np.ndarray
    riv: np.ndarray
    lambda_: np.ndarray
    fmi: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray


def barnard_rubin_df(m: int, b: np.ndarray, t: np.ndarray, dfcom: float) -> np.ndarray:
    """Barnard–Rubin adjusted degrees of freedom (``mice:::barnard.rubin``)."""
    lam = np.maximum((1.0 + 1.0 / m) * np.asarray(b, dtype="float64") / t, LAMBDA_FLOOR)
    dfold = (m - 1) / lam**2
    if np.isinf(dfcom):
        return dfold
    dfobs = (dfcom + 1.0) / (dfcom + 3.0) * dfcom * (1.0 - lam)
    return dfold * dfobs / (dfold + dfobs)


def rubin_pool(
    estimates: np.ndarray, variances: np.ndarray, dfcom: float, level: float = 0.95
) -> Pooled:
    """Pool ``estimates`` and ``variances`` (m × k: imputations by coefficients)."""
    q = np.atleast_2d(np.asarray(estimates, dtype="float64"))
    u = np.atleast_2d(np.asarray(variances, dtype="float64"))
    m = q.shape[0]
    if m < 2:
        raise ValueError("pooling needs at least two imputations")
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    total = ubar + (1.0 + 1.0 / m) * b
    df = barnard_rubin_df(m, b, total, dfcom)
    with np.errstate(divide="ignore", invalid="ignore"):
        riv = (1.0 + 1.0 / m) * b / ubar
        lam = (1.0 + 1.0 / m) * b / total
        fmi = (riv + 2.0 / (df + 3.0)) / (riv + 1.0)
        se = np.sqrt(total)
        statistic = qbar / se
    p = 2.0 * stats.t.sf(np.abs(statistic), df)
    half = stats.t.ppf(0.5 + level / 2.0, df) * se
    return Pooled(
        m=m,
        dfcom=float(dfcom),
        estimate=qbar,
        ubar=ubar,
        b=b,
        t=total,
        std_error=se,
        statistic=statistic,
        df=df,
        p=p,
        riv=riv,
        lambda_=lam,
        fmi=fmi,
        ci_low=qbar - half,
        ci_high=qbar + half,
    )


@dataclass(frozen=True)
class PooledCorrelation:
    """A correlation-type statistic pooled on Fisher's z (``mice::pool.r.squared``)."""

    estimate: float
    ci_low: float
    ci_high: float
    fmi: float


def pool_fisher_z(r: np.ndarray, n: int) -> PooledCorrelation:
    """Pool correlations ``r`` (one per imputation) on Fisher's z with variance 1/(n − 3).

    As ``pool.scalar(z, 1/(n-3))`` with its default dfcom = Inf, and the interval
    tanh(zbar ± 1.96 sqrt(t)) as ``pool.r.squared`` draws it.
    """
    r = np.clip(np.asarray(r, dtype="float64"), -1.0 + 1e-15, 1.0 - 1e-15)
    z = np.arctanh(r)
    m = len(z)
    pooled = rubin_pool(z[:, None], np.full((m, 1), 1.0 / (n - 3)), dfcom=np.inf)
    zbar, total = float(pooled.estimate[0]), float(pooled.t[0])
    half = 1.96 * np.sqrt(total)
    return PooledCorrelation(
        estimate=float(np.tanh(zbar)),
        ci_low=float(np.tanh(zbar - half)),
        ci_high=float(np.tanh(zbar + half)),
        fmi=float(pooled.fmi[0]),
    )


def pool_r_squared(r_squared: np.ndarray, n: int) -> PooledCorrelation:
    """R² pooled as ``mice::pool.r.squared``: Fisher z of sqrt(R²), mean, back, squared."""
    root = pool_fisher_z(np.sqrt(np.maximum(np.asarray(r_squared, dtype="float64"), 0.0)), n)
    return PooledCorrelation(
        estimate=root.estimate**2,
        ci_low=root.ci_low**2,
        ci_high=root.ci_high**2,
        fmi=root.fmi,
    )
