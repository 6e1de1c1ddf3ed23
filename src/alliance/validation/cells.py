"""Cell-level reading shared by both layouts: text codes, numbers, phases, arms, timepoints.

Columns are handled through their distinct values (``pandas.factorize``): a column of two
million cells usually holds a few dozen distinct values, so each is interpreted once in Python
and the verdict is broadcast back to the rows with numpy. Problems are built only for the rows
that have one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
import pandas as pd

from alliance.errors import Problem
from alliance.input.cells import cell_text
from alliance.input.readers import SOURCE_ROW
from alliance.validation.problems import ProblemCollector

PHASES = ("randomized", "open_label")
ARMS = ("mdma", "placebo")
# Spellings of the phases that mean the same thing (compared without case, spaces or dashes).
_PHASE_SPELLINGS = {
    "randomized": "randomized",
    "randomised": "randomized",
    "openlabel": "open_label",
}
# Cells that mean "no value" in the numeric columns: blank, R's NA, Stata's and SPSS's '.'.
# Not "nan" or "NaN": that is what a failed computation (0/0) writes, so it is a problem to see.
MISSING_MARKERS = frozenset({"", "na", "."})
# A timepoint names score columns such as ``wai__s4``, so it must be a plain identifier.
TIMEPOINT = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")
MAPPING_HINT = "or translate your labels with a mapping file (--mapping)"


@dataclass(frozen=True)
class Codes:
    """A column as integer codes into ``labels``; code -1 marks a blank cell."""

    codes: np.ndarray  # int32
    labels: np.ndarray  # object array of str

    def values(self) -> np.ndarray:
        """The labels row by row (``None`` for blank cells), as an object array."""
        out = np.empty(len(self.codes), dtype=object)
        present = self.codes >= 0
        out[present] = self.labels[self.codes[present]]
        return out

    def map(self, normalise: Callable[[str], str | None]) -> tuple[Codes, np.ndarray]:
        """Codes of the normalised labels, and a row mask of cells ``normalise`` rejects (None)."""
        canonical = [normalise(label) for label in self.labels]
        rejected = np.array([c is None for c in canonical], dtype=bool)
        table = np.full(len(canonical), -1, dtype=np.int64)
        accepted, labels = pd.factorize(
            np.array([c for c in canonical if c is not None], dtype=object)
        )
        table[~rejected] = accepted
        bad_rows = np.append(rejected, False)[self.codes]
        return Codes(_recode(self.codes, table), np.asarray(labels, dtype=object)), bad_rows


def text_codes(series: pd.Series) -> Codes:
    """Distinct stripped texts of a column; blank and missing cells get code -1."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = np.array([cell_text(u) for u in uniques], dtype=object)
    text_code, labels = pd.factorize(texts)
    labels = np.asarray(labels, dtype=object)
    keep = labels != ""
    renumber = np.where(keep, np.cumsum(keep) - 1, -1)
    return Codes(_recode(codes, renumber[text_code]), labels[keep])


def _recode(codes: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table[codes]`` where codes are present, -1 where they are -1."""
    # One gather: code -1 takes the appended -1 (no masks over millions of rows). Codes are
    # int32 (a column has far fewer than two billion distinct values): a column of millions of
    # rows costs half the memory.
    return np.append(np.asarray(table, dtype=np.int32), np.int32(-1))[codes]


def phase_label(text: str) -> str | None:
    squashed = re.sub(r"[\s_\-]+", "", text.lower())
    return _PHASE_SPELLINGS.get(squashed)


def arm_label(text: str) -> str | None:
    lowered = text.lower()
    return lowered if lowered in ARMS else None


def timepoint_label(text: str) -> str | None:
    lowered = text.lower()
    return lowered if TIMEPOINT.match(lowered) else None


# Numbers are read strictly: an optional sign, ASCII digits with at most one decimal separator,
# and an optional exponent (R, pandas and Excel write 1e-05 or 1.2E+15 for very small or large
# numbers, e.g. a centred covariate). Nothing else: Python's float() would also take "0_3" as 3,
# Arabic-Indic or full-width digits, "infinity" and surrounding Unicode spaces.
_NUMBER = {
    ".": re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"),
    ",": re.compile(r"[+-]?(?:[0-9]+(?:,[0-9]*)?|,[0-9]+)(?:[eE][+-]?[0-9]+)?"),
}
DECIMALS = tuple(_NUMBER)
# Largest magnitude accepted for a number without a known range (plan covariates): far beyond
# any real measurement, and small enough that sums of squares of a million of them stay finite.
MAX_MAGNITUDE = 1e15


class NumberKind(IntEnum):
    """What a cell of a numeric column is; every kind but NUMBER (and BLANK) is a problem."""

    NUMBER = 0
    BLANK = 1  # a missing value: an empty cell, NA or Stata's '.'
    TEXT = 2  # not a number at all
    DECIMAL_COMMA = 3  # a number written with a decimal comma (read with --decimal-comma)
    DECIMAL_POINT = 4  # a decimal point in a file read with --decimal-comma
    NOT_FINITE = 5  # inf, nan, or beyond a double's range (1e400)
    NOT_PLAIN = 6  # a number to Python but not plain ASCII: '0_3', '١٢', full-width digits


def number_kind(text: str, decimal: str = ".") -> tuple[NumberKind, float]:
    """How a stripped cell reads as a number with ``decimal`` as the decimal separator."""
    if text.lower() in MISSING_MARKERS:
        return NumberKind.BLANK, math.nan
    if _NUMBER[decimal].fullmatch(text):
        value = float(text.replace(",", "."))
        return (
            (NumberKind.NUMBER, value)
            if math.isfinite(value)
            else (NumberKind.NOT_FINITE, math.nan)
        )
    other = "," if decimal == "." else "."
    if _NUMBER[other].fullmatch(text) and other in text:
        kind = NumberKind.DECIMAL_COMMA if other == "," else NumberKind.DECIMAL_POINT
        return kind, math.nan
    try:
        lenient = float(text)
    except ValueError:
        return NumberKind.TEXT, math.nan
    if not math.isfinite(lenient) or text.strip().lower() in {"nan", "inf", "infinity"}:
        return NumberKind.NOT_FINITE, math.nan
    return NumberKind.NOT_PLAIN, math.nan


def plain_number(text: str, decimal: str = ".") -> float | None:
    """``text`` as a finite number under the strict grammar, else None (command-line options)."""
    kind, value = number_kind(text.strip(), decimal)
    return value if kind == NumberKind.NUMBER else None


@dataclass(frozen=True)
class ParsedNumbers:
    """A column read as numbers: ``values`` (float64, NaN where blank or bad) and the
    :class:`NumberKind` of every cell."""

    values: np.ndarray
    kinds: np.ndarray  # int8 codes of NumberKind

    @property
    def bad(self) -> np.ndarray:
        return self.kinds > NumberKind.BLANK

    def only_decimal_commas(self) -> bool:
        """Every problem cell is a number written with a decimal comma."""
        bad = self.kinds[self.bad]
        return len(bad) > 0 and bool(np.all(bad == NumberKind.DECIMAL_COMMA))


def _inverse_labels(value_labels: Mapping[Any, str] | None) -> dict[str, float]:
    """Label -> code of SPSS/Stata value labels (a label given to two codes cannot be read back,
    so it stays a problem)."""
    codes_of: dict[str, list[float]] = {}
    for code, label in (value_labels or {}).items():
        if isinstance(code, int | float) and not isinstance(code, bool):
            codes_of.setdefault(str(label).strip().lower(), []).append(float(code))
    return {label: codes[0] for label, codes in codes_of.items() if len(codes) == 1}


@dataclass(frozen=True)
class _Tables:
    """Per distinct cell: its kind, number and text; the last entry is the blank cell."""

    kinds: np.ndarray
    numbers: np.ndarray
    texts: np.ndarray  # object: stripped text, None when blank


def _tables(uniques: Any, inverse: Mapping[str, float], decimal: str) -> _Tables:
    """Read each distinct cell once; the verdicts are broadcast back to the cells by code."""
    kinds = np.empty(len(uniques) + 1, dtype=np.int8)
    numbers = np.empty(len(uniques) + 1, dtype=np.float64)
    texts = np.empty(len(uniques) + 1, dtype=object)
    kinds[-1], numbers[-1], texts[-1] = NumberKind.BLANK, math.nan, None
    for i, u in enumerate(uniques):
        text = cell_text(u)
        texts[i] = text or None
        if isinstance(u, int | float | np.integer | np.floating) and not isinstance(u, bool):
            value = float(u)
            kind = (
                NumberKind.NUMBER
                if math.isfinite(value)
                else NumberKind.BLANK
                if math.isnan(value)
                else NumberKind.NOT_FINITE
            )
            kinds[i], numbers[i] = kind, value if kind == NumberKind.NUMBER else math.nan
            continue
        kind, value = number_kind(text, decimal)
        if kind == NumberKind.TEXT and text.lower() in inverse:
            kind, value = NumberKind.NUMBER, inverse[text.lower()]
        kinds[i], numbers[i] = kind, value
    return _Tables(kinds, numbers, texts)


def _typed_numbers(series: pd.Series) -> ParsedNumbers | None:
    """A column a binary format stored as numbers (or booleans), read without parsing."""
    if pd.api.types.is_bool_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return ParsedNumbers(values, np.where(np.isnan(values), 1, 0).astype(np.int8))
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        kinds = np.where(
            np.isinf(values), NumberKind.NOT_FINITE, np.where(np.isnan(values), 1, 0)
        ).astype(np.int8)
        return ParsedNumbers(np.where(np.isinf(values), np.nan, values), kinds)
    return None


def _check_decimal(decimal: str) -> None:
    if decimal not in _NUMBER:
        raise ValueError(f"decimal separator must be one of {DECIMALS}, not {decimal!r}")


def read_numbers(
    series: pd.Series, value_labels: Mapping[Any, str] | None = None, decimal: str = "."
) -> ParsedNumbers:
    """A column's numbers and the kind of every cell (see :func:`number_kind`).

    SPSS/Stata value labels, when the file had them for this column, are read back as their
    codes (a response labelled "Always" is its code, 7). Cells a binary format stored as
    numbers are numbers (infinite ones are NOT_FINITE); text cells are read strictly.
    """
    _check_decimal(decimal)
    typed = _typed_numbers(series)
    if typed is not None:
        return typed
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    tables = _tables(uniques, _inverse_labels(value_labels), decimal)
    return ParsedNumbers(tables.numbers[codes], tables.kinds[codes])


@dataclass(frozen=True)
class NumberBlock:
    """Many columns read as numbers at once: ``parsed[column]`` and ``texts(column)``.

    Text columns are factorised together, so each distinct cell of the whole block is read
    once: a file of 10,000 score columns costs what a file of the same cells in 10 columns
    does, rather than 10,000 times the Python work of reading a column's distinct values.
    """

    parsed: dict[str, ParsedNumbers]
    _codes: dict[str, np.ndarray]
    _texts: np.ndarray

    def texts(self, frame: pd.DataFrame, column: str) -> np.ndarray:
        """The column's cells as stripped text (None for blank), as :func:`text_codes` gives."""
        if column in self._codes:
            return np.asarray(self._texts[self._codes[column]], dtype=object)
        return text_codes(frame[column]).values()


def read_number_block(
    frame: pd.DataFrame,
    columns: list[str],
    value_labels: Mapping[str, Mapping[Any, str]],
    decimal: str = ".",
) -> NumberBlock:
    """:func:`read_numbers` for every one of ``columns``, in time linear in their cells."""
    _check_decimal(decimal)
    parsed: dict[str, ParsedNumbers] = {}
    shared: list[str] = []
    categorical: list[str] = []
    for column in columns:
        series = frame[column]
        typed = _typed_numbers(series)
        if typed is not None:
            parsed[column] = typed
        elif column in value_labels:
            parsed[column] = read_numbers(series, value_labels.get(column), decimal)
        elif isinstance(series.dtype, pd.StringDtype):
            shared.append(column)
        elif _text_categories(series):
            categorical.append(column)
        else:
            # Cells of mixed Python types (Excel): hashing would merge True, 1 and 1.0 across
            # columns, so each such column is read on its own.
            parsed[column] = read_numbers(series, value_labels.get(column), decimal)
    if not shared and not categorical:
        return NumberBlock(parsed, {}, np.array([None], dtype=object))
    # Every distinct text of the block is read once: the cells of the text columns and the
    # categories of the Categorical ones (a dictionary-encoded column holds each text once)
    # are factorised together.
    # Column after column (one row of ``cells`` per column), so each column's arrays are
    # contiguous views.
    cells = frame[shared].to_numpy(dtype=object).T if shared else np.empty((0, len(frame)))
    categories = [np.asarray(frame[c].cat.categories, dtype=object) for c in categorical]
    codes, uniques = pd.factorize(
        np.concatenate([cells.ravel(), *categories]).astype(object), use_na_sentinel=True
    )
    tables = _tables(uniques, {}, decimal)
    blank = len(uniques)
    codes = np.where(codes < 0, blank, codes)
    by_column = {}
    block = codes[: cells.size].reshape(cells.shape)
    numbers, kinds = tables.numbers[block], tables.kinds[block]
    for j, column in enumerate(shared):
        parsed[column] = ParsedNumbers(numbers[j], kinds[j])
        by_column[column] = block[j]
    start = cells.size
    for column, own in zip(categorical, categories, strict=True):
        table = np.append(codes[start : start + len(own)], blank)
        start += len(own)
        column_codes = table[frame[column].cat.codes.to_numpy()]  # code -1 (blank) → blank
        parsed[column] = ParsedNumbers(tables.numbers[column_codes], tables.kinds[column_codes])
        by_column[column] = column_codes
    return NumberBlock(parsed, by_column, tables.texts)


def _text_categories(series: pd.Series) -> bool:
    """A Categorical whose categories are all text (what the columnar reader gives)."""
    if not isinstance(series.dtype, pd.CategoricalDtype):
        return False
    categories = series.cat.categories
    return isinstance(categories.dtype, pd.StringDtype) or all(
        isinstance(c, str) for c in categories
    )


_DECIMAL_OPTION = "--decimal-comma"
_NOT_NUMBER_WHAT = {
    NumberKind.TEXT: "is not a number",
    NumberKind.NOT_FINITE: "is not a finite number (inf, nan and values beyond ±1.8e308 are "
    "not read)",
    NumberKind.NOT_PLAIN: "is not a plain number (only ASCII digits 0-9, a sign, one decimal "
    "separator and an exponent are read: '0_3' is not 3, and non-ASCII digits are not read)",
    NumberKind.DECIMAL_POINT: f"has a decimal point, but the file is read with {_DECIMAL_OPTION} "
    "(a point would be a thousands separator, which is not read)",
}


def number_problems(
    frame: pd.DataFrame,
    parsed: ParsedNumbers,
    problems: ProblemCollector,
    *,
    column: str,
    noun: str,
    fix: str,
) -> None:
    """Collect a problem for every bad cell of a numeric column.

    Cells that would be numbers with a decimal comma are summarised in one problem for the
    column, pointing at ``--decimal-comma``: a file from a decimal-comma locale holds hundreds
    of them, and one hint helps more than hundreds of identical lines.
    """
    for kind, what in _NOT_NUMBER_WHAT.items():
        problems.extend(
            f"{kind.name} {column}",
            row_problems(
                frame,
                parsed.kinds == kind,
                file=problems.file,
                column=column,
                what=f"{noun} {what}",
                fix=fix,
            ),
        )
    commas = np.flatnonzero(parsed.kinds == NumberKind.DECIMAL_COMMA)
    if len(commas):
        rows = frame[SOURCE_ROW].to_numpy()[commas]
        example = cell_text(frame[column].iloc[commas[0]]) if column in frame else None
        every = " (every problem in this column)" if parsed.only_decimal_commas() else ""
        problems.add(
            f"decimal comma {column}",
            Problem(
                file=problems.file,
                row=int(rows[0]),
                column=column,
                value=example,
                what=f"{len(commas):,} cell(s) are numbers written with a decimal comma"
                f"{every}, in {rows_text(rows)}",
                fix=f"rerun with {_DECIMAL_OPTION} to read 1,5 as 1.5 (the file then must use "
                "decimal commas throughout), or write the numbers with decimal points",
            ),
        )


def row_problems(
    frame: pd.DataFrame,
    mask: np.ndarray,
    *,
    file: str,
    column: str,
    what: str,
    fix: str,
) -> list[Problem]:
    """One problem per row in ``mask``, each naming its row and the cell as read."""
    index = np.flatnonzero(mask)
    if len(index) == 0:
        return []
    rows = frame[SOURCE_ROW].to_numpy()[index]
    if column in frame.columns:
        # Each distinct cell is shown once as text, however many rows hold it.
        codes, uniques = pd.factorize(frame[column].iloc[index], use_na_sentinel=True)
        shown = np.array([cell_text(u) or None for u in uniques] + [None], dtype=object)
        cells = shown[codes]
    else:
        cells = np.full(len(index), None, dtype=object)
    return [
        Problem(file=file, row=r, column=column, value=v, what=what, fix=fix)
        for r, v in zip(rows.tolist(), cells.tolist(), strict=True)
    ]


def rows_text(rows: np.ndarray, limit: int = 5) -> str:
    """'rows 2, 5 and 9' (at most ``limit`` named, then how many more)."""
    ordered = sorted(int(r) for r in rows)
    named = [str(r) for r in ordered[:limit]]
    if len(ordered) > limit:
        return f"rows {', '.join(named)} and {len(ordered) - limit:,} more"
    if len(named) == 1:
        return f"row {named[0]}"
    return f"rows {', '.join(named[:-1])} and {named[-1]}"


def names_text(names: list[str], limit: int = 10) -> str:
    """ "'a', 'b' and 'c'" (at most ``limit`` named, then how many more), for wide files."""
    shown = ", ".join(repr(n) for n in names[:limit])
    if len(names) > limit:
        return f"{shown} and {len(names) - limit:,} more"
    return shown


def blank_problems(frame: pd.DataFrame, codes: Codes, column: str, file: str) -> list[Problem]:
    """One problem per blank cell of a column that must be filled in."""
    return row_problems(
        frame,
        codes.codes < 0,
        file=file,
        column=column,
        what=f"{column} is blank",
        fix=f"fill in the {column}",
    )


def categorical_column(
    frame: pd.DataFrame,
    column: str,
    normalise: Callable[[str], str | None],
    problems: ProblemCollector,
    what: str,
    fix: str,
) -> Codes:
    """A column of known labels as codes; blank and unknown cells reported to ``problems``."""
    raw = text_codes(frame[column])
    codes, rejected = raw.map(normalise)
    problems.extend(f"blank {column}", blank_problems(frame, raw, column, problems.file))
    problems.extend(
        f"unknown {column}",
        row_problems(frame, rejected, file=problems.file, column=column, what=what, fix=fix),
    )
    return codes


def phase_column(frame: pd.DataFrame, problems: ProblemCollector) -> Codes:
    return categorical_column(
        frame,
        "phase",
        phase_label,
        problems,
        f"unknown phase (expected {' or '.join(PHASES)})",
        f"write 'randomized' or 'open_label' (open-label and randomised are accepted), "
        f"{MAPPING_HINT}",
    )


def arm_column(frame: pd.DataFrame, problems: ProblemCollector) -> Codes:
    return categorical_column(
        frame,
        "arm",
        arm_label,
        problems,
        f"unknown arm (expected {' or '.join(ARMS)}, the randomised allocation)",
        f"write 'mdma' or 'placebo', {MAPPING_HINT}, e.g. [values.arm] \"Active\" = \"mdma\"",
    )


def participant_column(frame: pd.DataFrame, problems: ProblemCollector) -> Codes:
    codes = text_codes(frame["participant_id"])
    problems.extend(
        "blank participant_id", blank_problems(frame, codes, "participant_id", problems.file)
    )
    return codes
