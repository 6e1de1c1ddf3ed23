"""The console's one line per model, shared by ``alliance analyze`` and ``alliance demo``.

Same names as results.json: the model's ``key`` (as in ``ledger.models``), ``b`` marked as the
unstandardised coefficient, the adjusted p named by its method.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alliance.models.fit import ModelResult

if TYPE_CHECKING:
    from alliance.models.mixed_sections import MixedResults


def model_line(model: ModelResult, method: str) -> str:
    """``caps~wai@s4: n=21, b (unstd.)=-0.325, p=0.0636, p_adj (holm)=0.2543, does not survive``."""
    j = model.data.term
    text = (
        f"  {model.spec.key}: n={model.fit.n}, b (unstd.)={model.fit.estimate[j]:.3f}, "
        f"p={model.fit.p[j]:.4f}"
    )
    if method == "none":
        return text + " (no multiplicity correction)"
    mark = "survives" if model.survives_correction else "does not survive"
    return text + f", p_adj ({method})={model.p_adjusted:.4f}, {mark} correction"


def mixed_lines(mixed: MixedResults | None) -> list[str]:
    """One line per mixed model: its key term with its df (Satterthwaite or Kenward–Roger) and
    the singular flag."""
    if not mixed:
        return []
    lines = []
    for r in mixed.longitudinal:
        terms = r.fit.terms().set_index("name")
        w = terms.loc[f"{r.spec.predictor}_within"]
        lines.append(
            f"  {r.spec.name}: {r.fit.n_groups} participants, {r.fit.n_observations} sessions, "
            f"within b={w['estimate']:.3f}, df={w['df']:.1f}, p={w['p']:.4f}"
            + (", singular fit" if r.fit.singular else "")
        )
    for m in mixed.moderation:
        row = m.fit.terms().set_index("name").loc[f"{m.spec.predictor}:mdma"]
        lines.append(
            f"  {m.data.key}: {m.fit.n_observations} episodes, interaction "
            f"b={row['estimate']:.3f}, df={row['df']:.1f}, p={row['p']:.4f}"
            + (", singular fit" if m.fit.singular else "")
        )
    return lines
