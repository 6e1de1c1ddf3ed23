"""Validate the scored layout (one row per participant and phase) into the scored frame.

Columns named ``<score>__<timepoint>`` are scores and must name a known score; every other
column besides ``participant_id, phase, arm`` (and ``therapist_id``, ``site``) is kept as a
possible covariate of an analysis plan, as numbers when every filled cell is a number.
Every problem is collected in one pass and raised as one :class:`GroupedDataError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from alliance.errors import Problem
from alliance.input.readers import SOURCE_ROW, RawTable
from alliance.validation.cells import (
    MAX_MAGNITUDE,
    TIMEPOINT,
    Codes,
    NumberBlock,
    NumberKind,
    ParsedNumbers,
    number_problems,
    read_number_block,
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
    return set(score_ranges())


@dataclass(frozen=True)
class ScoreRange:
    """The values a score column may hold, over every instrument that produces the score.

    A scored file does not say which instrument (or version) gave a score: ``caps`` is the
    CAPS-IV total (0–136) or the CAPS-5 total (0–80), ``wai`` the WAI (36–252), WAI-S (12–84)
    or WAI-SR (12–60) total. So the check is the union, and the message names each one's range.
    """

    low: float
    high: float
    by_instrument: tuple[tuple[str, float, float], ...]
    integral: bool  # symptom counts: never prorated, so always whole numbers

    def describe(self) -> str:
        whole = "whole numbers " if self.integral else ""
        text = f"{whole}{self.low:g}–{self.high:g}"
        if len(self.by_instrument) > 1:
            text += " (" + "; ".join(f"{c} {lo:g}–{hi:g}" for c, lo, hi in self.by_instrument) + ")"
        return text


@cache
def score_ranges() -> Mapping[str, ScoreRange]:
    """Each known score name's range, from the bundled instrument definitions."""
    from alliance.instruments.registry import load_instruments

    spans: dict[str, list[tuple[str, float, float]]] = {}
    counts: set[str] = set()
    for inst in load_instruments().values():
        for name, (low, high) in inst.score_ranges().items():
            spans.setdefault(name, []).append((inst.code, low, high))
        if inst.symptom_count is not None:
            counts.add(inst.symptom_count.name)
    return {
        name: ScoreRange(
            low=min(s[1] for s in found),
            high=max(s[2] for s in found),
            by_instrument=tuple(found),
            integral=name in counts,
        )
        for name, found in spans.items()
    }


# Prorated totals are computed in floating point (total × k / n): allow rounding at the edges.
_RANGE_SLACK = 1e-9


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


def _check_scores(
    frame: pd.DataFrame,
    columns: list[str],
    parsed: Mapping[str, ParsedNumbers],
    problems: ProblemCollector,
) -> None:
    """Cells that are not numbers, scores outside what their instrument can give, and
    fractional symptom counts.

    The checks run on all score columns at once; problems are built only for the columns that
    have some, so a file of thousands of clean columns costs little more than its cells.
    """
    if not columns:
        return
    ranges = score_ranges()
    values = np.column_stack([parsed[c].values for c in columns])
    bad = np.column_stack([parsed[c].bad for c in columns])
    allowed = [ranges.get(c.split(SEPARATOR, 1)[0]) for c in columns]
    low = np.array([-np.inf if a is None else a.low for a in allowed])
    high = np.array([np.inf if a is None else a.high for a in allowed])
    slack = _RANGE_SLACK * np.where(np.isfinite(high - low), high - low, 0.0)
    with np.errstate(invalid="ignore"):
        outside = (values < low - slack) | (values > high + slack)
        integral = np.array([a is not None and a.integral for a in allowed])
        fractional = integral & ~outside & np.isfinite(values) & (np.floor(values) != values)
    for j in np.flatnonzero(bad.any(axis=0) | outside.any(axis=0) | fractional.any(axis=0)):
        column = columns[j]
        number_problems(
            frame,
            parsed[column],
            problems,
            column=column,
            noun="score",
            fix="write the score as a number, or leave the cell blank if it is missing",
        )
        score, span = column.split(SEPARATOR, 1)[0], allowed[j]
        if span is None:
            continue
        problems.extend(
            f"range {column}",
            row_problems(
                frame,
                outside[:, j],
                file=problems.file,
                column=column,
                what=f"score is outside the range of {score}: {span.describe()}",
                fix="correct the score (check that the column holds this score and not "
                "another), or leave the cell blank if it is missing",
            ),
        )
        problems.extend(
            f"integral {column}",
            row_problems(
                frame,
                fractional[:, j],
                file=problems.file,
                column=column,
                what=f"{score} counts symptoms, so it is a whole number ({span.describe()})",
                fix="correct the count, or leave the cell blank if it is missing",
            ),
        )


def _other_column(
    frame: pd.DataFrame, column: str, block: NumberBlock, problems: ProblemCollector
) -> np.ndarray:
    """A column that is not a score: a possible plan covariate.

    It is numbers (float64) when every filled cell is a number, text otherwise. A column
    whose every cell would be a number but for some that are malformed ('0_3', '1,5', 'inf',
    non-ASCII digits) is a numeric column with mistakes: those cells are problems, rather
    than the column silently turning into categories. Numbers of magnitude ``MAX_MAGNITUDE``
    or more are problems too: no covariate is measured in such units, and their squares would
    overwhelm every other number in a model.
    """
    parsed = block.parsed[column]
    kinds = parsed.kinds
    if np.any(kinds == NumberKind.TEXT):
        return block.texts(frame, column)
    if parsed.bad.any():
        number_problems(
            frame,
            parsed,
            problems,
            column=column,
            noun="value",
            fix="write the value as a plain number, or leave the cell blank if it is missing",
        )
        return parsed.values
    with np.errstate(invalid="ignore"):
        huge = np.abs(parsed.values) >= MAX_MAGNITUDE
    problems.extend(
        f"magnitude {column}",
        row_problems(
            frame,
            huge,
            file=problems.file,
            column=column,
            what=f"value is implausibly large for a covariate (magnitude {MAX_MAGNITUDE:g} or "
            "more)",
            fix="correct the value, or rescale the column (e.g. thousands instead of units)",
        ),
    )
    if not (kinds == NumberKind.NUMBER).any():
        return block.texts(frame, column)
    return parsed.values


def validate_scored(
    raw: RawTable, score_names: Iterable[str] | None = None, decimal: str = "."
) -> pd.DataFrame:
    """Check a scored-layout table and return the scored frame.

    Parameters
    ----------
    raw
        The table as read (:func:`alliance.input.readers.read_table`), after any mapping.
    score_names
        Known score names; default: every ``score_names`` of the instrument definitions.
    decimal
        The decimal separator of numbers written as text: ``"."`` or ``","``
        (``--decimal-comma``).

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
    valid_scores = [c for c in score_columns if _check_score_column(c, scores, problems)]
    extra_columns = [
        c
        for c in frame.columns
        if c not in (*REQUIRED, *TEXT_COLUMNS, SOURCE_ROW) and not is_score_column(c)
    ]
    block = read_number_block(frame, valid_scores + extra_columns, raw.value_labels, decimal)
    _check_scores(frame, valid_scores, block.parsed, problems)
    numbers = {c: block.parsed[c].values for c in valid_scores}
    if {"participant_id", "phase"} <= codes.keys():
        _duplicate_rows(frame, codes["participant_id"], codes["phase"], problems)
    check_one_arm(frame, codes, problems)
    extras = {column: _other_column(frame, column, block, problems) for column in extra_columns}
    problems.raise_if_any()

    # Built column by column into a dict and assembled once: inserting into a frame one column
    # at a time fragments it and costs O(columns) per insert, quadratic for wide files.
    out: dict[str, object] = {c: codes[c].values() for c in REQUIRED}
    for column in TEXT_COLUMNS:
        if column in frame:
            out[column] = text_codes(frame[column]).values()
    out.update(numbers)
    for column, values in extras.items():
        out[column] = values
    result = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))
    text = [c for c in (*REQUIRED, *TEXT_COLUMNS) if c in result]
    text += [c for c, v in extras.items() if v.dtype == object]
    return result.astype({c: "str" for c in text})
