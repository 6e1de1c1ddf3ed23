"""Wide exports and CDISC files through a mapping give what the item-layout file gives.

The fixtures (``tests/fixtures/exports``, written by ``make_exports.py``) hold one trial in six
shapes; each, read through its mapping, must give the same scores (``alliance score``) and the
same results.json numbers (``alliance analyze``) as ``trial_items.csv``. Bad mappings end in
exit status 1 with a message naming the mapping's line and the data column.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app
from tests.conftest import sha256

runner = CliRunner()
EXPORTS = Path(__file__).parent / "fixtures" / "exports"
ITEMS = EXPORTS / "trial_items.csv"
FIXTURES = [
    "redcap.csv",
    "spss_wide.sav",
    "stata_wide.dta",
    "excel_wide.xlsx",
    "sdtm_qs.csv",
    "adam_adqs.csv",
]


def _mapping(name: str) -> Path:
    return EXPORTS / f"{Path(name).stem}.toml"


def _output(result) -> str:
    return result.output + (result.stderr if result.stderr_bytes is not None else "")


def _score(data: Path, out: Path, mapping: Path | None = None) -> pd.DataFrame:
    args = ["score", str(data), "--out", str(out)]
    if mapping is not None:
        args += ["--mapping", str(mapping)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, _output(result)
    frame = pd.read_csv(out)
    return frame.sort_values(["participant_id", "phase"]).reset_index(drop=True)


def _results(data: Path, out: Path, mapping: Path | None = None) -> dict:
    args = ["analyze", str(data), "--out", str(out), "--bootstrap", "0", "--permutations", "0"]
    args += ["--no-figures"]
    if mapping is not None:
        args += ["--mapping", str(mapping)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, _output(result)
    return json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def item_results(tmp_path_factory) -> tuple[pd.DataFrame, dict]:
    folder = tmp_path_factory.mktemp("items")
    return _score(ITEMS, folder / "scores.csv"), _results(ITEMS, folder / "results")


@pytest.mark.parametrize("name", FIXTURES)
def test_export_gives_the_item_files_scores_and_results(name, item_results, tmp_path):
    expected_scores, expected = item_results
    data = EXPORTS / name
    before = sha256(data)
    scores = _score(data, tmp_path / "scores.csv", _mapping(name))
    pd.testing.assert_frame_equal(scores, expected_scores)
    results = _results(data, tmp_path / "results", _mapping(name))
    for key in ("models", "ledger", "reliability", "synthetic", "input_layout"):
        assert results[key] == expected[key], key
    assert sha256(data) == before


def test_redcap_screening_rows_and_unused_columns_are_reported(tmp_path):
    result = runner.invoke(
        app, ["validate", str(EXPORTS / "redcap.csv"), "--mapping", str(_mapping("redcap.csv"))]
    )
    output = _output(result)
    assert result.exit_code == 0, output
    assert "23 row(s) of event 'screening_arm_1'" in output
    assert "'wai_complete'" in output and "'consent_date'" in output


def test_instrument_not_given_is_not_missing_but_a_partial_one_is(tmp_path):
    """Blanking every WAI item of one event drops that administration; blanking one item of
    another leaves it as one missing answer."""
    frame = pd.read_csv(EXPORTS / "redcap.csv", dtype=str)
    wai = [c for c in frame.columns if re.fullmatch(r"wai_\d+", c)]
    answered = frame.index[frame[wai].notna().all(axis=1)]
    whole, partial = answered[0], answered[1]
    frame.loc[whole, wai] = None
    frame.loc[partial, "wai_5"] = None
    path = tmp_path / "redcap.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(app, ["validate", str(path), "--mapping", str(_mapping("redcap.csv"))])
    output = _output(result)
    assert result.exit_code == 0, output
    # 6682 answers before: 36 fewer rows (not given), one more blank (51 + 1).
    assert "rows: 6646 read, 6594 answered, 52 blank (missing items)" in output


def test_arm_codes_and_labels_both_match_value_labels(tmp_path):
    """An SPSS arm coded 1/2 with labels MDMA/Placebo: [values.arm] may use either."""
    text = _mapping("spss_wide.sav").read_text()
    by_label = text.replace('"1" = "mdma"', '"MDMA" = "mdma"').replace(
        '"2" = "placebo"', '"Placebo" = "placebo"'
    )
    mapping = tmp_path / "labels.toml"
    mapping.write_text(by_label)
    codes = _score(EXPORTS / "spss_wide.sav", tmp_path / "a.csv", _mapping("spss_wide.sav"))
    labels = _score(EXPORTS / "spss_wide.sav", tmp_path / "b.csv", mapping)
    pd.testing.assert_frame_equal(codes, labels)
    assert set(codes["arm"]) == {"mdma", "placebo"}


def test_scored_wide_file_without_phase_takes_a_constant(tmp_path):
    scored = tmp_path / "scored.csv"
    runner.invoke(app, ["score", str(ITEMS), "--out", str(scored)])
    frame = pd.read_csv(scored)
    frame = frame.loc[frame["phase"] == "randomized"].drop(columns="phase")
    frame = frame.rename(columns={"participant_id": "ID"})
    path = tmp_path / "scores_no_phase.csv"
    frame.to_csv(path, index=False)
    mapping = tmp_path / "map.toml"
    mapping.write_text('[columns]\n"ID" = "participant_id"\n[constants]\nphase = "randomized"\n')
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    result = runner.invoke(app, ["validate", str(path), "--mapping", str(mapping)])
    assert result.exit_code == 0, _output(result)
    assert "valid scored layout" in result.output


# --- Bad mappings --------------------------------------------------------------------------------


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _fails(tmp_path, data: Path, mapping_text: str, *expected: str) -> str:
    mapping = tmp_path / "bad.toml"
    mapping.write_text(mapping_text)
    before = sha256(data)
    result = runner.invoke(app, ["validate", str(data), "--mapping", str(mapping)])
    output = _output(result)
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    for text in expected:
        assert text in output, (text, output)
    assert sha256(data) == before
    return output


REDCAP = EXPORTS / "redcap.csv"
REDCAP_MAP = _mapping("redcap.csv").read_text()


def test_unknown_placeholder(tmp_path):
    text = REDCAP_MAP.replace('"wai_{item}"', '"wai_{items}"')
    _fails(tmp_path, REDCAP, text, f"line {_line(text, 'wai_{items}')}", "unknown placeholder")


def test_pattern_matching_no_column(tmp_path):
    text = REDCAP_MAP.replace('"wai_{item}"', '"wia_{item}"')
    line = _line(text, "wia_{item}")
    output = _fails(tmp_path, REDCAP, text, f"bad.toml line {line}", "matches no column")
    assert "'wai_1'" in output  # the columns it may have meant


def test_two_patterns_claim_one_column(tmp_path):
    text = REDCAP_MAP + '\n[[items]]\ninstrument = "WAI_SR"\npattern = "wai_{item}"\n'
    first = _line(text, '"wai_{item}"')
    _fails(
        tmp_path,
        REDCAP,
        text,
        "column 'wai_1'",
        "matched by two [[items]] patterns",
        f"bad.toml line {first}",
    )


def test_event_without_timepoint_holding_answers(tmp_path):
    text = "\n".join(line for line in REDCAP_MAP.splitlines() if "ol_post_arm_1" not in line)
    output = _fails(
        tmp_path,
        REDCAP,
        text,
        "column 'redcap_event_name'",
        "'ol_post_arm_1'",
        f"bad.toml line {_line(text, '[timepoints.values]')}",
    )
    assert "hold item answers" in output


def test_participant_column_with_conflicting_values(tmp_path):
    frame = pd.read_csv(REDCAP, dtype=str)
    row = frame.index[(frame["redcap_event_name"] == "post_arm_1")][0]
    arm = frame.loc[
        (frame["record_id"] == frame.loc[row, "record_id"]) & frame["rand_group"].notna(),
        "rand_group",
    ].iloc[0]
    frame.loc[row, "rand_group"] = "2" if arm == "1" else "1"
    data = tmp_path / "redcap.csv"
    frame.to_csv(data, index=False)
    _fails(
        tmp_path,
        data,
        REDCAP_MAP,
        "column 'rand_group'",
        f"participant '{frame.loc[row, 'record_id']}' has different arm values",
        f"bad.toml line {_line(REDCAP_MAP, 'columns = [')}",
    )


def test_unknown_instrument(tmp_path):
    text = REDCAP_MAP.replace('instrument = "IESR"', 'instrument = "IESR9"')
    _fails(tmp_path, REDCAP, text, f"line {_line(text, 'IESR9')}", "unknown instrument")


def test_unknown_item_code_matched(tmp_path):
    frame = pd.read_csv(REDCAP, dtype=str)
    frame["wai_37"] = frame["wai_1"]
    data = tmp_path / "redcap.csv"
    frame.to_csv(data, index=False)
    _fails(
        tmp_path,
        data,
        REDCAP_MAP,
        "column 'wai_37'",
        "'37' is not an item code of WAI",
        f"bad.toml line {_line(REDCAP_MAP, 'wai_{item}')}",
    )


def test_unknown_timepoint_token(tmp_path):
    text = _mapping("spss_wide.sav").read_text().replace('"ols9" =', '"ols10" =')
    _fails(
        tmp_path,
        EXPORTS / "spss_wide.sav",
        text,
        "column 'wai_ols9_1'",
        "token 'ols9'",
        f"bad.toml line {_line(text, 'wai_{timepoint}_{item}')}",
    )


def test_missing_event_column(tmp_path):
    text = REDCAP_MAP.replace('column = "redcap_event_name"', 'column = "event"')
    line = _line(text, 'column = "event"')
    _fails(tmp_path, REDCAP, text, "column 'event'", f"bad.toml line {line}")


def test_cdisc_pattern_without_codes(tmp_path):
    text = _mapping("sdtm_qs.csv").read_text().replace('"IESR{item}"', '"IES{item}"')
    _fails(
        tmp_path,
        EXPORTS / "sdtm_qs.csv",
        text,
        "column 'qstestcd'",
        f"bad.toml line {_line(text, 'IES{item}')}",
        "matches no value",
    )


def test_cdisc_unknown_visit_with_answers(tmp_path):
    text = "\n".join(
        line for line in _mapping("sdtm_qs.csv").read_text().splitlines() if '"POST"' not in line
    )
    _fails(tmp_path, EXPORTS / "sdtm_qs.csv", text, "column 'visit'", "'POST'", "item answers")


def test_renamed_column_absent_names_the_mapping_line(tmp_path):
    text = REDCAP_MAP.replace('"rand_group" = "arm"', '"randgroup" = "arm"')
    _fails(
        tmp_path,
        REDCAP,
        text,
        "column 'randgroup'",
        f"bad.toml line {_line(text, 'randgroup')} [columns]",
    )


def test_constant_for_a_column_the_file_has(tmp_path):
    text = REDCAP_MAP.replace("[participant]", '[constants]\narm = "mdma"\n\n[participant]')
    _fails(tmp_path, REDCAP, text, "column 'rand_group'", f"bad.toml line {_line(text, 'arm = ')}")


def test_every_mapping_in_the_guide_is_read(tmp_path):
    """The TOML examples of docs/mapping.md that are whole mappings load without a problem."""
    from alliance.input.mapping import load_mapping

    guide = Path(__file__).parents[1] / "docs" / "mapping.md"
    blocks = re.findall(r"```toml\n(.*?)```", guide.read_text(), flags=re.S)
    whole = [b for b in blocks if "[columns]" in b]
    assert len(whole) >= 3
    for k, block in enumerate(whole):
        path = tmp_path / f"example{k}.toml"
        path.write_text(block)
        mapping = load_mapping(path)
        assert mapping.wide is not None and mapping.wide.items


def test_two_rows_answering_one_item_differently_name_the_column(tmp_path):
    frame = pd.read_csv(REDCAP, dtype=str)
    row = frame.index[frame["redcap_event_name"] == "session_4_arm_1"][0]
    extra = frame.loc[[row]].copy()
    extra["wai_3"] = "1" if frame.loc[row, "wai_3"] != "1" else "2"
    data = tmp_path / "redcap.csv"
    pd.concat([frame, extra]).to_csv(data, index=False)
    _fails(
        tmp_path,
        data,
        REDCAP_MAP,
        "column 'wai_3'",
        "WAI item 3 is answered twice, differently",
        f"redcap.toml line {_line(REDCAP_MAP, '[timepoints.values]')}".replace(
            "redcap.toml", "bad.toml"
        ),
    )


def test_answer_out_of_range_names_the_files_column(tmp_path):
    frame = pd.read_csv(REDCAP, dtype=str)
    row = frame.index[frame["wai_7"].notna()][0]
    frame.loc[row, "wai_7"] = "9"
    data = tmp_path / "redcap.csv"
    frame.to_csv(data, index=False)
    _fails(tmp_path, data, REDCAP_MAP, f"row {row + 2}, column 'wai_7'", "response range 1–7")


def test_cdisc_conflicting_answers_name_the_value_column(tmp_path):
    frame = pd.read_csv(EXPORTS / "sdtm_qs.csv", dtype=str)
    row = frame.index[(frame["QSTESTCD"] == "WAI03") & (frame["VISIT"] == "SESSION 4")][0]
    extra = frame.loc[[row]].copy()
    extra["QSSTRESN"] = "1" if frame.loc[row, "QSSTRESN"] != "1" else "2"
    data = tmp_path / "sdtm_qs.csv"
    pd.concat([frame, extra]).to_csv(data, index=False)
    output = _fails(
        tmp_path, data, _mapping("sdtm_qs.csv").read_text(), "column 'qsstresn'", "WAI item 3"
    )
    assert "column 'value'" not in output
