"""MDMA treatment episodes: the unit of analysis (SPEC §3).

An episode is the randomised phase of a participant allocated to MDMA, or the open-label phase
of a placebo participant who crossed over. Each participant contributes at most one episode.
The open-label baseline is the end of the placebo phase: when the open-label phase carries no
baseline assessment of its own, the randomised phase's ``post`` is used and the fallback is
recorded, so a reader can see which baselines were borrowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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


def _choose_phase(phases: set[str], arm: str, rule: str) -> tuple[str | None, str | None]:
    """The phase holding the participant's episode under ``rule``, or the exclusion reason."""
    if arm == "mdma":
        if rule == "last_mdma" and OPEN_LABEL in phases:
            return OPEN_LABEL, None
        if RANDOMIZED in phases:
            return RANDOMIZED, None
        if OPEN_LABEL in phases and rule != "randomized_only":
            return OPEN_LABEL, None
        return None, EXCLUDED_NO_RANDOMIZED
    if rule == "randomized_only":
        return None, EXCLUDED_PLACEBO_RULE
    if OPEN_LABEL in phases:
        return OPEN_LABEL, None
    return None, EXCLUDED_NO_MDMA


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
    """
    score_columns = _score_columns(scores)
    rows = []
    excluded = []
    by_participant = scores.groupby("participant_id", sort=True)
    for participant_id, group in by_participant:
        arm = str(group["arm"].iloc[0])
        phases = set(group["phase"])
        phase, reason = _choose_phase(phases, arm, rule)
        if phase is None:
            excluded.append({"participant_id": participant_id, "arm": arm, "reason": reason})
            continue
        row = group.loc[group["phase"] == phase].iloc[0].copy()
        borrowed = []
        if phase == OPEN_LABEL and RANDOMIZED in phases:
            randomized = group.loc[group["phase"] == RANDOMIZED].iloc[0]
            for column in score_columns:
                score, timepoint = column.split("__", 1)
                fallback = f"{score}__{POST}"
                if (
                    timepoint == BASELINE
                    and pd.isna(row[column])
                    and fallback in randomized.index
                    and pd.notna(randomized[fallback])
                ):
                    row[column] = randomized[fallback]
                    borrowed.append(score)
        row["episode_phase"] = phase
        row["baseline_borrowed"] = ",".join(borrowed)
        rows.append(row)
    frame = pd.DataFrame(rows).reset_index(drop=True)
    if frame.empty:
        frame = pd.DataFrame(
            columns=["participant_id", "arm", "episode_phase", "baseline_borrowed"]
        )
    leading = ["participant_id", "arm", "episode_phase", "baseline_borrowed"]
    rest = [c for c in frame.columns if c not in leading and c != "phase"]
    frame = frame[leading + rest]
    for column in score_columns:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    excluded_frame = pd.DataFrame(excluded, columns=["participant_id", "arm", "reason"])
    return EpisodeSet(frame=frame, excluded=excluded_frame)


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
    pairs = pd.Series(
        list(zip(items["participant_id"].astype(str), items["instrument"], strict=True)),
        index=items.index,
    )
    is_borrowed = pairs.map(lambda pair: pair in borrowed)
    drop = is_borrowed.loc[own.index] & (own["timepoint"] == BASELINE)
    stand_in = items.loc[
        is_borrowed & (items["phase"] == RANDOMIZED) & (items["timepoint"] == POST)
    ]
    stand_in = stand_in.assign(timepoint=BASELINE, phase=stand_in["participant_id"].map(phase_of))
    return pd.concat([own.loc[~drop], stand_in], ignore_index=True)
