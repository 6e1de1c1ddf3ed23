"""Running the cells of a power grid: in this process, on a local Dask cluster or on a scheduler.

Cell i of a grid draws from child i of ``SeedSequence(seed).spawn(cells)``, and its result depends
on nothing else, so the grid's numbers are the same for any worker count or scheduler; results
are put back in grid order whatever order they finish in. A cell that fails (an effect the
calibrated distributions cannot reach, a worker that dies) is returned as a failure naming its
parameters, and the other cells finish.

Dask is optional (``pip install alliance-outcome[dask]``): one worker runs in this process
without it. A local cluster listens on 127.0.0.1 only, with no dashboard; the product makes no
other network connection.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from alliance.errors import AllianceError
from alliance.power.design import DesignModel, design_cell
from alliance.synthetic.batch import Scenario

# A scheduler that does not answer within this many seconds is reported, not waited for (the
# whole command then ends within 10 s of starting).
CONNECT_TIMEOUT = 5


@dataclass(frozen=True)
class DesignCell:
    """One cell of a design grid: everything a worker needs, picklable."""

    index: int
    n: int
    effect: float
    scenario: Scenario
    models: tuple[DesignModel, ...]
    method: str
    alpha: float
    simulations: int
    seed: np.random.SeedSequence

    def parameters(self) -> str:
        s = self.scenario
        return (
            f"n = {self.n}, effect = {self.effect:g}, errors = {s.errors}, missing rate = "
            f"{s.missing_rate:g} ({s.missing_mechanism}), therapists = {s.therapists}, "
            f"ICC = {s.icc:g}"
        )


@dataclass(frozen=True)
class CellOutcome:
    cell: DesignCell
    result: dict[str, Any] | None
    error: str | None


def cell_seeds(seed: int, count: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(seed).spawn(count)


def run_design_cell(cell: DesignCell) -> tuple[dict[str, Any] | None, str | None]:
    """(result, None) or (None, what went wrong): runs in a worker, never raises."""
    try:
        result = design_cell(
            cell.n,
            cell.scenario,
            list(cell.models),
            cell.method,
            cell.alpha,
            cell.simulations,
            cell.seed,
        )
    except ValueError as exc:  # a scenario the calibrated model cannot meet: its own words
        return None, str(exc)
    except Exception as exc:  # anything else is still this cell's alone: the others finish
        return None, f"{type(exc).__name__}: {exc}"
    return result, None


def dask_available() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def _missing_dask(option: str) -> AllianceError:
    return AllianceError(
        f"{option} needs Dask, which is not installed. Fix: pip install 'alliance-outcome[dask]', "
        "or run with --workers 1"
    )


@contextmanager
def cell_runner(
    workers: int = 1, scheduler: str | None = None
) -> Iterator[Callable[[Sequence[DesignCell], Callable[[], None]], list[CellOutcome]]]:
    """A function running cells, connected first (a scheduler that cannot be reached is
    reported before any work is done) and shut down at the end."""
    if scheduler is None and workers <= 1:
        yield _run_here
        return
    if not dask_available():
        raise _missing_dask("--scheduler" if scheduler else "--workers")
    client, cluster = _connect(workers, scheduler)
    try:
        yield lambda cells, step: _run_on_dask(client, cells, step)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_cells(
    cells: Sequence[DesignCell],
    workers: int = 1,
    scheduler: str | None = None,
    advance: Callable[[], None] | None = None,
) -> list[CellOutcome]:
    """Every cell's outcome, in grid order; ``advance`` is called as each cell finishes."""
    with cell_runner(workers, scheduler) as run:
        return run(cells, advance or (lambda: None))


def _run_here(cells: Sequence[DesignCell], step: Callable[[], None]) -> list[CellOutcome]:
    outcomes = []
    for cell in cells:
        result, error = run_design_cell(cell)
        outcomes.append(CellOutcome(cell, result, error))
        step()
    return outcomes


def _connect(workers: int, scheduler: str | None) -> tuple[Any, Any]:
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise AllianceError(
                f"--scheduler {scheduler}: cannot reach a Dask scheduler there within "
                f"{CONNECT_TIMEOUT} s ({type(exc).__name__}: {exc}). Fix: start the scheduler "
                "(dask scheduler) and give its address, e.g. tcp://127.0.0.1:8786, or use "
                "--workers N for a local cluster"
            ) from None
        return client, None
    import dask

    # distributed starts its workers with MALLOC_TRIM_THRESHOLD_ set, to hand memory back early.
    # Setting it switches off glibc's adaptive mmap threshold, so each large temporary array of a
    # cell becomes a fresh mapping paid for in page faults: a cell ran in 1.5 s in such a worker
    # against 0.8 s in a plain process. Our workers keep the allocator's defaults.
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    return Client(cluster, set_as_default=False), cluster


def _run_on_dask(
    client: Any, cells: Sequence[DesignCell], step: Callable[[], None]
) -> list[CellOutcome]:
    from distributed import as_completed

    futures = {
        client.submit(run_design_cell, cell, key=f"alliance-power-cell-{i}-{uuid.uuid4().hex}",
                      pure=False): i
        for i, cell in enumerate(cells)
    }  # fmt: skip
    outcomes: list[CellOutcome | None] = [None] * len(cells)
    for future in as_completed(list(futures), loop=client.loop):
        i = futures[future]
        if future.status == "finished":
            result, error = future.result()
        else:  # the worker died or the task could not run
            exc = future.exception()
            result, error = None, f"{type(exc).__name__}: {exc}"
        outcomes[i] = CellOutcome(cells[i], result, error)
        step()
    return [o for o in outcomes if o is not None]
