"""``alliance validate DATA --plan FILE``: the data hold what the plan needs, and a name that
is absent comes with the closest name the data do hold."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app
from alliance.models.plan import load_plan
from alliance.validation.plan_data import closest, plan_data_problems

runner = CliRunner()
FIXTURE = Path(__file__).parent / "fixtures" / "data" / "article_like.csv"


def _renamed(tmp_path: Path, renames: dict[str, str]) -> Path:
    frame = pd.read_csv(FIXTURE, dtype=str).rename(columns=renames)
    path = tmp_path / "scores.csv"
    frame.to_csv(path, index=False)
    return path


def test_article_plan_on_data_with_other_timepoint_names(tmp_path: Path) -> None:
    data = _renamed(tmp_path, {"wai__s4": "wai__session_4", "caps__post": "caps__post_treatment"})
    plan = tmp_path / "plan.toml"
    plan.write_text(load_plan_text(), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(data), "--plan", str(plan)])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines == [
        "error: plan.toml: outcomes.0.post: `post` not found for score `caps` in scores.csv; "
        "the data have `post_treatment` (`caps` is at `baseline`, `post_treatment`). Fix: "
        "write the data's name in the plan, or name the timepoint in the data (the mapping's "
        "[timepoints.values] or [items.timepoints] say which timepoint each event or column "
        "token is)",
        "error: plan.toml: predictors.0.timepoints: `s4` not found for score `wai` in "
        "scores.csv; the data have `session_4` (`wai` is at `pre_s3`, `s9`, `session_4`). Fix: "
        "write the data's name in the plan, or name the timepoint in the data (the mapping's "
        "[timepoints.values] or [items.timepoints] say which timepoint each event or column "
        "token is)",
    ]
    assert "Traceback" not in result.output


def load_plan_text() -> str:
    from alliance.models.plan_template import template_text

    return template_text()


def test_a_plan_the_data_serve_passes(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(load_plan_text(), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(FIXTURE), "--plan", str(plan)])
    assert result.exit_code == 0, result.output
    assert "plan: the data hold every score and timepoint of its 6 models" in result.stdout


def test_missing_score_and_covariate_name_the_closest(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(
        'covariates = ["agee"]\n[[outcomes]]\nscore = "iesr_total"\n'
        '[[predictors]]\nscore = "wai"\ntimepoints = ["s4"]\n',
        encoding="utf-8",
    )
    messages = plan_data_problems(
        load_plan(plan), pd.read_csv(FIXTURE, nrows=1).columns, "article_like.csv"
    )
    assert len(messages) == 2
    assert messages[0].startswith("outcomes.0.score: score `iesr_total` not found")
    assert "the closest is `iesr`" in messages[0]
    assert messages[1].startswith("covariates.0: `agee` not found")
    assert "the closest column is `age`" in messages[1]


def test_analyze_reports_the_same_problem_before_any_work(tmp_path: Path) -> None:
    data = _renamed(tmp_path, {"wai__s9": "wai__sess9"})
    result = runner.invoke(app, ["analyze", str(data), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "article plan: predictors.0.timepoints: `s9` not found" in result.stderr
    assert "the data have `sess9`" in result.stderr


@pytest.mark.parametrize(
    ("name", "candidates", "expected"),
    [
        ("s4", ["pre_s3", "session_4", "session_9"], "session_4"),
        ("session_4", ["s4", "s9"], "s4"),
        ("post", ["baseline", "post_treatment"], "post_treatment"),
        ("baseline", ["bl", "pt"], "bl"),
        ("pre_s3", ["pres3", "s4"], "pres3"),
        ("s4", ["s9", "baseline"], None),
        ("post", [], None),
    ],
)
def test_closest(name: str, candidates: list[str], expected: str | None) -> None:
    assert closest(name, candidates) == expected


def test_scored_file_does_not_speak_of_missing_items(trial_csv: Path, tmp_path: Path) -> None:
    scored = runner.invoke(app, ["validate", str(FIXTURE)])
    assert scored.exit_code == 0
    assert "missing items" not in scored.output and "blank" not in scored.output
    assert "30 read, one per participant and phase" in scored.stdout
    items = runner.invoke(app, ["validate", str(trial_csv)])
    assert "blank (missing items)" in items.stdout
