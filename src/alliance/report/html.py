"""``report.html``: the whole analysis in one self-contained page, plus its figures and tables.

The page has no external resource of any kind (inline CSS, figures as inline SVG, system
fonts, no scripts), so it opens the same offline and never makes a network request. It names
no participant unless asked to (``show_ids``): reports get shared, identifiers stay in
``ledger.csv`` and ``results.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from alliance import __version__
from alliance.instruments.registry import Instrument, ScoreDefinition, load_instruments
from alliance.models.plan import AnalysisPlan
from alliance.models.small_sample import small_sample_warnings
from alliance.report import apa, apa_text
from alliance.report.apa import ApaTable, Runs
from alliance.report.apa_tables import plan_scores, report_tables
from alliance.report.canvas import (
    ReportFigure,
    file_stem,
    inline_svg,
    render_png,
    render_svg,
)
from alliance.report.docx_tables import SYNTHETIC_BANNER, docx_bytes
from alliance.report.figures import (
    added_variable_figure,
    forest_figure,
    residual_figure,
    trajectory_figure,
)
from alliance.report.files import write_atomic, write_text
from alliance.report.flow import describe_flow, flow_counts, flow_figure, flow_svg
from alliance.report.influence import influence_figure
from alliance.report.mixed_figures import mixed_figures
from alliance.report.mixed_models import mixed_section_html
from alliance.report.planning_section import (
    analysis_planning,
    planning_apa_table,
    planning_section_html,
)
from alliance.report.results_json import software_versions
from alliance.report.summaries import summary_note
from alliance.safe_text import xml_text

NO_FIGURES = (
    "<p>Figures were not drawn (<code>alliance analyze --no-figures</code>); run without that "
    "option to draw them. The participant flow above and every table are complete.</p>"
)

if TYPE_CHECKING:
    from alliance.pipeline import Analysis

LIBRARIES = ("numpy", "scipy", "pandas", "statsmodels", "matplotlib", "python-docx", "pydantic")
CSS = (Path(__file__).with_name("report.css")).read_text(encoding="utf-8")


def page_head(title: str, head_extra: str = "") -> str:
    """The opening of every self-contained page alliance writes (report, meta-analysis, power),
    up to and including ``<body>``: the stylesheet inline and a content security policy."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # Belt and braces: even a stray reference could not load anything.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{CSS}</style>{head_extra}</head><body>"
    )


# --------------------------------------------------------------------------- provenance


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a TOML value")


def plan_toml(plan: AnalysisPlan) -> str:
    """The plan as a TOML file that ``alliance analyze --plan`` reads back to the same plan."""
    data = plan.model_dump(mode="json")
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    arrays: list[tuple[str, list[dict[str, Any]]]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            arrays.append((key, value))
        elif value is not None:  # TOML has no null: an unset option is left out
            lines.append(f"{key} = {_toml_value(value)}")
    for key, table in tables:
        lines += ["", f"[{key}]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None]
    for key, items in arrays:
        for item in items:
            lines += ["", f"[[{key}]]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in item.items() if v is not None]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- rendering


def runs_html(runs: Iterable[apa.Run]) -> str:
    out = []
    for run in runs:
        text = escape(run.text)
        if run.sub:
            text = f"<sub>{text}</sub>"
        if run.italic:
            text = f"<i>{text}</i>"
        out.append(text)
    return "".join(out)


def table_html(table: ApaTable, number: int) -> str:
    n_cols = len(table.columns)
    head = "".join(f'<th scope="col">{runs_html(c)}</th>' for c in table.columns)
    body = []
    for section in table.sections:
        if section.label:
            body.append(
                f'<tr class="section"><th colspan="{n_cols}" scope="colgroup">'
                f"{runs_html(section.label)}</th></tr>"
            )
        for row in section.rows:
            body.append("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>")
    note = f'<p class="table-note"><i>Note.</i> {runs_html(table.note)}</p>' if table.note else ""
    return (
        f'<div class="table-block" id="table-{escape(table.key)}">'
        f'<div class="table-wrap"><table class="apa"><caption>'
        f'<span class="table-number">Table {number}</span>'
        f'<span class="table-title">{escape(table.title)}</span></caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        f"{note}</div>"
    )


def figure_html(svg: str, number: int | str, caption: str, prefix: str) -> str:
    return (
        f'<figure id="figure-{escape(prefix)}">{inline_svg(svg, prefix)}'
        f'<figcaption><span class="figure-number">Figure {number}.</span> '
        f"{escape(caption)}</figcaption></figure>"
    )


# --------------------------------------------------------------------------- content


def score_range(instrument: Instrument, score: ScoreDefinition) -> tuple[float, float]:
    """Lowest and highest possible value of one score of an instrument.

    A scoring unit made of several items (a CAPS-IV symptom: frequency + intensity) spans the
    sum of its items' ranges; a mean score spans one unit's range.
    """
    parts = [len(instrument.units.get(unit, (unit,))) for unit in score.items]
    low = sum(parts) * instrument.response_min
    high = sum(parts) * instrument.response_max
    if score.method == "mean":
        return (low / len(parts), high / len(parts))
    return (low, high)


def score_ranges(analysis: Analysis) -> dict[str, tuple[float, float]]:
    """The possible range of each score in the data, for axis labels.

    Item-level input names its instruments. A scored file's ``caps`` may be CAPS-IV (0–136)
    or CAPS-5 (0–80) and its ``wai`` any of three WAI forms: a candidate is kept only when
    every observed value lies in its range, and a score gets a range only when exactly one
    candidate is left, never a guessed one.
    """
    items = analysis.loaded.items
    present = None if items is None else {str(c) for c in items["instrument"].unique()}
    scores = analysis.loaded.scores
    candidates: dict[str, set[tuple[float, float]]] = {}
    for code, instrument in load_instruments().items():
        if present is not None and code not in present:
            continue
        for score in instrument.scores:
            candidates.setdefault(score.name, set()).add(score_range(instrument, score))
    ranges = {}
    for name, options in candidates.items():
        columns = [c for c in scores.columns if c.split("__", 1)[0] == name]
        values = scores[columns].apply(pd.to_numeric, errors="coerce").stack().dropna()
        fitting = [
            (low, high)
            for low, high in sorted(options)
            if values.empty or (values.min() >= low and values.max() <= high)
        ]
        if len(fitting) == 1:
            ranges[name] = fitting[0]
    return ranges


# Diagnostic figures a reviewer checks but a reader of the results does not need: they go to
# the report's supplement, grouped by kind, with their own numbering (Figure S1, S2, ...).
SUPPLEMENT_GROUPS = (
    ("added_variable_", "Added-variable plots"),
    ("residuals_", "Residual diagnostics"),
    ("influence_", "Influence of single participants"),
    ("missing_", "Missing data: multiple imputation"),
)


def supplement_group(figure: ReportFigure) -> str | None:
    """The supplement subsection a figure belongs to, or None for a main-text figure."""
    for prefix, title in SUPPLEMENT_GROUPS:
        if figure.name.startswith(prefix):
            return title
    return None


def report_figures(
    analysis: Analysis, show_ids: bool, ranges: Mapping[str, tuple[float, float]]
) -> list[ReportFigure]:
    """Every matplotlib figure of the report, in order: the main text's (alliance trajectories,
    forest plot), then the supplement's, group by group."""
    plan = analysis.plan
    figures = [
        trajectory_figure(
            analysis.episodes.frame,
            p.score,
            p.timepoints,
            p.label or p.score,
            ranges,
            show_ids,
        )
        for p in plan.predictors
    ]
    if analysis.models:
        figures.append(forest_figure(analysis.models))
        from alliance.meta.benchmark import benchmark_figure  # the trial beside the literature

        figures.extend(f for f in [benchmark_figure(analysis.models)] if f is not None)
    figures.extend(mixed_figures(analysis, ranges, show_ids))
    figures.extend(added_variable_figure(m, show_ids) for m in analysis.models)
    figures.extend(residual_figure(m, show_ids, ranges) for m in analysis.models)
    figures.extend(
        influence_figure(m, plan.alpha, show_ids) for m in analysis.models
        if m.extras.get("influence")
    )  # fmt: skip
    from alliance.missing.figures import missing_figures  # when multiple imputation ran

    figures.extend(missing_figures(analysis.missing, plan.alpha))
    return figures


@dataclass(frozen=True)
class Report:
    html: str
    figures: tuple[ReportFigure, ...]
    svgs: tuple[str, ...]
    tables: tuple[ApaTable, ...]


def _paragraph(runs: Runs) -> str:
    return f"<p>{runs_html(runs)}</p>"


def _provenance(analysis: Analysis, generated: dt.datetime) -> str:
    loaded = analysis.loaded
    versions = ", ".join(f"{k} {v}" for k, v in software_versions(LIBRARIES).items())
    rows = [
        ("Input file", escape(loaded.path.name)),
        ("Input SHA-256", f"<code>{escape(loaded.sha256)}</code>"),
        ("Input layout", escape(loaded.layout)),
        ("Synthetic data", "yes" if loaded.synthetic else "no"),
        ("Analysis plan", escape(analysis.plan.name)),
        ("Random seed", str(analysis.seed)),
        ("Report generated", escape(generated.isoformat(timespec="seconds"))),
        ("Software", escape(versions)),
    ]
    items = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return (
        f'<dl class="provenance">{items}</dl>'
        "<h3>Analysis plan (TOML, reusable with <code>alliance analyze --plan</code>)</h3>"
        f'<pre class="plan">{escape(plan_toml(analysis.plan))}</pre>'
    )


def _list(lines: list[str]) -> str:
    return '<ul class="warnings">' + "".join(f"<li>{escape(w)}</li>" for w in lines) + "</ul>"


def _warnings(analysis: Analysis) -> str:
    """What the input raised that is not an error: the reader of a shared report should see it."""
    items = "".join(f"<li>{escape(w)}</li>" for w in analysis.loaded.warnings)
    return f'<ul class="warnings">{items}</ul>'


def _ledger_section(analysis: Analysis) -> str:
    """Who was left out and why, by participant: only when identifiers may be shown."""
    rows = [
        (str(e["participant_id"]), "all models", str(e["reason"]))
        for e in analysis.ledger.excluded()
    ]
    labels = {m.spec.key: _model_name(m.spec) for m in analysis.models}
    for model in analysis.ledger.models:
        for pid, reason in sorted(model.excluded.items()):
            rows.append((pid, labels.get(model.key, model.key), reason))
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in rows)
    if not body:
        return "<p>No participant was excluded.</p>"
    return (
        '<div class="table-wrap"><table class="apa"><thead><tr><th scope="col">Participant</th>'
        '<th scope="col">Excluded from</th><th scope="col">Reason</th></tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _model_names(analysis: Analysis) -> dict[str, str]:
    return {m.spec.key: _model_name(m.spec) for m in analysis.models}


def _model_name(spec: Any) -> str:
    return apa.model_label(spec)


_ARTICLE_ONLY = tuple(f'<section id="{k}">' for k in ("summary", "models", "details"))


def _section(key: str, title: str, content: str) -> str:
    return f'<section id="{key}"><h2>{escape(title)}</h2>{content}</section>'


def build_report(
    analysis: Analysis,
    show_ids: bool = False,
    generated: dt.datetime | None = None,
    draw_figures: bool = True,
    planning: list[dict[str, Any]] | None = None,
) -> Report:
    """The report page and the figures and tables it shows.

    Each figure is drawn once, to SVG: the same text goes inline into the page and into
    ``figures/``. Without ``draw_figures`` the page says where the figures would be, and
    matplotlib is never loaded. ``planning`` is results.json's ``planning`` rows (computed
    from the analysis when not given).
    """
    generated = generated or dt.datetime.now(dt.UTC).replace(microsecond=0)
    plan = analysis.plan
    ledger = analysis.ledger
    tables = report_tables(analysis, show_ids)
    planning = analysis_planning(analysis) if planning is None else planning
    if planning_table := planning_apa_table(planning):  # last: its section comes last too
        tables.append(planning_table)
    numbers = {t.key: i for i, t in enumerate(tables, start=1)}
    figures = report_figures(analysis, show_ids, score_ranges(analysis)) if draw_figures else []
    svgs = tuple(render_svg(f) for f in figures)
    software = f"alliance {__version__} (Python {platform.python_version()})"
    borrowed = int((analysis.episodes.frame["baseline_borrowed"].fillna("") != "").sum())
    methods = apa_text.methods_paragraph(plan, analysis.models, analysis.seed, software, borrowed)
    if analysis.missing is not None:  # the paragraphs are the complete cases': say so
        from alliance.missing.report import missing_methods_sentence

        if sentence := missing_methods_sentence(analysis):
            methods = apa.join(methods, " " + sentence)
    results = apa_text.results_paragraph(
        plan, analysis.models, ledger.participants_in, ledger.episodes
    )

    counts = flow_counts(ledger, _model_names(analysis))
    flow = (
        '<figure id="figure-flow">'
        + flow_svg(counts, "Participant flow")
        + '<figcaption><span class="figure-number">Figure 1.</span> Participant flow: '
        "participants in the data, randomised allocation, crossover to open-label MDMA, MDMA "
        "treatment episodes and the participants analysed in each model, with every "
        "exclusion counted by reason.</figcaption></figure>"
    )
    main_figures = [
        (f, svg) for f, svg in zip(figures, svgs, strict=True) if not supplement_group(f)
    ]
    main_blocks = [
        figure_html(svg, i, f.caption, f"fig{i}-{f.name}")
        for i, (f, svg) in enumerate(main_figures, start=2)
    ]
    supplement: dict[str, list[str]] = {}
    supplementary = [(f, svg) for f, svg in zip(figures, svgs, strict=True) if supplement_group(f)]
    for i, (f, svg) in enumerate(supplementary, start=1):
        block = figure_html(svg, f"S{i}", f.caption, f"figS{i}-{f.name}")
        supplement.setdefault(str(supplement_group(f)), []).append(block)

    def tables_for(*keys: str) -> str:
        return "".join(table_html(t, numbers[t.key]) for t in tables if t.key in keys)

    sections = [
        _section(
            "summary",
            "Methods and results (APA style)",
            '<div class="apa-text"><h3>Method</h3>'
            + _paragraph(methods)
            + "<h3>Results</h3>"
            + _paragraph(results)
            + "</div>",
        ),
        _section("flow", "Participant flow", flow),
        _section(
            "descriptives", "Descriptive statistics", tables_for("descriptives", "reliability")
        ),
        _section("models", "Alliance effects", tables_for("alliance_effects", "robustness")),
        _section(
            "figures",
            "Figures",
            summary_note([f.summary for f in figures if f.summary]) + "".join(main_blocks)
            if draw_figures
            else NO_FIGURES,
        ),
        _section(
            "details", "Model details", tables_for("coefficients", "diagnostics", "influence")
        ),
    ]
    if mixed := mixed_section_html(analysis, tables_for):
        sections.insert(-2, _section("mixed-models", "Mixed models", mixed))
    if not analysis.models:  # a plan of mixed-model sections only: no article models to report
        sections = [s for s in sections if not s.startswith(_ARTICLE_ONLY)]
    if analysis.missing is not None:  # multiple imputation: pooled models beside complete cases
        from alliance.missing.report import missing_section_text

        missing = f"<p>{escape(missing_section_text(analysis))}</p>"
        missing += tables_for("missing_pattern", "missing_comparison", "missing_tipping")
        sections.append(_section("missing", "Missing data: multiple imputation", missing))
    if planning_html := planning_section_html(planning, tables_for):
        sections.append(_section("planning", "Planning a replication", planning_html))
    if small := small_sample_warnings(analysis.models):  # first: read before any number
        sections.insert(0, _section("model-warnings", "Models too small to trust", _list(small)))
    if analysis.loaded.warnings:
        # First, so nobody reads the results without seeing what the input left unread.
        sections.insert(0, _section("warnings", "Input warnings", _warnings(analysis)))
    if show_ids:
        sections.append(_section("ledger", "Excluded participants", _ledger_section(analysis)))
    if supplement:
        sections.append(
            _section(
                "supplement",
                "Supplement: diagnostic figures",
                "<p>Figures a reviewer checks for each model: added-variable plots (the alliance "
                "effect net of baseline), residual diagnostics and the influence of single "
                "participants.</p>"
                + "".join(
                    f'<section id="supplement-{file_stem(title)}"><h3>{escape(title)}</h3>'
                    + "".join(blocks)
                    + "</section>"
                    for title, blocks in supplement.items()
                ),
            )
        )
    sections.append(_section("provenance", "Provenance", _provenance(analysis, generated)))
    html = _page(analysis, "".join(sections), generated, plan_scores(plan))
    return Report(html=html, figures=tuple(figures), svgs=svgs, tables=tuple(tables))


_SECTION_TITLE = re.compile(r'<section id="([^"]+)"><h2>([^<]+)</h2>')


def _page(analysis: Analysis, body: str, generated: dt.datetime, scores: Mapping[str, str]) -> str:
    synthetic = analysis.loaded.synthetic
    title = "Therapeutic alliance and PTSD outcome: analysis report"
    banner = (
        f'<div class="synthetic-banner" role="note">{escape(SYNTHETIC_BANNER)}</div>'
        if synthetic
        else ""
    )
    # In the top margin of every printed page: a page cut from a printout still says it.
    print_header = (
        '<style>@page { @top-center { content: "'
        + "".join(c if ord(c) < 128 else f"\\{ord(c):x} " for c in SYNTHETIC_BANNER)
        + '"; font: 700 9pt sans-serif; } }</style>'
        if synthetic
        else ""
    )
    toc = "".join(
        f'<li><a href="#{key}">{name}</a></li>' for key, name in _SECTION_TITLE.findall(body)
    )
    subtitle = (
        f"{escape(analysis.plan.name)} · input {escape(analysis.loaded.path.name)} · "
        f"{analysis.ledger.participants_in} participants, {analysis.ledger.episodes} MDMA "
        f"episodes, {len(analysis.models)} models · {escape(', '.join(scores.values()))} · "
        f"generated {generated.date().isoformat()}"
    )
    page_title = (f"{SYNTHETIC_BANNER} \u00b7 " if synthetic else "") + title
    return (
        page_head(page_title, print_header) + f"{banner}"
        f'<header class="report-head"><h1>{escape(title)}</h1>'
        f'<p class="subtitle">{subtitle}</p></header>'
        f'<nav class="toc" aria-label="Contents"><ol>{toc}</ol></nav>'
        f"<main>{body}</main>"
        f"<footer>alliance {escape(__version__)}. This report names no participant "
        + ("" if not _has_ids_section(body) else "except in the excluded-participants section ")
        + "identifiers; they are in ledger.csv and results.json.</footer>"
        "</body></html>\n"
    )


def _has_ids_section(body: str) -> bool:
    return '<section id="ledger">' in body


# --------------------------------------------------------------------------- writing


def _write_bytes(path: Path, data: bytes) -> Path:
    return write_atomic(path, lambda handle: handle.write(data))


def write_report(
    analysis: Analysis,
    out: Path,
    show_ids: bool = False,
    png: bool = False,
    draw_figures: bool = True,
    planning: list[dict[str, Any]] | None = None,
) -> Path:
    """Write ``report.html``, ``figures/*.svg`` (and ``*.png`` with ``png``) and
    ``tables.docx`` into ``out``.

    SVG is always written (the participant flow even without ``draw_figures``); the 300-dpi
    PNGs, for journals that want bitmaps, only on request: they cost more than the rest of
    the report together. Returns the path of ``report.html``. Every file is written atomically.
    """
    out = Path(out)
    report = build_report(analysis, show_ids, draw_figures=draw_figures, planning=planning)
    figures_dir = out / "figures"
    for figure, svg in zip(report.figures, report.svgs, strict=True):
        write_text(figures_dir / f"{figure.name}.svg", xml_text(svg))
        if png:
            _write_bytes(figures_dir / f"{figure.name}.png", render_png(figure))
    counts = flow_counts(analysis.ledger, _model_names(analysis))
    write_text(figures_dir / "participant_flow.svg", xml_text(flow_svg(counts)))
    if png and draw_figures:
        flow = ReportFigure(
            "participant_flow", "Participant flow", describe_flow(counts), "", flow_figure(counts)
        )
        _write_bytes(figures_dir / "participant_flow.png", render_png(flow))
    heading = f"Tables for: {analysis.plan.name} (input {analysis.loaded.path.name})"
    document = docx_bytes(report.tables, heading, analysis.loaded.synthetic)
    _write_bytes(out / "tables.docx", document)
    return write_text(out / "report.html", xml_text(report.html))
