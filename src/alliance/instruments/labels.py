"""Readable names for score and timepoint codes, read from data.

Score labels come from the instrument definitions (``definitions/*.toml``); timepoint labels and
the neutral names of scores that several instrument versions share come from ``labels.toml``.
Everything a reader sees (report, tables, flow diagram, ledger reasons) goes through these
functions, so a code such as ``wai``, ``s9`` or ``caps_b`` never reaches the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field

from alliance.config import parse_toml_model
from alliance.instruments.registry import load_instruments


class TimepointName(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    phrase: str | None = None  # default: "at <label>"
    short: str | None = None  # default: the label


class TimepointPattern(TimepointName):
    pattern: str = Field(pattern=r"\{n\}")


class LabelTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timepoints: dict[str, TimepointName] = Field(default_factory=dict)
    timepoint_patterns: tuple[TimepointPattern, ...] = ()
    scores: dict[str, str] = Field(default_factory=dict)


@cache
def label_table() -> LabelTable:
    text = resources.files("alliance.instruments").joinpath("labels.toml").read_text("utf-8")
    return parse_toml_model(LabelTable, text, "labels.toml", "labels")


def _timepoint_name(code: str) -> TimepointName:
    table = label_table()
    if code in table.timepoints:
        return table.timepoints[code]
    for entry in table.timepoint_patterns:
        regex = "^" + re.escape(entry.pattern).replace(r"\{n\}", r"(\d+)") + "$"
        match = re.match(regex, code)
        if match:
            n = match.group(1)
            phrase = entry.phrase.replace("{n}", n) if entry.phrase else None
            short = entry.short.replace("{n}", n) if entry.short else None
            return TimepointName(label=entry.label.replace("{n}", n), phrase=phrase, short=short)
    return TimepointName(label=code.replace("_", " "))


def timepoint_label(code: str) -> str:
    """``s4`` → ``"session 4"``, ``post`` → ``"post-treatment"``: a noun phrase."""
    return _timepoint_name(code).label


def timepoint_phrase(code: str) -> str:
    """The timepoint as a sentence places it: ``"at session 4"``, ``"before session 3 (…)"``."""
    name = _timepoint_name(code)
    return name.phrase or f"at {name.label}"


def timepoint_short(code: str) -> str:
    """The timepoint where space is tight (axis ticks): ``pre_s3`` → ``"before session 3"``."""
    name = _timepoint_name(code)
    return name.short or name.label


@cache
def _definition_labels(codes: frozenset[str] | None) -> dict[str, set[str]]:
    labels: dict[str, set[str]] = {}
    for code, inst in load_instruments().items():
        if codes is not None and code not in codes:
            continue
        for score in inst.scores:
            labels.setdefault(score.name, set()).add(score.label)
        if inst.symptom_count is not None:
            labels.setdefault(inst.symptom_count.name, set()).add(inst.symptom_count.label)
    return labels


def score_label(name: str, instruments: Iterable[str] | None = None) -> str:
    """A score's label from its instrument definition.

    ``instruments``: the instrument codes present in the data (item-level input), which settle
    a name several definitions share; without them such a name gets its neutral label.
    """
    codes = None if instruments is None else frozenset(str(c) for c in instruments)
    found = _definition_labels(codes).get(name, set())
    if len(found) == 1:
        return next(iter(found))
    return label_table().scores.get(name, name)


def column_label(column: str, scores: Mapping[str, str] | None = None) -> str:
    """``wai__s9`` → ``"WAI total at session 9"`` (``scores`` may name scores, e.g. the plan)."""
    score, _, timepoint = column.partition("__")
    label = (scores or {}).get(score) or score_label(score)
    return f"{label} {timepoint_phrase(timepoint)}" if timepoint else label


def missing_text(column: str, scores: Mapping[str, str] | None = None) -> str:
    """Why a model left a participant out: ``"WAI total missing at session 9"``."""
    score, _, timepoint = column.partition("__")
    label = (scores or {}).get(score) or score_label(score)
    return f"{label} missing {timepoint_phrase(timepoint)}" if timepoint else f"{label} missing"
