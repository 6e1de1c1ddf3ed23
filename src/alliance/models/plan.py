"""The declared analysis plan: which models to fit and how to correct for multiplicity.

A plan is a TOML file validated on load. Without one, ``alliance analyze`` runs the article's
plan (``alliance/plans/article.toml``): for CAPS and IES-R totals, ``post ~ baseline + wai_t``
at each alliance timepoint, Holm over all six alliance tests. Everything a user may want to vary
(outcomes, subscales, timepoints, covariates, correction) is a plan entry, not a code change.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alliance.config import parse_toml, read_toml_file
from alliance.errors import PlanError
from alliance.limits import (
    MAX_ALPHA,
    MAX_BF_RSCALE,
    MAX_IMPUTATIONS,
    MAX_ITERATIONS,
    MAX_RESAMPLES,
    MIN_ALPHA,
)
from alliance.models.mixed_plan import (
    LongitudinalSpec,
    ModerationSpec,
    section_data_problems,
    section_problems,
)

AdjustMethod = Literal["holm", "bonferroni", "hochberg", "bh", "by", "none"]
Family = Literal["all", "per_outcome"]
EpisodeRule = Literal["first_mdma", "randomized_only", "last_mdma"]
MissingData = Literal["complete_cases", "multiple_imputation"]

ADJUST_METHODS: tuple[str, ...] = ("holm", "bonferroni", "hochberg", "bh", "by", "none")
FAMILIES: tuple[str, ...] = ("all", "per_outcome")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OutcomeSpec(_Strict):
    """An outcome score, modelled at ``post`` and adjusted for itself at ``baseline``."""

    score: str
    label: str | None = None
    baseline: str = "baseline"
    post: str = "post"

    @field_validator("score", "baseline", "post")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


class PredictorSpec(_Strict):
    """An alliance score and the timepoints at which it enters a model, one model each."""

    score: str
    label: str | None = None
    timepoints: tuple[str, ...] = Field(min_length=1)

    @field_validator("score")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("timepoints")
    @classmethod
    def _lower_all(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in values)


class MultiplicitySpec(_Strict):
    method: AdjustMethod = "holm"
    family: Family = "all"


class InferenceSpec(_Strict):
    """Robust companions to the classical OLS test of each alliance term."""

    # Numbers are strict: TOML has numbers, so "1_000" or true where a count belongs is a mistake.
    permutations: int = Field(default=10_000, ge=0, le=MAX_RESAMPLES, strict=True)  # 0: off
    adjust_permutation_p: bool = Field(default=False, strict=True)  # correct permutation p too
    bootstrap: int = Field(default=10_000, ge=0, le=MAX_RESAMPLES, strict=True)  # BCa; 0: off
    bayes_factor: bool = Field(default=True, strict=True)  # JZS bf10 for adding the alliance term
    # BayesFactor's rscaleCont "medium"; bounded so r²N/2 stays a modest finite number.
    bf_rscale: float = Field(
        default=2**0.5 / 4, gt=0, le=MAX_BF_RSCALE, strict=True, allow_inf_nan=False
    )


class AnalysisPlan(_Strict):
    name: str = "custom plan"
    alpha: float = Field(default=0.05, ge=MIN_ALPHA, le=MAX_ALPHA, strict=True, allow_inf_nan=False)
    episode_rule: EpisodeRule = "first_mdma"
    missing_data: MissingData = "complete_cases"
    # Multiple imputation (docs/missing-data.md): completed datasets and rounds of the chained equations.
    imputations: int = Field(default=50, ge=2, le=MAX_IMPUTATIONS, strict=True)
    iterations: int = Field(default=10, ge=1, le=MAX_ITERATIONS, strict=True)
    covariates: tuple[str, ...] = ()
    # The article's models: empty in a plan that holds only mixed-model sections.
    outcomes: tuple[OutcomeSpec, ...] = ()
    predictors: tuple[PredictorSpec, ...] = ()
    multiplicity: MultiplicitySpec = MultiplicitySpec()
    inference: InferenceSpec = InferenceSpec()
    longitudinal: tuple[LongitudinalSpec, ...] = ()
    moderation: tuple[ModerationSpec, ...] = ()

    @property
    def has_article_models(self) -> bool:
        return bool(self.outcomes and self.predictors)

    @field_validator("covariates")
    @classmethod
    def _lower_covariates(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in values)

    def model_specs(self) -> list[ModelSpec]:
        """Every model the plan declares, in a stable order: outcome, predictor, timepoint."""
        return [
            ModelSpec(outcome=o, predictor=p, timepoint=t, covariates=self.covariates)
            for o in self.outcomes
            for p in self.predictors
            for t in p.timepoints
        ]

    def with_overrides(
        self,
        adjust: str | None = None,
        family: str | None = None,
        permutations: int | None = None,
        bootstrap: int | None = None,
        missing_data: str | None = None,
        imputations: int | None = None,
    ) -> AnalysisPlan:
        """The plan with command-line overrides applied (validated like the file itself)."""
        data = self.model_dump()
        if adjust is not None:
            data["multiplicity"]["method"] = adjust
        if family is not None:
            data["multiplicity"]["family"] = family
        if permutations is not None:
            data["inference"]["permutations"] = permutations
        if bootstrap is not None:
            data["inference"]["bootstrap"] = bootstrap
        if missing_data is not None:
            data["missing_data"] = missing_data
        if imputations is not None:
            data["imputations"] = imputations
        return _validate(data, "command line")


@dataclass(frozen=True)
class ModelSpec:
    """One regression: ``outcome@post ~ outcome@baseline + predictor@timepoint + covariates``."""

    outcome: OutcomeSpec
    predictor: PredictorSpec
    timepoint: str
    covariates: tuple[str, ...]

    @property
    def response_column(self) -> str:
        return f"{self.outcome.score}__{self.outcome.post}"

    @property
    def baseline_column(self) -> str:
        return f"{self.outcome.score}__{self.outcome.baseline}"

    @property
    def predictor_column(self) -> str:
        return f"{self.predictor.score}__{self.timepoint}"

    @property
    def key(self) -> str:
        return f"{self.outcome.score}~{self.predictor.score}@{self.timepoint}"


_EXAMPLE = "every report.html shows its whole plan under Provenance, a template to edit"


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys a plan allows in the table holding the entry at ``loc``."""
    model: Any = AnalysisPlan
    for part in loc[:-1]:
        if isinstance(part, int):
            continue  # an entry of an array of tables: same keys as its siblings
        annotation = model.model_fields[part].annotation
        inner = getattr(annotation, "__args__", (annotation,))[0]
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return []
        model = inner
    return list(model.model_fields)


def _problem(err: Any) -> str:
    """One pydantic error as a line for the user: where, what is wrong, how to fix it."""
    loc = tuple(err["loc"])
    where = ".".join(str(part) for part in loc) or "plan"
    kind = err["type"]
    if kind == "missing":
        return f"{where}: required, but the plan does not give it. Fix: add it ({_EXAMPLE})"
    if kind == "extra_forbidden":
        allowed = ", ".join(_keys_at(loc))
        return (
            f"{where}: not a key a plan knows (found {err.get('input')!r}). Fix: correct its "
            f"spelling or remove it (keys allowed here: {allowed})"
        )
    if kind == "too_short":
        return f"{where}: is empty (found {err.get('input')!r}). Fix: give at least one entry"
    if kind == "literal_error":
        return f"{where}: {err['msg']} (found {err.get('input')!r}). Fix: use one of those values"
    return f"{where}: {err['msg']} (found {err.get('input')!r}). Fix: correct the value"


def _repeated(values: list[str]) -> dict[str, list[int]]:
    """Values given more than once, with the positions of every copy."""
    where: dict[str, list[int]] = {}
    for i, value in enumerate(values):
        where.setdefault(value, []).append(i)
    return {v: positions for v, positions in where.items() if len(positions) > 1}


def _positions(positions: list[int]) -> str:
    return ", ".join(str(i) for i in positions)


def model_problems(plan: AnalysisPlan) -> list[str]:
    """What makes the plan's models ill-posed, though every entry is valid on its own.

    - a model declared twice (same outcome, predictor and timepoint once case and surrounding
      spaces are ignored) would be fitted repeatedly and counted as separate tests by the
      multiplicity correction;
    - an outcome that is also a predictor, an outcome whose baseline is its post timepoint, or a
      covariate that is a model's outcome, baseline or predictor puts one variable on both sides
      of a model, or twice on one side.
    """
    messages = _section_presence(plan) + section_problems(plan.longitudinal, plan.moderation)
    again = "would fit the same models more than once and count them as separate tests"
    for score, at in _repeated([o.score for o in plan.outcomes]).items():
        messages.append(
            f"outcomes: '{score}' is listed {len(at)} times (entries {_positions(at)}; case and "
            f"spaces are ignored), which {again}. Fix: list each outcome once"
        )
    for i, outcome in enumerate(plan.outcomes):
        if outcome.baseline == outcome.post:
            messages.append(
                f"outcomes.{i}: baseline and post are both '{outcome.post}', so the outcome "
                "would be its own covariate. Fix: give the baseline and post timepoints"
            )
    for i, predictor in enumerate(plan.predictors):
        for timepoint, at in _repeated(list(predictor.timepoints)).items():
            messages.append(
                f"predictors.{i}.timepoints: '{timepoint}' is listed {len(at)} times (entries "
                f"{_positions(at)}; case and spaces are ignored), which {again}. Fix: list each "
                "timepoint once"
            )
    seen: dict[tuple[str, str], int] = {}
    for i, predictor in enumerate(plan.predictors):
        for timepoint in dict.fromkeys(predictor.timepoints):
            first = seen.setdefault((predictor.score, timepoint), i)
            if first != i:
                messages.append(
                    f"predictors.{i}: '{predictor.score}' at '{timepoint}' is already in "
                    f"predictors.{first}, which {again}. Fix: list each timepoint of a "
                    "predictor once"
                )
    outcomes = {o.score for o in plan.outcomes}
    for i, predictor in enumerate(plan.predictors):
        if predictor.score in outcomes:
            messages.append(
                f"predictors.{i}.score: '{predictor.score}' is also an outcome of the plan, so "
                "a model would predict a score from itself. Fix: predict the outcomes from an "
                "alliance score (e.g. 'wai')"
            )
    for covariate, at in _repeated(list(plan.covariates)).items():
        messages.append(
            f"covariates: '{covariate}' is listed {len(at)} times (entries {_positions(at)}). "
            "Fix: list each covariate once"
        )
    predictors = {p.score for p in plan.predictors}
    for covariate in dict.fromkeys(plan.covariates):
        role = "an outcome" if covariate in outcomes else "a predictor"
        if covariate in outcomes | predictors:
            messages.append(
                f"covariates: '{covariate}' is {role} of the plan. Fix: remove it from the "
                "covariates (each model already adjusts for its outcome's baseline)"
            )
            continue
        clashes = [
            (m.key, what)
            for m in plan.model_specs()
            for what, column in (
                ("outcome", m.response_column),
                ("baseline", m.baseline_column),
                ("predictor", m.predictor_column),
            )
            if covariate == column
        ]
        if clashes:
            named = "; ".join(f"the {what} of model {key}" for key, what in clashes[:3])
            more = f" and {len(clashes) - 3} more" if len(clashes) > 3 else ""
            messages.append(
                f"covariates: '{covariate}' is {named}{more}, so that variable would enter the "
                "model twice. Fix: remove it from the covariates"
            )
    return messages


def _section_presence(plan: AnalysisPlan) -> list[str]:
    """Outcomes and predictors come together, and a plan declares at least one model."""
    fix = f"Fix: add it ({_EXAMPLE})"
    if plan.outcomes and not plan.predictors:
        return [f"predictors: required when outcomes are given, but the plan has none. {fix}"]
    if plan.predictors and not plan.outcomes:
        return [f"outcomes: required when predictors are given, but the plan has none. {fix}"]
    if not (plan.outcomes or plan.longitudinal or plan.moderation):
        return [
            "outcomes: required, but the plan declares no model (no [[outcomes]] with "
            f"[[predictors]], no [[longitudinal]], no [[moderation]]). {fix}"
        ]
    return []


def _validate(data: dict[str, Any], source: str) -> AnalysisPlan:
    plan = _validate_entries(data, source)
    if problems := model_problems(plan):
        raise PlanError(source, problems)
    return plan


def _validate_entries(data: dict[str, Any], source: str) -> AnalysisPlan:
    try:
        return AnalysisPlan.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # pydantic reports an array whose every entry failed as also too short: the entries'
        # own errors say what is wrong, so the echo would only confuse.
        failed_inside = {tuple(e["loc"][:-2]) for e in errors if len(e["loc"]) >= 2}
        shown = [
            e for e in errors if not (e["type"] == "too_short" and tuple(e["loc"]) in failed_inside)
        ]
        raise PlanError(source, [_problem(err) for err in shown]) from None


def load_plan(path: Path | None = None) -> AnalysisPlan:
    """Read and validate a plan file; ``None`` gives the article's plan."""
    if path is None:
        text = resources.files("alliance.plans").joinpath("article.toml").read_text("utf-8")
        source = "article plan"
    else:
        source = Path(path).name
        text = read_toml_file(Path(path), "plan file", "check the path given to --plan")
    return _validate(parse_toml(text, source, "correct the syntax at that line"), source)


def check_plan_against_data(
    plan: AnalysisPlan, columns: set[str], known_scores: set[str], source: str = "plan"
) -> None:
    """Every score, timepoint and covariate the plan names must exist; report all that do not."""
    messages = []
    named = [("outcome", o.score) for o in plan.outcomes]
    named += [("predictor", p.score) for p in plan.predictors]
    for role, score in named:
        if score not in known_scores:
            messages.append(
                f"{role} score '{score}' is not a known score. "
                f"Fix: use one of {', '.join(sorted(known_scores))}"
            )
    messages += section_data_problems(plan.longitudinal, plan.moderation, columns, known_scores)
    if messages:
        raise PlanError(source, messages)
    for model in plan.model_specs():
        for column in (model.response_column, model.baseline_column, model.predictor_column):
            score, timepoint = column.split("__", 1)
            if column not in columns:
                present = sorted(c.split("__", 1)[1] for c in columns if c.startswith(score + "__"))
                messages.append(
                    f"timepoint '{timepoint}' of score '{score}' is absent from the data "
                    f"(timepoints present: {', '.join(present) or 'none'}). "
                    "Fix: name a timepoint the data hold"
                )
    for covariate in plan.covariates:
        if covariate not in columns and covariate not in ("phase", "episode_phase"):
            messages.append(
                f"covariate '{covariate}' is not a column of the data. "
                "Fix: add the column to the data or remove it from the plan"
            )
    if messages:
        raise PlanError(source, sorted(set(messages), key=messages.index))
