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

AdjustMethod = Literal["holm", "bonferroni", "hochberg", "bh", "by", "none"]
Family = Literal["all", "per_outcome"]
EpisodeRule = Literal["first_mdma", "randomized_only", "last_mdma"]
MissingData = Literal["complete_cases"]

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

    permutations: int = Field(default=10_000, ge=0)  # Freedman–Lane; 0 switches it off
    adjust_permutation_p: bool = False  # apply the plan's correction to permutation p too
    bootstrap: int = Field(default=10_000, ge=0)  # case resamples for BCa intervals; 0: off
    bayes_factor: bool = True  # JZS bf10 for adding the alliance term
    bf_rscale: float = Field(default=2**0.5 / 4, gt=0)  # BayesFactor's rscaleCont "medium"


class AnalysisPlan(_Strict):
    name: str = "custom plan"
    alpha: float = Field(default=0.05, gt=0, lt=1)
    episode_rule: EpisodeRule = "first_mdma"
    missing_data: MissingData = "complete_cases"
    covariates: tuple[str, ...] = ()
    outcomes: tuple[OutcomeSpec, ...] = Field(min_length=1)
    predictors: tuple[PredictorSpec, ...] = Field(min_length=1)
    multiplicity: MultiplicitySpec = MultiplicitySpec()
    inference: InferenceSpec = InferenceSpec()

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


def _validate(data: dict[str, Any], source: str) -> AnalysisPlan:
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
