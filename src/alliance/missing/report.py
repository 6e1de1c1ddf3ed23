"""The report's and Word file's tables about missing data: pattern, complete cases against
multiple imputation for every model, and the tipping points of the sensitivity analysis."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from alliance.instruments.labels import missing_text
from alliance.missing.analysis import ROBUST_NOTE, MultipleImputation
from alliance.missing.tipping import SHIFTS
from alliance.models.fit import ModelResult
from alliance.report import apa
from alliance.report.apa import (
    DELTA_R2,
    P_ADJ,
    SE,
    ApaTable,
    B,
    N,
    P,
    Section,
    fmt_num,
    fmt_p,
    fmt_unit,
    italic,
    join,
    plain,
    stat_head,
)

if TYPE_CHECKING:
    from alliance.pipeline import Analysis


def variable_label(column: str) -> str:
    """``wai__s4`` → "WAI total at session 4" (the ledger's wording without "missing")."""
    return missing_text(column, {}).replace(" missing", "")


def pattern_table(result: MultipleImputation) -> ApaTable:
    imputed = result.imputed
    assert imputed is not None
    rows_, counts = np.unique(imputed.missing, axis=0, return_counts=True)
    order = sorted(range(len(rows_)), key=lambda i: (-counts[i], rows_[i].sum()))
    rows = tuple(
        (
            "; ".join(variable_label(c) for c, gap in zip(imputed.columns, rows_[i], strict=True)
                      if gap) or "none (complete)",
            str(int(counts[i])),
        )
        for i in order
    )  # fmt: skip
    per_variable = tuple(
        (variable_label(c), str(int(imputed.missing[:, j].sum())))
        for j, c in enumerate(imputed.columns)
    )
    return ApaTable(
        key="missing_pattern",
        title="Missing-Data Pattern of the Scores the Models Use",
        columns=(plain("Scores missing"), plain("Episodes")),
        sections=(
            Section(plain("Patterns"), rows),
            Section(plain("Episodes missing each score"), per_variable),
        ),
        note=join(
            f"Every one of the {imputed.observed.shape[0]} episodes is in every imputed model; "
            "the scores listed were imputed for it." + _excluded_text(result)
        ),
    )


def _excluded_text(result: MultipleImputation) -> str:
    assert result.frame is not None
    left_out = len(result.frame.excluded)
    if not left_out:
        return ""
    return (
        f" {apa.capitalise(apa.count_word(left_out))} episode{'s' if left_out > 1 else ''} with "
        "a missing categorical covariate (not imputed) left out."
    )


def comparison_table(result: MultipleImputation, models: list[ModelResult]) -> ApaTable:
    sections: dict[str, list[tuple[str, ...]]] = {}
    for pooled, cc in zip(result.models, models, strict=True):
        j = pooled.term
        k = cc.data.term
        heading = (
            f"{apa.outcome_label(pooled.spec)} {apa.timepoint_phrase(pooled.spec.outcome.post)}"
        )
        sections.setdefault(heading, []).append(
            (
                apa.capitalise(apa.timepoint_label(pooled.spec.timepoint)),
                str(cc.fit.n),
                fmt_num(cc.fit.estimate[k]),
                fmt_num(cc.fit.std_error[k]),
                fmt_p(cc.fit.p[k]),
                fmt_p(cc.p_adjusted),
                str(pooled.n),
                fmt_num(pooled.pooled.estimate[j]),
                fmt_num(pooled.pooled.std_error[j]),
                fmt_num(pooled.pooled.df[j], 1),
                fmt_p(pooled.pooled.p[j]),
                fmt_p(pooled.p_adjusted),
                fmt_unit(pooled.pooled.fmi[j]),
                fmt_unit(pooled.delta_r_squared),
            )
        )
    imputed = result.imputed
    assert imputed is not None
    cc_head = "CC: "
    mi_head = "MI: "
    return ApaTable(
        key="missing_comparison",
        title="Alliance Coefficients on Complete Cases (CC) and Under Multiple Imputation (MI)",
        columns=(
            plain("Alliance timepoint"),
            join(cc_head, N),
            join(cc_head, B),
            join(cc_head, SE),
            join(cc_head, P),
            join(cc_head, P_ADJ),
            join(mi_head, N),
            join(mi_head, B),
            join(mi_head, SE),
            join(mi_head, stat_head("df")),
            join(mi_head, P),
            join(mi_head, P_ADJ),
            join(mi_head, stat_head("FMI")),
            join(mi_head, DELTA_R2),
        ),
        sections=tuple(Section(plain(h), tuple(r)) for h, r in sections.items()),
        note=join(
            f"MI: {imputed.imputations} datasets completed by chained equations with predictive "
            f"mean matching ({imputed.donors} donors, {imputed.iterations} iterations), each "
            "model fitted on each and pooled by Rubin's rules with Barnard–Rubin degrees of "
            "freedom (df); FMI = fraction of missing information; ",
            P_ADJ,
            " is the plan's correction on the pooled ",
            italic("p"),
            " values. Pooled ΔR² is the difference of R² pooled on Fisher's ",
            italic("z"),
            " (Harel, 2009). " + ROBUST_NOTE[0].upper() + ROBUST_NOTE[1:] + ".",
        ),
    )


def _delta(value: float | None) -> str:
    return "none in ±2" if value is None else fmt_num(value, 1)


def tipping_table(result: MultipleImputation) -> ApaTable:
    points = result.sensitivity["tipping_points"]
    rows = []
    for pooled, point in zip(result.models, points, strict=True):
        spec = pooled.spec
        cells = [
            f"{apa.outcome_label(spec)} ~ {apa.timepoint_label(spec.timepoint)}",
            "survives" if point["survives_correction_at_mar"] else "does not survive",
        ]
        for shift in SHIFTS:
            cells += [_delta(point[shift]["below"]), _delta(point[shift]["above"])]
        rows.append(tuple(cells))
    heads = [plain("Model"), plain("Conclusion under MAR")]
    for shift in SHIFTS:
        name = {"alliance": "Alliance", "outcome": "Outcome", "both": "Both"}[shift]
        heads += [plain(f"{name}: δ < 0"), plain(f"{name}: δ > 0")]
    return ApaTable(
        key="missing_tipping",
        title="Tipping Points of the δ-Adjusted (Not at Random) Sensitivity Analysis",
        columns=tuple(heads),
        sections=(Section((), tuple(rows)),),
        note=join(
            "Imputed values were shifted by δ standard deviations of the observed values (of "
            "the alliance scores, of the post-treatment outcome, or of both) and the pooled "
            "analysis and its correction redone for δ from −2 to 2 in steps of 0.1. Each cell "
            "is the δ nearest 0 on that side at which the model's corrected conclusion changes. "
            "δ < 0: the missing scores are lower than missing at random (MAR) predicts."
        ),
    )


def missing_tables(analysis: Analysis) -> list[ApaTable]:
    """The missing-data tables, when multiple imputation ran (none otherwise)."""
    result = analysis.missing
    if result is None or not result.performed:
        return []
    return [
        pattern_table(result),
        comparison_table(result, analysis.models),
        tipping_table(result),
    ]


def missing_methods_sentence(analysis: Analysis) -> str:
    """What the methods paragraph says of multiple imputation ("" without it): that paragraph
    and the results paragraph describe the complete-case models, and must say so."""
    result = analysis.missing
    if result is None or not result.performed:
        return ""
    plan = analysis.plan
    return (
        f"Missing scores were also multiply imputed ({plan.imputations} imputations by chained "
        f"equations with predictive mean matching, {plan.iterations} iterations; van Buuren & "
        "Groothuis-Oudshoorn, 2011) and each model was pooled by Rubin's rules with "
        "Barnard–Rubin degrees of freedom (Barnard & Rubin, 1999), the correction applied to "
        "the pooled p values; the plan makes these pooled models the primary analysis (see "
        "Missing data). The methods and results given here are those of the complete cases."
    )


def missing_section_text(analysis: Analysis) -> str:
    """The words at the head of the report's missing-data section (plain text)."""
    result = analysis.missing
    if result is None:
        return ""
    if not result.performed:
        return f"Multiple imputation was not run: {result.note}."
    return (
        "The plan asks for multiple imputation: the pooled models below are the primary "
        "analysis, and their corrected conclusions are the ones to report. The tables and "
        "figures of the other sections are complete-case analyses, shown for comparison; "
        f"{ROBUST_NOTE}."
    )
