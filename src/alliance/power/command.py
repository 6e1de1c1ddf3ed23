"""``alliance power``: the command's work, from checked options to the document it writes.

The command line (``cli.py``) parses and bounds the options, then calls :func:`run_power`; this
module builds the single-test grid, the whole-plan design grid (``--design``) on the chosen
workers, the planning rows of a pilot (``--from-results``), and writes ``power.json`` with its
siblings (:mod:`alliance.power.outputs`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alliance import __version__
from alliance.errors import AllianceError, PlanError
from alliance.models.plan import AnalysisPlan, load_plan
from alliance.power.cells import DesignCell, cell_runner, cell_seeds
from alliance.power.design import design_models
from alliance.power.grid import power_grid, sample_sizes
from alliance.synthetic.batch import Scenario
from alliance.synthetic.settings import load_calibration


@dataclass(frozen=True)
class PowerRequest:
    effects: list[float]
    sizes: list[int]
    target: float
    plan: Path | None
    covariates: int | None
    alpha: float | None
    tests: int
    convention: str
    simulations: int
    seed: int
    out: Path | None
    json_path: Path | None = None  # where to write ``out`` (the checked target)
    design: bool = False
    errors: str = "skewed"
    missing_rate: float = 0.0
    missing_mechanism: str = "mcar"
    therapists: int = 0
    icc: float = 0.0
    adjust: str | None = None
    family: str | None = None
    from_results: Path | None = None
    workers: int = 1
    scheduler: str | None = None


@dataclass
class PowerReport:
    document: dict[str, Any]
    k: int
    level: float
    failures: list[dict[str, Any]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)


def _design_setup(
    request: PowerRequest, plan: AnalysisPlan
) -> tuple[list[DesignCell], dict[str, Any]]:
    calibration = load_calibration(None)
    outcomes = tuple(calibration.outcomes)
    timepoints = calibration.alliance.timepoints
    try:
        models = design_models(plan, outcomes, timepoints)
    except ValueError as exc:
        raise PlanError(
            f"{request.plan.name if request.plan else 'the article plan'} (--design)",
            [f"{exc}"],
        ) from None
    alpha = request.alpha if request.alpha is not None else plan.alpha
    grid = [(effect, n) for effect in request.effects for n in request.sizes]
    seeds = cell_seeds(request.seed, len(grid))
    cells = []
    for i, ((effect, n), seed) in enumerate(zip(grid, seeds, strict=True)):
        # Every alliance–outcome pair the generator draws gets the effect, the plan's models
        # and the others alike (the others' values would otherwise be the calibration's).
        effects = {o: dict.fromkeys(timepoints, effect) for o in outcomes}
        scenario = Scenario(
            effects,
            request.errors,
            request.missing_rate,
            request.missing_mechanism,
            request.therapists,
            request.icc,
        )
        cells.append(
            DesignCell(
                i,
                n,
                effect,
                scenario,
                tuple(models),
                plan.multiplicity.method,
                alpha,
                request.simulations,
                seed,
            )
        )
    settings = {
        "unit": "MDMA episodes (n = episodes per replication)",
        "generator": "calibrated synthetic generator (bundled calibration)",
        "adjust_method": plan.multiplicity.method,
        "family": plan.multiplicity.family,
        "alpha": alpha,
        "missing_data": "complete cases per model",
        "errors": request.errors,
        "missing_rate": request.missing_rate,
        "missing_mechanism": request.missing_mechanism,
        "therapists": request.therapists,
        "icc": request.icc,
        "seeds": "numpy SeedSequence(seed).spawn(cells), cell i in grid order (effect, then n)",
        "models": [f"{m.outcome}@post ~ {m.outcome}@baseline + wai@{m.timepoint}" for m in models],
    }
    return cells, settings


@contextmanager
def _nothing() -> Iterator[Callable[[], None]]:
    yield lambda: None


def run_power(
    request: PowerRequest,
    stage: Callable[[str], None] = lambda _: None,
    cell_progress: Callable[[int], Any] | None = None,
    inputs: dict[str, Path | None] | None = None,
) -> PowerReport:
    """Every figure the request asks for, and the files written (``request.out``).

    ``inputs`` are the files the command reads: no file written beside ``out`` may be one.
    """
    with contextlib.ExitStack() as stack:
        run = None
        if request.design:
            stage("connecting to workers" if request.workers > 1 or request.scheduler else "design")
            run = stack.enter_context(cell_runner(request.workers, request.scheduler))
        return _run_power(request, stage, cell_progress, inputs, run)


def _run_power(
    request: PowerRequest,
    stage: Callable[[str], None],
    cell_progress: Callable[[int], Any] | None,
    inputs: dict[str, Path | None] | None,
    run: Callable[..., list[Any]] | None,
) -> PowerReport:
    if request.out is not None:
        from alliance.output.paths import OutputPathError, check_output_file
        from alliance.power.outputs import sibling_names

        for sibling in sibling_names(request.out).values():
            try:
                check_output_file(sibling, inputs or {})
            except OutputPathError as exc:
                raise AllianceError(f"--out: {exc}") from None
    plan = load_plan(request.plan)
    if request.adjust is not None or request.family is not None:
        plan = plan.with_overrides(adjust=request.adjust, family=request.family)
    results_document = None
    if request.from_results is not None:
        from alliance.power.planning import read_results

        results_document = read_results(request.from_results)
    k = request.covariates if request.covariates is not None else 1 + len(plan.covariates)
    base_alpha = request.alpha if request.alpha is not None else plan.alpha
    level = base_alpha / request.tests
    for size in request.sizes:
        if size < k + 3:
            import typer  # a usage error (exit 2), as the command line's own checks

            raise typer.BadParameter(
                f"{size} leaves no residual degrees of freedom with {k} covariate(s) "
                f"(need at least {k + 3})",
                param_hint="--n",
            )
    stage("single test")
    grid = power_grid(request.effects, request.sizes, k, level, request.convention,
                      request.simulations, request.seed)  # fmt: skip
    nonzero = [r for r in request.effects if r != 0]
    sized = iter(sample_sizes(nonzero, k, level, request.target, request.convention))
    needed = [
        next(sized)
        if r != 0
        else {
            "partial_r": r,
            "f_squared": 0.0,
            "covariates": k,
            "alpha": level,
            "target_power": request.target,
            "convention": request.convention,
            "n_fixed_design": None,
            "n_random_design": None,
        }
        for r in request.effects
    ]
    document: dict[str, Any] = {
        "alliance_version": __version__,
        "model": f"post ~ {k} covariate(s) incl. baseline + alliance",
        "alpha": level,
        "tests": request.tests,
        "seed": request.seed,
        "power": grid,
        "sample_size": needed,
    }
    report = PowerReport(document, k, level)
    if request.design:
        cells, settings = _design_setup(request, plan)
        stage(f"design: {len(cells)} cell(s)")
        progress = cell_progress(len(cells)) if cell_progress else _nothing()
        with progress as advance:
            assert run is not None
            outcomes = run(cells, advance)
        rows = []
        for outcome in outcomes:
            if outcome.result is not None:
                rows.append({"n": outcome.cell.n, "effect": outcome.cell.effect, **outcome.result})
            else:
                report.failures.append(
                    {
                        "n": outcome.cell.n,
                        "effect": outcome.cell.effect,
                        "parameters": outcome.cell.parameters(),
                        "error": outcome.error or "",
                    }
                )
        document["design"] = settings
        document["design_power"] = rows
        document["design_failures"] = report.failures
    if results_document is not None:
        from alliance.power.planning import planning_rows

        stage("planning from the pilot")
        assert request.from_results is not None
        planning_alpha = (
            request.alpha if request.alpha is not None else float(results_document["plan"]["alpha"])
        ) / request.tests
        document["planning_source"] = request.from_results.name
        document["planning"] = planning_rows(results_document, planning_alpha, request.target)
    if request.out is not None:
        from alliance.power.outputs import write_outputs
        from alliance.report.files import write_atomic

        stage("writing")
        text = json.dumps(document, indent=2, allow_nan=False) + "\n"
        target = request.json_path or request.out
        report.written.append(write_atomic(target, lambda h: h.write(text.encode("utf-8"))))
        report.written += write_outputs(request.out, document, request.target, report.failures)
    return report
