"""The bundled table of published alliance–outcome effects (:file:`literature.toml`).

Each entry keeps the number as published (``r_published``, its sign, where it is printed and
how it was verified); :attr:`Benchmark.r` is the same number in this project's convention
(positive = higher alliance with better outcome). An interval is drawn only when the source
gives one (a published 95 % CI) or gives the n behind a single correlation (then the Fisher-z
interval of r with n); otherwise the entry is a point.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from scipy import stats


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    label: str
    citation: str
    doi: str
    kind: str
    population: str
    measure: str
    r_published: float
    sign_as_published: str
    flip: bool
    location: str
    verified: str
    k: int | None = None
    n: int | None = None
    ci_low_published: float | None = None
    ci_high_published: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> _Entry:
        values = [self.r_published, self.ci_low_published, self.ci_high_published]
        if any(v is not None and not -1 < v < 1 for v in values):
            raise ValueError(f"{self.key}: correlations must lie strictly between -1 and 1")
        if (self.ci_low_published is None) != (self.ci_high_published is None):
            raise ValueError(f"{self.key}: give both ends of the CI or neither")
        if self.kind not in ("meta-analysis", "trial"):
            raise ValueError(f"{self.key}: kind is meta-analysis or trial")
        return self


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    effects: list[_Entry]


@dataclass(frozen=True)
class Benchmark:
    """One published effect, oriented to the project's sign convention."""

    entry: _Entry
    r: float
    ci_low: float | None
    ci_high: float | None
    interval_source: str  # "published 95% CI", "Fisher z with n", or "" (a point)

    @property
    def key(self) -> str:
        return self.entry.key

    @property
    def label(self) -> str:
        return self.entry.label

    @property
    def variance(self) -> float | None:
        """Fisher-z sampling variance implied by the interval, for --pool-literature."""
        if self.ci_low is None or self.ci_high is None:
            return None
        half = (math.atanh(self.ci_high) - math.atanh(self.ci_low)) / 2
        return float((half / stats.norm.isf(0.025)) ** 2)

    def record(self) -> dict[str, Any]:
        return {
            **self.entry.model_dump(),
            "r": self.r,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "interval": self.interval_source or "none (no verified interval or n)",
        }


def _orient(entry: _Entry) -> Benchmark:
    sign = -1.0 if entry.flip else 1.0
    r = sign * entry.r_published
    if entry.ci_low_published is not None and entry.ci_high_published is not None:
        ends = sorted((sign * entry.ci_low_published, sign * entry.ci_high_published))
        return Benchmark(entry, r, ends[0], ends[1], "published 95% CI")
    if entry.n is not None and entry.n > 3:
        half = stats.norm.isf(0.025) / math.sqrt(entry.n - 3)
        z = math.atanh(r)
        return Benchmark(entry, r, math.tanh(z - half), math.tanh(z + half), "Fisher z with n")
    return Benchmark(entry, r, None, None, "")


def load_literature() -> tuple[str, list[Benchmark]]:
    """The table's version and its entries, in the table's order."""
    text = resources.files("alliance.meta").joinpath("literature.toml").read_text("utf-8")
    table = _Table.model_validate(tomllib.loads(text))
    return table.version, [_orient(e) for e in table.effects]
