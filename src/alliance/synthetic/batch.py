"""The calibrated generator's MDMA episodes for many trials at once (power by simulation).

``alliance simulate`` writes one trial through items and scoring; planning needs tens of
thousands of trials, so this module draws the *scored* episodes the analysis sees directly, with
replications as a leading batch dimension: arrays of shape (trials, episodes). The distributions
are the calibrated model's (:mod:`alliance.synthetic.model`):

- an episode starts at the randomised baseline (truncated normal per outcome, outcomes
  correlated) or, for a placebo participant who crossed over, at the end of the placebo phase
  (baseline × the placebo ratio); the share of crossover episodes is the calibration design's;
- alliance at each timepoint and the outcome "change" latents are jointly normal with the
  calibrated correlation matrix; post = baseline × Q(Φ(e)), the two-piece skewed ratio.

Errors: ``skewed`` is the generator itself (totals rounded and kept in the instruments' range,
as ``alliance simulate`` writes them); ``normal`` replaces the skewed ratio by a normal error with
the same variance (post = E[ratio]·baseline + error), continuous and unbounded: the classical
linear model, under which the test is exact.

Therapist clustering: the latent vector of an episode is √ICC·U(therapist) + √(1 − ICC)·E(episode),
both parts with the calibrated correlation matrix, so every latent keeps unit variance, its ICC
is the one asked and the population partial correlations are unchanged. Episodes are assigned to
therapists in turn (balanced caseloads).

Missing scores: each score of an episode (alliance at each timepoint, each outcome's post, and
each outcome's baseline but the first, which enrols the participant) is missing with
probability ``rate``: completely at random (``mcar``), or (``mar``) with odds that double per SD
of the participant's enrolment severity on the first outcome, an observed variable, the
intercept solved so the overall share is ``rate``.

The quantile functions are tabulated on a fine grid of the latent normal and interpolated (the
error stays below 3e-4 of a ratio, where the beta quantile bends sharply; 0.03 points of a CAPS
total, which is then rounded to a whole number), because computing beta quantiles for millions of
values is what would otherwise dominate the time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, special, stats

from alliance.instruments.registry import load_instruments
from alliance.synthetic.marginals import truncated_normal
from alliance.synthetic.model import TrialModel, build_model, design_counts
from alliance.synthetic.settings import Calibration, load_calibration
from alliance.synthetic.totals import total_range

ERRORS = ("skewed", "normal")
MECHANISMS = ("mcar", "mar")
# Odds ratio of a missing score per SD of enrolment severity under ``mar``.
MAR_ODDS_RATIO = 2.0
# The latent normal is tabulated on [−GRID_LIMIT, GRID_LIMIT]; beyond it values are clamped
# (probability 1e-15 on each side).
GRID_LIMIT = 8.0
GRID_POINTS = 2**15 + 1


@dataclass(frozen=True)
class Scenario:
    """What the replication will meet: effects, errors, missingness and therapists."""

    partial_r: dict[str, dict[str, float]]  # outcome -> alliance timepoint -> population value
    errors: str = "skewed"
    missing_rate: float = 0.0
    missing_mechanism: str = "mcar"
    therapists: int = 0  # 0: no clustering
    icc: float = 0.0

    def check(self) -> None:
        """ValueError naming the setting that is out of range."""
        if self.errors not in ERRORS:
            raise ValueError(f"errors must be one of {', '.join(ERRORS)}, not {self.errors!r}")
        if self.missing_mechanism not in MECHANISMS:
            raise ValueError(
                f"the missing mechanism must be one of {', '.join(MECHANISMS)}, "
                f"not {self.missing_mechanism!r}"
            )
        if not 0.0 <= self.missing_rate < 1.0:
            raise ValueError(f"the missing rate must lie in [0, 1), not {self.missing_rate}")
        if self.therapists < 0:
            raise ValueError(f"the number of therapists cannot be negative ({self.therapists})")
        if not 0.0 <= self.icc < 1.0:
            raise ValueError(f"the ICC must lie in [0, 1), not {self.icc}")
        for outcome, values in self.partial_r.items():
            for timepoint, r in values.items():
                if not -1.0 < r < 1.0:
                    raise ValueError(
                        f"the partial r of {outcome} at {timepoint} must lie strictly between "
                        f"-1 and 1, not {r}"
                    )


@dataclass(frozen=True)
class EpisodeBatch:
    """Scores of ``trials`` × ``episodes``; NaN marks a missing score."""

    alliance: dict[str, np.ndarray]  # timepoint -> (trials, episodes)
    baseline: dict[str, np.ndarray]  # outcome -> (trials, episodes)
    post: dict[str, np.ndarray]


@dataclass(frozen=True)
class _Tables:
    grid: np.ndarray  # the latent normal's grid
    mdma: tuple[np.ndarray, ...]  # per outcome: post ratio (skewed) at the grid
    placebo: tuple[np.ndarray, ...]  # per outcome: placebo-phase ratio at the grid
    baseline: tuple[np.ndarray, ...]  # per outcome: randomised baseline at the grid
    # Each table's steps to the next grid point (for the interpolation), computed once.
    mdma_steps: tuple[np.ndarray, ...]
    placebo_steps: tuple[np.ndarray, ...]
    baseline_steps: tuple[np.ndarray, ...]


def _steps(table: np.ndarray) -> np.ndarray:
    """``table``'s differences to the next grid point, 0 past the last (which x reaches clamped)."""
    return np.append(np.diff(table), 0.0)


def _tables(
    grid: np.ndarray,
    mdma: tuple[np.ndarray, ...],
    placebo: tuple[np.ndarray, ...],
    baseline: tuple[np.ndarray, ...],
) -> _Tables:
    return _Tables(
        grid=grid,
        mdma=mdma,
        placebo=placebo,
        baseline=baseline,
        mdma_steps=tuple(_steps(t) for t in mdma),
        placebo_steps=tuple(_steps(t) for t in placebo),
        baseline_steps=tuple(_steps(t) for t in baseline),
    )


@dataclass(frozen=True)
class BatchModel:
    """Everything a batch draw needs, computed once per calibration and scenario."""

    model: TrialModel
    latent_cholesky: np.ndarray
    change_cholesky: np.ndarray  # the outcome changes alone (a placebo phase)
    baseline_cholesky: np.ndarray
    tables: _Tables
    normal_post: tuple[tuple[float, float], ...]  # per outcome: E[ratio], residual SD (normal)
    crossover_share: float
    mar_intercept: float
    scenario: Scenario

    @property
    def timepoints(self) -> tuple[str, ...]:
        return self.model.timepoints

    @property
    def outcomes(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.model.outcomes)


def _with_effects(calibration: Calibration, partial_r: dict[str, dict[str, float]]) -> Calibration:
    effects = {o: dict(v) for o, v in calibration.partial_r.items()}
    for outcome, values in partial_r.items():
        if outcome not in effects:
            raise ValueError(f"the calibration has no outcome {outcome!r}")
        for timepoint in values:
            if timepoint not in calibration.alliance.timepoints:
                raise ValueError(f"the calibration has no alliance timepoint {timepoint!r}")
        effects[outcome].update(values)
    return Calibration.model_validate({**calibration.model_dump(), "partial_r": effects})


def _latent(model: TrialModel, partial_r: dict[str, dict[str, float]], skewed: bool) -> np.ndarray:
    """The latent correlation matrix giving these population partial r (as ``build_model``).

    Skewed errors attenuate the latent correlation by the outcome's factor; with normal
    errors post is linear in the latent, so the partial r is the latent correlation itself.
    """
    latent = model.latent_correlation.copy()
    k = len(model.timepoints)
    for j, outcome in enumerate(model.outcomes):
        for i, timepoint in enumerate(model.timepoints):
            r = partial_r[outcome.name][timepoint]
            rho = r / outcome.attenuation if skewed else r
            if abs(rho) >= 1.0:
                raise ValueError(
                    f"partial_r.{outcome.name}.{timepoint} = {r} is out of reach: the most "
                    f"this outcome's skewed distribution allows is ±{outcome.attenuation:.2f}"
                )
            latent[i, k + j] = latent[k + j, i] = rho
    if np.linalg.eigvalsh(latent).min() <= 1e-10:
        raise ValueError(
            "the partial correlations, alliance correlations and outcome correlation cannot "
            "hold together (their correlation matrix is not positive definite); make the "
            "effects smaller or closer to the alliance correlations"
        )
    return latent


def _mar_intercept(rate: float) -> float:
    """a with E[expit(a + γ·Z)] = rate for standard normal Z (Gauss–Hermite quadrature)."""
    if rate <= 0.0:
        return -math.inf
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()
    gamma = math.log(MAR_ODDS_RATIO)

    def excess(a: float) -> float:
        return float(weights @ special.expit(a + gamma * nodes)) - rate

    return float(optimize.brentq(excess, -60.0, 60.0, xtol=1e-14))


@lru_cache(maxsize=1)
def _bundled_calibration() -> Calibration:
    return load_calibration(None)


def _episode_moments(model: TrialModel, j: int) -> tuple[float, float]:
    """(E[b], E[b²]) of outcome j's episode baseline under the calibration's design."""
    outcome = model.outcomes[j]
    cal = outcome.calibration
    dist = truncated_normal(cal.baseline_mean, cal.baseline_sd, cal.baseline_min, cal.baseline_max)
    mean, var = (float(x) for x in dist.stats(moments="mv"))
    second = var + mean * mean
    placebo = outcome.placebo.moments()
    counts = design_counts(model.calibration.design)
    w = counts.crossover / counts.mdma_episodes
    return (
        (1 - w) * mean + w * mean * placebo.mean,
        (1 - w) * second + w * second * placebo.second,
    )


@dataclass(frozen=True)
class _Parts:
    """What does not depend on the effects: calibrated outcome distributions and tables."""

    model: TrialModel
    tables: _Tables
    normal_post: tuple[tuple[float, float], ...]
    crossover_share: float


def _parts(calibration: Calibration) -> _Parts:
    model = build_model(calibration)
    grid = np.linspace(-GRID_LIMIT, GRID_LIMIT, GRID_POINTS)
    u = stats.norm.cdf(grid)
    baseline_tables = []
    for o in model.outcomes:
        cal = o.calibration
        dist = truncated_normal(
            cal.baseline_mean, cal.baseline_sd, cal.baseline_min, cal.baseline_max
        )
        baseline_tables.append(dist.ppf(u))
    normal_post = []
    for j, o in enumerate(model.outcomes):
        ratio = o.mdma.moments()
        _, second = _episode_moments(model, j)
        normal_post.append((ratio.mean, ratio.sd * math.sqrt(second)))
    counts = design_counts(calibration.design)
    return _Parts(
        model=model,
        tables=_tables(
            grid,
            mdma=tuple(o.mdma.quantile(u) for o in model.outcomes),
            placebo=tuple(o.placebo.quantile(u) for o in model.outcomes),
            baseline=tuple(baseline_tables),
        ),
        normal_post=tuple(normal_post),
        crossover_share=counts.crossover / counts.mdma_episodes,
    )


@lru_cache(maxsize=1)
def _bundled_parts() -> _Parts:
    return _parts(_bundled_calibration())


def build_batch_model(scenario: Scenario, calibration: Calibration | None = None) -> BatchModel:
    """The calibrated model with the scenario's effects (ValueError if they cannot be met)."""
    scenario.check()
    base = calibration if calibration is not None else _bundled_calibration()
    parts = _bundled_parts() if calibration is None else _parts(base)
    with_effects = _with_effects(base, scenario.partial_r)
    latent = _latent(parts.model, with_effects.partial_r, scenario.errors == "skewed")
    model = TrialModel(with_effects, parts.model.outcomes, latent, parts.model.baseline_correlation)
    return BatchModel(
        model=model,
        latent_cholesky=np.linalg.cholesky(latent),
        change_cholesky=np.linalg.cholesky(
            latent[len(model.timepoints) :, len(model.timepoints) :]
        ),
        baseline_cholesky=np.linalg.cholesky(model.baseline_correlation),
        tables=parts.tables,
        normal_post=parts.normal_post,
        crossover_share=parts.crossover_share,
        mar_intercept=_mar_intercept(scenario.missing_rate),
        scenario=scenario,
    )


def _lookup(x: np.ndarray, table: np.ndarray, steps: np.ndarray | None = None) -> np.ndarray:
    """Linear interpolation of ``table`` (values at the uniform latent grid) at ``x``.

    Arithmetic indexing on the uniform grid: the same values as ``numpy.interp`` (clamped at the
    ends) without its binary search, several times faster on millions of values. ``steps``:
    the table's :func:`_steps`, passed when computed once beforehand.
    """
    if steps is None:
        steps = _steps(table)
    scale = (GRID_POINTS - 1) / (2 * GRID_LIMIT)
    position = np.multiply(x, scale)
    position += GRID_LIMIT * scale
    np.clip(position, 0.0, GRID_POINTS - 1.0, out=position)
    index = position.astype(np.intp)
    position -= index  # the fraction of the way to the next grid point
    position *= np.take(steps, index, mode="clip")
    position += np.take(table, index, mode="clip")
    return position


def _correlated(rng: np.random.Generator, shape: tuple[int, ...], chol: np.ndarray) -> np.ndarray:
    """Correlated standard normals, variable first: (variables, *shape).

    All normals in one call, then one matrix product; variable-first keeps each variable's
    values contiguous for the lookups that follow.
    """
    size = chol.shape[0]
    draws = rng.standard_normal((size, int(np.prod(shape))))
    return (chol @ draws).reshape(size, *shape)


def _whole(values: np.ndarray, low: int, high: int) -> np.ndarray:
    """Rounded to whole points within [low, high], in place (``values`` is a fresh array)."""
    np.rint(values, out=values)
    return np.clip(values, low, high, out=values)


def draw_episodes(rng: np.random.Generator, bm: BatchModel, trials: int, n: int) -> EpisodeBatch:
    """``trials`` replications of ``n`` MDMA episodes each, drawn in a fixed order from ``rng``."""
    sc = bm.scenario
    model = bm.model
    instruments = load_instruments()
    k = len(model.timepoints)
    skewed = sc.errors == "skewed"
    crossovers = math.floor(n * bm.crossover_share + 0.5)

    z = _correlated(rng, (trials, n), bm.baseline_cholesky)
    # The placebo phase's alliance plays no part in the episode: only its outcome changes.
    placebo_latent = _correlated(rng, (trials, crossovers), bm.change_cholesky)
    latent = _correlated(rng, (trials, n), bm.latent_cholesky)
    if sc.therapists > 0 and sc.icc > 0:
        shared = _correlated(rng, (trials, sc.therapists), bm.latent_cholesky)
        caseload = np.arange(n) % sc.therapists
        latent = math.sqrt(sc.icc) * shared[..., caseload] + math.sqrt(1 - sc.icc) * latent

    baseline: dict[str, np.ndarray] = {}
    post: dict[str, np.ndarray] = {}
    for j, outcome in enumerate(model.outcomes):
        low, high = total_range(instruments[outcome.calibration.instrument])
        tables = bm.tables
        enrolment = _lookup(z[j], tables.baseline[j], tables.baseline_steps[j])
        after_placebo = enrolment[:, :crossovers] * _lookup(
            placebo_latent[j], tables.placebo[j], tables.placebo_steps[j]
        )
        if skewed:
            enrolment = _whole(enrolment, low, high)
            after_placebo = _whole(after_placebo, low, high)
        start = enrolment  # the enrolment scores are not needed apart from the start
        start[:, :crossovers] = after_placebo
        e = latent[k + j]
        if skewed:
            ratio = _lookup(e, tables.mdma[j], tables.mdma_steps[j])
            post[outcome.name] = _whole(np.multiply(ratio, start, out=ratio), low, high)
        else:
            mean_ratio, residual_sd = bm.normal_post[j]
            post[outcome.name] = mean_ratio * start + residual_sd * e
        baseline[outcome.name] = start
    alliance: dict[str, np.ndarray] = {}
    cal = model.calibration.alliance
    low, high = total_range(instruments[cal.instrument])
    for i, timepoint in enumerate(model.timepoints):
        values = cal.mean[i] + cal.sd[i] * latent[i]
        alliance[timepoint] = _whole(values, low, high) if skewed else values

    if sc.missing_rate > 0:
        scores = [
            *alliance.values(),
            *post.values(),
            *(baseline[o.name] for o in model.outcomes[1:]),
        ]
        # Uniform 32-bit integers: a score is missing when u < chance · 2³², so its probability
        # is the chance to within 2⁻³² (half the cost of 64-bit uniforms, same meaning).
        draws = rng.integers(0, 2**32, size=(len(scores), trials, n), dtype=np.uint32)
        if sc.missing_mechanism == "mcar":
            limit: np.ndarray | np.uint32 = np.uint32(
                min(round(sc.missing_rate * 2**32), 2**32 - 1)
            )
        else:
            chance = special.expit(bm.mar_intercept + math.log(MAR_ODDS_RATIO) * z[0])
            limit = chance * 2.0**32
        for values, u in zip(scores, draws, strict=True):
            np.putmask(values, u < limit, np.nan)
    return EpisodeBatch(alliance=alliance, baseline=baseline, post=post)
