"""Case-resampling bootstrap of one regression coefficient with BCa intervals, vectorised.

Participants (rows of y and X together) are resampled with replacement; each resample's
coefficients come from its own normal equations, solved for a whole chunk of resamples at once
by batched linear algebra on standardised columns (no Python loop over resamples calls a model
library). The interval is the bias-corrected and accelerated (BCa) interval of Efron (1987)
computed exactly as R's ``boot::boot.ci(type = "bca")`` does by default: bias correction from
the share of replicates below the estimate, acceleration from empirical influence values
estimated by regressing the replicates on the resampling frequencies (``boot::empinf``, type
"reg"), and limits read from the order statistics by ``boot``'s normal-quantile interpolation.

Resamples are drawn in chunks of fixed size, chunk ``c`` from ``default_rng([*seed, STREAM, c])``,
so a seed gives the same replicates whatever batch size or thread count computes them, and the
bootstrap stream never coincides with the permutation stream of the same seed. Within a chunk,
resamples are drawn and refitted a cache-sized block at a time
(:func:`alliance.inference.streams.blocks`); only their case frequencies are formed, never a
resampled copy of the data.

A resample whose design is (numerically) rank-deficient has no coefficient, as ``lm`` returns NA;
it is dropped and counted, as ``boot.ci`` drops non-finite replicates.

References
----------
Efron, B. (1987). Better bootstrap confidence intervals. *JASA*, 82, 171–185.
Davison, A. C., & Hinkley, D. V. (1997). *Bootstrap Methods and their Application*, §5.3 and
§2.7.4 (regression estimate of empirical influence). Cambridge University Press.
Canty, A., & Ripley, B. (2024). boot: Bootstrap R (S-Plus) Functions. R package.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy import stats

from alliance.inference.streams import Seed, blocks, map_chunks, seeded_chunks

STREAM = 2  # tag separating bootstrap draws from permutation draws of the same seed
RANK_TOLERANCE = 1e-12  # Hadamard ratio of the standardised X'X below which a resample is
# rank-deficient (lm's pivoting tolerance of 1e-7 is on the scale of the square root of this)
MAX_REGRESSION_N = 200  # above this many cases, acceleration uses the jackknife (cost)


def _stream(seed: Seed) -> tuple[int, ...]:
    key = (seed,) if isinstance(seed, int) else tuple(seed)
    return (*key, STREAM)


def chunk_indices(n: int, size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """One chunk's ``size`` resamples of ``range(n)`` with replacement, block by block."""
    for rows in blocks(size, n):
        yield rng.integers(0, n, size=(rows, n))


def bootstrap_indices(n: int, count: int, seed: Seed) -> Iterator[np.ndarray]:
    """``count`` resamples of ``range(n)`` with replacement, as (chunk × n) arrays: the
    resamples :func:`bootstrap_replicates` refits."""
    for size, rng in seeded_chunks(count, _stream(seed)):
        yield np.vstack(list(chunk_indices(n, size, rng)))


def _standardised(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-constant columns centred and scaled; the scale to turn coefficients back."""
    scale = X.std(axis=0)
    constant = scale == 0
    Z = (X - np.where(constant, 0.0, X.mean(axis=0))) / np.where(constant, 1.0, scale)
    return Z, np.where(constant, 1.0, scale)


def resample_counts(idx: np.ndarray, n: int) -> np.ndarray:
    """How often each case appears in each resample: (B × n) frequencies."""
    return _frequencies(np.array(idx, dtype=np.int64), n)


def _frequencies(idx: np.ndarray, n: int) -> np.ndarray:
    """:func:`resample_counts` of 64-bit indices the caller gives up (offsets added in place)."""
    idx += np.arange(0, len(idx) * n, n, dtype=np.int64)[:, None]
    counts = np.bincount(idx.ravel(), minlength=len(idx) * n).reshape(len(idx), n)
    return counts.astype("float64")


@dataclass(frozen=True)
class FrequencyDesign:
    """What every resample's normal equations are built from, computed once per model.

    A resample's X'X and X'y are frequency-weighted sums over the cases, so a whole block of
    them is one matrix product of the frequencies with the per-case outer products and
    cross-products: no (B × n × p) copy of the design. Columns are standardised first (one
    affine map for every resample) to keep X'X well conditioned; a slope on standardised
    columns divided by the column's scale is the slope on the original ones, and centring
    moves only the intercept, which the alliance term never is.
    """

    per_case: np.ndarray  # (n × (p² + p)): vec(zᵢzᵢ') and zᵢyᵢ of each case
    scale: np.ndarray
    term: int

    @classmethod
    def of(cls, y: np.ndarray, X: np.ndarray, term: int) -> FrequencyDesign:
        Z, scale = _standardised(X)
        p = Z.shape[1]
        outer = (Z[:, :, None] * Z[:, None, :]).reshape(len(Z), p * p)
        return cls(np.hstack([outer, Z * y[:, None]]), scale, term)

    def coefficients(self, counts: np.ndarray) -> np.ndarray:
        """Coefficient ``term`` of each resample given by its case frequencies (rows)."""
        return self.solve(self.sums(counts))

    def sums(self, counts: np.ndarray) -> np.ndarray:
        """Each resample's X'X and X'y (flattened) from its case frequencies."""
        return np.asarray(counts @ self.per_case)

    def solve(self, sums: np.ndarray) -> np.ndarray:
        """Coefficient ``term`` of each resample from its :meth:`sums`; NaN if rank-deficient."""
        p = len(self.scale)
        gram = sums[:, : p * p].reshape(len(sums), p, p)
        rhs = sums[:, p * p :]
        diagonal = np.einsum("bii->bi", gram)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.linalg.det(gram) / np.prod(diagonal, axis=1)
        ok = np.isfinite(ratio) & (ratio > RANK_TOLERANCE)
        coef = np.full(len(sums), np.nan)
        if ok.any():
            solved = np.linalg.solve(gram[ok], rhs[ok][..., None])[..., 0]
            coef[ok] = solved[:, self.term] / self.scale[self.term]
        return coef


def coefficients_from_counts(
    y: np.ndarray, X: np.ndarray, term: int, counts: np.ndarray
) -> np.ndarray:
    """Coefficient ``term`` refitted on each resample given by its case frequencies.

    See :class:`FrequencyDesign`. A resample is rank-deficient (NaN) when the Hadamard ratio
    det(G)/∏diag(G) of its standardised X'X falls below ``RANK_TOLERANCE``.
    """
    return FrequencyDesign.of(y, X, term).coefficients(counts)


def resampled_coefficients(y: np.ndarray, X: np.ndarray, term: int, idx: np.ndarray) -> np.ndarray:
    """Coefficient ``term`` refitted on each resample (rows of ``idx``); NaN if rank-deficient."""
    return coefficients_from_counts(y, X, term, resample_counts(idx, len(y)))


@dataclass(frozen=True)
class Replicates:
    """Bootstrap replicates of one coefficient and what BCa needs besides them."""

    estimate: float
    values: np.ndarray  # (count,), NaN for rank-deficient resamples
    influence: np.ndarray  # (n,) empirical influence values


class InfluenceRegression:
    """Least squares of the replicates on the resampling frequencies, fed chunk by chunk.

    The design of ``boot::empinf.reg`` (an intercept and the frequencies / n of cases 2..n,
    case 1 dropped as the frequencies sum to n) is reduced to its triangular QR factor one
    chunk at a time: the (replicates × n) frequency matrix is never kept, and the solution is
    the one a single least-squares fit of every replicate gives, without squaring the
    condition number as the normal equations would.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.rows = 0
        self._r = np.zeros((0, n + 1))  # R of [1, f₂/n … fₙ/n, t]

    def add(self, values: np.ndarray, frequencies: np.ndarray) -> None:
        finite = np.isfinite(values)
        count = int(finite.sum())
        if count == 0:
            return
        block = np.empty((count, self.n + 1))
        block[:, 0] = 1.0
        block[:, 1:-1] = frequencies[finite][:, 1:] / float(self.n)
        block[:, -1] = values[finite]
        self._r = np.asarray(np.linalg.qr(np.vstack([self._r, block]), mode="r"))
        self.rows += count

    def influence(self) -> np.ndarray:
        """Influence values: case 1's is 0, the others the slopes; all centred."""
        k = min(self.n, len(self._r))
        beta = np.linalg.lstsq(self._r[:k, : self.n], self._r[:k, self.n], rcond=None)[0][1:]
        influence = np.concatenate([[0.0], beta])
        return influence - influence.mean()


def regression_influence(values: np.ndarray, frequencies: np.ndarray) -> np.ndarray:
    """Empirical influence by regression on resampling frequencies, as ``boot::empinf.reg``.

    The finite replicates are regressed on the frequencies / n of cases 2..n (case 1 dropped,
    as the frequencies sum to n); case 1's value is 0 and all are centred.
    """
    regression = InfluenceRegression(frequencies.shape[1])
    regression.add(np.asarray(values, dtype="float64"), np.asarray(frequencies))
    return regression.influence()


def jackknife_influence(y: np.ndarray, X: np.ndarray, term: int) -> np.ndarray:
    """Empirical influence by the jackknife, (n − 1)(mean(t₋ᵢ) − t₋ᵢ), from one QR.

    Leave-one-out coefficients in closed form: b₋ᵢ = b − (X'X)⁻¹xᵢeᵢ/(1 − hᵢ).
    """
    q, r = np.linalg.qr(X, mode="reduced")
    b = scipy.linalg.solve_triangular(r, q.T @ y)
    residuals = y - X @ b
    leverage = np.sum(q**2, axis=1)
    row = scipy.linalg.solve_triangular(r, q.T)[term]
    dropped = b[term] - row * residuals / (1.0 - leverage)
    return (len(y) - 1) * (dropped.mean() - dropped)


def bootstrap_replicates(
    y: np.ndarray, X: np.ndarray, term: int, count: int, seed: Seed = 0
) -> Replicates:
    """``count`` case-resampling replicates of coefficient ``term`` and its influence values.

    Influence values come from the regression on the frequencies (``boot.ci``'s default) up to
    ``MAX_REGRESSION_N`` cases, and from the closed-form jackknife above, where the regression
    would cost (replicates × n²) and its n − 1 slopes would rest on few replicates each.
    """
    y = np.asarray(y, dtype="float64")
    X = np.asarray(X, dtype="float64")
    n = len(y)
    estimate = float(np.linalg.lstsq(X, y, rcond=None)[0][term])
    design = FrequencyDesign.of(y, X, term)
    keep_counts = n <= MAX_REGRESSION_N

    def refit(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        sums, frequencies = [], []
        for idx in chunk_indices(n, size, rng):
            counts = _frequencies(idx, n)
            sums.append(design.sums(counts))
            if keep_counts:
                frequencies.append(counts)
        # One batched solve per chunk: small blocks would pay its fixed cost many times over.
        return design.solve(np.vstack(sums)), np.vstack(frequencies) if keep_counts else None

    chunks = map_chunks(refit, count, _stream(seed), n)
    t = np.concatenate([values for values, _ in chunks]) if chunks else np.empty(0)
    influence = None
    if keep_counts:
        regression = InfluenceRegression(n)
        for values, counts in chunks:  # in draw order, as a serial run adds them
            regression.add(values, np.asarray(counts))
        if regression.rows > n:
            influence = regression.influence()
    if influence is None:
        influence = jackknife_influence(y, X, term)
    return Replicates(estimate=estimate, values=t, influence=influence)


def norm_inter(t: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Quantiles of the replicates by interpolation on the normal scale (``boot:::norm.inter``).

    The order statistic at rank (R + 1)α is used when it is an integer; otherwise the two
    neighbours are interpolated linearly in Φ⁻¹; beyond the ends, the extreme replicate.
    """
    t = np.sort(t[np.isfinite(t)])
    R = len(t)
    rk = (R + 1) * np.asarray(alpha, dtype="float64")
    k = np.trunc(rk).astype(int)
    out = np.empty(len(rk))
    for i, (r, ki) in enumerate(zip(rk, k, strict=True)):
        if ki <= 0:
            out[i] = t[0]
        elif ki >= R:
            out[i] = t[-1]
        elif ki == r:
            out[i] = t[ki - 1]
        else:
            z, z_k, z_k1 = stats.norm.ppf([alpha[i], ki / (R + 1), (ki + 1) / (R + 1)])
            out[i] = t[ki - 1] + (z - z_k) / (z_k1 - z_k) * (t[ki] - t[ki - 1])
    return out


def bca_interval(
    estimate: float, values: np.ndarray, influence: np.ndarray, level: float = 0.95
) -> tuple[float, float]:
    """BCa limits from replicates and influence values, as ``boot:::bca.ci``.

    Returns (nan, nan) where R stops with an error: no finite replicate, every replicate on one
    side of the estimate (infinite bias correction), or no variation in the influence values.
    """
    t = values[np.isfinite(values)]
    if len(t) == 0:
        return float("nan"), float("nan")
    share_below = np.sum(t < estimate) / len(t)
    if not 0.0 < share_below < 1.0:
        return float("nan"), float("nan")
    w = stats.norm.ppf(share_below)
    spread = np.sum(influence**2)
    if spread == 0:
        return float("nan"), float("nan")
    a = np.sum(influence**3) / (6.0 * spread**1.5)
    z = stats.norm.ppf(np.array([(1 - level) / 2, (1 + level) / 2]))
    adjusted = stats.norm.cdf(w + (w + z) / (1.0 - a * (w + z)))
    low, high = norm_inter(t, adjusted)
    return float(low), float(high)


@dataclass(frozen=True)
class BootstrapResult:
    ci_low: float
    ci_high: float
    replicates_used: int
    replicates_dropped: int  # rank-deficient resamples, without a coefficient


def bca_bootstrap(
    y: np.ndarray,
    X: np.ndarray,
    term: int,
    count: int = 10_000,
    seed: Seed = 0,
    level: float = 0.95,
) -> BootstrapResult:
    """BCa interval of coefficient ``term`` from ``count`` case resamples."""
    reps = bootstrap_replicates(y, X, term, count, seed)
    low, high = bca_interval(reps.estimate, reps.values, reps.influence, level)
    used = int(np.isfinite(reps.values).sum())
    return BootstrapResult(low, high, used, count - used)
