"""The ``alliance`` command line: the only place that prints, shows progress or sets exit codes.

Exit status: 0 on success; 1 on bad input (one line per problem: file, row, column, what is
wrong, how to fix; no traceback unless ``--debug``); 2 on usage errors (typer's own).
"""

from __future__ import annotations

import math
import os
import re
import signal
import sys
import warnings
from collections import Counter
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
from alliance.limits import (
    MAX_ALPHA,
    MAX_COVARIATES,
    MAX_IMPUTATIONS,
    MAX_N,
    MAX_PARTICIPANTS,
    MAX_RESAMPLES,
    MAX_SEED,
    MAX_SIMULATIONS,
    MAX_TESTS,
    MIN_ALPHA,
)
from alliance.safe_text import terminal_text

# The pipeline's linear algebra is many small or memory-bound products, where a multi-threaded
# BLAS gains nothing; on a busy machine its spinning threads made single calls a hundred times
# slower. One thread unless the user chose otherwise; read when numpy first loads, which
# nothing above imports.
for _threads in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

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
# A large trial excludes hundreds: the terminal names the first few, ledger.csv all of them.
MAX_EXCLUDED_LINES = 20


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


def _check_paths(
    inputs: dict[str, Path | None],
    out: Path | None = None,
    folder: tuple[str, ...] | None = None,
    formats: tuple[str, ...] | None = None,
) -> Path | None:
    """Before any work: ``--out`` can be written and is no input, and inputs are regular files.

    ``inputs`` maps each option (``DATA`` for the argument) to its path; ``folder`` holds the
    names a folder output writes, or is None for a single-file ``--out`` whose extension must
    be one of ``formats`` when given. An unusable ``--out``
    is a usage error (exit 2); an input that is a folder, pipe or device, or over the size cap,
    is bad input (exit 1; call this inside ``_reported_errors``). Returns the path to write.
    """
    from alliance.errors import DataError, PlanError, Problem
    from alliance.input.opening import MAX_TEXT_BYTES, InputFileError, check_input_file, data_limit
    from alliance.output.paths import OutputPathError, check_output_file, check_output_folder

    target = None
    if out is not None:
        try:
            if folder is None:
                target = check_output_file(out, inputs)
            else:
                target = check_output_folder(out, inputs, folder)
        except OutputPathError as exc:
            raise typer.BadParameter(str(exc), param_hint="--out") from None
    # After the input check: an --out naming an input is refused as such whatever its format.
    if out is not None and formats is not None and out.suffix.lower() not in formats:
        raise typer.BadParameter(
            f"cannot write a '{out.suffix or '(no extension)'}' file; use one of "
            f"{', '.join(formats)}",
            param_hint="--out",
        )
    for option, path in inputs.items():
        if path is None:
            continue
        try:
            check_input_file(path, data_limit() if option == "DATA" else MAX_TEXT_BYTES)
        except InputFileError as exc:
            if option == "DATA":
                raise DataError([Problem(file=str(path), what=exc.what, fix=exc.fix)]) from None
            raise PlanError(f"{path} ({option})", [f"{exc.what}. Fix: {exc.fix}"]) from None
        except OSError:
            continue  # missing or unreadable: the reader says so in its own words
    return target


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
PngOpt = typer.Option(
    "--png", help="Also write every figure as a 300-dpi PNG (SVG is always written)."
)


# --- Numeric options ----------------------------------------------------------------------------
# Parsed here rather than by typer: its parsing takes "1_000" as 1000 and "nan" as a float. The
# grammar is the one data cells are read with (ASCII digits, a sign, one decimal point, an
# exponent); a value outside its documented bounds is a usage error (exit 2) naming the option.


def _plain(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else None
    from alliance.validation.cells import plain_number

    return plain_number(str(value))


def whole_number(low: int, high: int) -> Callable[[Any], int]:
    """Parser of a whole-number option within [low, high]."""

    def parse(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            whole = value
        else:
            text = str(value).strip()
            if not re.fullmatch(r"[+-]?[0-9]+", text):
                raise typer.BadParameter(f"{value!r} is not a whole number (ASCII digits 0-9)")
            # Python refuses to read integers of more than 4,300 digits; none is in bounds.
            if len(text.lstrip("+-").lstrip("0")) > 30:
                raise typer.BadParameter(f"{text[:15]}… is outside {low:,} to {high:,}")
            whole = int(text)
        if not low <= whole <= high:
            raise typer.BadParameter(f"{whole:,} is outside {low:,} to {high:,}")
        return whole

    return parse


def decimal_number(low: float, high: float, *, open_low: bool = False) -> Callable[[Any], float]:
    """Parser of a finite number option within [low, high] (or (low, high] if ``open_low``)."""

    def parse(value: Any) -> float:
        number = _plain(value)
        if number is None:
            raise typer.BadParameter(
                f"{value!r} is not a finite number (ASCII digits, one decimal point)"
            )
        if not (low < number if open_low else low <= number) or number > high:
            bracket = "(" if open_low else "["
            raise typer.BadParameter(f"{number:g} is outside {bracket}{low:g}, {high:g}]")
        return number

    return parse


SeedOpt = Annotated[
    int,
    typer.Option(
        "--seed",
        parser=whole_number(0, MAX_SEED),
        help=f"Random seed, 0 to {MAX_SEED:,}.",
    ),
]
DecimalCommaOpt = Annotated[
    bool,
    typer.Option(
        "--decimal-comma",
        help="Numbers stored as text use a decimal comma (1,5 is 1.5), as files from many "
        "European locales do; a decimal point is then refused.",
    ),
]


@app.command()
def validate(
    data: DataArg,
    mapping: MappingOpt = None,
    decimal_comma: DecimalCommaOpt = False,
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="Also check the data hold every score and timepoint of it."),
    ] = None,
) -> None:
    """Check a data file and account for every participant.

    Prints every problem (file, row, column, value, what is wrong, how to fix) and exits 1, or
    prints the ledger summary and exits 0. With `--plan`, also checks that the data hold every
    score, timepoint and covariate the plan's models use, naming the closest name found.

    **Examples**

        alliance validate trial_items.csv

        alliance validate export.sav --mapping columns.toml --plan my_plan.toml

        alliance validate export_de.csv --decimal-comma
    """
    from alliance.episodes.episodes import build_episodes
    from alliance.models.plan import load_plan
    from alliance.pipeline import ledger_for, load_data
    from alliance.validation.plan_data import check_plan_data

    with _reported_errors(), _progress("validating") as progress:
        _check_paths({"DATA": data, "--mapping": mapping, "--plan": plan})
        analysis_plan = load_plan(plan) if plan is not None else None
        progress("reading")
        loaded = load_data(data, mapping, "," if decimal_comma else ".")
        if analysis_plan is not None and plan is not None:
            check_plan_data(analysis_plan, loaded.scores.columns, data.name, plan.name)
        ledger = ledger_for(loaded, build_episodes(loaded.scores))
    _print_ledger_summary(loaded, ledger)
    if analysis_plan is not None:
        models = len(analysis_plan.model_specs())
        stdout.print(f"  plan: the data hold every score and timepoint of its {models} models")


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
        if loaded.layout == "items"  # a scored file has no items to miss
        else f"  rows: {ledger.rows_in} read, one per participant and phase{duplicates}"
    )
    for warning in loaded.warnings:
        stderr.print(f"warning: {terminal_text(warning)}", markup=False)
    stdout.print(
        f"  participants: {ledger.participants_in} in, {ledger.episodes} with an MDMA episode, "
        f"{len(ledger.excluded())} excluded"
    )
    excluded = ledger.excluded()
    for entry in excluded[:MAX_EXCLUDED_LINES]:
        stdout.print(
            terminal_text(f"    excluded {entry['participant_id']}: {entry['reason']}"),
            markup=False,
        )
    if len(excluded) > MAX_EXCLUDED_LINES:
        reasons = Counter(str(entry["reason"]) for entry in excluded[MAX_EXCLUDED_LINES:])
        counts = "; ".join(f"{n} {reason}" for reason, n in reasons.most_common())
        stdout.print(
            terminal_text(
                f"    ... and {len(excluded) - MAX_EXCLUDED_LINES} more ({counts}); every one is "
                "named in ledger.csv (alliance analyze)"
            ),
            markup=False,
        )


@app.command()
def score(
    data: DataArg,
    out: Annotated[
        Path, typer.Option("--out", help="Scored file to write (.csv, .xlsx, .parquet, ...).")
    ],
    mapping: MappingOpt = None,
    decimal_comma: DecimalCommaOpt = False,
) -> None:
    """Score item-level data into the scored layout (one row per participant and phase).

    **Examples**

        alliance score trial_items.csv --out trial_scores.csv
    """
    from alliance.input.writers import WRITABLE, write_table
    from alliance.pipeline import load_data

    with _reported_errors(), _progress("scoring") as progress:
        target = _check_paths({"DATA": data, "--mapping": mapping}, out, formats=WRITABLE)
        progress("reading")
        loaded = load_data(data, mapping, "," if decimal_comma else ".")
        progress("writing")
        write_table(loaded.scores, target or out, synthetic=loaded.synthetic)
    stdout.print(terminal_text(f"wrote {out} ({len(loaded.scores)} rows)"), markup=False)


@app.command()
def analyze(
    data: DataArg,
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="Analysis plan (TOML). Default: the article's plan."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("alliance-results"),
    seed: SeedOpt = 0,
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
            parser=whole_number(0, MAX_RESAMPLES),
            help=f"Freedman–Lane permutations, 0 (off) to {MAX_RESAMPLES:,} (plan default 10,000).",
        ),
    ] = None,
    bootstrap: Annotated[
        int | None,
        typer.Option(
            "--bootstrap",
            parser=whole_number(0, MAX_RESAMPLES),
            help=f"Case resamples for BCa intervals, 0 (off) to {MAX_RESAMPLES:,} (plan "
            "default 10,000).",
        ),
    ] = None,
    missing: Annotated[
        str | None,
        typer.Option(
            "--missing",
            help="Missing scores: cc (complete cases, the default plan) or mi (multiple "
            "imputation, pooled by Rubin's rules, reported beside complete cases).",
        ),
    ] = None,
    imputations: Annotated[
        int | None,
        typer.Option(
            "--imputations",
            parser=whole_number(2, MAX_IMPUTATIONS),
            help=f"Imputed datasets for --missing mi, 2 to {MAX_IMPUTATIONS:,} (plan default 50).",
        ),
    ] = None,
    mapping: MappingOpt = None,
    show_ids: Annotated[
        bool, typer.Option("--show-ids", help="Name participants in the report.")
    ] = False,
    png: Annotated[bool, PngOpt] = False,
    no_figures: Annotated[
        bool,
        typer.Option(
            "--no-figures",
            help="Skip the matplotlib figures (tables, results and the flow diagram stay): "
            "the quickest run while a plan is being adjusted.",
        ),
    ] = False,
    decimal_comma: DecimalCommaOpt = False,
) -> None:
    """Run the analysis plan and write results.json, tables, figures and the report.

    Figures are written as SVG (and inline in report.html); add `--png` for 300-dpi PNG copies.

    **Examples**

        alliance analyze trial_items.csv --out results

        alliance analyze scores.xlsx --plan my_plan.toml --adjust bh --family per_outcome

        alliance analyze trial_items.csv --bootstrap 0 --permutations 0   # classical only

        alliance analyze trial_items.csv --no-figures   # quickest, while adjusting a plan

        alliance analyze trial_items.csv --png   # also 300-dpi PNGs for a journal

        alliance analyze trial_items.csv --missing mi --imputations 100   # multiple imputation
    """
    from alliance.missing.console import MISSING_CHOICES, missing_lines
    from alliance.models.plan import ADJUST_METHODS, FAMILIES, load_plan
    from alliance.models.small_sample import small_sample_warnings
    from alliance.pipeline import analyze as run_analysis
    from alliance.pipeline import load_data
    from alliance.report.console import mixed_lines, model_line
    from alliance.report.outputs import write_outputs
    from alliance.validation.plan_data import check_plan_data

    if adjust is not None and adjust.lower() not in ADJUST_METHODS:
        raise typer.BadParameter(
            f"unknown method {adjust!r}; choose one of {', '.join(ADJUST_METHODS)}",
            param_hint="--adjust",
        )
    if png and no_figures:
        raise typer.BadParameter(
            "--png writes the figures, --no-figures skips them: choose one", param_hint="--png"
        )
    if family is not None and family.lower() not in FAMILIES:
        raise typer.BadParameter(
            f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}",
            param_hint="--family",
        )
    if missing is not None and missing.lower() not in MISSING_CHOICES:
        raise typer.BadParameter(
            f"unknown choice {missing!r}; choose cc or mi", param_hint="--missing"
        )
    from alliance.output.transaction import folder_lock
    from alliance.report.outputs import OUTPUT_NAMES

    inputs = {"DATA": data, "--plan": plan, "--mapping": mapping}
    with _reported_errors():
        _check_paths(inputs, out, folder=OUTPUT_NAMES)
    # The folder is locked from here on: a second run into it fails now, not after its work.
    with _reported_errors(), folder_lock(out), _progress("analysing") as progress:
        analysis_plan = load_plan(plan).with_overrides(
            adjust=adjust.lower() if adjust else None,
            family=family.lower() if family else None,
            permutations=permutations,
            bootstrap=bootstrap,
            missing_data=MISSING_CHOICES[missing.lower()] if missing else None,
            imputations=imputations,
        )
        progress("reading")
        loaded = load_data(data, mapping, "," if decimal_comma else ".")
        plan_name = plan.name if plan is not None else "article plan"
        check_plan_data(analysis_plan, loaded.scores.columns, data.name, plan_name)
        analysis = run_analysis(loaded, analysis_plan, seed=seed, progress=progress)
        progress("writing")
        written = write_outputs(
            analysis, out, show_ids=show_ids, png=png, draw_figures=not no_figures
        )
    _print_ledger_summary(loaded, analysis.ledger)
    for model in analysis.models:
        stdout.print(model_line(model, analysis_plan.multiplicity.method), markup=False)
    for line in missing_lines(analysis.missing, analysis_plan.multiplicity.method):
        stdout.print(terminal_text(line), markup=False)
    for warning in small_sample_warnings(analysis.models):
        stderr.print(f"warning: {terminal_text(warning)}", markup=False)
    for line in mixed_lines(analysis.mixed):
        stdout.print(terminal_text(line), markup=False)
    stdout.print(terminal_text(f"results: {Path(written).resolve()}"), markup=False)
    stdout.print(terminal_text(f"report: {(Path(out) / 'report.html').resolve()}"), markup=False)


def _parse_arms(text: str | None) -> tuple[float, float] | None:
    """MDMA:placebo weights, scaled so the larger is 1 (1e308:1e308 is 1:1, not inf:inf)."""
    if text is None:
        return None
    from alliance.validation.cells import plain_number

    parts = text.split(":")
    weights = [plain_number(part) for part in parts]
    if len(parts) != 2 or any(w is None for w in weights):
        raise typer.BadParameter(
            f"{text!r} is not MDMA:placebo weights such as 12:8 (two finite numbers)",
            param_hint="--arms",
        )
    mdma, placebo = (float(w) for w in weights if w is not None)
    if min(mdma, placebo) < 0:
        raise typer.BadParameter(
            f"{text!r}: both weights must be finite and not negative", param_hint="--arms"
        )
    largest = max(mdma, placebo)
    if largest == 0:
        raise typer.BadParameter(f"{text!r}: the weights cannot both be 0", param_hint="--arms")
    return mdma / largest, placebo / largest


def _parse_effects(
    texts: list[str], outcomes: Iterable[str], timepoints: tuple[str, ...]
) -> dict[str, dict[str, float]]:
    """``caps@s4=-0.5`` sets one model's partial r; ``caps=-0.5`` sets every timepoint's."""
    from alliance.validation.cells import plain_number

    effects: dict[str, dict[str, float]] = {}
    known = list(outcomes)
    for text in texts:
        target, _, value = text.partition("=")
        outcome, _, timepoint = target.strip().lower().partition("@")

        def bad(what: str, text: str = text) -> typer.BadParameter:
            return typer.BadParameter(f"{text!r}: {what}", param_hint="--effect")

        number = plain_number(value)
        if number is None:
            raise bad("not OUTCOME@TIMEPOINT=R such as caps@s4=-0.5")
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
    n: Annotated[
        int | None,
        typer.Option(
            "--n",
            parser=whole_number(2, MAX_PARTICIPANTS),
            help=f"Participants, 2 to {MAX_PARTICIPANTS:,} (default 23).",
        ),
    ] = None,
    seed: SeedOpt = 0,
    arms: Annotated[
        str | None,
        typer.Option(
            "--arms", help="MDMA:placebo allocation weights, finite and ≥ 0 (default 12:8)."
        ),
    ] = None,
    crossover: Annotated[
        float | None,
        typer.Option(
            "--crossover",
            parser=decimal_number(0.0, 1.0),
            help="Share of placebo who cross over, 0 to 1 (0.875).",
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
            "--missing-items",
            parser=decimal_number(0.0, 0.99),
            help="Share of blank self-report items, 0 to 0.99.",
        ),
    ] = None,
    missing_visits: Annotated[
        float | None,
        typer.Option(
            "--missing-visits",
            parser=decimal_number(0.0, 0.99),
            help="Share of missed assessments, 0 to 0.99.",
        ),
    ] = None,
    layout: Annotated[
        str, typer.Option("--layout", help="items (item responses) or scored (one row per phase).")
    ] = "items",
    sessions: Annotated[
        bool,
        typer.Option(
            "--sessions", help="Also WAI-SR and PCL-5 after every session of every phase."
        ),
    ] = False,
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

        alliance simulate --sessions --out sessions.csv   # session-by-session data too
    """
    from alliance.input.writers import WRITABLE, write_table
    from alliance.models.plan import check_plan_against_data, load_plan
    from alliance.pipeline import known_scores
    from alliance.synthetic.settings import load_calibration
    from alliance.synthetic.simulate import SimulationOptions
    from alliance.synthetic.simulate import simulate as run_simulation

    if layout not in ("items", "scored"):
        raise typer.BadParameter(f"{layout!r}: choose items or scored", param_hint="--layout")
    with _reported_errors(), _progress("simulating") as progress:
        target = _check_paths({"--calibration": calibration, "--plan": plan}, out, formats=WRITABLE)
        base = load_calibration(calibration)
        options = SimulationOptions(
            n=n,
            arms=_parse_arms(arms),
            crossover=crossover,
            missing_items=missing_items,
            missing_visits=missing_visits,
            partial_r=_parse_effects(effect or [], base.outcomes, base.alliance.timepoints),
            sessions=sessions,
        )
        source = calibration.name if calibration else "calibration.toml"
        trial = run_simulation(base, seed, options, source=source)
        if plan is not None:
            check_plan_against_data(
                load_plan(plan), set(trial.scores.columns), known_scores(), plan.name
            )
        progress("writing")
        table = trial.items.astype({"value": "Int64"}) if layout == "items" else trial.scores
        write_table(table, target or out, synthetic=True)
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
    png: Annotated[bool, PngOpt] = False,
) -> None:
    """Analyse the bundled synthetic trial in full and print where the report is.

    **Examples**

        alliance demo --out alliance-demo

        alliance demo --out alliance-demo --png   # also 300-dpi PNG figures
    """
    from alliance.demo import run_demo
    from alliance.report.outputs import OUTPUT_NAMES

    with _reported_errors(), _progress("demo") as progress:
        _check_paths({}, out, folder=(*OUTPUT_NAMES, "data"))
        result = run_demo(out, progress=progress, png=png)
    for line in result.summary:
        stdout.print(line, markup=False)


@app.command()
def power(
    effect: Annotated[
        list[float] | None,
        typer.Option(
            "--effect",
            parser=decimal_number(-math.inf, math.inf),  # its bounds are checked below
            help="Partial r of post with alliance given the covariates, strictly between -1 "
            "and 1 and not 0 (repeatable; default 0.3, 0.4, 0.5).",
        ),
    ] = None,
    n: Annotated[
        list[int] | None,
        typer.Option(
            "--n",
            parser=whole_number(3, MAX_N),
            help=f"Sample size, 3 to {MAX_N:,} (repeatable; default 22, as the article).",
        ),
    ] = None,
    target: Annotated[
        float,
        typer.Option(
            "--power",
            parser=decimal_number(0.01, 0.99),
            help="Target power for the N each effect needs, 0.01 to 0.99.",
        ),
    ] = 0.8,
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="Analysis plan: its alpha and covariates (default: article)."),
    ] = None,
    covariates: Annotated[
        int | None,
        typer.Option(
            "--covariates",
            parser=whole_number(0, MAX_COVARIATES),
            help=f"Covariates with the baseline included, 0 to {MAX_COVARIATES} (default: 1 + "
            "the plan's covariates; count a categorical covariate's levels minus one).",
        ),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option(
            "--alpha",
            parser=decimal_number(MIN_ALPHA, MAX_ALPHA),
            help=f"Significance level, {MIN_ALPHA:g} to {MAX_ALPHA:g} (default: plan).",
        ),
    ] = None,
    tests: Annotated[
        int,
        typer.Option(
            "--tests",
            parser=whole_number(1, MAX_TESTS),
            help=f"Tests corrected together, 1 to {MAX_TESTS:,}: plan at alpha / tests "
            "(Bonferroni).",
        ),
    ] = 1,
    convention: Annotated[
        str, typer.Option("--convention", help="Fixed-design noncentrality: gpower or pwr.")
    ] = "gpower",
    simulations: Annotated[
        int,
        typer.Option(
            "--simulations",
            parser=whole_number(0, MAX_SIMULATIONS),
            help=f"Monte Carlo replications per cell, 0 (off) to {MAX_SIMULATIONS:,}.",
        ),
    ] = 10_000,
    seed: SeedOpt = 0,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Also write the numbers to this JSON file, with the power curve, an HTML page "
            "and CSV tables beside it (named after it).",
        ),
    ] = None,
    design: Annotated[
        bool,
        typer.Option(
            "--design",
            help="Whole-plan power: simulate every model of the plan and its correction with "
            "the calibrated generator at each --n (MDMA episodes); each --effect is the partial "
            "r of every alliance model (0 allowed: the global null).",
        ),
    ] = False,
    errors: Annotated[
        str,
        typer.Option(
            "--errors", help="--design outcome errors: skewed (the generator's) or normal."
        ),
    ] = "skewed",
    missing_rate: Annotated[
        float,
        typer.Option(
            "--missing-rate",
            parser=decimal_number(0.0, 0.99),
            help="--design: share of each score missing, 0 to 0.99.",
        ),
    ] = 0.0,
    missing_mechanism: Annotated[
        str, typer.Option("--missing-mechanism", help="--design: mcar or mar (severity-dependent).")
    ] = "mcar",
    therapists: Annotated[
        int,
        typer.Option(
            "--therapists",
            parser=whole_number(0, MAX_PARTICIPANTS),
            help="--design: therapists sharing the episodes (0: no clustering).",
        ),
    ] = 0,
    icc: Annotated[
        float | None,
        typer.Option(
            "--icc",
            parser=decimal_number(0.0, 0.99),
            help="--design: therapist ICC of alliance and outcome, in [0, 1).",
        ),
    ] = None,
    adjust: Annotated[
        str | None,
        typer.Option(
            "--adjust",
            help="--design correction (default: plan): holm, bonferroni, hochberg, bh, by, none.",
        ),
    ] = None,
    family: Annotated[
        str | None, typer.Option("--family", help="--design correction family: all or per_outcome.")
    ] = None,
    from_results: Annotated[
        Path | None,
        typer.Option(
            "--from-results",
            help="Plan from a pilot's results.json: observed, "
            "CI-bound, winner's-curse-corrected and benchmark effects and their N.",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            parser=whole_number(1, 256),
            help="--design cells on a local Dask cluster of N processes (1: here).",
        ),
    ] = 1,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler", help="--design cells on this Dask scheduler, e.g. tcp://127.0.0.1:8786."
        ),
    ] = None,
) -> None:
    """Power of the alliance test for planning a replication, and the N each effect needs.

    Three figures per effect and N: fixed-design power in G*Power's convention (or pwr's), the
    exact random-design power (predictors drawn with each sample; the planning figure) and a
    Monte Carlo check of it. `--design` adds whole-plan power (family-wise and per test) with
    missing data, skewed errors and therapists; `--from-results` plans from a pilot.

    **Examples**

        alliance power

        alliance power --effect 0.35 --n 22 --n 40 --n 60 --power 0.9

        alliance power --tests 6 --convention pwr --out power.json   # the article's 6 models

        alliance power --design --effect 0.2 --effect 0.3 --n 100 --n 200 --missing-rate 0.1 --workers 2 --out power.json

        alliance power --from-results results/results.json --out planning.json
    """
    from alliance.power.analytic import CONVENTIONS
    from alliance.power.command import PowerRequest, run_power
    from alliance.power.console import cell_bar, print_design, print_planning, usage_problem

    if convention not in CONVENTIONS:
        raise typer.BadParameter(
            f"{convention!r}: choose one of {', '.join(CONVENTIONS)}", param_hint="--convention"
        )
    effects = effect or [0.3, 0.4, 0.5]
    for r in effects:
        if not -1 < r < 1 or (r == 0 and not design):
            raise typer.BadParameter(
                f"{r}: a partial correlation must lie strictly between -1 and 1"
                + ("" if design else " and not be 0 (0 is allowed with --design)"),
                param_hint="--effect",
            )
    problem = usage_problem(design, errors, missing_mechanism, therapists, icc, adjust, family,
                            simulations, workers, scheduler, missing_rate)  # fmt: skip
    if problem:
        raise typer.BadParameter(problem[1], param_hint=problem[0])
    with _reported_errors(), _progress("power") as progress:
        inputs = {"--plan": plan, "--from-results": from_results}
        json_path = _check_paths(inputs, out)
        request = PowerRequest(
            effects, n or [22], target, plan, covariates, alpha, tests, convention, simulations,
            seed, out, json_path, design, errors, missing_rate, missing_mechanism, therapists,
            icc or 0.0, adjust, family, from_results, workers, scheduler,
        )  # fmt: skip
        report = run_power(request, progress, cell_bar(stderr), inputs)
    _print_power(report.document["power"], report.document["sample_size"], report.k,
                 report.level, tests, convention, target)  # fmt: skip
    print_design(stdout, stderr, report)
    print_planning(stdout, report)
    if out is not None:
        stdout.print(f"numbers: {out}", markup=False)
    if report.failures:
        raise typer.Exit(1)


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


# Meta-analysis across studies or sites: the command lives with its stage.
from alliance.meta.command import meta as _meta  # noqa: E402

app.command(name="meta")(_meta)

mapping_app = typer.Typer(
    help="Mapping files for wide exports (REDCap, SPSS, Stata, Excel).", no_args_is_help=True
)
app.add_typer(mapping_app, name="mapping")
plan_app = typer.Typer(help="Analysis plans.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")


@mapping_app.command("draft")
def mapping_draft(
    data: DataArg,
    out: Annotated[
        Path | None, typer.Option("--out", help="Mapping file to write (default: print it).")
    ] = None,
) -> None:
    """Propose a mapping for a file alliance has not seen, for you to check and complete.

    Every `"TODO: ..."` left in it is a decision the file could not settle; `alliance validate
    DATA --mapping FILE` refuses the mapping, naming the line, until none is left.

    **Examples**

        alliance mapping draft redcap_export.csv --out mapping.toml

        alliance mapping draft trial_wide.sav
    """
    from alliance.input.draft import draft_mapping
    from alliance.input.readers import read_table
    from alliance.instruments.registry import load_instruments
    from alliance.report.files import write_atomic

    with _reported_errors(), _progress("drafting a mapping") as progress:
        target = _check_paths({"DATA": data}, out, formats=(".toml",))
        progress("reading")
        raw = read_table(data)
        progress("guessing")
        draft = draft_mapping(raw, load_instruments())
        if target is not None:
            write_atomic(target, lambda handle: handle.write(draft.text.encode("utf-8")))
    if out is None:
        for line in draft.text.splitlines():
            stdout.print(terminal_text(line), markup=False)
    else:
        stderr.print(terminal_text(f"wrote {out}"), markup=False)
    for note in draft.notes:
        stderr.print(f"note: {terminal_text(note)}", markup=False)
    for todo in draft.todos:
        stderr.print(f"to decide: {terminal_text(todo)}", markup=False)


@plan_app.command("template")
def plan_template() -> None:
    """Print the article's plan with a comment on every key: a template to edit.

    **Examples**

        alliance plan template > my_plan.toml
    """
    from alliance.models.plan_template import template_text

    stdout.print(template_text(), markup=False, end="")


def main() -> None:
    """Entry point of the ``alliance`` command.

    SIGTERM is handled like Ctrl-C (SIGINT): the run stops, cleans up its temporary files,
    leaves any output folder as it was before the run, and exits with 128 + the signal number.
    """
    received: list[int] = []

    def interrupt(signum: int, frame: Any) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    def exiting() -> None:
        # The run is over and its exit status decided. The interpreter's own shutdown (freeing
        # large tables, joining threads) can take a moment, and Python puts back the default
        # handlers during it: a termination signal arriving then would kill the process and
        # turn a finished run's status into "killed by signal". Nothing is left to stop.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        app()
    except KeyboardInterrupt:
        received.append(signal.SIGINT)
    except SystemExit as exc:
        if not (received and exc.code == 130):  # typer turns KeyboardInterrupt into exit 130
            exiting()
            raise
    else:
        exiting()
        return
    exiting()
    stderr.print("interrupted", markup=False)
    sys.exit(128 + received[-1])


if __name__ == "__main__":
    main()
