"""Instrument definitions: data files validated on load, read by one scorer.

Each instrument is a TOML file in ``definitions/`` holding its items, response range,
reverse-keyed items, scoring units (CAPS-IV: frequency + intensity per symptom), scores
(total and subscales, sum or item mean), missing-item rule, symptom-count rule and source
citation. Code holds no per-instrument branches: a new instrument is a new file.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alliance.config import parse_toml_model


class ScoreDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    label: str
    items: tuple[str, ...] = Field(min_length=1)  # scoring units (items, or CAPS-IV symptoms)
    method: Literal["sum", "mean"] = "sum"


class SymptomCount(BaseModel):
    """Count of symptoms present: every threshold must be met.

    A threshold keyed ``severity`` applies to the unit's score; any other key is the suffix of
    a component item (CAPS-IV ``f`` and ``i``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    label: str
    thresholds: dict[str, float] = Field(min_length=1)


class Instrument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    name: str
    version: str
    citation: str
    respondent: Literal["self", "clinician"]
    response_min: float
    response_max: float
    items: tuple[str, ...] = Field(min_length=1)
    reverse_keyed: tuple[str, ...] = ()
    min_fraction_present: float = Field(gt=0, le=1)
    units: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    symptom_count: SymptomCount | None = None
    scores: tuple[ScoreDefinition, ...] = Field(min_length=1)

    @property
    def item_codes(self) -> tuple[str, ...]:
        """Raw item codes as they appear in data (lower-case)."""
        return self.items

    @property
    def unit_codes(self) -> tuple[str, ...]:
        """Scoring units: the symptoms of a multi-part item, else the items themselves."""
        return tuple(self.units) if self.units else self.items

    @property
    def score_names(self) -> tuple[str, ...]:
        names = tuple(s.name for s in self.scores)
        return names + ((self.symptom_count.name,) if self.symptom_count else ())

    def score_ranges(self) -> dict[str, tuple[float, float]]:
        """The range each score can take, from the response range and the items it counts.

        A unit of several parts (CAPS-IV: frequency + intensity) spans the parts' summed range;
        a sum spans its units' summed range (prorating keeps it inside: it scales the mean of
        the units present); a mean, its units' range; a symptom count, 0 to its units.
        Reverse keying reflects within the response range, so it changes no range.
        """
        parts = {u: len(self.units.get(u, (u,))) for u in self.unit_codes}
        low, high = self.response_min, self.response_max
        ranges: dict[str, tuple[float, float]] = {}
        for score in self.scores:
            counts = [parts[u] for u in score.items]
            if score.method == "sum":
                ranges[score.name] = (low * sum(counts), high * sum(counts))
            else:
                ranges[score.name] = (low * min(counts), high * max(counts))
        if self.symptom_count is not None:
            ranges[self.symptom_count.name] = (0.0, float(len(self.unit_codes)))
        return ranges

    @model_validator(mode="after")
    def _consistent(self) -> Instrument:
        problems = []
        if self.response_min >= self.response_max:
            problems.append("response_min must be below response_max")
        if len(set(self.items)) != len(self.items):
            problems.append("items repeat")
        if unknown := set(self.reverse_keyed) - set(self.items):
            problems.append(f"reverse_keyed names items not in items: {sorted(unknown)}")
        for unit, parts in self.units.items():
            if unknown := set(parts) - set(self.items):
                problems.append(f"unit {unit!r} names items not in items: {sorted(unknown)}")
        for score in self.scores:
            if unknown := set(score.items) - set(self.unit_codes):
                problems.append(f"score {score.name!r} names unknown items: {sorted(unknown)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def parse_instrument(text: str, source: str) -> Instrument:
    """Validate one definition; errors name the file and the field."""
    return parse_toml_model(Instrument, text, source, "definition")


@cache
def load_instruments() -> dict[str, Instrument]:
    """Every bundled instrument definition, keyed by upper-case code."""
    folder = resources.files("alliance.instruments").joinpath("definitions")
    instruments = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            inst = parse_instrument(entry.read_text("utf-8"), entry.name)
            instruments[inst.code] = inst
    return instruments
