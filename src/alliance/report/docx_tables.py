"""``tables.docx``: the report's APA tables set in Word.

Tables are set as APA 7 does (Publication Manual §7.8–7.21): the table number in bold, the
title in italics on the next line, horizontal rules above and below the column heads and below
the body only, no vertical rules, statistic symbols in italics and the note under the table.
The file is byte-identical for the same tables: python-docx stamps the package's zip entries
with the current time, so :func:`docx_bytes` rewrites them with a fixed one. Text is passed through :func:`~alliance.safe_text.xml_text`: a character
Word's XML cannot hold (a control character in an ID or label) shows as U+FFFD instead of
breaking the file.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt

from alliance.report.apa import ApaTable, Runs, plain
from alliance.safe_text import xml_text

SYNTHETIC_BANNER = "SYNTHETIC DATA \u2014 not real participants"

_RULE = {"val": "single", "sz": "8", "space": "0", "color": "000000"}  # 1 pt


def _add_runs(paragraph: Any, runs: Runs, size: float | None = None) -> None:
    for r in runs:
        run = paragraph.add_run(xml_text(r.text))
        run.italic = r.italic or None
        if r.sub:
            run.font.subscript = True
        if size is not None:
            run.font.size = Pt(size)


def _cell_borders(cell: Any, **edges: bool) -> None:
    """Set or clear the top/bottom rule of one cell; every other edge stays empty."""
    tc_pr = cell._tc.get_or_add_tcPr()
    for old in tc_pr.findall(qn("w:tcBorders")):
        tc_pr.remove(old)
    borders = OxmlElement("w:tcBorders")
    for edge in ("top", "left", "bottom", "right"):
        element = OxmlElement(f"w:{edge}")
        if edges.get(edge):
            for key, value in _RULE.items():
                element.set(qn(f"w:{key}"), value)
        else:
            element.set(qn("w:val"), "nil")
        borders.append(element)
    tc_pr.append(borders)


def _write_table(document: Any, number: int, table: ApaTable) -> None:
    heading = document.add_paragraph()
    heading.add_run(f"Table {number}").bold = True
    title = document.add_paragraph()
    title.add_run(xml_text(table.title)).italic = True
    n_cols = len(table.columns)
    grid = document.add_table(rows=1, cols=n_cols)
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    for j, head in enumerate(table.columns):
        cell = grid.rows[0].cells[j]
        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER if j else None
        _add_runs(cell.paragraphs[0], head, size=10)
        _cell_borders(cell, top=True, bottom=True)
    rows_added = 0
    for section in table.sections:
        if section.label:
            row = grid.add_row()
            merged = row.cells[0].merge(row.cells[n_cols - 1])
            _add_runs(merged.paragraphs[0], section.label, size=10)
            rows_added += 1
        for values in section.rows:
            row = grid.add_row()
            for j, value in enumerate(values):
                paragraph = row.cells[j].paragraphs[0]
                paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER if j else None
                _add_runs(paragraph, plain(value), size=10)
            rows_added += 1
    for row in grid.rows[1:]:
        for cell in row.cells:
            _cell_borders(cell)
    if rows_added:
        for cell in grid.rows[-1].cells:
            _cell_borders(cell, bottom=True)
    if table.note:
        note = document.add_paragraph()
        note.add_run("Note.").italic = True
        note.add_run(" ")
        _add_runs(note, table.note, size=10)
    document.add_paragraph()


def docx_bytes(tables: Sequence[ApaTable], heading: str, synthetic: bool) -> bytes:
    """A Word document holding ``tables``, numbered in order; synthetic data say so on top."""
    document = Document()
    section = document.sections[0]
    # The main table has eleven columns: landscape keeps them at a readable size.
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = section.page_height, section.page_width
    style = document.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(12)
    if synthetic:
        banner = document.add_paragraph()
        run = banner.add_run(SYNTHETIC_BANNER)
        run.bold = True
        section.header.paragraphs[0].add_run(SYNTHETIC_BANNER).bold = True
    document.add_paragraph(xml_text(heading))
    for number, table in enumerate(tables, start=1):
        _write_table(document, number, table)
    document.core_properties.created = _FIXED_TIME
    document.core_properties.modified = _FIXED_TIME
    document.core_properties.last_printed = _FIXED_TIME
    buffer = io.BytesIO()
    document.save(buffer)
    return _with_fixed_timestamps(buffer.getvalue())


# The docx core properties and zip entries carry times; one fixed value keeps equal tables
# byte-identical across runs (the report's provenance already records when it was made).
_FIXED_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def _with_fixed_timestamps(package: bytes) -> bytes:
    """The same zip package with every entry stamped at :data:`_FIXED_TIME`, entry order kept."""
    source = zipfile.ZipFile(io.BytesIO(package))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            stamped = zipfile.ZipInfo(entry.filename, date_time=_FIXED_TIME.timetuple()[:6])
            stamped.compress_type = zipfile.ZIP_DEFLATED
            stamped.external_attr = entry.external_attr
            target.writestr(stamped, source.read(entry.filename))
    return out.getvalue()
