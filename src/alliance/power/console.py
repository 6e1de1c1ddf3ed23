"""What ``alliance power`` shows on the terminal for ``--design`` and ``--from-results``, and
the usage checks of their options (the single-test tables are printed by ``cli.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from alliance.inference.multiplicity import METHODS
from alliance.limits import MAX_N
from alliance.models.plan import FAMILIES
from alliance.synthetic.batch import ERRORS, MECHANISMS


def usage_problem(
    design: bool,
    errors: str,
    mechanism: str,
    therapists: int,
    icc: float | None,
    adjust: str | None,
    family: str | None,
    simulations: int,
    workers: int,
    scheduler: str | None,
    missing_rate: float = 0.0,
) -> tuple[str, str] | None:
    """(option, message) of the first usage error among the --design options, or None."""
    if not design:
        given = {
            "--errors": errors != "skewed",
            "--missing-rate": missing_rate != 0,
            "--missing-mechanism": mechanism != "mcar",
            "--therapists": therapists != 0,
            "--icc": icc is not None,
            "--adjust": adjust is not None,
            "--family": family is not None,
            "--workers": workers != 1,
            "--scheduler": scheduler is not None,
        }
        for option, used in given.items():
            if used:
                return option, f"{option} applies to the whole-plan simulation: add --design"
    if errors not in ERRORS:
        return "--errors", f"{errors!r}: choose one of {', '.join(ERRORS)}"
    if mechanism not in MECHANISMS:
        return "--missing-mechanism", f"{mechanism!r}: choose one of {', '.join(MECHANISMS)}"
    if adjust is not None and adjust.lower() not in METHODS:
        return "--adjust", f"{adjust!r}: choose one of {', '.join(METHODS)}"
    if family is not None and family not in FAMILIES:
        return "--family", f"{family!r}: choose one of {', '.join(FAMILIES)}"
    if therapists and icc is None:
        return "--icc", "--therapists needs --icc (the therapists' share of variance, in [0, 1))"
    if icc is not None and not therapists:
        return "--therapists", "--icc needs --therapists K (how many therapists share the episodes)"
    if workers > 1 and scheduler is not None:
        return "--scheduler", "give --workers N (a local cluster) or --scheduler ADDRESS, not both"
    if design and simulations < 1:
        return "--simulations", "--design simulates the plan: give --simulations 1 or more"
    return None


def cell_bar(console: Console) -> Callable[[int], Any]:
    """A progress bar over the design cells (shown on a terminal only)."""

    @contextmanager
    def bar(total: int) -> Iterator[Callable[[], None]]:
        with Progress(
            TextColumn("design cells"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as progress:
            task = progress.add_task("cells", total=total)
            yield lambda: progress.advance(task)

    return bar


def print_design(stdout: Console, stderr: Console, report: Any) -> None:
    rows = report.document.get("design_power")
    if rows is None:
        return
    settings = report.document["design"]
    stdout.print(
        f"Whole plan ({len(settings['models'])} models, {settings['adjust_method']} over "
        f"{settings['family']}, alpha = {settings['alpha']:g}; errors {settings['errors']}, "
        f"missing {settings['missing_rate']:g} {settings['missing_mechanism']}, "
        f"therapists {settings['therapists']} ICC {settings['icc']:g}): N = MDMA episodes",
        markup=False,
    )
    table = Table("partial r", "N", "at least one survives", "all survive", "per test (min–max)")
    for row in rows:
        powers = [m["power"] for m in row["models"]]
        table.add_row(
            f"{row['effect']:.2f}",
            str(row["n"]),
            f"{row['family_any']:.3f} ± {row['family_any_mc_se']:.3f}",
            f"{row['family_all']:.3f} ± {row['family_all_mc_se']:.3f}",
            f"{min(powers):.3f}–{max(powers):.3f}",
        )
    stdout.print(table)
    for failure in report.failures:
        stderr.print(f"error: cell failed ({failure['parameters']}): {failure['error']}",
                     markup=False)  # fmt: skip


def _n(value: int | None) -> str:
    return str(value) if value is not None else "—"


def print_planning(stdout: Console, report: Any) -> None:
    rows = report.document.get("planning")
    if rows is None:
        return
    target = rows[0]["target_power"] if rows else 0.8
    stdout.print(
        f"Planning from {report.document['planning_source']} (N for power {target:g}, random "
        "design; corrected = conditional MLE given significance; benchmark r = .28, "
        "Flückiger et al. 2018)",
        markup=False,
    )
    columns = ("model", "n", "r", "CI", "corr.", "bench.", "N r", "N CI", "N corr.", "N bench.")
    table = Table(*columns)

    def r(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}"

    for row in rows:
        table.add_row(
            f"{row['outcome']}@{row['timepoint']}",
            str(row["n"]),
            r(row["partial_r"]),
            r(row["ci_lower_bound"]),
            r(row["corrected_partial_r"]),
            r(row["benchmark_partial_r"]),
            _n(row["n_observed"]),
            _n(row["n_ci_low"]),
            _n(row["n_corrected"]),
            _n(row["n_benchmark"]),
        )
    stdout.print(table)
    stdout.print(
        "CI: the 95 % limit nearer 0 (0 when the interval spans 0); —: no N up to "
        f"{MAX_N:,} reaches the target; corrected = observed when the pilot's test was not "
        "significant (nothing was selected).",
        markup=False,
    )
