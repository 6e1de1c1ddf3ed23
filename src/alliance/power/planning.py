"""Planning a replication from a pilot's ``results.json``: four effect sizes, four sample sizes.

For each model of the pilot: the observed partial r of the alliance term; the limit of its 95 %
confidence interval (Fisher's z, SE 1/√(n − 3 − k)) nearer zero, a cautious value; the
winner's-curse-corrected value (:mod:`alliance.power.winners_curse`); and the meta-analytic
benchmark r = .28 (Flückiger, Del Re, Wampold & Horvath, 2018, 295 studies of adult
psychotherapy), signed as better alliance with lower severity (every outcome alliance models is
a severity score). For each, the N a replication needs for the target power of the same model
with random predictors (:func:`alliance.power.analytic.random_design_power`).

Reference: Flückiger, C., Del Re, A. C., Wampold, B. E., & Horvath, A. O. (2018). The alliance in
adult psychotherapy: A meta-analytic synthesis. *Psychotherapy*, 55(4), 316–340.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from scipy import stats

from alliance.errors import AllianceError
from alliance.limits import MAX_N
from alliance.power.analytic import critical_partial_r, random_design_power, required_n
from alliance.power.winners_curse import conditional_mle, fisher_ci

BENCHMARK_R = 0.28  # Flückiger et al. (2018), r = .278 over 295 studies
# Outcomes are severity scores (CAPS, IES-R and their clusters): a better alliance predicting
# improvement means a negative partial r.
BENCHMARK_SIGN = -1.0
RESULTS_SCHEMA = "1"


def _fail(path: Path, where: str, what: str, fix: str) -> AllianceError:
    return AllianceError(f"{path} ({where}): {what}. Fix: {fix}")


def read_results(path: Path) -> dict[str, Any]:
    """The results.json document, checked for what planning needs (AllianceError if not)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(path, "--from-results", "no such file", "give the results.json that "
                    "alliance analyze wrote") from None  # fmt: skip
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, "--from-results", f"cannot be read ({exc})",
                    "give a readable results.json") from None  # fmt: skip
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(path, f"line {exc.lineno}, column {exc.colno}", f"not valid JSON ({exc.msg})",
                    "give the results.json that alliance analyze wrote") from None  # fmt: skip
    if not isinstance(document, dict):
        raise _fail(path, "top level", "not a JSON object", "give a results.json")
    version = document.get("schema_version")
    if version != RESULTS_SCHEMA:
        raise _fail(
            path,
            "schema_version",
            f"schema version {version!r}; this alliance reads version {RESULTS_SCHEMA!r}",
            "re-run alliance analyze with this version of alliance to write it again",
        )
    models = document.get("models")
    if not isinstance(models, list) or not models:
        raise _fail(path, "models", "missing or empty", "give a results.json with models")
    for i, model in enumerate(models):
        if not isinstance(model, dict):
            raise _fail(path, f"models[{i}]", "not an object", "give an unedited results.json")
        for key in ("outcome", "predictor", "timepoint"):
            if not isinstance(model.get(key), str):
                raise _fail(path, f"models[{i}].{key}", "missing or not text",
                            "give an unedited results.json")  # fmt: skip
        n = model.get("n")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise _fail(path, f"models[{i}].n", f"{n!r} is not a count",
                        "give an unedited results.json")  # fmt: skip
        r = model.get("partial_r")
        if r is not None and not (isinstance(r, int | float) and -1 < r < 1):
            raise _fail(path, f"models[{i}].partial_r", f"{r!r} is not a correlation in (-1, 1)",
                        "give an unedited results.json")  # fmt: skip
        terms = model.get("terms")
        if not isinstance(terms, list) or not all(
            isinstance(t, dict) and isinstance(t.get("name"), str) for t in terms
        ):
            raise _fail(path, f"models[{i}].terms", "missing or malformed",
                        "give an unedited results.json")  # fmt: skip
    plan = document.get("plan")
    alpha = plan.get("alpha") if isinstance(plan, dict) else None
    if not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise _fail(path, "plan.alpha", f"{alpha!r} is not a significance level",
                    "give an unedited results.json")  # fmt: skip
    return document


def covariate_count(model: dict[str, Any]) -> int:
    """Covariates of the alliance term: every term but the intercept and the predictor."""
    names = [t["name"] for t in model["terms"]]
    return sum(1 for name in names if name not in ("intercept", "(Intercept)", model["predictor"]))


def _needed(r: float | None, k: int, alpha: float, target: float) -> int | None:
    if r is None or r == 0 or not -1 < r < 1:
        return None
    return required_n(
        lambda n: random_design_power(r, n, k, alpha), target, k, fisher_guess(r, k, alpha, target)
    )


def fisher_guess(r: float, k: int, alpha: float, target: float) -> int:
    """The N of Fisher's z approximation, ((z₁₋α/₂ + z_power) / atanh|r|)² + 3 + k: within a few
    participants of the exact N, so the search starts next to it."""
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(target)
    guess = (z / math.atanh(abs(r))) ** 2 + 3 + k
    return int(min(max(math.ceil(guess), k + 3), MAX_N))


def planning_rows(document: dict[str, Any], alpha: float, target: float) -> list[dict[str, Any]]:
    """One planning row per model of the pilot (module docstring); N at ``alpha``, ``target``."""
    pilot_alpha = float(document["plan"]["alpha"])
    rows = []
    for model in document["models"]:
        k = covariate_count(model)
        n = int(model["n"])
        r = model.get("partial_r")
        row: dict[str, Any] = {
            "outcome": model["outcome"],
            "predictor": model["predictor"],
            "timepoint": model["timepoint"],
            "n": n,
            "covariates": k,
            "partial_r": r,
            "p": _alliance_p(model),
            "ci_low": None,
            "ci_high": None,
            "ci_lower_bound": None,
            "significant": None,
            "corrected_partial_r": None,
            "benchmark_partial_r": BENCHMARK_SIGN * BENCHMARK_R,
            "alpha": alpha,
            "target_power": target,
        }
        usable = r is not None and n - 3 - k >= 1
        if usable:
            low, high = fisher_ci(r, n, k)
            bound = 0.0 if low <= 0 <= high else (low if r > 0 else high)
            significant = abs(r) > critical_partial_r(n, k, pilot_alpha)
            row |= {
                "ci_low": low,
                "ci_high": high,
                "ci_lower_bound": bound,
                "significant": bool(significant),
                "corrected_partial_r": conditional_mle(r, n, k, pilot_alpha),
            }
        row |= {
            "n_observed": _needed(row["partial_r"] if usable else None, k, alpha, target),
            "n_ci_low": _needed(row["ci_lower_bound"], k, alpha, target),
            "n_corrected": _needed(row["corrected_partial_r"], k, alpha, target),
            "n_benchmark": _needed(row["benchmark_partial_r"], k, alpha, target),
        }
        rows.append(row)
    return rows


def _alliance_p(model: dict[str, Any]) -> float | None:
    for term in model["terms"]:
        if term["name"] == model["predictor"]:
            p = term.get("p")
            return float(p) if isinstance(p, int | float) and math.isfinite(p) else None
    return None
