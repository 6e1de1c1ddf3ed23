"""Least squares on many completed datasets at once (imputations stacked on the first axis).

The same QR algebra as :mod:`alliance.models.ols`, vectorised over imputations: what pooling
needs from each fit (estimates, squared standard errors, R², residual df) and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RANK_TOL = 1e-7  # R's lm() tolerance, as alliance.models.ols


@dataclass(frozen=True, eq=False)
class BatchFit:
    estimate: np.ndarray  # imputations × coefficients
    variance: np.ndarray  # squared standard errors, same shape
    r_squared: np.ndarray  # per imputation
    adj_r_squared: np.ndarray
    n: int
    df_resid: int


def batch_ols(y: np.ndarray, X: np.ndarray) -> BatchFit:
    """OLS of y (m × n) on X (m × n × p) for each of the m datasets (intercept in X)."""
    _, n, p = X.shape
    if n <= p:
        raise ValueError(f"{n} cases for {p} coefficients")
    q, r = np.linalg.qr(X)
    diag = np.abs(np.diagonal(r, axis1=1, axis2=2))
    norms = np.linalg.norm(X, axis=1)
    if np.any(diag <= RANK_TOL * np.maximum(norms, 1e-300)):
        raise ValueError("its predictors are collinear in at least one completed dataset")
    r_inv = np.linalg.inv(r)
    qty = np.einsum("mnp,mn->mp", q, y)
    estimate = np.einsum("mpq,mq->mp", r_inv, qty)
    fitted = np.einsum("mnp,mp->mn", X, estimate)
    rss = ((y - fitted) ** 2).sum(axis=1)
    df = n - p
    sigma2 = rss / df
    variance = sigma2[:, None] * (r_inv**2).sum(axis=2)
    tss = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    r2 = 1.0 - rss / tss
    adj = 1.0 - (1.0 - r2) * (n - 1) / df
    return BatchFit(estimate, variance, r2, adj, n, df)
