"""Multiple imputation by chained equations with predictive mean matching (as ``mice``'s pmm).

Each imputation is one chain, seeded by its own child of ``SeedSequence(seed)`` (spawned in
imputation order), so imputation j is the same numbers whether the chains run in one process
or in several: the result depends on the seed and the data only.

One chain (van Buuren 2018, *Flexible Imputation of Missing Data*, 2nd ed., §3.4 and §4.5):

1. every missing value starts as a random draw from the observed values of its variable
   (``mice``'s initialisation);
2. for ``iterations`` rounds, each incomplete variable in turn (the visit sequence: the order of
   the columns, left to right, as ``mice``'s default "roman") is imputed from all the other
   variables at their current values, plus any complete predictors:
   - least squares on the cases where the variable is observed gives ĉ, the residual sum of
     squares and V = (X'X)⁻¹ (from the QR factor; a ridge of 1e-5·diag(X'X) when X is rank
     deficient, as ``mice``'s ``estimice``);
   - a Bayesian draw: σ* = sqrt(RSS / χ²(df)), df = max(n_obs − p, 1), β* = ĉ + σ* L z with
     L L' = V and z standard normal (``mice``'s ``.norm.draw``);
   - type-1 matching: observed cases are predicted with ĉ, missing cases with β*;
   - the donor rule: for each missing case, the ``donors`` (d = 5) observed cases whose
     predicted means are closest to its own (ties: the lower predicted mean first, then the
     earlier row); one of them, drawn uniformly, gives its observed value.
3. the values after the last round are the completed dataset.

After every round the mean and SD of each variable's imputed values are recorded per chain: the
convergence traces (``mice``'s chainMean and, as an SD, chainVar).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

RIDGE = 1e-5  # mice's ridge penalty, used only when the predictors are collinear
RANK_TOL = 1e-7  # as lm: a column whose QR diagonal is below this share of its norm is dependent


@dataclass(frozen=True, eq=False)
class Imputed:
    """Completed datasets and what the report shows about them.

    ``values`` is imputations × cases × variables; ``missing`` marks the imputed cells;
    ``chain_mean`` and ``chain_sd`` are variables × iterations × imputations (NaN for a variable
    with nothing missing; the SD is NaN with one value missing).
    """

    columns: tuple[str, ...]
    observed: np.ndarray
    missing: np.ndarray
    values: np.ndarray
    chain_mean: np.ndarray
    chain_sd: np.ndarray
    iterations: int
    donors: int

    @property
    def imputations(self) -> int:
        return int(self.values.shape[0])


def donor_pool(yhat_obs: np.ndarray, yhat_mis: np.ndarray, donors: int) -> np.ndarray:
    """Indices (into the observed cases) of each missing case's ``donors`` nearest donors.

    Nearest by |ŷ_obs − ŷ_mis|; at equal distance the observed case with the lower ŷ comes
    first, then the earlier one. Returns an array of shape (missing cases, min(donors, n_obs)),
    nearest first.
    """
    yhat_obs = np.asarray(yhat_obs, dtype="float64")
    yhat_mis = np.asarray(yhat_mis, dtype="float64")
    n_obs = len(yhat_obs)
    d = min(donors, n_obs)
    rows = np.arange(n_obs)
    # The d nearest lie within d places either side of where the target would be inserted in
    # ŷ order. Below the target the nearest are the highest ŷ and, among equal ŷ, the earliest
    # rows must be nearest the insertion point (rows descending); above it, rows ascending.
    below = np.lexsort((-rows, yhat_obs))
    above = np.lexsort((rows, yhat_obs))
    where = np.searchsorted(yhat_obs[above], yhat_mis, side="left")
    left = where[:, None] + np.arange(-d, 0)[None, :]
    right = where[:, None] + np.arange(0, d)[None, :]
    candidates = np.concatenate(
        [below[np.clip(left, 0, n_obs - 1)], above[np.clip(right, 0, n_obs - 1)]], axis=1
    )
    inside = np.concatenate([left >= 0, right < n_obs], axis=1)
    distance = np.where(inside, np.abs(yhat_obs[candidates] - yhat_mis[:, None]), np.inf)
    ranked = np.lexsort((candidates, yhat_obs[candidates], distance), axis=-1)[:, :d]
    return np.take_along_axis(candidates, ranked, axis=1)


def _regression(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, int]:
    """ĉ, a Cholesky factor of (X'X)⁻¹, RSS and df of y on X (ridge when X is collinear)."""
    n, p = X.shape
    df = max(n - p, 1)
    q, r = np.linalg.qr(X)
    diag = np.abs(np.diag(r))
    norms = np.linalg.norm(X, axis=0)
    if n >= p and np.all(diag > RANK_TOL * np.maximum(norms, 1e-300)):
        # R is p × p with p a handful of variables: its inverse is cheaper than a
        # triangular-solve call and as accurate at this size.
        factor = np.linalg.inv(r)  # (X'X)⁻¹ = R⁻¹R⁻ᵀ, so R⁻¹ is a square root
        coef = factor @ (q.T @ y)
    else:
        xtx = X.T @ X
        v = np.linalg.inv(xtx + np.diag(RIDGE * np.diag(xtx)))
        coef = v @ (X.T @ y)
        factor = np.linalg.cholesky((v + v.T) / 2.0)
    residual = y - X @ coef
    return coef, factor, float(residual @ residual), df


def pmm_draw(
    X_obs: np.ndarray,
    y_obs: np.ndarray,
    X_mis: np.ndarray,
    donors: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Imputed values for the missing cases: Bayesian draw, type-1 matching, d donors."""
    coef, factor, rss, df = _regression(X_obs, y_obs)
    sigma = np.sqrt(rss / rng.chisquare(df))
    beta = coef + sigma * (factor @ rng.standard_normal(len(coef)))
    pool = donor_pool(X_obs @ coef, X_mis @ beta, donors)
    chosen = pool[np.arange(len(pool)), rng.integers(0, pool.shape[1], len(pool))]
    return y_obs[chosen]


def _chain(
    observed: np.ndarray,
    complete: np.ndarray,
    iterations: int,
    donors: int,
    seed: np.random.SeedSequence,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One imputation: the completed data and its per-round traces (variables × iterations)."""
    rng = np.random.default_rng(seed)
    data = observed.copy()
    missing = np.isnan(observed)
    k = observed.shape[1]
    means = np.full((k, iterations), np.nan)
    sds = np.full((k, iterations), np.nan)
    visit = [j for j in range(k) if missing[:, j].any()]
    for j in visit:
        pool = observed[~missing[:, j], j]
        data[missing[:, j], j] = rng.choice(pool, size=int(missing[:, j].sum()), replace=True)
    ones = np.ones((len(data), 1))
    for it in range(iterations):
        for j in visit:
            miss = missing[:, j]
            X = np.hstack([ones, np.delete(data, j, axis=1), complete])
            data[miss, j] = pmm_draw(X[~miss], data[~miss, j], X[miss], donors, rng)
            means[j, it] = data[miss, j].mean()
            sds[j, it] = data[miss, j].std(ddof=1) if miss.sum() > 1 else np.nan
    return data, means, sds


def _chains(
    observed: np.ndarray,
    complete: np.ndarray,
    iterations: int,
    donors: int,
    seeds: list[np.random.SeedSequence],
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    return [_chain(observed, complete, iterations, donors, s) for s in seeds]


def impute(
    observed: np.ndarray,
    columns: tuple[str, ...],
    imputations: int,
    iterations: int,
    seed: int | tuple[int, ...],
    complete: np.ndarray | None = None,
    donors: int = 5,
    workers: int = 1,
) -> Imputed:
    """``imputations`` completed copies of ``observed`` (cases × variables, NaN = missing).

    ``complete`` holds extra predictors with no missing values (e.g. dummies of a categorical
    covariate). Every variable needs at least one observed value (the caller says which do not,
    in the user's terms). ``workers`` > 1 runs the chains in that many processes; the numbers
    do not change.
    """
    observed = np.asarray(observed, dtype="float64")
    n = observed.shape[0]
    complete = np.empty((n, 0)) if complete is None else np.asarray(complete, dtype="float64")
    empty = [c for c, col in zip(columns, observed.T, strict=True) if np.isnan(col).all()]
    if empty:
        raise ValueError(f"no observed value to impute from: {', '.join(empty)}")
    entropy = (seed,) if isinstance(seed, int) else tuple(seed)
    seeds = np.random.SeedSequence(list(entropy)).spawn(imputations)
    if workers > 1 and imputations > 1:
        chunks = [seeds[i::workers] for i in range(workers)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            parts = list(
                pool.map(
                    _chains,
                    *zip(
                        *[(observed, complete, iterations, donors, c) for c in chunks], strict=True
                    ),
                )
            )
        runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [None] * imputations  # type: ignore[list-item]
        for i, part in enumerate(parts):
            for offset, run in enumerate(part):
                runs[i + offset * workers] = run
    else:
        runs = _chains(observed, complete, iterations, donors, seeds)
    return Imputed(
        columns=tuple(columns),
        observed=observed,
        missing=np.isnan(observed),
        values=np.stack([r[0] for r in runs]),
        chain_mean=np.stack([r[1] for r in runs], axis=-1),
        chain_sd=np.stack([r[2] for r in runs], axis=-1),
        iterations=iterations,
        donors=donors,
    )
