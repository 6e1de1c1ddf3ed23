"""Monte Carlo power of the alliance test: the vectorised simulator against a statsmodels loop.

``alliance.power.simulation.simulated_power`` (stacked QR over chunks of replications) against
the obvious alternative, the same draws fitted one at a time with statsmodels OLS in a Python
loop, measured in the same run. The loop runs on a subset and is extrapolated linearly (each fit
costs the same); its t statistics are checked against the engine's on that subset so both do
the same work. Also times the exact random-design power, which needs no simulation at all.

    python benchmarks/bench_power.py [--simulations 10000] [--n 22] [--loop-subset 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import statsmodels.api as sm

from alliance.inference.streams import CHUNK, seeded_chunks
from alliance.power.analytic import random_design_power
from alliance.power.simulation import alliance_t, random_trials, simulated_power


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--simulations", type=int, default=10_000)
    parser.add_argument("--n", type=int, default=22)
    parser.add_argument("--loop-subset", type=int, default=1_000)
    args = parser.parse_args()
    r, k = 0.4, 1

    start = time.perf_counter()
    result = simulated_power(r, args.n, k, simulations=args.simulations, seed=1)
    engine = time.perf_counter() - start

    # The first chunk's draws, exactly as the simulator makes them, fitted one by one.
    subset = min(args.loop_subset, CHUNK)
    _, rng = next(seeded_chunks(args.simulations, 1))
    y, X = random_trials(rng, CHUNK, args.n, k, r)
    start = time.perf_counter()
    looped = np.array([sm.OLS(y[b], X[b]).fit().tvalues[-1] for b in range(subset)])
    loop = (time.perf_counter() - start) * args.simulations / subset
    assert np.allclose(looped, alliance_t(y[:subset], X[:subset]), rtol=1e-10)

    start = time.perf_counter()
    exact = random_design_power(r, args.n, k)
    analytic = time.perf_counter() - start

    print(
        f"simulated power, {args.simulations:,} replications of N = {args.n}: "
        f"{result.power:.4f} ± {result.mc_se:.4f} (exact {exact:.4f})"
    )
    print(f"  vectorised simulator  {engine:8.3f} s")
    print(f"  statsmodels loop      {loop:8.3f} s (extrapolated from {subset:,} fits)")
    print(f"  ratio                 {loop / engine:8.1f}x")
    print(f"  exact random-design power, no simulation: {analytic * 1000:.1f} ms")


if __name__ == "__main__":
    main()
