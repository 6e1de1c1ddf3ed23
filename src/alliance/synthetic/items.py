"""Turn totals into item responses, so that scoring the items gives the totals back.

Each assessment's items scatter around the participant's level (total / items) with an
item-specific offset (some items are endorsed more than others) and person-by-item noise; the
items are then nudged one step at a time until they sum to the total exactly. Items of one
assessment therefore correlate through the participant's level, giving the internal consistency
(alpha around .9) that these instruments show, and the scorer, not the generator, computes every
score the analysis uses. Reverse-keyed items are written as answered (low + high − keyed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alliance.instruments.registry import Instrument

ITEM_NOISE_SD = 0.8  # ASSUMPTION: person-by-item scatter, in response steps
ITEM_OFFSET_SD = 0.4  # ASSUMPTION: spread of item difficulty, in response steps
ITEM_RANK = "_item_rank"  # position of the item in its instrument, for ordering rows


def spread_totals(totals: np.ndarray, inst: Instrument, rng: np.random.Generator) -> np.ndarray:
    """Keyed item responses (assessments × items), each row summing to its total exactly."""
    k = len(inst.item_codes)
    low, high = int(inst.response_min), int(inst.response_max)
    steps = high - low
    target = np.asarray(totals, dtype="int64") - k * low  # in 0..k*steps
    offsets = rng.normal(0.0, ITEM_OFFSET_SD, k)
    offsets -= offsets.mean()
    level = target[:, None] / k + offsets[None, :]
    values = np.clip(np.rint(level + rng.normal(0.0, ITEM_NOISE_SD, (len(target), k))), 0, steps)
    values = values.astype("int64")
    # Nudge one item per row per pass towards the total; an item with room is chosen at random.
    while True:
        gap = target - values.sum(axis=1)
        if not gap.any():
            break
        up, down = gap > 0, gap < 0
        priority = rng.random(values.shape)
        room_up = np.where(values < steps, priority, -1.0)
        room_down = np.where(values > 0, priority, -1.0)
        rows = np.arange(len(values))
        values[rows[up], room_up[up].argmax(axis=1)] += 1
        values[rows[down], room_down[down].argmax(axis=1)] -= 1
    return values + low


def item_rows(
    assessments: pd.DataFrame, totals_column: str, inst: Instrument, rng: np.random.Generator
) -> pd.DataFrame:
    """Long item rows for assessments (one row each, with participant_id, phase, arm, timepoint)."""
    keyed = spread_totals(assessments[totals_column].to_numpy(), inst, rng)
    low, high = int(inst.response_min), int(inst.response_max)
    reverse = np.isin(np.array(inst.item_codes), inst.reverse_keyed)
    answered = np.where(reverse[None, :], low + high - keyed, keyed)
    k = len(inst.item_codes)
    frame = assessments.loc[assessments.index.repeat(k),
                            ["participant_id", "phase", "arm", "timepoint"]]  # fmt: skip
    frame = frame.reset_index(drop=True)
    frame.insert(4, "instrument", inst.code)
    frame.insert(5, "item", np.tile(np.array(inst.item_codes, dtype=object), len(assessments)))
    frame["value"] = answered.reshape(-1).astype("float64")
    frame[ITEM_RANK] = np.tile(np.arange(k), len(assessments))
    return frame


def blank_items(
    items: pd.DataFrame, share: float, instruments: dict[str, Instrument], rng: np.random.Generator
) -> pd.DataFrame:
    """Leave a share of self-report answers blank.

    Clinician interviews are not blanked: an interview is done or not (a missing visit), and the
    CAPS is not prorated, so a blank item would discard the whole interview.
    """
    self_report = (
        items["instrument"]
        .map({code: inst.respondent == "self" for code, inst in instruments.items()})
        .to_numpy(dtype=bool)
    )
    blank = self_report & (rng.random(len(items)) < share)
    out = items.copy()
    out.loc[blank, "value"] = np.nan
    return out
