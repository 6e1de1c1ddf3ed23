"""Permutation p-value of one regression coefficient by Freedman–Lane, vectorised.

The residuals of the model without the alliance term are permuted and added back to its fitted
values; the full model is refitted on each permuted response and the statistic is the pivotal
|t| of the term (Anderson & Legendre, 1999; Winkler et al., 2014 recommend the pivotal statistic).
The design is fixed, so every refit is one matrix product with the QR factor computed once: no
Python loop over permutations calls a model library.

Permutations are drawn in chunks of fixed size, chunk ``c`` from ``default_rng([seed, c])``, so
the result for a seed is the same whatever batch size or thread count computes it. Each chunk
shuffles copies of the residuals themselves, a cache-sized block of rows at a time
(:func:`alliance.inference.streams.blocks`): numpy's Fisher–Yates shuffle of 8-byte values is
its fastest, and no index array is built and gathered through.

References
----------
Freedman, D., & Lane, D. (1983). A nonstochastic interpretation of reported significance levels.
*Journal of Business & Economic Statistics*, 1, 292–298.
Anderson, M. J., & Legendre, P. (1999). An empirical comparison of permutation methods for tests
of partial regression coefficients in a linear model. *Journal of Statistical Computation and
Simulation*, 62, 271–303.
Winkler, A. M., Ridgway, G. R., Webster, M. A., Smith, S. M., & Nichols, T. E. (2014).
Permutation inference for the general linear model. *NeuroImage*, 92, 381–397.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from alliance.inference.streams import Seed, blocks, map_chunks, seeded_chunks


def shuffled_rows(values: np.ndarray, size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """``size`` independent shuffles of ``values`` from one chunk's generator, block by block.

    The shuffle's swaps depend only on the generator and the length, not on the values, so
    shuffling ``arange(n)`` gives the permutations applied to any other values.
    """
    for rows in blocks(size, len(values)):
        block = np.empty((rows, len(values)), dtype=values.dtype)
        block[...] = values
        rng.permuted(block, axis=1, out=block)
        yield block


def permutation_indices(n: int, count: int, seed: Seed) -> Iterator[np.ndarray]:
    """``count`` permutations of ``range(n)`` as (chunk × n) arrays, reproducible for a seed:
    the permutations :func:`freedman_lane_p` applies to the residuals."""
    for size, rng in seeded_chunks(count, seed):
        yield np.vstack(list(shuffled_rows(np.arange(n, dtype=np.int64), size, rng)))


def _qr_solver(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-inverse (p × n) and diag((X'X)⁻¹) from the QR decomposition of X."""
    q, r = np.linalg.qr(X, mode="reduced")
    r_inv = np.linalg.solve(r, np.eye(r.shape[0]))
    return r_inv @ q.T, np.sum(r_inv**2, axis=1)


def t_statistics(Y: np.ndarray, X: np.ndarray, term: int) -> np.ndarray:
    """t of coefficient ``term`` for each row of Y (B × n) regressed on the same X (n × p)."""
    pinv, unscaled = _qr_solver(X)
    coef = Y @ pinv.T
    residuals = Y - coef @ X.T
    df = X.shape[0] - X.shape[1]
    sigma2 = np.sum(residuals**2, axis=1) / df
    return np.asarray(coef[:, term] / np.sqrt(sigma2 * unscaled[term]))


def freedman_lane_p(
    y: np.ndarray,
    X: np.ndarray,
    term: int,
    n_permutations: int = 10_000,
    seed: Seed = 0,
) -> float:
    """Permutation p-value ``(1 + #{|t*| ≥ |t|}) / (1 + B)`` of coefficient ``term``.

    The permuted response is ŷ₀ + Pe₀, with ŷ₀ in the column space of X: its fit on X leaves
    no residual and no alliance coefficient, so t* depends on the permuted residuals alone,
    through v = Q'Pe₀ (X = QR): b* = (R⁻¹v)_term and RSS* = ‖e₀‖² − ‖v‖², a permutation
    leaving ‖Pe₀‖ unchanged. One shuffle and one (B × n)(n × p) product per block, instead of
    building, fitting and residualising every permuted response.
    """
    y = np.asarray(y, dtype="float64")
    X = np.asarray(X, dtype="float64")
    n, p = X.shape
    reduced = np.delete(X, term, axis=1)
    pinv0, _ = _qr_solver(reduced)
    resid0 = y - reduced @ (pinv0 @ y)
    observed = abs(t_statistics(y[None, :], X, term)[0])
    # Ties in |t| are counted as exceedances; a small tolerance keeps the identity permutation's
    # statistic from falling below the observed one by rounding.
    tolerance = 1e-10 * max(observed, 1.0)
    q, r = np.linalg.qr(X, mode="reduced")
    row = np.linalg.solve(r, np.eye(p))[term]  # row ``term`` of R⁻¹
    unscaled = float(row @ row)  # [(X'X)⁻¹]_term,term
    total = float(resid0 @ resid0)

    def exceedances(size: int, rng: np.random.Generator) -> int:
        count = 0
        for permuted in shuffled_rows(resid0, size, rng):
            v = permuted @ q
            rss = np.maximum(total - np.einsum("bj,bj->b", v, v), 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                t_star = (v @ row) / np.sqrt(rss / (n - p) * unscaled)
            count += int(np.count_nonzero(np.abs(t_star) >= observed - tolerance))
        return count

    exceed = sum(map_chunks(exceedances, n_permutations, seed, n))
    return (1 + exceed) / (1 + n_permutations)
