"""Write a data table in any supported format, chosen by the file's extension.

Used for scored output (``alliance score``) and for synthetic trials. A synthetic table always
carries the synthetic marker column (``synthetic`` = ``true`` in every row), which the reader
recognises in every format.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from alliance.errors import PlanError
from alliance.report.files import write_atomic

SYNTHETIC_COLUMN = "synthetic"
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
        sep = "\t" if suffix == ".tsv" else ","
        text = frame.to_csv(index=False, sep=sep, lineterminator="\n")
        return write_atomic(path, lambda h: h.write(text.encode("utf-8")))
    if suffix == ".xlsx":
        return write_atomic(path, lambda h: frame.to_excel(h, index=False, engine="openpyxl"))
    if suffix == ".parquet":
        return write_atomic(path, lambda h: frame.to_parquet(h, index=False))
    import pyreadstat

    # pyreadstat writes to a path, not a handle: write a sibling temp file, then rename. The
    # name is unique, so two runs never share it; it is removed on any failure or interrupt.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        if suffix == ".sav":
            pyreadstat.write_sav(_stata_ready(frame), str(tmp))
        else:
            pyreadstat.write_dta(_stata_ready(frame), str(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private; give ordinary permissions
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
