"""Scored-layout validation and layout detection: every bad-input class names its row, column
and value, and leaves the file unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliance.errors import DataError
from alliance.input.readers import read_table
from alliance.input.writers import write_table
from alliance.validation.layout import detect_layout
from alliance.validation.scored_layout import validate_scored
from tests.conftest import sha256


def scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "participant_id": ["a1", "a2", "p1", "p1"],
            "phase": ["randomized", "randomized", "randomized", "open_label"],
            "arm": ["mdma", "mdma", "placebo", "placebo"],
            "caps__baseline": ["80", "71", "90", "85"],
            "caps__post": ["30", "", "80", "40"],
            "wai__s4": ["200", "180.5", "150", "210"],
            "age": ["34", "41", "29", "29"],
            "sex": ["f", "m", "f", "f"],
        }
    )


def write(frame: pd.DataFrame, folder: Path, name: str = "scores.csv") -> Path:
    path = Path(folder) / name
    frame.to_csv(path, index=False)
    return path


def fails(frame: pd.DataFrame, folder: Path) -> DataError:
    path = write(frame, folder)
    before = sha256(path)
    with pytest.raises(DataError) as caught:
        validate_scored(read_table(path))
    assert sha256(path) == before, "the input file was modified"
    assert caught.value.problems
    return caught.value


def test_valid_scored_file(tmp_path):
    raw = read_table(write(scores(), tmp_path))
    assert detect_layout(raw) == "scored"
    out = validate_scored(raw)
    assert list(out.columns) == [
        "participant_id",
        "phase",
        "arm",
        "caps__baseline",
        "caps__post",
        "wai__s4",
        "age",
        "sex",
    ]
    np.testing.assert_array_equal(out["caps__post"], [30.0, np.nan, 80.0, 40.0])
    np.testing.assert_array_equal(out["wai__s4"], [200.0, 180.5, 150.0, 210.0])
    assert out["age"].dtype == np.float64  # a numeric covariate becomes numbers
    assert out["sex"].tolist() == ["f", "m", "f", "f"]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".sav", ".dta", ".parquet"])
def test_every_format_gives_the_same_scored_frame(tmp_path, suffix):
    frame = scores()
    for column in ("caps__baseline", "caps__post", "wai__s4", "age"):
        frame[column] = pd.to_numeric(frame[column])
    expected = validate_scored(read_table(write(scores(), tmp_path, "reference.csv")))
    out = validate_scored(read_table(write_table(frame, tmp_path / f"scores{suffix}")))
    pd.testing.assert_frame_equal(out, expected)


def test_spellings_of_phase_and_arm(tmp_path):
    frame = scores()
    frame["phase"] = ["Randomised", "RANDOMIZED", "randomized", "Open-Label"]
    frame["arm"] = ["MDMA", "mdma", "Placebo", "placebo"]
    out = validate_scored(read_table(write(frame, tmp_path)))
    assert out["phase"].tolist() == ["randomized", "randomized", "randomized", "open_label"]
    assert out["arm"].tolist() == ["mdma", "mdma", "placebo", "placebo"]


@pytest.mark.parametrize("column", ["participant_id", "phase", "arm"])
def test_missing_required_column(tmp_path, column):
    error = fails(scores().drop(columns=[column]), tmp_path)
    assert [p.column for p in error.problems] == [column]


def test_non_numeric_score_names_row_column_and_value(tmp_path):
    frame = scores()
    frame.loc[1, "caps__baseline"] = "lots"
    [problem] = fails(frame, tmp_path).problems
    assert (problem.row, problem.column, problem.value) == (3, "caps__baseline", "lots")


def test_unknown_score_name(tmp_path):
    frame = scores().rename(columns={"wai__s4": "wia__s4"})
    [problem] = fails(frame, tmp_path).problems
    assert problem.column == "wia__s4"
    assert "'wia'" in problem.what


def test_score_column_with_a_bad_timepoint(tmp_path):
    frame = scores().rename(columns={"wai__s4": "wai__Session 4"})
    [problem] = fails(frame, tmp_path).problems
    assert problem.column == "wai__session 4"


def test_duplicate_participant_and_phase(tmp_path):
    frame = pd.concat([scores(), scores().iloc[[0]]], ignore_index=True)
    [problem] = fails(frame, tmp_path).problems
    assert problem.row == 6
    assert "'a1'" in problem.what and "rows 2 and 6" in problem.what


def test_participant_with_two_arms(tmp_path):
    frame = scores()
    frame.loc[3, "arm"] = "mdma"
    [problem] = fails(frame, tmp_path).problems
    assert problem.column == "arm"
    assert "'p1'" in problem.what
    assert "open-label" in problem.what


@pytest.mark.parametrize(("column", "bad"), [("phase", "washout"), ("arm", "active")])
def test_unknown_phase_or_arm(tmp_path, column, bad):
    frame = scores()
    frame.loc[2, column] = bad
    problems = [p for p in fails(frame, tmp_path).problems if p.column == column]
    assert [(p.row, p.value) for p in problems] == [(4, bad)]


def test_blank_participant_id(tmp_path):
    frame = scores()
    frame.loc[0, "participant_id"] = ""
    [problem] = fails(frame, tmp_path).problems
    assert (problem.row, problem.column) == (2, "participant_id")


def test_all_problems_in_one_pass(tmp_path):
    frame = scores()
    frame.loc[0, "wai__s4"] = "high"
    frame.loc[1, "phase"] = "washout"
    frame.loc[2, "arm"] = "active"
    error = fails(frame, tmp_path)
    assert sorted((p.row, p.column) for p in error.problems) == [
        (2, "wai__s4"),
        (3, "phase"),
        (4, "arm"),
    ]


def test_neither_layout_lists_what_each_needs(tmp_path):
    raw = read_table(write(pd.DataFrame({"id": ["a"], "score": [3]}), tmp_path))
    with pytest.raises(DataError) as caught:
        detect_layout(raw)
    [problem] = caught.value.problems
    assert problem.file == "scores.csv"
    for column in ("participant_id", "instrument", "item", "value", "<score>__<timepoint>"):
        assert column in problem.what


def test_partial_item_layout_is_treated_as_items(tmp_path):
    frame = pd.DataFrame({"participant_id": ["a"], "item": ["1"], "value": [3]})
    assert detect_layout(frame) == "items"
