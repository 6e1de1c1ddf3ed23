"""Everything ``alliance analyze`` writes into its output folder (docs/outputs.md).

The folder is written as one transaction (:mod:`alliance.output.transaction`): the files appear
together when the run succeeds, the previous run's files that this run did not write again are
removed, and files the user keeps in the folder are left alone.
"""

from __future__ import annotations

from pathlib import Path

from alliance.output.transaction import output_transaction
from alliance.pipeline import Analysis
from alliance.report.files import write_csv, write_json
from alliance.report.html import write_report
from alliance.report.mixed_models import mixed_terms_table
from alliance.report.planning_section import planning_frame
from alliance.report.results_json import results_document
from alliance.report.tables import alliance_table, descriptives_table, terms_table

# Names in the output folder a run writes (files, or folders of files); an input file there
# would be replaced, so the command line refuses it.
OUTPUT_NAMES = ("results.json", "ledger.csv", "report.html", "tables.docx", "tables", "figures")


def write_output_files(
    analysis: Analysis,
    folder: Path,
    show_ids: bool = False,
    png: bool = False,
    draw_figures: bool = True,
) -> Path:
    """Write the outputs straight into ``folder`` (a transaction's staging folder)."""
    folder = Path(folder)
    tables = folder / "tables"
    document = results_document(analysis)
    write_csv(folder / "ledger.csv", analysis.ledger.to_frame())
    write_csv(tables / "model_terms.csv", terms_table(analysis.models))
    write_csv(tables / "alliance_effects.csv", alliance_table(analysis.models))
    write_csv(tables / "descriptives.csv", descriptives_table(analysis.episodes.frame))
    if analysis.mixed:
        write_csv(tables / "mixed_terms.csv", mixed_terms_table(analysis))
    if analysis.reliability is not None:
        write_csv(tables / "reliability.csv", analysis.reliability)
    if document["planning"]:
        write_csv(tables / "planning.csv", planning_frame(document["planning"]))
    path = write_json(folder / "results.json", document)
    write_report(analysis, folder, show_ids, png, draw_figures, planning=document["planning"])
    return path


def write_outputs(
    analysis: Analysis,
    out: Path,
    show_ids: bool = False,
    png: bool = False,
    draw_figures: bool = True,
) -> Path:
    """Write results.json, ledger.csv, tables/, figures/, tables.docx and report.html.

    All of them replace the previous run's output in ``out`` at once, or, if anything fails,
    none does. Returns the path of ``results.json``.
    """
    with output_transaction(out) as staging:
        write_output_files(analysis, staging, show_ids, png, draw_figures)
    return Path(out) / "results.json"
