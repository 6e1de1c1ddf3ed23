"""Mapping files: renaming a user's columns and labels, and naming every mistake in one."""

from __future__ import annotations

import pandas as pd
import pytest

from alliance.errors import DataError, PlanError
from alliance.input.mapping import apply_mapping, load_mapping
from alliance.input.readers import read_table
from alliance.validation.item_layout import validate_items
from tests.conftest import sha256, small_trial

MAPPING = """
[columns]
"Subject" = "participant_id"
"Visit" = "timepoint"
"Group" = "arm"
"Scale" = "instrument"

[values.arm]
"Active" = "mdma"
"Placebo" = "placebo"

[values.timepoint]
"Session 4" = "s4"
"""


def user_file(tmp_path):
    frame = small_trial().rename(
        columns={
            "participant_id": "Subject",
            "timepoint": "Visit",
            "arm": "Group",
            "instrument": "Scale",
        }
    )
    frame["Group"] = frame["Group"].map({"mdma": "ACTIVE", "placebo": "Placebo"})
    frame["Visit"] = frame["Visit"].replace({"s4": "session 4"})
    path = tmp_path / "user.csv"
    frame.to_csv(path, index=False)
    return path


def write(tmp_path, text, name="map.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_mapped_file_validates_like_the_original(tmp_path):
    original = tmp_path / "original.csv"
    small_trial().to_csv(original, index=False)
    path = user_file(tmp_path)
    before = sha256(path)
    mapped = apply_mapping(read_table(path), load_mapping(write(tmp_path, MAPPING)))
    assert sha256(path) == before
    expected = validate_items(read_table(original))
    pd.testing.assert_frame_equal(validate_items(mapped), expected)


def test_mapping_does_not_change_the_table_it_was_given(tmp_path):
    raw = read_table(user_file(tmp_path))
    columns = list(raw.frame.columns)
    apply_mapping(raw, load_mapping(write(tmp_path, MAPPING)))
    assert list(raw.frame.columns) == columns


def test_numbers_in_the_data_match_their_plain_spelling(tmp_path):
    path = tmp_path / "coded.csv"
    frame = small_trial()
    frame["arm"] = frame["arm"].map({"mdma": "1.0", "placebo": "2"})
    frame.to_csv(path, index=False)
    mapping = write(tmp_path, '[values.arm]\n"1" = "mdma"\n"2" = "placebo"\n')
    mapped = apply_mapping(read_table(path), load_mapping(mapping))
    assert set(mapped.frame["arm"]) == {"mdma", "placebo"}


def test_score_columns_can_be_mapping_targets(tmp_path):
    mapping = load_mapping(write(tmp_path, '[columns]\n"CAPS_pre" = "caps__baseline"\n'))
    assert mapping.columns == {"caps_pre": "caps__baseline"}


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('[columns\n"a" = "b"', ["not valid TOML", "line 1"]),
        ('[columns]\n"Subject" = "subject_id"\n', ["Subject", "subject_id", "unknown"]),
        (
            '[columns]\n"Subject" = "participant_id"\n"ID" = "participant_id"\n',
            ["Subject", "ID", "both mapped"],
        ),
        ('[columns]\n"Subject" = "participant_id"\n"subject" = "arm"\n', ["twice"]),
        ('[colums]\n"a" = "arm"\n', ["unknown section [colums]"]),
        ('[values.group]\n"A" = "mdma"\n', ["[values.group]", "unknown"]),
        ('[values.arm]\n"A" = true\n', ["[values.arm]", '"A"']),
        ('[columns]\n"Subject" = 3\n', ["Subject", "column name"]),
        ("columns = 3\n", ["[columns] must be a table"]),
    ],
)
def test_mapping_file_errors_name_the_file_and_key(tmp_path, text, fragments):
    with pytest.raises(PlanError) as caught:
        load_mapping(write(tmp_path, text))
    assert caught.value.file == "map.toml"
    text_out = "\n".join(caught.value.lines())
    for fragment in fragments:
        assert fragment in text_out, text_out


def test_every_mapping_file_error_is_listed(tmp_path):
    text = '[columns]\n"a" = "nope"\n"b" = "nada"\n[extra]\n'
    with pytest.raises(PlanError) as caught:
        load_mapping(write(tmp_path, text))
    assert len(caught.value.messages) == 3


def test_missing_mapping_file(tmp_path):
    with pytest.raises(PlanError, match="does not exist"):
        load_mapping(tmp_path / "absent.toml")


def test_mapping_a_column_the_file_lacks(tmp_path):
    raw = read_table(user_file(tmp_path))
    mapping = load_mapping(write(tmp_path, '[columns]\n"Subjekt" = "participant_id"\n'))
    with pytest.raises(DataError) as caught:
        apply_mapping(raw, mapping)
    [problem] = caught.value.problems
    assert problem.file == "map.toml"
    assert problem.column == "subjekt"
    assert "user.csv" in problem.what


def test_renaming_onto_an_existing_column(tmp_path):
    raw = read_table(user_file(tmp_path))
    mapping = load_mapping(write(tmp_path, '[columns]\n"Subject" = "phase"\n'))
    with pytest.raises(DataError, match="already has a column 'phase'"):
        apply_mapping(raw, mapping)


def test_relabelling_a_column_the_file_lacks(tmp_path):
    raw = read_table(user_file(tmp_path))
    mapping = load_mapping(write(tmp_path, '[values.site]\n"A" = "a"\n'))
    with pytest.raises(DataError, match=r"\[values.site\]"):
        apply_mapping(raw, mapping)
