"""Draw a synthetic trial's instrument totals, one row per participant and phase.

Every participant has a randomised phase; placebo participants who cross over also have an
open-label MDMA phase whose baseline is the end of their placebo phase (docs/data-layouts.md, episodes). Each
phase draws its own alliance and outcome latents, jointly normal with the calibrated correlation
matrix, so a phase's alliance predicts its own outcome and nothing else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from alliance.instruments.registry import Instrument
from alliance.synthetic.marginals import truncated_normal
from alliance.synthetic.model import Counts, TrialModel


def total_range(inst: Instrument) -> tuple[int, int]:
    """Lowest and highest possible total: every raw item at its minimum or maximum."""
    k = len(inst.item_codes)
    return int(k * inst.response_min), int(k * inst.response_max)


def _correlated_normals(rng: np.random.Generator, corr: np.ndarray, size: int) -> np.ndarray:
    return rng.standard_normal((size, corr.shape[0])) @ np.linalg.cholesky(corr).T


def _integer_totals(values: np.ndarray, inst: Instrument) -> np.ndarray:
    low, high = total_range(inst)
    return np.clip(np.rint(values), low, high)


def participant_ids(n: int) -> list[str]:
    width = max(3, len(str(n)))
    return [f"SYN-{i:0{width}d}" for i in range(1, n + 1)]


def _phase_scores(
    rng: np.random.Generator,
    model: TrialModel,
    instruments: dict[str, Instrument],
    baselines: np.ndarray,
    mdma: np.ndarray,
) -> dict[str, np.ndarray]:
    """Post totals and alliance for phases with the given baselines (rows × outcomes)."""
    alliance = model.calibration.alliance
    k = len(alliance.timepoints)
    latent = _correlated_normals(rng, model.latent_correlation, len(baselines))
    columns: dict[str, np.ndarray] = {}
    alliance_inst = instruments[alliance.instrument]
    score = alliance_inst.scores[0].name
    for i, timepoint in enumerate(alliance.timepoints):
        values = alliance.mean[i] + alliance.sd[i] * latent[:, i]
        columns[f"{score}__{timepoint}"] = _integer_totals(values, alliance_inst)
    for j, outcome in enumerate(model.outcomes):
        u = stats.norm.cdf(latent[:, k + j])
        ratio = np.where(mdma, outcome.mdma.quantile(u), outcome.placebo.quantile(u))
        inst = instruments[outcome.calibration.instrument]
        columns[f"{outcome.name}__baseline"] = baselines[:, j]
        columns[f"{outcome.name}__post"] = _integer_totals(baselines[:, j] * ratio, inst)
    return columns


def draw_totals(
    rng: np.random.Generator,
    model: TrialModel,
    counts: Counts,
    instruments: dict[str, Instrument],
) -> pd.DataFrame:
    """The scored layout's totals for every participant and phase (no missing values yet)."""
    n = counts.total
    ids = np.array(participant_ids(n))
    arms = rng.permutation(np.array(["mdma"] * counts.mdma + ["placebo"] * counts.placebo))
    placebo = np.flatnonzero(arms == "placebo")
    crossover = np.sort(rng.choice(placebo, size=counts.crossover, replace=False))

    z = _correlated_normals(rng, model.baseline_correlation, n)
    baselines = np.column_stack(
        [
            _integer_totals(
                truncated_normal(
                    o.calibration.baseline_mean, o.calibration.baseline_sd,
                    o.calibration.baseline_min, o.calibration.baseline_max,
                ).ppf(stats.norm.cdf(z[:, j])),
                instruments[o.calibration.instrument],
            )
            for j, o in enumerate(model.outcomes)
        ]
    )  # fmt: skip
    randomised = _phase_scores(rng, model, instruments, baselines, arms == "mdma")
    # The open-label baseline is the placebo phase's post assessment (the same visit).
    carried = np.column_stack([randomised[f"{o.name}__post"][crossover] for o in model.outcomes])
    open_label = _phase_scores(rng, model, instruments, carried, np.ones(len(crossover), bool))
    frames = [
        pd.DataFrame({"participant_id": ids, "phase": "randomized", "arm": arms, **randomised}),
        pd.DataFrame(
            {"participant_id": ids[crossover], "phase": "open_label", "arm": "placebo",
             **open_label}
        ),
    ]  # fmt: skip
    return (
        pd.concat(frames, ignore_index=True)
        .sort_values(["participant_id", "phase"], ascending=[True, False], kind="stable")
        .reset_index(drop=True)
    )
