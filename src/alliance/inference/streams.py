"""Seeded random streams in chunks of fixed size, shared by every resampling engine.

Chunk ``c`` of a draw keyed ``seed`` comes from ``default_rng([*seed, c])``; the chunk size is
fixed, so a seed gives the same draws whatever batch size or thread count consumes them.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

CHUNK = 1024  # draws per random stream; fixed so results never depend on batching

Seed = int | tuple[int, ...]


def seeded_chunks(count: int, seed: Seed) -> Iterator[tuple[int, np.random.Generator]]:
    """(size, generator) for each chunk of ``count`` draws; sizes are CHUNK but the last."""
    key = (seed,) if isinstance(seed, int) else tuple(seed)
    for c, start in enumerate(range(0, count, CHUNK)):
        yield min(CHUNK, count - start), np.random.default_rng([*key, c])
