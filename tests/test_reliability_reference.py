"""Cronbach's alpha and McDonald's omega against R (tests/r/reliability_reference.R).

Alpha is closed-form: 1e-12. Omega comes from two independent numerical optimisations of the
same one-factor ML discrepancy (R's factanal and scipy's L-BFGS-B), which agree to the optimisers'
convergence, not to machine precision: 1e-6 on omega and 1e-4 on single loadings.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from alliance.instruments.reliability import cronbach_alpha, mcdonald_omega, one_factor_loadings

HERE = Path(__file__).parent / "fixtures" / "r" / "reliability"
ITEMS = pd.read_csv(HERE / "items.csv").to_numpy(dtype="float64")
REFERENCE = json.loads((HERE / "reference.json").read_text())


def test_alpha_matches_psych():
    np.testing.assert_allclose(cronbach_alpha(ITEMS), REFERENCE["alpha"], rtol=1e-12)


def test_omega_matches_factanal():
    np.testing.assert_allclose(mcdonald_omega(ITEMS), REFERENCE["omega"], rtol=1e-6)
    np.testing.assert_allclose(one_factor_loadings(ITEMS), REFERENCE["loadings"], atol=1e-4)


def test_alpha_by_hand_on_a_tiny_matrix():
    x = np.array([[1, 2], [2, 3], [3, 5]], dtype=float)
    # var(x1)=1, var(x2)=7/3, var(total)=19/3: alpha = 2 * (1 - (10/3)/(19/3)) = 18/19
    np.testing.assert_allclose(cronbach_alpha(x), 18 / 19, rtol=1e-14)


def test_reliability_table_covers_every_scale_and_says_why_a_value_is_missing():
    from alliance.instruments.reliability import reliability_table
    from tests.conftest import small_trial

    items = small_trial()
    items["value"] = items["value"].astype("float64")
    table = reliability_table(items).set_index(["instrument", "timepoint", "scale"])
    assert ("WAI", "s4", "wai_bond") in table.index
    assert ("CAPS4", "post", "caps_b") in table.index
    wai_total = table.loc[("WAI", "s4", "wai")]
    assert wai_total["n"] == 12  # 8 participants, 4 of them in two phases
    assert np.isnan(wai_total["omega"])  # 12 cases, 36 items: no factor model
    assert "more complete cases than items" in wai_total["note"]
    block = items[(items["instrument"] == "IESR") & (items["timepoint"] == "post")]
    matrix = block.pivot_table(
        index=["participant_id", "phase"], columns="item", values="value"
    ).to_numpy()
    np.testing.assert_allclose(
        table.loc[("IESR", "post", "iesr"), "alpha"], cronbach_alpha(matrix), rtol=1e-12
    )
