"""Reading every supported format, and a clear DataError for every kind of unreadable file.

Every failing case also checks that the file's bytes are unchanged: input is only ever read.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyreadstat
import pytest

from alliance.errors import DataError
from alliance.input.readers import SOURCE_ROW, read_table
from alliance.input.writers import write_table
from tests.conftest import sha256, small_trial

HEADER = "participant_id,phase,arm,timepoint,instrument,item,value\n"
ROW = "m1,randomized,mdma,s4,WAI,1,5\n"


def read_fails(path: Path) -> DataError:
    """read_table raises DataError and leaves the file as it was; returns the error."""
    before = sha256(path) if path.is_file() else None
    with pytest.raises(DataError) as caught:
        read_table(path)
    if before is not None:
        assert sha256(path) == before, "the input file was modified"
    assert caught.value.problems, "a DataError must carry at least one problem"
    return caught.value


def only_problem(error: DataError):
    assert len(error.problems) == 1, error.lines()
    return error.problems[0]


def scored_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "participant_id": ["a1", "a2", "a3", "a3"],
            "phase": ["randomized", "randomized", "randomized", "open_label"],
            "arm": ["mdma", "mdma", "placebo", "placebo"],
            "caps__baseline": [80.0, 71.0, 90.0, 85.0],
            "caps__post": [30.0, np.nan, 80.0, 40.0],
            "wai__s4": [200.0, 180.5, 150.0, 210.0],
            "age": [34.0, 41.0, 29.0, 29.0],
        }
    )


# --- every format reads back what was written ------------------------------------------------

FORMATS = [".csv", ".tsv", ".xlsx", ".sav", ".dta", ".parquet"]


@pytest.mark.parametrize("suffix", FORMATS)
def test_item_file_round_trips_in_every_format(tmp_path, suffix):
    items = small_trial()
    path = write_table(items, tmp_path / f"items{suffix}")
    raw = read_table(path)
    assert raw.synthetic is False
    assert raw.sha256 == sha256(path)
    assert list(raw.frame.columns) == [*items.columns, SOURCE_ROW]
    assert raw.frame[SOURCE_ROW].tolist() == list(range(2, len(items) + 2))
    assert raw.frame["participant_id"].astype(str).tolist() == items["participant_id"].tolist()
    assert pd.to_numeric(raw.frame["value"]).tolist() == items["value"].tolist()


@pytest.mark.parametrize("suffix", FORMATS)
def test_scored_file_round_trips_in_every_format(tmp_path, suffix):
    scores = scored_frame()
    raw = read_table(write_table(scores, tmp_path / f"scores{suffix}"))
    for column in ("caps__baseline", "caps__post", "wai__s4"):
        np.testing.assert_array_equal(pd.to_numeric(raw.frame[column]), scores[column])
    assert raw.frame["arm"].tolist() == scores["arm"].tolist()


@pytest.mark.parametrize("suffix", FORMATS)
def test_synthetic_marker_is_read_and_removed_in_every_format(tmp_path, suffix):
    raw = read_table(write_table(scored_frame(), tmp_path / f"s{suffix}", synthetic=True))
    assert raw.synthetic is True
    assert "synthetic" not in raw.frame.columns


@pytest.mark.parametrize("marker", ["TRUE", "yes", "1", "True"])
def test_synthetic_marker_spellings(tmp_path, marker):
    path = tmp_path / "s.csv"
    path.write_text(f"participant_id,Synthetic\na,{marker}\nb,{marker}\n")
    assert read_table(path).synthetic is True


def test_all_false_marker_means_real_data(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("participant_id,synthetic\na,false\nb,no\n")
    raw = read_table(path)
    assert raw.synthetic is False
    assert "synthetic" not in raw.frame.columns


def test_mixed_synthetic_marker_is_a_problem(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("participant_id,synthetic\na,true\nb,false\n")
    problem = only_problem(read_fails(path))
    assert "synthetic" in problem.what


@pytest.mark.parametrize("suffix", [".sav", ".dta"])
def test_value_labels_are_applied(tmp_path, suffix):
    frame = pd.DataFrame(
        {
            "participant_id": ["a", "b"],
            "arm": [1, 2],
            "phase": [1, 1],
            "value": [1, 7],
        }
    )
    labels = {
        "arm": {1: "MDMA", 2: "Placebo"},
        "phase": {1: "Randomised"},
        "value": {1: "Never", 7: "Always"},
    }
    path = tmp_path / f"labelled{suffix}"
    writer = pyreadstat.write_sav if suffix == ".sav" else pyreadstat.write_dta
    writer(frame, str(path), variable_value_labels=labels)
    raw = read_table(path)
    assert raw.frame["arm"].tolist() == ["MDMA", "Placebo"]
    assert raw.frame["phase"].tolist() == ["Randomised", "Randomised"]
    assert raw.frame["value"].tolist() == ["Never", "Always"]
    assert raw.value_labels["value"] == {1: "Never", 7: "Always"} or raw.value_labels["value"] == {
        1.0: "Never",
        7.0: "Always",
    }


def test_column_names_are_stripped_and_lower_cased(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(" Participant_ID ,PHASE\na,randomized\n")
    assert list(read_table(path).frame.columns) == ["participant_id", "phase", SOURCE_ROW]


def test_blank_lines_are_skipped_but_rows_keep_their_spreadsheet_numbers(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + ROW + "\n" + ",,,,,,\n" + ROW.replace("m1", "m2"))
    raw = read_table(path)
    assert raw.frame["participant_id"].tolist() == ["m1", "m2"]
    assert raw.frame[SOURCE_ROW].tolist() == [2, 5]


def test_utf8_with_bom_and_crlf_is_read(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(codecs.BOM_UTF8 + (HEADER + "José,randomized,mdma,s4,WAI,1,5\n").encode())
    raw = read_table(path)
    assert raw.frame.columns[0] == "participant_id"
    assert raw.frame["participant_id"].tolist() == ["José"]


def test_utf16_with_bom_is_read(tmp_path):
    path = tmp_path / "t.tsv"
    text = HEADER.replace(",", "\t") + "José\trandomized\tmdma\ts4\tWAI\t1\t5\r\n"
    path.write_bytes(text.encode("utf-16"))
    assert read_table(path).frame["participant_id"].tolist() == ["José"]


def test_semicolon_csv_from_a_decimal_comma_locale(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER.replace(",", ";") + ROW.replace(",", ";"))
    assert read_table(path).frame["instrument"].tolist() == ["WAI"]


def test_quoted_separators_are_not_ragged(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + '"Smith, J",randomized,mdma,s4,WAI,1,5\n')
    assert read_table(path).frame["participant_id"].tolist() == ["Smith, J"]


def test_read_only_file_is_read(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + ROW)
    path.chmod(0o444)
    raw = read_table(path)
    assert raw.sha256 == hashlib.sha256((HEADER + ROW).encode()).hexdigest()


def test_excel_file_uses_the_first_sheet_and_keeps_types(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Participant_ID", "Value"])
    sheet.append(["a", 3])
    workbook.create_sheet("notes").append(["ignored"])
    workbook.create_sheet("empty")
    blank = workbook.create_sheet("blank cells")
    blank.append([None, "  "])
    path = tmp_path / "t.xlsx"
    workbook.save(path)
    raw = read_table(path)
    assert raw.frame["value"].tolist() == [3]
    assert raw.frame[SOURCE_ROW].tolist() == [2]
    # The unread worksheet holding data is named; empty ones are not worth a word.
    (warning,) = raw.warnings
    assert "only the first worksheet ('Sheet') was read" in warning
    assert "'notes'" in warning and "empty" not in warning and "blank cells" not in warning


def test_one_worksheet_reads_without_a_warning(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["participant_id"])
    workbook.active.append(["a"])
    path = tmp_path / "t.xlsx"
    workbook.save(path)
    assert read_table(path).warnings == ()


# --- files that cannot be read --------------------------------------------------------------


def _xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    workbook = openpyxl.Workbook()
    workbook.active.append(["participant_id"])
    workbook.save(buffer)
    return buffer.getvalue()


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", HEADER + ROW)
    return buffer.getvalue()


def _sav_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / "real.sav"
    pyreadstat.write_sav(pd.DataFrame({"a": [1.0]}), str(path))
    return path.read_bytes()


MISMATCHES = [
    ("trial.csv", lambda _: _xlsx_bytes(), "CSV", "an Excel workbook", "trial.xlsx"),
    ("trial.csv", lambda _: _zip_bytes(), "CSV", "a zip archive", None),
    ("trial.csv", lambda _: bytes(range(256)) * 4, "CSV", "binary data", None),
    ("trial.csv", lambda p: _sav_bytes(p), "CSV", "an SPSS data file", "trial.sav"),
    ("trial.sav", lambda _: (HEADER + ROW).encode(), "SPSS", "text", "trial.csv"),
    ("trial.dta", lambda _: (HEADER + ROW).encode(), "Stata", "text", "trial.csv"),
    ("trial.xlsx", lambda _: (HEADER + ROW).encode(), "Excel", "text", "trial.csv"),
    ("trial.xlsx", lambda _: _zip_bytes(), "Excel", "a zip archive", None),
    ("trial.xlsx", lambda _: b"\xd0\xcf\x11\xe0" + bytes(600), "Excel", ".xls", None),
    ("trial.parquet", lambda _: (HEADER + ROW).encode(), "Parquet", "text", "trial.csv"),
    ("trial.parquet", lambda _: bytes(range(1, 256)) * 4, "Parquet", "binary data", None),
    ("trial.sav", lambda _: b"\x1f\x8b" + bytes(100), "SPSS", "gzip", None),
]


@pytest.mark.parametrize(("name", "content", "label", "looks", "rename"), MISMATCHES)
def test_content_that_does_not_match_the_extension(tmp_path, name, content, label, looks, rename):
    path = tmp_path / name
    path.write_bytes(content(tmp_path))
    problem = only_problem(read_fails(path))
    assert problem.file == name
    assert f"not a valid {label} file" in problem.what
    assert looks in problem.what
    if rename is not None:
        assert rename in problem.fix


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("broken.parquet", b"PAR1" + bytes(range(200)) + b"PAR1", "cannot be read as Parquet"),
        ("broken.sav", b"$FL2" + bytes(300), "cannot be read as SPSS"),
        ("broken.dta", b"<stata_dta><header>" + bytes(300), "cannot be read as Stata"),
    ],
)
def test_damaged_binary_files(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content)
    assert fragment in only_problem(read_fails(path)).what


def test_unknown_extension(tmp_path):
    path = tmp_path / "trial.txt"
    path.write_text(HEADER + ROW)
    problem = only_problem(read_fails(path))
    assert "'.txt'" in problem.what
    assert "trial.csv" in problem.fix


def test_missing_file(tmp_path):
    problem = only_problem(read_fails(tmp_path / "absent.csv"))
    assert problem.file == "absent.csv"
    assert "does not exist" in problem.what


def test_directory(tmp_path):
    folder = tmp_path / "data.csv"
    folder.mkdir()
    assert "folder" in only_problem(read_fails(folder)).what


@pytest.mark.parametrize("content", [b"", b"  \n\r\n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    assert "empty" in only_problem(read_fails(path)).what


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_header_only_file(tmp_path, suffix):
    path = write_table(small_trial().iloc[:0], tmp_path / f"header{suffix}")
    assert "no data rows" in only_problem(read_fails(path)).what


def test_latin1_text_is_refused_with_the_line_and_what_to_do(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(
        ("participant_id,phase\nm1,randomized\nJos\xe9,randomized\n").encode("latin-1")
    )
    problem = only_problem(read_fails(path))
    assert problem.row == 3
    assert "UTF-8" in problem.what
    assert "0xE9" in problem.what
    assert "CSV UTF-8" in problem.fix


def test_rows_with_too_many_and_too_few_fields_are_each_reported(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text(HEADER + ROW + "m2,randomized,mdma,s4,WAI,1,5,9\n" + ROW + "m3,randomized\n")
    error = read_fails(path)
    assert [(p.row, "more" in p.what, "fewer" in p.what) for p in error.problems] == [
        (3, True, False),
        (5, False, True),
    ]
    assert "8 fields but the header has 7" in error.problems[0].what


def test_ragged_rows_in_a_quoted_file(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text(HEADER + '"m1",randomized,mdma,s4,WAI,1\n')
    assert only_problem(read_fails(path)).row == 2


@pytest.mark.parametrize("rows_after", [0, 3, 20_000])
def test_unterminated_quote_names_the_line_it_opens_on(tmp_path, rows_after):
    # 20,000 rows after it make the runaway cell outgrow csv's field limit; fewer reach the end
    # of the file, where csv would close the quote without a word.
    path = tmp_path / "quote.csv"
    path.write_text(HEADER + ROW + '"m2,randomized,mdma,s4,WAI,1,5\n' + ROW * rows_after)
    problem = only_problem(read_fails(path))
    assert problem.row == 3
    assert "never closed" in problem.what


def test_a_quoted_cell_may_span_lines_and_hold_quotes(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + ROW + '"m2 ""the second""\nparticipant",randomized,mdma,s4,WAI,1,5\n')
    assert read_table(path).frame["participant_id"].tolist() == [
        "m1",
        'm2 "the second"\nparticipant',
    ]


def test_text_after_a_closing_quote_is_reported_on_its_line(tmp_path):
    # A lenient reader would join it to the cell ('WAIx'); no program writes this.
    path = tmp_path / "t.csv"
    path.write_text(HEADER + ROW + 'm2,randomized,mdma,s4,"WAI"x,1,5\n')
    problem = only_problem(read_fails(path))
    assert problem.row == 3
    assert "quoting of a cell on this line is malformed" in problem.what


def test_a_stray_quote_inside_a_cell_is_kept(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + 'm1 5",randomized,mdma,s4,WAI,1,5\n')
    assert read_table(path).frame["participant_id"].tolist() == ['m1 5"']


def test_duplicate_column_names_after_lower_casing(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("Participant_ID,participant_id ,phase\na,b,randomized\n")
    problem = only_problem(read_fails(path))
    assert problem.column == "participant_id"
    assert "'Participant_ID'" in problem.what and "'participant_id '" in problem.what


def test_unnamed_column_with_data(tmp_path):
    path = tmp_path / "unnamed.csv"
    path.write_text("participant_id,,phase\na,x,randomized\n")
    problem = only_problem(read_fails(path))
    assert "column 2" in problem.what


def test_unnamed_empty_column_is_ignored(tmp_path):
    path = tmp_path / "trailing.csv"
    path.write_text("participant_id,phase,\na,randomized,\n")
    assert list(read_table(path).frame.columns) == ["participant_id", "phase", SOURCE_ROW]


def test_reserved_column_name(tmp_path):
    path = tmp_path / "reserved.csv"
    path.write_text("participant_id,Source_Row\na,1\n")
    assert only_problem(read_fails(path)).column == SOURCE_ROW


def test_a_stored_parquet_index_is_kept_as_a_column(tmp_path):
    path = tmp_path / "indexed.parquet"
    scored_frame().set_index("participant_id").to_parquet(path)
    raw = read_table(path)
    assert raw.frame["participant_id"].tolist() == scored_frame()["participant_id"].tolist()


def test_numeric_synthetic_marker_from_spss(tmp_path):
    path = tmp_path / "s.sav"
    pyreadstat.write_sav(
        pd.DataFrame({"participant_id": ["a", "b"], "synthetic": [1.0, 1.0]}), str(path)
    )
    assert read_table(path).synthetic is True
    pyreadstat.write_sav(
        pd.DataFrame({"participant_id": ["a", "b"], "synthetic": [0.0, 0.0]}), str(path)
    )
    assert read_table(path).synthetic is False
