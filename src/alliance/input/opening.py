"""Opening an input file: only a regular file, within a size cap, and never blocking.

Every file alliance reads (data, plan, mapping, calibration) goes through here. A named pipe
would block the open forever, a character device such as ``/dev/zero`` would be read until
memory runs out, and a folder cannot be read at all; each is refused with a message instead.

- The file's kind is checked with ``stat`` (symlinks followed) before it is opened, and again
  on the open descriptor, which is opened non-blocking: a file swapped for a pipe between the
  two checks still cannot block the open.
- Data files are read up to :data:`MAX_DATA_BYTES` (2 GiB; the environment variable
  ``ALLIANCE_MAX_DATA_MB`` sets another cap in MiB), TOML files up to :data:`MAX_TEXT_BYTES`.
  A file above the cap is refused before it is read, and a file that grows past it while
  being read is refused too.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_DATA_BYTES = 2 * 1024**3
MAX_TEXT_BYTES = 1024**2  # a plan or mapping is a few kilobytes; a MiB is a wrong file
DATA_LIMIT_VARIABLE = "ALLIANCE_MAX_DATA_MB"

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class InputFileError(OSError):
    """An input path that is not a regular file, or is too large; ``what`` and ``fix`` say so.

    An ``OSError``, so callers that already report unreadable files report this one too.
    """

    def __init__(self, path: Path, what: str, fix: str):
        super().__init__(errno.EINVAL, what, str(path))
        self.what = what
        self.fix = fix

    def __str__(self) -> str:
        return self.what


def data_limit() -> int:
    """The cap on a data file's size in bytes: 2 GiB, or ``ALLIANCE_MAX_DATA_MB`` MiB."""
    text = os.environ.get(DATA_LIMIT_VARIABLE, "").strip()
    if not text:
        return MAX_DATA_BYTES
    if not text.isascii() or not text.isdigit() or int(text) == 0:
        raise InputFileError(
            Path(DATA_LIMIT_VARIABLE),
            f"{DATA_LIMIT_VARIABLE}={text!r} is not a whole number of megabytes",
            f"set {DATA_LIMIT_VARIABLE} to a positive whole number such as 4096, or unset it",
        )
    return int(text) * 1024**2


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _too_large(path: Path, size: str, limit: int) -> InputFileError:
    fix = f"alliance reads at most {_size(limit)} from one file; check that this is the right file"
    if limit != MAX_TEXT_BYTES:
        fix += f", or set {DATA_LIMIT_VARIABLE} to a larger cap in MiB"
    return InputFileError(path, f"file is {size}, larger than alliance reads", fix)


def _check_mode(path: Path, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise InputFileError(
            path, "this is a folder, not a file", "give the path of the file inside it"
        )
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise InputFileError(
            path,
            f"this is {kind}, not a regular file; alliance reads only ordinary files",
            "save the content to a file and give that file's path",
        )


def check_input_file(path: Path, limit: int) -> None:
    """Refuse ``path`` unless it is a regular file of at most ``limit`` bytes; never opens it.

    Raises ``FileNotFoundError`` for a missing file (callers word that themselves) and
    :class:`InputFileError` for anything else that is wrong.
    """
    info = os.stat(path)
    _check_mode(Path(path), info.st_mode)
    if info.st_size > limit:
        raise _too_large(Path(path), _size(info.st_size), limit)


def read_input_bytes(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, refused (:class:`InputFileError`) above ``limit``."""
    path = Path(path)
    check_input_file(path, limit)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as handle:
        _check_mode(path, os.fstat(handle.fileno()).st_mode)
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise _too_large(path, f"over {_size(limit)}", limit)
    return data
