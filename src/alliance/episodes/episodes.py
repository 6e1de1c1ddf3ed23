"""MDMA treatment episodes: the unit of analysis (SPEC §3).

An episode is the randomised phase of a participant allocated to MDMA, or the open-label phase
of a placebo participant who crossed over. Each participant contributes at most one episode.
The open-label baseline is the end of the placebo phase: when the open-label phase carries no
baseline assessment of its own, the randomised phase's ``post`` is used and the fallback is
recorded, so a reader can see which baselines were borrowed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

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
    frame = scores.reset_index(drop=True)
    # The first row of each participant and phase, by position: the scored layout has one.
    first_row: dict[tuple[str, str], int] = {}
    arm_of: dict[str, str] = {}
    for position, (pid, phase_name, arm) in enumerate(
        zip(frame["participant_id"], frame["phase"], frame["arm"], strict=True)
    ):
        first_row.setdefault((pid, phase_name), position)
        arm_of.setdefault(pid, str(arm))
    phases_of: dict[str, set[str]] = {}
    for pid, phase_name in first_row:
        phases_of.setdefault(pid, set()).add(phase_name)
    chosen: list[int] = []
    chosen_phase: list[str] = []
    fallback_row: list[int] = []  # the randomised row of an open-label episode, else -1
    excluded = []
    for pid in sorted(phases_of):
        phases = phases_of[pid]
        phase, reason = _choose_phase(phases, arm_of[pid], rule)
        if phase is None:
            excluded.append({"participant_id": pid, "arm": arm_of[pid], "reason": reason})
            continue
        chosen.append(first_row[(pid, phase)])
        chosen_phase.append(phase)
        borrow = phase == OPEN_LABEL and RANDOMIZED in phases
        fallback_row.append(first_row[(pid, RANDOMIZED)] if borrow else -1)
    # Every column is taken for the chosen rows at once (one take per column, no per-row
    # Series), so a file with thousands of columns is as quick as its number of cells.
    episodes = frame.iloc[chosen].reset_index(drop=True)
    fallback = np.asarray(fallback_row, dtype=np.int64)
    can_borrow = fallback >= 0
    borrowed: list[list[str]] = [[] for _ in chosen]
    filled: dict[str, np.ndarray] = {}
    for column in score_columns:
        score, timepoint = column.split("__", 1)
        source = f"{score}__{POST}"
        if timepoint != BASELINE or source not in frame.columns or not can_borrow.any():
            continue
        own = pd.to_numeric(episodes[column], errors="coerce").to_numpy(dtype="float64")
        post = pd.to_numeric(frame[source], errors="coerce").to_numpy(dtype="float64")
        other = np.full(len(chosen), np.nan)
        other[can_borrow] = post[fallback[can_borrow]]
        take = np.isnan(own) & ~np.isnan(other)
        if take.any():
            filled[column] = np.where(take, other, own)
            for i in np.flatnonzero(take):
                borrowed[i].append(score)
    leading = {
        "participant_id": episodes["participant_id"],
        "arm": episodes["arm"],
        "episode_phase": pd.Series(chosen_phase, dtype="str"),
        "baseline_borrowed": pd.Series([",".join(b) for b in borrowed], dtype="str"),
    }
    rest = {
        c: filled.get(c, episodes[c]) for c in frame.columns if c not in leading and c != "phase"
    }
    for column in score_columns:
        values = rest[column]
        if not (isinstance(values, np.ndarray) or values.dtype == np.float64):
            rest[column] = pd.to_numeric(values, errors="coerce").astype("float64")
    out = pd.DataFrame({**leading, **rest}, index=pd.RangeIndex(len(chosen)))
    excluded_frame = pd.DataFrame(excluded, columns=["participant_id", "arm", "reason"])
    return EpisodeSet(frame=out, excluded=excluded_frame)
