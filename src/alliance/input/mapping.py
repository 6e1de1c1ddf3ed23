"""Translate a user's column names and labels to alliance's, from a TOML mapping file.

Example::

    [columns]          # your column = alliance column
    "Subject" = "participant_id"
    "Visit" = "timepoint"

    [values.arm]       # per alliance column: your label = alliance label
    "Active" = "mdma"
    "Placebo" = "placebo"

    [values.timepoint]
    "Session 4" = "s4"

Column names and labels are matched without regard to case or surrounding spaces; a number in
the data matches its plain spelling (``1.0`` matches ``"1"``). Cells without an entry are left as
they are, for validation to judge. A mapping that names a column the data do not have is an
error, so a misspelt name cannot go unnoticed. When validation then rejects a value the mapping
produced, or a problem lies in a renamed column, the message also names the mapping's entry
(:func:`blame_mapping`): the fix may be in the mapping, not in the data.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alliance.config import parse_toml, read_toml_file
from alliance.errors import DataError, PlanError, Problem
from alliance.input.cells import cell_text
from alliance.input.draft import todo_problems
from alliance.input.readers import SOURCE_ROW, RawTable
from alliance.input.wide_mapping import WIDE_SECTIONS, MappingLines, WideMapping, parse_wide
from alliance.validation.problems import GroupedDataError, ProblemCollector

COLUMNS = (
    "participant_id",
    "phase",
    "arm",
    "timepoint",
    "instrument",
    "item",
    "value",
    "therapist_id",
    "site",
    "date",
)
_SECTIONS = ("columns", "values", *WIDE_SECTIONS)
_SHAPE = (
    'a mapping holds a [columns] table of "your column" = "alliance column", '
    '[values.<column>] tables of "your label" = "alliance label" and, for wide exports, '
    "[constants], [participant], [timepoints] and [[items]] (see docs/mapping.md)"
)


@dataclass(frozen=True)
class ColumnMapping:
    """Renames (user column -> alliance column) and relabels (alliance column -> {user label ->
    alliance label}); keys are stripped and lower-cased. ``labels`` keeps each relabel key as
    the file spells it (alliance column -> {key -> label}), for messages."""

    columns: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    file: str = "mapping"
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # The wide-export sections ([constants], [participant], [timepoints], [[items]]), if any.
    wide: WideMapping | None = None
    # Where each entry is in the file: "columns" or "values.<column>" and its key -> line.
    lines: MappingLines | None = None

    def at(self, section: str, key: str | None = None) -> str:
        """``" line N"`` of an entry (or a section) for messages; empty when unknown."""
        if self.lines is None:
            return ""
        line = self.lines.key(section, key) if key is not None else self.lines.section(section)
        return f" line {line}" if line is not None else ""


def match_key(value: Any) -> str:
    """A label as the mapping matches it (see :func:`_key`)."""
    return _key(value)


def _key(value: Any) -> str:
    """Label as matched: stripped, lower-cased, whole numbers without decimals ('1.0' is '1')."""
    from alliance.validation.cells import plain_number

    text = cell_text(value).lower()
    number = plain_number(text)  # strictly: "0_1" is not the label "1"
    if number is None:
        return text
    return str(int(number)) if number.is_integer() else text


def _is_score_target(name: str) -> bool:
    from alliance.validation.scored_layout import known_score_names

    score, _, timepoint = name.partition("__")
    return bool(timepoint) and score in known_score_names()


def _columns_section(table: Any, messages: list[str]) -> dict[str, str]:
    if not isinstance(table, dict):
        messages.append(
            "[columns] must be a table. Fix: write [columns] on its own line, then one "
            '"your column" = "alliance column" per line'
        )
        return {}
    columns: dict[str, str] = {}
    first_source: dict[str, str] = {}
    for source, target in table.items():
        if not isinstance(target, str):
            messages.append(
                f'[columns] "{source}": the target must be a column name (text). Fix: quote '
                f'the alliance column name, e.g. "{source}" = "participant_id"'
            )
            continue
        key, name = source.strip().lower(), target.strip().lower()
        if name not in COLUMNS and not _is_score_target(name):
            messages.append(
                f'[columns] "{source}" = "{target}": unknown alliance column; use one of '
                f"{', '.join(COLUMNS)} or a score column <score>__<timepoint>. Fix: correct "
                "the name after the ="
            )
            continue
        if key in columns:
            messages.append(
                f'[columns] "{source}" is given twice (names ignore case). Fix: keep one of them'
            )
            continue
        if name in first_source:
            messages.append(
                f'[columns] "{first_source[name]}" and "{source}" are both mapped to '
                f'"{name}". Fix: map one column to each alliance column'
            )
            continue
        columns[key] = name
        first_source[name] = source
    return columns


def _values_section(
    table: Any, messages: list[str]
) -> tuple[dict[str, dict[str, object]], dict[str, dict[str, str]]]:
    if not isinstance(table, dict):
        messages.append(
            "[values] must hold tables such as [values.arm]. Fix: write one [values.<column>] "
            'section per column, with "your label" = "alliance label" lines'
        )
        return {}, {}
    values: dict[str, dict[str, object]] = {}
    spelling: dict[str, dict[str, str]] = {}
    for column, labels in table.items():
        name = column.strip().lower()
        if name not in COLUMNS and not _is_score_target(name):
            messages.append(
                f"[values.{column}]: unknown alliance column. Fix: use one of {', '.join(COLUMNS)}"
            )
            continue
        if not isinstance(labels, dict):
            messages.append(
                f"[values.{column}] must be a table. Fix: write it as a section, "
                f'[values.{column}], followed by "your label" = "alliance label" lines'
            )
            continue
        relabel: dict[str, object] = {}
        for label, target in labels.items():
            if not isinstance(target, str | int | float) or isinstance(target, bool):
                messages.append(
                    f'[values.{column}] "{label}": the target must be text or a number. Fix: '
                    f'quote it, e.g. "{label}" = "mdma"'
                )
                continue
            key = _key(label)
            if key in relabel and relabel[key] != target:
                messages.append(
                    f'[values.{column}] "{label}" is given twice with different targets '
                    "(labels ignore case). Fix: keep one of them"
                )
                continue
            relabel[key] = target
            spelling.setdefault(name, {})[key] = label
        values[name] = relabel
    return values, spelling


def load_mapping(path: Path) -> ColumnMapping:
    """Read and check a mapping file.

    Raises
    ------
    PlanError
        Naming the file and every bad key: unreadable or invalid TOML, an unknown section or
        alliance column, or two columns mapped to one.
    """
    path = Path(path)
    text = read_toml_file(path, "mapping file", "check the path given to --mapping")
    document = parse_toml(text, path.name, f"correct that line; {_SHAPE}")
    if todos := todo_problems(document, text):  # placeholders left by `alliance mapping draft`
        raise PlanError(path.name, todos)
    messages: list[str] = []
    for section in document:
        if section not in _SECTIONS:
            messages.append(f"unknown section [{section}]. Fix: rename or remove it; {_SHAPE}")
    columns = _columns_section(document.get("columns", {}), messages)
    values, labels = _values_section(document.get("values", {}), messages)
    lines = MappingLines(text)
    messages = [_with_line(m, lines) for m in messages]
    wide = parse_wide(document, text, messages)
    if messages:
        raise PlanError(path.name, messages)
    return ColumnMapping(
        columns=columns, values=values, file=path.name, labels=labels, wide=wide, lines=lines
    )


_SECTION_KEY = re.compile(r'^\[(columns|values\.[^\]]+)\] "([^"]*)"')
_SECTION = re.compile(r"^(?:unknown section )?\[([^\]]+)\]")


def _with_line(message: str, lines: MappingLines) -> str:
    """``message`` (about a [columns] or [values.*] entry) led by the line it is on."""
    line = None
    if match := _SECTION_KEY.match(message):
        line = lines.key(match.group(1), match.group(2))
    elif match := _SECTION.match(message):
        line = lines.section(match.group(1))
    return f"line {line}: {message}" if line is not None else message


def _relabel(
    series: pd.Series, relabel: Mapping[str, object], value_labels: Mapping[Any, str] | None = None
) -> pd.Series:
    """``series`` with each label the mapping names replaced. For an SPSS/Stata column with
    value labels the cells hold the labels; a mapping key may name the label ("MDMA") or the
    stored code ("1"), the label being tried first."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    code_of = {_key(label): _key(code) for code, label in (value_labels or {}).items()}

    def replace(u: Any) -> Any:
        key = _key(u)
        if key in relabel:
            return relabel[key]
        return relabel.get(code_of.get(key, ""), u) if key in code_of else u

    replaced = [replace(u) for u in uniques]
    if all(r is u for r, u in zip(replaced, uniques, strict=True)):
        return series
    table = np.empty(len(replaced) + 1, dtype=object)
    table[:-1] = replaced
    table[-1] = None
    return pd.Series(table[codes], index=series.index, dtype=object)


def apply_mapping(raw: RawTable, mapping: ColumnMapping) -> RawTable:
    """The table with the mapping's columns renamed and labels replaced.

    Raises
    ------
    DataError
        When the mapping names a column the table does not have, or a rename would give two
        columns one name.
    """
    problems = ProblemCollector(mapping.file)
    frame = raw.frame
    present = [c for c in frame.columns if c != SOURCE_ROW]
    renames: dict[str, str] = {}
    for source, target in mapping.columns.items():
        if source not in frame.columns:
            problems.add(
                "mapping column",
                Problem(
                    file=mapping.file,
                    column=source,
                    what=f"{mapping.file}{mapping.at('columns', source)} [columns] maps "
                    f"'{source}', but {raw.name} has no such column",
                    fix=f"correct the name; {raw.name} has {', '.join(present)}",
                ),
            )
            continue
        renames[source] = target
    kept = {c for c in present if c not in renames}
    for source, target in renames.items():
        if target in kept:
            problems.add(
                "mapping collision",
                Problem(
                    file=mapping.file,
                    column=source,
                    what=f"{mapping.file}{mapping.at('columns', source)} [columns] renames "
                    f"'{source}' to '{target}', but {raw.name} already "
                    f"has a column '{target}'",
                    fix=f"remove the entry, or also rename {raw.name}'s '{target}' column",
                ),
            )
    renamed = set(renames.values()) | kept
    for column in mapping.values:
        if column not in renamed:
            problems.add(
                "mapping values",
                Problem(
                    file=mapping.file,
                    column=column,
                    what=f"{mapping.file}{mapping.at(f'values.{column}')} [values.{column}] "
                    f"relabels column '{column}', which {raw.name} does "
                    "not have (after renaming)",
                    fix="correct the section name, or map a column to it under [columns]",
                ),
            )
    problems.raise_if_any()
    frame = frame.rename(columns=renames)
    labels = {renames.get(c, c): v for c, v in raw.value_labels.items()}
    for column, relabel in mapping.values.items():
        frame[column] = _relabel(frame[column], relabel, labels.get(column))
    return dataclasses.replace(raw, frame=frame, value_labels=labels)


def blame_mapping(error: DataError, raw: RawTable, mapping: ColumnMapping) -> DataError:
    """``error`` (validation of the mapped table) with the mapping's part in each problem.

    ``raw`` is the table as read, before :func:`apply_mapping`. A problem in a cell whose value
    a ``[values.<column>]`` entry produced names that entry (file, section, key) besides the
    data row; a problem in a renamed column names the ``[columns]`` entry. Other problems are
    returned unchanged.
    """
    sources = {target: source for source, target in mapping.columns.items()}
    originals: dict[str, dict[int, Any]] = {}

    def original(column: str, row: int) -> Any:
        source = sources.get(column, column)
        if column not in originals:
            if source not in raw.frame.columns:
                originals[column] = {}
            else:
                cells = raw.frame[source].to_numpy(dtype=object)
                originals[column] = dict(zip(raw.frame[SOURCE_ROW].tolist(), cells, strict=True))
        return originals[column].get(row)

    def blame(problem: Problem) -> Problem:
        column = problem.column
        if problem.file != raw.name or column is None:
            return problem
        what, fix = problem.what, problem.fix
        if column in mapping.values and problem.row is not None and problem.row > 1:
            key = _key(original(column, problem.row))
            if key in mapping.values[column]:
                label = mapping.labels.get(column, {}).get(key, key)
                entry = (
                    f'{mapping.file} [values.{column}] "{label}" = "{mapping.values[column][key]}"'
                )
                what = f"{what}; the value was produced by {entry}"
                fix = f"correct that entry of {mapping.file} if it is wrong; otherwise {fix}"
        elif column in mapping.values:
            what = f"{what}; the column's labels are translated by {mapping.file} [values.{column}]"
        if column in sources:
            what = (
                f"{what} (column '{column}' is {raw.name}'s '{sources[column]}', renamed by "
                f"{mapping.file} [columns])"
            )
        if what == problem.what:
            return problem
        return dataclasses.replace(problem, what=what, fix=fix)

    if isinstance(error, GroupedDataError):
        return GroupedDataError(
            [[blame(p) for p in group] for group in error.groups], error.per_kind
        )
    return DataError([blame(p) for p in error.problems])
