"""Alliance × condition across the crossover (``[[moderation]]``).

Every phase with data is an episode: the randomised MDMA phase and the open-label phase are MDMA
episodes, the randomised placebo phase is a placebo episode, so a placebo participant who crossed
over contributes two episodes (a random intercept per participant carries their dependence).
The open-label baseline is the end of the placebo phase: when the open-label phase has no
baseline of its own, the randomised phase's post stands in, as for the article's episodes.
Per alliance timepoint: ``post ~ baseline + alliance + mdma + alliance:mdma + (1 | participant)``
with alliance centred on its mean over the model's episodes, so ``alliance`` is the alliance
slope under placebo and ``alliance:mdma`` how much steeper it is under MDMA (Murphy et al. 2022
asked the same of the comparator arm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alliance.episodes.episodes import OPEN_LABEL, RANDOMIZED
from alliance.errors import AnalysisError
from alliance.instruments.labels import missing_text
from alliance.models.mixed import MixedFit, fit_random_intercept
from alliance.models.mixed_plan import ModerationSpec


@dataclass(frozen=True)
class ModerationData:
    spec: ModerationSpec
    timepoint: str
    rows: pd.DataFrame  # participant_id, phase, post, baseline, <predictor>, mdma, <p>:mdma
    excluded: dict[str, str]  # "participant_id/phase" -> reason
    predictor_mean: float  # the mean alliance the predictor was centred on

    @property
    def key(self) -> str:
        return self.spec.key(self.timepoint)

    @property
    def n_repeated(self) -> int:
        """Participants with two episodes in the model (crossover participants)."""
        return int((self.rows.groupby("participant_id").size() > 1).sum())


@dataclass(frozen=True)
class ModerationResult:
    data: ModerationData
    fit: MixedFit

    @property
    def spec(self) -> ModerationSpec:
        return self.data.spec


def all_episodes(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per participant and phase with data, condition coded ``mdma`` = 1 or 0."""
    rows = scores.drop_duplicates(["participant_id", "phase"], keep="first").copy()
    phase = rows["phase"].astype(str)
    arm = rows["arm"].astype(str)
    rows = rows.loc[phase.isin([RANDOMIZED, OPEN_LABEL])]
    phase, arm = phase.loc[rows.index], arm.loc[rows.index]
    rows["mdma"] = ((phase == OPEN_LABEL) | (arm == "mdma")).astype(float)
    return rows.reset_index(drop=True)


def moderation_data(scores: pd.DataFrame, spec: ModerationSpec, timepoint: str) -> ModerationData:
    episodes = all_episodes(scores)
    base_col, post_col, pred_col = spec.columns(timepoint)
    baseline = pd.to_numeric(episodes[base_col], errors="coerce")
    # The open-label baseline is the end of the randomised placebo phase when it has none.
    randomized_post = (
        episodes.loc[episodes["phase"].astype(str) == RANDOMIZED]
        .set_index("participant_id")[post_col]
        .pipe(pd.to_numeric, errors="coerce")
    )
    borrow = (episodes["phase"].astype(str) == OPEN_LABEL) & baseline.isna()
    baseline = baseline.where(~borrow, episodes["participant_id"].map(randomized_post))
    frame = pd.DataFrame(
        {
            "participant_id": episodes["participant_id"].astype(str),
            "phase": episodes["phase"].astype(str),
            "post": pd.to_numeric(episodes[post_col], errors="coerce"),
            "baseline": baseline,
            "alliance": pd.to_numeric(episodes[pred_col], errors="coerce"),
            "mdma": episodes["mdma"],
        }
    )
    complete = frame[["post", "baseline", "alliance"]].notna().all(axis=1)
    missing = {
        missing_text(column, {}): frame[name].isna()
        for name, column in (("post", post_col), ("baseline", base_col), ("alliance", pred_col))
    }
    excluded = {
        str(frame.at[i, "participant_id"]) + "/" + str(frame.at[i, "phase"]): "; ".join(
            text for text, mask in missing.items() if mask.at[i]
        )
        for i in frame.index[~complete]
    }
    kept = frame.loc[complete].reset_index(drop=True)
    mean = float(kept["alliance"].mean()) if len(kept) else float("nan")
    p = spec.predictor
    rows = pd.DataFrame(
        {
            "participant_id": kept["participant_id"],
            "phase": kept["phase"],
            "post": kept["post"],
            "baseline": kept["baseline"],
            p: kept["alliance"] - mean,
            "mdma": kept["mdma"],
        }
    )
    rows[f"{p}:mdma"] = rows[p] * rows["mdma"]
    return ModerationData(spec, timepoint, rows, excluded, mean)


def fit_moderation(data: ModerationData) -> ModerationResult:
    rows = data.rows
    placebo = int((rows["mdma"] == 0).sum())
    mdma = int((rows["mdma"] == 1).sum())
    if placebo == 0 or mdma == 0:
        absent = "placebo" if placebo == 0 else "MDMA"
        raise AnalysisError(
            data.key,
            f"the data hold no {absent} episode with the outcome at baseline and post and the "
            f"alliance at '{data.timepoint}' observed ({mdma} MDMA, {placebo} placebo), so "
            "alliance × condition cannot be estimated. Fix: include randomised placebo phases "
            "with their alliance ratings, or drop this [[moderation]] section",
        )
    names = data.spec.term_names()
    X = np.column_stack([np.ones(len(rows)), rows[list(names[1:])].to_numpy(float)])
    fit = fit_random_intercept(
        rows["post"].to_numpy(float),
        X,
        rows["participant_id"].to_numpy(),
        names,
        model=data.key,
        df_method=data.spec.df_method,
    )
    return ModerationResult(data, fit)
