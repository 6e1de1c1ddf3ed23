"""The report, Word tables and figures under multiple imputation carry the pooled results,
the complete-case comparison and the sensitivity analysis, and say what is complete-case only."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from alliance.missing.figures import missing_figures
from alliance.missing.report import missing_tables
from alliance.models.plan import load_plan
from alliance.pipeline import analyze, load_data
from alliance.report.apa import to_text
from alliance.report.docx_tables import docx_bytes
from alliance.report.html import build_report
from tests.test_mi_analyze import scored_trial


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    path = tmp_path_factory.mktemp("mi_report") / "scores.csv"
    scored_trial().to_csv(path, index=False)
    plan = load_plan().with_overrides(
        missing_data="multiple_imputation", imputations=5, permutations=0, bootstrap=0
    )
    return analyze(load_data(path), plan, seed=6)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_report_has_the_missing_data_section_with_its_tables(analysis):
    report = build_report(analysis, draw_figures=False)
    assert '<section id="missing">' in report.html
    section = _text(report.html[report.html.index('<section id="missing">') :])
    assert "Missing-Data Pattern" in section
    assert "Complete Cases (CC) and Under Multiple Imputation (MI)" in section
    assert "Tipping Points" in section
    assert "complete cases only" in section  # robust companions are not passed off as pooled
    keys = [t.key for t in report.tables]
    assert keys[-4:] == ["missing_pattern", "missing_comparison", "missing_tipping", "planning"]


def test_methods_paragraph_names_the_imputation_and_what_it_describes(analysis):
    """The APA paragraphs are written from the complete-case models: under multiple imputation
    they must say so and name the imputation, not pass complete cases off as the analysis."""
    report = build_report(analysis, draw_figures=False)
    methods = _text(report.html[report.html.index("<h3>Method</h3>") :])[:4000]
    assert "multiply imputed (5 imputations by chained equations" in methods
    assert "rules with Barnard–Rubin degrees of freedom" in methods
    assert "those of the complete cases" in methods


def test_comparison_table_shows_both_analyses_of_every_model(analysis):
    tables = {t.key: t for t in missing_tables(analysis)}
    rows = [r for s in tables["missing_comparison"].sections for r in s.rows]
    assert len(rows) == 6
    for row, cc, mi in zip(rows, analysis.models, analysis.missing.models, strict=True):
        assert row[1] == str(cc.fit.n)
        assert row[6] == str(mi.n) == "30"
    pattern = [r for s in tables["missing_pattern"].sections for r in s.rows]
    assert ("none (complete)", "24") in pattern


def test_word_tables_carry_the_same(analysis):
    tables = missing_tables(analysis)
    document = docx_bytes(tables, "Tables", synthetic=False)
    xml = zipfile.ZipFile(io.BytesIO(document)).read("word/document.xml").decode("utf-8")
    for table in tables:
        assert table.title in xml
    assert to_text(tables[1].note)[:40] in _text(xml)


def test_no_missing_data_section_for_complete_cases(tmp_path):
    path = tmp_path / "scores.csv"
    scored_trial().to_csv(path, index=False)
    plan = load_plan().with_overrides(permutations=0, bootstrap=0)
    analysis = analyze(load_data(path), plan, seed=1)
    assert analysis.missing is None
    assert missing_tables(analysis) == []
    assert '<section id="missing">' not in build_report(analysis, draw_figures=False).html


def test_missing_data_figures(analysis):
    figures = missing_figures(analysis.missing, 0.05)
    assert [f.name for f in figures] == [
        "missing_observed_imputed",
        "missing_convergence",
        "missing_tipping_points",
    ]
    for figure in figures:
        assert figure.description and figure.caption
        assert figure.figure.axes
