"""Generalised VIF per term against R's car::vif (tests/r/gvif_reference.R), through the same
design the pipeline builds: categorical covariates as treatment dummies sharing one term."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliance.inference.diagnostics import diagnostics, variance_inflation
from alliance.models.fit import model_data
from alliance.models.ols import fit_ols
from alliance.models.plan import ModelSpec, OutcomeSpec, PredictorSpec

FIXTURES = Path(__file__).parent / "fixtures" / "r" / "diagnostics"
EXPECTED = json.loads((FIXTURES / "gvif.json").read_text())
CASES = [name for name in EXPECTED if name != "about"]
RTOL = 1e-10  # measured agreement: ~1e-15


def _design(case: str):
    """The fixture's data as an episodes frame and the model the pipeline fits on it."""
    raw = pd.read_csv(Path(__file__).parents[1] / EXPECTED[case]["data"])
    frame = pd.DataFrame(
        {
            "participant_id": [f"P{i:02d}" for i in range(len(raw))],
            "caps__post": raw["post"].astype(float),
            "caps__baseline": raw["baseline"].astype(float),
            "wai__s4": raw["wai"].astype(float),
        }
    )
    covariates = tuple(t for t in EXPECTED[case]["terms"] if t not in ("baseline", "wai"))
    for covariate in covariates:
        frame[covariate] = raw[covariate]
    spec = ModelSpec(
        outcome=OutcomeSpec(score="caps"),
        predictor=PredictorSpec(score="wai", timepoints=("s4",)),
        timepoint="s4",
        covariates=covariates,
    )
    return model_data(frame, spec)


@pytest.mark.parametrize("case", CASES)
def test_gvif_matches_car(case: str) -> None:
    data = _design(case)
    fit = fit_ols(data.y, data.X, data.names)
    checks = diagnostics(fit, data.X, data.participant_ids, data.column_terms)
    expected = EXPECTED[case]
    assert list(checks["vif"]) == list(expected["gvif"])
    np.testing.assert_allclose(
        list(checks["vif"].values()), [float(v) for v in expected["gvif"].values()], rtol=RTOL
    )
    assert checks["vif_df"] == expected["df"]


def test_factor_gvif_does_not_depend_on_the_reference_level() -> None:
    data = _design("two_factors")
    site = [j for j, t in enumerate(data.column_terms) if t == "site"]
    # Recode the site dummies to a different reference level: the column space is the same.
    X = data.X.copy()
    reference = 1.0 - X[:, site].sum(axis=1)
    X[:, site[0]] = reference
    recoded = variance_inflation(X, data.column_terms)
    original = variance_inflation(data.X, data.column_terms)
    assert recoded == pytest.approx(original, rel=1e-10)
    per_dummy = variance_inflation(data.X, data.names)
    per_dummy_recoded = variance_inflation(X, data.names)
    assert per_dummy[data.names[site[1]]] != pytest.approx(
        per_dummy_recoded[data.names[site[1]]], rel=1e-3
    )  # per-dummy VIFs do move with the reference level, which is why a term gets one GVIF


def test_terms_must_name_every_column() -> None:
    data = _design("three_level_site")
    with pytest.raises(ValueError, match="each of the"):
        variance_inflation(data.X, data.column_terms[:-1])
