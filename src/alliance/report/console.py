"""The console's one line per model, shared by ``alliance analyze`` and ``alliance demo``.

Same names as results.json: the model's ``key`` (as in ``ledger.models``), ``b`` marked as the
unstandardised coefficient, the adjusted p named by its method.
"""

from __future__ import annotations

from alliance.models.fit import ModelResult


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
