"""The article's plan as a commented template (``alliance plan template``), and the list of
every key a plan accepts, which the template and the user guide must both explain."""

from __future__ import annotations

from importlib import resources
from typing import Any

from pydantic import BaseModel

from alliance.models.plan import AnalysisPlan


def template_text() -> str:
    """The article's plan with a comment on every key; it parses to the article's plan."""
    return resources.files("alliance.plans").joinpath("article_template.toml").read_text("utf-8")


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for inner in getattr(annotation, "__args__", ()):
        if (found := _model_of(inner)) is not None:
            return found
    return None


def plan_keys(model: type[BaseModel] = AnalysisPlan, prefix: str = "") -> list[str]:
    """Every key a plan accepts, dotted by table: ``alpha``, ``outcomes.score`` ..."""
    keys = []
    for name, info in model.model_fields.items():
        keys.append(prefix + name)
        if (inner := _model_of(info.annotation)) is not None:
            keys.extend(plan_keys(inner, f"{prefix}{name}."))
    return keys
