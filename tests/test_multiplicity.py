"""adjust_pvalues and adjust_by_family against R's p.adjust (tests/r/fixtures_models.R).

p.adjust is a few multiplications, running maxima/minima and a cap at 1, so the only
differences from R are in the last bits of a product; rtol 1e-12 is loose for that and the
JSON's 15 significant digits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from alliance.inference.multiplicity import (
    METHODS,
    adjust_by_family,
    adjust_pvalues,
    adjust_rows_by_family,
)

FIXTURES = Path(__file__).parent / "fixtures" / "r" / "models"
RTOL = 1e-12
STATSMODELS_NAME = {
    "holm": "holm",
    "bonferroni": "bonferroni",
    "hochberg": "simes-hochberg",
    "bh": "fdr_bh",
    "by": "fdr_by",
}


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


EDGE = load("p_adjust_edge_cases")
DATASETS = {name: load(name) for name in ("article_like", "crossover_missing")}


def as_float(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype="float64")


def assert_same(actual: np.ndarray, expected: np.ndarray, label: str) -> None:
    assert actual.shape == expected.shape, label
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=label)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, err_msg=label)


def test_methods_are_the_plan_choices() -> None:
    assert METHODS == ("holm", "bonferroni", "hochberg", "bh", "by", "none")
    assert set(EDGE["cases"][0]["adjusted"]) == set(METHODS)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", EDGE["cases"], ids=lambda c: c["name"])
def test_edge_cases_match_r(case: dict[str, Any], method: str) -> None:
    """Ties, NaN (kept, not counted in n), adjusted values capped at 1, single and empty input."""
    p = as_float(case["p"])
    expected = as_float(case["adjusted"][method])
    assert_same(adjust_pvalues(p, method), expected, f"{case['name']} {method}")
    assert_same(adjust_pvalues(p.tolist(), method.upper()), expected, "list input, R's case")


def test_nan_is_not_counted_in_n() -> None:
    with_nan = adjust_pvalues([0.01, np.nan, 0.02], "bonferroni")
    np.testing.assert_allclose(with_nan[[0, 2]], [0.02, 0.04], rtol=RTOL)
    assert np.isnan(with_nan[1])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_model_p_values_match_r(dataset: str, method: str) -> None:
    """The six alliance p-values of the article's plan, family 'all' and 'per_outcome'."""
    fixture = DATASETS[dataset]["multiplicity"]
    p = as_float(fixture["p"])
    families = fixture["families_per_outcome"]
    all_expected = as_float(fixture["all"][method])
    assert_same(adjust_pvalues(p, method), all_expected, "all")
    assert_same(adjust_by_family(p, ["all"] * len(p), method), all_expected, "one family")
    per_outcome = as_float(fixture["per_outcome"][method])
    assert_same(adjust_by_family(p, families, method), per_outcome, "per_outcome")
    for i, model in enumerate(DATASETS[dataset]["models"]):
        assert model["p_adjusted"]["all"][method] == fixture["all"][method][i]
        assert model["p_adjusted"]["per_outcome"][method] == fixture["per_outcome"][method][i]


@pytest.mark.parametrize("method", METHODS)
def test_interleaved_families_with_nan_match_r(method: str) -> None:
    case = EDGE["families"]
    actual = adjust_by_family(as_float(case["p"]), case["labels"], method)
    assert_same(actual, as_float(case["adjusted"][method]), method)


@pytest.mark.parametrize("method", sorted(STATSMODELS_NAME))
@pytest.mark.parametrize(
    "case",
    [c for c in EDGE["cases"] if c["p"] and None not in c["p"]],
    ids=lambda c: c["name"],
)
def test_complete_cases_match_statsmodels(case: dict[str, Any], method: str) -> None:
    p = np.array(case["p"], dtype="float64")
    _, expected, _, _ = multipletests(p, method=STATSMODELS_NAME[method])
    np.testing.assert_allclose(adjust_pvalues(p, method), expected, rtol=RTOL)


probabilities = st.lists(
    st.floats(min_value=0.0, max_value=1.0) | st.just(float("nan")), min_size=0, max_size=15
)


@settings(max_examples=200, deadline=None)
@given(p=probabilities, method=st.sampled_from(METHODS), seed=st.integers(0, 2**32 - 1))
def test_properties(p: list[float], method: str, seed: int) -> None:
    """Adjusted p ≥ p, ≤ 1, NaN where p is NaN, monotone in p, and order of input irrelevant."""
    values = np.array(p, dtype="float64")
    adjusted = adjust_pvalues(values, method)
    present = ~np.isnan(values)
    np.testing.assert_array_equal(np.isnan(adjusted), ~present)
    assert np.all(adjusted[present] >= values[present])
    assert np.all(adjusted[present] <= 1.0)
    order = np.argsort(values[present], kind="stable")
    assert np.all(np.diff(adjusted[present][order]) >= 0)
    shuffle = np.random.default_rng(seed).permutation(len(values))
    np.testing.assert_array_equal(adjust_pvalues(values[shuffle], method), adjusted[shuffle])


@settings(max_examples=100, deadline=None)
@given(
    p=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=12),
    labels=st.lists(st.sampled_from(["caps", "iesr", "other"]), min_size=12, max_size=12),
    method=st.sampled_from(METHODS),
)
def test_families_are_adjusted_separately(p: list[float], labels: list[str], method: str) -> None:
    labels = labels[: len(p)]
    values = np.array(p)
    actual = adjust_by_family(values, labels, method)
    for family in set(labels):
        at = np.array(labels) == family
        np.testing.assert_array_equal(actual[at], adjust_pvalues(values[at], method))


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.floats(min_value=0.0, max_value=1.0) | st.just(float("nan")), min_size=6,
                 max_size=6),
        min_size=1, max_size=20,
    ),
    labels=st.lists(st.sampled_from(["caps", "iesr"]), min_size=6, max_size=6),
    method=st.sampled_from(METHODS),
)  # fmt: skip
def test_rows_are_adjusted_as_one_call_each(
    rows: list[list[float]], labels: list[str], method: str
) -> None:
    """The vectorised correction of many sets (leave-one-out influence) equals one call per set
    to the last bit, missing values included."""
    values = np.array(rows, dtype="float64")
    expected = np.array([adjust_by_family(row, labels, method) for row in values])
    np.testing.assert_array_equal(adjust_rows_by_family(values, labels, method), expected)


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"unknown adjustment method 'fdr'; choose one of"):
        adjust_pvalues([0.1, 0.2], "fdr")
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        adjust_pvalues([0.1, 1.2], "holm")
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        adjust_pvalues([-0.01, 0.2], "none")
    with pytest.raises(ValueError, match="one-dimensional"):
        adjust_pvalues([[0.1, 0.2]], "holm")
    with pytest.raises(ValueError, match="equal length"):
        adjust_by_family([0.1, 0.2], ["caps"], "holm")
    with pytest.raises(ValueError, match="one family label per test"):
        adjust_rows_by_family([[0.1, 0.2]], ["caps"], "holm")


def test_input_is_not_modified() -> None:
    p = np.array([0.04, 0.01, 0.03])
    adjust_pvalues(p, "holm")
    adjust_by_family(p, ["a", "a", "b"], "bh")
    np.testing.assert_array_equal(p, [0.04, 0.01, 0.03])
