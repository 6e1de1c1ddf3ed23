"""tables.docx: APA tables in Word — numbers, italic symbols, horizontal rules only, notes."""

from __future__ import annotations

import io

import pytest
from docx import Document
from docx.oxml.ns import qn

from alliance.report.apa import to_text
from alliance.report.apa_tables import report_tables
from alliance.report.docx_tables import SYNTHETIC_BANNER, docx_bytes
from tests.test_report_html import make_analysis, participant_ids


@pytest.fixture(scope="module")
def analysis():
    return make_analysis("article_like")


@pytest.fixture(scope="module")
def tables(analysis):
    return report_tables(analysis)


@pytest.fixture(scope="module")
def document(tables):
    return Document(io.BytesIO(docx_bytes(tables, "Tables", synthetic=False)))


def _edges(cell) -> dict[str, str]:
    borders = cell._tc.tcPr.find(qn("w:tcBorders"))
    return {edge: borders.find(qn(f"w:{edge}")).get(qn("w:val")) for edge in ("top", "bottom")}


def test_one_word_table_per_report_table(document, tables):
    assert [t.key for t in tables] == [
        "descriptives",
        "alliance_effects",
        "robustness",
        "coefficients",
        "diagnostics",
        "influence",
    ]  # no reliability for scored input; robustness holds HC3 for every analysis
    assert len(document.tables) == len(tables)
    headings = [p.text for p in document.paragraphs if p.text.startswith("Table ")]
    assert headings == [f"Table {i}" for i in range(1, len(tables) + 1)]


def test_cells_hold_the_formatted_numbers(document, tables):
    main = tables[1]
    word = document.tables[1]
    assert [c.text for c in word.rows[0].cells] == [to_text(c) for c in main.columns]
    # Row 1 is the CAPS section label (merged across the row), rows 2-4 its models.
    assert word.rows[1].cells[0].text == "CAPS total at post-treatment"
    assert tuple(c.text for c in word.rows[3].cells) == main.sections[0].rows[1]
    # Hand-checked against R (tests/fixtures/r/models/article_like.json): CAPS, session 4.
    assert main.sections[0].rows[1][:9] == (
        "Session 4",
        "22",
        "\u22120.55",
        "0.17",
        "[\u22120.89, \u22120.20]",
        "\u2212.52",
        "\u22123.29",
        ".004",
        ".022",
    )


def test_statistic_symbols_are_italic(document):
    head = document.tables[1].rows[0].cells
    italic = {
        run.text
        for cell in head
        for paragraph in cell.paragraphs
        for run in paragraph.runs
        if run.italic
    }
    assert {"b", "SE", "β", "t", "p", "n", "R", "f"} <= italic
    assert "95% CI" not in italic


def test_only_apa_horizontal_rules(document):
    table = document.tables[1]
    for cell in table.rows[0].cells:
        assert _edges(cell) == {"top": "single", "bottom": "single"}
    for row in table.rows[1:-1]:
        for cell in row.cells:
            assert _edges(cell) == {"top": "nil", "bottom": "nil"}
    for cell in table.rows[-1].cells:
        assert _edges(cell)["bottom"] == "single"
    for row in table.rows:
        for cell in row.cells:
            borders = cell._tc.tcPr.find(qn("w:tcBorders"))
            for edge in ("left", "right"):
                assert borders.find(qn(f"w:{edge}")).get(qn("w:val")) == "nil"


def test_note_below_each_table(document):
    notes = [p for p in document.paragraphs if p.text.startswith("Note.")]
    assert len(notes) == len(document.tables)
    assert notes[0].runs[0].text == "Note." and notes[0].runs[0].italic
    assert any("Holm" in p.text for p in notes)


def test_synthetic_banner_and_no_identifiers(analysis, tables):
    doc = Document(io.BytesIO(docx_bytes(tables, "Tables", synthetic=True)))
    assert doc.paragraphs[0].text == SYNTHETIC_BANNER
    assert doc.sections[0].header.paragraphs[0].text == SYNTHETIC_BANNER
    text = "\n".join(
        [p.text for p in doc.paragraphs]
        + [c.text for t in doc.tables for row in t.rows for c in row.cells]
    )
    assert not [pid for pid in participant_ids(analysis) if pid in text]
    plain = Document(io.BytesIO(docx_bytes(tables, "Tables", synthetic=False)))
    assert SYNTHETIC_BANNER not in "\n".join(p.text for p in plain.paragraphs)


def test_reliability_table_from_a_plain_frame():
    import numpy as np
    import pandas as pd

    from alliance.report.apa_tables import reliability_apa_table

    frame = pd.DataFrame(
        {
            "instrument": ["WAI", "WAI", "IESR"],
            "timepoint": ["s4", "pre_s3", "baseline"],
            "scale": ["wai", "wai_bond", "iesr"],
            "n": [21, 20, 3],
            "n_items": [36, 12, 22],
            "alpha": [0.912, 0.8049, np.nan],
            "omega": [0.93, 0.81, np.nan],
            "note": ["", "", "fewer than 3 complete cases"],
        }
    )
    table = reliability_apa_table(frame, episodes=22)
    # Sections and scores named as the instrument definitions name them, never by code.
    assert [to_text(s.label) for s in table.sections] == [
        "Working Alliance Inventory (client form)",
        "Impact of Event Scale \u2013 Revised",
    ]
    assert table.sections[0].rows == (
        ("WAI total", "Session 4", "21", "36", ".91", ".93"),
        ("WAI Bond", "Before session 3 (first MDMA session)", "20", "12", ".80", ".81"),
    )
    assert table.sections[1].rows == (("IES-R total", "Baseline", "3", "22", "\u2014", "\u2014"),)
    note = to_text(table.note)
    assert "22 MDMA treatment episodes analysed" in note
    assert "fewer than 3 complete cases" in note
    assert reliability_apa_table(None) is None
    assert reliability_apa_table(frame.iloc[0:0]) is None


def test_descriptives_table_hand_checked(tables):
    # article_like.csv, MDMA episodes: CAPS at baseline has n = 22, mean 68.77, SD 17.87.
    descriptives = tables[0]
    assert [to_text(s.label) for s in descriptives.sections] == [
        "CAPS total",
        "IES-R total",
        "WAI total",
    ]
    assert descriptives.sections[0].rows[0] == ("Baseline", "22", "68.77", "17.87", "19\u201399")
    assert [r[0] for r in descriptives.sections[2].rows] == [
        "Before session 3 (first MDMA session)",
        "Session 4",
        "Session 9",
    ]


def test_same_tables_give_the_same_bytes_whenever_written(tables):
    import zipfile
    from datetime import UTC, datetime

    first = docx_bytes(tables, "Tables", synthetic=True)
    package = zipfile.ZipFile(io.BytesIO(first))
    assert {entry.date_time for entry in package.infolist()} == {(2000, 1, 1, 0, 0, 0)}
    assert package.namelist()[0] == "[Content_Types].xml"
    core = Document(io.BytesIO(first)).core_properties
    assert core.created == core.modified == datetime(2000, 1, 1, tzinfo=UTC)
    assert docx_bytes(tables, "Tables", synthetic=True) == first
