"""``alliance demo``: the bundled synthetic trial, analysed in full, marked synthetic everywhere."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
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
    doc = json.loads((out / "results.json").read_text())
    assert doc["synthetic"] is True
    assert len(doc["models"]) == 6
    assert doc["ledger"]["participants_in"] == 23
    assert doc["ledger"]["episodes"] == 22
    html = (out / "report.html").read_text()
    assert "SYNTHETIC" in html
    scores = pd.read_csv(out / "data" / "demo_scores.csv")
    assert (scores["synthetic"] == True).all()  # noqa: E712 - the marker column as read


def test_bundled_items_score_back_to_the_totals_they_were_made_from():
    path = Path(str(resources.files("alliance.data").joinpath("demo_trial.csv")))
    loaded = load_data(path)
    assert loaded.synthetic
    source = pd.read_csv(
        HERE / "fixtures" / "data" / "article_like.csv", dtype={"participant_id": str}
    )
    merged = source.merge(loaded.scores, on=["participant_id", "phase"], suffixes=("_src", ""))
    assert len(merged) == len(source)
    for column in ("caps__baseline", "caps__post"):  # clinician ratings: never blanked
        np.testing.assert_allclose(merged[column], merged[f"{column}_src"], rtol=0, atol=0)
    # IES-R and WAI carry six blanked items between them, prorated: exact where complete,
    # otherwise within one item's range.
    for column in ("iesr__baseline", "iesr__post", "wai__pre_s3", "wai__s4", "wai__s9"):
        difference = np.abs(merged[column] - merged[f"{column}_src"])
        assert np.all(difference <= 7)
        assert (difference == 0).sum() >= len(merged) - 6
