"""``alliance meta``: the command's body (cli.py registers it and owns exit codes and printing
helpers); reading, pooling, drawing and writing are the stages' own functions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from alliance.errors import AllianceError

# What a run writes into --out (an input there would be replaced, so it is refused).
OUTPUT_NAMES = ("meta.json", "meta.html", "forest.svg", "forest.png")


class MetaError(AllianceError):
    """The studies cannot be pooled as asked (one study, an estimator that did not converge)."""


def write_meta_outputs(result: object, out: Path, inputs: Sequence[str], figure: bool) -> Path:
    """meta.json, meta.html and the forest plot (SVG and 300-dpi PNG), as one transaction."""
    from alliance.meta.analysis import MetaAnalysis
    from alliance.meta.document import meta_document
    from alliance.meta.page import build_page
    from alliance.output.transaction import output_transaction
    from alliance.report.canvas import render_png, render_svg
    from alliance.report.files import write_atomic, write_json, write_text
    from alliance.safe_text import xml_text

    assert isinstance(result, MetaAnalysis)
    generated = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with output_transaction(out) as staging:
        write_json(staging / "meta.json", meta_document(result, inputs))
        svg = None
        if figure:
            from alliance.meta.figure import forest_plot

            drawing = forest_plot(result)
            svg = render_svg(drawing)
            write_text(staging / "forest.svg", xml_text(svg))
            png = render_png(drawing)
            write_atomic(staging / "forest.png", lambda handle: handle.write(png))
        write_text(staging / "meta.html", xml_text(build_page(result, svg, inputs, generated)))
    return Path(out) / "meta.json"


def meta(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Study table(s) (.csv, .xlsx, ...: study, r, n [, covariates, direction]) "
            "and/or results.json files of alliance analyze (one study each).",
            metavar="INPUT...",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("alliance-meta"),
    method: Annotated[
        str, typer.Option("--method", help="τ² estimator: reml, dl, pm or ml.")
    ] = "reml",
    test: Annotated[
        str, typer.Option("--test", help="z (Wald) or knha (Knapp–Hartung, t with k−1 df).")
    ] = "z",
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Which model of each results.json: OUTCOME@TIMEPOINT, e.g. caps@s4 "
            "(or OUTCOME~PREDICTOR@TIMEPOINT).",
        ),
    ] = None,
    literature: Annotated[
        bool,
        typer.Option(
            "--literature", help="Draw published alliance–outcome effects beside the result."
        ),
    ] = False,
    pool_literature: Annotated[
        bool,
        typer.Option(
            "--pool-literature",
            help="Also pool the published effects that carry a verified interval (implies "
            "--literature).",
        ),
    ] = False,
    no_figures: Annotated[
        bool, typer.Option("--no-figures", help="Skip the forest plot (meta.json and meta.html).")
    ] = False,
) -> None:
    """Pool alliance–outcome correlations across studies or sites (random effects, as metafor).

    Effects are pooled on Fisher's z and shown as r, oriented so that a positive r means higher
    alliance with better outcome (an r with symptom severity is shown sign-flipped). Writes
    meta.json, meta.html and the forest plot (forest.svg, forest.png) into --out.

    **Examples**

        alliance meta studies.csv --out meta

        alliance meta site_a/results.json site_b/results.json site_c/results.json --model caps@s4

        alliance meta studies.xlsx --method pm --test knha --literature --out meta
    """
    from alliance import cli
    from alliance.meta.analysis import run_meta
    from alliance.meta.pooling import METHODS, TESTS, PoolingError
    from alliance.meta.studies import load_studies, parse_model_name
    from alliance.output.paths import OutputPathError, check_output_folder
    from alliance.safe_text import terminal_text

    method, test = method.lower(), test.lower()
    if method not in METHODS:
        raise typer.BadParameter(
            f"{method!r}: choose one of {', '.join(METHODS)}", param_hint="--method"
        )
    if test not in TESTS:
        raise typer.BadParameter(f"{test!r}: choose z or knha", param_hint="--test")
    if model is not None:
        try:
            parse_model_name(model)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--model") from None
    try:
        check_output_folder(out, {f"INPUT {i}": p for i, p in enumerate(inputs, 1)}, OUTPUT_NAMES)
    except OutputPathError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from None
    from alliance.output.transaction import folder_lock

    shown = [str(p) for p in inputs]
    # Locked from before reading, as analyze: a second run into the folder fails now.
    with cli._reported_errors(), folder_lock(out), cli._progress("pooling") as progress:
        progress("reading")
        studies, warnings = load_studies(inputs, model)
        try:
            result = run_meta(
                studies, method, test, literature or pool_literature, pool_literature, warnings
            )
        except PoolingError as exc:
            raise MetaError(str(exc)) from None
        progress("writing")
        written = write_meta_outputs(result, out, shown, figure=not no_figures)
    from alliance.meta.page import summary_sentence

    for warning in result.warnings:
        cli.stderr.print(f"warning: {terminal_text(warning)}", markup=False)
    if result.synthetic:
        cli.stdout.print("SYNTHETIC data among the inputs", markup=False)
    flipped = sum(s.flipped for s in result.studies)
    if flipped:
        cli.stdout.print(
            f"{flipped} correlation(s) with symptom severity shown sign-flipped "
            "(positive r = higher alliance, better outcome)",
            markup=False,
        )
    cli.stdout.print(terminal_text(summary_sentence(result)), markup=False)
    for key, why in result.not_pooled:
        cli.stdout.print(f"not pooled: {key} ({why})", markup=False)
    cli.stdout.print(terminal_text(f"results: {Path(written).resolve()}"), markup=False)
    cli.stdout.print(terminal_text(f"report: {(Path(out) / 'meta.html').resolve()}"), markup=False)
