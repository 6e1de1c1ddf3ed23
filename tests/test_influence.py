"""Leave-one-out influence against R (tests/r/influence_reference.R: dfbeta and refits) and the
conclusion-flip rule worked by hand."""

import json
from pathlib import Path

import numpy as np
import pytest

from alliance.inference.influence import conclusion_flips
from alliance.models.plan import load_plan
from alliance.pipeline import analyze, load_data

HERE = Path(__file__).parent / "fixtures"
REFERENCE = json.loads((HERE / "r" / "robust" / "influence.json").read_text())


@pytest.mark.parametrize("dataset", ["article_like", "crossover_missing"])
def test_dfbeta_and_leave_one_out_p_match_r(dataset):
    plan = load_plan().with_overrides(permutations=0)
    analysis = analyze(load_data(HERE / "data" / f"{dataset}.csv"), plan)
    for model, reference in zip(analysis.models, REFERENCE[dataset], strict=True):
        rows = {r["participant_id"]: r for r in model.extras["influence"]}
        assert sorted(rows) == sorted(reference["participant_ids"])
        ours_dfbeta = [rows[pid]["dfbeta"] for pid in reference["participant_ids"]]
        ours_p = [rows[pid]["p_without"] for pid in reference["participant_ids"]]
        np.testing.assert_allclose(ours_dfbeta, reference["dfbeta"], rtol=1e-8)
        np.testing.assert_allclose(ours_p, reference["p_without"], rtol=1e-8, atol=1e-15)


def test_conclusion_flips_by_hand():
    # Two models, Holm over both at alpha .05: p = .01 and .03 -> adjusted .02, .03: both survive.
    p_full = [0.01, 0.03]
    # Dropping "a" raises model 2's p to .2: adjusted .02, .2 -> model 2 no longer survives.
    # Dropping "b" lowers model 1's p: nothing flips. "c" is only in model 1.
    p_without = [{"a": 0.01, "b": 0.001, "c": 0.02}, {"a": 0.2, "b": 0.03}]
    flips = conclusion_flips(p_full, p_without, ["all", "all"], "holm", 0.05)
    assert flips == {"a": [False, True], "b": [False, False], "c": [False, False]}
