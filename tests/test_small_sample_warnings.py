"""A model fitted on fewer than 10 episodes, or with fewer than 5 residual df, is flagged in
the console, results.json and the report; a model of ordinary size is not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alliance.cli import app
from alliance.models.small_sample import small_sample_reasons
from tests.conftest import small_trial

runner = CliRunner()
FIXTURE = Path(__file__).parent / "fixtures" / "data" / "article_like.csv"
QUICK = ["--bootstrap", "0", "--permutations", "0", "--no-figures"]


@pytest.mark.parametrize(
    ("n", "df", "flags"),
    [(10, 5, 0), (9, 6, 1), (12, 4, 1), (7, 4, 2), (200, 197, 0)],
)
def test_thresholds(n: int, df: int, flags: int) -> None:
    assert len(small_sample_reasons(n, df)) == flags


def test_small_trial_is_flagged_everywhere(tmp_path: Path) -> None:
    data = tmp_path / "trial.csv"
    small_trial().to_csv(data, index=False)  # 7 MDMA episodes: n = 7, 4 residual df
    out = tmp_path / "out"
    result = runner.invoke(app, ["analyze", str(data), "--out", str(out), *QUICK])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: model")]
    assert len(warnings) == 6
    assert warnings[0] == (
        "warning: model caps~wai@pre_s3: fitted on 7 episodes (fewer than 10) and 4 residual "
        "degrees of freedom (fewer than 5); its estimates, intervals and p-values are "
        "unreliable at this size"
    )
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert document["model_warnings"] == [w.removeprefix("warning: ") for w in warnings]
    for model in document["models"]:
        assert model["df_resid"] == model["n"] - len(model["terms"]) == 4
        assert model["small_sample"] == [
            "fitted on 7 episodes (fewer than 10)",
            "4 residual degrees of freedom (fewer than 5)",
        ]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<section id="model-warnings"><h2>Models too small to trust</h2>' in html
    assert "caps~wai@pre_s3: fitted on 7 episodes" in html


def test_an_ordinary_trial_is_not_flagged(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["analyze", str(FIXTURE), "--out", str(out), *QUICK])
    assert result.exit_code == 0, result.output
    assert "warning: model" not in result.stderr
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert document["model_warnings"] == []
    assert all(m["small_sample"] == [] for m in document["models"])
    assert 'id="model-warnings"' not in (out / "report.html").read_text(encoding="utf-8")
