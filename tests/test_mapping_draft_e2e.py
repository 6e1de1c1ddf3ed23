"""From an unseen export to scores: ``alliance mapping draft``, the manual edits the user guide
documents, then ``alliance validate`` and the same scores as the equivalent item-layout file.

This needs the wide-export grammar of the mapping file ([constants], [participant],
[timepoints], [[items]]), which docs/mapping.md describes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app
from alliance.pipeline import load_data
from tests.test_mapping_draft import BUILDERS, MANUAL_EDITS, apply_edits

runner = CliRunner()


def _scores(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["participant_id"] = frame["participant_id"].astype(str)
    keys = ["participant_id", "phase"]
    columns = keys + sorted(c for c in frame.columns if "__" in c)
    return frame[columns].sort_values(keys).reset_index(drop=True)


@pytest.mark.parametrize("style", list(BUILDERS))
def test_draft_with_the_documented_edits_validates_and_scores_as_the_item_file(
    tmp_path: Path, style: str
) -> None:
    path, items = BUILDERS[style](tmp_path)
    mapping = tmp_path / "mapping.toml"
    result = runner.invoke(app, ["mapping", "draft", str(path), "--out", str(mapping)])
    assert result.exit_code == 0, result.output
    mapping.write_text(
        apply_edits(mapping.read_text(encoding="utf-8"), MANUAL_EDITS[style]), encoding="utf-8"
    )
    result = runner.invoke(app, ["validate", str(path), "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    assert "valid items layout" in result.stdout

    item_file = tmp_path / "items.csv"
    items.to_csv(item_file, index=False)
    wide = load_data(path, mapping)
    long = load_data(item_file)
    pd.testing.assert_frame_equal(_scores(wide.scores), _scores(long.scores))
    assert wide.rows_missing_value == 0  # instruments not given at an event are not missing


def test_redcap_draft_to_report(tmp_path: Path) -> None:
    path, _ = BUILDERS["redcap"](tmp_path, n=24)
    mapping = tmp_path / "mapping.toml"
    runner.invoke(app, ["mapping", "draft", str(path), "--out", str(mapping)])
    mapping.write_text(
        apply_edits(mapping.read_text(encoding="utf-8"), MANUAL_EDITS["redcap"]),
        encoding="utf-8",
    )
    out = tmp_path / "results"
    result = runner.invoke(
        app,
        [
            "analyze", str(path), "--mapping", str(mapping), "--out", str(out),
            "--bootstrap", "0", "--permutations", "0", "--no-figures",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "report.html").exists()


def test_the_guide_links_the_mapping_reference() -> None:
    guide = Path(__file__).parents[1] / "docs" / "user-guide.md"
    assert "](mapping.md)" in guide.read_text(encoding="utf-8")
    assert (guide.parent / "mapping.md").exists()
