"""Figures: the numbers they draw (against statsmodels), accessible and deterministic SVG,
no identifiers unless asked for, and SVG that can sit inline in one page."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.graphics.gofplots import ProbPlot
from statsmodels.stats.outliers_influence import OLSInfluence
from statsmodels.stats.weightstats import DescrStatsW

from alliance.report import canvas
from alliance.report import figures as F
from alliance.report import plot_numbers as numbers
from alliance.report.html import score_ranges
from tests.test_report_html import make_analysis, participant_ids

RTOL = 1e-10


@pytest.fixture(scope="module")
def analysis():
    return make_analysis("crossover_missing")


def _statsmodels_fit(model):
    return sm.OLS(model.data.y, model.data.X).fit()


# --------------------------------------------------------------------------- numbers drawn


@pytest.mark.parametrize("level", [0.95, 0.9])
def test_mean_ci_matches_statsmodels(analysis, level):
    values = analysis.episodes.frame["wai__s4"].to_numpy(dtype=float)
    mean, low, high, n = numbers.mean_ci(values, level)
    finite = values[np.isfinite(values)]
    assert n == len(finite) < len(values)  # missing values are left out
    expected = DescrStatsW(finite).tconfint_mean(alpha=1 - level)
    np.testing.assert_allclose([mean, low, high], [finite.mean(), *expected], rtol=RTOL)


def test_mean_ci_small_samples():
    assert numbers.mean_ci(np.array([np.nan]))[3] == 0
    mean, low, high, n = numbers.mean_ci(np.array([4.0, np.nan]))
    assert (mean, n) == (4.0, 1) and np.isnan(low) and np.isnan(high)


def test_added_variable_residuals_match_statsmodels_and_give_b(analysis):
    for model in analysis.models:
        j = model.data.term
        ex, ey = numbers.added_variable_residuals(model.data.y, model.data.X, j)
        rest = np.delete(model.data.X, j, axis=1)
        np.testing.assert_allclose(ex, sm.OLS(model.data.X[:, j], rest).fit().resid, atol=1e-9)
        np.testing.assert_allclose(ey, sm.OLS(model.data.y, rest).fit().resid, atol=1e-9)
        # Frisch–Waugh–Lovell: the slope through the origin is the full model's coefficient.
        slope = float(ex @ ey / (ex @ ex))
        np.testing.assert_allclose(slope, model.fit.estimate[j], rtol=1e-10)


def test_standardised_effect_is_the_ci_of_the_standardised_model(analysis):
    """β and its CI equal the coefficient and CI of a fit on z-scored outcome and alliance."""
    for model in analysis.models:
        j = model.data.term
        X = model.data.X.copy()
        y = model.data.y
        X[:, j] = (X[:, j] - X[:, j].mean()) / X[:, j].std(ddof=1)
        z = (y - y.mean()) / y.std(ddof=1)
        fit = sm.OLS(z, X).fit()
        low, high = fit.conf_int(alpha=model.fit.alpha)[j]
        beta = numbers.standardised_effect(model)
        np.testing.assert_allclose(beta, (fit.params[j], low, high), rtol=1e-9)
        np.testing.assert_allclose(beta[0], model.fit.std_beta[j], rtol=1e-12)


def test_standardised_residuals_match_statsmodels(analysis):
    for model in analysis.models:
        expected = OLSInfluence(_statsmodels_fit(model)).resid_studentized_internal
        np.testing.assert_allclose(numbers.standardised_residuals(model), expected, rtol=1e-9)


@pytest.mark.parametrize("n", [3, 10, 11, 22])
def test_normal_quantiles_are_r_qqnorm_positions(n):
    # R's qqnorm uses ppoints: a = 3/8 up to n = 10, 1/2 above; statsmodels' ProbPlot takes a.
    a = 0.375 if n <= 10 else 0.5
    expected = ProbPlot(np.arange(n, dtype=float), a=a).theoretical_quantiles
    np.testing.assert_allclose(numbers.normal_quantiles(n), expected, rtol=1e-12)


# --------------------------------------------------------------------------- SVG


@pytest.fixture(scope="module")
def figures(analysis):
    ranges = score_ranges(analysis)
    model = analysis.models[0]
    return {
        "trajectory": F.trajectory_figure(
            analysis.episodes.frame, "wai", ("pre_s3", "s4", "s9"), "WAI total", ranges
        ),
        "forest": F.forest_figure(analysis.models),
        "added_variable": F.added_variable_figure(model),
        "residuals": F.residual_figure(model, ranges=ranges),
    }


@pytest.fixture(scope="module")
def svgs(figures):
    return {key: canvas.render_svg(f) for key, f in figures.items()}


@pytest.mark.parametrize("key", ["trajectory", "forest", "added_variable", "residuals"])
def test_each_figure_is_titled_accessible_svg(figures, svgs, key):
    figure, svg = figures[key], svgs[key]
    assert svg.lstrip().startswith("<?xml")
    assert "<svg" in svg
    opening = re.search(r"<svg\b[^>]*>", svg).group(0)
    assert 'role="img"' in opening and f'aria-label="{figure.title}"' in opening
    assert f"<title>{figure.title}</title>" in svg
    assert re.search(r"<desc>[^<]{60,}</desc>", svg)
    assert figure.title and figure.caption
    assert svg.count("<path") > 20  # something is drawn
    # Text is stored as glyph paths, with the string in a comment: the visible title is there.
    assert f"<!-- {figure.title} -->" in svg


def test_axis_labels_carry_units(svgs):
    assert "<!-- WAI total (36–252) -->" in svgs["trajectory"]
    assert "<!-- Fitted CAPS total, post-treatment (0–136) -->" in svgs["residuals"]
    assert "(residual, points) -->" in svgs["added_variable"]
    assert "<!-- Standardised $\\beta$ with 95% CI (SD units) -->" in svgs["forest"]


def test_okabe_ito_colours(svgs):
    assert "#0072b2" in svgs["forest"].lower()  # blue: CAPS
    assert "#d55e00" in svgs["forest"].lower()  # vermillion: IES-R


def test_svg_is_byte_identical_for_the_same_input(analysis, svgs):
    again = canvas.render_svg(F.forest_figure(analysis.models))
    assert again == svgs["forest"]
    model = analysis.models[0]
    assert canvas.render_svg(F.added_variable_figure(model)) == svgs["added_variable"]
    assert "<dc:date>" not in again  # no timestamp


def test_rendering_twice_gives_the_same_svg(figures, svgs):
    assert canvas.render_svg(figures["residuals"]) == svgs["residuals"]


def test_no_identifiers_unless_show_ids(analysis, svgs):
    ids = participant_ids(analysis)
    for svg in svgs.values():
        assert not [pid for pid in ids if pid in svg]
    model = next(m for m in analysis.models if m.extras["diagnostics"]["influential"])
    flagged = [c["participant_id"] for c in model.extras["diagnostics"]["influential"]]
    hidden = canvas.render_svg(F.residual_figure(model)) + canvas.render_svg(
        F.added_variable_figure(model)
    )
    shown = canvas.render_svg(F.residual_figure(model, show_ids=True))
    shown += canvas.render_svg(F.added_variable_figure(model, show_ids=True))
    for pid in flagged:
        assert pid not in hidden
        assert f"<!-- {pid} -->" in shown
    trajectories = canvas.render_svg(
        F.trajectory_figure(analysis.episodes.frame, "wai", ("s4",), "WAI", show_ids=True)
    )
    frame = analysis.episodes.frame
    observed = frame.loc[frame["wai__s4"].notna(), "participant_id"]
    assert 0 < len(observed) < len(frame)
    assert all(f"<!-- {pid} -->" in trajectories for pid in observed)
    assert not any(
        pid in trajectories for pid in frame.loc[frame["wai__s4"].isna(), "participant_id"]
    )


def test_inline_svg_prefixes_every_id_and_reference(svgs):
    inline = canvas.inline_svg(svgs["residuals"], "fig9")
    assert inline.startswith("<svg")
    assert "<?xml" not in inline and "<!DOCTYPE" not in inline and "<metadata>" not in inline
    ids = re.findall(r'\bid="([^"]+)"', inline)
    assert ids and all(i.startswith("fig9-") for i in ids)
    assert len(ids) == len(set(ids))
    refs = re.findall(r'href="#([^"]+)"', inline) + re.findall(r"url\(#([^)]+)\)", inline)
    assert refs and set(refs) <= set(ids)


def test_inline_figures_share_no_id(svgs):
    ids = Counter()
    for i, svg in enumerate(svgs.values()):
        ids.update(re.findall(r'\bid="([^"]+)"', canvas.inline_svg(svg, f"f{i}")))
    assert max(ids.values()) == 1


def test_axis_label():
    assert canvas.axis_label("CAPS total", "caps", {"caps": (0.0, 136.0)}) == "CAPS total (0–136)"
    assert canvas.axis_label("IES-R mean", "m", {"m": (0.0, 4.0)}) == "IES-R mean (0–4)"
    assert canvas.axis_label("CAPS total", "caps", {}) == "CAPS total (points)"


def test_a_large_trial_draws_trajectory_quantile_bands_and_says_so():
    rng = np.random.default_rng(0)
    n = 450
    frame = pd.DataFrame(
        {"participant_id": [f"P{i}" for i in range(n)]}
        | {f"wai__{t}": rng.normal(200, 20, n) for t in ("pre_s3", "s4", "s9")}
    )
    columns = ["wai__pre_s3", "wai__s4", "wai__s9"]
    figure = F.trajectory_figure(frame, "wai", ("pre_s3", "s4", "s9"), "WAI total")
    assert "25–75 % and 10–90 % ranges" in figure.caption and "450 participants" in figure.caption
    assert "mean of all participants" in figure.caption
    assert figure.summary and "450" in figure.summary
    ax = figure.figure.axes[0]
    # No line per participant: the median line, the bands and the mean.
    median = next(line for line in ax.lines if line.get_label() == "Median")
    np.testing.assert_allclose(median.get_ydata(), frame[columns].median())
    assert all(len(line.get_ydata()) <= 3 for line in ax.lines)
    means = ax.containers[0].lines[0].get_ydata()
    np.testing.assert_allclose(means, frame[columns].mean())
    again = F.trajectory_figure(frame, "wai", ("pre_s3", "s4", "s9"), "WAI total")
    assert canvas.render_svg(figure) == canvas.render_svg(again)


def test_a_small_trial_draws_every_participant_and_summarises_nothing(analysis):
    figure = F.trajectory_figure(analysis.episodes.frame, "wai", ("pre_s3", "s4", "s9"), "WAI")
    assert figure.summary == "" and "one grey line per participant" in figure.caption
    model = analysis.models[0]
    for made in (F.added_variable_figure(model), F.residual_figure(model)):
        assert made.summary == ""
        offsets = made.figure.axes[0].collections[0].get_offsets()
        assert len(offsets) == model.fit.n  # every participant a point


def test_a_large_models_point_clouds_are_binned_and_say_so():
    from alliance.models.fit import fit_model, model_data
    from alliance.models.plan import load_plan
    from alliance.report.summaries import MAX_POINTS, QQ_POINTS, TAIL_POINTS

    rng = np.random.default_rng(3)
    n = MAX_POINTS + 300
    episodes = pd.DataFrame(
        {
            "participant_id": [f"P{i:04d}" for i in range(n)],
            "caps__baseline": rng.normal(80, 12, n),
            "wai__s4": rng.normal(200, 20, n),
        }
    )
    episodes["caps__post"] = 30 + 0.3 * episodes["caps__baseline"] + rng.normal(0, 10, n)
    spec = next(s for s in load_plan().model_specs() if s.key == "caps~wai@s4")
    model = fit_model(model_data(episodes, spec), 0.05)
    av = F.added_variable_figure(model)
    assert "hexagon" in av.caption and av.summary
    cells = av.figure.axes[0].collections[0]
    assert int(cells.get_array().sum()) == n  # the density counts every participant
    residuals = F.residual_figure(model)
    assert "hexagon" in residuals.caption and residuals.summary
    qq = residuals.figure.axes[1].collections[0].get_offsets()
    assert len(qq) <= QQ_POINTS + 2 * TAIL_POINTS
    fit = model.fit
    standard = np.sort(np.asarray(fit.residuals / (fit.sigma * np.sqrt(1 - fit.leverage))))
    # the most extreme residuals are always drawn
    np.testing.assert_allclose(np.sort(qq[:, 1])[[0, -1]], standard[[0, -1]])
