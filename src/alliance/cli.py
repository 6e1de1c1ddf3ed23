"""The ``alliance`` command line: the only place that prints, shows progress or sets exit codes.

Exit status: 0 on success; 1 on bad input (one line per problem: file, row, column, what is
wrong, how to fix; no traceback unless ``--debug``); 2 on usage errors (typer's own).
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape as escape_markup
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from alliance import __version__
from alliance.errors import AllianceError
from alliance.safe_text import terminal_text

app = typer.Typer(
    name="alliance",
    help=(
        "Therapeutic alliance and PTSD outcome analyses for MDMA-assisted psychotherapy trials.\n\n"
        "Start with `alliance demo --out alliance-demo`, then `alliance validate`, "
        "`alliance score` and `alliance analyze` on your own data."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)
_state: dict[str, Any] = {"debug": False, "stage": ""}

MAX_PROBLEM_LINES = 200


def _version(value: bool) -> None:
    if value:
        stdout.print(f"alliance {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show Python tracebacks for errors (for bug reports).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    _state["debug"] = debug


@contextmanager
def _library_warnings() -> Iterator[None]:
    """Warnings of numpy, scipy, pandas and matplotlib never reach the user as such.

    An overflow in alliance's own arithmetic means a statistic is wrong (t = 0 from an infinite
    sum of squares): it stops the command with a message before anything is written. Every
    other library warning (a division by zero in a leave-one-out refit of a tiny sample, whose
    infinite or missing value the report shows as such; pandas performance and deprecation
    notices; a glyph matplotlib lacks) means nothing the user can act on and is silenced.
    ``--debug`` shows them all, as Python would.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("default" if _state["debug"] else "ignore")
        warnings.filterwarnings(
            "error", message="overflow encountered", category=RuntimeWarning, module=r"alliance\."
        )
        try:
            yield
        except RuntimeWarning as exc:
            if _state["debug"]:
                raise
            stage = f" while {_state['stage']}" if _state["stage"] else ""
            raise AllianceError(
                f"a number overflowed{stage} ({exc}), so the results would be wrong and nothing "
                "was written. Fix: check the data for extreme values (such as 1e300) and give "
                "every score in its instrument's units"
            ) from None


@contextmanager
def _reported_errors() -> Iterator[None]:
    """Bad input ends in a clear message and exit status 1, never in a traceback; library
    warnings are handled by :func:`_library_warnings`."""
    _state["stage"] = ""
    try:
        with _library_warnings():
            yield
    except AllianceError as exc:
        if _state["debug"]:
            raise
        lines = exc.lines()
        for line in lines[:MAX_PROBLEM_LINES]:
            stderr.print(f"error: {terminal_text(line)}", markup=False)
        if len(lines) > MAX_PROBLEM_LINES:
            stderr.print(
                f"error: ... and {len(lines) - MAX_PROBLEM_LINES} more problems not shown",
                markup=False,
            )
        raise typer.Exit(1) from None


@contextmanager
def _progress(description: str) -> Iterator[Callable[[str], None]]:
    """A spinner with the current stage; shown only on a terminal, and only after a second."""
    show = stderr.is_terminal
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
        disable=not show,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(stage: str) -> None:
            _state["stage"] = f"{description}: {stage}"
            progress.update(task, description=f"{description}: {stage}")

        yield update


DataArg = Annotated[
    Path,
    typer.Argument(
        help="Trial data: .csv, .tsv, .xlsx, .sav, .dta or .parquet, item or scored layout.",
        show_default=False,
    ),
]
MappingOpt = Annotated[
    Path | None,
    typer.Option("--mapping", help="TOML file renaming your columns and values to alliance's."),
]


@app.command()
def validate(data: DataArg, mapping: MappingOpt = None) -> None:
    """Check a data file and account for every participant.

    Prints every problem (file, row, column, value, what is wrong, how to fix) and exits 1, or
    prints the ledger summary and exits 0.

    **Examples**

        alliance validate trial_items.csv

        alliance validate export.sav --mapping columns.toml
    """
    from alliance.episodes.episodes import build_episodes
    from alliance.pipeline import ledger_for, load_data

    with _reported_errors(), _progress("validating") as progress:
        progress("reading")
        loaded = load_data(data, mapping)
        ledger = ledger_for(loaded, build_episodes(loaded.scores))
    _print_ledger_summary(loaded, ledger)


def _print_ledger_summary(loaded: Any, ledger: Any) -> None:
    synthetic = " [bold magenta](SYNTHETIC data)[/]" if loaded.synthetic else ""
    name = escape_markup(terminal_text(loaded.path.name))
    stdout.print(f"[bold]{name}[/]: valid {loaded.layout} layout{synthetic}")
    duplicates = f", {ledger.rows_duplicate} identical duplicates kept once" * bool(
        ledger.rows_duplicate
    )
    stdout.print(
        f"  rows: {ledger.rows_in} read, {ledger.rows_scored} answered, "
        f"{ledger.rows_missing_value} blank (missing items){duplicates}"
    )
    for warning in loaded.warnings:
        stderr.print(f"warning: {terminal_text(warning)}", markup=False)
    stdout.print(
        f"  participants: {ledger.participants_in} in, {ledger.episodes} with an MDMA episode, "
        f"{len(ledger.excluded())} excluded"
    )
    for entry in ledger.excluded():
        stdout.print(
            terminal_text(f"    excluded {entry['participant_id']}: {entry['reason']}"),
            markup=False,
        )


@app.command()
def score(
    data: DataArg,
    out: Annotated[
        Path, typer.Option("--out", help="Scored file to write (.csv, .xlsx, .parquet, ...).")
    ],
    mapping: MappingOpt = None,
) -> None:
    """Score item-level data into the scored layout (one row per participant and phase).

    **Examples**

        alliance score trial_items.csv --out trial_scores.csv
    """
    from alliance.input.writers import write_table
    from alliance.pipeline import load_data

    with _reported_errors(), _progress("scoring") as progress:
        progress("reading")
        loaded = load_data(data, mapping)
        progress("writing")
        write_table(loaded.scores, out, synthetic=loaded.synthetic)
    stdout.print(terminal_text(f"wrote {out} ({len(loaded.scores)} rows)"), markup=False)


@app.command()
def analyze(
    data: DataArg,
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="Analysis plan (TOML). Default: the article's plan."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("alliance-results"),
    seed: Annotated[int, typer.Option("--seed", help="Seed for resampling.", min=0)] = 0,
    adjust: Annotated[
        str | None,
        typer.Option(
            "--adjust", help="Multiplicity correction: holm, bonferroni, hochberg, bh, by, none."
        ),
    ] = None,
    family: Annotated[
        str | None,
        typer.Option("--family", help="Correction family: all or per_outcome."),
    ] = None,
    permutations: Annotated[
        int | None,
        typer.Option(
            "--permutations",
            min=0,
            help="Freedman–Lane permutations (plan default 10,000; 0: off).",
        ),
    ] = None,
    bootstrap: Annotated[
        int | None,
        typer.Option(
            "--bootstrap",
            min=0,
            help="Case resamples for BCa intervals (plan default 10,000; 0: off).",
        ),
    ] = None,
    mapping: MappingOpt = None,
    show_ids: Annotated[
        bool, typer.Option("--show-ids", help="Name participants in the report.")
    ] = False,
) -> None:
    """Run the analysis plan and write results.json, tables, figures and the report.

    **Examples**

        alliance analyze trial_items.csv --out results

        alliance analyze scores.xlsx --plan my_plan.toml --adjust bh --family per_outcome

        alliance analyze trial_items.csv --bootstrap 0 --permutations 0   # classical only
    """
    from alliance.models.plan import ADJUST_METHODS, FAMILIES, load_plan
    from alliance.pipeline import analyze as run_analysis
    from alliance.pipeline import load_data
    from alliance.report.outputs import write_outputs

    if adjust is not None and adjust.lower() not in ADJUST_METHODS:
        raise typer.BadParameter(
            f"unknown method {adjust!r}; choose one of {', '.join(ADJUST_METHODS)}",
            param_hint="--adjust",
        )
    if family is not None and family.lower() not in FAMILIES:
        raise typer.BadParameter(
            f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}",
            param_hint="--family",
        )
    with _reported_errors(), _progress("analysing") as progress:
        analysis_plan = load_plan(plan).with_overrides(
            adjust=adjust.lower() if adjust else None,
            family=family.lower() if family else None,
            permutations=permutations,
            bootstrap=bootstrap,
        )
        progress("reading")
        loaded = load_data(data, mapping)
        analysis = run_analysis(loaded, analysis_plan, seed=seed, progress=progress)
        progress("writing")
        written = write_outputs(analysis, out, show_ids=show_ids)
    _print_ledger_summary(loaded, analysis.ledger)
    for model in analysis.models:
        j = model.data.term
        mark = "survives" if model.survives_correction else "does not survive"
        stdout.print(
            f"  {model.spec.outcome.score} ~ {model.spec.predictor.score}@{model.spec.timepoint}: "
            f"n={model.fit.n}, b={model.fit.estimate[j]:.3f}, p={model.fit.p[j]:.4f}, "
            f"p_adj={model.p_adjusted:.4f} ({mark} {analysis_plan.multiplicity.method})",
            markup=False,
        )
    stdout.print(terminal_text(f"results: {written}"), markup=False)


def _parse_arms(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        mdma, placebo = (float(part) for part in text.split(":"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not MDMA:placebo weights such as 12:8", param_hint="--arms"
        ) from None
    if not (math.isfinite(mdma) and math.isfinite(placebo)) or min(mdma, placebo) < 0:
        raise typer.BadParameter(
            f"{text!r}: both weights must be finite and not negative", param_hint="--arms"
        )
    if mdma + placebo == 0:
        raise typer.BadParameter(f"{text!r}: the weights cannot both be 0", param_hint="--arms")
    return mdma, placebo


def _parse_effects(
    texts: list[str], outcomes: Iterable[str], timepoints: tuple[str, ...]
) -> dict[str, dict[str, float]]:
    """``caps@s4=-0.5`` sets one model's partial r; ``caps=-0.5`` sets every timepoint's."""
    effects: dict[str, dict[str, float]] = {}
    known = list(outcomes)
    for text in texts:
        target, _, value = text.partition("=")
        outcome, _, timepoint = target.strip().lower().partition("@")

        def bad(what: str, text: str = text) -> typer.BadParameter:
            return typer.BadParameter(f"{text!r}: {what}", param_hint="--effect")

        try:
            number = float(value)
        except ValueError:
            raise bad("not OUTCOME@TIMEPOINT=R such as caps@s4=-0.5") from None
        if not -1 < number < 1:
            raise bad("a partial correlation must lie strictly between -1 and 1")
        if outcome not in known:
            raise bad(f"unknown outcome {outcome!r}; the calibration has {', '.join(known)}")
        if timepoint and timepoint not in timepoints:
            raise bad(
                f"unknown timepoint {timepoint!r}; alliance is measured at {', '.join(timepoints)}"
            )
        for t in [timepoint] if timepoint else timepoints:
            effects.setdefault(outcome, {})[t] = number
    return effects


@app.command()
def simulate(
    out: Annotated[
        Path,
        typer.Option("--out", help="File to write (.csv, .tsv, .xlsx, .sav, .dta, .parquet)."),
    ],
    n: Annotated[int | None, typer.Option("--n", min=2, help="Participants (default 23).")] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 0,
    arms: Annotated[
        str | None, typer.Option("--arms", help="MDMA:placebo allocation (default 12:8).")
    ] = None,
    crossover: Annotated[
        float | None,
        typer.Option(
            "--crossover", min=0.0, max=1.0, help="Share of placebo who cross over (0.875)."
        ),
    ] = None,
    effect: Annotated[
        list[str] | None,
        typer.Option(
            "--effect",
            help="Partial r of post with alliance given baseline, e.g. caps@s4=-0.5 "
            "(repeatable; caps=-0.3 sets all timepoints).",
        ),
    ] = None,
    missing_items: Annotated[
        float | None,
        typer.Option(
            "--missing-items", min=0.0, max=0.99, help="Share of blank self-report items."
        ),
    ] = None,
    missing_visits: Annotated[
        float | None,
        typer.Option("--missing-visits", min=0.0, max=0.99, help="Share of missed assessments."),
    ] = None,
    layout: Annotated[
        str, typer.Option("--layout", help="items (item responses) or scored (one row per phase).")
    ] = "items",
    calibration: Annotated[
        Path | None,
        typer.Option("--calibration", help="Calibration TOML (default: the bundled one)."),
    ] = None,
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="Check that this analysis plan can run on the trial."),
    ] = None,
) -> None:
    """Write a synthetic trial calibrated to the published MDMA-AP trial (marked synthetic).

    **Examples**

        alliance simulate --out synthetic_trial.csv

        alliance simulate --n 200 --seed 7 --effect caps@s4=-0.3 --out replication.parquet

        alliance simulate --layout scored --missing-visits 0 --out scores.xlsx
    """
    from alliance.input.writers import write_table
    from alliance.models.plan import check_plan_against_data, load_plan
    from alliance.pipeline import known_scores
    from alliance.synthetic.settings import load_calibration
    from alliance.synthetic.simulate import SimulationOptions
    from alliance.synthetic.simulate import simulate as run_simulation

    if layout not in ("items", "scored"):
        raise typer.BadParameter(f"{layout!r}: choose items or scored", param_hint="--layout")
    with _reported_errors(), _progress("simulating") as progress:
        base = load_calibration(calibration)
        options = SimulationOptions(
            n=n,
            arms=_parse_arms(arms),
            crossover=crossover,
            missing_items=missing_items,
            missing_visits=missing_visits,
            partial_r=_parse_effects(effect or [], base.outcomes, base.alliance.timepoints),
        )
        source = calibration.name if calibration else "calibration.toml"
        trial = run_simulation(base, seed, options, source=source)
        if plan is not None:
            check_plan_against_data(
                load_plan(plan), set(trial.scores.columns), known_scores(), plan.name
            )
        progress("writing")
        table = trial.items.astype({"value": "Int64"}) if layout == "items" else trial.scores
        write_table(table, out, synthetic=True)
    c = trial.counts
    stdout.print(
        f"wrote {out} (SYNTHETIC, {layout} layout, {len(table):,} rows, seed {seed}): "
        f"{c.total} participants, {c.mdma} MDMA and {c.placebo} placebo, "
        f"{c.crossover} crossed over, {c.mdma_episodes} MDMA episodes",
        markup=False,
    )
    stdout.print(f"next: alliance analyze {out}", markup=False)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("alliance-demo"),
) -> None:
    """Analyse the bundled synthetic trial in full and print where the report is.

    **Examples**

        alliance demo --out alliance-demo
    """
    from alliance.demo import run_demo

    with _reported_errors(), _progress("demo") as progress:
        result = run_demo(out, progress=progress)
    for line in result.summary:
        stdout.print(line, markup=False)


@app.command()
def power(
    effect: Annotated[
        list[float] | None,
        typer.Option(
            "--effect",
            help="Partial r of post with alliance given the covariates (repeatable; "
            "default 0.3, 0.4, 0.5).",
        ),
    ] = None,
    n: Annotated[
        list[int] | None,
        typer.Option("--n", min=3, help="Sample size (repeatable; default 22, as the article)."),
    ] = None,
    target: Annotated[
        float,
        typer.Option("--power", min=0.01, max=0.99, help="Target power for the N each needs."),
    ] = 0.8,
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="Analysis plan: its alpha and covariates (default: article)."),
    ] = None,
    covariates: Annotated[
        int | None,
        typer.Option(
            "--covariates",
            min=0,
            help="Covariates with the baseline included (default: 1 + the plan's covariates; "
            "count a categorical covariate's levels minus one).",
        ),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option("--alpha", min=1e-6, max=0.5, help="Significance level (default: plan)."),
    ] = None,
    tests: Annotated[
        int,
        typer.Option(
            "--tests", min=1, help="Tests corrected together: plan at alpha / tests (Bonferroni)."
        ),
    ] = 1,
    convention: Annotated[
        str, typer.Option("--convention", help="Fixed-design noncentrality: gpower or pwr.")
    ] = "gpower",
    simulations: Annotated[
        int,
        typer.Option("--simulations", min=0, help="Monte Carlo replications per cell (0: off)."),
    ] = 10_000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the numbers to this JSON file.")
    ] = None,
) -> None:
    """Power of the alliance test for planning a replication, and the N each effect needs.

    Three figures per effect and N: fixed-design power in G*Power's convention (or pwr's), the
    exact random-design power (predictors drawn with each sample; the planning figure) and a
    Monte Carlo check of it.

    **Examples**

        alliance power

        alliance power --effect 0.35 --n 22 --n 40 --n 60 --power 0.9

        alliance power --tests 6 --convention pwr --out power.json   # the article's 6 models
    """
    import json

    from alliance.models.plan import load_plan
    from alliance.power.analytic import CONVENTIONS
    from alliance.power.grid import power_grid, sample_sizes
    from alliance.report.files import write_atomic

    if convention not in CONVENTIONS:
        raise typer.BadParameter(
            f"{convention!r}: choose one of {', '.join(CONVENTIONS)}", param_hint="--convention"
        )
    effects = effect or [0.3, 0.4, 0.5]
    for r in effects:
        if not -1 < r < 1 or r == 0:
            raise typer.BadParameter(
                f"{r}: a partial correlation must lie strictly between -1 and 1 and not be 0",
                param_hint="--effect",
            )
    with _reported_errors(), _progress("power") as progress:
        analysis_plan = load_plan(plan)
        k = covariates if covariates is not None else 1 + len(analysis_plan.covariates)
        level = (alpha if alpha is not None else analysis_plan.alpha) / tests
        sizes = n or [22]
        for size in sizes:
            if size < k + 3:
                raise typer.BadParameter(
                    f"{size} leaves no residual degrees of freedom with {k} covariate(s) "
                    f"(need at least {k + 3})",
                    param_hint="--n",
                )
        progress("computing")
        grid = power_grid(effects, sizes, k, level, convention, simulations, seed)
        needed = sample_sizes(effects, k, level, target, convention)
        if out is not None:
            document = {
                "alliance_version": __version__,
                "model": f"post ~ {k} covariate(s) incl. baseline + alliance",
                "alpha": level,
                "tests": tests,
                "seed": seed,
                "power": grid,
                "sample_size": needed,
            }
            text = json.dumps(document, indent=2) + "\n"
            write_atomic(out, lambda h: h.write(text.encode("utf-8")))
    _print_power(grid, needed, k, level, tests, convention, target)
    if out is not None:
        stdout.print(f"numbers: {out}", markup=False)


def _print_power(
    grid: list[dict[str, Any]],
    needed: list[dict[str, Any]],
    k: int,
    level: float,
    tests: int,
    convention: str,
    target: float,
) -> None:
    from rich.table import Table

    from alliance.power.analytic import MAX_N

    name = {"gpower": "G*Power", "pwr": "pwr"}[convention]
    corrected = f" (alpha / {tests} tests)" if tests > 1 else ""
    stdout.print(
        f"Alliance test in post ~ baseline{' + ' + str(k - 1) + ' covariate(s)' if k > 1 else ''}"
        f" + alliance, two-sided alpha = {level:.4g}{corrected}",
        markup=False,
    )
    table = Table("partial r", "f²", "N", f"fixed design ({name})", "random design", "simulated")
    for row in grid:
        simulated = (
            f"{row['simulated_power']:.3f} ± {row['simulated_mc_se']:.3f}"
            if "simulated_power" in row
            else "—"
        )
        table.add_row(
            f"{row['partial_r']:.2f}",
            f"{row['f_squared']:.3f}",
            str(row["n"]),
            f"{row['fixed_design_power']:.3f}",
            f"{row['random_design_power']:.3f}",
            simulated,
        )
    stdout.print(table)
    sizes = Table("partial r", f"N for power {target:g}: fixed design ({name})", "random design")
    for row in needed:
        sizes.add_row(
            f"{row['partial_r']:.2f}",
            str(row["n_fixed_design"] or f"beyond {MAX_N:,}"),
            str(row["n_random_design"] or f"beyond {MAX_N:,}"),
        )
    stdout.print(sizes)
    stdout.print(
        "Random design (predictors drawn with each sample, as a replication meets them) is the "
        "planning figure; fixed design is what G*Power and pwr report.",
        markup=False,
    )


def main() -> None:
    """Entry point of the ``alliance`` command."""
    try:
        app()
    except KeyboardInterrupt:
        stderr.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
