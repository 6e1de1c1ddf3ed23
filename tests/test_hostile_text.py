"""Hostile text: what a participant ID, a label or a file can hold must never break an output,
run a formula, crash a figure or the Word file, leak a library warning, or mislead the user.

One group of tests per class: formula injection in every spreadsheet output (and the reader
undoing it), mathtext and XML-invalid characters in figures and tables.docx, library warnings
at the command line, hostile TOML files, and messages that point at the right place.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import xml.dom.minidom
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app
from alliance.config import MAX_TOML_BYTES
from alliance.errors import DataError, PlanError
from alliance.input.mapping import load_mapping
from alliance.input.readers import read_table
from alliance.input.writers import WRITABLE, write_table
from alliance.instruments.registry import parse_instrument
from alliance.safe_text import (
    neutralise,
    neutralise_frame,
    plot_text,
    terminal_text,
    unneutralise,
    xml_text,
)
from alliance.synthetic.settings import load_calibration
from alliance.synthetic.simulate import simulate
from tests.conftest import sha256, small_trial

runner = CliRunner()
SRC = Path(__file__).resolve().parents[1] / "src"

# IDs a spreadsheet would evaluate, mathtext would parse, XML cannot hold, or a terminal would
# obey; plus zero-width and right-to-left marks and a very long ID.
HOSTILE_IDS = [
    '=HYPERLINK("http://example.invalid","click")',
    "@SUM(1+1)",
    "+1",
    "-3",
    "=1+1",
    "$x^2$",
    "\\frac{a}{b}",
    "$_$",
    "a\x01b",
    "new\nline",
    "zero\u200bwidth",
    "\u202eRTL",
    "esc\x1b[2Jape",
    "x" * 300,
    "'=quoted",
]
FORMULA_START = tuple("=+-@\t\r")


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: its own process, so warnings reach its stderr."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-c", "from alliance.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def _scored_trial(ids: list[str] | None = None) -> pd.DataFrame:
    """The bundled synthetic trial in the scored layout, IDs replaced by ``ids`` in order."""
    scores = simulate(load_calibration(), 0).scores.copy()
    if ids:
        old = list(dict.fromkeys(scores["participant_id"]))
        rename = dict(zip(old, ids, strict=False))
        scores["participant_id"] = scores["participant_id"].map(lambda v: rename.get(v, v))
    return scores


# --- 1. Formula injection -----------------------------------------------------------------------


def test_neutralising_is_a_bijection_on_text():
    for text in ["=x", "+1", "-3", "@a", "\tx", "\rx", " =x", "'=x", "''@x", "'x", "x", ""]:
        safe = neutralise(text)
        assert unneutralise(safe) == text
        assert not safe.lstrip(" ").startswith(FORMULA_START)
    # Text that is not formula-like, even with a leading quote, is left alone both ways.
    assert neutralise("'plain") == "'plain" and unneutralise("'plain") == "'plain"
    assert neutralise("=x") == "'=x" and neutralise("'=x") == "''=x"


def test_numbers_are_never_touched_but_text_that_looks_negative_is():
    frame = pd.DataFrame(
        {"participant_id": ["-3", "p1"], "score": [-3.0, -1.5], "n": [-2, 4], "mixed": [-1.0, "-x"]}
    )
    safe = neutralise_frame(frame)
    assert safe["score"].tolist() == [-3.0, -1.5] and safe["score"].dtype == np.float64
    assert safe["n"].tolist() == [-2, 4]
    assert safe["participant_id"].tolist() == ["'-3", "p1"]
    assert safe["mixed"].tolist() == [-1.0, "'-x"]  # a number in a text column stays a number
    assert frame["participant_id"].tolist() == ["-3", "p1"]  # the input is not changed


@pytest.mark.parametrize("suffix", WRITABLE)
def test_ids_round_trip_through_every_writable_format(tmp_path, suffix):
    ids = [i for i in HOSTILE_IDS if "\x01" not in i and "\x1b" not in i] + ["\rcarriage"]
    frame = pd.DataFrame({"participant_id": ids, "caps__post": np.linspace(-5.5, 5, len(ids))})
    path = write_table(frame, tmp_path / f"out{suffix}")
    back = read_table(path).frame
    assert back["participant_id"].tolist() == ids
    assert np.allclose(pd.to_numeric(back["caps__post"]), frame["caps__post"])
    if suffix in (".csv", ".tsv"):
        cells = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str)
        assert not any(c.startswith(FORMULA_START) for c in cells["participant_id"])
    if suffix == ".xlsx":
        sheet = openpyxl.load_workbook(path).worksheets[0]
        kinds = {cell.data_type for row in sheet.iter_rows() for cell in row}
        assert "f" not in kinds, "a text cell became a live formula"


def test_scored_output_is_safe_and_validates_again(tmp_path):
    items = small_trial()
    rename = {"m1": "=HYPERLINK(1)", "m2": "@SUM(1)", "p1": "-3", "p2": "+CMD"}
    items["participant_id"] = items["participant_id"].map(lambda v: rename.get(v, v))
    source = tmp_path / "items.csv"
    items.to_csv(source, index=False)
    for suffix in (".csv", ".tsv", ".xlsx"):
        out = tmp_path / f"scores{suffix}"
        result = runner.invoke(app, ["score", str(source), "--out", str(out)])
        assert result.exit_code == 0, result.output
        again = runner.invoke(app, ["validate", str(out)])
        assert again.exit_code == 0, again.output
        assert set(read_table(out).frame["participant_id"]) >= set(rename.values())
    text = (tmp_path / "scores.csv").read_text()
    assert "\n=HYPERLINK" not in text and "\n'=HYPERLINK(1)," in text


def test_ledger_and_tables_are_neutralised(tmp_path):
    source = tmp_path / "scores.csv"
    write_table(_scored_trial(["=1+1", "@A1", "-3", "+x"]), source)
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["analyze", str(source), "--out", str(out), "--bootstrap", "0", "--permutations", "0"]
    )
    assert result.exit_code == 0, result.output
    for csv_file in [out / "ledger.csv", *sorted((out / "tables").glob("*.csv"))]:
        cells = pd.read_csv(csv_file, dtype=str, keep_default_na=False)
        for column in cells.columns:
            filled = cells[column][cells[column] != ""]
            if pd.to_numeric(filled, errors="coerce").notna().all():
                continue  # a numeric column: -0.25 is a number, not a formula
            bad = [c for c in filled if c.startswith(FORMULA_START)]
            assert not bad, f"{csv_file.name} column {column}: {bad}"
    ledger = read_table(out / "ledger.csv").frame
    assert {"=1+1", "@A1", "-3", "+x"} <= set(ledger["participant_id"])


def test_an_id_excel_cannot_store_is_a_clear_error(tmp_path):
    source = tmp_path / "items.csv"
    items = small_trial()
    items.loc[items["participant_id"] == "m1", "participant_id"] = "m\x011"
    items.to_csv(source, index=False)
    result = runner.invoke(app, ["score", str(source), "--out", str(tmp_path / "s.xlsx")])
    assert result.exit_code == 1, result.output
    assert "U+0001" in result.output and "Fix:" in result.output
    assert not (tmp_path / "s.xlsx").exists()


def test_simulated_files_carry_their_marker_through_neutralising_writers(tmp_path):
    frame = pd.DataFrame({"participant_id": ["=1", "SYN-1"], "value": [-1, 2]})
    for suffix in (".csv", ".xlsx"):
        raw = read_table(write_table(frame, tmp_path / f"s{suffix}", synthetic=True))
        assert raw.synthetic and raw.frame["participant_id"].tolist() == ["=1", "SYN-1"]
        assert pd.to_numeric(raw.frame["value"]).tolist() == [-1, 2]


# --- 2. mathtext, XML-invalid characters, extreme values in figures -----------------------------


def test_plot_and_xml_text():
    assert plot_text("$x^2$") == r"\$x^2\$"
    assert plot_text("a\nb\tc\x01d") == "a b c\ufffdd"
    assert plot_text("\\frac") == "\\frac"
    assert xml_text("a\x01b\x0bc\ud800d\ufffe\tok\n") == "a\ufffdb\ufffdc\ufffdd\ufffd\tok\n"
    assert terminal_text("a\x1b[2Jb\u202ec") == "a\\x1b[2Jb\\u202ec"


def test_hostile_ids_and_labels_through_analyze_show_ids(tmp_path):
    source = tmp_path / "scores.csv"
    write_table(_scored_trial(HOSTILE_IDS), source)
    plan = tmp_path / "plan.toml"
    plan.write_text(
        'name = "Plan $\\\\alpha$ \\\\frac{1}{2} \\u0001"\n'
        '[[outcomes]]\nscore = "caps"\nlabel = "CAPS $_$ \\\\frac \\u0007"\n'
        '[[predictors]]\nscore = "wai"\nlabel = "WAI $x^2$ \\u000b"\ntimepoints = ["s4"]\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = _cli(
        "analyze", str(source), "--plan", str(plan), "--out", str(out), "--show-ids",
        "--bootstrap", "0", "--permutations", "0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr
    assert "\x1b" not in result.stdout + result.stderr  # an ID cannot command the terminal
    import docx

    document = docx.Document(str(out / "tables.docx"))
    assert document.tables
    for svg in (out / "figures").glob("*.svg"):
        xml.dom.minidom.parse(str(svg))  # well-formed XML
    assert (out / "report.html").stat().st_size > 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "\x01" not in html and "\x07" not in html
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["models"]


def test_extreme_finite_values_do_not_crash_a_figure():
    from alliance.report.canvas import render_png, render_svg
    from alliance.report.figures import trajectory_figure

    episodes = pd.DataFrame(
        {
            "participant_id": ["a", "b", "c"],
            "wai__s4": [1.7e308, 1.79e308, -1.0e308],
            "wai__s9": [-1.7e308, 1.7e308, 1e308],
        }
    )
    with np.errstate(over="ignore", invalid="ignore"):
        figure = trajectory_figure(episodes, "wai", ["s4", "s9"], "WAI", show_ids=True)
    assert render_svg(figure).startswith("<?xml") or "<svg" in render_svg(figure)
    assert render_png(figure)[:4] == b"\x89PNG"


# --- 3. Library warnings ------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[6, 8])
def tiny_scores(request, tmp_path_factory) -> Path:
    """Six or eight participants: the old leave-one-out refits divided by zero inside numpy
    with six (now a model with too few cases is a located error), eight run through."""
    scores = _scored_trial()
    keep = sorted(scores["participant_id"].unique())[: request.param]
    path = tmp_path_factory.mktemp("tiny") / "tiny.csv"
    write_table(scores[scores["participant_id"].isin(keep)], path, synthetic=True)
    return path


def test_a_run_that_used_to_leak_warnings_prints_none(tiny_scores, tmp_path):
    args = ["analyze", str(tiny_scores), "--out", str(tmp_path / "o"), "--bootstrap", "200"]
    result = _cli(*args, "--permutations", "200")
    assert "Warning" not in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    if result.returncode:
        assert result.returncode == 1 and result.stderr.startswith("error: model "), result.stderr


def test_library_warnings_are_silenced_and_shown_with_debug(monkeypatch):
    import warnings

    from alliance import cli

    def noisy() -> None:
        with np.errstate(divide="warn"):
            np.float64(1.0) / np.float64(0.0)
        warnings.warn("glyph missing", UserWarning, stacklevel=1)

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        monkeypatch.setitem(cli._state, "debug", False)
        with cli._library_warnings():
            noisy()
        assert seen == []
        monkeypatch.setitem(cli._state, "debug", True)
        with cli._library_warnings():
            noisy()
        assert {w.category for w in seen} == {RuntimeWarning, UserWarning}


def test_an_overflow_in_our_arithmetic_is_an_error_naming_the_stage(monkeypatch):
    from alliance import cli
    from alliance.errors import AllianceError

    # Arithmetic as an alliance module does it (validation keeps real data from overflowing,
    # so the statistic is stood in for by a function whose module is one of ours).
    namespace = {"__name__": "alliance.models.overflowing", "np": np}
    exec("def sum_of_squares(y):\n    return float(np.sum(y * y))\n", namespace)
    y = np.random.default_rng(0).normal(size=20) * 1e300
    monkeypatch.setitem(cli._state, "debug", False)
    monkeypatch.setitem(cli._state, "stage", "analysing: models")
    with (
        pytest.raises(AllianceError, match=r"overflowed while analysing: models.*Fix:"),
        cli._library_warnings(),
        np.errstate(all="warn"),
    ):
        namespace["sum_of_squares"](y)


def test_an_overflow_stops_the_run_with_a_message_not_warnings(tmp_path):
    scores = _scored_trial()
    scores["caps__post"] = scores["caps__post"] * 1e300
    source = tmp_path / "huge.csv"
    write_table(scores, source, synthetic=True)
    out = tmp_path / "o"
    result = _cli("analyze", str(source), "--out", str(out), "--bootstrap", "0")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Warning" not in result.stderr and "Traceback" not in result.stderr
    assert "error:" in result.stderr and "Fix:" in result.stderr
    assert not (out / "results.json").exists()


# --- 4. Hostile TOML ----------------------------------------------------------------------------

DEEP = "a = " + "[" * 10_000 + "]" * 10_000 + "\n"
DOTTED = "a" + ".a" * 5_000 + " = 1\n"


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("deep.toml", DEEP.encode(), "nested"),
        ("inline.toml", ("a = " + "{b = " * 5_000 + "1" + "}" * 5_000).encode(), "nested"),
        ("dotted.toml", DOTTED.encode(), "nested"),
        ("latin1.toml", 'name = "Zürich"\n'.encode("latin-1"), "UTF-8"),
        ("binary.toml", b"\x00\x01\x02PK\x03\x04" * 10, "binary"),
        ("huge.toml", b"# padding\n" * (MAX_TOML_BYTES // 10 + 10), "larger than"),
    ],
)
@pytest.mark.parametrize("role", ["plan", "mapping", "calibration"])
def test_every_toml_reader_reports_a_bad_file(tmp_path, name, content, fragment, role):
    path = tmp_path / name
    path.write_bytes(content)
    data = tmp_path / "trial.csv"
    small_trial().to_csv(data, index=False)
    args = {
        "plan": ["analyze", str(data), "--plan", str(path), "--out", str(tmp_path / "o")],
        "mapping": ["validate", str(data), "--mapping", str(path)],
        "calibration": ["simulate", "--calibration", str(path), "--out", str(tmp_path / "s.csv")],
    }[role]
    before = sha256(path)
    result = runner.invoke(app, args)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == 1, output
    assert not isinstance(result.exception, RecursionError | UnicodeDecodeError)
    assert name in output and fragment in output and "Fix:" in output, output
    assert sha256(path) == before


def test_an_instrument_definition_nested_too_deep_is_a_plan_error():
    with pytest.raises(PlanError, match="nested"):
        parse_instrument(DEEP, "deep.toml")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_as_plan_does_not_hang(tmp_path):
    fifo = tmp_path / "plan.toml"
    os.mkfifo(fifo)
    data = tmp_path / "trial.csv"
    small_trial().to_csv(data, index=False)
    result = _cli("analyze", str(data), "--plan", str(fifo), timeout=60)
    assert result.returncode == 1 and "not a regular file" in result.stderr, result.stderr


# --- 5. Messages that point at the right place --------------------------------------------------


def test_a_value_the_mapping_produced_is_blamed_on_the_mapping(tmp_path):
    items = small_trial().rename(columns={"arm": "Group"})
    items["Group"] = items["Group"].map({"mdma": "Active", "placebo": "Control"})
    data = tmp_path / "trial.csv"
    items.to_csv(data, index=False)
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        '[columns]\n"Group" = "arm"\n[values.arm]\n"Active" = "mdmaa"\n"Control" = "placebo"\n'
    )
    result = runner.invoke(app, ["validate", str(data), "--mapping", str(mapping)])
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == 1, output
    line = next(line for line in output.splitlines() if "mdmaa" in line)
    assert "trial.csv, row " in line  # the data row
    assert 'map.toml [values.arm] "Active" = "mdmaa"' in line  # and the mapping entry
    assert "renamed by map.toml [columns]" in line and "Fix:" in line


def test_every_mapping_error_carries_a_fix(tmp_path):
    texts = [
        '[columns]\n"Subject" = "subject_id"\n',
        '[columns]\n"Subject" = "participant_id"\n"ID" = "participant_id"\n',
        '[columns]\n"Subject" = "participant_id"\n"subject" = "arm"\n',
        '[colums]\n"a" = "arm"\n',
        '[values.group]\n"A" = "mdma"\n',
        '[values.arm]\n"A" = true\n',
        '[values.arm]\n"A" = "mdma"\n"a" = "placebo"\n',
        '[columns]\n"Subject" = 3\n',
        "columns = 3\n",
        "values = 3\n",
        "[values]\narm = 3\n",
        "[columns\n",
    ]
    for text in texts:
        path = tmp_path / "map.toml"
        path.write_text(text)
        with pytest.raises(PlanError) as caught:
            load_mapping(path)
        for line in caught.value.lines():
            assert "Fix:" in line, line


@pytest.mark.parametrize("suffix", [".gz", ".zip", ".bz2", ".xz"])
def test_a_compressed_file_is_told_to_decompress(tmp_path, suffix):
    path = tmp_path / f"trial.csv{suffix}"
    path.write_bytes(b"\x1f\x8b" + b"\x00" * 20)
    with pytest.raises(DataError) as caught:
        read_table(path)
    text = str(caught.value)
    assert "compressed" in text and "decompress" in text and "'trial.csv'" in text
    assert "trial.csv.csv" not in text


def test_an_unknown_extension_lists_the_supported_ones(tmp_path):
    path = tmp_path / "trial.dat"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError) as caught:
        read_table(path)
    text = str(caught.value)
    assert all(s in text for s in (".csv", ".tsv", ".xlsx", ".sav", ".dta", ".parquet"))


def test_a_calibration_error_carries_a_fix(tmp_path):
    text = (Path(SRC) / "alliance" / "synthetic" / "calibration.toml").read_text("utf-8")
    path = tmp_path / "cal.toml"
    path.write_text(text.replace("[", "[unknown_section]\nx = 1\n[", 1), encoding="utf-8")
    result = runner.invoke(app, ["simulate", "--calibration", str(path), "--out", "s.csv"])
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == 1 and "cal.toml" in output and "Fix:" in output, output


# --- 6. More hostile text -----------------------------------------------------------------------


def test_a_file_name_with_markup_is_printed_as_it_is(tmp_path):
    path = tmp_path / "trial[red]x[bold].csv"
    small_trial().to_csv(path, index=False)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "trial[red]x[bold].csv" in result.output


def test_terminal_escapes_in_ids_are_printed_escaped(tmp_path):
    items = small_trial()
    items.loc[items["participant_id"] == "p4", "participant_id"] = "p\x1b[31m4\u202e"
    path = tmp_path / "trial.csv"
    items.to_csv(path, index=False)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "p\\x1b[31m4\\u202e" in result.output  # p4 is excluded (no MDMA), so it is named


def test_newline_zero_width_rtl_and_long_ids_survive_a_csv_round_trip(tmp_path):
    ids = ["new\nline", "zero\u200bwidth", "\u202eRTL\u200f", "\ufeffbom", "é" * 2000]
    frame = pd.DataFrame({"participant_id": ids, "v": range(len(ids))})
    path = write_table(frame, tmp_path / "x.csv")
    assert read_table(path).frame["participant_id"].tolist() == ids


def test_docx_holds_control_characters_as_replacement_characters():
    from alliance.report.apa import ApaTable, Section, plain
    from alliance.report.docx_tables import docx_bytes

    table = ApaTable(
        key="t",
        title="Title \x01 with $x$",
        columns=(plain("A\x0b"), plain("B")),
        sections=(Section((), (("id\x02", "1\ufffe"),)),),
        note=plain("note \x1f"),
    )
    data = docx_bytes([table], "Heading \x07", synthetic=False)
    body = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode("utf-8")
    xml.dom.minidom.parseString(body)
    assert "\ufffd" in body
