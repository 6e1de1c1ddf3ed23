"""Seeded random streams in chunks of fixed size, shared by every resampling engine.

Chunk ``c`` of a draw keyed ``seed`` comes from ``default_rng([*seed, c])``; the chunk size is
fixed, so a seed gives the same draws whatever batch size or thread count consumes them.

Within a chunk, the resampling engines draw and use their resamples block by block
(:func:`block_rows` rows at a time, a function of the number of cases alone): a block's arrays
fit in a core's cache, which makes each pass over them several times faster than over a whole
chunk, and memory stays small at any n. Chunks are independent, so large jobs spread them over
threads (:func:`map_chunks`); their results are combined in chunk order, so the answer never
depends on the number of threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

CHUNK = 1024  # draws per random stream; fixed so results never depend on batching
BLOCK_VALUES = 2**17  # values per block of rows within a chunk: 1 MB of doubles, cache-sized
# Below this many values (resamples × cases) a job runs on one thread: starting threads would
# cost more than they save.
PARALLEL_VALUES = 2**23
THREADS_VARIABLE = "ALLIANCE_THREADS"

Seed = int | tuple[int, ...]
T = TypeVar("T")


def seeded_chunks(count: int, seed: Seed) -> Iterator[tuple[int, np.random.Generator]]:
    """(size, generator) for each chunk of ``count`` draws; sizes are CHUNK but the last."""
    key = (seed,) if isinstance(seed, int) else tuple(seed)
    for c, start in enumerate(range(0, count, CHUNK)):
        yield min(CHUNK, count - start), np.random.default_rng([*key, c])


def block_rows(n: int) -> int:
    """Resamples per block for ``n`` cases (depends on n alone, so draws never change)."""
    return max(1, BLOCK_VALUES // max(n, 1))


def blocks(size: int, n: int) -> Iterator[int]:
    """The row counts of the blocks of one chunk of ``size`` resamples of ``n`` cases."""
    step = block_rows(n)
    for start in range(0, size, step):
        yield min(step, size - start)


def thread_count() -> int:
    """Threads for large resampling jobs: ``ALLIANCE_THREADS`` if set, else the usable CPUs."""
    chosen = os.environ.get(THREADS_VARIABLE, "").strip()
    if chosen.isdigit() and int(chosen) > 0:
        return int(chosen)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def map_chunks(
    work: Callable[[int, np.random.Generator], T], count: int, seed: Seed, n: int
) -> list[T]:
    """``work(size, generator)`` for every chunk of ``count`` draws of ``n`` cases, in order.

    Chunks run on several threads when the job is large (numpy's random generators, its
    element-wise loops and BLAS release the interpreter lock); each chunk owns its generator,
    so the results are those of a serial run.
    """
    chunks = list(seeded_chunks(count, seed))
    threads = min(thread_count(), len(chunks))
    if threads <= 1 or count * n < PARALLEL_VALUES:
        return [work(size, rng) for size, rng in chunks]
    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        return list(pool.map(lambda chunk: work(*chunk), chunks))
    finally:
        # On Ctrl-C or an error, chunks not yet started are dropped, not run to the end.
        pool.shutdown(wait=True, cancel_futures=True)
