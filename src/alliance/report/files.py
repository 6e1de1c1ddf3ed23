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


# The C encoder (json.dumps with indent uses a pure-Python one); allow_nan=False: a NaN that
# slipped through would make invalid JSON, so fail loudly instead.
_ENCODE = json.JSONEncoder(allow_nan=False, ensure_ascii=False).encode


def _is_leaf(value: Any) -> bool:
    """A list or dict holding no list or dict: written on one line."""
    items = value.values() if isinstance(value, dict) else value
    return not any(isinstance(v, (dict, list, tuple)) for v in items)


def _json_lines(value: Any, level: int, out: list[str]) -> None:
    """Indented JSON, but a container without nested containers (a participant's influence
    record, a list of numbers) on one line by the C encoder: the same document, readable,
    written many times faster than ``json.dumps(indent=2)``, whose pure-Python encoder took
    seconds over the per-participant records of a large trial."""
    if not isinstance(value, (dict, list, tuple)) or not value or _is_leaf(value):
        out.append(_ENCODE(value))
        return
    pad = "  " * (level + 1)
    if not isinstance(value, dict) and all(
        isinstance(v, dict) and v and _is_leaf(v) for v in value
    ):  # records, one per line: the bulk of a large trial's document
        out.append(
            "[\n" + pad + (",\n" + pad).join(map(_ENCODE, value)) + "\n" + "  " * level + "]"
        )
        return
    if isinstance(value, dict):
        out.append("{")
        for k, (key, item) in enumerate(value.items()):
            out.append(("," if k else "") + "\n" + pad + _ENCODE(str(key)) + ": ")
            _json_lines(item, level + 1, out)
        out.append("\n" + "  " * level + "}")
    else:
        out.append("[")
        for k, item in enumerate(value):
            out.append(("," if k else "") + "\n" + pad)
            _json_lines(item, level + 1, out)
        out.append("\n" + "  " * level + "]")


def json_text(document: Any) -> str:
    """``document`` as indented JSON text (see :func:`_json_lines`), ending in a newline."""
    out: list[str] = []
    _json_lines(document, 0, out)
    return "".join(out) + "\n"


def write_json(path: Path, document: Any) -> Path:
    return write_text(path, json_text(document))


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    return write_text(path, spreadsheet_csv(frame))
