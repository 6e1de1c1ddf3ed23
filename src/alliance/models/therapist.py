"""Therapist effects: how much of the outcome and the alliance varies between therapists.

When the data carry ``therapist_id``, each mixed model reports the therapist-level intraclass
correlation of its outcome and of its alliance score: each participant's values in the model are
averaged, and ``value ~ 1 + (1 | therapist)`` is fitted by REML over participants, ICC =
σ²_therapist / (σ²_therapist + σ²). The models themselves never carry a therapist random effect:
with the handful of therapists (or co-therapist dyads) of a psychedelic trial its variance cannot
be estimated (below five clusters a variance component is essentially unidentified; Gelman & Hill
2007, §12.9; McNeish & Stapleton 2016, *Educ Psychol Rev* 28, 295–314), so the report says so
rather than fitting one silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alliance.errors import AnalysisError
from alliance.models.mixed import fit_random_intercept

MIN_THERAPISTS = 5


@dataclass(frozen=True)
class TherapistICC:
    n_therapists: int
    n_participants: int
    outcome_icc: float | None
    predictor_icc: float | None
    notes: tuple[str, ...]  # why an ICC is missing, and the few-therapists warning

    def to_dict(self) -> dict[str, object]:
        return {
            "n_therapists": self.n_therapists,
            "n_participants": self.n_participants,
            "outcome_icc": self.outcome_icc,
            "predictor_icc": self.predictor_icc,
            "therapist_random_effect": False,
            "warnings": list(self.notes),
        }


def therapist_of(scores: pd.DataFrame) -> pd.Series | None:
    """participant_id → therapist (the first one given), or None when the data name none."""
    if "therapist_id" not in scores.columns:
        return None
    given = scores.loc[scores["therapist_id"].notna(), ["participant_id", "therapist_id"]]
    given = given.loc[given["therapist_id"].astype(str).str.strip() != ""]
    if given.empty:
        return None
    first = given.drop_duplicates("participant_id", keep="first")
    series = pd.Series(
        first["therapist_id"].astype(str).to_numpy(),
        index=first["participant_id"].astype(str).to_numpy(),
    )
    # A crossover participant may change therapist between phases: counted with the first.
    several = given.groupby(given["participant_id"].astype(str))["therapist_id"].nunique()
    series.attrs["several"] = int((several > 1).sum())
    return series


def few_therapists_warning(n: int) -> str:
    return (
        f"therapist_id names {n} therapist(s) (or dyads) among the model's participants: "
        f"fewer than {MIN_THERAPISTS}, so a therapist random effect cannot be estimated; the "
        "model has a participant random intercept only and therapist clustering is shown as "
        "an ICC"
    )


def _icc(values: pd.Series, therapist: pd.Series, what: str) -> tuple[float | None, str | None]:
    frame = pd.DataFrame({"value": values, "therapist": therapist}).dropna()
    try:
        fit = fit_random_intercept(
            frame["value"].to_numpy(float),
            np.ones((len(frame), 1)),
            frame["therapist"].to_numpy(),
            ["(Intercept)"],
            model=f"therapist ICC of {what}",
        )
    except AnalysisError as exc:
        return None, str(exc)
    return fit.icc, None


def therapist_icc(
    rows: pd.DataFrame, outcome: str, predictor: str, therapists: pd.Series
) -> TherapistICC:
    """ICCs of participant means of ``outcome`` and ``predictor`` (columns of ``rows``)."""
    means = rows.groupby("participant_id", sort=True)[[outcome, predictor]].mean()
    therapist = means.index.to_series().map(therapists)
    present = therapist.notna()
    means, therapist = means.loc[present], therapist.loc[present]
    n = int(therapist.nunique())
    notes = []
    if several := therapists.attrs.get("several", 0):
        notes.append(
            f"{several} participant(s) have more than one therapist_id; each is counted with "
            "the first one given"
        )
    if n < MIN_THERAPISTS:
        notes.append(few_therapists_warning(n))
    results = []
    for column, what in ((outcome, "the outcome"), (predictor, "the alliance")):
        icc, why = _icc(means[column], therapist, what)
        results.append(icc)
        if why:
            notes.append(why)
    return TherapistICC(n, len(means), results[0], results[1], tuple(notes))
