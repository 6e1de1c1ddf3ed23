"""Leave-one-out influence: would dropping one participant change what the paper says?

At n ≈ 20 a single participant can carry a result. For each model and each participant this
gives DFBETA of the alliance term (the raw change in b when the case is dropped, R's
``dfbeta``), the term's p without the case, and whether dropping that participant from every
model flips any model's survival of the multiplicity correction.

Nothing is refitted n times: every leave-one-out quantity follows from the one QR factor of the
full design by the deletion formulas (Belsley, Kuh & Welsch, 1980, ch. 2; Cook & Weisberg,
1982, §3.4), so the cost grows linearly with the number of participants:

- b₋ᵢ = b − (X'X)⁻¹xᵢeᵢ/(1 − hᵢ);
- s²₋ᵢ = (RSS − eᵢ²/(1 − hᵢ)) / (n − p − 1);
- (X₋ᵢ'X₋ᵢ)⁻¹ = (X'X)⁻¹ + (X'X)⁻¹xᵢxᵢ'(X'X)⁻¹/(1 − hᵢ) (Sherman–Morrison).

A case whose leverage is (nearly) 1 alone determines some coefficient, and the formulas divide
by zero there: such cases are refitted explicitly, dropping the columns the remaining cases
cannot estimate as R's ``lm`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.linalg
from scipy import stats

from alliance.inference.multiplicity import adjust_rows_by_family
from alliance.models.ols import COLLINEARITY_TOL

# Below this 1 − hᵢ the deletion formulas lose their digits to cancellation: refit instead.
REFIT_BELOW = 1e-6


def _term_row(X: np.ndarray, term: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Q of X, row ``term`` of (X'X)⁻¹X', the hat values and the (term, term) of (X'X)⁻¹."""
    q, r = np.linalg.qr(X, mode="reduced")
    r_inv = scipy.linalg.solve_triangular(r, np.eye(r.shape[0]))
    row = q @ r_inv[term]  # (X'X)⁻¹X' = R⁻¹Q', row ``term``
    return q, row, np.sum(q**2, axis=1), float(r_inv[term] @ r_inv[term])


def dfbeta(X: np.ndarray, residuals: np.ndarray, leverage: np.ndarray, term: int) -> np.ndarray:
    """Change in coefficient ``term`` when each case is dropped: (X'X)⁻¹xᵢeᵢ / (1 − hᵢ).

    Computed from the QR factor of X (Belsley, Kuh & Welsch, 1980), as R's ``dfbeta``.
    """
    _, row, _, _ = _term_row(np.asarray(X, dtype="float64"), term)
    return np.asarray(row * residuals / (1.0 - leverage))


def _refit_p(y: np.ndarray, X: np.ndarray, term: int) -> float:
    """p of coefficient ``term`` refitted by least squares, as ``lm`` would.

    Columns the cases cannot estimate (a dummy whose only case was dropped) are left out in
    order, with R's tolerance; the p is NaN when the term itself is one of them or no residual
    degree of freedom is left.
    """
    kept: list[int] = []
    for j in range(X.shape[1]):
        column = X[:, j]
        norm = float(np.linalg.norm(column))
        if norm == 0.0:
            continue
        left = column
        if kept:
            coef = np.linalg.lstsq(X[:, kept], column, rcond=None)[0]
            left = column - X[:, kept] @ coef
        if float(np.linalg.norm(left)) > COLLINEARITY_TOL * norm:
            kept.append(j)
    df = len(y) - len(kept)
    if term not in kept or df <= 0:
        return float("nan")
    Xk = X[:, kept]
    q, r = np.linalg.qr(Xk, mode="reduced")
    coef = scipy.linalg.solve_triangular(r, q.T @ y)
    resid = y - Xk @ coef
    r_inv = scipy.linalg.solve_triangular(r, np.eye(len(kept)))
    j = kept.index(term)
    se = np.sqrt(resid @ resid / df * (r_inv[j] @ r_inv[j]))
    return float(2 * stats.t.sf(abs(coef[j] / se), df))


def leave_one_out_p(y: np.ndarray, X: np.ndarray, term: int) -> np.ndarray:
    """Two-sided t-test p of coefficient ``term`` refitted without each case in turn.

    Closed form from one QR (module docstring); NaN where no residual degree of freedom is left.
    """
    y = np.asarray(y, dtype="float64")
    X = np.asarray(X, dtype="float64")
    n, p = X.shape
    q, row, leverage, unscaled = _term_row(X, term)
    coef = row @ y  # b_term
    residuals = y - q @ (q.T @ y)
    rss = float(residuals @ residuals)
    df = n - 1 - p
    out = np.full(n, np.nan)
    stable = (1.0 - leverage) >= REFIT_BELOW
    if df > 0:
        keep = 1.0 - leverage[stable]
        e = residuals[stable]
        c = row[stable]
        b_without = coef - c * e / keep
        s2_without = np.maximum(rss - e**2 / keep, 0.0) / df
        var_without = s2_without * (unscaled + c**2 / keep)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = b_without / np.sqrt(var_without)
        out[stable] = 2 * stats.t.sf(np.abs(t), df)
    for i in np.flatnonzero(~stable):
        keep_rows = np.arange(n) != i
        out[i] = _refit_p(y[keep_rows], X[keep_rows], term)
    return out


def flip_matrix(
    p_full: Sequence[float],
    p_without: np.ndarray,
    families: Sequence[str],
    method: str,
    alpha: float,
) -> np.ndarray:
    """Whether dropping each participant flips each model's corrected decision.

    ``p_without`` is (participants × models): the alliance p of model k without the
    participant (``p_full[k]`` where the participant is not in model k). The plan's correction
    is applied to every participant's row at once. Returns a boolean array of the same shape.
    """
    full = np.asarray(p_full, dtype="float64")
    survives = adjust_rows_by_family(full[None, :], families, method)[0] < alpha
    again = adjust_rows_by_family(np.asarray(p_without, dtype="float64"), families, method)
    return np.asarray((again < alpha) != survives[None, :])


def conclusion_flips(
    p_full: Sequence[float],
    p_without: Sequence[dict[str, float]],
    families: Sequence[str],
    method: str,
    alpha: float,
) -> dict[str, list[bool]]:
    """For each participant, whether dropping them flips each model's corrected decision.

    ``p_without[k]`` maps participant → the alliance p of model k without them (participants
    not in model k leave its p unchanged). Returns participant → one flag per model.
    """
    participants = sorted({pid for model in p_without for pid in model})
    matrix = np.tile(np.asarray(p_full, dtype="float64"), (len(participants), 1))
    row_of = {pid: i for i, pid in enumerate(participants)}
    for k, model in enumerate(p_without):
        rows = [row_of[pid] for pid in model]
        matrix[rows, k] = list(model.values())
    flips = flip_matrix(p_full, matrix, families, method, alpha)
    return {pid: [bool(f) for f in flips[i]] for i, pid in enumerate(participants)}
