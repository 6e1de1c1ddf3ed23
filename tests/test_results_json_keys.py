"""results.json keys a reader joins and reproduces with: each model's key and label, the
resampling counts and seed beside the numbers, software versions, the Bayes factor's log base,
reliability; and docs/results-json.md describes every key the document has."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from alliance.models.plan import load_plan
from alliance.pipeline import analyze, load_data
from alliance.report.results_json import results_document
from tests.conftest import small_trial

DOCS = Path(__file__).parents[1] / "docs" / "results-json.md"
PLAN = load_plan().with_overrides(bootstrap=200, permutations=100)


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    path = tmp_path_factory.mktemp("json") / "trial.csv"
    small_trial().to_csv(path, index=False)
    return results_document(analyze(load_data(path), PLAN, seed=5))


def test_every_model_has_the_ledger_key_and_a_label_in_words(document):
    ledger_keys = [m["model"] for m in document["ledger"]["models"]]
    assert [m["key"] for m in document["models"]] == ledger_keys
    assert ledger_keys[1] == "caps~wai@s4"
    labels = [m["label"] for m in document["models"]]
    assert labels[1] == "CAPS total at post-treatment ~ WAI total at session 4"
    assert labels[0] == (
        "CAPS total at post-treatment ~ WAI total before session 3 (first MDMA session)"
    )
    assert len(set(labels)) == len(labels)
    for label in labels:
        assert not re.search(r"\b(caps|iesr|wai|s4|s9|pre_s3)\b", label), label


def test_resampling_counts_and_seed_sit_beside_the_numbers(document):
    inference = document["inference"]
    assert inference["seed"] == document["seed"] == 5
    assert inference["bootstrap_resamples"] == 200
    assert inference["permutations"] == 100
    assert inference["ci_level"] == pytest.approx(0.95)
    for k, model in enumerate(document["models"]):
        resampling = model["resampling"]
        assert resampling["seed"] == [5, k]
        assert resampling["bootstrap_resamples"] == 200
        assert resampling["bootstrap_resamples_used"] == model["bootstrap"]["resamples_used"]
        assert resampling["permutations"] == 100


def test_software_versions(document):
    software = document["software"]
    assert set(software) >= {"alliance", "python", "numpy", "scipy", "pandas", "statsmodels"}
    assert software["alliance"] == document["alliance_version"]
    assert all(re.match(r"^\d+\.\d+", v) for v in software.values()), software


def test_log_bf10_says_its_base(document):
    for model in document["models"]:
        bayes = model["bayes_factor"]
        assert bayes["log_base"] == "e"
        bf10 = next(t["bf10"] for t in model["terms"] if "bf10" in t)
        assert math.exp(bayes["log_bf10"]) == pytest.approx(bf10, rel=1e-12)


def test_reliability_is_kept(document):
    rows = document["reliability"]
    assert {(r["scale"], r["timepoint"]) for r in rows} >= {("wai", "s4"), ("caps", "post")}
    assert all(r["n"] == document["ledger"]["episodes"] for r in rows)


def _keys(value, parent: str = "") -> set[str]:
    """Every key name in the document; the per-term keys of `vif` and `vif_df` are term names."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, child in value.items():
            found.add(key)
            if key not in ("vif", "vif_df"):
                found |= _keys(child, key)
    elif isinstance(value, list):
        for child in value:
            found |= _keys(child, parent)
    return found


def test_docs_describe_every_key(document):
    documented = set(re.findall(r"`([A-Za-z_0-9]+)`", DOCS.read_text(encoding="utf-8")))
    missing = sorted(_keys(document) - documented)
    assert not missing, f"docs/results-json.md does not describe: {missing}"


def test_readme_and_architecture_link_the_key_reference():
    root = DOCS.parents[1]
    for page in ("README.md", "docs/architecture.md"):
        assert "docs/results-json.md" in (root / page).read_text(encoding="utf-8"), page
