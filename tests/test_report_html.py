"""report.html: sections, the no-identifier rule, the synthetic banner, self-containment,
provenance, and the files ``write_report`` writes."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from alliance.models.plan import AnalysisPlan, load_plan
from alliance.pipeline import Analysis, analyze, load_data
from alliance.report.apa import to_text
from alliance.report.apa_tables import report_tables
from alliance.report.html import build_report, plan_toml, table_html, write_report

DATA = Path(__file__).parent / "fixtures" / "data"
BANNER = "SYNTHETIC DATA \u2014 not real participants"


def make_analysis(
    name: str = "crossover_missing",
    plan: AnalysisPlan | None = None,
    synthetic_copy: Path | None = None,
) -> Analysis:
    """Load one of the committed example data sets and analyse it with the article's plan.

    With ``synthetic_copy`` (a folder), the file is first copied there with the synthetic
    marker column, so the marker travels the real input path.
    """
    path = DATA / f"{name}.csv"
    if synthetic_copy is not None:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["synthetic"] = "true"
        path = synthetic_copy / f"{name}_synthetic.csv"
        frame.to_csv(path, index=False)
    return analyze(load_data(path), plan or load_plan(), seed=0)


def participant_ids(analysis: Analysis) -> list[str]:
    return [str(p) for p in analysis.ledger.participants["participant_id"]]


@pytest.fixture(scope="module")
def analysis() -> Analysis:
    return make_analysis()


@pytest.fixture(scope="module")
def report(analysis):
    return build_report(analysis)


@pytest.fixture(scope="module")
def synthetic_report(tmp_path_factory):
    synthetic = make_analysis(synthetic_copy=tmp_path_factory.mktemp("synthetic"))
    assert synthetic.loaded.synthetic
    return build_report(synthetic)


def test_sections_in_order(report):
    ids = re.findall(r'<section id="([^"]+)">', report.html)
    top = [i for i in ids if not i.startswith("supplement-")]
    assert top == [
        "summary", "flow", "descriptives", "models", "figures", "details", "planning",
        "supplement",
        "provenance",
    ]  # fmt: skip


def _section_html(html: str, key: str) -> str:
    start = html.index(f'<section id="{key}">')
    end = html.index('<section id="provenance">') if key == "supplement" else None
    body = html[start:end]
    return body if end else body.split("</section>", 1)[0]


def test_main_text_keeps_trajectories_and_forest_supplement_has_the_diagnostics(report, analysis):
    main = _section_html(report.html, "figures")
    # Trajectories, the forest plot, and the models beside the published effects.
    assert main.count("<figure") == len(analysis.plan.predictors) + 2
    assert 'id="figure-fig2-trajectories_wai"' in main and "forest" in main
    assert "forest_literature" in main and "Flückiger et al. 2018" in main
    assert "added_variable" not in main and "residuals" not in main and "influence" not in main
    supplement = _section_html(report.html, "supplement")
    n = len(analysis.models)
    assert supplement.count("<figure") == 3 * n
    for key, title in (
        ("added_variable_plots", "Added-variable plots"),
        ("residual_diagnostics", "Residual diagnostics"),
        ("influence_of_single_participants", "Influence of single participants"),
    ):
        part = supplement.split(f'<section id="supplement-{key}"><h3>{title}</h3>', 1)[1]
        assert part.split("</section>", 1)[0].count("<figure") == n, key
    # Supplementary figures are numbered S1, S2, ... in the order they appear.
    numbers = re.findall(r'figure-number">Figure (S?\d+)\.', supplement)
    assert numbers == [f"S{i}" for i in range(1, 3 * n + 1)]
    assert '<a href="#supplement">Supplement: diagnostic figures</a>' in report.html


def test_every_figure_has_svg_title_desc_and_caption(report, analysis):
    figures = re.findall(r"<figure\b.*?</figure>", report.html, flags=re.DOTALL)
    # flow + one trajectory per predictor + forest + models beside the literature
    # + (added-variable, residuals, influence) per model
    assert len(figures) == 1 + 1 + 1 + 1 + 3 * len(analysis.models)
    for block in figures:
        svg = re.search(r"<svg\b[^>]*>", block)
        assert svg is not None
        assert 'role="img"' in svg.group(0)
        assert re.search(r"<title[^>]*>[^<]+</title>", block)
        assert re.search(r"<desc[^>]*>[^<]{40,}</desc>", block)
        assert re.search(r"<figcaption>.*Figure S?\d+\..*</figcaption>", block, flags=re.DOTALL)


def test_no_participant_identifier_anywhere(report, analysis):
    html = report.html
    ids = participant_ids(analysis)
    assert len(ids) == 17
    leaked = [pid for pid in ids if pid in html]
    assert leaked == []


def test_show_ids_names_excluded_and_influential_participants(analysis):
    html = build_report(analysis, show_ids=True).html
    excluded = {pid for m in analysis.ledger.models for pid in m.excluded}
    excluded |= {e["participant_id"] for e in analysis.ledger.excluded()}
    influential = {
        c["participant_id"] for m in analysis.models for c in m.extras["diagnostics"]["influential"]
    }
    assert excluded and influential
    for pid in excluded | influential:
        assert pid in html
    assert '<section id="ledger">' in html


def test_synthetic_banner(report, synthetic_report):
    assert BANNER not in report.html
    assert "synthetic-banner" not in report.html.split("</style>", 1)[1]
    assert "@top-center" not in report.html
    html = synthetic_report.html
    body = html.split("<body>", 1)[1]
    # First thing on the page, in the top margin of every printed page, in the title.
    assert body.startswith(f'<div class="synthetic-banner" role="note">{BANNER}</div>')
    header = re.search(r"@top-center \{ content: \"([^\"]+)\"", html)
    assert header is not None
    assert header.group(1).replace("\\2014 ", "\u2014") == BANNER
    assert f"<title>{BANNER} \u00b7 " in html


def test_self_contained_no_external_references(report):
    html = report.html
    for pattern in (r"<script", r"<link\b", r"<iframe", r"<object", r"<embed", r"@import"):
        assert not re.search(pattern, html, flags=re.IGNORECASE), pattern
    assert re.findall(r"\bsrc\s*=", html) == []
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(h.startswith("#") for h in hrefs)
    urls = re.findall(r"url\(([^)]*)\)", html)
    assert all(u.startswith("#") for u in urls)
    # The page forbids any load even if something slipped through.
    assert "default-src 'none'" in html


def test_element_ids_are_unique(report):
    ids = re.findall(r'\bid="([^"]+)"', report.html)
    duplicates = [k for k, n in Counter(ids).items() if n > 1]
    assert duplicates == []
    # Every in-page reference points at an element that exists.
    targets = set(ids)
    refs = re.findall(r'href="#([^"]+)"', report.html) + re.findall(r"url\(#([^)]+)\)", report.html)
    assert set(refs) <= targets


def test_provenance(report, analysis):
    html = report.html
    assert analysis.loaded.sha256 in html
    assert "crossover_missing.csv" in html
    for library in ("numpy", "scipy", "pandas", "statsmodels", "matplotlib"):
        assert re.search(rf"{library} \d+\.\d+", html), library
    assert "<dt>Random seed</dt><dd>0</dd>" in html
    assert re.search(r"<dt>Report generated</dt><dd>\d{4}-\d\d-\d\dT", html)
    assert "[[outcomes]]" in html


@pytest.mark.parametrize(
    "plan",
    [
        load_plan(),
        load_plan().with_overrides(adjust="by", family="per_outcome", permutations=0),
        AnalysisPlan.model_validate(
            {
                "name": 'quote " and backslash \\ and ü',
                "covariates": ["age", "phase"],
                "outcomes": [{"score": "iesr"}],  # no label: None must be left out
                "predictors": [{"score": "wai_bond", "timepoints": ["s4"]}],
            }
        ),
    ],
)
def test_plan_toml_round_trips(plan):
    text = plan_toml(plan)
    assert AnalysisPlan.model_validate(tomllib.loads(text)) == plan


def test_robustness_table_renders_whatever_keys_are_present(analysis):
    extras = {"hc3_se": 0.2, "hc3_p": 0.0004, "bootstrap_ci_low": -0.9, "bootstrap_ci_high": -0.1}
    extras |= {"permutation_p": 0.012, "bf10": 14.5, "new_statistic": 1.5}
    models = [dataclasses.replace(m, extras={**m.extras, "term": extras}) for m in analysis.models]
    tables = {t.key: t for t in report_tables(dataclasses.replace(analysis, models=models))}
    robust = tables["robustness"]
    heads = [to_text(c) for c in robust.columns]
    assert heads == [
        "Alliance timepoint",
        "b",
        "SE",
        "p",
        "HC3 SE",
        "HC3 p",
        "BCa bootstrap 95% CI",
        "Permutation p",
        "BF10",
        "new statistic",
    ]
    row = robust.sections[0].rows[0]
    assert row[4:] == ("0.20", "< .001", "[\u22120.90, \u22120.10]", ".012", "14.50", "1.50")
    html = table_html(robust, 3)
    assert "<i>BF</i>" in html and "<sub>10</sub>" in html
    assert "BCa intervals can be too narrow" in to_text(robust.note)
    # Without a bootstrap column the caveat about BCa has no place in the note.
    no_bootstrap = {k: v for k, v in extras.items() if not k.startswith("bootstrap")}
    models = [dataclasses.replace(m, extras={**m.extras, "term": no_bootstrap}) for m in models]
    tables = {t.key: t for t in report_tables(dataclasses.replace(analysis, models=models))}
    assert "BCa" not in to_text(tables["robustness"].note)
    # Every analysis carries HC3 for the alliance term, so the table is always there.
    default = {t.key: t for t in report_tables(analysis)}["robustness"]
    assert [to_text(c) for c in default.columns] == [
        "Alliance timepoint", "b", "SE", "p", "HC3 SE", "HC3 p", "BCa bootstrap 95% CI",
        "Permutation p", "BF10",
    ]  # fmt: skip


def test_write_report_writes_every_file(tmp_path, analysis):
    html_path = write_report(analysis, tmp_path, show_ids=False, png=True)
    assert html_path == tmp_path / "report.html"
    html = html_path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    figures = tmp_path / "figures"
    stems = {p.stem for p in figures.iterdir()}
    assert "participant_flow" in stems and "forest_standardised_effects" in stems
    assert len(stems) == 1 + 1 + 1 + 1 + 3 * len(analysis.models)  # + forest_literature
    for stem in stems:
        svg = (figures / f"{stem}.svg").read_text(encoding="utf-8")
        assert "<svg" in svg and "<title" in svg
        with Image.open(figures / f"{stem}.png") as png:
            assert png.info["dpi"] == pytest.approx((300, 300), abs=0.01)
            assert png.size[0] > 1000
    assert (tmp_path / "tables.docx").stat().st_size > 10_000
    for pid in participant_ids(analysis):
        for path in figures.iterdir():
            if path.suffix == ".svg":
                assert pid not in path.read_text(encoding="utf-8")


def test_item_level_input_reports_reliability_and_instrument_ranges(trial_csv):
    """Item-level data name their instruments: ranges come from the definitions, and the
    internal-consistency table appears."""
    from alliance.report.html import score_ranges

    item_analysis = analyze(load_data(trial_csv), load_plan(), seed=0)
    ranges = score_ranges(item_analysis)
    # CAPS-IV: 17 symptoms of frequency + intensity 0–4; WAI: 36 items 1–7; IES-R: 22 items 0–4.
    assert ranges["caps"] == (0.0, 136.0)
    assert ranges["caps_c"] == (0.0, 56.0)
    assert ranges["wai"] == (36.0, 252.0)
    assert ranges["wai_bond"] == (12.0, 84.0)
    assert ranges["iesr"] == (0.0, 88.0)
    assert ranges["iesr_intrusion_mean"] == (0.0, 4.0)
    assert "caps_e" not in ranges  # CAPS-5 is not in these data
    html = build_report(item_analysis).html
    assert "Internal Consistency of the Analysed Scores" in html
    assert "<i>α</i>" in html and "<i>ω</i>" in html
    assert "<!-- WAI total (36–252) -->" in html


def test_scored_input_gets_a_range_only_when_the_data_decide_it(analysis):
    from alliance.report.html import score_ranges

    # Scored files do not say which CAPS or WAI form they hold; values above 80 rule out
    # CAPS-5, values above 84 rule out the 12-item WAI forms.
    ranges = score_ranges(analysis)
    assert ranges["caps"] == (0.0, 136.0) and ranges["wai"] == (36.0, 252.0)
    scores = analysis.loaded.scores.copy()
    scores["caps__baseline"] = scores["caps__baseline"].clip(upper=80)
    scores["caps__post"] = scores["caps__post"].clip(upper=80)
    ambiguous = dataclasses.replace(
        analysis, loaded=dataclasses.replace(analysis.loaded, scores=scores)
    )
    assert "caps" not in score_ranges(ambiguous)
