"""``alliance mapping draft``: what it guesses from each export style, and what it leaves to
the user (the manual edits docs/user-guide.md documents)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app
from alliance.errors import PlanError
from alliance.input.draft import draft_mapping, find_item_groups, guess_arm, guess_timepoint
from alliance.input.mapping import load_mapping
from alliance.input.readers import read_table
from alliance.instruments.registry import load_instruments
from tests import draft_fixtures

runner = CliRunner()

# The edits the user guide documents for each fixture: (section, key) -> the value to write.
MANUAL_EDITS: dict[str, dict[tuple[str, str], str]] = {
    "redcap": {("values.arm", "1"): "mdma", ("values.arm", "2"): "placebo"},
    "spss": {},
    "stata": {("values.arm", "1"): "mdma", ("values.arm", "0"): "placebo"},
    "excel": {("timepoints.values", "Follow-up 12m"): "fu"},
}
BUILDERS = {
    "redcap": draft_fixtures.redcap_flat,
    "spss": draft_fixtures.spss_wide,
    "stata": draft_fixtures.stata_wide,
    "excel": draft_fixtures.excel_visits,
}


def draft_for(path: Path) -> Any:
    return draft_mapping(read_table(path), load_instruments())


def todo_entries(text: str) -> dict[tuple[str, str], int]:
    """(section, key) -> line number of every entry whose value is a TODO placeholder."""
    section, found = "", {}
    for number, line in enumerate(text.splitlines(), start=1):
        if match := re.match(r"^\[+([^\]]+)\]+", line):
            section = match[1]
        elif match := re.match(r'^("(?:[^"\\]|\\.)*"|[a-z_]+) = "TODO', line):
            key = tomllib.loads(f"{match[1]} = 0").popitem()[0]
            found[(section, key)] = number
    return found


def apply_edits(text: str, edits: dict[tuple[str, str], str]) -> str:
    """The draft with each TODO placeholder replaced as the guide tells the user to."""
    lines = text.splitlines()
    todos = todo_entries(text)
    for entry, value in edits.items():
        number = todos[entry]
        key = lines[number - 1].split(" = ", 1)[0]
        lines[number - 1] = f'{key} = "{value}"'
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("style", list(BUILDERS))
def test_draft_parses_and_leaves_exactly_the_documented_edits(tmp_path: Path, style: str) -> None:
    path, _ = BUILDERS[style](tmp_path)
    draft = draft_for(path)
    tomllib.loads(draft.text)
    assert set(todo_entries(draft.text)) == set(MANUAL_EDITS[style])
    assert len(draft.todos) == len(MANUAL_EDITS[style])
    edited = apply_edits(draft.text, MANUAL_EDITS[style])
    assert "TODO" not in re.sub(r"#.*", "", edited)


def test_redcap_draft(tmp_path: Path) -> None:
    path, _ = draft_fixtures.redcap_flat(tmp_path)
    draft = draft_for(path)
    mapping = tomllib.loads(draft.text)
    assert mapping["columns"] == {"record_id": "participant_id", "rand_group": "arm"}
    assert mapping["participant"] == {"columns": ["arm"]}
    assert mapping["timepoints"]["column"] == "redcap_event_name"
    values = mapping["timepoints"]["values"]
    assert values["baseline_arm_1"] == {"timepoint": "baseline", "phase": "randomized"}
    assert values["pre_session_3_arm_1"]["timepoint"] == "pre_s3"
    assert values["session_9_arm_1"]["timepoint"] == "s9"
    assert values["ol_post_treatment_arm_1"] == {"timepoint": "post", "phase": "open_label"}
    assert "screening_arm_1" not in values  # no answers there: no rows, nothing to name
    assert "phase" not in mapping.get("constants", {})  # the events carry it
    assert [(i["instrument"], i["pattern"]) for i in mapping["items"]] == [
        ("WAI", "wai_{item}"),
        ("CAPS5", "caps5_{item}"),
        ("IESR", "iesr_{item}"),
    ]
    assert "age" in draft.text.splitlines()[-1]  # unused columns are named


def test_spss_draft_uses_value_labels_and_timepoint_tokens(tmp_path: Path) -> None:
    path, _ = draft_fixtures.spss_wide(tmp_path)
    mapping = tomllib.loads(draft_for(path).text)
    assert mapping["columns"] == {"subject": "participant_id", "group": "arm"}
    assert mapping["values"]["arm"] == {"MDMA": "mdma", "Placebo": "placebo"}
    assert mapping["constants"] == {"phase": "randomized"}
    assert "timepoints" not in mapping and "participant" not in mapping
    items = {i["instrument"]: i for i in mapping["items"]}
    assert items["WAI"]["pattern"] == "wai_{timepoint}_{item}"
    assert items["WAI"]["timepoints"] == {"pres3": "pre_s3", "s4": "s4", "s9": "s9"}
    assert items["CAPS4"]["pattern"] == "caps4_{timepoint}_{item}"
    assert items["CAPS4"]["timepoints"] == {"bl": "baseline", "post": "post"}
    assert items["IESR"]["timepoints"] == {"bl": "baseline", "post": "post"}


def test_stata_draft_short_form_and_unlabelled_arm(tmp_path: Path) -> None:
    path, _ = draft_fixtures.stata_wide(tmp_path)
    draft = draft_for(path)
    mapping = tomllib.loads(draft.text)
    assert mapping["columns"] == {"pid": "participant_id", "trt": "arm"}
    items = {i["instrument"]: i for i in mapping["items"]}
    assert set(items) == {"WAI_S", "CAPS5", "IESR"}
    assert items["WAI_S"]["pattern"] == "wais_{timepoint}_{item}"
    assert items["CAPS5"]["timepoints"] == {"bl": "baseline", "pt": "post"}
    assert items["IESR"]["timepoints"] == {"pre": "baseline", "post": "post"}
    assert all("which arm is value" in t for t in draft.todos)


def test_excel_draft_visit_column_pcl5_and_unknown_instrument(tmp_path: Path) -> None:
    path, _ = draft_fixtures.excel_visits(tmp_path)
    draft = draft_for(path)
    mapping = tomllib.loads(draft.text)
    assert mapping["timepoints"]["column"] == "visit"
    assert mapping["timepoints"]["values"]["Session 4"] == "s4"
    assert {i["instrument"] for i in mapping["items"]} == {"WAI", "IESR", "PCL5"}
    # An instrument recognised by its prefix but missing from the registry (as PCL-5 was before
    # it had a definition) is reported and left out of the mapping, never guessed.
    registry = {code: d for code, d in load_instruments().items() if code != "PCL5"}
    older = draft_mapping(read_table(path), registry)
    assert {i["instrument"] for i in tomllib.loads(older.text)["items"]} == {"WAI", "IESR"}
    assert any("PCL5" in n and "no PCL5 definition" in n for n in older.notes)
    assert "pcl5" not in re.sub(r"#.*", "", older.text)


def test_ambiguous_short_wai_is_a_decision(tmp_path: Path) -> None:
    frame = pd.DataFrame({"subject": ["a", "b"], **{f"wai_{i}": [3, 4] for i in range(1, 13)}})
    frame["arm"] = ["MDMA", "placebo"]
    path = tmp_path / "short.csv"
    frame.to_csv(path, index=False)
    draft = draft_for(path)
    (entry,) = tomllib.loads(draft.text)["items"]
    assert entry["instrument"].startswith("TODO")
    assert "WAI_S" in entry["instrument"] and "WAI_SR" in entry["instrument"]
    assert any("WAI_S" in t and "instrument code" in t for t in draft.todos)


def test_no_id_column_is_a_decision(tmp_path: Path) -> None:
    frame = pd.DataFrame({"who": ["a", "b"], **{f"iesr_{i}": [1, 2] for i in range(1, 23)}})
    path = tmp_path / "noid.csv"
    frame.to_csv(path, index=False)
    draft = draft_for(path)
    assert "TODO: your participant ID column" in tomllib.loads(draft.text)["columns"]
    with pytest.raises(PlanError) as error:
        _load(tmp_path, draft.text)
    assert [m.split(":")[0] for m in error.value.messages] == [t.split(":")[0] for t in draft.todos]


def _load(folder: Path, text: str) -> Any:
    path = folder / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    return load_mapping(path)


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ([f"wai_s4_{i}" for i in range(1, 37)], ("WAI", "wai_{timepoint}_{item}", ("s4",))),
        ([f"WAI{i}".lower() for i in range(1, 37)], ("WAI", "wai{item}", ())),
        ([f"caps_{i}{k}" for i in range(1, 18) for k in "fi"], ("CAPS4", "caps_{item}", ())),
        ([f"caps_{i}" for i in range(1, 21)], ("CAPS5", "caps_{item}", ())),
        ([f"bl_caps5_{i}" for i in range(1, 21)], ("CAPS5", "{timepoint}_caps5_{item}", ("bl",))),
        (
            [f"ies_r.post.{i}" for i in range(1, 23)],
            ("IESR", "ies_r.{timepoint}.{item}", ("post",)),
        ),
        ([f"waisr_t1_{i}" for i in range(1, 13)], ("WAI_SR", "waisr_{timepoint}_{item}", ("t1",))),
    ],
)
def test_item_columns_are_read_off_the_names(
    columns: list[str], expected: tuple[str, str, tuple[str, ...]]
) -> None:
    groups, unclaimed = find_item_groups(columns, load_instruments())
    assert unclaimed == []
    (group,) = groups
    assert (group.instrument, group.pattern, group.tokens) == expected
    assert group.alternatives == ()


def test_columns_of_no_instrument_are_left_alone() -> None:
    groups, unclaimed = find_item_groups(
        ["visit_2", "session_4", "wai_37", "iesr_1", "age"], load_instruments()
    )
    assert [(g.instrument, g.columns) for g in groups] == [("IESR", ("iesr_1",))]
    assert groups[0].missing_items[:2] == ("2", "3")  # a partial instrument is reported
    assert unclaimed == ["visit_2", "session_4", "wai_37", "age"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("baseline_arm_1", ("baseline", False)),
        ("BL", ("baseline", False)),
        ("Session 4", ("s4", False)),
        ("sess_09", ("s9", False)),
        ("pre_session_3_arm_1", ("pre_s3", False)),
        ("PreS3", ("pre_s3", False)),
        ("ol_post_treatment_arm_2", ("post", True)),
        ("open_label_baseline", ("baseline", True)),
        ("Post", ("post", False)),
        ("follow_up_12m", (None, False)),
        ("screening", (None, False)),
        # Words of longer event names, as REDCap projects name their events.
        ("enrollment_baseline_arm_1", ("baseline", False)),
        ("ol_start_arm_1", ("baseline", True)),
        ("primary_endpoint_arm_1", ("post", False)),
        ("integration_4_arm_1", ("s4", False)),
        ("ol_integration_9_arm_1", ("s9", True)),
        ("prep_visit_3_arm_1", ("pre_s3", False)),
        ("Session4", ("s4", False)),
        ("baseline_to_endpoint", (None, False)),  # both ways: not guessed
        ("visit_2_week_6", (None, False)),  # two numbers: not guessed
    ],
)
def test_timepoint_guesses(text: str, expected: tuple[str | None, bool]) -> None:
    assert guess_timepoint(text) == expected


def test_arm_column_found_by_a_word_of_its_name(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "study_id": ["a", "b", "c", "d"],
            "site_group_size": [3, 4, 5, 6],  # a word of an arm name, but not two or three values
            "randomization_group": ["1", "2", "1", "2"],
            **{f"iesr_{i}": [1, 2, 3, 4] for i in range(1, 23)},
        }
    )
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    assert tomllib.loads(draft_for(path).text)["columns"]["randomization_group"] == "arm"


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("MDMA", "mdma"),
        ("MDMA-assisted therapy", "mdma"),
        ("Active", "mdma"),
        ("Placebo", "placebo"),
        ("inactive placebo", "placebo"),
        ("Control", "placebo"),
        ("1", None),
        ("Group A", None),
    ],
)
def test_arm_guesses(label: str, expected: str | None) -> None:
    assert guess_arm(label) == expected


def test_todo_left_in_a_mapping_stops_validate_naming_the_line(tmp_path: Path) -> None:
    path, _ = draft_fixtures.stata_wide(tmp_path)
    out = tmp_path / "mapping.toml"
    result = runner.invoke(app, ["mapping", "draft", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = todo_entries(out.read_text(encoding="utf-8"))
    result = runner.invoke(app, ["validate", str(path), "--mapping", str(out)])
    assert result.exit_code == 1
    for number in lines.values():
        assert f"mapping.toml: line {number}: " in result.output
    assert "Traceback" not in result.output


def test_a_todo_inside_a_comment_or_a_value_is_not_a_placeholder(tmp_path: Path) -> None:
    text = (
        '# TODO: check later\n[columns]\n"Subject" = "participant_id"  # "TODO" noted\n'
        '"todo_list" = "site"\n'
    )
    assert _load(tmp_path, text).columns == {"subject": "participant_id", "todo_list": "site"}


def test_draft_command_prints_and_writes(tmp_path: Path) -> None:
    path, _ = draft_fixtures.excel_visits(tmp_path)
    result = runner.invoke(app, ["mapping", "draft", str(path)])
    assert result.exit_code == 0, result.output
    assert '[timepoints]\ncolumn = "visit"' in result.stdout
    assert "to decide: line " in result.stderr and "Follow-up 12m" in result.stderr
    result = runner.invoke(app, ["mapping", "draft", str(path), "--out", str(path)])
    assert result.exit_code == 2  # never over the input
    result = runner.invoke(app, ["mapping", "draft", str(tmp_path / "none.csv")])
    assert result.exit_code == 1 and "does not exist" in result.output
    result = runner.invoke(app, ["mapping", "draft", str(path), "--out", str(tmp_path / "m.txt")])
    assert result.exit_code == 2


def test_draft_does_not_modify_the_input(tmp_path: Path) -> None:
    path, _ = draft_fixtures.spss_wide(tmp_path)
    before = path.read_bytes()
    assert runner.invoke(app, ["mapping", "draft", str(path)]).exit_code == 0
    assert path.read_bytes() == before


def test_a_file_alliance_reads_as_it_is_needs_no_mapping(trial_csv: Path) -> None:
    draft = draft_for(trial_csv)
    assert draft.todos == [] and "already in the item layout" in draft.notes[0]
    assert tomllib.loads(draft.text) == {}


def test_sdtm_file_points_to_the_sdtm_example(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"USUBJID": ["S-1", "S-1"], "QSTESTCD": ["IESR01", "IESR02"], "QSSTRESN": [1, 2],
         "VISIT": ["BASELINE", "BASELINE"]}
    )  # fmt: skip
    path = tmp_path / "qs.csv"
    frame.to_csv(path, index=False)
    assert any("SDTM" in note for note in draft_for(path).notes)


def test_numbered_sessions_and_untimed_items(tmp_path: Path) -> None:
    rows = [
        {"subject": s, "session": k, **{f"wai_{i}": 4 for i in range(1, 37)}}
        for s in ("a", "b")
        for k in (3, 4)
    ]
    path = tmp_path / "sessions.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    mapping = tomllib.loads(draft_for(path).text)
    assert mapping["timepoints"] == {"column": "session", "values": {"3": "s3", "4": "s4"}}

    wide = pd.DataFrame({"subject": ["a", "b"], **{f"iesr_{i}": [1, 2] for i in range(1, 23)}})
    path = tmp_path / "untimed.csv"
    wide.to_csv(path, index=False)
    draft = draft_for(path)
    assert tomllib.loads(draft.text)["constants"]["timepoint"].startswith("TODO")
    assert any("give their timepoint" in t for t in draft.todos)


def test_hostile_column_names_stay_valid_toml(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {'id "x"\\': ["a", "b"], "arm": ['MDMA "high"', "Placebo\t#1"],
         **{f"iesr_bl_{i}": [1, 2] for i in range(1, 23)}}
    )  # fmt: skip
    path = tmp_path / "odd.csv"
    frame.to_csv(path, index=False)
    mapping = tomllib.loads(draft_for(path).text)
    assert mapping["values"]["arm"] == {'MDMA "high"': "mdma", "Placebo\t#1": "placebo"}
