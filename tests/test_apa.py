"""APA number formatting (strings checked by hand against the APA Publication Manual, 7th ed.)
and the methods and results paragraphs written from a plan and its fitted models."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from alliance.models.plan import load_plan
from alliance.report import apa, apa_text
from tests.test_report_html import make_analysis

M = "\u2212"  # the true minus sign APA typesetting uses


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.234, "1.23"),
        (1.235, "1.24"),  # 1.235 is stored as 1.23500000000000009770: rounds up
        (-0.4567, f"{M}0.46"),
        (-0.004, "0.00"),  # never "−0.00"
        (0.0, "0.00"),
        (131.025, "131.03"),  # stored as 131.02500000000000568
        (12.0, "12.00"),
        (float("nan"), "\u2014"),
        (None, "\u2014"),
        (float("inf"), "\u2014"),
    ],
)
def test_fmt_num(value, expected):
    assert apa.fmt_num(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.412, ".41"),
        (-0.4, f"{M}.40"),
        (-0.005, f"{M}.01"),  # stored just above 0.005 in magnitude: −.01
        (0.0, ".00"),
        (1.0, "1.00"),  # a β can exceed 1; then the leading digit stays
        (-1.234, f"{M}1.23"),
    ],
)
def test_fmt_unit_drops_leading_zero(value, expected):
    assert apa.fmt_unit(value) == expected


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0.0321, ".032"),
        (0.05, ".050"),
        (0.001, ".001"),
        (0.0009999, "< .001"),
        (1e-12, "< .001"),
        (0.0, "< .001"),
        (0.0014, ".001"),
        (0.0015, ".002"),  # 0.0015 is stored as 0.00150000000000000003
        (0.5, ".500"),
        (0.9994, ".999"),
        (0.9996, "> .999"),  # would print "1.000"
        (1.0, "> .999"),
        (float("nan"), "\u2014"),
    ],
)
def test_fmt_p(p, expected):
    assert apa.fmt_p(p) == expected


def test_p_equals():
    assert apa.p_equals(0.0123) == "= .012"
    assert apa.p_equals(0.00001) == "< .001"
    assert apa.p_equals(1.0) == "> .999"


def test_fmt_ci():
    assert apa.fmt_ci(-0.8012, -0.0999) == f"[{M}0.80, {M}0.10]"
    assert apa.fmt_ci(-0.61, 0.176, unit=True) == f"[{M}.61, .18]"
    assert apa.fmt_ci(float("nan"), 1.0) == "[\u2014, 1.00]"


@pytest.mark.parametrize(
    ("bf", "expected"),
    [
        (3.456, "3.46"),
        (0.25, "0.25"),
        (999.994, "999.99"),
        (12345.0, "1.23 \u00d7 10^4"),
        (0.00123, f"1.23 \u00d7 10^{M}3"),
        (float("nan"), "\u2014"),
    ],
)
def test_fmt_bf(bf, expected):
    assert apa.fmt_bf(bf) == expected


def test_fmt_level():
    assert apa.fmt_level(0.95) == "95%"
    assert apa.fmt_level(1 - 0.05) == "95%"
    assert apa.fmt_level(0.975) == "97.5%"


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("pre_s3", "before session 3 (first MDMA session)"),
        ("pre_s5", "before session 5"),
        ("post_s5", "after session 5"),
        ("s4", "session 4"),
        ("s12", "session 12"),
        ("baseline", "baseline"),
        ("post", "post-treatment"),
        ("follow_up_12m", "follow up 12m"),
    ],
)
def test_timepoint_label(code, label):
    assert apa.timepoint_label(code) == label


def test_series_uses_serial_comma():
    assert apa.series([]) == ""
    assert apa.series(["a"]) == "a"
    assert apa.series(["a", "b"]) == "a and b"
    assert apa.series(["a", "b", "c"], "or") == "a, b, or c"


def test_runs_join_and_text():
    runs = apa.join("t(", apa.italic("x"), ") = ", "")
    assert [r.text for r in runs] == ["t(", "x", ") = "]  # empty runs are dropped
    assert runs[1].italic and not runs[0].italic
    assert apa.to_text(runs) == "t(x) = "


# --------------------------------------------------------------------------- paragraphs


@pytest.fixture(scope="module")
def analysis():
    return make_analysis("article_like")


def test_methods_paragraph_describes_the_plan(analysis):
    text = apa.to_text(apa_text.methods_paragraph(analysis.plan, analysis.models, 17, "alliance X"))
    assert "first MDMA exposure" in text
    assert "(CAPS total and IES-R total)" in text
    # A label's own parentheses become brackets inside the sentence's (APA 7th ed., §6.10).
    assert "(before session 3 [first MDMA session], session 4, and session 9)" in text
    assert "six ordinary least-squares models" in text
    assert "Holm procedure (Holm, 1979) across all six alliance tests" in text
    assert "α = .05" in text
    assert "random seed 17" in text
    # Every analysis reports HC3 and, by default, Freedman–Lane permutation p-values.
    assert "heteroscedasticity-consistent (HC3) standard errors" in text
    assert "Freedman–Lane permutation p-values (10,000 permutations" in text
    assert "(BCa) bootstrap 95% confidence intervals (10,000 case resamples" in text
    assert "default Bayes factors for adding alliance to the baseline model" in text
    assert "r = 0.354" in text


def test_methods_paragraph_follows_plan_changes(analysis):
    plan = load_plan().with_overrides(adjust="bh", family="per_outcome")
    plan = plan.model_copy(update={"covariates": ("age",), "episode_rule": "randomized_only"})
    text = apa.to_text(apa_text.methods_paragraph(plan, analysis.models, 0, "alliance X"))
    assert "Benjamini–Hochberg" in text and "within each outcome" in text
    assert "with age as additional covariates" in text
    assert "Only randomised-phase MDMA treatment episodes" in text
    none = load_plan().with_overrides(adjust="none")
    assert "not adjusted for multiple comparisons" in apa.to_text(
        apa_text.methods_paragraph(none, analysis.models, 0, "x")
    )


def test_methods_paragraph_names_robust_companions_present(analysis):
    import dataclasses

    models = [
        dataclasses.replace(m, extras={**m.extras, "term": {"hc3_p": 0.1}}) for m in analysis.models
    ]
    text = apa.to_text(apa_text.methods_paragraph(analysis.plan, models, 0, "x"))
    assert "HC3" in text
    assert "permutation" not in text and "bootstrap" not in text and "Bayes" not in text


def test_effect_runs_hand_checked(analysis):
    # CAPS ~ WAI at session 4 in article_like; R's lm gives (tests/fixtures/r/models):
    # b = -0.546021, CI [-0.893531, -0.198511], beta = -0.519645, t = -3.288636 on 19 df,
    # p = 0.003863, Holm p = 0.022281, delta R2 = 0.256774, f2 = 0.569217.
    model = next(m for m in analysis.models if m.spec.key == "caps~wai@s4")
    runs = apa_text.effect_runs(model)
    assert apa.to_text(runs) == (
        f"b = {M}0.55, 95% CI [{M}0.89, {M}0.20], β = {M}.52, t(19) = {M}3.29, p = .004, "
        "Holm-adjusted p = .022, ΔR² = .26, f² = 0.57"
    )
    assert "adjusted" not in apa.to_text(apa_text.effect_runs(model, "none"))
    assert "Benjamini–Hochberg-adjusted p" in apa.to_text(apa_text.effect_runs(model, "bh"))
    assert [r.text for r in runs if r.italic] == ["b", "β", "t", "p", "p", "R", "f"]


def test_results_paragraph_direction_and_correction(analysis):
    text = apa.to_text(
        apa_text.results_paragraph(
            analysis.plan,
            analysis.models,
            analysis.ledger.participants_in,
            analysis.ledger.episodes,
        )
    )
    assert text.startswith("Of the 23 participants in the data, 22 had an MDMA treatment episode")
    for m in analysis.models:
        j = m.data.term
        name = f"{m.spec.predictor.label} {apa.timepoint_phrase(m.spec.timepoint)}"
        outcome = f"{m.spec.outcome.label} at post-treatment"
        if m.survives_correction:
            direction = "lower" if m.fit.estimate[j] < 0 else "higher"
            assert f"Higher {name} predicted {direction} {outcome}" in text
        elif m.fit.p[j] < 0.05:
            assert f"{name} was not associated with {outcome} after Holm correction" in text
            assert not re.search(
                f"Higher {re.escape(name)} predicted \\w+ {re.escape(outcome)}", text
            )
        else:
            assert f"{name} did not significantly predict {outcome}" in text
    survivors = [m for m in analysis.models if m.survives_correction]
    nominal = [
        m for m in analysis.models if not m.survives_correction and m.fit.p[m.data.term] < 0.05
    ]
    # In this data set Holm keeps some effects and loses at least one nominal one.
    assert survivors and nominal
    assert f"{apa.count_word(len(survivors))} of the six alliance effects remained" in text
    assert text.rstrip().endswith("did not.")
    assert not math.isnan(analysis.models[0].p_adjusted)


def test_results_paragraph_without_models(analysis):
    assert (
        apa.to_text(apa_text.results_paragraph(analysis.plan, [], 3, 2)) == "No model was fitted."
    )


def test_bayes_factor_sentence_says_when_dummies_share_g(analysis):
    keys = ["bf10"]
    plain_text = " ".join(apa_text.robust_methods(keys, analysis.plan))
    with_factor = " ".join(apa_text.robust_methods(keys, analysis.plan, categorical=True))
    assert "dummy-coded" not in plain_text
    assert "dummy-coded categorical covariates sharing the continuous predictors' g" in with_factor


# --------------------------------------------------------------------------- wording by result


def _with(model, p: float, survives: bool, estimate: float = -0.4):
    import dataclasses

    import numpy as np

    j = model.data.term
    p_values = np.array(model.fit.p, dtype=float)
    p_values[j] = p
    estimates = np.array(model.fit.estimate, dtype=float)
    estimates[j] = estimate
    fit = dataclasses.replace(model.fit, p=p_values, estimate=estimates)
    return dataclasses.replace(
        model, fit=fit, p_adjusted=min(1.0, 6 * p), survives_correction=survives
    )


def test_a_nominal_effect_that_does_not_survive_correction_is_not_a_finding(analysis):
    model = _with(analysis.models[5], p=0.031, survives=False)
    text = apa.to_text(apa_text.model_sentence(model, analysis.plan))
    assert text.startswith(
        "WAI total at session 9 was not associated with IES-R total at post-treatment after "
        "Holm correction ("
    )
    assert "predicted" not in text
    assert "p = .031, Holm-adjusted p = .186" in text


def test_an_effect_that_survives_correction_is_a_finding(analysis):
    model = _with(analysis.models[5], p=0.001, survives=True)
    text = apa.to_text(apa_text.model_sentence(model, analysis.plan))
    assert text.startswith(
        "Higher WAI total at session 9 predicted lower IES-R total at post-treatment ("
    )
    positive = _with(analysis.models[5], p=0.001, survives=True, estimate=0.3)
    assert "predicted higher" in apa.to_text(apa_text.model_sentence(positive, analysis.plan))


def test_a_non_significant_effect_and_no_correction(analysis):
    model = _with(analysis.models[5], p=0.4, survives=False)
    text = apa.to_text(apa_text.model_sentence(model, analysis.plan))
    assert text.startswith("WAI total at session 9 did not significantly predict")
    uncorrected = load_plan().with_overrides(adjust="none")
    nominal = _with(analysis.models[5], p=0.03, survives=True)
    text = apa.to_text(apa_text.model_sentence(nominal, uncorrected))
    assert text.startswith("Higher WAI total at session 9 predicted lower")
    assert "adjusted" not in text


def test_bca_caveat_states_the_simulation_n_beside_this_analysis(analysis):
    import dataclasses

    from alliance.report.apa_tables import robustness_table

    def small(m, n):
        term = {"bootstrap_ci_low": -1.0, "bootstrap_ci_high": 0.1}
        fit = dataclasses.replace(m.fit, n=n)
        return dataclasses.replace(m, fit=fit, extras={**m.extras, "term": term})

    models = [small(m, 8) for m in analysis.models]
    note = apa.to_text(robustness_table(models).note)
    assert "simulated trials at n = 22; the models here have n = 8," in note
    assert "trials of 22 participants" not in note and "At this sample size" not in note
    varied = [small(m, n) for m, n in zip(analysis.models, (8, 9, 10, 8, 9, 12), strict=True)]
    assert "the models here have n = 8\u201312" in apa.to_text(robustness_table(varied).note)
    without = [dataclasses.replace(m, extras={**m.extras, "term": {"hc3_p": 0.2}}) for m in models]
    assert "simulated" not in apa.to_text(robustness_table(without).note)


def test_methods_say_how_many_baselines_were_borrowed(analysis):
    plain_text = apa.to_text(apa_text.methods_paragraph(analysis.plan, analysis.models, 0, "x"))
    assert "end of the placebo phase served" not in plain_text
    text = apa.to_text(apa_text.methods_paragraph(analysis.plan, analysis.models, 0, "x", 2))
    assert (
        "with that phase's own baseline. For two crossover participants without an open-label "
        "baseline assessment, the end of the placebo phase served as the baseline." in text
    )


def test_report_counts_borrowed_baselines_from_the_data():
    from alliance.report.html import build_report

    crossover = make_analysis("crossover_missing")
    borrowed = int((crossover.episodes.frame["baseline_borrowed"] != "").sum())
    assert borrowed >= 1  # the fixture has a crossover without its own open-label baseline
    html = build_report(crossover).html
    assert f"For {apa.count_word(borrowed)} crossover participant" in html


def test_descriptives_follow_the_plan_timepoints_only() -> None:
    """Session-level measurements scored under an analysed name (a short form's ``wai`` after
    every session) stay out of Table 1, and its rows follow the plan's order, not the alphabet."""
    from alliance.report.apa_tables import descriptives_apa_table

    rng = np.random.default_rng(1)
    columns = ["caps__post", "caps__baseline", "iesr__baseline", "iesr__post", "wai__s9",
               "wai__s4", "wai__pre_s3", "wai__post_s1", "wai__post_s10", "wai__post_s2"]  # fmt: skip
    episodes = pd.DataFrame({c: rng.normal(50, 10, 8) for c in columns})
    table = descriptives_apa_table(episodes, load_plan(None))
    rows = [[row[0] for row in section.rows] for section in table.sections]
    assert rows == [
        ["Baseline", "Post-treatment"],
        ["Baseline", "Post-treatment"],
        ["Before session 3 (first MDMA session)", "Session 4", "Session 9"],
    ], rows
