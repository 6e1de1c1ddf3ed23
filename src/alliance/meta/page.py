"""``meta.html``: the meta-analysis as one self-contained page in the report's style.

Same stylesheet, fonts, figure embedding and network rules as ``report.html``
(:mod:`alliance.report.html`): inline CSS, the forest plot as inline SVG, no script, no
external resource of any kind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from alliance import __version__
from alliance.meta.analysis import MetaAnalysis
from alliance.meta.document import SIGN_CONVENTION
from alliance.meta.pooling import METHOD_NAMES, TEST_NAMES
from alliance.report import apa
from alliance.report.docx_tables import SYNTHETIC_BANNER
from alliance.report.html import LIBRARIES, figure_html, page_head
from alliance.report.results_json import software_versions

TITLE = "Alliance–outcome meta-analysis"


def _table(
    title: str, number: int, head: Sequence[str], rows: Sequence[Sequence[str]], note: str = ""
) -> str:
    header = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    note_html = f'<p class="table-note"><i>Note.</i> {escape(note)}</p>' if note else ""
    return (
        f'<div class="table-block"><div class="table-wrap"><table class="apa"><caption>'
        f'<span class="table-number">Table {number}</span>'
        f'<span class="table-title">{escape(title)}</span></caption>'
        f"<thead><tr>{header}</tr></thead><tbody>{body}</tbody></table></div>{note_html}</div>"
    )


def _section(key: str, title: str, content: str) -> str:
    return f'<section id="{key}"><h2>{escape(title)}</h2>{content}</section>'


def summary_sentence(result: MetaAnalysis) -> str:
    """The result in one APA-style sentence (also printed by the command line)."""
    p = result.pooled
    ci_low, ci_high, pi_low, pi_high = p.r_interval
    statistic = (
        f"t({p.df}) = {apa.fmt_num(p.statistic)}"
        if p.df is not None
        else (f"z = {apa.fmt_num(p.statistic)}")
    )
    return (
        f"Across k = {p.k} studies the pooled correlation of alliance with outcome was "
        f"r = {apa.fmt_unit(p.r, 3)}, 95% CI {apa.fmt_ci(ci_low, ci_high, 3, unit=True)}, "
        f"{statistic}, p {apa.p_equals(p.p)}; 95% prediction interval "
        f"{apa.fmt_ci(pi_low, pi_high, 3, unit=True)}. Heterogeneity: τ² = "
        f"{p.tau2.value:.4f}, Q({p.q_df}) = {apa.fmt_num(p.q)}, p {apa.p_equals(p.q_p)}, "
        f"I² = {p.i2:.1f}%, H² = {apa.fmt_num(p.h2)}."
    )


def _methods(result: MetaAnalysis) -> str:
    p = result.pooled
    test = (
        f"Knapp–Hartung adjusted standard error with t({p.df}) reference (no truncation)"
        if p.test == "knha"
        else "Wald z test"
    )
    text = (
        "Correlations were transformed to Fisher's z with sampling variance 1/(n − 3 − c) for "
        "a partial correlation adjusted for c covariates, and pooled in a random-effects model "
        f"with τ² estimated by {METHOD_NAMES[p.method]} and a {test}; the 95% prediction "
        "interval is μ̂ ± crit·√(SE² + τ²). Estimates were transformed back to r. The "
        "computations follow R's metafor::rma (escalc ZCOR, predict with transf.ztor)."
    )
    if p.tau2.note:
        text += f" {p.tau2.note}."
    return f"<p>{escape(text)}</p>"


def build_page(
    result: MetaAnalysis, svg: str | None, inputs: Sequence[str], generated: dt.datetime
) -> str:
    pooled = result.pooled
    ci_low, ci_high, pi_low, pi_high = pooled.r_interval
    flipped = [s for s in result.studies if s.flipped]
    sign_note = (
        "Positive r: higher alliance goes with a better outcome, for every number on this page. "
        + (
            f"{len(flipped)} of the studies' correlations are with symptom severity (higher is "
            "worse) and are shown with their sign flipped; the column 'r as given' keeps the "
            "value as read."
            if flipped
            else "No study's sign was changed."
        )
    )
    study_rows = []
    for effect, weight in zip(result.effects, pooled.weights, strict=True):
        low, high = effect.interval(pooled.level)
        s = effect.study
        study_rows.append(
            [
                effect.name,
                apa.fmt_int(s.n) if s else "—",
                str(s.covariates) if s else "—",
                apa.fmt_unit(s.r_as_given, 3) if s else apa.fmt_unit(effect.r, 3),
                apa.fmt_unit(effect.r, 3),
                apa.fmt_ci(low, high, 3, unit=True),
                f"{weight:.1f}%",
                (s.model or s.source) if s else "published (pooled on request)",
            ]
        )
    studies_table = _table(
        "Studies pooled",
        1,
        ["Study", "n", "Covariates", "r as given", "r", "95% CI", "Weight", "Source"],
        study_rows,
        note=sign_note + " CI from Fisher's z with variance 1/(n − 3 − covariates).",
    )
    statistic_name = "t" if pooled.df is not None else "z"
    pooled_rows = [
        ["Pooled r", apa.fmt_unit(pooled.r, 3)],
        ["95% CI", apa.fmt_ci(ci_low, ci_high, 3, unit=True)],
        ["95% prediction interval", apa.fmt_ci(pi_low, pi_high, 3, unit=True)],
        ["Fisher z (SE)", f"{apa.fmt_num(pooled.estimate, 4)} ({apa.fmt_num(pooled.se, 4)})"],
        [
            f"{statistic_name}" + (f"({pooled.df})" if pooled.df else ""),
            apa.fmt_num(pooled.statistic, 3),
        ],
        ["p", apa.fmt_p(pooled.p)],
        ["τ² (τ)", f"{pooled.tau2.value:.5f} ({pooled.tau2.value**0.5:.4f})"],
        [f"Q({pooled.q_df})", f"{apa.fmt_num(pooled.q, 3)}, p {apa.p_equals(pooled.q_p)}"],
        ["I²", f"{pooled.i2:.1f}%"],
        ["H²", apa.fmt_num(pooled.h2, 3)],
    ]
    pooled_table = _table(
        "Pooled estimate and heterogeneity",
        2,
        ["Statistic", "Value"],
        pooled_rows,
        note=f"Random effects, τ² by {METHOD_NAMES[pooled.method]}, "
        f"{TEST_NAMES[pooled.test]} test. I² is the share of the total variance that is "
        "between studies; the prediction interval is where a new study's true effect is "
        "expected to lie.",
    )
    sections = [
        _section(
            "summary",
            "Result",
            f"<p>{escape(summary_sentence(result))}</p>"
            f"<p><b>Sign convention.</b> {escape(sign_note)}</p>" + _methods(result),
        ),
        _section("studies", "Studies and pooled estimate", studies_table + pooled_table),
    ]
    if svg is not None:
        sections.append(
            _section(
                "forest", "Forest plot", figure_html(svg, 1, _figure_caption(result), "forest")
            )
        )
    if result.literature:
        sections.append(_section("literature", "Published effects", _literature(result)))
    sections.append(_section("provenance", "Provenance", _provenance(result, inputs, generated)))
    return _page(result, "".join(sections), generated)


def _figure_caption(result: MetaAnalysis) -> str:
    from alliance.meta.figure import _caption

    return _caption(result, bool(result.literature))


def _literature(result: MetaAnalysis) -> str:
    pooled_keys = {e.benchmark.key for e in result.effects if e.benchmark is not None}
    rows = []
    for b in result.literature:
        e = b.entry
        interval = apa.fmt_ci(b.ci_low, b.ci_high, 3, unit=True) if b.ci_low is not None else "—"
        size = f"k = {e.k}" if e.k else (f"n = {e.n}" if e.n else "—")
        rows.append(
            [
                e.label,
                e.population,
                e.measure,
                size,
                apa.fmt_unit(e.r_published, 3),
                apa.fmt_unit(b.r, 3),
                interval,
                e.location,
                "pooled" if b.key in pooled_keys else "beside",
            ]
        )
    table = _table(
        f"Published alliance–outcome effects (table version {result.literature_version})",
        3,
        [
            "Source",
            "Population",
            "Measure",
            "Size",
            "r as published",
            "r",
            "95% CI",
            "Where",
            "Use",
        ],
        rows,
        note="r is oriented as everywhere on this page (positive: higher alliance, better "
        "outcome); 'r as published' keeps the published sign. Each number was checked against "
        "its source; an interval is shown only where the source gives one. 'beside' entries "
        "are drawn for comparison and not pooled (alliance meta --pool-literature pools those "
        "with an interval).",
    )
    references = "".join(
        f"<li>{escape(b.entry.citation)} "
        f'<a href="https://doi.org/{escape(b.entry.doi)}">https://doi.org/{escape(b.entry.doi)}</a>'
        f". <i>Verified:</i> {escape(b.entry.verified)}</li>"
        for b in result.literature
    )
    not_pooled = "".join(f"<li>{escape(key)}: {escape(why)}</li>" for key, why in result.not_pooled)
    extra = f"<p>Not pooled:</p><ul>{not_pooled}</ul>" if not_pooled else ""
    return table + extra + f"<h3>References</h3><ul>{references}</ul>"


def _provenance(result: MetaAnalysis, inputs: Sequence[str], generated: dt.datetime) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in software_versions(LIBRARIES).items())
    rows = [
        ("Inputs", ", ".join(inputs)),
        ("Synthetic data", "yes" if result.synthetic else "no"),
        ("Sign convention", SIGN_CONVENTION),
        ("Generated", generated.isoformat(timespec="seconds")),
        ("Software", versions),
    ]
    if result.literature_version:
        rows.insert(2, ("Literature table", f"version {result.literature_version}"))
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f'<dl class="provenance">{items}</dl>'


def _page(result: MetaAnalysis, body: str, generated: dt.datetime) -> str:
    banner = (
        f'<div class="synthetic-banner" role="note">{escape(SYNTHETIC_BANNER)}</div>'
        if result.synthetic
        else ""
    )
    page_title = (f"{SYNTHETIC_BANNER} \u00b7 " if result.synthetic else "") + TITLE
    p = result.pooled
    subtitle = (
        f"k = {p.k} studies · τ² by {METHOD_NAMES[p.method]} · {TEST_NAMES[p.test]} · "
        f"generated {generated.date().isoformat()}"
    )
    return (
        page_head(page_title) + f"{banner}"
        f'<header class="report-head"><h1>{escape(TITLE)}</h1>'
        f'<p class="subtitle">{escape(subtitle)}</p></header>'
        f"<main>{body}</main><footer>alliance {escape(__version__)}</footer></body></html>\n"
    )
