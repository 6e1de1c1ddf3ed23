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
from alliance.instruments.scoring import key_codes

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


def _borrowed_text(fills: list[tuple[str, np.ndarray]], n: int) -> np.ndarray:
    """Per episode, the comma-separated scores whose baseline was borrowed (in column order).

    The names are joined once per distinct pattern of borrowed scores, not once per episode.
    """
    borrowed = np.full(n, "", dtype=object)
    if not fills:
        return borrowed
    pattern = np.column_stack([fill for _, fill in fills])
    patterns, which = np.unique(pattern, axis=0, return_inverse=True)
    names = [score for score, _ in fills]
    texts = np.array(
        [",".join(name for name, used in zip(names, row, strict=True) if used) for row in patterns],
        dtype=object,
    )
    return texts[which.reshape(-1)]


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
        {
            "participant_id": ids.to_numpy(dtype=object)[~chosen],
            "arm": arm[~chosen].astype(object),
            "reason": reason[~chosen].astype(object),
        }
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
    fills: list[tuple[str, np.ndarray]] = []
    for column in score_columns:
        score, timepoint = column.split("__", 1)
        fallback = f"{score}__{POST}"
        if timepoint != BASELINE or fallback not in randomized.columns or not crossover.any():
            continue
        earlier = pd.to_numeric(randomized[fallback], errors="coerce").to_numpy(dtype="float64")
        fill = crossover & np.isnan(numeric[column]) & ~np.isnan(earlier)
        if fill.any():
            numeric[column] = np.where(fill, earlier, numeric[column])
            fills.append((score, fill))
    borrowed = _borrowed_text(fills, len(frame))
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

    Rows are selected on integer codes (participant × phase, participant × instrument); the
    result keeps the item frame's column types.
    """
    participant = key_codes(items["participant_id"])
    phase = key_codes(items["phase"])
    labels = pd.Index(participant.labels, dtype="str")
    where = labels.get_indexer(episodes["participant_id"].astype(str))
    known = where >= 0
    # Per participant code (last slot: a row without participant), the code of the episode's
    # phase; -2 matches no row.
    phase_code = pd.Index(phase.labels, dtype="str").get_indexer(
        episodes["episode_phase"].astype(str)
    )
    episode_phase = np.full(len(labels) + 1, -2, dtype=np.int64)
    episode_phase[where[known]] = np.where(phase_code[known] >= 0, phase_code[known], -2)
    row_phase = episode_phase[participant.codes]
    own = np.flatnonzero(phase.codes == row_phase)
    borrowed = _borrowed_pairs(episodes, instruments)
    if borrowed.empty:
        return items.iloc[own]
    instrument = key_codes(items["instrument"])
    n_instruments = len(instrument.labels) + 1
    pid = labels.get_indexer(borrowed["participant_id"])
    code = pd.Index(instrument.labels, dtype="str").get_indexer(borrowed["instrument"])
    pairs = pid[(pid >= 0) & (code >= 0)] * n_instruments + code[(pid >= 0) & (code >= 0)]
    is_borrowed = np.isin(participant.codes * n_instruments + instrument.codes, pairs) & (
        participant.codes >= 0
    )
    timepoint = key_codes(items["timepoint"])
    at = {t: np.flatnonzero(timepoint.labels == t) for t in (BASELINE, POST)}
    is_baseline = np.isin(timepoint.codes, at[BASELINE])
    randomized = np.flatnonzero(phase.labels == RANDOMIZED)
    stand_in = np.flatnonzero(
        is_borrowed & np.isin(phase.codes, randomized) & np.isin(timepoint.codes, at[POST])
    )
    kept = own[~(is_borrowed[own] & is_baseline[own])]
    out = items.iloc[np.concatenate([kept, stand_in])].reset_index(drop=True)
    tail = len(kept)
    out["timepoint"] = _set_tail(out["timepoint"], tail, np.full(len(stand_in), BASELINE))
    phase_text = np.full(len(labels) + 1, None, dtype=object)
    phase_text[where[known]] = episodes["episode_phase"].to_numpy(dtype=object)[known]
    stand_phase = phase_text[participant.codes[stand_in]]
    out["phase"] = _set_tail(out["phase"], tail, stand_phase)
    return out


def _borrowed_pairs(episodes: pd.DataFrame, instruments: Mapping[str, Instrument]) -> pd.DataFrame:
    """``participant_id, instrument`` of every instrument whose baseline an episode borrowed."""
    text = episodes["baseline_borrowed"].fillna("").astype(str)
    given = episodes.loc[text.to_numpy(dtype=object) != "", ["participant_id"]]
    if given.empty:
        return pd.DataFrame({"participant_id": [], "instrument": []}, dtype=object)
    scores = given.assign(score=text[given.index].str.split(",")).explode("score")
    owners = pd.DataFrame(
        [(name, code) for code, inst in instruments.items() for name in inst.score_names],
        columns=["score", "instrument"],
    )
    pairs = scores.loc[scores["score"] != ""].merge(owners, on="score")
    return pd.DataFrame(
        {
            "participant_id": pairs["participant_id"].astype(str).to_numpy(dtype=object),
            "instrument": pairs["instrument"].to_numpy(dtype=object),
        }
    )


def _set_tail(column: pd.Series, start: int, values: np.ndarray) -> pd.Series:
    """``column`` with rows from ``start`` on replaced by ``values`` (text), type kept."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        present = [v for v in pd.unique(pd.Series(values, dtype=object).dropna())]
        categories = column.cat.categories
        added = [v for v in present if v not in set(categories)]
        if added:
            categories = pd.Index(sorted([*categories, *added]), dtype="str")
            column = column.cat.set_categories(categories)
        codes = column.cat.codes.to_numpy(dtype=np.int64).copy()
        codes[start:] = categories.get_indexer(pd.Index(values, dtype="str"))
        return pd.Series(
            pd.Categorical.from_codes(codes, categories=categories), index=column.index
        )
    out = column.to_numpy(dtype=object).copy()
    out[start:] = values
    return pd.Series(out, index=column.index, dtype=column.dtype)
