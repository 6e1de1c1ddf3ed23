"""Score item responses into totals and subscales, for every instrument, in one vectorised pass.

The item frame is turned into one response matrix per instrument (rows: participant, phase,
timepoint; columns: the definition's items), reverse-keyed items are reflected
(``min + max − x``), multi-part items are combined into scoring units (CAPS-IV: F + I), and each
score is computed from the units present. Missing-item rule (docs/data-layouts.md): a score is prorated from
the units present — ``sum × n_units / n_present`` — when at least ``min_fraction_present`` of its
units are present, else it is missing. Clinician interviews default to no prorating (1.0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alliance.instruments.registry import Instrument, load_instruments

KEYS = ["participant_id", "phase", "timepoint"]
CARRIED = ["arm", "therapist_id", "site"]


@dataclass(frozen=True)
class ScoredItems:
    scores: pd.DataFrame  # one row per participant and phase; <score>__<timepoint> columns
    status: pd.DataFrame  # one row per participant, phase, timepoint, instrument and score


def enough_present(n_present: np.ndarray, n_units: int, min_fraction: float) -> np.ndarray:
    """Whether ``n_present`` of ``n_units`` meets the rule; exactly the threshold counts.

    Compared in integers so that, e.g., 4 of 5 items at 80 % is enough despite 0.8 × 5 being
    4.000000000000001 in floating point.
    """
    needed = int(np.ceil(round(min_fraction * n_units, 9)))
    return n_present >= needed


def response_matrix(items: pd.DataFrame, inst: Instrument) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows (participant, phase, timepoint) and the (rows × items) response matrix, NaN = missing."""
    codes = {code: j for j, code in enumerate(inst.item_codes)}
    rows = items[KEYS].drop_duplicates().sort_values(KEYS, kind="stable").reset_index(drop=True)
    row_of = pd.MultiIndex.from_frame(rows).get_indexer(pd.MultiIndex.from_frame(items[KEYS]))
    col_of = items["item"].map(codes).to_numpy()
    matrix = np.full((len(rows), len(codes)), np.nan)
    matrix[row_of, col_of.astype(np.int64)] = items["value"].to_numpy(dtype="float64")
    return rows, matrix


def unit_matrix(matrix: np.ndarray, inst: Instrument) -> np.ndarray:
    """Reverse-key items, then combine multi-part items into their scoring units."""
    scored = matrix.copy()
    index = {code: j for j, code in enumerate(inst.item_codes)}
    reverse = [index[c] for c in inst.reverse_keyed]
    scored[:, reverse] = inst.response_min + inst.response_max - scored[:, reverse]
    if not inst.units:
        return scored
    # A unit with any part missing is missing: F + I needs both ratings.
    return np.column_stack(
        [scored[:, [index[p] for p in parts]].sum(axis=1) for parts in inst.units.values()]
    )


def symptom_counts(matrix: np.ndarray, units: np.ndarray, inst: Instrument) -> np.ndarray:
    """Symptoms meeting every threshold; missing when any unit is missing (no prorating)."""
    assert inst.symptom_count is not None
    index = {code: j for j, code in enumerate(inst.item_codes)}
    present = np.ones(units.shape, dtype=bool)
    for key, threshold in inst.symptom_count.thresholds.items():
        if key == "severity":
            present &= units >= threshold
        else:
            parts = [index[f"{unit}{key}"] for unit in inst.unit_codes]
            present &= matrix[:, parts] >= threshold
    counts = present.sum(axis=1).astype("float64")
    counts[np.isnan(units).any(axis=1)] = np.nan
    return counts


def score_instrument(
    items: pd.DataFrame, inst: Instrument, min_fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long scores (KEYS, score, value) and status rows for one instrument's responses."""
    rows, matrix = response_matrix(items, inst)
    units = unit_matrix(matrix, inst)
    unit_index = {code: j for j, code in enumerate(inst.unit_codes)}
    values, statuses = [], []
    for score in inst.scores:
        block = units[:, [unit_index[u] for u in score.items]]
        n_units = block.shape[1]
        n_present = (~np.isnan(block)).sum(axis=1)
        total = np.nansum(block, axis=1)
        ok = enough_present(n_present, n_units, min_fraction) & (n_present > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            # Prorate a sum as total × k / n_present: with every item present the factor is
            # exactly 1, so a complete score is the exact sum (mean × k can be off by an ulp).
            value = total / n_present if score.method == "mean" else total * (n_units / n_present)
        value = np.where(ok, value, np.nan)
        status = np.where(
            n_present == n_units, "complete", np.where(ok, "prorated", "too_few_items")
        )
        values.append(rows.assign(score=score.name, value=value))
        statuses.append(
            rows.assign(
                instrument=inst.code,
                score=score.name,
                n_items=n_units,
                n_present=n_present,
                status=status,
            )
        )
    if inst.symptom_count is not None:
        counts = symptom_counts(matrix, units, inst)
        values.append(rows.assign(score=inst.symptom_count.name, value=counts))
    return pd.concat(values, ignore_index=True), pd.concat(statuses, ignore_index=True)


def _carried_columns(items: pd.DataFrame) -> pd.DataFrame:
    """Arm (and therapist, site when given) per participant and phase: the first non-missing."""
    carried = [c for c in CARRIED if c in items.columns]
    return (
        items.sort_values(["participant_id", "phase", "source_row"] if "source_row" in items
                          else ["participant_id", "phase"], kind="stable")
        .groupby(["participant_id", "phase"], sort=True)[carried]
        .first()
        .reset_index()
    )  # fmt: skip


def score_items(
    items: pd.DataFrame,
    instruments: Mapping[str, Instrument] | None = None,
    min_fraction_present: Mapping[str, float] | None = None,
) -> ScoredItems:
    """Score a validated item frame into the scored layout (docs/data-layouts.md).

    Parameters
    ----------
    items
        The item frame (``participant_id, phase, arm, timepoint, instrument, item, value``).
    instruments
        Definitions by code; default: the bundled ones.
    min_fraction_present
        Per-instrument override of the missing-item rule, e.g. ``{"CAPS4": 0.8}``.
    """
    instruments = instruments or load_instruments()
    overrides = min_fraction_present or {}
    long_parts, status_parts = [], []
    for code, group in items.groupby("instrument", sort=True):
        inst = instruments[str(code)]
        fraction = overrides.get(inst.code, inst.min_fraction_present)
        values, status = score_instrument(group, inst, fraction)
        long_parts.append(values)
        status_parts.append(status)
    base = _carried_columns(items)
    if not long_parts:
        return ScoredItems(base, pd.DataFrame())
    long = pd.concat(long_parts, ignore_index=True)
    long["column"] = long["score"] + "__" + long["timepoint"]
    wide = long.pivot_table(
        index=["participant_id", "phase"], columns="column", values="value", aggfunc="first",
        dropna=False,
    )  # fmt: skip
    wide.columns.name = None
    scores = base.merge(wide.reset_index(), on=["participant_id", "phase"], how="left")
    score_columns = sorted(c for c in scores.columns if "__" in c)
    scores = scores[[c for c in scores.columns if "__" not in c] + score_columns]
    status = pd.concat(status_parts, ignore_index=True)
    return ScoredItems(scores=scores, status=status)
