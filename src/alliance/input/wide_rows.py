"""Row-level steps of reading a wide export or CDISC file (``alliance.input.wide``): the
participant fill, timepoints from an event column, rows of events without a timepoint, the range
of answers, and the item-layout frame assembled from codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alliance.errors import Problem
from alliance.input.mapping import match_key
from alliance.input.readers import SOURCE_ROW
from alliance.input.wide_mapping import Target, WideMapping
from alliance.instruments.registry import load_instruments
from alliance.validation.cells import (
    Codes,
    names_text,
    row_problems,
    rows_text,
    text_codes,
)
from alliance.validation.participants import combined_key
from alliance.validation.problems import ProblemCollector

CARRIED = ("participant_id", "arm", "therapist_id", "site", "date")


def line_text(line: int | None) -> str:
    return f" line {line}" if line is not None else ""


def similar_columns(pattern: str, columns: Sequence[str]) -> str:
    stem = pattern.split("{", 1)[0]
    for length in range(len(stem), 0, -1):
        near = [c for c in columns if c.startswith(stem[:length])]
        if near:
            return f"columns starting '{stem[:length]}': {names_text(near, 6)}"
    return f"the file's columns are {names_text(list(columns), 8)}"


def column_problem(file: str, column: str | None, what: str, fix: str) -> Problem:
    return Problem(file=file, row=1, column=column, what=what, fix=fix)


def fill_participant(
    frame: pd.DataFrame,
    wide: WideMapping,
    sources: Mapping[str, str],
    file: str,
    mapping: str,
    problems: ProblemCollector,
) -> None:
    """Copy each [participant] column's value to all of a participant's rows (in place)."""
    if not wide.participant or "participant_id" not in frame:
        return
    person = text_codes(frame["participant_id"])
    source_row = frame[SOURCE_ROW].to_numpy()
    for column, line in wide.participant.items():
        if column not in frame:
            problems.add(
                "participant column",
                column_problem(
                    file,
                    column,
                    f"{mapping}{line_text(line)} [participant] names '{column}', which {file} does "
                    "not have (after the [columns] renames)",
                    "correct the name, or map a column to it under [columns]",
                ),
            )
            continue
        cells = text_codes(frame[column])
        valid = (person.codes >= 0) & (cells.codes >= 0)
        pairs = pd.DataFrame({"p": person.codes[valid], "v": cells.codes[valid]})
        pairs = pairs.drop_duplicates()
        conflicting = pairs["p"][pairs["p"].duplicated()].unique()
        for p in conflicting[:50]:
            rows = valid & (person.codes == p)
            shown = [
                f"'{cells.labels[v]}' ({rows_text(source_row[rows & (cells.codes == v)])})"
                for v in pd.unique(cells.codes[rows])
            ]
            first = int(source_row[rows][0])
            problems.add(
                "participant conflict",
                Problem(
                    file=file,
                    row=first,
                    column=sources.get(column, column),
                    what=f"participant '{person.labels[p]}' has different {column} values: "
                    f"{' and '.join(shown)}; {mapping}{line_text(line)} [participant] copies "
                    f"{column} across a participant's rows, so they must agree",
                    fix="correct the rows with the wrong value (leave it blank on the other "
                    f"rows), or remove '{column}' from [participant] columns",
                ),
            )
        if len(conflicting):
            continue
        table = np.full(len(person.labels), -1, dtype=np.int64)
        table[pairs["p"].to_numpy()] = pairs["v"].to_numpy()
        filled = np.where(
            cells.codes >= 0, cells.codes, np.where(person.codes >= 0, table[person.codes], -1)
        )
        frame[column] = categorical_codes(Codes(filled, cells.labels))


def categorical_codes(codes: Codes) -> pd.Series:
    labels = pd.Index(codes.labels.astype(str), dtype=object)
    if labels.has_duplicates:  # cannot happen for text_codes labels; kept safe
        return pd.Series(codes.values(), dtype=object)
    return pd.Series(pd.Categorical.from_codes(codes.codes, categories=labels))


def event_targets(
    frame: pd.DataFrame,
    wide: WideMapping,
    labels: Mapping[Any, str] | None,
    file: str,
    mapping: str,
    problems: ProblemCollector,
) -> tuple[np.ndarray, list[Target], Codes] | None:
    """Per row, the index of its event's target (-1: no target), the targets, and the event
    column's codes; None when the mapping has no [timepoints]."""
    column = wide.event_column
    if column is None:
        return None
    if column not in frame:
        problems.add(
            "event column",
            column_problem(
                file,
                column,
                f"{mapping}{line_text(wide.event_line)} [timepoints] column = '{column}', but {file} "
                "has no such column",
                f"correct the name; {similar_columns(column, [str(c) for c in frame if c != SOURCE_ROW])}",
            ),
        )
        return None
    events = text_codes(frame[column])
    code_of = {match_key(label): match_key(code) for code, label in (labels or {}).items()}
    targets = list(wide.events.values())
    index_of = {key: i for i, key in enumerate(wide.events)}
    table = np.array(
        [
            index_of.get(match_key(label), index_of.get(code_of.get(match_key(label), ""), -1))
            for label in events.labels
        ]
        + [-1],
        dtype=np.int64,
    )
    return table[events.codes], targets, events


def range_problems(
    frame: pd.DataFrame,
    values: np.ndarray,
    rows: np.ndarray | None,
    column: str,
    instrument: str,
    problems: ProblemCollector,
) -> None:
    inst = load_instruments()[instrument]
    low, high = float(inst.response_min), float(inst.response_max)
    outside = (values < low) | (values > high)
    fractional = ~outside & np.isfinite(values) & (np.floor(values) != values)
    for mask, what in (
        (outside, f"{instrument} answer outside its response range {low:g}–{high:g}"),
        (fractional, f"{instrument} answer is not a whole number ({low:g}–{high:g})"),
    ):
        if rows is not None:
            mask = mask & rows
        if mask.any():
            problems.extend(
                f"{what} {column}",
                row_problems(
                    frame,
                    mask,
                    file=problems.file,
                    column=column,
                    what=what,
                    fix="correct the answer, or leave the cell blank to mark it missing",
                ),
            )


def codes_of(texts: Sequence[str | None]) -> Codes:
    """Codes of a short list of labels (None: code -1)."""
    present = [t for t in texts if t is not None]
    labels = np.array(list(dict.fromkeys(present)), dtype=object)
    index = {t: i for i, t in enumerate(labels)}
    return Codes(np.array([index[t] if t is not None else -1 for t in texts]), labels)


@dataclass(frozen=True)
class Reshaped:
    table: pd.DataFrame
    warnings: list[str]


def row_timepoints(
    ids: pd.DataFrame,
    events: tuple[np.ndarray, list[Target], Codes] | None,
) -> tuple[Codes | None, Codes | None]:
    """Per row: its timepoint and phase from the event (else from a timepoint or phase column
    of the file or a constant), as codes; None when nothing gives one."""
    n = len(ids)
    timepoint = text_codes(ids["timepoint"]) if "timepoint" in ids else None
    phase = text_codes(ids["phase"]) if "phase" in ids else None
    if events is None:
        return timepoint, phase
    index, targets, _ = events
    tp = codes_of([t.timepoint for t in targets])
    event_tp = np.where(index >= 0, tp.codes[np.maximum(index, 0)] if len(targets) else -1, -1)
    timepoint = Codes(event_tp, tp.labels)
    if any(t.phase for t in targets):
        ph = codes_of([t.phase for t in targets])
        event_phase = np.where(index >= 0, ph.codes[np.maximum(index, 0)], -1)
        if phase is not None:  # events without a phase take the row's phase column
            offset = len(ph.labels)
            event_phase = np.where(
                event_phase >= 0, event_phase, np.where(phase.codes >= 0, phase.codes + offset, -1)
            )
            ph = Codes(event_phase, np.concatenate([ph.labels, phase.labels]))
        phase = Codes(event_phase, ph.labels)
    assert len(timepoint.codes) == n
    return timepoint, phase


def unmapped_events(
    answered: np.ndarray,
    relevant: np.ndarray,
    events: tuple[np.ndarray, list[Target], Codes] | None,
    frame: pd.DataFrame,
    wide: WideMapping,
    mfile: str,
    problems: ProblemCollector,
) -> tuple[np.ndarray, list[str]]:
    """Rows to skip (an event without a timepoint, holding no answers) and the warning saying
    so; an unmapped event with answers is a problem."""
    skip = np.zeros(len(frame), dtype=bool)
    if events is None:
        return skip, []
    index, _, codes = events
    unmapped = (index < 0) & relevant
    source_row = frame[SOURCE_ROW].to_numpy()
    column = wide.event_column
    warnings = []
    for code in pd.unique(codes.codes[unmapped]):
        rows = unmapped & (codes.codes == code)
        label = codes.labels[code] if code >= 0 else None
        shown = f"'{label}'" if label is not None else "blank"
        with_answers = rows & answered
        if with_answers.any():
            problems.add(
                "event without timepoint",
                Problem(
                    file=problems.file,
                    row=int(source_row[with_answers][0]),
                    column=column,
                    value=label,
                    what=f"event {shown} has no timepoint in {mfile}{line_text(wide.events_line)} "
                    f"[timepoints.values], but {int(with_answers.sum()):,} row(s) with it hold "
                    f"item answers ({rows_text(source_row[with_answers])})",
                    fix=f'add "{label}" = "<timepoint>" to [timepoints.values]'
                    if label is not None
                    else f"fill in the {column} of those rows",
                ),
            )
        else:
            skip |= rows
            warnings.append(
                f"{problems.file}: {int(rows.sum()):,} row(s) of event {shown} "
                f"({rows_text(source_row[rows])}) hold no item answers and have no timepoint "
                f"in {mfile}; they were skipped (their [participant] columns were still read)"
            )
    return skip, warnings


def assemble(
    ids: pd.DataFrame,
    rows: np.ndarray,
    values: np.ndarray,
    instrument: Any,
    item: Any,
    timepoint: Any,
    phase: Any,
) -> pd.DataFrame:
    """The item-layout frame: per answer its row's carried columns and its own cells."""
    out: dict[str, Any] = {}
    for column in CARRIED:
        if column in ids:
            series = ids[column]
            if isinstance(series.dtype, pd.CategoricalDtype):
                out[column] = pd.Categorical.from_codes(
                    series.cat.codes.to_numpy()[rows], categories=series.cat.categories
                )
            else:
                codes, uniques = pd.factorize(series, use_na_sentinel=True)
                out[column] = (
                    pd.Categorical.from_codes(
                        codes[rows], categories=pd.Index(uniques, dtype=object)
                    )
                    if not pd.Index(uniques).has_duplicates
                    else series.to_numpy(dtype=object)[rows]
                )
    if phase is not None:
        out["phase"] = phase
    out["timepoint"] = timepoint
    out["instrument"] = instrument
    out["item"] = item
    out["value"] = values
    out[SOURCE_ROW] = ids[SOURCE_ROW].to_numpy(dtype=np.int64)[rows]
    return pd.DataFrame(out)


def as_categorical(codes: np.ndarray, labels: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=pd.Index(labels, dtype=object))


def phase_source_problem(
    wide: WideMapping, mfile: str, problems: ProblemCollector, has_phase: bool
) -> None:
    if not has_phase:
        problems.add(
            "no phase",
            column_problem(
                problems.file,
                None,
                f"neither {problems.file} nor {mfile} gives the phase of the answers",
                'add [constants] phase = "randomized" (one-phase trials), map a phase column '
                "under [columns], or give phases in [timepoints.values] "
                '({ timepoint = "baseline", phase = "open_label" })',
            ),
        )


def merge_codes(
    own: Codes, own_index: np.ndarray, fallback: Codes | None, fallback_index: np.ndarray
) -> pd.Categorical:
    """Per answer: its own label (from the column or code) where it has one, else its row's."""
    codes = own.codes[own_index]
    if fallback is None:
        return as_categorical(codes, own.labels)
    offset = len(own.labels)
    row_codes = fallback.codes[fallback_index]
    merged = np.where(codes >= 0, codes, np.where(row_codes >= 0, row_codes + offset, -1))
    # The same label from both sources is one category.
    labels = np.concatenate([own.labels, fallback.labels]).astype(str)
    unique, inverse = np.unique(labels, return_inverse=True)
    remap = np.append(inverse.astype(np.int64), -1)
    return as_categorical(remap[merged], unique.astype(object))


def silent_participants(ids: pd.DataFrame, rows: np.ndarray, file: str) -> list[str]:
    if "participant_id" not in ids:
        return []
    person = text_codes(ids["participant_id"])
    has = np.zeros(len(person.labels), dtype=bool)
    present = person.codes[rows]
    has[present[present >= 0]] = True
    missing = [str(p) for p in person.labels[~has]]
    if not missing:
        return []
    return [
        f"{file}: {len(missing):,} participant(s) have no item answers at all and are not in "
        f"the data analysed: {names_text(missing)}"
    ]


def conflicting_answers(
    table: pd.DataFrame,
    columns: np.ndarray,
    wide: WideMapping,
    mfile: str,
    problems: ProblemCollector,
) -> None:
    """Two cells of the file giving different answers to one item of one participant at one
    phase and timepoint (two rows of one event, or two events mapped to one timepoint): a
    problem naming both rows and the file's column (validation would only know the rows)."""
    key_columns = ["participant_id", "phase", "timepoint", "instrument", "item"]
    if not all(c in table for c in key_columns):
        return
    codes = [
        np.asarray(table[c].cat.codes, dtype=np.int64)
        if isinstance(table[c].dtype, pd.CategoricalDtype)
        else pd.factorize(table[c], use_na_sentinel=True)[0]
        for c in key_columns
    ]
    key = combined_key(codes, [int(c.max()) + 1 for c in codes])
    repeated = pd.Series(key).duplicated(keep=False).to_numpy()
    if not repeated.any():
        return
    sub = pd.DataFrame(
        {
            "key": key[repeated],
            "value": table["value"].to_numpy()[repeated],
            "row": table[SOURCE_ROW].to_numpy()[repeated],
            "column": columns[repeated],
            "position": np.flatnonzero(repeated),
        }
    )
    distinct = sub.groupby("key")["value"].transform(lambda v: v.nunique(dropna=False))
    where = f"{mfile}{line_text(wide.events_line)} [timepoints.values]"
    for _, group in sub.loc[distinct.to_numpy() > 1].groupby("key", sort=False):
        first = table.iloc[int(group["position"].iloc[0])]
        shown = ", ".join(
            f"{'blank' if np.isnan(v) else format(v, 'g')} (row {r})"
            for v, r in zip(group["value"], group["row"], strict=True)
        )
        problems.add(
            "conflicting answers",
            Problem(
                file=problems.file,
                row=int(group["row"].iloc[1]),
                column=str(group["column"].iloc[1]),
                what=f"participant '{first['participant_id']}', {first['phase']} phase, "
                f"timepoint {first['timepoint']}: {first['instrument']} item {first['item']} "
                f"is answered twice, differently: {shown}",
                fix="keep one of the rows; if they are different events, give the events "
                f"different timepoints in {where}",
            ),
        )
