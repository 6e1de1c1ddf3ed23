"""The calibrated generative model: from published targets to the distributions sampled.

Calibration runs once per calibration file, deterministically (no random numbers): closed-form
moments and one-dimensional root searches. It uses the calibration file's own design (the
published arm sizes and crossover share) to weight randomised and crossover episodes; a user who
changes the design keeps the per-episode distributions the publications describe.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from alliance.synthetic.marginals import (
    Moments,
    RatioDistribution,
    attenuation,
    solve_ratio,
    truncated_normal_moments,
)
from alliance.synthetic.settings import ArmPost, Calibration, Design, OutcomeCalibration


@dataclass(frozen=True)
class Counts:
    """How many participants fall in each part of the design."""

    mdma: int
    placebo: int
    crossover: int

    @property
    def total(self) -> int:
        return self.mdma + self.placebo

    @property
    def mdma_episodes(self) -> int:
        return self.mdma + self.crossover


def design_counts(design: Design) -> Counts:
    """Arm sizes by largest remainder (ties to MDMA), crossovers rounded half up."""
    # Scaled by the larger weight first: 1e308 + 1e308 overflows to inf, and 1e308 / inf is 0.
    largest = max(design.arms)
    share = (design.arms[0] / largest) / (design.arms[0] / largest + design.arms[1] / largest)
    exact = design.n * share
    mdma = int(np.floor(exact))
    if exact - mdma >= 0.5:
        mdma += 1
    placebo = design.n - mdma
    crossover = int(np.floor(design.crossover * placebo + 0.5))
    return Counts(mdma=mdma, placebo=placebo, crossover=crossover)


@dataclass(frozen=True)
class OutcomeModel:
    name: str
    calibration: OutcomeCalibration
    mdma: RatioDistribution
    placebo: RatioDistribution
    attenuation: float  # partial r per unit latent correlation, MDMA episodes


@dataclass(frozen=True)
class TrialModel:
    calibration: Calibration
    outcomes: tuple[OutcomeModel, ...]
    latent_correlation: np.ndarray  # alliance timepoints, then outcome changes
    baseline_correlation: np.ndarray  # between outcome baselines

    @property
    def timepoints(self) -> tuple[str, ...]:
        return self.calibration.alliance.timepoints


def _declared_ratio(arm: ArmPost, cut: float) -> RatioDistribution:
    assert arm.responder_ratio is not None and arm.concentration is not None
    return RatioDistribution(
        arm.response, cut, arm.responder_ratio, arm.nonresponder_ratio, arm.concentration
    )


def _ratio(arm: ArmPost, cut: float, baseline: Moments) -> RatioDistribution:
    if arm.post_mean is None or arm.post_sd is None:
        return _declared_ratio(arm, cut)
    post = Moments(arm.post_mean, arm.post_sd**2 + arm.post_mean**2)
    return solve_ratio(arm.response, cut, arm.nonresponder_ratio, post, baseline)


def _outcome_model(name: str, cal: OutcomeCalibration, design: Design) -> OutcomeModel:
    cut = 1.0 - design.response_fall
    randomised = truncated_normal_moments(
        cal.baseline_mean, cal.baseline_sd, cal.baseline_min, cal.baseline_max
    )
    placebo = _ratio(cal.placebo, cut, randomised)
    counts = design_counts(design)
    # MDMA episodes start either at the randomised baseline or, for crossovers, at the end of
    # the placebo phase (baseline × placebo ratio); calibrate to their mixture.
    episodes = Moments.mixture(
        [(counts.mdma, randomised), (counts.crossover, randomised.times(placebo.moments()))]
    )
    mdma = _ratio(cal.mdma, cut, episodes)
    return OutcomeModel(name, cal, mdma, placebo, attenuation(mdma, episodes))


def _pairs_matrix(size: int, values: tuple[float, ...] | list[float]) -> np.ndarray:
    matrix = np.eye(size)
    for (i, j), r in zip(combinations(range(size), 2), values, strict=True):
        matrix[i, j] = matrix[j, i] = r
    return matrix


def build_model(cal: Calibration) -> TrialModel:
    """Solve every calibration target; errors name the target that cannot be met."""
    outcomes = []
    for name, outcome_cal in cal.outcomes.items():
        try:
            outcomes.append(_outcome_model(name, outcome_cal, cal.design))
        except ValueError as exc:
            raise ValueError(f"outcomes.{name}: {exc}") from None
    k = len(cal.alliance.timepoints)
    m = len(outcomes)
    latent = np.eye(k + m)
    latent[:k, :k] = _pairs_matrix(k, cal.alliance.correlation)
    latent[k:, k:] = _pairs_matrix(m, [cal.correlations.changes] * (m * (m - 1) // 2))
    for j, outcome in enumerate(outcomes):
        for i, timepoint in enumerate(cal.alliance.timepoints):
            rho = cal.partial_r[outcome.name][timepoint] / outcome.attenuation
            if abs(rho) >= 1.0:
                raise ValueError(
                    f"partial_r.{outcome.name}.{timepoint} = "
                    f"{cal.partial_r[outcome.name][timepoint]} is out of reach: the most this "
                    f"outcome's skewed distribution allows is ±{outcome.attenuation:.2f}"
                )
            latent[i, k + j] = latent[k + j, i] = rho
    if np.linalg.eigvalsh(latent).min() <= 1e-10:
        raise ValueError(
            "the partial correlations, alliance correlations and outcome correlation cannot "
            "hold together (their correlation matrix is not positive definite); make the "
            "partial_r values of one outcome closer to each other or to the alliance correlations"
        )
    baseline = _pairs_matrix(m, [cal.correlations.baselines] * (m * (m - 1) // 2))
    return TrialModel(cal, tuple(outcomes), latent, baseline)
