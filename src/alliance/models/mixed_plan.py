"""Plan sections for mixed models: ``[[longitudinal]]`` and ``[[moderation]]``.

``[[longitudinal]]`` declares a lagged within–between model over session-level scores: the
outcome at session j regressed on the alliance at session j − lag, split into the participant's
deviation from their own mean alliance (within) and that mean's deviation from the sample's
(between), with time and, optionally, the previous outcome; one random intercept per participant.

``[[moderation]]`` declares alliance × condition models over every episode with data (the
randomised MDMA phase, the randomised placebo phase, the open-label phase): one model per alliance
timepoint, ``post ~ baseline + alliance + mdma + alliance:mdma + (1 | participant)``.

Both are validated here on load (entries) and against the data (columns) before anything is fitted.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The lagged model needs at least two lagged rows per participant to separate within from
# between: with lag 1 that is three timepoints.
MIN_LONGITUDINAL_TIMEPOINTS = 3

DfMethod = Literal["satterthwaite", "kenward_roger"]
# Defaults of the plan key ``df_method``. A moderation model has one or two episodes per
# participant, and there Satterthwaite's test of alliance:mdma is liberal (lmerTest itself: 8.0 %
# at a nominal 5 % with 22 episodes) while Kenward–Roger stays near it (5.65 %; null
# simulations of tests/r/mixed_kr_null_level.R); a longitudinal model has several sessions per
# participant, where the two agree closely, so it keeps lmerTest's default.
DEFAULT_DF_METHOD_LONGITUDINAL: DfMethod = "satterthwaite"
DEFAULT_DF_METHOD_MODERATION: DfMethod = "kenward_roger"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _clean(value: str) -> str:
    return value.strip().lower()


class LongitudinalSpec(_Strict):
    """One lagged within–between model."""

    name: str = Field(min_length=1)
    outcome: str
    predictor: str
    timepoints: tuple[str, ...] = Field(min_length=1)
    lag: int = Field(default=1, ge=1, strict=True)
    previous_outcome: bool = Field(default=False, strict=True)
    df_method: DfMethod = DEFAULT_DF_METHOD_LONGITUDINAL

    @field_validator("outcome", "predictor")
    @classmethod
    def _lower(cls, value: str) -> str:
        return _clean(value)

    @field_validator("timepoints")
    @classmethod
    def _lower_all(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_clean(v) for v in values)

    def column(self, score: str, timepoint: str) -> str:
        return f"{score}__{timepoint}"

    @property
    def columns(self) -> list[str]:
        return [self.column(s, t) for s in (self.outcome, self.predictor) for t in self.timepoints]

    @property
    def term_names(self) -> tuple[str, ...]:
        terms = ("(Intercept)", "time", f"{self.predictor}_within", f"{self.predictor}_between")
        return (*terms, f"{self.outcome}_previous") if self.previous_outcome else terms


class ModerationSpec(_Strict):
    """Alliance × condition models, one per alliance timepoint."""

    outcome: str
    predictor: str
    timepoints: tuple[str, ...] = Field(min_length=1)
    baseline: str = "baseline"
    post: str = "post"
    df_method: DfMethod = DEFAULT_DF_METHOD_MODERATION

    @field_validator("outcome", "predictor", "baseline", "post")
    @classmethod
    def _lower(cls, value: str) -> str:
        return _clean(value)

    @field_validator("timepoints")
    @classmethod
    def _lower_all(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_clean(v) for v in values)

    def term_names(self) -> tuple[str, ...]:
        p = self.predictor
        return ("(Intercept)", "baseline", p, "mdma", f"{p}:mdma")

    def columns(self, timepoint: str) -> list[str]:
        return [
            f"{self.outcome}__{self.baseline}",
            f"{self.outcome}__{self.post}",
            f"{self.predictor}__{timepoint}",
        ]

    def key(self, timepoint: str) -> str:
        return f"{self.outcome}~{self.predictor}@{timepoint}×mdma"


def section_problems(
    longitudinal: tuple[LongitudinalSpec, ...], moderation: tuple[ModerationSpec, ...]
) -> list[str]:
    """What makes the mixed-model sections ill-posed though each entry is valid on its own."""
    messages = []
    names: dict[str, int] = {}
    for i, spec in enumerate(longitudinal):
        where = f"longitudinal.{i}"
        first = names.setdefault(spec.name.strip().lower(), i)
        if first != i:
            messages.append(
                f"{where}.name: '{spec.name}' is also the name of longitudinal.{first}. "
                "Fix: give each longitudinal model its own name"
            )
        T = len(spec.timepoints)
        if T < MIN_LONGITUDINAL_TIMEPOINTS:
            messages.append(
                f"{where}.timepoints: {T} timepoint(s) given; a lagged within–between model "
                f"needs at least {MIN_LONGITUDINAL_TIMEPOINTS} so that each participant has two "
                "or more lagged sessions. Fix: list every session the data hold, in order"
            )
        elif spec.lag >= T:
            messages.append(
                f"{where}.lag: lag {spec.lag} with {T} timepoints leaves no session whose "
                f"alliance {spec.lag} session(s) earlier was measured. Fix: use a lag below {T}"
            )
        if len(set(spec.timepoints)) != T:
            messages.append(
                f"{where}.timepoints: a timepoint is listed more than once "
                f"({', '.join(spec.timepoints)}). Fix: list each session once, in order"
            )
        if spec.outcome == spec.predictor:
            messages.append(
                f"{where}: outcome and predictor are both '{spec.outcome}'. Fix: predict the "
                "outcome from an alliance score (e.g. 'wai')"
            )
    seen: set[tuple[str, str, str]] = set()
    for i, mod in enumerate(moderation):
        where = f"moderation.{i}"
        if mod.outcome == mod.predictor:
            messages.append(
                f"{where}: outcome and predictor are both '{mod.outcome}'. Fix: predict the "
                "outcome from an alliance score (e.g. 'wai')"
            )
        if mod.baseline == mod.post:
            messages.append(
                f"{where}: baseline and post are both '{mod.post}'. Fix: give the baseline "
                "and post timepoints"
            )
        for t in mod.timepoints:
            if (mod.outcome, mod.predictor, t) in seen:
                messages.append(
                    f"{where}.timepoints: the model of '{mod.outcome}' on '{mod.predictor}' at "
                    f"'{t}' is declared twice. Fix: declare each model once"
                )
            seen.add((mod.outcome, mod.predictor, t))
    return messages


def section_data_problems(
    longitudinal: tuple[LongitudinalSpec, ...],
    moderation: tuple[ModerationSpec, ...],
    columns: set[str],
    known_scores: set[str],
) -> list[str]:
    """Scores the sections name that are unknown, and score columns the data lack."""
    messages = []
    named = [(f"longitudinal.{i}", s.outcome, s.predictor) for i, s in enumerate(longitudinal)]
    named += [(f"moderation.{i}", m.outcome, m.predictor) for i, m in enumerate(moderation)]
    for where, *scores in named:
        for score in scores:
            if score not in known_scores:
                messages.append(
                    f"{where}: score '{score}' is not a known score. "
                    f"Fix: use one of {', '.join(sorted(known_scores))}"
                )
    if messages:
        return messages
    needed = [(f"longitudinal.{i}", c) for i, s in enumerate(longitudinal) for c in s.columns]
    needed += [
        (f"moderation.{i}", c)
        for i, m in enumerate(moderation)
        for t in m.timepoints
        for c in m.columns(t)
    ]
    for where, column in needed:
        if column not in columns:
            score, timepoint = column.split("__", 1)
            present = sorted(c.split("__", 1)[1] for c in columns if c.startswith(score + "__"))
            messages.append(
                f"{where}: timepoint '{timepoint}' of score '{score}' is absent from the data "
                f"(timepoints present: {', '.join(present) or 'none'}). "
                "Fix: name a timepoint the data hold"
            )
    return list(dict.fromkeys(messages))
