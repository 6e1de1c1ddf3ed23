"""BLAS on one thread for the pipeline's statistics, unless the user chose a number.

The pipeline's linear algebra is many small or memory-bound products (item correlation
matrices, one-factor models, least squares on a few columns), where BLAS threads gain nothing
and, on a shared machine, spinning threads made single calls ten to a hundred times slower.
The command line sets ``OPENBLAS_NUM_THREADS=1`` before numpy loads; a program that imports
alliance as a library has loaded numpy already, so :func:`blas_threads` limits the loaded
BLAS for the duration of a call (threadpoolctl). Parallelism where it pays comes from our own
chunking, never from BLAS.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

# Any of these set by the user is their choice of BLAS threads, and is kept.
USER_SETTINGS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS", "BLIS_NUM_THREADS")


@contextmanager
def blas_threads(limit: int = 1) -> Iterator[None]:
    """BLAS limited to ``limit`` threads inside the block, unless a thread variable is set."""
    if any(os.environ.get(name) for name in USER_SETTINGS):
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=limit, user_api="blas"):
        yield
