"""The report's influence section: a figure per model marking exactly the participants whose
removal changes the corrected conclusion, a summary table, and no identifiers unless asked."""

from __future__ import annotations

import numpy as np
import pytest

from alliance.report.canvas import render_svg
from alliance.report.html import build_report
from alliance.report.influence import influence_figure, influence_rows, influence_table
from tests.test_report_html import make_analysis, participant_ids


@pytest.fixture(scope="module")
def analysis():
    # On this data set dropping one participant flips the Holm decision of a CAPS model.
    return make_analysis("article_like")


def _flipping(model) -> list[str]:
    return [r["participant_id"] for r in model.extras["influence"] if r["changes_conclusion"]]


def test_the_example_has_a_participant_who_changes_a_conclusion(analysis):
    assert any(_flipping(m) for m in analysis.models)


def test_figure_marks_exactly_the_flipping_participants(analysis):
    for model in analysis.models:
        figure = influence_figure(model, analysis.plan.alpha)
        left, right = figure.figure.axes[:2]
        dfbeta, _, p_without, flips = influence_rows(model)
        for ax, values in ((left, dfbeta), (right, p_without)):
            drawn = [c.get_offsets() for c in ax.collections]
            assert sum(len(d) for d in drawn) == model.fit.n  # every participant, once
            if flips.any():
                diamonds = np.asarray(drawn[1])
                np.testing.assert_allclose(diamonds[:, 1], values[flips])
            else:
                assert len(drawn) == 1
        n_flips = len(_flipping(model))
        assert "would change the conclusion" in figure.description
        word = {0: "zero", 1: "one", 2: "two"}.get(n_flips, str(n_flips))
        assert f"Leaving out {word} participant" in figure.description


def test_identifiers_only_with_show_ids(analysis):
    model = next(m for m in analysis.models if _flipping(m))
    hidden = render_svg(influence_figure(model, analysis.plan.alpha, show_ids=False))
    shown = render_svg(influence_figure(model, analysis.plan.alpha, show_ids=True))
    # Text is drawn as glyph paths; matplotlib writes each text as an <!-- text --> comment.
    for pid in participant_ids(analysis):
        assert pid not in hidden
    for pid in _flipping(model):
        assert f"<!-- {pid} -->" in shown
    report = build_report(analysis, show_ids=False).html
    for pid in participant_ids(analysis):
        assert pid not in report


def test_table_counts_flips_per_model(analysis):
    table = influence_table(analysis.models)
    assert table is not None
    rows = table.sections[0].rows
    assert [int(r[-1]) for r in rows] == [len(_flipping(m)) for m in analysis.models]
    assert [int(r[1]) for r in rows] == [m.fit.n for m in analysis.models]


def test_report_has_the_influence_table_and_figures_in_the_supplement(analysis):
    report = build_report(analysis)
    assert 'id="table-influence"' in report.html
    names = [f.name for f in report.figures if f.name.startswith("influence_")]
    assert len(names) == len(analysis.models)
    marker = '<section id="supplement-influence_of_single_participants">'
    section = report.html.split(marker, 1)[1].split("</section>", 1)[0]
    assert section.count("<figure") == len(analysis.models)
