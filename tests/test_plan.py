"""The analysis plan: the article's default, validation of user plans, overrides."""

import pytest

from alliance.errors import PlanError
from alliance.models.plan import check_plan_against_data, load_plan

COLUMNS = {
    "caps__baseline",
    "caps__post",
    "iesr__baseline",
    "iesr__post",
    "wai__pre_s3",
    "wai__s4",
    "wai__s9",
    "age",
}
SCORES = {"caps", "iesr", "wai", "wai_task", "caps_b"}


def write(tmp_path, text):
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_plan_is_the_articles_six_models():
    plan = load_plan()
    keys = [m.key for m in plan.model_specs()]
    assert keys == [
        "caps~wai@pre_s3",
        "caps~wai@s4",
        "caps~wai@s9",
        "iesr~wai@pre_s3",
        "iesr~wai@s4",
        "iesr~wai@s9",
    ]
    assert plan.multiplicity.method == "holm"
    assert plan.multiplicity.family == "all"
    assert plan.alpha == 0.05
    spec = plan.model_specs()[1]
    assert (spec.response_column, spec.baseline_column, spec.predictor_column) == (
        "caps__post",
        "caps__baseline",
        "wai__s4",
    )
    check_plan_against_data(plan, COLUMNS, SCORES)


def test_subscales_covariates_and_timepoints_are_plan_entries(tmp_path):
    path = write(
        tmp_path,
        """
covariates = ["age", "phase"]
[multiplicity]
method = "bh"
family = "per_outcome"
[[outcomes]]
score = "caps_b"
[[predictors]]
score = "wai_task"
timepoints = ["s4"]
[[predictors]]
score = "wai"
timepoints = ["s4", "s9"]
""",
    )
    plan = load_plan(path)
    assert [m.key for m in plan.model_specs()] == [
        "caps_b~wai_task@s4",
        "caps_b~wai@s4",
        "caps_b~wai@s9",
    ]
    assert plan.covariates == ("age", "phase")
    assert plan.multiplicity.method == "bh"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "[multiplicity]\nmethod = 'fdr'\n[[outcomes]]\nscore='caps'\n"
            "[[predictors]]\nscore='wai'\ntimepoints=['s4']\n",
            "multiplicity.method",
        ),
        (
            "[multiplicity]\nfamily = 'everything'\n[[outcomes]]\nscore='caps'\n"
            "[[predictors]]\nscore='wai'\ntimepoints=['s4']\n",
            "multiplicity.family",
        ),
        ("[[outcomes]]\nscore='caps'\n", "predictors"),
        (
            "alpha = 1.5\n[[outcomes]]\nscore='caps'\n[[predictors]]\nscore='wai'\n"
            "timepoints=['s4']\n",
            "alpha",
        ),
        (
            "colour = 'red'\n[[outcomes]]\nscore='caps'\n[[predictors]]\nscore='wai'\n"
            "timepoints=['s4']\n",
            "colour",
        ),
        ("[[outcomes]\nscore='caps'", "not valid TOML"),
    ],
)
def test_invalid_plans_name_the_offending_entry(tmp_path, text, fragment):
    with pytest.raises(PlanError) as info:
        load_plan(write(tmp_path, text))
    assert fragment in str(info.value)
    assert "plan.toml" in str(info.value)


def test_plan_errors_say_how_to_fix_them_and_nothing_twice(tmp_path):
    text = (
        "[[outcomes]]\nscore='caps'\nsocre='x'\n[[predictors]]\ntimepoints=[]\n"
        "[inference]\nbootstrapp=5\n[multiplicity]\nmethod='fdr'\n"
    )
    with pytest.raises(PlanError) as info:
        load_plan(write(tmp_path, text))
    lines = info.value.messages
    assert len(lines) == 5, lines
    assert all("Fix:" in line for line in lines)
    by_where = {line.split(":", 1)[0]: line for line in lines}
    assert "keys allowed here: score, label, baseline, post" in by_where["outcomes.0.socre"]
    assert "bootstrap, bayes_factor" in by_where["inference.bootstrapp"]
    assert "required" in by_where["predictors.0.score"]
    assert "is empty" in by_where["predictors.0.timepoints"]
    assert "'holm'" in by_where["multiplicity.method"]
    # The array whose only entry failed is not also reported as too short.
    assert "outcomes" not in by_where


def test_missing_plan_file_is_a_clear_error(tmp_path):
    with pytest.raises(PlanError, match="file not found"):
        load_plan(tmp_path / "absent.toml")


def test_unknown_score_is_reported(tmp_path):
    plan = load_plan(
        write(
            tmp_path, "[[outcomes]]\nscore='pcl5'\n[[predictors]]\nscore='wai'\ntimepoints=['s4']\n"
        )
    )
    with pytest.raises(PlanError, match="outcome score 'pcl5' is not a known score"):
        check_plan_against_data(plan, COLUMNS, SCORES)


def test_timepoint_absent_from_data_lists_the_timepoints_present(tmp_path):
    plan = load_plan(
        write(
            tmp_path, "[[outcomes]]\nscore='caps'\n[[predictors]]\nscore='wai'\ntimepoints=['s7']\n"
        )
    )
    with pytest.raises(PlanError) as info:
        check_plan_against_data(plan, COLUMNS, SCORES)
    message = str(info.value)
    assert "timepoint 's7' of score 'wai' is absent" in message
    assert "pre_s3, s4, s9" in message


def test_unknown_covariate_is_reported(tmp_path):
    plan = load_plan(
        write(
            tmp_path,
            "covariates=['weight']\n[[outcomes]]\nscore='caps'\n[[predictors]]\n"
            "score='wai'\ntimepoints=['s4']\n",
        )
    )
    with pytest.raises(PlanError, match="covariate 'weight'"):
        check_plan_against_data(plan, COLUMNS, SCORES)


def test_overrides_are_validated_like_the_file():
    plan = load_plan().with_overrides(adjust="bonferroni", family="per_outcome")
    assert plan.multiplicity.method == "bonferroni"
    assert plan.multiplicity.family == "per_outcome"
    with pytest.raises(PlanError):
        load_plan().with_overrides(adjust="sidak")
