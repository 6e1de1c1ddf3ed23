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
error, so a misspelt name cannot go unnoticed.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alliance.errors import PlanError, Problem
from alliance.input.cells import cell_text
from alliance.input.opening import read_input_text
from alliance.input.readers import SOURCE_ROW, RawTable
from alliance.validation.problems import ProblemCollector

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
_SECTIONS = ("columns", "values")


@dataclass(frozen=True)
class ColumnMapping:
    """Renames (user column -> alliance column) and relabels (alliance column -> {user label ->
    alliance label}); keys are stripped and lower-cased."""

    columns: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    file: str = "mapping"


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
        messages.append('[columns] must be a table of "your column" = "alliance column"')
        return {}
    columns: dict[str, str] = {}
    first_source: dict[str, str] = {}
    for source, target in table.items():
        if not isinstance(target, str):
            messages.append(f'[columns] "{source}": the target must be a column name (text)')
            continue
        key, name = source.strip().lower(), target.strip().lower()
        if name not in COLUMNS and not _is_score_target(name):
            messages.append(
                f'[columns] "{source}" = "{target}": unknown alliance column; use one of '
                f"{', '.join(COLUMNS)} or a score column <score>__<timepoint>"
            )
            continue
        if key in columns:
            messages.append(f'[columns] "{source}" is given twice (names ignore case)')
            continue
        if name in first_source:
            messages.append(
                f'[columns] "{first_source[name]}" and "{source}" are both mapped to '
                f'"{name}"; map one column to each alliance column'
            )
            continue
        columns[key] = name
        first_source[name] = source
    return columns


def _values_section(table: Any, messages: list[str]) -> dict[str, dict[str, object]]:
    if not isinstance(table, dict):
        messages.append("[values] must hold tables such as [values.arm]")
        return {}
    values: dict[str, dict[str, object]] = {}
    for column, labels in table.items():
        name = column.strip().lower()
        if name not in COLUMNS and not _is_score_target(name):
            messages.append(
                f"[values.{column}]: unknown alliance column; use one of {', '.join(COLUMNS)}"
            )
            continue
        if not isinstance(labels, dict):
            messages.append(f'[values.{column}] must be a table of "your label" = "label"')
            continue
        relabel: dict[str, object] = {}
        for label, target in labels.items():
            if not isinstance(target, str | int | float) or isinstance(target, bool):
                messages.append(f'[values.{column}] "{label}": the target must be text or a number')
                continue
            key = _key(label)
            if key in relabel and relabel[key] != target:
                messages.append(
                    f'[values.{column}] "{label}" is given twice with different targets '
                    "(labels ignore case)"
                )
                continue
            relabel[key] = target
        values[name] = relabel
    return values


def load_mapping(path: Path) -> ColumnMapping:
    """Read and check a mapping file.

    Raises
    ------
    PlanError
        Naming the file and every bad key: unreadable or invalid TOML, an unknown section or
        alliance column, or two columns mapped to one.
    """
    path = Path(path)
    try:
        text = read_input_text(path, "utf-8-sig")
    except FileNotFoundError:
        raise PlanError(path.name, ["mapping file does not exist"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(path.name, [f"mapping file cannot be read ({exc})"]) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(
            path.name,
            [
                f"not valid TOML: {exc}. Fix: correct that line; a mapping holds a [columns] "
                'table of "your column" = "alliance column" and [values.<column>] tables of '
                '"your label" = "alliance label"'
            ],
        ) from None
    messages: list[str] = []
    for section in document:
        if section not in _SECTIONS:
            messages.append(f"unknown section [{section}]; a mapping has [columns] and [values.*]")
    columns = _columns_section(document.get("columns", {}), messages)
    values = _values_section(document.get("values", {}), messages)
    if messages:
        raise PlanError(path.name, messages)
    return ColumnMapping(columns=columns, values=values, file=path.name)


def _relabel(series: pd.Series, relabel: Mapping[str, object]) -> pd.Series:
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    replaced = [relabel.get(_key(u), u) for u in uniques]
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
                    what=f"[columns] maps '{source}', but {raw.name} has no such column",
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
                    what=f"[columns] renames '{source}' to '{target}', but {raw.name} already "
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
                    what=f"[values.{column}] relabels column '{column}', which {raw.name} does "
                    "not have (after renaming)",
                    fix="correct the section name, or map a column to it under [columns]",
                ),
            )
    problems.raise_if_any()
    frame = frame.rename(columns=renames)
    for column, relabel in mapping.values.items():
        frame[column] = _relabel(frame[column], relabel)
    labels = {renames.get(c, c): v for c, v in raw.value_labels.items()}
    return dataclasses.replace(raw, frame=frame, value_labels=labels)
