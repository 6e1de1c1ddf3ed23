"""TOML files validated by pydantic models: one place that turns their errors into messages.

Instrument definitions and the synthetic trial's calibration are both TOML data checked by a
pydantic model; a bad file is a ``PlanError`` whose lines name the entry (``outcomes.caps.
post_sd: ...``), so the user can find it.
"""

from __future__ import annotations

import tomllib
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from alliance.errors import PlanError

Model = TypeVar("Model", bound=BaseModel)


def validation_messages(exc: ValidationError, root: str) -> list[str]:
    """One ``entry.path: what is wrong`` line per pydantic error."""
    # A validator's own ValueError arrives as "Value error, <its message>": keep the message.
    return [
        f"{'.'.join(str(p) for p in e['loc']) or root}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    ]


def parse_toml_model(model: type[Model], text: str, source: str, root: str) -> Model:
    """Parse ``text`` as TOML and validate it as ``model``; problems name ``source``."""
    try:
        return model.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(source, [f"not valid TOML: {exc}"]) from None
    except ValidationError as exc:
        raise PlanError(source, validation_messages(exc, root)) from None
