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


@dataclass(frozen=True)
class KeyCodes:
    """A key column as integer codes whose order is the labels' sorted order.

    ``codes[i]`` indexes ``labels`` (-1: missing). Because the labels are sorted, sorting by
    codes sorts by text: scoring orders and groups rows on integers, never on strings.
    """

    codes: np.ndarray  # int64
    labels: np.ndarray  # object array of str, sorted


def key_codes(column: pd.Series) -> KeyCodes:
    """The column's codes; a Categorical (the item frame's key columns) is taken as it is."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = np.asarray(column.cat.categories, dtype=object)
        codes = column.cat.codes.to_numpy(dtype=np.int64)
    else:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        codes = codes.astype(np.int64)
        categories = np.asarray(uniques, dtype=object)
    labels = np.array([str(c) for c in categories], dtype=object)
    order = np.argsort(labels, kind="stable")
    if np.any(order != np.arange(len(order))):
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
        labels = labels[order]
    return KeyCodes(codes, labels)


@dataclass(frozen=True)
class Occasions:
    """Rows grouped by (participant, phase, timepoint): one integer per row, in sorted order."""

    participant: KeyCodes
    phase: KeyCodes
    timepoint: KeyCodes

    @staticmethod
    def of(items: pd.DataFrame) -> Occasions:
        return Occasions(*(key_codes(items[k]) for k in KEYS))

    @property
    def key(self) -> np.ndarray:
        """One int64 per row; ordering by it orders by participant, then phase, then timepoint."""
        n_phase, n_time = len(self.phase.labels) + 1, len(self.timepoint.labels) + 1
        # +1 so a missing (-1) code keeps its own place, before every label.
        return ((self.participant.codes + 1) * n_phase + (self.phase.codes + 1)) * n_time + (
            self.timepoint.codes + 1
        )

    def split(self, key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The (participant, phase, timepoint) codes of combined keys."""
        n_phase, n_time = len(self.phase.labels) + 1, len(self.timepoint.labels) + 1
        timepoint = key % n_time - 1
        rest = key // n_time
        return rest // n_phase - 1, rest % n_phase - 1, timepoint

    def frame(self, key: np.ndarray) -> pd.DataFrame:
        """``participant_id, phase, timepoint`` of combined keys, as Categoricals."""
        parts = self.split(key)
        return pd.DataFrame(
            {
                name: _categorical(codes, part.labels)
                for name, codes, part in zip(
                    KEYS, parts, (self.participant, self.phase, self.timepoint), strict=True
                )
            }
        )


def _categorical(codes: np.ndarray, labels: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=pd.Index(labels, dtype="str"))


def _item_columns(items: pd.Series, inst: Instrument) -> np.ndarray:
    """The column of each row's item in the instrument's response matrix (-1: not its item)."""
    position = {code: j for j, code in enumerate(inst.item_codes)}
    item = key_codes(items)
    table = np.array([position.get(label, -1) for label in item.labels] + [-1], dtype=np.int64)
    return table[item.codes]  # code -1 (missing) takes the last entry


def distinct(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values of an int64 key and each entry's index among them.

    Keys combined from codes usually fill a range not much wider than their count: then a
    mark per possible value and a running count replace the sort ``np.unique`` does.
    """
    if len(key) == 0:
        return key.copy(), np.zeros(0, dtype=np.int64)
    low = int(key.min())
    span = int(key.max()) - low + 1
    if span > 2 * len(key) + 4096:
        return np.unique(key, return_inverse=True)
    offset = key - low
    seen = np.zeros(span, dtype=bool)
    seen[offset] = True
    rank = np.cumsum(seen, dtype=np.int64) - 1
    return np.flatnonzero(seen).astype(np.int64) + low, rank[offset]


def _matrix(
    key: np.ndarray, column: np.ndarray, values: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct sorted keys, each entry's row among them, and the (keys × width) matrix of
    ``values``, NaN where absent."""
    rows, row_of = distinct(key)
    matrix = np.full((len(rows), width), np.nan)
    matrix[row_of, column] = values
    return rows, row_of, matrix


def response_matrix(items: pd.DataFrame, inst: Instrument) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows (participant, phase, timepoint) and the (rows × items) response matrix, NaN = missing."""
    occasions = Occasions.of(items)
    rows, _, matrix = _matrix(
        occasions.key,
        _item_columns(items["item"], inst),
        items["value"].to_numpy(dtype="float64"),
        len(inst.item_codes),
    )
    return occasions.frame(rows), matrix


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


def _instrument_scores(
    matrix: np.ndarray, inst: Instrument, min_fraction: float
) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, int, np.ndarray, np.ndarray]]]:
    """Every score of one instrument from its response matrix: ``(name, values)`` per score,
    and ``(name, n_units, n_present, status code)`` per prorated score (0 complete,
    1 prorated, 2 too few items)."""
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
        values.append((score.name, np.where(ok, value, np.nan)))
        status = np.where(n_present == n_units, 0, np.where(ok, 1, 2)).astype(np.int8)
        statuses.append((score.name, n_units, n_present, status))
    if inst.symptom_count is not None:
        values.append((inst.symptom_count.name, symptom_counts(matrix, units, inst)))
    return values, statuses


STATUSES = ("complete", "prorated", "too_few_items")


def _first_present(
    group: np.ndarray, order: np.ndarray, column: pd.Series, n_groups: int
) -> pd.Series:
    """Per group, the column's first non-missing value in ``order`` (missing: none there)."""
    rows = order[column.notna().to_numpy()[order]]
    first = pd.Series(group[rows]).drop_duplicates(keep="first")
    picked = column.iloc[rows[first.index.to_numpy()]]
    if isinstance(picked.dtype, pd.CategoricalDtype):
        picked = picked.astype("str")
    picked.index = pd.Index(first.to_numpy())
    return picked.reindex(pd.RangeIndex(n_groups))


def _carried_columns(
    items: pd.DataFrame, occasions: Occasions
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Arm (and therapist, site when given) per participant and phase: the first non-missing,
    in file order (the frame's index numbers the pairs in sorted order); each row's pair
    (-1: a row without participant or phase); and the number of pairs."""
    n_phase = len(occasions.phase.labels) + 1
    pair = (occasions.participant.codes + 1) * n_phase + (occasions.phase.codes + 1)
    pairs, group = distinct(pair)
    if "source_row" in items:
        source_row = items["source_row"].to_numpy()
        ascending = len(source_row) < 2 or bool(np.all(source_row[1:] >= source_row[:-1]))
        order = np.arange(len(items)) if ascending else np.argsort(source_row, kind="stable")
    else:
        order = np.arange(len(items))
    participant = pairs // n_phase - 1
    phase = pairs % n_phase - 1
    base = {
        "participant_id": pd.Series(_categorical(participant, occasions.participant.labels)).astype(
            "str"
        ),
        "phase": pd.Series(_categorical(phase, occasions.phase.labels)).astype("str"),
    }
    for name in CARRIED:
        if name in items.columns:
            base[name] = _first_present(group, order, items[name], len(pairs))
    frame = pd.DataFrame(base)
    # Rows without a participant or phase (only in a frame that skipped validation) belong to
    # no participant's row, as grouping by the text columns drops them.
    frame = frame.loc[(participant >= 0) & (phase >= 0)]
    kept = np.zeros(len(pairs) + 1, dtype=bool)
    kept[frame.index.to_numpy()] = True
    return frame, np.where(kept[group], group, -1), len(pairs)


def score_items(
    items: pd.DataFrame,
    instruments: Mapping[str, Instrument] | None = None,
    min_fraction_present: Mapping[str, float] | None = None,
) -> ScoredItems:
    """Score a validated item frame into the scored layout (docs/data-layouts.md).

    Parameters
    ----------
    items
        The item frame (``participant_id, phase, arm, timepoint, instrument, item, value``);
        key columns may be text or Categoricals (as :func:`validate_items` returns them).
    instruments
        Definitions by code; default: the bundled ones.
    min_fraction_present
        Per-instrument override of the missing-item rule, e.g. ``{"CAPS4": 0.8}``.

    Every step works on integer codes: rows are grouped by one int64 key of (participant,
    phase, timepoint), items are placed by a small lookup table per instrument, and the
    scores are written straight into the (participant × phase) by score-column matrix.
    """
    instruments = instruments or load_instruments()
    overrides = min_fraction_present or {}
    occasions = Occasions.of(items)
    base, pair_group, n_pairs = _carried_columns(items, occasions)
    instrument = key_codes(items["instrument"])
    present = np.bincount(instrument.codes[instrument.codes >= 0], minlength=len(instrument.labels))
    if not present.any():
        return ScoredItems(base.reset_index(drop=True), pd.DataFrame())
    key = occasions.key
    # One slot per (participant, phase) pair, plus a last one that rows of no kept pair
    # (group -1) write to and nobody reads.
    n_slots = n_pairs + 1
    item = items["item"]
    values = items["value"].to_numpy(dtype="float64")
    n_time = len(occasions.timepoint.labels) + 1
    columns: dict[str, np.ndarray] = {}
    status_parts: list[pd.DataFrame] = []
    for index in np.flatnonzero(present):
        inst = instruments[str(instrument.labels[index])]
        fraction = overrides.get(inst.code, inst.min_fraction_present)
        mine = np.flatnonzero(instrument.codes == index)
        rows, row_of, matrix = _matrix(
            key[mine],
            _item_columns(item.iloc[mine], inst),
            values[mine],
            len(inst.item_codes),
        )
        # Each occasion's (participant, phase) group and timepoint, from one row holding it.
        holder = np.empty(len(rows), dtype=np.int64)
        holder[row_of] = mine
        group = pair_group[holder]
        timepoint = rows % n_time - 1
        values_of, statuses = _instrument_scores(matrix, inst, fraction)
        for name, value in values_of:
            for t in np.unique(timepoint[timepoint >= 0]):
                at = timepoint == t
                column = f"{name}__{occasions.timepoint.labels[t]}"
                if column not in columns:
                    columns[column] = np.full(n_slots, np.nan)
                # Forms of one family (WAI, WAI-S) share score columns; at an occasion with
                # two (only in an unvalidated frame) the first form in code order with a
                # value gives it, as a pivot taking the first non-missing value would.
                target, slots, given = columns[column], group[at], value[at]
                empty = np.isnan(target[slots])
                target[slots[empty]] = given[empty]
        frame = occasions.frame(rows)
        status_parts.extend(
            frame.assign(
                instrument=inst.code,
                score=name,
                n_items=n_units,
                n_present=n_present,
                status=pd.Categorical.from_codes(code, categories=pd.Index(STATUSES, dtype="str")),
            )
            for name, n_units, n_present, code in statuses
        )
    kept = base.index.to_numpy()
    scores = pd.concat(
        [base, pd.DataFrame({c: columns[c][kept] for c in sorted(columns)}, index=base.index)],
        axis=1,
    ).reset_index(drop=True)
    status: pd.DataFrame = pd.concat(status_parts, ignore_index=True)
    for column in ("instrument", "score"):
        status[column] = status[column].astype("category")
    return ScoredItems(scores=scores, status=status)
