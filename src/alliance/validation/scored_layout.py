"""Validate the scored layout (one row per participant and phase) into the scored frame.

Columns named ``<score>__<timepoint>`` are scores and must name a known score; every other
column besides ``participant_id, phase, arm`` (and ``therapist_id``, ``site``) is kept as a
possible covariate of an analysis plan, as numbers when every filled cell is a number.
Every problem is collected in one pass and raised as one :class:`GroupedDataError`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from alliance.errors import Problem
from alliance.input.readers import SOURCE_ROW, RawTable
from alliance.validation.cells import (
    TIMEPOINT,
    Codes,
    parse_numbers,
    row_problems,
    rows_text,
    text_codes,
)
from alliance.validation.participants import check_one_arm, combined_key, participant_codes
from alliance.validation.problems import ProblemCollector

REQUIRED = ("participant_id", "phase", "arm")
TEXT_COLUMNS = ("therapist_id", "site")
SEPARATOR = "__"


def known_score_names() -> set[str]:
    """Every score name any instrument definition produces."""
    from alliance.instruments.registry import load_instruments

    return {name for inst in load_instruments().values() for name in inst.score_names}


def is_score_column(column: str) -> bool:
    return SEPARATOR in column


def _check_score_column(column: str, scores: set[str], problems: ProblemCollector) -> bool:
    score, timepoint = column.split(SEPARATOR, 1)
    if score not in scores:
        problems.add(
            "unknown score",
            Problem(
                file=problems.file,
                row=1,
                column=column,
                what=f"'{score}' is not a known score name (known: {', '.join(sorted(scores))})",
                fix="rename the column to <score>__<timepoint> with a known score, or remove "
                "the double underscore if it is a covariate",
            ),
        )
        return False
    if TIMEPOINT.match(timepoint) is None:
        problems.add(
            "bad timepoint",
            Problem(
                file=problems.file,
                row=1,
                column=column,
                what=f"'{timepoint}' cannot be a timepoint (letters, digits and single "
                "underscores only)",
                fix=f"rename the column, e.g. {score}__baseline or {score}__s4",
            ),
        )
        return False
    return True


def _duplicate_rows(
    frame: pd.DataFrame, participant: Codes, phase: Codes, problems: ProblemCollector
) -> None:
    valid = (participant.codes >= 0) & (phase.codes >= 0)
    key = combined_key(
        [participant.codes, phase.codes], [len(participant.labels), len(phase.labels)]
    )
    position = np.flatnonzero(valid)
    repeated = pd.Series(key[position]).duplicated(keep=False).to_numpy()
    if not repeated.any():
        return
    sub = pd.DataFrame({"key": key[position[repeated]], "position": position[repeated]})
    source_row = frame[SOURCE_ROW].to_numpy()
    for _, group in sub.groupby("key", sort=False):
        members = group["position"].to_numpy()
        pid = participant.labels[participant.codes[members[0]]]
        phase_name = phase.labels[phase.codes[members[0]]]
        problems.add(
            "duplicate participant and phase",
            Problem(
                file=problems.file,
                row=int(source_row[members[1]]),
                column="participant_id",
                value=pid,
                what=f"participant '{pid}' has more than one {phase_name} row "
                f"({rows_text(source_row[members])}); the scored layout has one row per "
                "participant and phase",
                fix="merge the rows into one, or correct the participant_id or phase",
            ),
        )


def validate_scored(raw: RawTable, score_names: Iterable[str] | None = None) -> pd.DataFrame:
    """Check a scored-layout table and return the scored frame.

    Parameters
    ----------
    raw
        The table as read (:func:`alliance.input.readers.read_table`), after any mapping.
    score_names
        Known score names; default: every ``score_names`` of the instrument definitions.

    Returns
    -------
    pandas.DataFrame
        ``participant_id, phase, arm`` (+ ``therapist_id, site``), then the
        ``<score>__<timepoint>`` columns as float64, then any other columns (float64 when every
        filled cell is a number, text otherwise), one row per participant and phase.

    Raises
    ------
    GroupedDataError
        Listing every problem found (a :class:`alliance.errors.DataError`).
    """
    scores = set(known_score_names() if score_names is None else score_names)
    frame = raw.frame
    problems = ProblemCollector(raw.name)
    problems.require_columns(
        frame.columns,
        REQUIRED,
        f"the scored layout needs {', '.join(REQUIRED)} and <score>__<timepoint> columns",
    )
    codes = participant_codes(frame, problems)
    score_columns = [c for c in frame.columns if is_score_column(c)]
    if not score_columns:
        problems.add(
            "no scores",
            Problem(
                file=raw.name,
                row=1,
                what="no score columns (named <score>__<timepoint>, e.g. caps__baseline)",
                fix="add score columns, or give item-level data (instrument, item, value)",
            ),
        )
    numbers: dict[str, np.ndarray] = {}
    for column in score_columns:
        if not _check_score_column(column, scores, problems):
            continue
        values, not_number = parse_numbers(frame[column], raw.value_labels.get(column))
        problems.extend(
            f"non-numeric {column}",
            row_problems(
                frame,
                not_number,
                file=raw.name,
                column=column,
                what="score is not a number",
                fix="write the score as a number, or leave the cell blank if it is missing",
            ),
        )
        numbers[column] = values
    if {"participant_id", "phase"} <= codes.keys():
        _duplicate_rows(frame, codes["participant_id"], codes["phase"], problems)
    check_one_arm(frame, codes, problems)
    problems.raise_if_any()

    out = pd.DataFrame(
        {c: pd.Series(codes[c].values(), dtype="str") for c in REQUIRED}, index=frame.index
    )
    for column in TEXT_COLUMNS:
        if column in frame:
            out[column] = pd.Series(text_codes(frame[column]).values(), dtype="str")
    for column in score_columns:
        out[column] = numbers[column]
    for column in frame.columns:
        if column in out or column == SOURCE_ROW:
            continue
        values, not_number = parse_numbers(frame[column], raw.value_labels.get(column))
        filled = ~np.isnan(values) | not_number
        if filled.any() and not not_number.any():
            out[column] = values
        else:
            out[column] = pd.Series(text_codes(frame[column]).values(), dtype="str")
    return out.reset_index(drop=True)
