"""Planning a replication from the analysis's own results (docs/outputs.md, docs/power.md).

One row per article model, from :func:`alliance.power.planning.planning_rows` on the results
document: the observed partial r, the limit of its 95 % CI nearer zero, the winner's-curse-
corrected value and the meta-analytic benchmark, each with the N a replication needs for 80 %
power at the plan's alpha with random predictors. Analytic only (no simulation): whole-design
power is ``alliance power --from-results results.json --design``.

The same rows go into ``results.json`` (``planning``), ``tables/planning.csv``, ``report.html``
and ``tables.docx``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

import pandas as pd

from alliance.limits import MAX_N
from alliance.pipeline import Analysis
from alliance.power.planning import planning_rows
from alliance.report.apa import (
    MISSING,
    ApaTable,
    Runs,
    Section,
    fmt_int,
    fmt_unit,
    italic,
    join,
    plain,
    series,
)

PLANNING_POWER = 0.80  # the conventional target a replication is sized for


def planning_records(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The planning rows of a results document (plan order; empty without article models)."""
    if not document.get("models"):
        return []
    alpha = float(document["plan"]["alpha"])
    rows = planning_rows(document, alpha, PLANNING_POWER)
    labels = [m.get("label") for m in document["models"]]
    return [{"label": label, **row} for label, row in zip(labels, rows, strict=True)]


def analysis_planning(analysis: Analysis) -> list[dict[str, Any]]:
    """The planning rows from an analysis (complete-case models), for a report built alone."""
    from alliance.report.results_json import model_record

    plan = analysis.plan
    method, family = plan.multiplicity.method, plan.multiplicity.family
    models = [model_record(m, method, family) for m in analysis.models]
    return planning_records({"plan": {"alpha": plan.alpha}, "models": models})


def planning_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """``tables/planning.csv``: the rows as they are in ``results.json``."""
    frame = pd.DataFrame(list(rows))
    # A sample size that no N reaches is empty, not a float column's "1094.0".
    counts = ["n", "covariates", "n_observed", "n_ci_low", "n_corrected", "n_benchmark"]
    return frame.astype({key: "Int64" for key in counts if key in frame})


def _needed(row: dict[str, Any], value_key: str, n_key: str) -> str:
    """The N a value needs: em dash without a value, "> MAX_N" when no N reaches the power."""
    value = row[value_key]
    if value is None or value == 0:
        return MISSING
    n = row[n_key]
    return f"{n:,}" if n is not None else f"> {MAX_N:,}"


def _alpha(alpha: float) -> str:
    """APA: no leading zero, ``0.05`` → ``.05``."""
    return f"{alpha:g}".removeprefix("0")


def _corrected(row: dict[str, Any]) -> str:
    text = fmt_unit(row["corrected_partial_r"])
    return text if row["significant"] or row["corrected_partial_r"] is None else f"{text}ᵃ"


def planning_apa_table(rows: Sequence[dict[str, Any]]) -> ApaTable | None:
    """The APA table of the planning rows, or None without article models."""
    if not rows:
        return None
    body = tuple(
        (
            str(row["label"] or row["outcome"]),
            fmt_int(row["n"]),
            fmt_unit(row["partial_r"]),
            _needed(row, "partial_r", "n_observed"),
            fmt_unit(row["ci_lower_bound"]),
            _needed(row, "ci_lower_bound", "n_ci_low"),
            _corrected(row),
            _needed(row, "corrected_partial_r", "n_corrected"),
            fmt_unit(row["benchmark_partial_r"]),
            _needed(row, "benchmark_partial_r", "n_benchmark"),
        )
        for row in rows
    )
    alpha = rows[0]["alpha"]
    r: Runs = italic("r")
    n: Runs = italic("N")
    return ApaTable(
        key="planning",
        title="Sample Sizes for a Replication",
        columns=(
            plain("Model"),
            italic("n"),
            join(r, " observed"),
            n,
            join(r, " CI bound"),
            n,
            join(r, " corrected"),
            n,
            join(r, " benchmark"),
            n,
        ),
        sections=(Section((), body),),
        note=join(
            italic("r"),
            " = partial correlation of the alliance term (negative: better alliance, lower "
            "severity). ",
            italic("N"),
            f" = participants a replication needs for {PLANNING_POWER:.0%} power at "
            f"α = {_alpha(alpha)} (two-sided), predictors random. CI bound = limit of the 95% CI "
            "nearer zero (0 when the interval spans zero). Corrected = conditional maximum-"
            "likelihood estimate for a result selected because it was significant (Ghosh et "
            "al., 2008; Zhong & Prentice, 2008); ",
            "ᵃnot significant in this analysis, so not selected and not corrected. Benchmark = ",
            italic("r"),
            " = .28 (Flückiger et al., 2018), signed as better alliance with lower severity. "
            f"{MISSING} = not computable (no N has power against an effect of zero).",
        ),
    )


def _unusable(rows: Sequence[dict[str, Any]]) -> str:
    """A sentence naming the models whose own r could not be used, or ""."""
    names = [str(row["label"] or row["outcome"]) for row in rows if row["ci_low"] is None]
    if not names:
        return ""
    return (
        f"<p>For {escape(series(names))} the partial r could not be computed or leaves no "
        "degrees of freedom for its confidence interval, so only the benchmark's N is given.</p>"
    )


def planning_section_html(rows: Sequence[dict[str, Any]], tables_for: Callable[..., str]) -> str:
    """The report section's body, or "" without article models (no section then)."""
    if not rows:
        return ""
    return (
        "<p>How many participants a replication of each model needs for "
        f"{PLANNING_POWER:.0%} power, starting from four values of the effect: the one observed "
        "here, the cautious end of its confidence interval, the observed value shrunk for the "
        "winner's curse when it was reported because it was significant, and the published "
        "meta-analytic benchmark. Read the spread of N as the uncertainty of the plan; each "
        "row is one test alone. For the power of the whole design (every model, the plan's "
        "multiplicity correction, missing visits) run <code>alliance power --from-results "
        "results.json --design</code> (see the power documentation).</p>"
        + _unusable(rows)
        + tables_for("planning")
    )
