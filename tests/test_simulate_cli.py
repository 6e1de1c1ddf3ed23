"""``alliance simulate`` at the command line: every format, the marker, the analysis, errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from alliance.cli import app
from alliance.input.readers import read_table
from alliance.pipeline import load_data

runner = CliRunner()
FORMATS = [".csv", ".tsv", ".xlsx", ".sav", ".dta", ".parquet"]


def simulate(out, *extra):
    result = runner.invoke(app, ["simulate", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("layout", ["items", "scored"])
@pytest.mark.parametrize("suffix", FORMATS)
def test_marker_survives_every_format_and_the_file_validates(tmp_path, suffix, layout):
    path = tmp_path / f"trial{suffix}"
    simulate(path, "--n", "12", "--seed", "5", "--layout", layout)
    assert read_table(path).synthetic is True
    loaded = load_data(path)
    assert loaded.synthetic is True
    assert loaded.layout == layout
    assert loaded.participants["participant_id"].nunique() == 12


def test_default_trial_has_the_seed_article_design_and_analyses_as_synthetic(tmp_path):
    path = tmp_path / "trial.csv"
    result = simulate(path)
    assert "23 participants, 14 MDMA and 9 placebo, 8 crossed over, 22 MDMA episodes" in (
        result.output
    )
    analysed = runner.invoke(
        app, ["analyze", str(path), "--out", str(tmp_path / "res"), "--permutations", "99"]
    )
    assert analysed.exit_code == 0, analysed.output
    doc = json.loads((tmp_path / "res" / "results.json").read_text())
    assert doc["synthetic"] is True
    assert len(doc["models"]) == 6
    assert doc["ledger"]["participants_in"] == 23


def test_same_seed_writes_the_same_bytes(tmp_path):
    a, b, c = (tmp_path / f"{name}.csv" for name in "abc")
    simulate(a, "--seed", "9")
    simulate(b, "--seed", "9")
    simulate(c, "--seed", "10")
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_options_change_the_design(tmp_path):
    path = tmp_path / "trial.parquet"
    result = simulate(path, "--n", "40", "--arms", "1:1", "--crossover", "0", "--missing-visits",
                      "0", "--missing-items", "0")  # fmt: skip
    assert "40 participants, 20 MDMA and 20 placebo, 0 crossed over, 20 MDMA episodes" in (
        result.output
    )
    items = read_table(path).frame
    assert items["value"].notna().all()


def test_unreachable_effect_exits_1_naming_the_entry(tmp_path):
    result = runner.invoke(
        app, ["simulate", "--out", str(tmp_path / "t.csv"), "--effect", "caps@s4=-0.99"]
    )
    assert result.exit_code == 1
    assert "partial_r.caps.s4" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "t.csv").exists()


@pytest.mark.parametrize(
    ("option", "reason"),
    [
        (["--effect", "caps@s4=strong"], "not OUTCOME@TIMEPOINT=R"),
        (["--effect", "caps@s4=1.5"], "strictly between -1 and 1"),
        (["--effect", "caps@s7=-0.3"], "unknown timepoint 's7'"),
        (["--effect", "pcl=-0.3"], "unknown outcome 'pcl'"),
        (["--arms", "twelve"], "MDMA:placebo weights"),
        (["--arms", "-1:5"], "not negative"),
        (["--arms", "nan:1"], "finite"),
        (["--arms", "0:0"], "cannot both be 0"),
        (["--layout", "wide"], "choose items or scored"),
    ],
)
def test_malformed_options_are_usage_errors_saying_why(tmp_path, option, reason):
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "t.csv"), *option])
    assert result.exit_code == 2
    assert reason in " ".join(result.output.replace("│", " ").split())
    assert not (tmp_path / "t.csv").exists()


def test_plan_that_cannot_run_on_the_trial_exits_1(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[[outcomes]]\nscore = "caps"\n\n[[predictors]]\nscore = "wai"\ntimepoints = ["s12"]\n'
    )
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "t.csv"), "--plan", str(plan)])
    assert result.exit_code == 1
    assert "s12" in result.output


def test_a_calibration_file_of_ones_own(tmp_path):
    from importlib import resources

    text = resources.files("alliance.synthetic").joinpath("calibration.toml").read_text("utf-8")
    mine = tmp_path / "mine.toml"
    mine.write_text(text.replace("n = 23", "n = 31"))
    result = simulate(tmp_path / "t.csv", "--calibration", str(mine))
    assert "31 participants" in result.output
    mine.write_text(text.replace("[design]", "[desing]"))
    bad = runner.invoke(
        app, ["simulate", "--out", str(tmp_path / "u.csv"), "--calibration", str(mine)]
    )
    assert bad.exit_code == 1
    assert "mine.toml" in bad.output
