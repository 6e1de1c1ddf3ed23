"""Item-layout validation: one test per class of bad input, each naming row, column and value,
with the input file unchanged; accepted spellings; duplicates; the item frame's contract."""

from __future__ import annotations

import tempfile
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from alliance.errors import DataError
from alliance.input.readers import read_table
from alliance.instruments.registry import load_instruments
from alliance.validation.item_layout import validate_items
from alliance.validation.layout import detect_layout
from tests.conftest import sha256, small_trial

INSTRUMENTS = load_instruments()


def trial() -> pd.DataFrame:
    return small_trial().astype({"value": "object"})


def write(frame: pd.DataFrame, folder: Path, name: str = "trial.csv") -> Path:
    path = Path(folder) / name
    frame.to_csv(path, index=False)
    return path


def validate_file(path: Path) -> pd.DataFrame:
    return validate_items(read_table(path), INSTRUMENTS)


def fails(frame: pd.DataFrame, folder: Path) -> DataError:
    """Validation of ``frame`` written as CSV raises DataError; the file is left unchanged."""
    path = write(frame, folder)
    before = sha256(path)
    with pytest.raises(DataError) as caught:
        validate_file(path)
    assert sha256(path) == before, "the input file was modified"
    assert caught.value.problems
    return caught.value


def single(error: DataError, column: str):
    found = [p for p in error.problems if p.column == column]
    assert len(found) == 1, error.lines()
    assert len(error.problems) == 1, error.lines()
    return found[0]


# --- the item frame ---------------------------------------------------------------------------


def test_valid_file_gives_the_item_frame(trial_csv):
    items = validate_file(trial_csv)
    expected = small_trial()
    assert list(items.columns[:8]) == [
        "participant_id",
        "phase",
        "arm",
        "timepoint",
        "instrument",
        "item",
        "value",
        "source_row",
    ]
    assert len(items) == len(expected)
    assert items["value"].dtype == np.float64
    assert items["source_row"].dtype == np.int64
    for column in ("participant_id", "phase", "arm", "timepoint", "instrument", "item"):
        assert pd.api.types.is_string_dtype(items[column]), column
        assert items[column].tolist() == expected[column].astype(str).tolist()
    np.testing.assert_array_equal(items["value"], expected["value"].astype(float))
    assert items["source_row"].tolist() == list(range(2, len(expected) + 2))
    assert items.attrs["collapsed_duplicates"] == 0
    assert items.attrs["warnings"] == []


def test_detect_layout_sees_items(trial_csv):
    assert detect_layout(read_table(trial_csv)) == "items"


def test_optional_columns_are_kept_and_others_named_in_warnings(tmp_path):
    frame = trial()
    frame["Therapist_ID"] = "t1"
    frame["site"] = "Charleston"
    frame["notes"] = "x"
    items = validate_file(write(frame, tmp_path))
    assert set(items["therapist_id"]) == {"t1"}
    assert set(items["site"]) == {"Charleston"}
    assert "notes" not in items.columns
    assert any("'notes'" in w for w in items.attrs["warnings"])


def test_blank_values_are_missing_items_not_errors(tmp_path):
    frame = trial()
    frame.loc[[3, 4, 5], "value"] = [None, "NA", " "]
    items = validate_file(write(frame, tmp_path))
    assert items["value"].iloc[[3, 4, 5]].isna().all()
    assert items["value"].notna().sum() == len(frame) - 3


def test_accepted_spellings_are_normalised(tmp_path):
    frame = trial()
    m4_open = (frame["participant_id"] == "m4") & (frame["phase"] == "open_label")
    p1_open = (frame["participant_id"] == "p1") & (frame["phase"] == "open_label")
    frame.loc[m4_open, "phase"] = "Open-Label"
    frame.loc[p1_open, "phase"] = "open label"
    frame.loc[frame["participant_id"] == "m1", "phase"] = "Randomised"
    frame.loc[frame["participant_id"] == "m2", "arm"] = " MDMA "
    frame.loc[frame["instrument"] == "CAPS4", "instrument"] = "CAPS-IV"
    frame.loc[frame["instrument"] == "IESR", "instrument"] = "ies-r"
    frame.loc[frame["timepoint"] == "pre_s3", "timepoint"] = "PRE_S3"
    frame.loc[frame["item"] == "1", "item"] = "01"
    frame.loc[frame["item"] == "2", "item"] = "2.0"
    frame.loc[frame["item"] == "3f", "item"] = "03F"
    items = validate_file(write(frame, tmp_path))
    expected = validate_file(write(trial(), tmp_path, "plain.csv"))
    pd.testing.assert_frame_equal(items, expected)


@pytest.mark.parametrize(
    ("spelling", "code"),
    [("WAI-S", "WAI_S"), ("wai-sr", "WAI_SR"), ("CAPS-5", "CAPS5"), ("caps 5", "CAPS5")],
)
def test_short_forms_and_caps5_spellings(tmp_path, spelling, code):
    inst = INSTRUMENTS[code]
    low = inst.response_min
    rows = [
        ("a", "randomized", "mdma", "s4", spelling, item, low) for item in list(inst.item_codes)
    ]
    frame = pd.DataFrame(rows, columns=list(small_trial().columns))
    items = validate_file(write(frame, tmp_path))
    assert set(items["instrument"]) == {code}


# --- one test per class of bad input ----------------------------------------------------------


@pytest.mark.parametrize(
    "column", ["participant_id", "phase", "arm", "timepoint", "instrument", "item", "value"]
)
def test_missing_required_column(tmp_path, column):
    error = fails(trial().drop(columns=[column]), tmp_path)
    missing = [p for p in error.problems if "missing" in p.what]
    assert [p.column for p in missing] == [column]
    assert missing[0].row == 1


@pytest.mark.parametrize("column", ["participant_id", "timepoint", "instrument", "item"])
def test_blank_required_cell(tmp_path, column):
    frame = trial()
    frame.loc[7, column] = None
    problem = single(fails(frame, tmp_path), column)
    assert problem.row == 9
    assert "blank" in problem.what


def test_unknown_phase(tmp_path):
    frame = trial()
    frame.loc[2, "phase"] = "washout"
    problem = single(fails(frame, tmp_path), "phase")
    assert (problem.row, problem.value) == (4, "washout")
    assert "open_label" in problem.what


def test_unknown_arm(tmp_path):
    frame = trial()
    frame["arm"] = frame["arm"].replace({"mdma": "active"})
    error = fails(frame, tmp_path)
    unknown = [p for p in error.problems if p.column == "arm"]
    assert len(unknown) == int((small_trial()["arm"] == "mdma").sum())
    assert {p.value for p in unknown} == {"active"}
    assert "mapping" in unknown[0].fix


def test_unknown_instrument(tmp_path):
    frame = trial()
    frame.loc[3, "instrument"] = "PHQ9"
    problem = single(fails(frame, tmp_path), "instrument")
    assert (problem.row, problem.value) == (5, "PHQ9")
    assert "WAI" in problem.what


def test_item_not_in_instrument(tmp_path):
    frame = trial()
    frame.loc[3, "item"] = "40f"
    problem = single(fails(frame, tmp_path), "item")
    assert (problem.row, problem.value) == (5, "40f")
    assert "CAPS4" in problem.what


def test_non_numeric_value(tmp_path):
    frame = trial()
    frame.loc[40, "value"] = "three"
    problem = single(fails(frame, tmp_path), "value")
    assert (problem.row, problem.value) == (42, "three")
    assert "not a number" in problem.what


def test_value_out_of_range(tmp_path):
    frame = trial()
    wai_row = int(np.flatnonzero(frame["instrument"] == "WAI")[0])
    frame.loc[wai_row, "value"] = 9
    problem = single(fails(frame, tmp_path), "value")
    assert (problem.row, problem.value) == (wai_row + 2, "9")
    assert "WAI's response range 1–7" in problem.what
    assert "blank" in problem.fix


def test_non_integer_value(tmp_path):
    frame = trial()
    frame.loc[40, "value"] = 2.5
    problem = single(fails(frame, tmp_path), "value")
    assert (problem.row, problem.value) == (42, "2.5")
    assert "whole number" in problem.what


def test_conflicting_duplicate_names_both_rows(tmp_path):
    frame = trial()
    extra = frame.iloc[[5]].copy()
    extra["value"] = (int(extra["value"].iloc[0]) + 1) % 5
    frame = pd.concat([frame, extra], ignore_index=True)
    problem = single(fails(frame, tmp_path), "value")
    assert problem.row == len(frame) + 1
    assert "(row 7)" in problem.what and f"(row {len(frame) + 1})" in problem.what


def test_identical_duplicates_are_collapsed_and_reported(tmp_path):
    frame = trial()
    frame = pd.concat([frame, frame.iloc[[5, 6]]], ignore_index=True)
    items = validate_file(write(frame, tmp_path))
    assert len(items) == len(frame) - 2
    assert items.attrs["collapsed_duplicates"] == 2
    [warning] = items.attrs["warnings"]
    assert "2 rows repeat" in warning
    assert f"row {len(frame)} repeats row 7" in warning


def test_participant_with_two_arms(tmp_path):
    frame = trial()
    mask = (frame["participant_id"] == "m1") & (frame["timepoint"] == "post")
    frame.loc[mask, "arm"] = "placebo"
    problem = single(fails(frame, tmp_path), "arm")
    assert "'m1'" in problem.what
    assert problem.value == "placebo"
    assert problem.row == int(np.flatnonzero(mask)[0]) + 2


def test_open_label_rows_must_keep_the_randomised_arm(tmp_path):
    frame = trial()
    mask = (frame["participant_id"] == "p1") & (frame["phase"] == "open_label")
    frame.loc[mask, "arm"] = "mdma"
    problem = single(fails(frame, tmp_path), "arm")
    assert "open-label" in problem.what and "'p1'" in problem.what
    assert "write 'placebo' on the open-label rows" in problem.fix


def test_two_forms_of_one_instrument_at_one_timepoint(tmp_path):
    frame = trial()
    extra = pd.DataFrame(
        [("m1", "randomized", "mdma", "s4", "WAI_S", str(i), 4) for i in range(1, 13)],
        columns=frame.columns,
    )
    frame = pd.concat([frame, extra], ignore_index=True)
    problem = single(fails(frame, tmp_path), "instrument")
    assert "WAI and WAI_S" in problem.what and "'m1'" in problem.what
    assert problem.row == len(frame) - 10


def test_timepoint_that_cannot_name_a_column(tmp_path):
    frame = trial()
    frame.loc[frame["timepoint"] == "s4", "timepoint"] = "Session 4"
    error = fails(frame, tmp_path)
    assert {p.column for p in error.problems} == {"timepoint"}
    assert {p.value for p in error.problems} == {"Session 4"}


def test_spss_value_labels_of_responses_are_read_back(tmp_path):
    import pyreadstat

    frame = small_trial().iloc[:36].copy()
    frame["arm"] = 1
    path = tmp_path / "labelled.sav"
    pyreadstat.write_sav(
        frame,
        str(path),
        variable_value_labels={"value": {1: "Never", 7: "Always"}, "arm": {1: "MDMA"}},
    )
    items = validate_items(read_table(path), INSTRUMENTS)
    np.testing.assert_array_equal(items["value"], frame["value"].astype(float))
    assert set(items["arm"]) == {"mdma"}


def test_every_problem_is_reported_in_one_pass(tmp_path):
    frame = trial()
    frame.loc[10, "value"] = 99
    frame.loc[20, "instrument"] = "PHQ9"
    frame.loc[30, "phase"] = "washout"
    frame.loc[40, "value"] = "three"
    frame.loc[50, "participant_id"] = None
    error = fails(frame, tmp_path)
    assert sorted(p.row for p in error.problems) == [12, 22, 32, 42, 52]
    assert len(error.lines()) == 5
    assert all(line.startswith("trial.csv, row ") for line in error.lines())


def test_thousands_of_identical_problems_are_summarised_but_all_kept(tmp_path):
    frame = trial()
    wai = np.flatnonzero(frame["instrument"] == "WAI")[:120]
    frame.loc[wai, "value"] = 8
    error = fails(frame, tmp_path)
    assert len(error.problems) == 120
    lines = error.lines()
    assert len(lines) == 51
    assert "… and 70 more rows with the same problem in column 'value'" in lines[-1]


# --- property: row order never matters and no row is lost -------------------------------------

BASE = small_trial().iloc[::7].reset_index(drop=True)  # a few hundred distinct responses


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    order=st.permutations(range(len(BASE))),
    repeats=st.lists(st.integers(0, len(BASE) - 1), max_size=5, unique=True),
)
def test_shuffled_file_gives_the_same_frame_and_loses_no_row(order, repeats):
    frame = pd.concat([BASE.iloc[list(order)], BASE.iloc[repeats]], ignore_index=True)
    with tempfile.TemporaryDirectory() as folder:
        expected = validate_file(write(BASE, Path(folder), "base.csv"))
        items = validate_file(write(frame, Path(folder)))
    assert len(items) == len(frame) - items.attrs["collapsed_duplicates"]
    assert items.attrs["collapsed_duplicates"] == len(repeats)
    key = ["participant_id", "phase", "timepoint", "instrument", "item"]
    a = items.drop(columns="source_row").sort_values(key).reset_index(drop=True)
    b = expected.drop(columns="source_row").sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_a_file_pasted_twice_is_collapsed_once_per_response(tmp_path):
    frame = pd.concat([trial(), trial()], ignore_index=True)
    items = validate_file(write(frame, tmp_path))
    assert items.attrs["collapsed_duplicates"] == len(frame) // 2
    assert items["source_row"].tolist() == list(range(2, len(frame) // 2 + 2))


def test_every_conflicting_group_is_one_problem(tmp_path):
    changed = trial()
    changed["value"] = np.where(changed["instrument"] == "WAI", 8 - changed["value"], 4)
    base = trial()
    keep = base["value"].astype(int).to_numpy() != changed["value"].astype(int).to_numpy()
    frame = pd.concat([base, changed, changed.iloc[:3]], ignore_index=True)
    error = fails(frame, tmp_path)
    assert len(error.problems) == int(keep.sum())
    first = error.problems[0]
    assert first.column == "value"
    assert "3 rows give" in first.what or "2 rows give" in first.what
