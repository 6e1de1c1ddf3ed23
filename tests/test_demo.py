"""``alliance demo``: the bundled synthetic trial, analysed in full, marked synthetic everywhere."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from alliance.cli import app
from alliance.pipeline import load_data

runner = CliRunner()
HERE = Path(__file__).parent


def test_demo_writes_a_synthetic_analysis_and_prints_the_report_path(tmp_path):
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "report:" in result.output
    assert "report.html" in result.output
    # The same model lines as `alliance analyze`: results.json's key, b marked unstandardised,
    # one name for the adjusted p.
    assert "caps~wai@s4: n=21, b (unstd.)=" in result.output
    assert "p_adj (holm)=" in result.output
    assert "Holm p=" not in result.output
    doc = json.loads((out / "results.json").read_text())
    assert doc["synthetic"] is True
    assert len(doc["models"]) == 6
    # Past the article: one session-by-session model and alliance × condition at s4 and s9.
    (longitudinal,) = doc["longitudinal_models"]
    assert longitudinal["outcome"] == "pcl5" and longitudinal["lag"] == 1
    assert longitudinal["n_participants"] == 22
    assert {t["name"] for t in longitudinal["terms"]} >= {"wai_within", "wai_between"}
    moderation = doc["moderation_models"]
    assert [m["timepoint"] for m in moderation] == ["s4", "s9"]
    assert all(m["n_placebo_episodes"] > 0 and m["n_mdma_episodes"] > 0 for m in moderation)
    assert "1 longitudinal and 2 moderation models" in result.output
    assert "PCL-5 by session: 22 participants" in result.output
    assert "caps~wai@s9×mdma:" in result.output
    assert doc["ledger"]["participants_in"] == 23
    assert doc["ledger"]["episodes"] == 22
    html = (out / "report.html").read_text()
    assert "SYNTHETIC" in html
    scores = pd.read_csv(out / "data" / "demo_scores.csv")
    assert (scores["synthetic"] == True).all()  # noqa: E712 - the marker column as read


def test_bundled_trial_is_exactly_what_the_documented_simulate_command_writes(tmp_path):
    """The command in alliance/data/README.md regenerates the bundled file byte for byte."""
    bundled = Path(str(resources.files("alliance.data").joinpath("demo_trial.csv")))
    readme = bundled.with_name("README.md").read_text()
    command = "alliance simulate --seed 2024 --sessions --out src/alliance/data/demo_trial.csv"
    assert command in readme
    fresh = tmp_path / "demo_trial.csv"
    result = runner.invoke(app, ["simulate", "--seed", "2024", "--sessions", "--out", str(fresh)])
    assert result.exit_code == 0, result.output
    assert fresh.read_bytes() == bundled.read_bytes()
    loaded = load_data(bundled)
    assert loaded.synthetic
    assert loaded.participants["participant_id"].nunique() == 23
