"""The CONSORT-style participant flow: counts add up, match the ledger, and name no one."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from alliance.report.canvas import ReportFigure, render_png
from alliance.report.flow import (
    EM_PER_CHAR,
    FONT,
    PAD,
    describe_flow,
    flow_counts,
    flow_figure,
    flow_layout,
    flow_svg,
)
from tests.test_report_html import make_analysis, participant_ids

SVG = "{http://www.w3.org/2000/svg}"
NBSP = "\u00a0"  # holds "n = 8" and "session 4" together


@pytest.fixture(scope="module")
def analysis():
    return make_analysis("crossover_missing")


@pytest.fixture(scope="module")
def counts(analysis):
    return flow_counts(analysis.ledger)


def test_counts_hand_checked(counts):
    # crossover_missing.csv: C-M01..C-M10 allocated to MDMA; C-P01..C-P07 to placebo, of whom
    # all but C-P03 have an open-label phase.
    assert counts.enrolled == 17
    assert counts.arms == {"mdma": 10, "placebo": 7}
    assert (counts.crossed_over, counts.not_crossed_over) == (6, 1)
    assert counts.episodes == 16
    assert counts.episode_sources == {
        "randomised MDMA phase": 10,
        "open-label crossover after placebo": 6,
    }
    assert counts.no_episode == {"no MDMA exposure (placebo arm without an open-label phase)": 1}
    caps_s4 = next(m for m in counts.models if m.label == "caps~wai@s4")
    # C-M02 lacks WAI at session 4, C-M03 lacks CAPS at post: reasons in the plan's words.
    assert caps_s4.analysed == 14
    assert caps_s4.excluded == {
        "CAPS total missing at post-treatment": 1,
        "WAI total missing at session 4": 1,
    }


def test_counts_add_up_and_match_the_ledger(analysis, counts):
    ledger = analysis.ledger
    assert counts.enrolled == ledger.participants_in == sum(counts.arms.values())
    assert counts.crossed_over + counts.not_crossed_over == counts.arms["placebo"]
    assert counts.episodes == ledger.episodes == sum(counts.episode_sources.values())
    assert counts.episodes + sum(counts.no_episode.values()) == counts.enrolled
    assert Counter(e["reason"] for e in ledger.excluded()) == Counter(counts.no_episode)
    assert len(counts.models) == len(ledger.models) == 6
    for flow, model in zip(counts.models, ledger.models, strict=True):
        assert flow.analysed == len(model.included)
        assert flow.analysed + sum(flow.excluded.values()) == counts.episodes
        assert Counter(model.excluded.values()) == Counter(flow.excluded)


def test_counts_do_not_depend_on_row_order(analysis, counts):
    import dataclasses

    shuffled = analysis.ledger.participants.sample(frac=1.0, random_state=3)
    ledger = dataclasses.replace(analysis.ledger, participants=shuffled)
    assert flow_counts(ledger) == counts


def test_labels_name_models(analysis):
    labels = {m.spec.key: f"model {i}" for i, m in enumerate(analysis.models)}
    named = flow_counts(analysis.ledger, labels)
    assert [m.label for m in named.models] == [f"model {i}" for i in range(6)]


def test_svg_is_well_formed_accessible_and_shows_the_counts(analysis, counts):
    svg = flow_svg(counts)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Participant flow"
    assert root.find(f"{SVG}desc").text == describe_flow(counts)
    text = " ".join(t.text or "" for t in root.iter(f"{SVG}text")).replace(NBSP, " ")
    for needle in (
        "Participants in the data (n = 17)",
        "Randomised to MDMA (n = 10)",
        "Randomised to placebo (n = 7)",
        "MDMA treatment episodes (n = 16)",
        "analysed: n = 14",
    ):
        assert needle in text, needle
    boxes = root.findall(f".//{SVG}rect")
    # enrolled, 2 arms, crossover, no-episode, episodes, 6 models
    assert len(boxes) == 1 + 2 + 1 + 1 + 1 + 6


def test_flow_names_no_participant(analysis, counts):
    svg = flow_svg(counts)
    desc = describe_flow(counts)
    for pid in participant_ids(analysis):
        assert pid not in svg and pid not in desc


def test_layout_boxes_stay_inside_the_drawing(counts):
    layout = flow_layout(counts)
    for box in layout.boxes:
        assert box.x >= 0 and box.x + box.w <= layout.width
        assert box.y >= 0 and box.y + box.h <= layout.height
    # Boxes do not overlap one another.
    for i, a in enumerate(layout.boxes):
        for b in layout.boxes[i + 1 :]:
            apart = a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
            assert apart, (a.lines[0], b.lines[0])


def test_flow_png(counts):
    from PIL import Image

    figure = ReportFigure("participant_flow", "Participant flow", "d", "", flow_figure(counts))
    with Image.open(io.BytesIO(render_png(figure))) as png:
        assert png.info["dpi"] == pytest.approx((300, 300), abs=0.01)
        assert png.size[0] == pytest.approx(flow_layout(counts).width / 100 * 300, abs=2)


def test_long_reasons_wrap(analysis):
    import dataclasses

    people = analysis.ledger.participants.copy()
    people.loc[people["episode_phase"].isna(), "reason"] = "x " * 120
    ledger = dataclasses.replace(analysis.ledger, participants=people)
    layout = flow_layout(flow_counts(ledger))
    excluded = next(b for b in layout.boxes if b.lines[0][0].startswith("No MDMA episode"))
    assert len(excluded.lines) > 4
    chars = int((excluded.w - 2 * PAD) / (FONT * EM_PER_CHAR))
    assert all(len(text) <= chars for text, _ in excluded.lines)


def _svg_lines(counts) -> list[str]:
    root = ET.fromstring(flow_svg(counts))
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_counts_never_break_across_lines(counts):
    """ "(n = 6)" stays on one line: no line ends in "(n" or starts with "=" (as "(n\\n= 8)" did)."""
    lines = _svg_lines(counts)
    for line in lines:
        text = line.strip()
        assert not text.endswith("(n") and not text.endswith("n ="), line
        assert not text.startswith("="), line
    joined = " ".join(lines)
    assert f"(n{NBSP}={NBSP}6)" in joined  # crossed over, held together by no-break spaces


def test_a_number_stays_with_its_word_when_a_label_wraps(analysis):
    # 36 characters, one more than a line holds: the old wrapping left "4" alone on a line.
    long = {m.spec.key: "IES-R total ~ WAI total at session 4" for m in analysis.models}
    layout = flow_layout(flow_counts(analysis.ledger, long))
    for box in layout.boxes:
        for text, _ in box.lines:
            assert text.strip() not in ("4", "4)"), box.lines
            assert not text.rstrip().endswith("session"), box.lines


def test_boxes_name_scores_and_timepoints_in_words(counts):
    text = " ".join(_svg_lines(counts)).replace(NBSP, " ")
    assert "WAI total missing at session 4" in text
    assert "missing wai" not in text and " s4" not in text
