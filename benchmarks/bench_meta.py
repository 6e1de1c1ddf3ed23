"""Random-effects pooling of many studies: O(k) Fisher scoring against the obvious alternatives.

``alliance.meta.pooling.pool`` computes every Fisher-scoring step of REML in O(k) (the
intercept-only projection's traces in closed form) against, measured in the same run:

- the textbook step as metafor writes it, with the k × k matrices W and P = W − Wx(x'Wx)⁻¹x'W
  and the products P·P (O(k³) per step), on a subset of studies (10,000 studies would need
  three 800 MB matrices);
- statsmodels' ``combine_effects`` (Paule–Mandel by its iterated estimator) against
  ``pool(method="pm")`` on all studies, whose τ² are checked to agree.

    python benchmarks/bench_meta.py [--studies 10000] [--matrix-subset 1500]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from statsmodels.stats.meta_analysis import combine_effects

from alliance.meta.pooling import pool


def matrix_reml(y: np.ndarray, v: np.ndarray, threshold: float = 1e-10) -> float:
    """REML τ² by Fisher scoring with explicit k × k matrices, as metafor's rma.uni does it."""
    k = y.size
    x = np.ones((k, 1))
    tau2 = 0.0
    for _ in range(1000):
        w = np.diag(1.0 / (v + tau2))
        wx = w @ x
        p = w - wx @ np.linalg.solve(x.T @ wx, wx.T)
        pp = p @ p
        adj = float((y @ pp @ y - np.trace(p)) / np.trace(pp))
        while tau2 + adj < 0:
            adj /= 2
        tau2 += adj
        if abs(adj) < threshold:
            break
    return tau2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--studies", type=int, default=10_000)
    parser.add_argument("--matrix-subset", type=int, default=1_500)
    args = parser.parse_args()
    rng = np.random.default_rng(16)
    n = rng.integers(15, 400, args.studies)
    v = 1.0 / (n - 3.0)
    y = np.arctanh(0.28) + rng.normal(0, 0.15, args.studies) + rng.normal(0, np.sqrt(v))

    start = time.perf_counter()
    fit = pool(y, v, "reml", "z")
    ours = time.perf_counter() - start
    print(
        f"{args.studies:,} studies, REML: r = {fit.r:.4f}, tau2 = {fit.tau2.value:.6f} "
        f"({fit.tau2.iterations} Fisher-scoring steps)"
    )
    print(f"  alliance pool (O(k) steps)          {ours * 1000:9.1f} ms")
    if ours > 1.0:
        print("  WARNING: over the one-second target for 10,000 studies")

    m = min(args.matrix_subset, args.studies)
    start = time.perf_counter()
    matrix_tau2 = matrix_reml(y[:m], v[:m])
    matrix = time.perf_counter() - start
    start = time.perf_counter()
    small = pool(y[:m], v[:m], "reml", "z")
    ours_small = time.perf_counter() - start
    assert abs(matrix_tau2 - small.tau2.value) < 1e-8, (matrix_tau2, small.tau2.value)
    print(f"  on the first {m:,} studies: k x k matrix Fisher scoring {matrix * 1000:.1f} ms,")
    print(f"    alliance {ours_small * 1000:.1f} ms, ratio {matrix / ours_small:.0f}x")

    start = time.perf_counter()
    pm = pool(y, v, "pm", "z")
    ours_pm = time.perf_counter() - start
    start = time.perf_counter()
    reference = combine_effects(y, v, method_re="iterated")
    statsmodels_pm = time.perf_counter() - start
    assert abs(reference.tau2 - pm.tau2.value) < 1e-6 * max(1.0, pm.tau2.value), (
        reference.tau2,
        pm.tau2.value,
    )
    # statsmodels stops its fixed-point iteration early; alliance brackets the root to 1e-15.
    print(f"  Paule–Mandel, {args.studies:,} studies: statsmodels combine_effects")
    print(f"    {statsmodels_pm * 1000:.1f} ms, alliance {ours_pm * 1000:.1f} ms", end="")
    print(f" (ratio {statsmodels_pm / ours_pm:.2f}x; tau2 agree to 1e-6)")


if __name__ == "__main__":
    main()
