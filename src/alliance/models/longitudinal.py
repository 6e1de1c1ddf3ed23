"""The lagged within–between model of session-level alliance (``[[longitudinal]]``).

For participant i with outcome y and alliance w at the declared timepoints t₁…t_T:
W̄ᵢ is the mean of the participant's observed alliance over t₁…t_{T−lag} (the sessions that serve
as lagged predictors); each session j > lag where y at t_j and w at t_{j−lag} are observed (and y
at t_{j−1} when the previous outcome enters) is one row, with ``time`` = j − 1,
``<w>_within`` = w at t_{j−lag} − W̄ᵢ, ``<w>_between`` = W̄ᵢ minus the mean of W̄ over the
participants in the model, and ``<y>_previous`` = y at t_{j−1}. The model is
``y ~ time + w_within + w_between [+ y_previous] + (1 | participant)`` by REML, as
``lmerTest::lmer``. Separating the two slopes is what lets the within-person slope answer "does a
session with better alliance than the person's usual lead to fewer symptoms next session?"
(Falkenström, Finkel, Sandell, Rubel & Holmqvist 2017, *J Consult Clin Psychol* 85(6), 537–549).

A participant with a single usable row stays in the model (as in lmer: they inform the between
slope and the intercept); one with none is excluded with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alliance.errors import AnalysisError
from alliance.models.mixed import MixedFit, fit_random_intercept
from alliance.models.mixed_plan import LongitudinalSpec


@dataclass(frozen=True)
class LongitudinalData:
    spec: LongitudinalSpec
    rows: pd.DataFrame  # participant_id, time, y, and one column per fixed effect but the intercept
    excluded: dict[str, str]  # participant_id -> reason

    @property
    def n_single_observation(self) -> int:
        return int((self.rows.groupby("participant_id").size() == 1).sum())


@dataclass(frozen=True)
class LongitudinalResult:
    data: LongitudinalData
    fit: MixedFit

    @property
    def spec(self) -> LongitudinalSpec:
        return self.data.spec


def longitudinal_data(episodes: pd.DataFrame, spec: LongitudinalSpec) -> LongitudinalData:
    """The model's rows from the episode frame (one row per participant, wide by timepoint)."""
    T, lag = len(spec.timepoints), spec.lag
    ids = episodes["participant_id"].astype(str).to_numpy()
    y = np.column_stack(
        [episodes[spec.column(spec.outcome, t)].to_numpy(float) for t in spec.timepoints]
    )
    w = np.column_stack(
        [episodes[spec.column(spec.predictor, t)].to_numpy(float) for t in spec.timepoints]
    )
    for k, t in enumerate(spec.timepoints):
        for score, values in ((spec.outcome, y), (spec.predictor, w)):
            if not np.isfinite(values[:, k]).any():
                raise AnalysisError(
                    spec.name,
                    f"timepoint '{t}' of score '{score}' has no value in any episode. Fix: "
                    "remove it from the model's timepoints, or check the data",
                )
    lagged = w[:, : T - lag]
    counts = np.isfinite(lagged).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        person_mean = np.nansum(lagged, axis=1) / np.where(counts > 0, counts, np.nan)
    blocks = []
    for j in range(lag, T):  # 0-based session index j; "time" is j
        block = pd.DataFrame(
            {
                "participant_id": ids,
                "time": float(j),
                "y": y[:, j],
                "w": w[:, j - lag],
                "mean": person_mean,
                "previous": y[:, j - 1],
            }
        )
        needed = ["y", "w", "previous"] if spec.previous_outcome else ["y", "w"]
        blocks.append(block.loc[block[needed].notna().all(axis=1)])
    rows = pd.concat(blocks, ignore_index=True)
    used = list(dict.fromkeys(rows["participant_id"]))
    between = float(pd.Series(person_mean, index=ids).loc[used].mean()) if used else 0.0
    design = pd.DataFrame(
        {
            "participant_id": rows["participant_id"],
            "y": rows["y"],
            "time": rows["time"],
            f"{spec.predictor}_within": rows["w"] - rows["mean"],
            f"{spec.predictor}_between": rows["mean"] - between,
        }
    )
    if spec.previous_outcome:
        design[f"{spec.outcome}_previous"] = rows["previous"]
    design = design.sort_values(["participant_id", "time"], kind="stable").reset_index(drop=True)
    needs = "the outcome at a session and the alliance " + (
        "the session before" if lag == 1 else f"{lag} sessions before"
    )
    if spec.previous_outcome:
        needs += ", with the outcome at the previous session,"
    excluded = {
        pid: f"{spec.name}: no session with {needs} both observed"
        for pid in ids
        if pid not in set(used)
    }
    return LongitudinalData(spec, design, excluded)


def fit_longitudinal(data: LongitudinalData) -> LongitudinalResult:
    spec = data.spec
    names = spec.term_names
    rows = data.rows
    if rows.empty:
        raise AnalysisError(
            spec.name,
            "no participant has a session with the outcome and the lagged alliance both "
            "observed. Fix: check the timepoints and the lag against the data",
        )
    X = np.column_stack([np.ones(len(rows)), rows[list(names[1:])].to_numpy(float)])
    fit = fit_random_intercept(
        rows["y"].to_numpy(float),
        X,
        rows["participant_id"].to_numpy(),
        names,
        model=spec.name,
        df_method=spec.df_method,
    )
    return LongitudinalResult(data, fit)
