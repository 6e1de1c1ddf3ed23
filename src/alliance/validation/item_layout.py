"""Validate the item layout (one row per response) into the item frame, in one pass.

Every check runs on the whole file and every problem is collected; the function either returns
the item frame of ``docs/architecture.md`` or raises one :class:`GroupedDataError` listing them
all. Checks work on integer codes of each column's distinct values (see
:mod:`alliance.validation.cells`), so two million rows take seconds; Python-level work happens
only for the rows that have a problem.

Duplicate responses (same participant, phase, timepoint, instrument and item):

- with different values they are a problem naming both rows;
- with the same value (a row pasted twice) they are kept once, and the result says so in
  ``frame.attrs["warnings"]`` (lines for the user) and ``frame.attrs["collapsed_duplicates"]``
  (how many rows were dropped), so nothing is dropped silently.

Columns other than the required and optional ones are not part of the item frame; they are named
in ``frame.attrs["warnings"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

import numpy as np
import pandas as pd

from alliance.errors import Problem
from alliance.input.cells import cell_text
from alliance.input.readers import SOURCE_ROW, RawTable
from alliance.validation.cells import (
    MAPPING_HINT,
    Codes,
    blank_problems,
    categorical_column,
    names_text,
    number_problems,
    read_numbers,
    row_problems,
    text_codes,
    timepoint_label,
)
from alliance.validation.instrument_codes import (
    InstrumentLike,
    families,
    instrument_label,
    instrument_lookup,
    item_label,
    items_summary,
)
from alliance.validation.participants import check_one_arm, combined_key, participant_codes
from alliance.validation.problems import ProblemCollector

REQUIRED = ("participant_id", "phase", "arm", "timepoint", "instrument", "item", "value")
OPTIONAL = ("therapist_id", "site", "date")
_RESPONSE_KEY = ("participant_id", "phase", "timepoint", "instrument", "item")


def _read_columns(
    frame: pd.DataFrame,
    instruments: Mapping[str, InstrumentLike],
    problems: ProblemCollector,
) -> dict[str, Codes]:
    """Each present required column as codes of its normalised values; problems collected."""
    file = problems.file
    codes = participant_codes(frame, problems)
    if "timepoint" in frame:
        codes["timepoint"] = categorical_column(
            frame,
            "timepoint",
            timepoint_label,
            problems,
            "timepoint cannot name a score column (it becomes e.g. wai__<timepoint>)",
            "use letters, digits and single underscores, e.g. 'baseline', 'pre_s3', 's4', "
            f"{MAPPING_HINT}",
        )
    if "instrument" in frame:
        known = ", ".join(sorted(inst.code for inst in instruments.values()))
        codes["instrument"] = categorical_column(
            frame,
            "instrument",
            partial(instrument_label, lookup=instrument_lookup(instruments)),
            problems,
            f"unknown instrument (known: {known})",
            f"write one of {known}, {MAPPING_HINT}",
        )
    if "item" in frame:
        raw = text_codes(frame["item"])
        problems.extend("blank item", blank_problems(frame, raw, "item", file))
        codes["item"], _ = raw.map(item_label)
    return codes


def _check_items_and_values(
    frame: pd.DataFrame,
    codes: dict[str, Codes],
    values: np.ndarray,
    instruments: Mapping[str, InstrumentLike],
    problems: ProblemCollector,
) -> None:
    """Item codes belong to their instrument; responses lie on its scale."""
    by_code = {inst.code: inst for inst in instruments.values()}
    inst_codes, inst_labels = codes["instrument"].codes, codes["instrument"].labels
    for index, code in enumerate(inst_labels):
        inst = by_code[code]
        rows = inst_codes == index
        if "item" in codes:
            item_codes, item_labels = codes["item"].codes, codes["item"].labels
            valid_items = {item_label(str(c)) for c in inst.item_codes}
            wrong = np.array([label not in valid_items for label in item_labels], dtype=bool)
            bad_item = np.zeros(len(frame), dtype=bool)
            present = rows & (item_codes >= 0)
            bad_item[present] = wrong[item_codes[present]]
            problems.extend(
                f"item {code}",
                row_problems(
                    frame,
                    bad_item,
                    file=problems.file,
                    column="item",
                    what=f"not an item code of {code} (its items are "
                    f"{items_summary(list(inst.item_codes))})",
                    fix=f"use {code}'s item codes (check this row's instrument), {MAPPING_HINT}",
                ),
            )
        low, high = float(inst.response_min), float(inst.response_max)
        scale = f"{low:g}–{high:g}"
        outside = rows & ((values < low) | (values > high))
        problems.extend(
            f"range {code}",
            row_problems(
                frame,
                outside,
                file=problems.file,
                column="value",
                what=f"response is outside {code}'s response range {scale}",
                fix="correct the response, or leave the cell blank to mark it missing",
            ),
        )
        if getattr(inst, "integer_responses", True):
            fractional = rows & ~outside & (np.floor(values) != values) & np.isfinite(values)
            problems.extend(
                f"integer {code}",
                row_problems(
                    frame,
                    fractional,
                    file=problems.file,
                    column="value",
                    what=f"response is not a whole number ({code} responses are whole numbers "
                    f"{scale})",
                    fix="correct the response, or leave the cell blank to mark it missing",
                ),
            )


def _duplicates(
    frame: pd.DataFrame,
    codes: dict[str, Codes],
    values: np.ndarray,
    problems: ProblemCollector,
) -> tuple[np.ndarray, list[str]]:
    """Rows to keep, and warnings: identical repeats are kept once, conflicting ones reported."""
    n = len(frame)
    keep = np.ones(n, dtype=bool)
    parts = [codes[c] for c in _RESPONSE_KEY]
    valid = np.logical_and.reduce([p.codes >= 0 for p in parts])
    key = combined_key([p.codes for p in parts], [len(p.labels) for p in parts])
    position = np.flatnonzero(valid)
    # The usual file repeats nothing: one sort of the integer keys says so (hashing millions
    # of keys costs several times more); only a file with repeats takes the detailed pass.
    ordered = np.sort(key[position])
    if not np.any(ordered[1:] == ordered[:-1]):
        return keep, []
    del ordered
    repeated = pd.Series(key[position]).duplicated(keep=False).to_numpy()
    position = position[repeated]
    if len(position) == 0:
        return keep, []
    order = np.lexsort((position, key[position]))
    position = position[order]
    group_key = key[position]
    starts = np.r_[True, group_key[1:] != group_key[:-1]]
    first = position[np.maximum.accumulate(np.where(starts, np.arange(len(position)), 0))]
    same = (values[position] == values[first]) | (
        np.isnan(values[position]) & np.isnan(values[first])
    )
    group_id = np.cumsum(starts) - 1
    conflicting_group = np.zeros(group_id[-1] + 1, dtype=bool)
    np.logical_or.at(conflicting_group, group_id, ~same)
    conflict = conflicting_group[group_id]
    source_row = frame[SOURCE_ROW].to_numpy()
    bounds = np.r_[np.flatnonzero(starts), len(position)]
    for g in np.flatnonzero(conflicting_group):
        members = position[bounds[g] : bounds[g + 1]]
        shown = [
            f"{'blank' if np.isnan(values[m]) else format(values[m], 'g')} (row {source_row[m]})"
            for m in members[:5]
        ]
        labels = {c: codes[c].labels[codes[c].codes[members[0]]] for c in _RESPONSE_KEY}
        problems.add(
            "conflicting duplicate",
            Problem(
                file=problems.file,
                row=int(source_row[members[1]]),
                column="value",
                value=cell_text(frame["value"].iloc[members[1]]) or None,
                what=f"conflicting responses for participant '{labels['participant_id']}', "
                f"{labels['phase']} phase, timepoint {labels['timepoint']}, "
                f"{labels['instrument']} item {labels['item']}: {len(members)} rows give "
                f"{', '.join(shown)}{', …' if len(members) > 5 else ''}",
                fix="keep the one correct row and delete the others",
            ),
        )
    repeats = position[~starts & ~conflict]
    keep[repeats] = False
    if len(repeats) == 0:
        return keep, []
    examples = ", ".join(
        f"row {source_row[r]} repeats row {source_row[f]}"
        for r, f in zip(repeats[:5], first[~starts & ~conflict][:5], strict=True)
    )
    warning = (
        f"{problems.file}: {len(repeats):,} rows repeat an earlier row's response exactly "
        f"(same participant, phase, timepoint, instrument, item and value; {examples}"
        f"{', …' if len(repeats) > 5 else ''}); each response is counted once"
    )
    return keep, [warning]


def _two_forms(
    frame: pd.DataFrame,
    codes: dict[str, Codes],
    instruments: Mapping[str, InstrumentLike],
    problems: ProblemCollector,
) -> None:
    """One form per instrument family at a participant's phase and timepoint (not WAI and
    WAI_S both)."""
    parts = [codes[c] for c in ("participant_id", "phase", "timepoint", "instrument")]
    valid = np.logical_and.reduce([p.codes >= 0 for p in parts])
    if not valid.any():
        return
    family_of = families(instruments)
    labels = parts[3].labels
    family_codes, family_labels = pd.factorize(np.array([family_of[c] for c in labels]))
    occasion = combined_key([p.codes for p in parts[:3]], [len(p.labels) for p in parts[:3]])
    # Each (occasion, instrument) once, at its first row, in file order: a sort of one integer
    # key, then the few hundred thousand pairs go on as a frame.
    position = np.flatnonzero(valid)
    pair = combined_key(
        [occasion[position], parts[3].codes[position]],
        [int(occasion.max(initial=0)) + 1, len(labels)],
    )
    _, first = np.unique(pair, return_index=True)
    position = position[np.sort(first)]
    pairs = pd.DataFrame(
        {
            "occasion": occasion[position],
            "instrument": parts[3].codes[position],
            "position": position,
        }
    )
    pairs["family"] = family_codes[pairs["instrument"].to_numpy()]
    forms = pairs.groupby(["occasion", "family"])["instrument"].transform("size")
    clashes = pairs.loc[forms.to_numpy() > 1].sort_values("position")
    source_row = frame[SOURCE_ROW].to_numpy()
    for _, group in clashes.groupby(["occasion", "family"], sort=False):
        at = int(group["position"].iloc[0])
        names = [labels[i] for i in group["instrument"]]
        pid, phase, timepoint = (p.labels[p.codes[at]] for p in parts[:3])
        family_name = family_labels[int(group["family"].iloc[0])]
        problems.add(
            "two forms",
            Problem(
                file=problems.file,
                row=int(source_row[group["position"].iloc[1]]),
                column="instrument",
                value=names[1],
                what=f"participant '{pid}', {phase} phase, timepoint {timepoint} has "
                f"{' and '.join(names)}, two forms of the {family_name} family "
                f"(first rows {', '.join(str(source_row[p]) for p in group['position'])})",
                fix="keep one form per timepoint: delete or correct the other form's rows",
            ),
        )


def _categorical(codes: Codes) -> pd.Categorical:
    """A column as a Categorical of its labels, categories in sorted order: the codes made
    once here are the ones scoring groups by (sorting by code sorts by text)."""
    labels = np.asarray(codes.labels, dtype=object)
    order = np.argsort(labels, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    sorted_codes = np.append(rank, -1)[codes.codes]  # code -1 (blank) stays -1
    return pd.Categorical.from_codes(sorted_codes, categories=pd.Index(labels[order], dtype="str"))


def validate_items(
    raw: RawTable,
    instruments: Mapping[str, InstrumentLike] | None = None,
    decimal: str = ".",
) -> pd.DataFrame:
    """Check an item-layout table and return the item frame.

    Parameters
    ----------
    raw
        The table as read (:func:`alliance.input.readers.read_table`), after any mapping.
    instruments
        Instrument definitions by code; default :func:`alliance.instruments.registry.load_instruments`.
    decimal
        The decimal separator of responses written as text: ``"."`` or ``","``
        (``--decimal-comma``).

    Returns
    -------
    pandas.DataFrame
        ``participant_id, phase, arm, timepoint, instrument, item, value, source_row`` and the
        optional ``therapist_id, site, date`` (see ``docs/architecture.md``). ``attrs`` holds
        ``warnings`` (list of str) and ``collapsed_duplicates`` (int).

    Raises
    ------
    GroupedDataError
        Listing every problem found (a :class:`alliance.errors.DataError`).
    """
    if instruments is None:
        from alliance.instruments.registry import load_instruments

        instruments = load_instruments()
    frame = raw.frame
    problems = ProblemCollector(raw.name)
    problems.require_columns(
        frame.columns, REQUIRED, f"the item layout needs {', '.join(REQUIRED)}"
    )
    codes = _read_columns(frame, instruments, problems)
    values = np.full(len(frame), np.nan)
    if "value" in frame:
        parsed = read_numbers(frame["value"], raw.value_labels.get("value"), decimal)
        number_problems(
            frame,
            parsed,
            problems,
            column="value",
            noun="response",
            fix="write the response as a number, or leave the cell blank to mark it missing",
        )
        values = parsed.values
    keep = np.ones(len(frame), dtype=bool)
    warnings: list[str] = []
    if "instrument" in codes:
        _check_items_and_values(frame, codes, values, instruments, problems)
    if set(_RESPONSE_KEY) <= codes.keys() and "value" in frame:
        keep, warnings = _duplicates(frame, codes, values, problems)
    check_one_arm(frame, codes, problems)
    if {"participant_id", "phase", "timepoint", "instrument"} <= codes.keys():
        _two_forms(frame, codes, instruments, problems)
    problems.raise_if_any()

    out = pd.DataFrame(
        {column: _categorical(codes[column]) for column in REQUIRED if column != "value"}
    )
    out["value"] = values.astype(np.float64)
    out[SOURCE_ROW] = frame[SOURCE_ROW].to_numpy(dtype=np.int64)
    for column in OPTIONAL:
        if column in frame:
            out[column] = _categorical(text_codes(frame[column]))
    ignored = [c for c in frame.columns if c not in (*REQUIRED, *OPTIONAL, SOURCE_ROW)]
    if ignored:
        warnings.append(
            f"{raw.name}: {len(ignored):,} column(s) are not part of the item layout and were "
            f"not used: {names_text(ignored)}"
        )
    if not keep.all():
        out = out.loc[keep].reset_index(drop=True)
    out.attrs["warnings"] = warnings
    out.attrs["collapsed_duplicates"] = int((~keep).sum())
    return out
