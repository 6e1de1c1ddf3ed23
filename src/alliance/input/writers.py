"""Write a data table in any supported format, chosen by the file's extension.

Used for scored output (``alliance score``) and for synthetic trials. A synthetic table always
carries the synthetic marker column (``synthetic`` = ``true`` in every row), which the reader
recognises in every format. Text cells a spreadsheet would evaluate as a formula are
neutralised in .csv, .tsv and .xlsx (see :mod:`alliance.safe_text`); the reader undoes it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from alliance.errors import DataError, PlanError, Problem
from alliance.report.files import write_atomic, write_atomic_by_name
from alliance.safe_text import neutralise_frame, spreadsheet_csv

SYNTHETIC_COLUMN = "synthetic"
# The characters openpyxl (and the file format) refuse in a cell.
EXCEL_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
WRITABLE = (".csv", ".tsv", ".xlsx", ".sav", ".dta", ".parquet")


def _with_marker(frame: pd.DataFrame, synthetic: bool) -> pd.DataFrame:
    if not synthetic:
        return frame
    marked = frame.copy()
    marked[SYNTHETIC_COLUMN] = "true"
    return marked


def _stata_ready(frame: pd.DataFrame) -> pd.DataFrame:
    # Stata variable names must be identifiers of at most 32 characters; ours already are.
    out = frame.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].astype("string").fillna("").astype(object)
    return out


def _excel_ready(frame: pd.DataFrame, file: str) -> pd.DataFrame:
    """``frame`` unchanged, or a clear refusal when a text cell holds a control character,
    which an Excel workbook cannot store (openpyxl would fail half-way through)."""
    problems = []
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series):
            continue
        bad = series.map(lambda v: isinstance(v, str) and EXCEL_ILLEGAL.search(v) is not None)
        for index in np.flatnonzero(bad.to_numpy(dtype=bool))[:5]:
            value = series.iloc[index]
            code = ord(EXCEL_ILLEGAL.search(value).group(0))  # type: ignore[union-attr]
            problems.append(
                Problem(
                    file=file,
                    row=int(index) + 2,
                    column=str(column),
                    value=value,
                    what=f"the text holds the control character U+{code:04X}, which an Excel "
                    "workbook cannot store",
                    fix="remove the character from the input, or write .csv, .tsv or .parquet",
                )
            )
    if problems:
        raise DataError(problems)
    return frame


def write_table(frame: pd.DataFrame, path: Path, synthetic: bool = False) -> Path:
    """Write ``frame`` to ``path`` atomically; the format follows the extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITABLE:
        raise PlanError(
            path.name,
            [f"cannot write a '{suffix}' file. Fix: use one of {', '.join(WRITABLE)}"],
        )
    frame = _with_marker(frame, synthetic)
    if suffix in (".csv", ".tsv"):
        text = spreadsheet_csv(frame, sep="\t" if suffix == ".tsv" else ",")
        return write_atomic(path, lambda h: h.write(text.encode("utf-8")))
    if suffix == ".xlsx":
        # Neutralised, "=..." is text to openpyxl too, never a live formula cell.
        workbook = _excel_ready(neutralise_frame(frame), path.name)
        return write_atomic(path, lambda h: workbook.to_excel(h, index=False, engine="openpyxl"))
    if suffix == ".parquet":
        return write_atomic(path, lambda h: frame.to_parquet(h, index=False))
    import pyreadstat

    # pyreadstat writes to a file name, not a handle.
    writer = pyreadstat.write_sav if suffix == ".sav" else pyreadstat.write_dta
    ready = _stata_ready(frame)
    return write_atomic_by_name(path, lambda tmp: writer(ready, str(tmp)))
