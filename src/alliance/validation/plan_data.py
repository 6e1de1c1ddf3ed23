"""Does a data file hold what an analysis plan needs? (``alliance validate DATA --plan FILE``)

Every score and timepoint a model of the plan uses, and every covariate, must be in the data.
A name that is absent is most often spelt differently in the plan and the data (``s4`` and
``session_4``, ``post`` and ``post_treatment``), so each message names the entry of the plan,
what the data hold instead, and the closest of those names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from alliance.models.plan import AnalysisPlan


def _letters_digits(name: str) -> tuple[str, str]:
    text = re.sub(r"[^a-z0-9]", "", name.lower())
    return re.sub(r"[0-9]", "", text), re.sub(r"[^0-9]", "", text)


def _abbreviates(short: str, long: str) -> bool:
    """``short`` is ``long`` abbreviated: same first letter, its letters in order in ``long``."""
    if not short or not long or short[0] != long[0]:
        return False
    rest = iter(long)
    return all(char in rest for char in short)


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most likely meant by ``name``: similar spelling (difflib), or the same
    number with one name's letters an abbreviation of the other's (``s4``/``session_4``,
    ``bl``/``baseline``)."""
    candidates = sorted(set(candidates))
    if not candidates:
        return None
    similar = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if similar:
        return similar[0]
    letters, digits = _letters_digits(name)
    related = []
    for candidate in candidates:
        other_letters, other_digits = _letters_digits(candidate)
        if digits != other_digits:
            continue
        short, long = sorted((letters, other_letters), key=len)
        if _abbreviates(short, long):
            related.append(candidate)
    if not related:
        return None
    return max(related, key=lambda c: difflib.SequenceMatcher(None, name, c).ratio())


def _listing(names: Iterable[str], limit: int = 12) -> str:
    names = sorted(set(names))
    shown = ", ".join(f"`{n}`" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _needs(plan: AnalysisPlan) -> dict[tuple[str, str], list[str]]:
    """(score, timepoint) -> the plan entries that need it, in plan order."""
    needs: dict[tuple[str, str], list[str]] = {}
    for i, outcome in enumerate(plan.outcomes):
        needs.setdefault((outcome.score, outcome.baseline), []).append(f"outcomes.{i}.baseline")
        needs.setdefault((outcome.score, outcome.post), []).append(f"outcomes.{i}.post")
    for i, predictor in enumerate(plan.predictors):
        for timepoint in predictor.timepoints:
            needs.setdefault((predictor.score, timepoint), []).append(f"predictors.{i}.timepoints")
    return needs


def plan_data_problems(plan: AnalysisPlan, columns: Iterable[str], data_name: str) -> list[str]:
    """One message per score, timepoint or covariate the plan needs and the data lack.

    ``columns`` are the scored frame's columns (``<score>__<timepoint>`` and any others).
    """
    columns = list(columns)
    held: dict[str, set[str]] = {}
    for column in columns:
        score, sep, timepoint = column.partition("__")
        if sep:
            held.setdefault(score, set()).add(timepoint)
    messages = []
    reported_scores: set[str] = set()
    for (score, timepoint), entries in _needs(plan).items():
        where = ", ".join(dict.fromkeys(entries))
        if score not in held:
            if score in reported_scores:
                continue
            reported_scores.add(score)
            entry = entries[0].rsplit(".", 1)[0] + ".score"
            guess = closest(score, held)
            hint = f"; the closest is `{guess}`" if guess else ""
            messages.append(
                f"{entry}: score `{score}` not found in {data_name}; the data have scores "
                f"{_listing(held) or 'none'}{hint}. Fix: name a score the data hold in the "
                "plan, or map the instrument that gives it"
            )
            continue
        if timepoint in held[score]:
            continue
        guess = closest(timepoint, held[score])
        found = f"the data have `{guess}`" if guess else "no name in the data is close to it"
        messages.append(
            f"{where}: `{timepoint}` not found for score `{score}` in {data_name}; {found} "
            f"(`{score}` is at {_listing(held[score])}). Fix: write the data's name in the "
            "plan, or name the timepoint in the data (the mapping's [timepoints.values] or "
            "[items.timepoints] say which timepoint each event or column token is)"
        )
    others = [c for c in columns if "__" not in c]
    for i, covariate in enumerate(plan.covariates):
        if covariate in columns or covariate in ("phase", "episode_phase"):
            continue
        guess = closest(covariate, columns)
        hint = f"; the closest column is `{guess}`" if guess else ""
        messages.append(
            f"covariates.{i}: `{covariate}` not found in {data_name}{hint} (columns other than "
            f"scores: {_listing(others) or 'none'}). Fix: correct the name, or add the column"
        )
    return messages


def check_plan_data(
    plan: AnalysisPlan, columns: Iterable[str], data_name: str, plan_name: str
) -> None:
    """Raise a ``PlanError`` naming the plan file and each entry the data cannot serve."""
    from alliance.errors import PlanError

    if messages := plan_data_problems(plan, columns, data_name):
        raise PlanError(plan_name, messages)
