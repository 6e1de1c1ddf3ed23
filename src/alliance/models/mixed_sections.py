"""Fit the plan's ``[[longitudinal]]`` and ``[[moderation]]`` sections.

Longitudinal models use the plan's MDMA episodes (one per participant, the plan's episode rule);
moderation models use every phase with data (:mod:`alliance.models.moderation`). Each model's
exclusions are kept with it; therapist ICCs are added when the data name therapists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from alliance.models.longitudinal import (
    LongitudinalResult,
    fit_longitudinal,
    longitudinal_data,
)
from alliance.models.moderation import ModerationResult, fit_moderation, moderation_data
from alliance.models.plan import AnalysisPlan
from alliance.models.therapist import TherapistICC, therapist_icc, therapist_of


@dataclass(frozen=True)
class MixedResults:
    longitudinal: list[LongitudinalResult] = field(default_factory=list)
    moderation: list[ModerationResult] = field(default_factory=list)
    # Keyed by model name (longitudinal) or key (moderation); empty without therapist_id.
    therapist: dict[str, TherapistICC] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.longitudinal or self.moderation)


def fit_mixed_sections(
    scores: pd.DataFrame, episodes: pd.DataFrame, plan: AnalysisPlan
) -> MixedResults:
    """Every mixed model of the plan; a model the data cannot support raises AnalysisError."""
    therapists = therapist_of(scores)
    out = MixedResults()
    for spec in plan.longitudinal:
        result = fit_longitudinal(longitudinal_data(episodes, spec))
        out.longitudinal.append(result)
        if therapists is not None:
            rows = result.data.rows
            rows = rows.assign(
                **{
                    spec.predictor: rows[f"{spec.predictor}_within"]
                    + rows[f"{spec.predictor}_between"]
                }
            )
            out.therapist[spec.name] = therapist_icc(rows, "y", spec.predictor, therapists)
    for mod in plan.moderation:
        for timepoint in mod.timepoints:
            result_m = fit_moderation(moderation_data(scores, mod, timepoint))
            out.moderation.append(result_m)
            if therapists is not None:
                out.therapist[result_m.data.key] = therapist_icc(
                    result_m.data.rows, "post", mod.predictor, therapists
                )
    return out
