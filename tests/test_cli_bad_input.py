"""Every class of bad input ends in exit status 1, a message naming what is wrong, no traceback,
and an input file left byte-for-byte as it was."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app
from tests.conftest import sha256, small_trial

runner = CliRunner()


def _items_with(change) -> pd.DataFrame:
    frame = small_trial().astype({"value": "object"})
    return change(frame)


def _set(frame, row, column, value):
    frame.loc[row, column] = value
    return frame


def _duplicate_conflict(frame):
    extra = frame.iloc[[5]].copy()
    extra["value"] = (int(extra["value"].iloc[0]) + 1) % 5
    return pd.concat([frame, extra], ignore_index=True)


def _two_arms(frame):
    mask = (frame["participant_id"] == "m1") & (frame["timepoint"] == "post")
    frame.loc[mask, "arm"] = "placebo"
    return frame


ITEM_CASES = {
    "missing column": (lambda f: f.drop(columns=["instrument"]), ["instrument"]),
    "unknown instrument": (lambda f: _set(f, 3, "instrument", "PHQ9"), ["PHQ9", "instrument"]),
    "item not in instrument": (lambda f: _set(f, 3, "item", "40f"), ["40f", "item"]),
    "value out of range": (lambda f: _set(f, 40, "value", 9), ["value", "9"]),
    "non-numeric value": (lambda f: _set(f, 40, "value", "three"), ["value", "three"]),
    "conflicting duplicate": (_duplicate_conflict, ["value"]),
    "participant with two arms": (_two_arms, ["arm", "m1"]),
    "unknown phase": (lambda f: _set(f, 2, "phase", "washout"), ["phase", "washout"]),
    "unknown arm": (lambda f: _set(f, 2, "arm", "active"), ["arm", "active"]),
}


def run_validate(path: Path):
    before = sha256(path)
    result = runner.invoke(app, ["validate", str(path)])
    assert sha256(path) == before, "the input file was modified"
    return result


def assert_clear_failure(result, fragments):
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in:\n{output}"
    return output


@pytest.mark.parametrize("case", sorted(ITEM_CASES))
def test_bad_item_file_exits_1_naming_the_problem(tmp_path, case):
    change, fragments = ITEM_CASES[case]
    path = tmp_path / "trial.csv"
    _items_with(change).to_csv(path, index=False)
    output = assert_clear_failure(run_validate(path), fragments)
    assert "trial.csv" in output


def test_problems_are_all_reported_in_one_pass(tmp_path):
    frame = small_trial().astype({"value": "object"})
    frame.loc[10, "value"] = 99
    frame.loc[20, "instrument"] = "PHQ9"
    frame.loc[30, "phase"] = "washout"
    path = tmp_path / "trial.csv"
    frame.to_csv(path, index=False)
    output = assert_clear_failure(run_validate(path), ["99", "PHQ9", "washout"])
    assert "row 12" in output  # frame row 10 is file row 12: header is row 1


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("empty.csv", b"", "empty"),
        ("header.csv", b"participant_id,phase,arm,timepoint,instrument,item,value\n", "no data"),
        ("binary.csv", bytes(range(256)) * 4, "binary.csv"),
        ("latin.csv", "participant_id,phase\nJos\xe9,randomized\n".encode("latin-1"), "UTF-8"),
        ("scores.sav", b"participant_id,phase,arm\n1,randomized,mdma\n", "scores.sav"),
        ("trial.txt", b"participant_id\n1\n", ".txt"),
    ],
)
def test_unreadable_files_exit_1(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content)
    assert_clear_failure(run_validate(path), [fragment])


def test_missing_file_exits_1(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "absent.csv")])
    assert_clear_failure(result, ["absent.csv"])


def test_non_numeric_score_in_scored_layout(tmp_path):
    path = tmp_path / "scores.csv"
    pd.DataFrame(
        {
            "participant_id": ["a", "b"],
            "phase": ["randomized", "randomized"],
            "arm": ["mdma", "mdma"],
            "caps__baseline": ["80", "lots"],
            "caps__post": [30, 20],
        }
    ).to_csv(path, index=False)
    assert_clear_failure(run_validate(path), ["caps__baseline", "lots", "row 3"])


def test_valid_file_exits_0_with_ledger_summary(trial_csv):
    result = run_validate(trial_csv)
    assert result.exit_code == 0, result.output
    assert "8 in" in result.output
    assert "7 with an MDMA episode" in result.output
    assert "p4" in result.output  # the excluded placebo participant is named in the ledger


def test_usage_error_exits_2():
    result = runner.invoke(app, ["analyze"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["analyze", "x.csv", "--adjust", "sidak"])
    assert result.exit_code == 2


def test_identical_duplicate_rows_are_kept_once_and_counted(tmp_path):
    frame = small_trial()
    doubled = pd.concat([frame, frame.iloc[:5]], ignore_index=True)
    path = tmp_path / "trial.csv"
    doubled.to_csv(path, index=False)
    result = run_validate(path)
    assert result.exit_code == 0, result.output
    assert f"{len(doubled)} read" in result.output
    assert "5 identical duplicates kept once" in result.output
