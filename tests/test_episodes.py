"""MDMA treatment episodes across the crossover (docs/data-layouts.md) and the participant ledger."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alliance.episodes.episodes import (
    EXCLUDED_NO_MDMA,
    EXCLUDED_PLACEBO_RULE,
    build_episodes,
)
from alliance.episodes.ledger import ModelLedger, build_ledger, participants_table

NAN = np.nan


def scored(rows):
    return pd.DataFrame(
        rows,
        columns=["participant_id", "phase", "arm", "caps__baseline", "caps__post", "wai__s4"],
    )


TRIAL = scored(
    [
        ("m1", "randomized", "mdma", 80.0, 30.0, 200.0),
        ("m2", "randomized", "mdma", 70.0, 20.0, 210.0),
        ("m2", "open_label", "mdma", 25.0, 15.0, 220.0),  # later open-label: not the episode
        ("p1", "randomized", "placebo", 75.0, 60.0, 180.0),
        ("p1", "open_label", "placebo", 58.0, 30.0, 190.0),  # own open-label baseline
        ("p2", "randomized", "placebo", 90.0, 85.0, 170.0),
        ("p2", "open_label", "placebo", NAN, 40.0, 185.0),  # baseline = end of placebo phase
        ("p3", "randomized", "placebo", 65.0, 64.0, 150.0),  # never crossed over
    ]
)


def test_mdma_arm_episode_is_the_randomised_phase_even_with_later_open_label():
    ep = build_episodes(TRIAL).frame.set_index("participant_id")
    assert ep.loc["m2", "episode_phase"] == "randomized"
    assert ep.loc["m2", "caps__baseline"] == 70.0
    assert ep.loc["m2", "caps__post"] == 20.0


def test_placebo_crossover_episode_uses_open_label_phase_and_its_own_baseline():
    ep = build_episodes(TRIAL).frame.set_index("participant_id")
    assert ep.loc["p1", "episode_phase"] == "open_label"
    assert ep.loc["p1", "caps__baseline"] == 58.0
    assert ep.loc["p1", "caps__post"] == 30.0
    assert ep.loc["p1", "baseline_borrowed"] == ""


def test_missing_open_label_baseline_is_the_end_of_the_placebo_phase():
    ep = build_episodes(TRIAL).frame.set_index("participant_id")
    assert ep.loc["p2", "caps__baseline"] == 85.0
    assert ep.loc["p2", "baseline_borrowed"] == "caps"


def test_placebo_without_crossover_is_excluded_with_reason():
    episodes = build_episodes(TRIAL)
    excluded = episodes.excluded.set_index("participant_id")
    assert list(excluded.index) == ["p3"]
    assert excluded.loc["p3", "reason"] == EXCLUDED_NO_MDMA
    assert len(episodes.frame) == 4


def test_randomized_only_rule_excludes_every_placebo_participant():
    episodes = build_episodes(TRIAL, rule="randomized_only")
    assert sorted(episodes.frame["participant_id"]) == ["m1", "m2"]
    assert set(episodes.excluded["reason"]) == {EXCLUDED_PLACEBO_RULE}


def test_last_mdma_rule_takes_the_open_label_phase():
    ep = build_episodes(TRIAL, rule="last_mdma").frame.set_index("participant_id")
    assert ep.loc["m2", "episode_phase"] == "open_label"
    assert ep.loc["m1", "episode_phase"] == "randomized"


def test_input_frame_is_not_modified():
    before = TRIAL.copy()
    build_episodes(TRIAL)
    pd.testing.assert_frame_equal(TRIAL, before)


def test_ledger_counts_add_up_and_model_exclusions_are_listed():
    episodes = build_episodes(TRIAL)
    ledger = build_ledger(participants_table(TRIAL), episodes, rows_in=8, rows_missing_value=0)
    model = ModelLedger("caps~wai@s4", ("m1", "m2", "p1"), {"p2": "missing wai at s4"})
    ledger = ledger.with_models([model])
    ledger.check()
    summary = ledger.to_dict()
    assert summary["participants_in"] == 5
    assert summary["episodes"] == 4
    assert summary["excluded"] == [{"participant_id": "p3", "reason": EXCLUDED_NO_MDMA}]
    frame = ledger.to_frame().set_index("participant_id")
    assert frame.loc["p2", "caps~wai@s4"] == "missing wai at s4"
    assert frame.loc["m1", "caps~wai@s4"] == "included"


def test_ledger_check_catches_a_lost_episode():
    episodes = build_episodes(TRIAL)
    ledger = build_ledger(participants_table(TRIAL), episodes, rows_in=8, rows_missing_value=0)
    broken = ledger.with_models([ModelLedger("m", ("m1",), {})])
    with pytest.raises(AssertionError):
        broken.check()


arms = st.sampled_from(["mdma", "placebo"])
phase_sets = st.sampled_from([("randomized",), ("randomized", "open_label"), ("open_label",)])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(arms, phase_sets), min_size=1, max_size=25), st.randoms())
def test_every_participant_has_one_episode_or_one_reason(participants, rnd):
    rows = []
    for i, (arm, phases) in enumerate(participants):
        for phase in phases:
            rows.append((f"id{i}", phase, arm, 70.0, 40.0, 200.0))
    rnd.shuffle(rows)
    frame = scored(rows)
    episodes = build_episodes(frame)
    ids = set(frame["participant_id"])
    in_episode = set(episodes.frame["participant_id"])
    excluded = set(episodes.excluded["participant_id"])
    assert in_episode | excluded == ids
    assert not in_episode & excluded
    assert episodes.frame["participant_id"].is_unique
    ledger = build_ledger(participants_table(frame), episodes, len(frame), 0)
    ledger.check()


def _one_at_a_time(scores: pd.DataFrame, rule: str) -> pd.DataFrame:
    """The episode rule applied to each participant in turn: the reference for the vectorised
    selection (first row of the chosen phase; open-label baseline from the placebo phase)."""
    rows = []
    for pid, group in scores.groupby("participant_id", sort=True):
        arm, phases = group["arm"].iloc[0], set(group["phase"])
        if arm == "mdma":
            if rule == "last_mdma" and "open_label" in phases:
                phase = "open_label"
            elif "randomized" in phases:
                phase = "randomized"
            else:
                phase = "open_label" if rule != "randomized_only" else None
        else:
            phase = "open_label" if rule != "randomized_only" and "open_label" in phases else None
        if phase is None or phase not in phases:
            continue
        row = group.loc[group["phase"] == phase].iloc[0].copy()
        borrowed = []
        if phase == "open_label" and "randomized" in phases:
            earlier = group.loc[group["phase"] == "randomized"].iloc[0]
            if pd.isna(row["caps__baseline"]) and pd.notna(earlier["caps__post"]):
                row["caps__baseline"] = earlier["caps__post"]
                borrowed.append("caps")
        rows.append((pid, phase, ",".join(borrowed), *row[["caps__baseline", "caps__post"]]))
    return pd.DataFrame(
        rows, columns=["participant_id", "episode_phase", "baseline_borrowed", "caps__baseline",
                       "caps__post"],
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "d", "e", "f"]),
            st.sampled_from(["randomized", "open_label"]),
            st.sampled_from(["mdma", "placebo"]),
            st.one_of(st.just(NAN), st.floats(0, 136)),
            st.one_of(st.just(NAN), st.floats(0, 136)),
        ),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(["first_mdma", "randomized_only", "last_mdma"]),
)
def test_vectorised_episodes_equal_the_rule_applied_participant_by_participant(rows, rule):
    frame = pd.DataFrame(
        rows, columns=["participant_id", "phase", "arm", "caps__baseline", "caps__post"]
    )
    frame["arm"] = frame.groupby("participant_id")["arm"].transform("first")  # one arm each
    frame["wai__s4"] = 200.0
    episodes = build_episodes(frame, rule).frame
    expected = _one_at_a_time(frame, rule)
    columns = list(expected.columns)
    pd.testing.assert_frame_equal(
        episodes[columns].astype(object), expected.astype(object), check_dtype=False
    )
