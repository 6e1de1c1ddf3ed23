"""Read a data file of any supported format into a :class:`RawTable`, and nothing more.

The format follows the file's extension, and the file's first bytes must agree with it: a zip
archive renamed ``.csv`` or a CSV renamed ``.sav`` is reported, not guessed at. Cells are kept
as read (text for CSV, typed values for the binary formats); interpreting them is validation's job.

Rules a user can rely on:

- Text files (``.csv``, ``.tsv``) must be UTF-8 (with or without a byte-order mark) or UTF-16
  with a byte-order mark (Excel's "Unicode text"). Other encodings are refused with a message
  saying how to re-save the file: guessing latin-1 would silently corrupt names.
- ``.csv`` is comma-separated, unless its header line holds no comma but does hold semicolons
  (the CSV Excel writes under a decimal-comma locale), then semicolon-separated. ``.tsv`` is
  tab-separated. Every row must have as many fields as the header.
- Excel: the first worksheet, header in row 1 (a warning names any other worksheet holding
  data). SPSS and Stata: value labels are applied (the labels are also kept in
  :attr:`RawTable.value_labels` so numeric columns can be recovered); user-defined missing
  values are read as missing.
- Column names are compared case-insensitively: they are stripped and lower-cased, and two
  columns that then coincide are a problem. Entirely empty rows, and unnamed columns that are
  entirely empty, are ignored (a spreadsheet shows nothing there); anything else is kept.
- A text cell of a .csv, .tsv or .xlsx file that starts with a single quote before ``=``, ``+``,
  ``-``, ``@``, tab or carriage return loses that quote: it is how alliance's own outputs (and
  Excel's convention) keep such text from being evaluated as a formula (:mod:`alliance.safe_text`).
- Files are only ever opened for reading.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import threading
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alliance.errors import DataError, Problem
from alliance.input.cells import cell_text
from alliance.input.opening import InputFileError, data_limit, read_input_bytes
from alliance.safe_text import may_hold_neutralised, unneutralise_frame, unneutralise_header
from alliance.validation.problems import ProblemCollector

SYNTHETIC_COLUMN = "synthetic"
SOURCE_ROW = "source_row"
FORMATS = {
    ".csv": "CSV",
    ".tsv": "TSV",
    ".xlsx": "Excel",
    ".sav": "SPSS",
    ".dta": "Stata",
    ".parquet": "Parquet",
}
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
_SNIFF_BYTES = 1 << 16
_DICTIONARY_COLUMNS = 64


@dataclass(frozen=True, eq=False)
class RawTable:
    """A data file as read: cells as stored, lower-cased column names, one ``source_row`` each.

    Attributes
    ----------
    path
        The file read.
    frame
        The cells, plus ``source_row`` (int64): the row as a spreadsheet shows it (header = 1).
    synthetic
        The file carries the synthetic marker (a ``synthetic`` column, true in every row); the
        marker column itself is removed from ``frame``.
    sha256
        Hex digest of the file's bytes, for provenance.
    value_labels
        SPSS/Stata value labels per (lower-cased) column, ``{code: label}``; empty otherwise.
    warnings
        What the user should know about how the file was read that is not an error (other
        worksheets of a workbook holding data that were not read).
    """

    path: Path
    frame: pd.DataFrame
    synthetic: bool
    sha256: str
    value_labels: Mapping[str, Mapping[Any, str]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The file name without its folders, as messages show it."""
        return self.path.name


def _fail(file: str, what: str, fix: str, row: int | None = None) -> DataError:
    return DataError([Problem(file=file, what=what, fix=fix, row=row)])


# --- What the bytes are -------------------------------------------------------------------------


def _sniff(data: bytes) -> str:
    """The kind of content, from the first bytes: a key of ``_KINDS``."""
    head = data[:_SNIFF_BYTES]
    if head.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            return "zip"
        return "xlsx" if any(n.startswith("xl/") for n in names) else "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "ole2"
    if head.startswith((b"$FL2", b"$FL3")):
        return "sav"
    # Stata 13+ starts with an XML-like tag; versions 104-115 with the version and byte order.
    if head.startswith(b"<stata_dta>") or (
        len(head) > 1 and 104 <= head[0] <= 115 and head[1] in (1, 2)
    ):
        return "dta"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "text"
    if b"\x00" in head:
        return "binary"
    controls = sum(head.count(bytes([c])) for c in range(32) if c not in (9, 10, 13))
    return "binary" if controls > len(head) // 100 else "text"


# kind -> (description, extension it should have, format name)
_KINDS: dict[str, tuple[str, str | None]] = {
    "xlsx": ("an Excel workbook", ".xlsx"),
    "zip": ("a zip archive", None),
    "ole2": ("an old-style Excel .xls file (or a password-protected workbook)", None),
    "sav": ("an SPSS data file", ".sav"),
    "dta": ("a Stata data file", ".dta"),
    "parquet": ("a Parquet file", ".parquet"),
    "gzip": ("a gzip-compressed file", None),
    "pdf": ("a PDF document", None),
    "text": ("text (CSV or similar)", ".csv"),
    "binary": ("binary data of an unknown kind", None),
}
_EXPECTED = {
    ".csv": "text",
    ".tsv": "text",
    ".xlsx": "xlsx",
    ".sav": "sav",
    ".dta": "dta",
    ".parquet": "parquet",
}


def _mismatch(path: Path, kind: str) -> DataError:
    label = FORMATS[path.suffix.lower()]
    description, right_suffix = _KINDS[kind]
    if right_suffix is not None:
        fix = (
            f"if it is {description.split(' (')[0]}, rename it to '{path.stem}{right_suffix}'; "
            f"otherwise save it again as {label} ({path.suffix.lower()})"
        )
    elif kind == "ole2":
        fix = (
            "open it in Excel, remove any password, and save it as an Excel workbook (.xlsx) "
            "or as CSV UTF-8 (.csv)"
        )
    elif kind in ("gzip", "zip"):
        fix = "decompress it first (e.g. gunzip or unzip), then give the path of the file inside"
    else:
        fix = f"save the data as {label} ({path.suffix.lower()}) or as CSV UTF-8 (.csv)"
    return _fail(
        path.name,
        f"file is not a valid {label} file; it looks like {description}",
        fix,
    )


# Compressed files: what they are and the usual command that unpacks them.
_COMPRESSED = {
    ".gz": ("gzip", "gunzip"),
    ".gzip": ("gzip", "gunzip"),
    ".tgz": ("gzip", "tar -xzf"),
    ".zip": ("zip", "unzip"),
    ".bz2": ("bzip2", "bunzip2"),
    ".xz": ("xz", "unxz"),
    ".zst": ("zstd", "unzstd"),
    ".7z": ("7-Zip", "7z x"),
    ".tar": ("tar", "tar -xf"),
    ".rar": ("RAR", "unrar x"),
}
_SUPPORTED = ", ".join(FORMATS)


def _unsupported(path: Path) -> DataError:
    """An extension alliance does not read: what it is and what to do, never a wrong rename."""
    suffix = path.suffix.lower()
    inner = Path(path.stem).suffix.lower()  # ".csv" of "trial.csv.gz"
    if suffix in _COMPRESSED:
        kind, command = _COMPRESSED[suffix]
        if inner == ".tar":
            kind, command = f"a tar archive, {kind}", "tar -xf"
        inside = f" ('{path.stem}')" if inner in FORMATS else ""
        return _fail(
            path.name,
            f"file is {kind}-compressed; alliance reads the data file itself, not an archive",
            f"decompress it first (e.g. {command} '{path.name}') and give the path of the file "
            f"inside{inside}; supported files are {_SUPPORTED}",
        )
    if suffix in (".xls", ".xlsm", ".xlsb", ".ods", ".numbers"):
        return _fail(
            path.name,
            f"'{suffix}' workbooks are not supported",
            f"open it in its spreadsheet program and save it as an Excel workbook (.xlsx) or as "
            f"CSV UTF-8 (.csv); supported files are {_SUPPORTED}",
        )
    if inner in FORMATS:
        rename = f"if it is a {FORMATS[inner]} file, rename it to '{path.stem}'"
    else:
        rename = (
            f"if it is comma-separated text, rename it to '{path.stem}.csv' (tab-separated: "
            f"'{path.stem}.tsv')"
        )
    return _fail(
        path.name,
        f"'{suffix or '(no extension)'}' files are not supported",
        f"save the data as one of {_SUPPORTED}; {rename}",
    )


# --- Text files ---------------------------------------------------------------------------------


def _utf8(data: bytes, file: str) -> bytes:
    """UTF-8 bytes of a text file, or a clear refusal (no guessing of other encodings)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16").encode("utf-8")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if data.isascii():
        return data
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _fail(
            file,
            f"file is not UTF-8 text (byte 0x{data[exc.start]:02X} cannot be read as UTF-8; "
            "other encodings are not guessed because a wrong guess silently changes names)",
            "save it as 'CSV UTF-8' (Excel: File > Save As > CSV UTF-8), or re-encode it to UTF-8 "
            "(e.g. iconv -f cp1252 -t utf-8)",
            row=line,
        ) from None
    return data


def _delimiter(data: bytes, suffix: str) -> str:
    if suffix == ".tsv":
        return "\t"
    end = data.find(b"\n")
    header = data[: end if end >= 0 else len(data)]
    if b"," not in header and b";" in header:
        return ";"
    return ","


def _field_counts_fast(data: bytes, sep: str) -> tuple[np.ndarray, np.ndarray]:
    """Fields per physical line and whether the line is blank, for files without quotes."""
    # bytes.split and bytes.count run in C; on two million lines this beats numpy index
    # arithmetic (measured), at the cost of a short-lived list of lines.
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the file ends with a newline
    separator = sep.encode()
    counts = np.fromiter((line.count(separator) for line in lines), np.int64, len(lines))
    blank = np.fromiter((line in (b"", b"\r") for line in lines), bool, len(lines))
    return counts + 1, blank


def _unclosed_quote(file: str, line: int) -> DataError:
    return _fail(
        file,
        'a quote (") opened on this line is never closed, so everything after it reads as one cell',
        "close the quote, or remove it if it is not meant to enclose a cell (a quote inside a "
        'quoted cell is written twice: "")',
        row=line,
    )


def _field_counts_quoted(data: bytes, sep: str, file: str) -> tuple[np.ndarray, np.ndarray]:
    """Fields per record (a quoted field may span lines) and whether the record is blank.

    Strict quoting: a quote left open at the end of the file, which the lenient reader would
    close without a word, and text after a closing quote are reported on the line they start.
    """
    reader = csv.reader(io.StringIO(data.decode("utf-8")), delimiter=sep, strict=True)
    counts = []
    blank = []
    start = 1  # the line the record being read starts on
    try:
        for record in reader:
            counts.append(len(record))
            blank.append(len(record) == 0)
            start = reader.line_num + 1
    except csv.Error as exc:
        # End of data inside quotes, or a runaway quoted cell outgrowing csv's field limit.
        if "end of data" in str(exc) or "field limit" in str(exc):
            raise _unclosed_quote(file, start) from None
        raise _fail(
            file,
            f"the quoting of a cell on this line is malformed ({exc})",
            "a quoted cell must end with a quote followed by the separator or the end of the "
            'line; a quote inside a quoted cell is written twice ("")',
            row=reader.line_num,
        ) from None
    return np.asarray(counts, dtype=np.int64), np.asarray(blank, dtype=bool)


def _check_ragged(data: bytes, sep: str, file: str) -> None:
    counts, blank = (
        _field_counts_quoted(data, sep, file) if b'"' in data else _field_counts_fast(data, sep)
    )
    if len(counts) == 0:
        return
    bad = np.flatnonzero(~blank & (counts != counts[0]))
    if len(bad) == 0:
        return
    problems = ProblemCollector(file)
    name = "tab" if sep == "\t" else repr(sep)
    for index in bad:
        n = int(counts[index])
        more = "more" if n > counts[0] else "fewer"
        problems.add(
            f"ragged {more}",
            Problem(
                file=file,
                row=int(index) + 1,
                what=f"row has {n} fields but the header has {int(counts[0])} ({more} "
                f"{name}-separated fields than columns)",
                fix="make every row have one field per column: quote cells that contain the "
                "separator, and add empty fields for blank cells",
            ),
        )
    raise problems.error()


def _plain(data: bytes, sep: str) -> bool:
    """Text the columnar reader reads exactly as the general reader does: no quotes, no bare
    carriage returns, no cell a writer neutralised against formulas, and no blank lines in a
    file of one column (in a wider file the parser stops at a blank line, as at any row of
    another width, and the general reader takes over).

    Anything else (rare in the large exports this path is for) goes through the general
    reader, whose rules and messages are the reference. Each test is a byte search in C.
    """
    if b'"' in data or data.startswith((b"\n", b"\r")):
        return False
    if b"\r" in data and (b"\n\r\n" in data or data.count(b"\r") != data.count(b"\r\n")):
        return False
    end = data.find(b"\n")
    if sep.encode() not in data[: end if end >= 0 else len(data)] and b"\n\n" in data:
        return False
    return b"'" not in data or not may_hold_neutralised(data)


def _read_columnar(data: bytes, sep: str) -> tuple[list[Any], pd.DataFrame] | None:
    """Header and cells of a plain text file read by Arrow's CSV parser (multi-threaded, in C++).

    Up to 64 columns, every column is dictionary-encoded: a column of millions of cells
    holding a few dozen distinct texts arrives as small integer codes (a pandas Categorical),
    which validation takes over without factorizing again. Wider files arrive as text, as the
    general reader gives them.

    None when the parser stops at a row of another width than the header (the general
    reader then names every such row, exactly as before) or at anything else.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    end = data.find(b"\n")
    first = data[: end if end >= 0 else len(data)].removesuffix(b"\r").decode("utf-8")
    header: list[Any] = [cell if cell else np.nan for cell in first.split(sep)]
    names = [f"c{i}" for i in range(len(header))]
    # A long file of few columns (the item layout) gains from dictionary encoding; a wide one
    # (a scored file of thousands of score columns) would pay a Categorical per column, so
    # its cells stay text, validated as one block (validation/cells.read_number_block).
    text = (
        pa.dictionary(pa.int32(), pa.string()) if len(names) <= _DICTIONARY_COLUMNS else pa.string()
    )
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(
                delimiter=sep,
                quote_char=False,
                ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, text),
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # A row of another width than the header (or a blank line in a wider file), or
        # anything else the parser refuses.
        return None
    # Each column's Arrow memory is released as soon as it is converted, and what Arrow's
    # allocator kept is handed back to the operating system: the parse of a file of millions
    # of rows would otherwise stay in the process's memory until it ends.
    cells = table.to_pandas(self_destruct=True, split_blocks=True)
    del table
    pa.default_memory_pool().release_unused()
    cells.columns = pd.RangeIndex(len(names))
    return header, cells


def _read_text(data: bytes, path: Path) -> tuple[list[Any], pd.DataFrame]:
    data = _utf8(data, path.name)
    sep = _delimiter(data, path.suffix.lower())
    if _plain(data, sep):
        columnar = _read_columnar(data, sep)
        if columnar is not None:
            return columnar
    _check_ragged(data, sep, path.name)
    try:
        cells = pd.read_csv(
            io.BytesIO(data),
            sep=sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            encoding="utf-8",
            engine="c",
        )
    except pd.errors.EmptyDataError:
        raise _fail(path.name, "file is empty", "choose the file that holds the data") from None
    except pd.errors.ParserError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise _fail(
            path.name,
            f"file cannot be read as {FORMATS[path.suffix.lower()]}: {exc}".rstrip(),
            "check the quoting around the reported row (every opening quote needs a closing one)",
            row=int(match.group(1)) if match else None,
        ) from None
    header = list(cells.iloc[0]) if len(cells) else []
    return header, cells.iloc[1:].reset_index(drop=True)


# --- Binary formats -----------------------------------------------------------------------------


def _has_cells(sheet: Any) -> bool:
    return any(
        value is not None and str(value).strip() != ""
        for row in sheet.iter_rows(values_only=True)
        for value in row
    )


def _read_xlsx(data: bytes, path: Path) -> tuple[list[Any], pd.DataFrame, tuple[str, ...]]:
    """Header, cells and warnings: the first worksheet is the data; the user is told when
    another worksheet holds anything, since it is not read."""
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        rows = list(sheet.iter_rows(min_row=1, values_only=True))
        unread = [other.title for other in workbook.worksheets[1:] if _has_cells(other)]
    finally:
        workbook.close()
    warnings: tuple[str, ...] = ()
    if unread:
        names = ", ".join(f"'{name}'" for name in unread)
        warnings = (
            f"{path.name}: only the first worksheet ('{sheet.title}') was read; other worksheets "
            f"holding data were not: {names}. If the trial data are elsewhere, move them to the "
            "first worksheet.",
        )
    if not rows:
        return [], pd.DataFrame(), warnings
    width = max(len(r) for r in rows)
    padded = [tuple(r) + (None,) * (width - len(r)) for r in rows]
    return list(padded[0]), pd.DataFrame(padded[1:], columns=range(width), dtype=object), warnings


def _read_stat(path: Path) -> tuple[list[Any], pd.DataFrame, dict[str, dict[Any, str]]]:
    import pyreadstat

    reader = pyreadstat.read_sav if path.suffix.lower() == ".sav" else pyreadstat.read_dta
    frame, meta = reader(str(path), apply_value_formats=True, formats_as_category=False)
    labels = {str(k): dict(v) for k, v in (meta.variable_value_labels or {}).items()}
    header = list(frame.columns)
    frame.columns = pd.RangeIndex(frame.shape[1])
    return header, frame, labels


def _read_parquet(data: bytes) -> tuple[list[Any], pd.DataFrame]:
    frame = pd.read_parquet(io.BytesIO(data))
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()  # a stored index (e.g. participant_id) is data too
    header = list(frame.columns)
    frame.columns = pd.RangeIndex(frame.shape[1])
    return header, frame


# --- Common finishing ---------------------------------------------------------------------------


def _column_name(cell: Any) -> str:
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return ""
    return str(cell).strip().lower()


def _synthetic(values: pd.Series, file: str) -> bool:
    text = {cell_text(v).lower() for v in pd.unique(values)}
    if text and text <= _TRUE:
        return True
    if text and text <= _FALSE:
        return False
    raise _fail(
        file,
        "column 'synthetic' marks some rows as synthetic and others not (or holds other values); "
        "a file is either synthetic or real, never a mix",
        "keep synthetic and real data in separate files; the column must be true in every row "
        "(synthetic) or absent",
    )


def _finish(path: Path, header: list[Any], cells: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    file = path.name
    problems = ProblemCollector(file)
    names = [_column_name(c) for c in header]
    # ``cells`` is the reader's own frame: relabelled in place rather than copied.
    if cells.shape[1] != len(names):
        cells = cells.iloc[:, : len(names)]
    cells.columns = pd.RangeIndex(len(names))
    keep = []
    for index, name in enumerate(names):
        if name:
            keep.append(index)
        elif cells[index].notna().any():
            problems.add(
                "unnamed column",
                Problem(
                    file=file,
                    row=1,
                    what=f"column {index + 1} has data but no name in the header row",
                    fix="give the column a name in row 1, or delete it",
                ),
            )
    seen: dict[str, Any] = {}
    for index in keep:
        name = names[index]
        if name in seen:
            problems.add(
                "duplicate column",
                Problem(
                    file=file,
                    row=1,
                    column=name,
                    what=f"two columns are named '{name}' once case and spaces are ignored "
                    f"({seen[name]!r} and {header[index]!r})",
                    fix="rename or delete one of them",
                ),
            )
        seen[name] = header[index]
    if SOURCE_ROW in seen:
        problems.add(
            "reserved column",
            Problem(
                file=file,
                row=1,
                column=SOURCE_ROW,
                what=f"the column name '{SOURCE_ROW}' is reserved for the row number",
                fix="rename the column",
            ),
        )
    problems.raise_if_any()
    frame = cells[keep]
    frame.columns = [names[i] for i in keep]
    # Assigned as one block: a wide export (hundreds of item columns) read column by column
    # leaves a fragmented frame, on which inserting one more column is slow and warns.
    rows = pd.DataFrame(
        {SOURCE_ROW: np.arange(2, len(frame) + 2, dtype=np.int64)}, index=frame.index
    )
    frame = pd.concat([frame, rows], axis=1)
    # Column by column: a row-wise reduction over a frame of millions of rows is much slower.
    empty = np.ones(len(frame), dtype=bool)
    for column in frame.columns[:-1]:  # every column but source_row
        empty &= frame[column].isna().to_numpy()
        if not empty.any():
            break
    if empty.any():
        frame = frame.loc[~empty]
    frame = frame.reset_index(drop=True)
    if len(frame) == 0:
        raise _fail(
            file,
            "file has a header row but no data rows",
            "put the data below the header row (in the first sheet, for Excel files)",
        )
    synthetic = False
    if SYNTHETIC_COLUMN in frame.columns:
        synthetic = _synthetic(frame[SYNTHETIC_COLUMN], file)
        frame = frame.drop(columns=SYNTHETIC_COLUMN)
    return frame, synthetic


def _spreadsheet_text(
    suffix: str, data: bytes, header: list[Any], cells: pd.DataFrame
) -> tuple[list[Any], pd.DataFrame]:
    """Undo the formula neutralisation alliance's writers apply to spreadsheet formats."""
    if suffix == ".xlsx" or (
        suffix in (".csv", ".tsv") and b"'" in data and may_hold_neutralised(data)
    ):
        return unneutralise_header(header), unneutralise_frame(cells)
    return header, cells


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _background(work: Callable[[], str]) -> Callable[[], str]:
    """Run ``work`` on a daemon thread; the returned function waits for and gives its result."""
    result: list[str] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()

    def wait() -> str:
        thread.join()
        return result[0]

    return wait


def read_table(path: Path) -> RawTable:
    """Read a .csv, .tsv, .xlsx, .sav, .dta or .parquet file.

    Parameters
    ----------
    path
        The file; its extension selects the format, and its content must match it.

    Returns
    -------
    RawTable
        Cells as stored, lower-cased column names, ``source_row``, the synthetic flag, the
        file's SHA-256 and any SPSS/Stata value labels.

    Raises
    ------
    DataError
        The file is missing, unreadable, of another format than its name says, not UTF-8 text,
        empty, header-only, ragged or has unnamed or duplicate columns.
    """
    path = Path(path)
    file = path.name
    suffix = path.suffix.lower()
    if not path.exists():
        raise _fail(file, "file does not exist", "check the file name and the folder")
    if path.is_dir():
        raise _fail(file, "this is a folder, not a data file", "give the path of the data file")
    if suffix not in FORMATS:
        raise _unsupported(path)
    try:
        data = read_input_bytes(path, data_limit())
    except InputFileError as exc:
        raise _fail(file, exc.what, exc.fix) from None
    except OSError as exc:
        raise _fail(
            file, f"file cannot be opened ({exc.strerror})", "check its permissions"
        ) from None
    # The digest is computed on another thread while the file is parsed (hashlib releases
    # the interpreter lock on large buffers): on a file of millions of rows it costs about
    # as much as a fifth of the parse.
    digest = _background(partial(_sha256, data))
    if not data[:_SNIFF_BYTES].strip(b" \t\r\n\x00") and not data.strip(b" \t\r\n\x00"):
        raise _fail(file, "file is empty", "choose the file that holds the data")
    kind = _sniff(data)
    if kind != _EXPECTED[suffix]:
        raise _mismatch(path, kind)
    labels: dict[str, dict[Any, str]] = {}
    warnings: tuple[str, ...] = ()
    try:
        if suffix in (".csv", ".tsv"):
            header, cells = _read_text(data, path)
        elif suffix == ".xlsx":
            header, cells, warnings = _read_xlsx(data, path)
        elif suffix == ".parquet":
            header, cells = _read_parquet(data)
        else:
            header, cells, labels = _read_stat(path)
    except DataError:
        raise
    except Exception as exc:  # any library's complaint about a damaged file
        raise _fail(
            file,
            f"file cannot be read as {FORMATS[suffix]} ({type(exc).__name__}: {exc})",
            f"open it in the program that made it and save it again as {FORMATS[suffix]}",
        ) from None
    if not header:
        raise _fail(file, "file is empty", "choose the file that holds the data")
    header, cells = _spreadsheet_text(suffix, data, header, cells)
    del data  # the file's bytes are not needed past here (the digest thread holds its own)
    frame, synthetic = _finish(path, header, cells)
    value_labels = {
        _column_name(k): v for k, v in labels.items() if _column_name(k) in frame.columns
    }
    return RawTable(
        path=path,
        frame=frame,
        synthetic=synthetic,
        sha256=digest(),
        value_labels=value_labels,
        warnings=warnings,
    )
