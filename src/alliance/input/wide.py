"""Reshape a wide export (REDCap, SPSS, Stata, Excel) or a CDISC long file into the item layout,
through the wide sections of a mapping file (``docs/mapping.md``), before validation.

Wide files: every data column an ``[[items]]`` pattern matches holds one item of one
instrument; its timepoint comes from the column name (``{timepoint}``) or from the row's event
(``[timepoints]``). CDISC files (SDTM QS, ADaM ADQS) are long already: an entry with
``code_column`` reads the item code from that column's values and the answer from
``value_column``.

Rules:

- An instrument not given at an event (every one of its items blank on that row, or at that
  visit) yields no rows; an instrument partly answered keeps its blank items as missing answers.
- A row whose event has no timepoint in the mapping is skipped when it holds no item answers
  (screening), counted in a warning; one that holds answers is an error.
- ``[participant]`` columns are copied across each participant's rows (arm given on the
  baseline event only); two different values for one participant are an error.
- Columns left unused, codes of other questionnaires, participants without any answer: all
  named in warnings, never dropped in silence.

The work is column-wise and vectorised: patterns are matched against column names (or the
distinct codes of a long file) once, and the cells are stacked with numpy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alliance.errors import DataError, Problem
from alliance.input.mapping import ColumnMapping, apply_mapping, match_key
from alliance.input.readers import SOURCE_ROW, RawTable
from alliance.input.wide_mapping import ItemsEntry, Target, WideMapping
from alliance.instruments.registry import load_instruments
from alliance.validation.cells import (
    Codes,
    ParsedNumbers,
    names_text,
    number_problems,
    read_number_block,
    read_numbers,
    row_problems,
    rows_text,
    text_codes,
)
from alliance.validation.instrument_codes import item_label, items_summary
from alliance.validation.problems import GroupedDataError, ProblemCollector

_CARRIED = ("participant_id", "arm", "therapist_id", "site", "date")


@dataclass(frozen=True)
class _Cells:
    """Item answers located in the file: ``rows`` (positions in the frame) and one entry per
    answer; the per-answer text columns are given as codes into small label arrays."""

    rows: np.ndarray
    values: np.ndarray
    instrument: Codes
    item: Codes
    timepoint: Codes  # code -1: the row's timepoint
    phase: Codes  # code -1: the row's phase


def _line(line: int | None) -> str:
    return f" line {line}" if line is not None else ""


def _column_problem(file: str, column: str | None, what: str, fix: str) -> Problem:
    return Problem(file=file, row=1, column=column, what=what, fix=fix)


# --- Which columns hold which items ---------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    column: str
    entry: ItemsEntry
    item: str
    token: Target | None


def _similar(pattern: str, columns: Sequence[str]) -> str:
    stem = pattern.split("{", 1)[0]
    for length in range(len(stem), 0, -1):
        near = [c for c in columns if c.startswith(stem[:length])]
        if near:
            return f"columns starting '{stem[:length]}': {names_text(near, 6)}"
    return f"the file's columns are {names_text(list(columns), 8)}"


def _claims(
    columns: Sequence[str],
    entries: Sequence[ItemsEntry],
    reserved: Mapping[str, str],
    file: str,
    mapping: str,
    problems: ProblemCollector,
) -> list[_Claim]:
    """Each item column with its entry, item code and timepoint token; problems collected."""
    instruments = load_instruments()
    claims: list[_Claim] = []
    matched: dict[int, int] = {e.index: 0 for e in entries}
    seen: dict[tuple[str, str, str], str] = {}
    for column in columns:
        hits = [(e, m) for e in entries if (m := e.regex.fullmatch(column)) is not None]
        if not hits:
            continue
        for entry, _ in hits:
            matched[entry.index] += 1
        if len(hits) > 1:
            problems.add(
                "two patterns",
                _column_problem(
                    file,
                    column,
                    f"column '{column}' is matched by two [[items]] patterns: "
                    f"{hits[0][0].where(mapping)} and {hits[1][0].where(mapping)}",
                    "make the patterns specific enough that each column matches one of them",
                ),
            )
            continue
        entry, match = hits[0]
        if column in reserved:
            problems.add(
                "two claims",
                _column_problem(
                    file,
                    column,
                    f"column '{column}' is matched by {entry.where(mapping)} and also used as "
                    f"{reserved[column]}",
                    "use the column for one purpose only: narrow the pattern or drop the other "
                    "entry",
                ),
            )
            continue
        inst = instruments[entry.instrument]
        item = item_label(match.group("item"))
        if item not in inst.item_codes:
            problems.add(
                "unknown item",
                _column_problem(
                    file,
                    column,
                    f"column '{column}' matches {entry.where(mapping)}, but "
                    f"'{match.group('item')}' is not an item code of {inst.code} (its items are "
                    f"{items_summary(list(inst.item_codes))})",
                    "check that the pattern names the right instrument, or rename the column "
                    "so the pattern does not match it",
                ),
            )
            continue
        token: Target | None = None
        if entry.uses_timepoint:
            text = match.group("timepoint")
            token = entry.tokens.get(text)
            if token is None:
                problems.add(
                    "unknown token",
                    _column_problem(
                        file,
                        column,
                        f"column '{column}' matches {entry.where(mapping)}, but its timepoint "
                        f"token '{text}' has no entry in that entry's [items.timepoints]",
                        f'add "{text}" = "<timepoint>" to [items.timepoints] of that entry',
                    ),
                )
                continue
        key = (inst.code, item, token.key if token else "")
        if key in seen:
            problems.add(
                "same item twice",
                _column_problem(
                    file,
                    column,
                    f"columns '{seen[key]}' and '{column}' both hold {inst.code} item {item}"
                    f"{f' at {token.timepoint}' if token else ''} ({entry.where(mapping)})",
                    "keep one of the two columns, or narrow the pattern",
                ),
            )
            continue
        seen[key] = column
        claims.append(_Claim(column, entry, item, token))
    for entry in entries:
        if matched[entry.index] == 0:
            problems.add(
                "pattern without column",
                _column_problem(
                    file,
                    None,
                    f"{entry.where(mapping)} matches no column of {file}",
                    f"correct the pattern ({{item}} stands for the item code, e.g. 12); "
                    f"{_similar(entry.pattern, columns)}",
                ),
            )
    return claims


# --- Participant-level columns ------------------------------------------------------------------


def _fill_participant(
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
                _column_problem(
                    file,
                    column,
                    f"{mapping}{_line(line)} [participant] names '{column}', which {file} does "
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
                    f"{' and '.join(shown)}; {mapping}{_line(line)} [participant] copies "
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
        frame[column] = _categorical(Codes(filled, cells.labels))


def _categorical(codes: Codes) -> pd.Series:
    labels = pd.Index(codes.labels.astype(str), dtype=object)
    if labels.has_duplicates:  # cannot happen for text_codes labels; kept safe
        return pd.Series(codes.values(), dtype=object)
    return pd.Series(pd.Categorical.from_codes(codes.codes, categories=labels))


# --- Timepoints from an event column -----------------------------------------------------------


def _events(
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
            _column_problem(
                file,
                column,
                f"{mapping}{_line(wide.event_line)} [timepoints] column = '{column}', but {file} "
                "has no such column",
                f"correct the name; {_similar(column, [str(c) for c in frame if c != SOURCE_ROW])}",
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


# --- Cells: wide and long ----------------------------------------------------------------------


def _range_problems(
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


def _codes_of(texts: Sequence[str | None]) -> Codes:
    """Codes of a short list of labels (None: code -1)."""
    present = [t for t in texts if t is not None]
    labels = np.array(list(dict.fromkeys(present)), dtype=object)
    index = {t: i for i, t in enumerate(labels)}
    return Codes(np.array([index[t] if t is not None else -1 for t in texts]), labels)


def _wide_cells(
    frame: pd.DataFrame,
    claims: Sequence[_Claim],
    value_labels: Mapping[str, Mapping[Any, str]],
    decimal: str,
    problems: ProblemCollector,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The answers as an (rows × item columns) matrix, the blank mask, each column's
    administration group and the columns' instruments."""
    columns = [c.column for c in claims]
    block = read_number_block(frame, columns, value_labels, decimal)
    values = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, claim in enumerate(claims):
        parsed = block.parsed[claim.column]
        number_problems(
            frame,
            parsed,
            problems,
            column=claim.column,
            noun=f"{claim.entry.instrument} answer",
            fix="write the answer as a number, or leave the cell blank to mark it missing",
        )
        values[:, j] = parsed.values
    instruments = np.array([c.entry.instrument for c in claims], dtype=object)
    for instrument in pd.unique(instruments):
        cols = np.flatnonzero(instruments == instrument)
        inst = load_instruments()[instrument]
        sub = values[:, cols]
        low, high = float(inst.response_min), float(inst.response_max)
        wrong = ((sub < low) | (sub > high) | (np.floor(sub) != sub)) & np.isfinite(sub)
        for j in cols[wrong.any(axis=0)]:
            _range_problems(frame, values[:, j], None, columns[j], instrument, problems)
    groups, _ = pd.factorize(
        np.array([f"{c.entry.instrument}\x00{c.token.key if c.token else ''}" for c in claims])
    )
    return values, np.isnan(values), groups, instruments


@dataclass(frozen=True)
class _Result:
    table: pd.DataFrame
    warnings: list[str]


def reshape(raw: RawTable, mapping: ColumnMapping, decimal: str = ".") -> RawTable:
    """The table in the layout validation reads, built from a wide export or CDISC file
    through ``mapping``'s wide sections (``mapping.wide``).

    Raises
    ------
    DataError
        Every problem with the mapping against this file, and with the item answers' cells,
        each naming the mapping's line and the data column.
    """
    wide = mapping.wide
    assert wide is not None
    file, mfile = raw.name, mapping.file
    problems = ProblemCollector(file)
    frame = raw.frame
    columns = [c for c in frame.columns if c != SOURCE_ROW]
    wide_entries = [e for e in wide.items if e.code_column is None]
    long_entries = [e for e in wide.items if e.code_column is not None]
    if wide_entries and long_entries:
        raise problems_error(
            problems,
            _column_problem(
                file,
                None,
                f"{mfile} mixes [[items]] entries with code_column (a long file) and without "
                "(item columns)",
                "a file is either long (CDISC: code_column and value_column in every entry) or "
                "wide (patterns matching column names)",
            ),
        )
    reserved: dict[str, str] = {c: f"a [columns] rename in {mfile}" for c in mapping.columns}
    if wide.event_column:
        reserved[wide.event_column] = f"the [timepoints] column in {mfile}{_line(wide.event_line)}"
    for entry in long_entries:
        for role, column in (
            ("code_column", entry.code_column),
            ("value_column", entry.value_column),
        ):
            assert column is not None
            if column not in frame:
                problems.add(
                    "long column",
                    _column_problem(
                        file,
                        column,
                        f"{entry.where(mfile)} {role} = '{column}', but {file} has no such column",
                        f"correct the name; {_similar(column, columns)}",
                    ),
                )
            reserved[column] = f"{role} in {entry.where(mfile)}"
    claims = _claims(columns, wide_entries, reserved, file, mfile, problems)
    problems.raise_if_any()

    claimed = {c.column for c in claims}
    id_columns = [c for c in frame.columns if c not in claimed]
    id_raw = dataclasses.replace(
        raw,
        frame=frame[id_columns],
        value_labels={k: v for k, v in raw.value_labels.items() if k not in claimed},
    )
    ids = apply_mapping(id_raw, mapping).frame.copy()
    sources = {target: source for source, target in mapping.columns.items()}
    for column, (value, line) in wide.constants.items():
        if column in ids:
            problems.add(
                "constant collision",
                _column_problem(
                    file,
                    sources.get(column, column),
                    f"{mfile}{_line(line)} [constants] gives {column}, but {file} has a "
                    f"column for it already",
                    "remove the constant, or the column's [columns] rename",
                ),
            )
        else:
            ids[column] = value
    _fill_participant(ids, wide, sources, file, mfile, problems)
    events = _events(
        ids, wide, raw.value_labels.get(wide.event_column or ""), file, mfile, problems
    )
    problems.raise_if_any()
    if not wide.items:
        return dataclasses.replace(raw, frame=ids, value_labels={})
    if claims:
        result = _reshape_wide(frame, ids, claims, wide, events, raw, mfile, decimal, problems)
    else:
        result = _reshape_long(
            frame, ids, long_entries, wide, events, raw, mfile, decimal, problems
        )
    problems.raise_if_any()
    unused = [
        c
        for c in columns
        if c not in claimed
        and c not in reserved
        and c not in wide.participant
        and c not in ("participant_id", "phase", "arm", "timepoint", "therapist_id", "site", "date")
    ]
    warnings = list(result.warnings)
    if unused:
        warnings.append(
            f"{file}: {len(unused):,} column(s) are not used by {mfile}: {names_text(unused)}"
        )
    return dataclasses.replace(
        raw, frame=result.table, value_labels={}, warnings=(*raw.warnings, *warnings)
    )


def without_repeats(error: DataError) -> DataError:
    """``error`` with each problem once: a value copied to many item rows of one wide row (the
    arm, the phase) is one problem of that row, not one per item."""
    if isinstance(error, GroupedDataError):
        groups = [list(dict.fromkeys(group)) for group in error.groups]
        return GroupedDataError(groups, error.per_kind)
    return DataError(list(dict.fromkeys(error.problems)))


def problems_error(problems: ProblemCollector, problem: Problem) -> Exception:
    problems.add("mapping", problem)
    return problems.error()


def _row_timepoints(
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
    tp = _codes_of([t.timepoint for t in targets])
    event_tp = np.where(index >= 0, tp.codes[np.maximum(index, 0)] if len(targets) else -1, -1)
    timepoint = Codes(event_tp, tp.labels)
    if any(t.phase for t in targets):
        ph = _codes_of([t.phase for t in targets])
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


def _unmapped_events(
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
                    what=f"event {shown} has no timepoint in {mfile}{_line(wide.events_line)} "
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


def _assemble(
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
    for column in _CARRIED:
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


def _categories(codes: np.ndarray, labels: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=pd.Index(labels, dtype=object))


def _phase_source_problem(
    wide: WideMapping, mfile: str, problems: ProblemCollector, has_phase: bool
) -> None:
    if not has_phase:
        problems.add(
            "no phase",
            _column_problem(
                problems.file,
                None,
                f"neither {problems.file} nor {mfile} gives the phase of the answers",
                'add [constants] phase = "randomized" (one-phase trials), map a phase column '
                "under [columns], or give phases in [timepoints.values] "
                '({ timepoint = "baseline", phase = "open_label" })',
            ),
        )


def _reshape_wide(
    frame: pd.DataFrame,
    ids: pd.DataFrame,
    claims: Sequence[_Claim],
    wide: WideMapping,
    events: tuple[np.ndarray, list[Target], Codes] | None,
    raw: RawTable,
    mfile: str,
    decimal: str,
    problems: ProblemCollector,
) -> _Result:
    values, blank, groups, instruments = _wide_cells(
        frame, claims, raw.value_labels, decimal, problems
    )
    answered_cells = ~blank
    answered = np.asarray(answered_cells.any(axis=1), dtype=bool)
    skip, warnings = _unmapped_events(
        answered, np.ones(len(frame), dtype=bool), events, frame, wide, mfile, problems
    )
    row_tp, row_phase = _row_timepoints(ids, events)
    needs_row_tp = [c for c in claims if c.token is None]
    if needs_row_tp and row_tp is None:
        entry = needs_row_tp[0].entry
        problems.add(
            "no timepoint",
            _column_problem(
                problems.file,
                needs_row_tp[0].column,
                f"{entry.where(mfile)} has no {{timepoint}} and the mapping gives no timepoint "
                "for the rows",
                "add [timepoints] (an event column) or put {timepoint} in the pattern with "
                "[items.timepoints]",
            ),
        )
    token_phase = any(c.token is not None and c.token.phase for c in claims)
    _phase_source_problem(wide, mfile, problems, row_phase is not None or token_phase)
    if problems:
        return _Result(pd.DataFrame(), [])
    # An administration (instrument at a timepoint) with every item blank was not given.
    given = np.zeros_like(blank)
    for g in np.unique(groups):
        cols = groups == g
        given[:, cols] = answered_cells[:, cols].any(axis=1, keepdims=True)
    given &= ~skip[:, None]
    rows, cols = np.nonzero(given)
    not_given = int(((~given) & ~skip[:, None]).sum())
    tp_cols = _codes_of([c.token.timepoint if c.token else None for c in claims])
    ph_cols = _codes_of([c.token.phase if c.token and c.token.phase else None for c in claims])
    timepoint = _merge_codes(tp_cols, cols, row_tp, rows)
    phase = _merge_codes(ph_cols, cols, row_phase, rows)
    inst = _codes_of(list(instruments))
    item = _codes_of([c.item for c in claims])
    table = _assemble(
        ids,
        rows,
        values[rows, cols],
        _categories(inst.codes[cols], inst.labels),
        _categories(item.codes[cols], item.labels),
        timepoint,
        phase,
    )
    warnings.append(
        f"{problems.file}: read through {mfile}: {len(frame):,} rows × {len(claims):,} item "
        f"columns gave {len(table):,} item answers ({int(blank[rows, cols].sum()):,} of them "
        f"blank, counted as missing items); {not_given:,} cells belong to instruments not "
        "given at that row (every item blank) and gave no rows"
    )
    warnings.extend(_silent_participants(ids, rows, problems.file))
    return _Result(table, warnings)


def _merge_codes(
    own: Codes, own_index: np.ndarray, fallback: Codes | None, fallback_index: np.ndarray
) -> pd.Categorical:
    """Per answer: its own label (from the column or code) where it has one, else its row's."""
    codes = own.codes[own_index]
    if fallback is None:
        return _categories(codes, own.labels)
    offset = len(own.labels)
    row_codes = fallback.codes[fallback_index]
    merged = np.where(codes >= 0, codes, np.where(row_codes >= 0, row_codes + offset, -1))
    # The same label from both sources is one category.
    labels = np.concatenate([own.labels, fallback.labels]).astype(str)
    unique, inverse = np.unique(labels, return_inverse=True)
    remap = np.append(inverse.astype(np.int64), -1)
    return _categories(remap[merged], unique.astype(object))


def _silent_participants(ids: pd.DataFrame, rows: np.ndarray, file: str) -> list[str]:
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


def _reshape_long(
    frame: pd.DataFrame,
    ids: pd.DataFrame,
    entries: Sequence[ItemsEntry],
    wide: WideMapping,
    events: tuple[np.ndarray, list[Target], Codes] | None,
    raw: RawTable,
    mfile: str,
    decimal: str,
    problems: ProblemCollector,
) -> _Result:
    """CDISC-style files: one row per answer, the item code in a column's values."""
    file = problems.file
    instruments = load_instruments()
    source_row = frame[SOURCE_ROW].to_numpy()
    n = len(frame)
    entry_of = np.full(n, -1, dtype=np.int64)
    item_codes: dict[str, int] = {}
    item_of = np.full(n, -1, dtype=np.int64)
    token_of = np.full(n, -1, dtype=np.int64)
    tokens: list[Target] = []
    unmatched: dict[str, int] = {}
    for column in dict.fromkeys(e.code_column for e in entries):
        assert column is not None
        codes = text_codes(frame[column])
        mine = [e for e in entries if e.code_column == column]
        counts = np.bincount(codes.codes[codes.codes >= 0], minlength=len(codes.labels))
        for k, label in enumerate(codes.labels):
            text = str(label).lower()
            hits = [(e, m) for e in mine if (m := e.regex.fullmatch(text)) is not None]
            rows = codes.codes == k
            if not hits:
                unmatched[str(label)] = int(counts[k])
                continue
            first = int(source_row[rows][0])
            if len(hits) > 1:
                problems.add(
                    "two patterns",
                    Problem(
                        file=file,
                        row=first,
                        column=column,
                        value=str(label),
                        what=f"code '{label}' is matched by two [[items]] patterns: "
                        f"{hits[0][0].where(mfile)} and {hits[1][0].where(mfile)}",
                        fix="make the patterns specific enough that each code matches one",
                    ),
                )
                continue
            entry, match = hits[0]
            item = item_label(match.group("item"))
            inst = instruments[entry.instrument]
            if item not in inst.item_codes:
                problems.add(
                    "unknown item",
                    Problem(
                        file=file,
                        row=first,
                        column=column,
                        value=str(label),
                        what=f"code '{label}' matches {entry.where(mfile)}, but "
                        f"'{match.group('item')}' is not an item code of {inst.code} (its items "
                        f"are {items_summary(list(inst.item_codes))})",
                        fix="check that the pattern names the right instrument",
                    ),
                )
                continue
            if entry.uses_timepoint:
                token = entry.tokens.get(match.group("timepoint"))
                if token is None:
                    problems.add(
                        "unknown token",
                        Problem(
                            file=file,
                            row=first,
                            column=column,
                            value=str(label),
                            what=f"code '{label}' matches {entry.where(mfile)}, but its "
                            f"timepoint token '{match.group('timepoint')}' has no entry in "
                            "[items.timepoints]",
                            fix="add the token to that entry's [items.timepoints]",
                        ),
                    )
                    continue
                tokens.append(token)
                token_of[rows] = len(tokens) - 1
            entry_of[rows] = entry.index
            item_of[rows] = item_codes.setdefault(item, len(item_codes))
    for entry in entries:
        if not (entry_of == entry.index).any():
            problems.add(
                "pattern without code",
                _column_problem(
                    file,
                    entry.code_column,
                    f"{entry.where(mfile)} matches no value of column '{entry.code_column}'",
                    "correct the pattern ({item} stands for the item code); the column holds "
                    f"{names_text(sorted(unmatched, key=lambda c: -unmatched[c]), 8)}",
                ),
            )
    matched = entry_of >= 0
    values = np.full(n, np.nan)
    by_index = {e.index: e for e in entries}
    for column in dict.fromkeys(e.value_column for e in entries):
        assert column is not None
        rows = matched & np.isin(entry_of, [e.index for e in entries if e.value_column == column])
        parsed = read_numbers(frame[column], raw.value_labels.get(column), decimal)
        kinds = np.where(rows, parsed.kinds, 1).astype(np.int8)
        number_problems(
            frame,
            ParsedNumbers(parsed.values, kinds),
            problems,
            column=column,
            noun="answer",
            fix="write the answer as a number, or leave the cell blank to mark it missing",
        )
        values[rows] = parsed.values[rows]
    for index, entry in by_index.items():
        _range_problems(
            frame, values, entry_of == index, entry.value_column or "", entry.instrument, problems
        )
    answered = matched & ~np.isnan(values)
    skip, warnings = _unmapped_events(answered, matched, events, frame, wide, mfile, problems)
    row_tp, row_phase = _row_timepoints(ids, events)
    if row_tp is None and not tokens:
        problems.add(
            "no timepoint",
            _column_problem(
                file,
                None,
                f"{mfile} gives no timepoint for the answers",
                "add [timepoints] naming the visit column (VISIT, AVISIT) and its values",
            ),
        )
    token_phase = any(t.phase for t in tokens)
    _phase_source_problem(wide, mfile, problems, row_phase is not None or token_phase)
    if problems:
        return _Result(pd.DataFrame(), [])
    keep = matched & ~skip
    tp_tokens = _codes_of([t.timepoint for t in tokens] + [None])
    ph_tokens = _codes_of([t.phase for t in tokens] + [None])
    token_index = np.where(token_of >= 0, token_of, len(tokens))
    timepoint = _merge_codes(tp_tokens, token_index, row_tp, np.arange(n))
    phase = _merge_codes(ph_tokens, token_index, row_phase, np.arange(n))
    names = _codes_of([e.instrument for e in entries])
    table_of = np.full(max(e.index for e in entries) + 2, -1, dtype=np.int64)
    for k, e in enumerate(entries):
        table_of[e.index] = names.codes[k]
    inst_codes = table_of[entry_of]  # entry_of -1 reads the last slot, -1
    # An administration (participant, phase, timepoint, instrument) with every answer blank
    # was not given: its rows are dropped, not counted as missing answers.
    person = text_codes(ids["participant_id"]).codes if "participant_id" in ids else np.zeros(n)
    key = pd.DataFrame(
        {
            "p": person,
            "ph": np.asarray(phase.codes),
            "tp": np.asarray(timepoint.codes),
            "i": inst_codes,
            "a": answered,
        }
    )
    given = key.groupby(["p", "ph", "tp", "i"], sort=False, dropna=False)["a"].transform("any")
    given_mask = given.to_numpy(dtype=bool)
    not_given = int((keep & ~given_mask).sum())
    rows = np.flatnonzero(keep & given_mask)
    table = _assemble(
        ids,
        rows,
        values[rows],
        _categories(inst_codes[rows], names.labels),
        _categories(item_of[rows], np.array(list(item_codes), dtype=object)),
        _categories(np.asarray(timepoint.codes)[rows], np.asarray(timepoint.categories)),
        _categories(np.asarray(phase.codes)[rows], np.asarray(phase.categories)),
    )
    if unmatched:
        shown = ", ".join(
            f"{code} ({count:,})"
            for code, count in sorted(unmatched.items(), key=lambda kv: -kv[1])[:10]
        )
        more = f" and {len(unmatched) - 10:,} more" if len(unmatched) > 10 else ""
        warnings.append(
            f"{file}: {sum(unmatched.values()):,} row(s) hold codes no [[items]] pattern of "
            f"{mfile} matches (other questionnaires or items); they were not used: {shown}{more}"
        )
    warnings.append(
        f"{file}: read through {mfile}: {int(matched.sum()):,} rows hold items of the mapped "
        f"instruments; {len(table):,} item answers kept ({int(np.isnan(values[rows]).sum()):,} "
        f"blank, counted as missing items); {not_given:,} rows belong to instruments not given "
        "at that visit (every answer blank) and gave no rows"
    )
    warnings.extend(_silent_participants(ids, rows, file))
    return _Result(table, warnings)
