"""The generator's calibration as validated data: published targets and declared assumptions.

The bundled ``calibration.toml`` holds the values and their sources; a user may pass their own
file (same keys) or override the design and effects from the command line. Validation names the
entry that is wrong, as the analysis plan's does.
"""

from __future__ import annotations

import math
from importlib import resources
from itertools import combinations
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alliance.config import parse_toml_model, read_toml_file

Fraction = Field(ge=0.0, lt=1.0)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Design(_Strict):
    n: int = Field(ge=2)
    arms: tuple[float, float]  # MDMA : placebo allocation ratio
    crossover: float = Field(ge=0.0, le=1.0)  # share of placebo participants who cross over
    response_fall: float = Field(gt=0.0, lt=1.0)  # a response is a fall of at least this share
    missing_items: float = Fraction
    missing_visits: float = Fraction

    @model_validator(mode="after")
    def _arms_positive(self) -> Self:
        if not all(math.isfinite(a) and a >= 0 for a in self.arms) or sum(self.arms) <= 0:
            raise ValueError("arms must be two finite, non-negative weights, not both zero")
        return self


class ArmPost(_Strict):
    """How post severity relates to baseline after one kind of treatment phase.

    Either ``post_mean`` and ``post_sd`` (targets the generator solves for) or
    ``responder_ratio`` and ``concentration`` (declared directly) must be given.
    """

    response: float = Field(gt=0.0, lt=1.0)
    nonresponder_ratio: float = Field(gt=0.0)
    post_mean: float | None = Field(default=None, gt=0.0)
    post_sd: float | None = Field(default=None, gt=0.0)
    responder_ratio: float | None = Field(default=None, gt=0.0, lt=1.0)
    concentration: float | None = Field(default=None, gt=0.0)

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        targets = self.post_mean is not None and self.post_sd is not None
        declared = self.responder_ratio is not None and self.concentration is not None
        if targets == declared:
            raise ValueError(
                "give either post_mean and post_sd, or responder_ratio and concentration"
            )
        return self


class OutcomeCalibration(_Strict):
    instrument: str
    baseline_mean: float
    baseline_sd: float = Field(gt=0.0)
    baseline_min: float
    baseline_max: float
    mdma: ArmPost
    placebo: ArmPost

    @model_validator(mode="after")
    def _range(self) -> Self:
        if not self.baseline_min < self.baseline_max:
            raise ValueError("baseline_min must be below baseline_max")
        return self


class Correlations(_Strict):
    baselines: float = Field(gt=-1.0, lt=1.0)
    changes: float = Field(gt=-1.0, lt=1.0)


class AllianceCalibration(_Strict):
    instrument: str
    timepoints: tuple[str, ...] = Field(min_length=1)
    mean: tuple[float, ...]
    sd: tuple[float, ...]
    correlation: tuple[float, ...]  # pairs in order (1,2), (1,3), …, (2,3), …

    @model_validator(mode="after")
    def _lengths(self) -> Self:
        k = len(self.timepoints)
        if len(self.mean) != k or len(self.sd) != k:
            raise ValueError(f"mean and sd need one value per timepoint ({k})")
        pairs = len(list(combinations(range(k), 2)))
        if len(self.correlation) != pairs:
            raise ValueError(f"correlation needs {pairs} values, one per pair of timepoints")
        if min(self.sd) <= 0 or any(abs(r) >= 1 for r in self.correlation):
            raise ValueError("sd must be positive and correlations strictly between -1 and 1")
        return self


class SessionsCalibration(_Strict):
    """Session-by-session alliance and symptoms in every phase (``alliance simulate --sessions``).

    Alliance at session j = the session's mean + the participant's level + a within-person
    deviation; symptoms at session j follow the phase's course (from the anchor outcome's
    baseline to its post score, as shares of the scales' ranges) plus the lagged within-person
    effect of the previous session's deviation, the between-person effect of the level, and noise.
    """

    count: int = Field(ge=3, le=60)  # sessions per phase
    timepoint: str = Field(pattern=r"^[a-z][a-z0-9_]*\{n\}[a-z0-9_]*$")  # e.g. post_s{n}
    alliance_instrument: str
    outcome_instrument: str
    anchor: str  # the outcome (of [outcomes]) whose baseline and post set the symptoms' course
    alliance_first_mean: float
    alliance_last_mean: float
    alliance_between_sd: float = Field(ge=0.0)
    alliance_within_sd: float = Field(gt=0.0)
    within_effect: float  # outcome points per alliance point, the previous session's deviation
    between_effect: float  # outcome points per alliance point of the participant's level
    residual_sd: float = Field(ge=0.0)

    def timepoints(self) -> tuple[str, ...]:
        return tuple(self.timepoint.replace("{n}", str(j)) for j in range(1, self.count + 1))


class Calibration(_Strict):
    design: Design
    outcomes: dict[str, OutcomeCalibration] = Field(min_length=1)
    correlations: Correlations
    alliance: AllianceCalibration
    partial_r: dict[str, dict[str, float]]
    sessions: SessionsCalibration | None = None

    @model_validator(mode="after")
    def _effects_cover_models(self) -> Self:
        problems = []
        for outcome in self.outcomes:
            given = self.partial_r.get(outcome, {})
            for timepoint in self.alliance.timepoints:
                value = given.get(timepoint)
                if value is None:
                    problems.append(f"partial_r.{outcome}.{timepoint} is missing")
                elif not -1.0 < value < 1.0:
                    problems.append(f"partial_r.{outcome}.{timepoint} must lie in (-1, 1)")
        for outcome, values in self.partial_r.items():
            if outcome not in self.outcomes:
                problems.append(f"partial_r.{outcome}: no such outcome in [outcomes]")
            for timepoint in values:
                if timepoint not in self.alliance.timepoints:
                    problems.append(f"partial_r.{outcome}.{timepoint}: not an alliance timepoint")
        if self.sessions is not None:
            if self.sessions.anchor not in self.outcomes:
                problems.append(
                    f"sessions.anchor: no outcome {self.sessions.anchor!r} in [outcomes]"
                )
            clash = set(self.sessions.timepoints()) & {
                *self.alliance.timepoints,
                "baseline",
                "post",
            }
            if clash:
                problems.append(
                    f"sessions.timepoint: {', '.join(sorted(clash))} is already a timepoint of "
                    "the article's assessments"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self


def parse_calibration(text: str, source: str) -> Calibration:
    return parse_toml_model(Calibration, text, source, "calibration")


def load_calibration(path: Path | None = None) -> Calibration:
    """The bundled calibration, or a user's file with the same keys."""
    if path is None:
        text = resources.files("alliance.synthetic").joinpath("calibration.toml").read_text("utf-8")
        return parse_calibration(text, "calibration.toml")
    path = Path(path)
    text = read_toml_file(path, "calibration file", "check the path given to --calibration")
    return parse_calibration(text, path.name)
