"""Power of the alliance test by Monte Carlo simulation, vectorised (docs/power.md).

Each replication draws a trial of N participants, fits ``post ~ covariates + alliance`` by least
squares and tests the alliance coefficient with the model's t test. Replications are computed in
batches with stacked QR decompositions (no Python loop over replications calling a model
library), drawn in chunks of fixed size, chunk ``c`` from ``default_rng([seed, c])``, so a seed
gives the same power whatever batch size or thread count computes it. For large N a chunk's
trials are drawn in smaller batches from the chunk's stream (:func:`batch_size`, a function of N
and k alone), so memory stays bounded (64 MB of design matrices) at any N.

- Random design: covariates and alliance are drawn anew in every replication (standard normal,
  independent) and post = β·alliance + error, with β = ρ/√(1 − ρ²) so that the population
  partial correlation is ρ. The covariates' own effects and their correlation with alliance are
  left out because they change nothing: the least-squares fit absorbs any covariate effect
  exactly, and the sample partial correlation's distribution depends on ρ, N and k alone
  (Fisher, 1924). ``tests/test_power.py`` checks that invariance by simulation.
- Fixed design: the predictors are drawn once and kept; β is set so that the noncentrality
  β²·SS(alliance | covariates)/σ² equals f²·N, G*Power's convention, against which the simulator
  is tested.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from alliance.inference.streams import CHUNK, Seed, seeded_chunks
from alliance.power.analytic import check_design, denominator_df


@dataclass(frozen=True)
class SimulatedPower:
    power: float
    mc_se: float  # Monte Carlo standard error of ``power``
    simulations: int


def alliance_t(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """t of the last column's coefficient for each stacked regression y[b] ~ X[b] (B × n × p)."""
    q, r = np.linalg.qr(X)
    coef = np.linalg.solve(r, np.einsum("bnp,bn->bp", q, y)[..., None])[..., 0]
    residuals = y - np.einsum("bnp,bp->bn", X, coef)
    df = X.shape[1] - X.shape[2]
    sigma2 = np.einsum("bn,bn->b", residuals, residuals) / df
    # diag((X'X)⁻¹)[last] = squared norm of the last row of R⁻¹, which is 1 / r_pp² alone.
    unscaled = 1.0 / r[:, -1, -1] ** 2
    return np.asarray(coef[:, -1] / np.sqrt(sigma2 * unscaled))


def random_trials(
    rng: np.random.Generator, size: int, n: int, k: int, partial_r: float
) -> tuple[np.ndarray, np.ndarray]:
    """(y, X) of ``size`` random-design trials of ``n``: X holds the intercept, k covariates and
    alliance (last column), all drawn anew; y = β·alliance + error with partial correlation ρ."""
    X = np.empty((size, n, k + 2))
    X[..., 0] = 1.0
    X[..., 1:] = rng.standard_normal((size, n, k + 1))
    beta = partial_r / math.sqrt(1 - partial_r * partial_r)
    return beta * X[..., -1] + rng.standard_normal((size, n)), X


# Design matrices drawn at once stay below this many bytes (their QR takes about as much again),
# so N = 100,000 needs 64 MB, not the 2.4 GB of a whole chunk of 1,024 trials.
BATCH_BYTES = 64 * 2**20


def batch_size(n: int, k: int) -> int:
    """Trials drawn at once for N = ``n`` and ``k`` covariates: a function of the design alone,
    so the draws (and the power) for a seed never depend on the machine."""
    return max(1, min(CHUNK, BATCH_BYTES // (8 * n * (k + 2))))


def _rejections(
    draw: Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]],
    n: int,
    k: int,
    alpha: float,
    simulations: int,
    seed: Seed,
) -> SimulatedPower:
    """Share of ``simulations`` trials, ``draw(rng, size)`` chunk by chunk, whose test rejects."""
    check_design(n, k, alpha)
    if simulations < 1:
        raise ValueError(f"simulations must be 1 or more, not {simulations}")
    critical = stats.t.isf(alpha / 2, denominator_df(n, k))
    rejections = 0
    batch = batch_size(n, k)
    for size, rng in seeded_chunks(simulations, seed):
        # A chunk's trials are drawn in batches from its one stream; below the memory budget
        # the batch is the whole chunk, so small designs draw exactly as an unbatched loop.
        for start in range(0, size, batch):
            y, X = draw(rng, min(batch, size - start))
            rejections += int(np.sum(np.abs(alliance_t(y, X)) > critical))
    power = rejections / simulations
    return SimulatedPower(power, math.sqrt(power * (1 - power) / simulations), simulations)


def simulated_power(
    partial_r: float,
    n: int,
    k: int,
    alpha: float = 0.05,
    simulations: int = 10_000,
    seed: Seed = 0,
) -> SimulatedPower:
    """Random-design power: the predictors are drawn anew in each replication."""

    def draw(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        return random_trials(rng, size, n, k, partial_r)

    return _rejections(draw, n, k, alpha, simulations, seed)


def simulated_power_fixed_design(
    f2: float,
    n: int,
    k: int,
    alpha: float = 0.05,
    simulations: int = 10_000,
    seed: int = 0,
) -> SimulatedPower:
    """Fixed-design power with noncentrality f²·N (G*Power's convention), for checking."""
    _, X = random_trials(np.random.default_rng([seed, 2**31]), 1, n, k, 0.0)
    covariates = X[0, :, :-1]
    alliance = X[0, :, -1]
    residual = alliance - covariates @ np.linalg.lstsq(covariates, alliance, rcond=None)[0]
    beta = math.sqrt(f2 * n / float(residual @ residual))

    def draw(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        y = beta * alliance + rng.standard_normal((size, n))
        return y, np.broadcast_to(X, (size, n, k + 2))

    return _rejections(draw, n, k, alpha, simulations, seed)
