"""The console's lines about multiple imputation (``alliance analyze --missing mi``)."""

from __future__ import annotations

from alliance.missing.analysis import MultipleImputation

MISSING_CHOICES = {"cc": "complete_cases", "mi": "multiple_imputation"}


def missing_lines(result: MultipleImputation | None, method: str) -> list[str]:
    """One line per pooled model, or why the complete-case models stand."""
    if result is None:
        return []
    if not result.performed:
        return [f"multiple imputation not run: {result.note}"]
    assert result.imputed is not None
    lines = [
        f"multiple imputation: {result.imputed.imputations} imputations, "
        f"{result.imputed.iterations} iterations (pooled by Rubin's rules):"
    ]
    for m in result.models:
        j = m.term
        text = (
            f"  {m.spec.key}: n={m.n} (observed and imputed), b (unstd.)="
            f"{m.pooled.estimate[j]:.3f}, df={m.pooled.df[j]:.1f}, p={m.pooled.p[j]:.4f}, "
            f"fmi={m.pooled.fmi[j]:.3f}"
        )
        if method != "none":
            mark = "survives" if m.survives_correction else "does not survive"
            text += f", p_adj ({method})={m.p_adjusted:.4f}, {mark} correction"
        lines.append(text)
    return lines
