"""Readable names for codes, from data: instrument definitions and instruments/labels.toml."""

from __future__ import annotations

import pytest

from alliance.instruments import labels
from alliance.instruments.registry import load_instruments


@pytest.mark.parametrize(
    ("code", "label", "phrase", "short"),
    [
        ("pre_s3", "before session 3 (first MDMA session)", "before session 3 (first MDMA session)",
         "before session 3"),
        ("s4", "session 4", "at session 4", "session 4"),
        ("s9", "session 9", "at session 9", "session 9"),
        ("baseline", "baseline", "at baseline", "baseline"),
        ("post", "post-treatment", "at post-treatment", "post-treatment"),
        ("pre_s5", "before session 5", "before session 5", "before session 5"),
        ("post_s7", "after session 7", "after session 7", "after session 7"),
        ("follow_up_12m", "follow up 12m", "at follow up 12m", "follow up 12m"),
    ],
)  # fmt: skip
def test_timepoint_names(code, label, phrase, short):
    assert labels.timepoint_label(code) == label
    assert labels.timepoint_phrase(code) == phrase
    assert labels.timepoint_short(code) == short


def test_score_labels_come_from_the_definitions():
    definitions = load_instruments()
    for code, inst in definitions.items():
        for score in inst.scores:
            assert labels.score_label(score.name, [code]) == score.label
    assert labels.score_label("wai") == "WAI total"  # three WAI forms, one label
    assert labels.score_label("iesr_hyperarousal") == "IES-R Hyperarousal"
    # CAPS-IV and CAPS-5 both score `caps`: without the instrument, the neutral label.
    assert labels.score_label("caps") == "CAPS total severity"
    assert labels.score_label("caps", ["CAPS5"]) == "CAPS-5 total severity"
    assert labels.score_label("age") == "age"  # not a score: left as the plan names it


def test_missing_text_names_score_and_timepoint_in_words():
    assert labels.missing_text("wai__s9") == "WAI total missing at session 9"
    assert labels.missing_text("iesr__baseline") == "IES-R total missing at baseline"
    assert labels.missing_text("caps__post", {"caps": "CAPS total"}) == (
        "CAPS total missing at post-treatment"
    )
    assert labels.missing_text("age") == "age missing"
    assert labels.column_label("wai__pre_s3") == "WAI total before session 3 (first MDMA session)"


def test_every_plan_timepoint_of_the_bundled_plan_has_a_label():
    from alliance.models.plan import load_plan

    plan = load_plan()
    for predictor in plan.predictors:
        for t in predictor.timepoints:
            assert labels.timepoint_label(t) != t, t
