"""``alliance analyze --missing mi``: plan and command-line choices, results.json, bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app
from alliance.errors import PlanError
from alliance.missing.batch import batch_ols
from alliance.missing.pooling import rubin_pool
from alliance.models.plan import load_plan
from alliance.pipeline import analyze, load_data
from alliance.report.results_json import results_document

runner = CliRunner()
FAST = ["--bootstrap", "0", "--permutations", "0", "--no-figures", "--seed", "4"]
DOCS = Path(__file__).parents[1] / "docs" / "results-json.md"


def scored_trial(n: int = 30, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(70, 12, n)
    wai = rng.normal(200, 20, (n, 3))
    post = 0.5 * base - 0.3 * wai[:, 1] + rng.normal(60, 10, n)
    iesr_base = rng.normal(50, 10, n)
    iesr_post = 0.4 * iesr_base - 0.2 * wai[:, 2] + rng.normal(45, 8, n)
    frame = pd.DataFrame(
        {
            "participant_id": [f"P{i:02d}" for i in range(n)],
            "phase": "randomized",
            "arm": "mdma",
            "caps__baseline": base.round(),
            "caps__post": post.round().clip(0, 136),
            "iesr__baseline": iesr_base.round().clip(0, 88),
            "iesr__post": iesr_post.round().clip(0, 88),
            "wai__pre_s3": wai[:, 0].round(),
            "wai__s4": wai[:, 1].round(),
            "wai__s9": wai[:, 2].round(),
        }
    )
    frame.loc[[1, 5, 9], "wai__s4"] = np.nan
    frame.loc[[2, 7], "caps__post"] = np.nan
    frame.loc[[3], "iesr__baseline"] = np.nan
    return frame


@pytest.fixture(scope="module")
def trial(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mi") / "scores.csv"
    scored_trial().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def mi_document(trial) -> dict:
    plan = load_plan().with_overrides(
        missing_data="multiple_imputation", imputations=6, permutations=50, bootstrap=50
    )
    return results_document(analyze(load_data(trial), plan, seed=2))


def test_plan_key_and_defaults():
    plan = load_plan()
    assert plan.missing_data == "complete_cases"
    assert plan.imputations == 50
    mi = plan.with_overrides(missing_data="multiple_imputation", imputations=7)
    assert (mi.missing_data, mi.imputations) == ("multiple_imputation", 7)
    with pytest.raises(PlanError, match="imputations"):
        plan.with_overrides(imputations=1)


def test_pooled_models_in_results_json(mi_document, trial):
    models = mi_document["models"]
    assert len(models) == 6
    frame = scored_trial()
    for model in models:
        assert model["missing_method"] == "multiple_imputation"
        assert model["imputations"] == 6
        assert model["n"] == len(frame)  # every episode, observed and imputed
        term = next(t for t in model["terms"] if t["name"] == "wai")
        assert {"df", "fmi", "riv"} <= set(term)
        assert 0 < term["fmi"] < 1 and term["riv"] >= 0 and term["df"] > 0
        # Robust companions are complete-case only: never beside the pooled numbers.
        assert model["robust_companions"] == "complete_cases_only"
        assert not {"hc3_p", "permutation_p", "bf10", "bootstrap_ci_low"} & set(term)
        assert "influence" not in model and "bayes_factor" not in model
        cc = model["complete_cases"]
        assert cc["missing_method"] == "complete_cases"
        cc_term = next(t for t in cc["terms"] if t["name"] == "wai")
        assert "hc3_p" in cc_term and "permutation_p" in cc_term
        assert cc["n"] < model["n"] or model["timepoint"] == "pre_s3"
    caps_s4 = next(m for m in models if m["key"] == "caps~wai@s4")
    assert caps_s4["complete_cases"]["n"] == len(frame) - 5  # 3 alliance + 2 outcome gaps


def test_multiplicity_runs_on_pooled_p(mi_document):
    from alliance.inference.multiplicity import adjust_pvalues

    p = [next(t["p"] for t in m["terms"] if t["name"] == "wai") for m in mi_document["models"]]
    adjusted = adjust_pvalues(np.array(p), "holm")
    got = [m["p_adjusted"] for m in mi_document["models"]]
    np.testing.assert_allclose(got, adjusted, rtol=1e-12)
    assert [m["survives_correction"] for m in mi_document["models"]] == [a < 0.05 for a in got]


def test_pooled_numbers_are_rubins_rules_on_the_completed_data(trial):
    plan = load_plan().with_overrides(
        missing_data="multiple_imputation", imputations=5, permutations=0, bootstrap=0
    )
    analysis = analyze(load_data(trial), plan, seed=8)
    mi = analysis.missing
    values = mi.imputed.values
    columns = mi.imputed.columns
    model = mi.models[1]  # caps~wai@s4
    y = values[:, :, columns.index("caps__post")]
    X = np.stack(
        [
            np.ones(y.shape),
            values[:, :, columns.index("caps__baseline")],
            values[:, :, columns.index("wai__s4")],
        ],
        axis=2,
    )
    fits = [np.linalg.lstsq(X[i], y[i], rcond=None)[0] for i in range(5)]
    np.testing.assert_allclose(model.pooled.estimate, np.mean(fits, axis=0), rtol=1e-10)
    fit = batch_ols(y, X)
    pooled = rubin_pool(fit.estimate, fit.variance, len(y[0]) - 3)
    np.testing.assert_allclose(model.pooled.p, pooled.p, rtol=1e-12)


def test_missing_data_record(mi_document):
    record = mi_document["missing_data"]
    assert record["method"] == "multiple_imputation" and record["performed"]
    assert sum(p["episodes"] for p in record["pattern"]) == record["episodes"] == 30
    assert {"wai__s4"} == set(record["pattern"][1]["missing"]) or any(
        p["missing"] == ["wai__s4"] for p in record["pattern"]
    )
    gaps = {v["name"]: v["missing"] for v in record["variables"]}
    assert gaps["wai__s4"] == 3 and gaps["caps__post"] == 2 and gaps["wai__s9"] == 0
    traces = {t["name"]: t for t in record["convergence"]}
    assert set(traces) == {"wai__s4", "caps__post", "iesr__baseline"}
    assert np.array(traces["wai__s4"]["mean"]).shape == (10, 6)  # iterations × chains
    assert len(record["comparison"]) == 6
    sensitivity = record["sensitivity"]
    assert 0.0 in sensitivity["deltas"]
    assert len(sensitivity["tipping_points"]) == 6
    at_zero = next(g for g in sensitivity["grid"] if g["delta"] == 0.0 and g["shift"] == "both")
    pooled = [m["survives_correction"] for m in mi_document["models"]]
    assert [m["survives_correction"] for m in at_zero["models"]] == pooled


def test_tipping_point_is_where_the_conclusion_changes(mi_document):
    sensitivity = mi_document["missing_data"]["sensitivity"]
    for k, point in enumerate(sensitivity["tipping_points"]):
        at_mar = point["survives_correction_at_mar"]
        for shift in ("alliance", "outcome", "both"):
            row = {
                g["delta"]: g["models"][k]["survives_correction"]
                for g in sensitivity["grid"]
                if g["shift"] == shift
            }
            for side, sign in (("below", -1), ("above", 1)):
                delta = point[shift][side]
                nearer = [d for d in row if 0 < d * sign < abs(delta or 99)]
                assert all(row[d] == at_mar for d in nearer)
                if delta is not None:
                    assert row[delta] != at_mar


def test_docs_describe_every_missing_data_key(mi_document):
    from tests.test_results_json_keys import _keys

    documented = set(re.findall(r"`([A-Za-z_0-9]+)`", DOCS.read_text(encoding="utf-8")))
    missing = sorted(_keys(mi_document) - documented)
    assert not missing, f"docs/results-json.md does not describe: {missing}"


def test_same_seed_same_results_with_one_or_two_workers(trial):
    plan = load_plan().with_overrides(
        missing_data="multiple_imputation", imputations=4, permutations=0, bootstrap=0
    )
    loaded = load_data(trial)
    one = results_document(analyze(loaded, plan, seed=3, workers=1))
    two = results_document(analyze(loaded, plan, seed=3, workers=2))
    assert json.dumps(one["models"]) == json.dumps(two["models"])
    assert json.dumps(one["missing_data"]) == json.dumps(two["missing_data"])


def test_cli_missing_mi_writes_pooled_results(trial, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["analyze", str(trial), "--out", str(out), "--missing", "mi", "--imputations", "3",
              *FAST],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "multiple imputation: 3 imputations" in result.output
    document = json.loads((out / "results.json").read_text("utf-8"))
    assert document["plan"]["missing_data"] == "multiple_imputation"
    assert document["models"][0]["imputations"] == 3
    cc = tmp_path / "cc"
    result = runner.invoke(app, ["analyze", str(trial), "--out", str(cc), "--missing", "cc", *FAST])
    assert result.exit_code == 0, result.output
    document = json.loads((cc / "results.json").read_text("utf-8"))
    assert document["models"][0]["missing_method"] == "complete_cases"
    assert document["missing_data"] == {"method": "complete_cases"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--missing", "mi", "--imputations", "0"], "--imputations"),
        (["--missing", "mi", "--imputations", "1"], "--imputations"),
        (["--missing", "maybe"], "--missing"),
    ],
)
def test_cli_usage_errors(trial, tmp_path, args, message):
    result = runner.invoke(app, ["analyze", str(trial), "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_nothing_missing_says_so_and_runs_complete_cases(tmp_path):
    path = tmp_path / "complete.csv"
    frame = scored_trial()
    frame = frame.loc[frame.notna().all(axis=1)]
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    result = runner.invoke(app, ["analyze", str(path), "--out", str(out), "--missing", "mi", *FAST])
    assert result.exit_code == 0, result.output
    assert "multiple imputation not run" in result.output
    document = json.loads((out / "results.json").read_text("utf-8"))
    assert document["missing_data"]["performed"] is False
    assert "no score the models use is missing" in document["missing_data"]["note"]
    assert all(m["missing_method"] == "complete_cases" for m in document["models"])


def test_a_variable_missing_for_every_episode_is_named(tmp_path):
    path = tmp_path / "empty_s9.csv"
    frame = scored_trial()
    frame["wai__s9"] = np.nan
    frame.to_csv(path, index=False)
    result = runner.invoke(
        app, ["analyze", str(path), "--out", str(tmp_path / "o"), "--missing", "mi", *FAST]
    )
    assert result.exit_code == 1
    assert "wai__s9" in result.output and "missing for every episode" in result.output
    assert "Traceback" not in result.output


def test_numeric_covariates_are_imputed_and_categorical_ones_are_not(tmp_path):
    frame = scored_trial()
    rng = np.random.default_rng(2)
    frame["age"] = rng.normal(40, 10, len(frame)).round()
    frame.loc[[4, 8], "age"] = np.nan
    frame["site"] = np.where(rng.random(len(frame)) < 0.5, "A", "B")
    frame.loc[[6], "site"] = None
    path = tmp_path / "covariates.csv"
    frame.to_csv(path, index=False)
    plan = load_plan().model_dump()
    plan.update(missing_data="multiple_imputation", imputations=3, covariates=["age", "site"])
    plan["inference"].update(permutations=0, bootstrap=0)
    from alliance.models.plan import AnalysisPlan

    document = results_document(analyze(load_data(path), AnalysisPlan(**plan), seed=1))
    record = document["missing_data"]
    assert "age" in record["visit_sequence"]
    assert record["complete_predictors"] == ["site[B]"]
    assert record["excluded"] == [
        {"participant_id": "P06", "reason": "site missing (a categorical covariate is not imputed)"}
    ]
    model = document["models"][0]
    assert model["n"] == len(frame) - 1
    assert [t["name"] for t in model["terms"]] == ["intercept", "baseline", "wai", "age", "site[B]"]
