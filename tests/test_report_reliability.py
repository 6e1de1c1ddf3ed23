"""Reliability as the report gives it: over the analysed MDMA episodes, for what the plan
analyses, labelled from the definitions, with no omega below three items, and computed by the
analysis (``validate`` and ``load_data`` never fit a factor model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alliance.episodes.episodes import build_episodes, episode_items
from alliance.instruments import reliability
from alliance.instruments.registry import load_instruments
from alliance.models.plan import load_plan
from alliance.pipeline import analyze, load_data
from alliance.report.apa import to_text
from alliance.report.apa_tables import reliability_apa_table
from tests.conftest import small_trial

PLAN = load_plan().with_overrides(bootstrap=0, permutations=0)


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    path = tmp_path_factory.mktemp("rel") / "trial.csv"
    small_trial().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def analysis(trial):
    return analyze(load_data(trial), PLAN)


def test_load_data_fits_no_factor_model(trial, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("load_data must not compute reliability")

    monkeypatch.setattr(reliability, "mcdonald_omega", refuse)
    monkeypatch.setattr(reliability, "reliability_table", refuse)
    import alliance.pipeline as pipeline

    monkeypatch.setattr(pipeline, "reliability_table", refuse)
    loaded = load_data(trial)
    assert not hasattr(loaded, "reliability")


def test_reliability_counts_episodes_not_participant_phases(analysis):
    table = analysis.reliability
    # small_trial: 8 participants, 4 of them in two phases (12 participant-phases); 7 episodes.
    assert analysis.ledger.episodes == 7
    assert (table["n"] == 7).all()


def test_reliability_reports_what_the_plan_analyses(analysis):
    pairs = set(zip(analysis.reliability["scale"], analysis.reliability["timepoint"], strict=True))
    assert pairs == {
        ("caps", "baseline"), ("caps", "post"), ("iesr", "baseline"), ("iesr", "post"),
        ("wai", "pre_s3"), ("wai", "s4"), ("wai", "s9"),
    }  # fmt: skip
    assert list(analysis.reliability["label"].unique()) == [
        "CAPS-IV total severity",
        "IES-R total",
        "WAI total",
    ]


def test_reliability_uses_the_episodes_own_responses(analysis, trial):
    loaded = load_data(trial)
    episodes = build_episodes(loaded.scores)
    items = episode_items(loaded.items, episodes.frame, load_instruments())
    block = items[(items["instrument"] == "IESR") & (items["timepoint"] == "post")]
    matrix = block.pivot_table(index="participant_id", columns="item", values="value").to_numpy()
    assert matrix.shape[0] == 7
    row = analysis.reliability.set_index(["scale", "timepoint"]).loc[("iesr", "post")]
    np.testing.assert_allclose(row["alpha"], reliability.cronbach_alpha(matrix), rtol=1e-12)


def test_borrowed_baseline_brings_its_items(trial):
    """A crossover without its own open-label baseline borrows the placebo phase's post, for
    the items as for the score."""
    frame = small_trial()
    own = (frame["participant_id"] == "p1") & (frame["phase"] == "open_label")
    frame = frame.loc[~(own & (frame["timepoint"] == "baseline") & (frame["instrument"] == "IESR"))]
    items = frame.assign(value=frame["value"].astype("float64"), source_row=range(len(frame)))
    scores = load_data(trial).scores.copy()
    mask = (scores["participant_id"] == "p1") & (scores["phase"] == "open_label")
    for column in [c for c in scores.columns if c.startswith("iesr") and c.endswith("__baseline")]:
        scores.loc[mask, column] = np.nan
    episodes = build_episodes(scores)
    assert "iesr" in episodes.frame.set_index("participant_id").loc["p1", "baseline_borrowed"]
    chosen = episode_items(items, episodes.frame, load_instruments())
    p1 = chosen[
        (chosen["participant_id"] == "p1")
        & (chosen["instrument"] == "IESR")
        & (chosen["timepoint"] == "baseline")
    ]
    placebo_post = frame[
        (frame["participant_id"] == "p1")
        & (frame["phase"] == "randomized")
        & (frame["instrument"] == "IESR")
        & (frame["timepoint"] == "post")
    ]
    assert len(p1) == 22
    assert p1.sort_values("item")["value"].tolist() == (
        placebo_post.sort_values("item")["value"].astype("float64").tolist()
    )


def test_no_omega_below_three_items():
    rng = np.random.default_rng(1)
    common = rng.normal(size=(40, 1))
    two = common + rng.normal(scale=0.5, size=(40, 2))
    row = reliability.scale_reliability(two, "X", "s4", "x", "X scale")
    assert np.isfinite(row["alpha"]) and np.isnan(row["omega"])
    assert row["note"] == "omega needs at least 3 items"
    three = common + rng.normal(scale=0.5, size=(40, 3))
    assert np.isfinite(reliability.scale_reliability(three, "X", "s4", "x", "X")["omega"])


def test_table_two_is_labelled_and_says_why_omega_is_missing(analysis):
    table = reliability_apa_table(analysis.reliability, analysis.ledger.episodes)
    assert table is not None and table.n_rows == 7
    cells = " ".join(c for s in table.sections for r in s.rows for c in r)
    heads = " ".join(to_text(s.label) for s in table.sections)
    for code in ("caps", "iesr", "wai", "CAPS4", "IESR", "pre_s3", "s4"):
        assert code not in cells.split() and code not in heads.split(), code
    assert "Clinician-Administered PTSD Scale for DSM-IV" in heads
    note = to_text(table.note)
    assert "7 MDMA treatment episodes analysed" in note
    assert "omega needs more complete cases than items" in note  # 7 cases, 17+ items


def test_scored_input_has_no_reliability(trial, tmp_path):
    scored = tmp_path / "scores.csv"
    load_data(trial).scores.to_csv(scored, index=False)
    result = analyze(load_data(scored), PLAN)
    assert result.reliability is None
    assert reliability_apa_table(result.reliability) is None


def test_reliability_table_without_targets_keeps_every_sum_score():
    items = small_trial().assign(value=lambda f: f["value"].astype("float64"))
    table = reliability.reliability_table(items)
    assert {"caps_b", "iesr_hyperarousal", "wai_goal"} <= set(table["scale"])
    assert not table["scale"].str.endswith("_mean").any()
    assert isinstance(table, pd.DataFrame)
