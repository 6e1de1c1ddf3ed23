"""MDMA treatment episodes: the unit of analysis (docs/data-layouts.md).

An episode is the randomised phase of a participant allocated to MDMA, or the open-label phase
of a placebo participant who crossed over. Each participant contributes at most one episode.
The open-label baseline is the end of the placebo phase: when the open-label phase carries no
baseline assessment of its own, the randomised phase's ``post`` is used and the fallback is
recorded, so a reader can see which baselines were borrowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alliance.instruments.registry import Instrument

RANDOMIZED = "randomized"
OPEN_LABEL = "open_label"
BASELINE = "baseline"
POST = "post"

EXCLUDED_NO_MDMA = "no MDMA exposure (placebo arm without an open-label phase)"
EXCLUDED_PLACEBO_RULE = "placebo arm: the plan's episode rule uses randomised MDMA episodes only"
EXCLUDED_NO_RANDOMIZED = "MDMA arm without a randomised-phase record"


@dataclass(frozen=True)
class EpisodeSet:
    """One row per participant with an MDMA episode, and the participants without one.

    ``frame`` holds ``participant_id, arm, episode_phase, baseline_borrowed`` then every
    score column of the episode's phase. ``baseline_borrowed`` lists (comma-separated) the
    scores whose baseline came from the end of the randomised placebo phase.
    """

    frame: pd.DataFrame
    excluded: pd.DataFrame  # participant_id, arm, reason


def _score_columns(scores: pd.DataFrame) -> list[str]:
    return [c for c in scores.columns if "__" in c]


def _choose_phases(
    arm: np.ndarray, has_randomized: np.ndarray, has_open_label: np.ndarray, rule: str
) -> tuple[np.ndarray, np.ndarray]:
    """The phase holding each participant's episode under ``rule``, or the exclusion reason.

    One entry per participant; the phase is "" where the participant has no episode.
    """
    mdma = arm == "mdma"
    conditions = [
        mdma & has_open_label & (rule == "last_mdma"),
        mdma & has_randomized,
        mdma & has_open_label & (rule != "randomized_only"),
        mdma,
        np.full(len(arm), rule == "randomized_only"),
        has_open_label,
    ]
    phase = np.select(conditions, [OPEN_LABEL, RANDOMIZED, OPEN_LABEL, "", "", OPEN_LABEL], "")
    reason = np.select(
        conditions,
        ["", "", "", EXCLUDED_NO_RANDOMIZED, EXCLUDED_PLACEBO_RULE, ""],
        EXCLUDED_NO_MDMA,
    )
    return phase, reason


def build_episodes(scores: pd.DataFrame, rule: str = "first_mdma") -> EpisodeSet:
    """Select each participant's MDMA episode from the scored frame.

    Parameters
    ----------
    scores
        The scored frame: one row per participant and phase, columns ``participant_id``,
        ``phase``, ``arm`` and ``<score>__<timepoint>`` (plus any covariate columns).
    rule
        ``first_mdma`` (default: the first MDMA exposure), ``randomized_only`` (randomised MDMA
        arm only, no crossover episodes) or ``last_mdma`` (the open-label phase when a
        participant has one).

    Every step works on whole columns (no loop over participants), so the cost grows linearly
    with the number of participants. A participant's arm is the one on their first row, and
    their episode is the first row of the chosen phase.
    """
    score_columns = _score_columns(scores)
    first_rows = scores.drop_duplicates(["participant_id", "phase"], keep="first")
    people = scores.drop_duplicates("participant_id", keep="first").sort_values(
        "participant_id", kind="stable"
    )
    ids = people["participant_id"]
    arm = people["arm"].astype(str).to_numpy()
    has = {
        phase: ids.isin(first_rows.loc[first_rows["phase"] == phase, "participant_id"]).to_numpy()
        for phase in (RANDOMIZED, OPEN_LABEL)
    }
    phase, reason = _choose_phases(arm, has[RANDOMIZED], has[OPEN_LABEL], rule)
    chosen = phase != ""
    excluded = pd.DataFrame(
        list(zip(ids.to_numpy()[~chosen], arm[~chosen], reason[~chosen], strict=True)),
        columns=["participant_id", "arm", "reason"],
    )
    keys = pd.DataFrame(
        {
            "participant_id": pd.Series(ids.to_numpy()[chosen], dtype=ids.dtype),
            "phase": pd.Series(phase[chosen], dtype=scores["phase"].dtype),
        }
    )
    frame = keys.merge(first_rows, on=["participant_id", "phase"], how="left", sort=False)
    # Score columns become float arrays held in a dict and the frame is built once at the end:
    # assigning thousands of columns one by one would fragment it (quadratic in columns).
    numeric = {
        column: pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64")
        for column in score_columns
    }
    # The open-label baseline is the end of the placebo phase when the open-label phase has none.
    randomized = (
        first_rows.loc[first_rows["phase"] == RANDOMIZED]
        .set_index("participant_id")
        .reindex(frame["participant_id"])
    )
    crossover = (frame["phase"] == OPEN_LABEL).to_numpy() & has[RANDOMIZED][chosen]
    borrowed = np.full(len(frame), "", dtype=object)
    for column in score_columns:
        score, timepoint = column.split("__", 1)
        fallback = f"{score}__{POST}"
        if timepoint != BASELINE or fallback not in randomized.columns or not crossover.any():
            continue
        earlier = pd.to_numeric(randomized[fallback], errors="coerce").to_numpy(dtype="float64")
        fill = crossover & np.isnan(numeric[column]) & ~np.isnan(earlier)
        if fill.any():
            numeric[column] = np.where(fill, earlier, numeric[column])
            borrowed[fill] = [f"{b},{score}" if b else score for b in borrowed[fill]]
    frame = frame.reset_index(drop=True)
    leading = {
        "participant_id": frame["participant_id"],
        "arm": frame["arm"],
        "episode_phase": frame["phase"],
        "baseline_borrowed": pd.Series(borrowed, index=frame.index, dtype="str"),
    }
    rest = {
        column: numeric[column] if column in numeric else frame[column]
        for column in scores.columns
        if column not in leading and column != "phase"
    }
    out = pd.DataFrame({**leading, **rest}, index=frame.index)
    return EpisodeSet(frame=out, excluded=excluded)


def episode_items(
    items: pd.DataFrame, episodes: pd.DataFrame, instruments: Mapping[str, Instrument]
) -> pd.DataFrame:
    """The item responses behind the episodes' scores: one MDMA episode, one set of responses.

    ``episodes`` is the episode frame (``participant_id``, ``episode_phase``,
    ``baseline_borrowed``). Each participant keeps the rows of their episode's phase; where the
    episode's baseline of an instrument was borrowed from the end of the randomised phase, that
    phase's ``post`` responses stand in as the baseline, as they do for the score.
    """
    phase_of = dict(zip(episodes["participant_id"], episodes["episode_phase"], strict=True))
    episode_phase = items["participant_id"].map(phase_of)
    own = items.loc[items["phase"] == episode_phase]
    borrowed_scores = {
        (str(pid), score)
        for pid, text in zip(episodes["participant_id"], episodes["baseline_borrowed"], strict=True)
        for score in str(text if isinstance(text, str) else "").split(",")
        if score
    }
    if not borrowed_scores:
        return own
    borrowed = {
        (pid, code)
        for code, inst in instruments.items()
        for pid, score in borrowed_scores
        if score in inst.score_names
    }
    pairs = pd.MultiIndex.from_arrays(
        [items["participant_id"].astype(str), items["instrument"].astype(str)]
    )
    is_borrowed = pd.Series(pairs.isin(list(borrowed)), index=items.index)
    drop = is_borrowed.loc[own.index] & (own["timepoint"] == BASELINE)
    stand_in = items.loc[
        is_borrowed & (items["phase"] == RANDOMIZED) & (items["timepoint"] == POST)
    ]
    stand_in = stand_in.assign(timepoint=BASELINE, phase=stand_in["participant_id"].map(phase_of))
    return pd.concat([own.loc[~drop], stand_in], ignore_index=True)
