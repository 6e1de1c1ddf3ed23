"""Power over a grid of effects and sample sizes, and the sample size each effect needs.

Plain records (one dict per row) that the command line prints and ``power.json`` holds. The
random-design figure is the planning figure (docs/power.md); the fixed-design one is what G*Power or
``pwr`` would report, named by its convention.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alliance.power.analytic import (
    f2_from_partial_r,
    fixed_design_power,
    random_design_power,
    required_n,
)
from alliance.power.simulation import simulated_power


def power_grid(
    effects: Sequence[float],
    sizes: Sequence[int],
    k: int,
    alpha: float,
    convention: str = "gpower",
    simulations: int = 0,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One record per effect (partial r) and N; simulated power when ``simulations`` > 0.

    Each cell's random stream is keyed by the seed, N and the effect, so a cell's simulated
    power is the same whatever else the grid holds.
    """
    rows = []
    for r in effects:
        f2 = f2_from_partial_r(r)
        for n in sizes:
            row: dict[str, Any] = {
                "partial_r": r,
                "f_squared": f2,
                "n": n,
                "covariates": k,
                "alpha": alpha,
                "convention": convention,
                "fixed_design_power": fixed_design_power(f2, n, k, alpha, convention),
                "random_design_power": random_design_power(r, n, k, alpha),
            }
            if simulations:
                # The effect enters the key in millionths, shifted to be non-negative.
                key = (seed, n, round((r + 1) * 1_000_000))
                simulated = simulated_power(r, n, k, alpha, simulations, key)
                row |= {
                    "simulated_power": simulated.power,
                    "simulated_mc_se": simulated.mc_se,
                    "simulations": simulations,
                }
            rows.append(row)
    return rows


def sample_sizes(
    effects: Sequence[float], k: int, alpha: float, target: float, convention: str = "gpower"
) -> list[dict[str, Any]]:
    """The smallest N reaching ``target`` power for each effect, fixed and random design."""
    rows = []
    for r in effects:
        f2 = f2_from_partial_r(r)

        def fixed(n: int, f2: float = f2) -> float:
            return fixed_design_power(f2, n, k, alpha, convention)

        def random(n: int, r: float = r) -> float:
            return random_design_power(r, n, k, alpha)

        rows.append(
            {
                "partial_r": r,
                "f_squared": f2,
                "covariates": k,
                "alpha": alpha,
                "target_power": target,
                "convention": convention,
                "n_fixed_design": required_n(fixed, target, k),
                "n_random_design": required_n(random, target, k),
            }
        )
    return rows
