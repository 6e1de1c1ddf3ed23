"""Everything ``alliance analyze`` writes into its output folder (SPEC §5)."""

from __future__ import annotations

from pathlib import Path

from alliance.pipeline import Analysis
from alliance.report.files import write_csv, write_json
from alliance.report.html import write_report
from alliance.report.results_json import results_document
from alliance.report.tables import alliance_table, descriptives_table, terms_table


def write_outputs(
    analysis: Analysis,
    out: Path,
    show_ids: bool = False,
    png: bool = False,
    draw_figures: bool = True,
) -> Path:
    """Write results.json, ledger.csv, tables/, figures/, tables.docx and report.html.

    Returns the path of ``results.json``.
    """
    out = Path(out)
    tables = out / "tables"
    document = results_document(analysis)
    write_csv(out / "ledger.csv", analysis.ledger.to_frame())
    write_csv(tables / "model_terms.csv", terms_table(analysis.models))
    write_csv(tables / "alliance_effects.csv", alliance_table(analysis.models))
    write_csv(tables / "descriptives.csv", descriptives_table(analysis.episodes.frame))
    if analysis.reliability is not None:
        write_csv(tables / "reliability.csv", analysis.reliability)
    path = write_json(out / "results.json", document)
    write_report(analysis, out, show_ids=show_ids, png=png, draw_figures=draw_figures)
    return path
