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


# --------------------------------------------------------------------------- the log p axis


def _with_p_without(model, values):
    import dataclasses

    rows = [
        {**row, "p_without": float(p)}
        for row, p in zip(model.extras["influence"], values, strict=False)
    ]
    return dataclasses.replace(model, extras={**model.extras, "influence": rows})


def _p_axis_labels(model, alpha=0.05):
    """The right panel's drawn y tick labels (text, bounding box) inside the axis range."""
    figure = influence_figure(model, alpha).figure
    renderer = figure.canvas.get_renderer()
    figure.draw(renderer)
    right = figure.axes[1]
    low, high = right.get_ylim()
    shown = []
    for tick in [*right.yaxis.get_major_ticks(), *right.yaxis.get_minor_ticks()]:
        label = tick.label1
        if label.get_visible() and label.get_text() and low <= tick.get_loc() <= high:
            shown.append((label.get_text(), label.get_window_extent(renderer)))
    return shown


@pytest.mark.parametrize(
    ("low", "high"),
    [(0.02, 0.3), (0.04, 0.06), (0.5, 0.99), (1e-6, 0.9), (0.0301, 0.0309), (1e-40, 1e-30)],
)
def test_p_axis_labels_never_overlap_and_cover_the_range(analysis, low, high):
    model = analysis.models[0]
    values = np.geomspace(low, high, model.fit.n)
    shown = _p_axis_labels(_with_p_without(model, values))
    assert len(shown) >= 2, shown
    for i, (_, a) in enumerate(shown):
        for _, b in shown[i + 1 :]:
            assert not a.overlaps(b), [t for t, _ in shown]
    texts = [t for t, _ in shown]
    assert all("e" not in t for t in texts), texts  # plain decimals or powers of ten


def test_p_axis_ticks_are_plain_and_explicit():
    from alliance.report.influence import p_axis_ticks, p_tick_label

    ticks, (low, high) = p_axis_ticks(np.array([0.013, 0.2]))
    assert [p_tick_label(t) for t in ticks] == ["0.01", "0.02", "0.05", "0.1", "0.2"]
    assert low < 0.013 and high > 0.2
    ticks, _ = p_axis_ticks(np.array([1e-8, 0.9]))
    assert 2 <= len(ticks) <= 7 and ticks[-1] == 1.0
    assert p_tick_label(1e-8) == "10\u207b\u2078"
    assert p_tick_label(2e-5) == "2\u00d710\u207b\u2075"
    ticks, (low, high) = p_axis_ticks(np.array([0.0301, 0.0309]))
    assert len(ticks) == 2 and low <= ticks[0] and ticks[-1] <= high


def test_p_values_that_underflow_to_zero_are_drawn_at_a_labelled_floor(analysis):
    """At a very large n, leave-one-out p-values underflow to 0: the log axis must still show
    them (at its floor, labelled as below it), not an empty panel."""
    from dataclasses import replace

    from alliance.report.influence import P_FLOOR, influence_figure

    model = analysis.models[0]
    records = [{**r, "p_without": 0.0} for r in model.extras["influence"]]
    underflowed = replace(model, extras={**model.extras, "influence": records})
    figure = influence_figure(underflowed, 0.05)
    right = figure.figure.axes[1]
    points = np.concatenate([c.get_offsets()[:, 1] for c in right.collections])
    assert len(points) == len(records) and np.all(points == P_FLOOR)
    low, high = right.get_ylim()
    assert 0 < low < P_FLOOR < high
    labels = [t.get_text() for t in right.yaxis.get_majorticklabels()]
    assert labels[0].startswith("<10") and len(labels) >= 2
    assert "axis floor" in figure.caption
