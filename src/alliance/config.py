"""TOML files: read robustly, and validated by pydantic models with errors turned into messages.

Every TOML file alliance reads (analysis plan, column mapping, instrument definitions, the
synthetic trial's calibration) goes through :func:`read_toml_file` and :func:`parse_toml`, so a
file that is missing, not a regular file, too large, binary, not UTF-8, not TOML or nested
absurdly deep is one ``PlanError`` naming the file, never a traceback (``tomllib`` recurses per
nesting level and would raise ``RecursionError`` on ``a = [[[[…``). Instrument definitions and
the calibration are then checked by a pydantic model; a bad file is a ``PlanError`` whose lines
name the entry (``outcomes.caps.post_sd: ...``), so the user can find it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from alliance.errors import PlanError
from alliance.input.opening import MAX_TEXT_BYTES, InputFileError, read_input_bytes

Model = TypeVar("Model", bound=BaseModel)

MAX_TOML_BYTES = MAX_TEXT_BYTES
# Plans nest four tables deep at most; anything far deeper is not a file a person wrote.
MAX_TOML_DEPTH = 32


def read_toml_file(path: Path, what: str, fix_missing: str) -> str:
    """The text of a TOML file, or a ``PlanError`` naming it.

    ``what`` names the file's role in messages ("plan", "mapping file"); ``fix_missing`` is the
    fix for a path that does not exist (which option to correct). The file is opened as every
    input is (:mod:`alliance.input.opening`): only a regular file, never blocking on a pipe.
    """
    path = Path(path)
    source = path.name
    try:
        data = read_input_bytes(path, MAX_TOML_BYTES)
    except FileNotFoundError:
        raise PlanError(
            source, [f"{what} does not exist (file not found). Fix: {fix_missing}"]
        ) from None
    except InputFileError as exc:
        raise PlanError(source, [f"{what}: {exc.what}. Fix: {exc.fix}"]) from None
    except OSError as exc:
        raise PlanError(
            source, [f"{what} cannot be read ({exc.strerror}). Fix: check its permissions"]
        ) from None
    return toml_text(data, source, what)


def toml_text(data: bytes, source: str, what: str) -> str:
    """``data`` decoded as a TOML file's text, or a ``PlanError`` saying why it cannot be."""
    if len(data) > MAX_TOML_BYTES:
        raise PlanError(
            source,
            [
                f"{what} is larger than {MAX_TOML_BYTES // (1 << 20)} MiB, far larger than any "
                "TOML file alliance reads. Fix: check that this is the right file"
            ],
        )
    if b"\x00" in data:
        raise PlanError(
            source,
            [f"{what} holds binary data, not TOML text. Fix: check that this is the right file"],
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PlanError(
            source,
            [
                f"line {line}: {what} is not UTF-8 text (byte 0x{data[exc.start]:02X}). "
                "Fix: save it as UTF-8 (any plain-text editor offers this)"
            ],
        ) from None


def parse_toml(text: str, source: str, fix: str) -> dict[str, Any]:
    """``text`` parsed as TOML; a syntax error, or nesting deeper than any real file, is a
    ``PlanError`` whose fix is ``fix`` (what the file should look like)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(source, [f"not valid TOML: {exc}. Fix: {fix}"]) from None
    except RecursionError:
        document = None
    if document is None or _depth(document) > MAX_TOML_DEPTH:
        raise PlanError(
            source,
            [
                f"arrays or tables are nested more than {MAX_TOML_DEPTH} levels deep, which no "
                "real file needs. Fix: check that this is the right file and remove the surplus "
                "brackets, braces or dotted key parts"
            ],
        )
    return document


def _depth(document: Any) -> int:
    """Nesting depth of parsed TOML, counted without recursion."""
    deepest = 0
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_TOML_DEPTH:
            break
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return deepest


def validation_messages(exc: ValidationError, root: str) -> list[str]:
    """One ``entry.path: what is wrong`` line per pydantic error."""
    # A validator's own ValueError arrives as "Value error, <its message>": keep the message.
    return [
        f"{'.'.join(str(p) for p in e['loc']) or root}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    ]


def parse_toml_model(model: type[Model], text: str, source: str, root: str) -> Model:
    """Parse ``text`` as TOML and validate it as ``model``; problems name ``source``."""
    document = parse_toml(text, source, f"correct the {root} file at that line")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise PlanError(
            source,
            [
                f"{m}. Fix: correct this entry of the {root} file"
                for m in validation_messages(exc, root)
            ],
        ) from None
