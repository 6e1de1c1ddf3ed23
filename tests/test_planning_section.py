"""``alliance analyze`` plans a replication from its own results: the report section, the
``planning`` key of results.json, tables/planning.csv and the APA table in tables.docx."""

from __future__ import annotations

import copy
import json
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app
from alliance.power.planning import planning_rows
from alliance.report.html import build_report
from alliance.report.planning_section import (
    PLANNING_POWER,
    analysis_planning,
    planning_apa_table,
    planning_records,
    planning_section_html,
)
from tests.test_mixed_plan import LONGITUDINAL, MODERATION
from tests.test_mixed_plan import run as run_mixed

runner = CliRunner()
DEMO = Path(__file__).parents[1] / "src" / "alliance" / "data" / "demo_trial.csv"
FAST = ["--bootstrap", "0", "--permutations", "0", "--no-figures"]


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("planning") / "out"
    result = runner.invoke(app, ["analyze", str(DEMO), "--out", str(out), *FAST])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def document(demo_out) -> dict:
    return json.loads((demo_out / "results.json").read_text(encoding="utf-8"))


def _section(html: str) -> str:
    start = html.index('<section id="planning">')
    return html[start : html.index("</section>", start)]


def test_planning_key_equals_planning_rows_on_the_same_document(document):
    rows = document["planning"]
    assert len(rows) == len(document["models"]) == 6
    without = {k: v for k, v in document.items() if k != "planning"}
    expected = planning_rows(without, document["plan"]["alpha"], PLANNING_POWER)
    assert [{k: v for k, v in row.items() if k != "label"} for row in rows] == expected
    assert [row["label"] for row in rows] == [m["label"] for m in document["models"]]
    for row, model in zip(rows, document["models"], strict=True):
        assert row["partial_r"] == model["partial_r"]
        assert row["benchmark_partial_r"] == pytest.approx(-0.28)
        assert row["target_power"] == PLANNING_POWER
        assert row["alpha"] == document["plan"]["alpha"]
        # corrected only when selected by significance
        if not row["significant"]:
            assert row["corrected_partial_r"] == row["partial_r"]
        else:
            assert abs(row["corrected_partial_r"]) < abs(row["partial_r"])
    # the demo has both kinds of model, so both branches above ran
    assert {row["significant"] for row in rows} == {True, False}


def test_planning_csv_matches_results_json(demo_out, document):
    frame = pd.read_csv(demo_out / "tables" / "planning.csv", keep_default_na=False)
    assert list(frame.columns) == list(document["planning"][0])
    for (_, line), row in zip(frame.iterrows(), document["planning"], strict=True):
        for key, value in row.items():
            cell = line[key]
            if value is None:
                assert cell == "", key
            elif isinstance(value, bool):
                assert str(cell) == str(value), key
            elif isinstance(value, int):
                assert int(cell) == value, key  # written as an integer, not "1094.0"
            elif isinstance(value, float):
                assert float(cell) == pytest.approx(value, rel=1e-12), key
            else:
                assert cell == value, key


def test_report_section_shows_the_same_numbers(demo_out, document):
    html = (demo_out / "report.html").read_text(encoding="utf-8")
    section = _section(html)
    assert "<h2>Planning a replication</h2>" in section
    assert "alliance power --from-results results.json --design" in section
    rows = re.findall(r"<tr>(.*?)</tr>", section.split("<tbody>")[1])
    assert len(rows) == len(document["planning"])
    for tr, row in zip(rows, document["planning"], strict=True):
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
        assert cells[1] == str(row["n"])
        needed = [row[k] for k in ("n_observed", "n_ci_low", "n_corrected", "n_benchmark")]
        shown = [cells[3], cells[5], cells[7], cells[9]]
        assert shown == [f"{n:,}" if n is not None else "—" for n in needed]
        assert cells[8] == "−.28"
        assert cells[6].endswith("ᵃ") == (not row["significant"])


def test_report_built_alone_computes_the_same_rows(demo_out, document):
    # build_report without the written document computes the rows from the analysis itself
    from alliance.models.plan import load_plan
    from alliance.pipeline import analyze, load_data

    analysis = analyze(load_data(DEMO), load_plan().with_overrides(bootstrap=0, permutations=0))
    assert analysis_planning(analysis) == document["planning"]
    html = build_report(analysis, draw_figures=False).html
    assert _section(html) == _section((demo_out / "report.html").read_text(encoding="utf-8"))


def test_tables_docx_has_the_planning_table(demo_out):
    with zipfile.ZipFile(demo_out / "tables.docx") as archive:
        xml = archive.read("word/document.xml").decode("utf-8")
    assert "Sample Sizes for a Replication" in xml


def test_unusable_r_is_named_and_does_not_crash(document):
    broken = copy.deepcopy({k: v for k, v in document.items() if k != "planning"})
    broken["models"][0]["partial_r"] = None  # r not computable
    broken["models"][1]["n"] = 4  # n − 3 − k < 1: no CI, no correction
    rows = planning_records(broken)
    for row in rows[:2]:
        assert row["ci_low"] is None and row["corrected_partial_r"] is None
        assert row["n_ci_low"] is None and row["n_corrected"] is None
        assert row["n_benchmark"] == rows[2]["n_benchmark"]  # the benchmark still plans
    assert rows[0]["n_observed"] is None
    html = planning_section_html(rows, lambda *keys: "")
    assert "could not be computed" in html
    assert rows[0]["label"] in html and rows[1]["label"] in html
    table = planning_apa_table(rows)
    assert table is not None
    first = table.sections[0].rows[0]
    assert first[2] == first[3] == first[4] == first[6] == "—"
    assert first[9] == str(rows[0]["n_benchmark"])


def test_no_article_models_no_section(tmp_path):
    result, out = run_mixed(tmp_path, LONGITUDINAL + MODERATION)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert document["models"] == [] and document["planning"] == []
    assert not (out / "tables" / "planning.csv").exists()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<section id="planning">' not in html
    assert planning_apa_table([]) is None
    assert planning_section_html([], lambda *keys: "x") == ""


@pytest.mark.parametrize("k", [0, 1, 3])
@pytest.mark.parametrize("alpha,target", [(0.05, 0.8), (0.01, 0.9), (0.05 / 6, 0.8), (0.2, 0.5)])
def test_search_from_the_fisher_guess_finds_the_same_n_as_required_n(k, alpha, target):
    from alliance.power.analytic import random_design_power, required_n
    from alliance.power.planning import fisher_guess

    for r in (-0.99, -0.9, -0.5, -0.28, -0.1, 0.03, 0.008, 0.3, 0.75):

        def power_at(n: int, r: float = r) -> float:
            return random_design_power(r, n, k, alpha)

        expected = required_n(power_at, target, k)
        guess = fisher_guess(r, k, alpha, target)
        assert required_n(power_at, target, k, guess) == expected, r
        for off in (-7, 5, 40):  # any start gives the same N
            start = min(max(guess + off, k + 3), 100_000)
            assert required_n(power_at, target, k, start) == expected, (r, off)
