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
from typing import Any

import numpy as np
import pandas as pd

from alliance.errors import DataError, Problem
from alliance.input.cdisc import reshape_long
from alliance.input.mapping import ColumnMapping, apply_mapping
from alliance.input.readers import SOURCE_ROW, RawTable
from alliance.input.wide_columns import Claim, claim_columns
from alliance.input.wide_mapping import Target, WideMapping
from alliance.input.wide_rows import (
    Reshaped,
    as_categorical,
    assemble,
    codes_of,
    column_problem,
    conflicting_answers,
    event_targets,
    fill_participant,
    line_text,
    merge_codes,
    phase_source_problem,
    range_problems,
    row_timepoints,
    silent_participants,
    similar_columns,
    unmapped_events,
)
from alliance.instruments.registry import load_instruments
from alliance.validation.cells import (
    Codes,
    names_text,
    number_problems,
    read_number_block,
)
from alliance.validation.problems import GroupedDataError, ProblemCollector


def _wide_cells(
    frame: pd.DataFrame,
    claims: Sequence[Claim],
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
            range_problems(frame, values[:, j], None, columns[j], instrument, problems)
    groups, _ = pd.factorize(
        np.array([f"{c.entry.instrument}\x00{c.token.key if c.token else ''}" for c in claims])
    )
    return values, np.isnan(values), groups, instruments


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
            column_problem(
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
        reserved[wide.event_column] = (
            f"the [timepoints] column in {mfile}{line_text(wide.event_line)}"
        )
    for entry in long_entries:
        for role, column in (
            ("code_column", entry.code_column),
            ("value_column", entry.value_column),
        ):
            assert column is not None
            if column not in frame:
                problems.add(
                    "long column",
                    column_problem(
                        file,
                        column,
                        f"{entry.where(mfile)} {role} = '{column}', but {file} has no such column",
                        f"correct the name; {similar_columns(column, columns)}",
                    ),
                )
            reserved[column] = f"{role} in {entry.where(mfile)}"
    claims = claim_columns(columns, wide_entries, reserved, file, mfile, problems)
    problems.raise_if_any()

    claimed = {c.column for c in claims}
    id_columns = [c for c in frame.columns if c not in claimed]
    id_raw = dataclasses.replace(
        raw,
        frame=frame[id_columns],
        value_labels={k: v for k, v in raw.value_labels.items() if k not in claimed},
    )
    mapped = apply_mapping(id_raw, mapping)
    ids = mapped.frame.copy()
    sources = {target: source for source, target in mapping.columns.items()}
    for column, (value, line) in wide.constants.items():
        if column in ids:
            problems.add(
                "constant collision",
                column_problem(
                    file,
                    sources.get(column, column),
                    f"{mfile}{line_text(line)} [constants] gives {column}, but {file} has a "
                    f"column for it already",
                    "remove the constant, or the column's [columns] rename",
                ),
            )
        else:
            ids[column] = value
    fill_participant(ids, wide, sources, file, mfile, problems)
    events = event_targets(
        ids, wide, raw.value_labels.get(wide.event_column or ""), file, mfile, problems
    )
    problems.raise_if_any()
    if not wide.items:
        return dataclasses.replace(raw, frame=ids, value_labels=mapped.value_labels)
    if claims:
        result = _reshape_wide(frame, ids, claims, wide, events, raw, mfile, decimal, problems)
    else:
        result = reshape_long(frame, ids, long_entries, wide, events, raw, mfile, decimal, problems)
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


def as_read(error: DataError, mapping: ColumnMapping) -> DataError:
    """``error`` (validation of the reshaped table) in the file's terms: each problem once (a
    value copied to many item rows of one wide row, the arm, is one problem of that row), and
    the answer's column named as the file names it (a CDISC file's ``QSSTRESN``)."""
    wide = mapping.wide
    value_columns = {e.value_column for e in wide.items} if wide is not None else set()
    value_column = value_columns.pop() if len(value_columns) == 1 else None

    def located(problem: Problem) -> Problem:
        if problem.column == "value" and value_column is not None:
            return dataclasses.replace(problem, column=value_column)
        return problem

    if isinstance(error, GroupedDataError):
        groups = [list(dict.fromkeys(located(p) for p in group)) for group in error.groups]
        return GroupedDataError(groups, error.per_kind)
    return DataError(list(dict.fromkeys(located(p) for p in error.problems)))


def problems_error(problems: ProblemCollector, problem: Problem) -> Exception:
    problems.add("mapping", problem)
    return problems.error()


def _reshape_wide(
    frame: pd.DataFrame,
    ids: pd.DataFrame,
    claims: Sequence[Claim],
    wide: WideMapping,
    events: tuple[np.ndarray, list[Target], Codes] | None,
    raw: RawTable,
    mfile: str,
    decimal: str,
    problems: ProblemCollector,
) -> Reshaped:
    values, blank, groups, instruments = _wide_cells(
        frame, claims, raw.value_labels, decimal, problems
    )
    answered_cells = ~blank
    answered = np.asarray(answered_cells.any(axis=1), dtype=bool)
    skip, warnings = unmapped_events(
        answered, np.ones(len(frame), dtype=bool), events, frame, wide, mfile, problems
    )
    row_tp, row_phase = row_timepoints(ids, events)
    needs_row_tp = [c for c in claims if c.token is None]
    if needs_row_tp and row_tp is None:
        entry = needs_row_tp[0].entry
        problems.add(
            "no timepoint",
            column_problem(
                problems.file,
                needs_row_tp[0].column,
                f"{entry.where(mfile)} has no {{timepoint}} and the mapping gives no timepoint "
                "for the rows",
                "add [timepoints] (an event column) or put {timepoint} in the pattern with "
                "[items.timepoints]",
            ),
        )
    token_phase = any(c.token is not None and c.token.phase for c in claims)
    phase_source_problem(wide, mfile, problems, row_phase is not None or token_phase)
    if problems:
        return Reshaped(pd.DataFrame(), [])
    # An administration (instrument at a timepoint) with every item blank was not given.
    given = np.zeros_like(blank)
    for g in np.unique(groups):
        cols = groups == g
        given[:, cols] = answered_cells[:, cols].any(axis=1, keepdims=True)
    given &= ~skip[:, None]
    rows, cols = np.nonzero(given)
    not_given = int(((~given) & ~skip[:, None]).sum())
    tp_cols = codes_of([c.token.timepoint if c.token else None for c in claims])
    ph_cols = codes_of([c.token.phase if c.token and c.token.phase else None for c in claims])
    timepoint = merge_codes(tp_cols, cols, row_tp, rows)
    phase = merge_codes(ph_cols, cols, row_phase, rows)
    inst = codes_of(list(instruments))
    item = codes_of([c.item for c in claims])
    table = assemble(
        ids,
        rows,
        values[rows, cols],
        as_categorical(inst.codes[cols], inst.labels),
        as_categorical(item.codes[cols], item.labels),
        timepoint,
        phase,
    )
    conflicting_answers(table, np.array([c.column for c in claims])[cols], wide, mfile, problems)
    warnings.append(
        f"{problems.file}: read through {mfile}: {len(frame):,} rows × {len(claims):,} item "
        f"columns gave {len(table):,} item answers ({int(blank[rows, cols].sum()):,} of them "
        f"blank, counted as missing items); {not_given:,} cells belong to instruments not "
        "given at that row (every item blank) and gave no rows"
    )
    warnings.extend(silent_participants(ids, rows, problems.file))
    return Reshaped(table, warnings)
