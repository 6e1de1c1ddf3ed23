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
# Cells that mean "no value" in the numeric columns: blank, R's NA, pandas' NaN, Stata's '.'.
MISSING_MARKERS = frozenset({"", "na", "nan", "."})
# A timepoint names score columns such as ``wai__s4``, so it must be a plain identifier.
TIMEPOINT = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")
MAPPING_HINT = "or translate your labels with a mapping file (--mapping)"


@dataclass(frozen=True)
class Codes:
    """A column as integer codes into ``labels``; code -1 marks a blank cell."""

    codes: np.ndarray
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
        bad_rows = np.zeros(len(self.codes), dtype=bool)
        present = self.codes >= 0
        bad_rows[present] = rejected[self.codes[present]]
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
    out = np.full(len(codes), -1, dtype=np.int64)
    present = codes >= 0
    out[present] = table[codes[present]]
    return out


def phase_label(text: str) -> str | None:
    squashed = re.sub(r"[\s_\-]+", "", text.lower())
    return _PHASE_SPELLINGS.get(squashed)


def arm_label(text: str) -> str | None:
    lowered = text.lower()
    return lowered if lowered in ARMS else None


def timepoint_label(text: str) -> str | None:
    lowered = text.lower()
    return lowered if TIMEPOINT.match(lowered) else None


def _number(text: str, labels: Mapping[str, float]) -> float | None:
    """A cell's number, NaN for a missing marker, None when it is not a number."""
    lowered = text.lower()
    if lowered in MISSING_MARKERS:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        return labels.get(lowered)
    return value if math.isfinite(value) else None


def parse_numbers(
    series: pd.Series, value_labels: Mapping[Any, str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Numbers of a column (float64, NaN for blank) and a mask of cells that are not numbers.

    SPSS/Stata value labels, when the file had them for this column, are read back as their
    codes (a response labelled "Always" is its code, 7).
    """
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64), np.zeros(len(series), dtype=bool)
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isinf(values)
        return np.where(bad, np.nan, values), bad
    codes_of: dict[str, list[float]] = {}
    for code, label in (value_labels or {}).items():
        if isinstance(code, int | float) and not isinstance(code, bool):
            codes_of.setdefault(str(label).strip().lower(), []).append(float(code))
    # A label given to two codes cannot be read back, so it stays a problem.
    inverse = {label: codes[0] for label, codes in codes_of.items() if len(codes) == 1}
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    parsed = [
        float(u)
        if isinstance(u, int | float | np.integer | np.floating) and not isinstance(u, bool)
        else _number(cell_text(u), inverse)
        for u in uniques
    ]
    numbers = np.array([math.nan if p is None else p for p in parsed] + [math.nan])
    not_number = np.array([p is None for p in parsed] + [False], dtype=bool)
    return numbers[codes], not_number[codes]


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
