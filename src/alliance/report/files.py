"""Writing outputs atomically: a reader never sees a half-written file.

Each file is written to a temporary name in its destination folder and renamed into place,
which is atomic on POSIX file systems and on Windows when source and target share a volume.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pandas as pd

from alliance.safe_text import spreadsheet_csv


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _publish(tmp: str, path: Path) -> None:
    # mkstemp creates 0600; give the file the permissions an ordinary write would have.
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        _publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_atomic_by_name(path: Path, write: Callable[[Path], object]) -> Path:
    """:func:`write_atomic` for libraries that write to a file name, not a handle (pyreadstat).

    The temporary name keeps the file's extension, which such libraries may insist on.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    try:
        write(Path(tmp))
        _publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: Path, text: str) -> Path:
    return write_atomic(path, lambda h: h.write(text.encode("utf-8")))


def write_json(path: Path, document: Any) -> Path:
    # allow_nan=False: a NaN that slipped through would make invalid JSON; fail loudly instead.
    text = json.dumps(document, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    return write_text(path, text)


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    return write_text(path, spreadsheet_csv(frame))
