"""Unit tests of the meta-analysis stage: inputs, literature table, estimator edge cases."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliance.errors import DataError
from alliance.meta import pooling
from alliance.meta.analysis import run_meta
from alliance.meta.literature import load_literature
from alliance.meta.pooling import PoolingError, fisher_z_variance, pool
from alliance.meta.studies import (
    _covariate_count,
    _site_names,
    load_studies,
    parse_model_name,
    score_directions,
)


def test_partial_r_variance_counts_covariates() -> None:
    assert fisher_z_variance(22, 1) == pytest.approx(1 / 18)
    assert fisher_z_variance(np.array([10, 20]), np.array([0, 2])).tolist() == pytest.approx(
        [1 / 7, 1 / 15]
    )


def test_covariate_count_is_every_term_but_intercept_and_alliance() -> None:
    record = {
        "predictor": "wai",
        "covariates": ["age", "site"],
        "terms": [
            {"name": n} for n in ("intercept", "baseline", "wai", "age", "site[b]", "site[c]")
        ],
    }
    assert _covariate_count(record) == 4  # baseline, age and two dummies of site
    assert _covariate_count({"predictor": "wai", "covariates": ["age"]}) == 2


def test_model_names() -> None:
    assert parse_model_name("CAPS@S4") == ("caps", None, "s4")
    assert parse_model_name("caps~wai_task@s9") == ("caps", "wai_task", "s9")
    for bad in ("caps", "@s4", "caps@", "caps~@s4"):
        with pytest.raises(ValueError, match="OUTCOME@TIMEPOINT"):
            parse_model_name(bad)


def test_site_names_are_the_shortest_distinguishing_tail(tmp_path: Path) -> None:
    paths = [tmp_path / "a" / "out" / "results.json", tmp_path / "b" / "out" / "results.json"]
    assert _site_names(paths) == ["a/out", "b/out"]
    assert _site_names([tmp_path / "x" / "results.json"]) == ["x"]


def test_directions_come_from_the_instruments() -> None:
    directions = score_directions()
    assert directions["caps"] == directions["iesr_intrusion"] == "higher_is_worse"
    assert directions["wai"] == directions["wai_bond"] == "higher_is_better"


def test_excel_table_with_typed_cells(tmp_path: Path) -> None:
    path = tmp_path / "studies.xlsx"
    pd.DataFrame(
        {"Study": ["A", "B"], "R": [-0.3, 0.25], "N": [40, 33], "Direction": ["worse", None]}
    ).to_excel(path, index=False)
    studies, warnings = load_studies([path])
    assert [(s.name, s.r, s.n, s.flipped) for s in studies] == [
        ("A", 0.3, 40, True),
        ("B", 0.25, 33, False),
    ]
    assert warnings == []


def test_numeric_study_names_from_excel_read_as_written(tmp_path: Path) -> None:
    path = tmp_path / "studies.xlsx"
    pd.DataFrame({"study": [1, 2], "r": [0.1, 0.2], "n": [20, 30]}).to_excel(path, index=False)
    studies, _ = load_studies([path])
    assert [s.name for s in studies] == ["1", "2"]


def test_unused_columns_are_named_in_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    pd.DataFrame({"study": ["A", "B"], "r": [0.1, 0.2], "n": [20, 30], "year": [1, 2]}).to_csv(
        path, index=False
    )
    _, warnings = load_studies([path])
    assert warnings == ["s.csv: columns not used by alliance meta: year"]


def test_every_problem_of_a_table_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    pd.DataFrame({"study": ["A", "B", "C"], "r": [1.5, 0.2, "x"], "n": [20, 2, 30]}).to_csv(
        path, index=False
    )
    with pytest.raises(DataError) as caught:
        load_studies([path])
    lines = caught.value.lines()
    assert len(lines) == 3
    assert lines[0].startswith("s.csv, row 2, column 'r'")
    assert lines[1].startswith("s.csv, row 3, column 'n'")
    assert lines[2].startswith("s.csv, row 4, column 'r'")


def test_literature_entries_are_cited_verified_and_oriented() -> None:
    version, entries = load_literature()
    assert version
    keys = {e.key for e in entries}
    assert {"fluckiger2018", "howard2021", "levin2024_prep"} <= keys
    for b in entries:
        e = b.entry
        assert e.doi.startswith("10.") and e.verified and e.location and e.citation
        assert b.r == pytest.approx(-e.r_published if e.flip else e.r_published)
        assert b.r > 0  # every published effect favours alliance once oriented
    fluckiger = next(b for b in entries if b.key == "fluckiger2018")
    assert (fluckiger.r, fluckiger.ci_low, fluckiger.ci_high) == (0.278, 0.256, 0.299)
    assert fluckiger.entry.k == 295
    assert fluckiger.variance == pytest.approx(
        ((math.atanh(0.299) - math.atanh(0.256)) / (2 * 1.959963984540054)) ** 2
    )


def test_fisher_scoring_that_does_not_settle_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    y = np.arctanh(np.array([0.1, 0.5, 0.3, 0.7]))
    v = np.array([0.05, 0.04, 0.08, 0.03])
    assert pool(y, v, "reml").tau2.value > 0
    monkeypatch.setattr(pooling, "METAFOR_MAXITER", 1)
    with pytest.raises(PoolingError, match="did not converge"):
        pool(y, v, "reml")


def test_one_study_is_not_pooled_but_described() -> None:
    from alliance.meta.studies import Study

    only = Study("Only", 0.4, 28, 0, 0.4, False, "t.csv row 2")
    with pytest.raises(PoolingError, match=r"only one study \(Only: r = 0.400"):
        run_meta([only])
    with pytest.raises(PoolingError, match="at least two"):
        pool(np.array([0.1]), np.array([0.1]))


def test_identical_effects_under_knapp_hartung() -> None:
    # Every study the same: s² = 0, so the Knapp–Hartung SE is 0 (metafor's behaviour).
    fit = pool(np.full(3, 0.3), np.array([0.1, 0.2, 0.05]), "dl", "knha")
    assert fit.se == 0.0 and fit.tau2.value == 0.0 and fit.q == 0.0
    assert fit.ci_low == fit.ci_high == pytest.approx(0.3)


def test_models_in_the_analyze_report_are_oriented_like_meta() -> None:
    from types import SimpleNamespace

    from alliance.meta.benchmark import oriented_partial_r

    def model(outcome: str, r: float, n: int = 21, names: int = 3) -> SimpleNamespace:
        spec = SimpleNamespace(
            outcome=SimpleNamespace(score=outcome), predictor=SimpleNamespace(score="wai")
        )
        fit = SimpleNamespace(n=n, names=tuple(f"t{i}" for i in range(names)))
        return SimpleNamespace(spec=spec, fit=fit, term_stats={"partial_r": r})

    directions = score_directions()
    r, low, high, flipped = oriented_partial_r(model("caps", -0.5), directions)  # type: ignore[misc,arg-type]
    half = 1.959963984540054 / math.sqrt(21 - 3 - 1)
    assert flipped and r == pytest.approx(0.5)
    assert (low, high) == pytest.approx(
        (math.tanh(math.atanh(0.5) - half), math.tanh(math.atanh(0.5) + half))
    )
    assert oriented_partial_r(model("unknown_score", -0.5), directions) is None  # type: ignore[arg-type]
    assert oriented_partial_r(model("caps", float("nan")), directions) is None  # type: ignore[arg-type]
    assert oriented_partial_r(model("caps", 0.2, n=4), directions) is None  # type: ignore[arg-type]


def test_model_option_without_results_json_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    pd.DataFrame({"study": ["A", "B"], "r": [0.1, 0.2], "n": [20, 30]}).to_csv(path, index=False)
    _, warnings = load_studies([path], model="caps@s4")
    assert warnings == ["--model caps@s4 was ignored: it chooses a model of a results.json"]
