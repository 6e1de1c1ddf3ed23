"""What ``alliance power --out FILE.json`` writes beside the JSON: the power curve, a page in the
report's style and CSV tables, all named after the JSON file's stem.

- ``<stem>_curve.svg`` / ``.png``: power against N per effect, family-wise (at least one / all
  alliance tests surviving the correction) and per test, with the target-power line; without
  ``--design``, the single test's random-design power;
- ``<stem>.html``: one self-contained page (no network, the report's stylesheet) with the figure
  and tables;
- ``<stem>.csv`` (single-test grid), ``<stem>_design.csv`` (one row per cell and model) and
  ``<stem>_planning.csv`` (one row per pilot model), when there are such rows.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from alliance import __version__
from alliance.report.canvas import OKABE_ITO, ReportFigure, new_figure, render_png, render_svg

COLOURS = OKABE_ITO[1:] + OKABE_ITO[:1]


def sibling_names(out: Path) -> dict[str, Path]:
    stem = out.stem
    folder = out.parent
    return {
        "html": folder / f"{stem}.html",
        "svg": folder / f"{stem}_curve.svg",
        "png": folder / f"{stem}_curve.png",
        "grid_csv": folder / f"{stem}.csv",
        "design_csv": folder / f"{stem}_design.csv",
        "planning_csv": folder / f"{stem}_planning.csv",
    }


def design_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per cell and model, the cell's family-wise figures repeated."""
    records = []
    for row in rows:
        cell = {k: v for k, v in row.items() if k != "models"}
        for model in row["models"]:
            records.append({**cell, **{f"model_{k}": v for k, v in model.items()}})
    return pd.DataFrame(records)


def power_curve(document: dict[str, Any], target: float) -> ReportFigure:
    """Power against N per effect: family-wise and per test (design), or the single test."""
    design = document.get("design_power") or []
    fig = new_figure(9.0, 3.6, columns=2 if design else 1, top=0.5)
    if design:
        family, per_test = fig.subplots(1, 2)
        effects = list(dict.fromkeys(row["effect"] for row in design))
        for colour, effect in zip(COLOURS, effects, strict=False):
            cells = sorted((r for r in design if r["effect"] == effect), key=lambda r: r["n"])
            n = [r["n"] for r in cells]
            family.plot(n, [r["family_any"] for r in cells], "-o", color=colour, ms=3,
                        label=f"r = {effect:g}: at least one")  # fmt: skip
            family.plot(n, [r["family_all"] for r in cells], "--s", color=colour, ms=3,
                        label=f"r = {effect:g}: all")  # fmt: skip
            models = [(m["outcome"], m["timepoint"]) for m in cells[0]["models"]]
            for j, _ in enumerate(models):
                per_test.plot(n, [r["models"][j]["power"] for r in cells], "-", color=colour,
                              lw=0.9, alpha=0.8, label=f"r = {effect:g}" if j == 0 else None)  # fmt: skip
        family.set_title("Family of alliance tests, after correction")
        per_test.set_title("Each alliance test, after correction")
        axes = [family, per_test]
    else:
        (single,) = [fig.add_subplot(1, 1, 1)]
        rows = document["power"]
        effects = list(dict.fromkeys(row["partial_r"] for row in rows))
        for colour, effect in zip(COLOURS, effects, strict=False):
            cells = sorted((r for r in rows if r["partial_r"] == effect), key=lambda r: r["n"])
            single.plot([r["n"] for r in cells], [r["random_design_power"] for r in cells], "-o",
                        color=colour, ms=3, label=f"r = {effect:g}")  # fmt: skip
        single.set_title("One alliance test, random design")
        axes = [single]
    for ax in axes:
        ax.axhline(target, color="#9A9A9A", lw=0.8, ls=":")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("N (MDMA episodes)")
        ax.set_ylabel("Power")
        ax.legend(loc="best", fontsize=7)
    description = f"Power against sample size per effect; dotted line: target power {target:g}."
    return ReportFigure(
        name="power_curve",
        title="Power curve",
        description=description,
        caption=description,
        figure=fig,
    )


def _table(frame: pd.DataFrame, title: str) -> str:
    if frame.empty:
        return ""
    head = "".join(f'<th scope="col">{escape(str(c))}</th>' for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return (
        f'<div class="table-block"><div class="table-wrap"><table class="apa"><caption>'
        f'<span class="table-title">{escape(title)}</span></caption><thead><tr>{head}</tr>'
        f"</thead><tbody>{body}</tbody></table></div></div>"
    )


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def power_html(document: dict[str, Any], svg: str, failures: list[dict[str, Any]]) -> str:
    from alliance.report.canvas import inline_svg
    from alliance.report.html import page_head

    sections = [
        f'<figure id="figure-power">{inline_svg(svg, "power")}<figcaption>'
        '<span class="figure-number">Figure 1.</span> Power against N per effect; dotted line: '
        "the target power.</figcaption></figure>"
    ]
    design = document.get("design_power") or []
    if design:
        summary = pd.DataFrame(
            [
                {
                    k: r[k]
                    for k in (
                        "n",
                        "effect",
                        "simulations",
                        "family_any",
                        "family_any_mc_se",
                        "family_all",
                        "family_all_mc_se",
                    )
                }
                for r in design
            ]
        )
        settings = document.get("design", {})
        described = ", ".join(f"{k} = {v}" for k, v in settings.items() if k != "models")
        sections.append(
            f'<section id="design"><h2>Whole-plan power</h2><p>{escape(described)}</p>'
            + _table(summary, "Family-wise power per cell")
            + _table(design_frame(design), "Per-test power per cell")
            + "</section>"
        )
    if failures:
        sections.append(
            '<section id="failures"><h2>Cells that failed</h2><ul>'
            + "".join(f"<li>{escape(f['parameters'])}: {escape(f['error'])}</li>" for f in failures)
            + "</ul></section>"
        )
    planning = document.get("planning") or []
    if planning:
        sections.append(
            '<section id="planning"><h2>Planning from the pilot</h2><p>Corrected: conditional '
            "maximum-likelihood estimate given significance (Ghosh, Zou &amp; Wright, 2008; "
            "Zhong &amp; Prentice, 2008); benchmark: r = .28 (Flückiger et al., 2018), signed "
            "as better alliance with lower severity.</p>"
            + _table(pd.DataFrame(planning), "Effect sizes and the N each needs")
            + "</section>"
        )
    sections.append(
        '<section id="single"><h2>One alliance test</h2>'
        + _table(pd.DataFrame(document["power"]), "Power per effect and N")
        + _table(pd.DataFrame(document["sample_size"]), "N for the target power")
        + "</section>"
    )
    synthetic = (
        '<div class="synthetic-banner" role="note">Simulated trials from the calibrated '
        "synthetic generator, not data.</div>"
        if design
        else ""
    )
    return (
        page_head("Power for a replication") + f"{synthetic}"
        '<header class="report-head"><h1>Power for a replication</h1>'
        f'<p class="subtitle">{escape(document.get("model", ""))} · alpha '
        f"{document['alpha']:.4g} · seed {document['seed']}</p></header>"
        f"<main>{''.join(sections)}</main>"
        f"<footer>alliance {escape(__version__)}.</footer></body></html>\n"
    )


def write_outputs(
    out: Path, document: dict[str, Any], target: float, failures: list[dict[str, Any]]
) -> list[Path]:
    """Write the siblings of ``out`` (module docstring); returns the paths written."""
    from alliance.report.files import write_atomic, write_csv, write_text

    names = sibling_names(out)
    figure = power_curve(document, target)
    svg = render_svg(figure)
    written = [write_text(names["svg"], svg)]
    png = render_png(figure, dpi=150)
    written.append(write_atomic(names["png"], lambda h: h.write(png)))
    written.append(write_text(names["html"], power_html(document, svg, failures)))
    written.append(write_csv(names["grid_csv"], pd.DataFrame(document["power"])))
    if document.get("design_power"):
        written.append(write_csv(names["design_csv"], design_frame(document["design_power"])))
    if document.get("planning"):
        written.append(write_csv(names["planning_csv"], pd.DataFrame(document["planning"])))
    return written
