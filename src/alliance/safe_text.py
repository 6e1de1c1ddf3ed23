"""Text a user gave us, made safe for where it goes: spreadsheets, matplotlib, XML.

Participant IDs, labels and column names are the user's text and can hold anything. Three
places would misread some of it:

- **Spreadsheets** evaluate a cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage
  return as a formula ("CSV injection"). Every CSV, TSV and Excel file alliance writes prefixes
  such a text cell with a single quote, as OWASP recommends; numbers are never touched (a
  numeric column stays numeric, -3.5 stays -3.5), but a *text* cell such as the ID ``-3`` is
  prefixed too, so a spreadsheet keeps it as text. The readers undo exactly this on read-back,
  so IDs round-trip unchanged. The rule is a bijection: a text already starting with quotes
  before a trigger (``'=x``) gains one more quote (``''=x``) and reads back as ``'=x``.
  SPSS, Stata and Parquet files store typed strings that no program evaluates: they are
  written and read as they are.
- **matplotlib** reads ``$...$`` as mathtext (a lone or odd ``$`` is a parse error) and cannot
  draw control characters: :func:`plot_text` escapes ``$`` and replaces control characters.
- **XML** (Word's ``.docx``, SVG) cannot hold most control characters, lone surrogates or
  U+FFFE/U+FFFF: :func:`xml_text` replaces them with U+FFFD (shown as �), so an ID with a
  stray control character is still visibly there rather than silently shortened.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

# OWASP "CSV Injection": cells starting with these are formulas to Excel, LibreOffice and Sheets.
FORMULA_TRIGGERS = frozenset("=+-@\t\r")
QUOTE = "'"
# Characters XML 1.0 forbids (control characters other than tab, newline and carriage return;
# lone surrogates; the non-characters U+FFFE and U+FFFF).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Everything matplotlib cannot draw as a glyph: C0 and C1 controls, DEL, and the XML-invalid.
_PLOT_BREAKS = re.compile("[\t\n\r\x0b\x0c]")
_PLOT_INVALID = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"


# --- Spreadsheets -------------------------------------------------------------------------------


def _is_formula_like(text: str) -> bool:
    # Leading quotes and spaces are skipped so that the rule stays a bijection (see module doc)
    # and " =1+1" is treated like "=1+1", as some spreadsheets do.
    return text.lstrip(QUOTE + " ")[:1] in FORMULA_TRIGGERS if text else False


def neutralise(text: str) -> str:
    """A text cell a spreadsheet would evaluate, prefixed with ``'``; any other text as is."""
    return QUOTE + text if _is_formula_like(text) else text


def unneutralise(text: str) -> str:
    """The inverse of :func:`neutralise`: ``'=x`` is ``=x``, ``''=x`` is ``'=x``."""
    return text[1:] if text[:1] == QUOTE and _is_formula_like(text[1:]) else text


def _text_columns(frame: pd.DataFrame) -> list[int]:
    """Positions of the columns that may hold text (not numeric, not boolean)."""
    return [
        i
        for i in range(frame.shape[1])
        if not (
            pd.api.types.is_numeric_dtype(frame.iloc[:, i])
            or pd.api.types.is_bool_dtype(frame.iloc[:, i])
        )
    ]


def _map_text_cells(frame: pd.DataFrame, change: Callable[[str], str]) -> pd.DataFrame:
    """``frame`` with ``change`` applied to every ``str`` cell and column name; numbers,
    missing values and numeric columns are left alone. Copies only when something changes."""
    out = frame
    for position in _text_columns(frame):
        # Text columns repeat a few values (IDs, phases, codes): judge each distinct value once.
        codes, uniques = pd.factorize(frame.iloc[:, position], use_na_sentinel=True)
        distinct = np.asarray(uniques, dtype=object)
        changed = [change(v) if isinstance(v, str) else v for v in distinct]
        if all(new is old or new == old for new, old in zip(changed, distinct, strict=True)):
            continue
        if out is frame:
            out = frame.copy()
        table = np.empty(len(changed) + 1, dtype=object)
        table[:-1] = changed
        table[-1] = None  # missing cells (code -1) stay missing
        fixed = table[codes]
        missing = codes == -1
        fixed[missing] = frame.iloc[:, position].to_numpy(dtype=object)[missing]
        out.isetitem(position, fixed)
    names = [change(c) if isinstance(c, str) else c for c in frame.columns]
    if names != list(frame.columns):
        out = out.copy() if out is frame else out
        out.columns = names
    return out


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every formula-like text cell and column name neutralised."""
    return _map_text_cells(frame, neutralise)


def unneutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every neutralised text cell and column name restored."""
    return _map_text_cells(frame, unneutralise)


def unneutralise_header(header: list[Any]) -> list[Any]:
    return [unneutralise(h) if isinstance(h, str) else h for h in header]


def may_hold_neutralised(data: bytes) -> bool:
    """False when text-file bytes certainly hold no neutralised cell (no quote before a
    trigger), which spares wide files the cell-by-cell pass."""
    return re.search(rb"'[ ']*[=+\-@\t\r]", data) is not None


def spreadsheet_csv(frame: pd.DataFrame, sep: str = ",") -> str:
    """``frame`` as CSV (or TSV) text that a spreadsheet opens without evaluating anything.

    A carriage return inside a cell must be quoted or the file reads back as an extra line;
    Python's csv writer does not quote it with a ``\\n`` line end, so then every text cell is
    quoted.
    """
    safe = neutralise_frame(frame)
    has_cr = any(
        isinstance(v, str) and "\r" in v
        for i in _text_columns(safe)
        for v in pd.unique(safe.iloc[:, i])
    ) or any(isinstance(c, str) and "\r" in c for c in safe.columns)
    if has_cr:
        return safe.to_csv(index=False, sep=sep, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    return safe.to_csv(index=False, sep=sep, lineterminator="\n")


# --- matplotlib and XML -------------------------------------------------------------------------


def xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold replaced by U+FFFD."""
    return _XML_INVALID.sub(REPLACEMENT, text)


def plot_text(text: str) -> str:
    """User text as matplotlib draws it literally: line breaks and tabs as spaces, other
    control characters as U+FFFD, and ``$`` escaped so nothing is read as mathtext.

    Outside mathtext a backslash is drawn as it is, so only ``$`` needs escaping.
    """
    text = _PLOT_INVALID.sub(REPLACEMENT, _PLOT_BREAKS.sub(" ", str(text)))
    return text.replace("$", r"\$")


# --- Terminal -----------------------------------------------------------------------------------

# Control characters (an ESC starts a terminal command) and the bidirectional overrides that
# reorder what a terminal shows ("Trojan Source").
_TERMINAL_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str) -> str:
    """One line of text for the terminal: control characters and bidirectional overrides are
    shown as escapes (``\\x1b``, ``\\u202e``), so an ID can neither run a terminal command nor
    break the one-line-per-problem output."""
    return _TERMINAL_UNSAFE.sub(lambda m: m.group(0).encode("unicode_escape").decode(), text)
