"""Multiplicity-adjusted p-values, identical to R's ``p.adjust``.

R's algorithm is used as it stands (R Core Team, ``src/library/stats/R/p.adjust.R``) rather
than statsmodels' ``multipletests``, which does not treat missing p-values as R does: here a NaN
stays NaN and does not count among the n tests, and n ≤ 1 leaves p unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

METHODS: tuple[str, ...] = ("holm", "bonferroni", "hochberg", "bh", "by", "none")


def _step_down(p: np.ndarray, n: int, method: str) -> np.ndarray:
    """Adjust p-values without missing values; n is the number of tests."""
    m = len(p)
    if method == "none":
        return p.copy()
    if method == "bonferroni":
        return np.minimum(1.0, n * p)
    if method == "holm":
        # Smallest p first, multipliers n, n-1, ...; running maximum keeps the order of p.
        order = np.argsort(p, kind="stable")
        i = np.arange(1, m + 1)
        adjusted = np.minimum(1.0, np.maximum.accumulate((n + 1 - i) * p[order]))
    else:
        # Step-up methods: largest p first, running minimum.
        order = np.argsort(-p, kind="stable")
        i = np.arange(m, 0, -1)
        if method == "hochberg":
            scaled = (n + 1 - i) * p[order]
        elif method == "bh":
            scaled = (n / i) * p[order]
        else:  # by
            q = math.fsum(1.0 / k for k in range(1, n + 1))
            scaled = (q * n / i) * p[order]
        adjusted = np.minimum(1.0, np.minimum.accumulate(scaled))
    out = np.empty(m)
    out[order] = adjusted
    return out


def adjust_pvalues(p: ArrayLike, method: str) -> np.ndarray:
    """Adjust p-values for multiple testing, as R's ``p.adjust(p, method)``.

    Parameters
    ----------
    p
        p-values in [0, 1]; NaN marks a test that was not done (kept as NaN and not counted).
    method
        ``holm`` (Holm 1979), ``bonferroni``, ``hochberg`` (Hochberg 1988), ``bh``
        (Benjamini & Hochberg 1995), ``by`` (Benjamini & Yekutieli 2001) or ``none``; case is
        ignored, so R's ``BH`` and ``BY`` are accepted.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the order given, capped at 1.

    Raises
    ------
    ValueError
        For an unknown method, a p-value outside [0, 1] (R would silently return nonsense for
        one) or an input that is not one-dimensional.

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian
    Journal of Statistics*, 6, 65–70.
    Hochberg, Y. (1988). A sharper Bonferroni procedure for multiple tests of significance.
    *Biometrika*, 75, 800–803.
    Benjamini, Y., & Hochberg, Y. (1995). Controlling the false discovery rate. *Journal of the
    Royal Statistical Society B*, 57, 289–300.
    Benjamini, Y., & Yekutieli, D. (2001). The control of the false discovery rate in multiple
    testing under dependency. *Annals of Statistics*, 29, 1165–1188.

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03, float("nan")], "holm")
    array([0.03, 0.06, 0.06,  nan])
    """
    name = method.lower()
    if name not in METHODS:
        raise ValueError(f"unknown adjustment method {method!r}; choose one of {list(METHODS)}")
    values = np.asarray(p, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"p must be one-dimensional; found shape {values.shape}")
    present = ~np.isnan(values)
    if np.any((values[present] < 0.0) | (values[present] > 1.0)):
        raise ValueError("p-values must lie in [0, 1]")
    out = values.copy()
    n = int(present.sum())
    if n <= 1:
        return out
    out[present] = _step_down(values[present], n, name)
    return out


def adjust_by_family(p: ArrayLike, families: Sequence[str], method: str) -> np.ndarray:
    """Adjust p-values separately within each family (e.g. one family per outcome).

    Parameters
    ----------
    p
        p-values, as for :func:`adjust_pvalues`.
    families
        One family label per p-value; tests sharing a label are corrected together.
    method
        As for :func:`adjust_pvalues`.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the order given.

    Examples
    --------
    >>> adjust_by_family([0.01, 0.02, 0.04, 0.03], ["caps", "caps", "iesr", "iesr"], "bonferroni")
    array([0.02, 0.04, 0.08, 0.06])
    """
    values = np.asarray(p, dtype=np.float64)
    labels = np.asarray([str(f) for f in families], dtype=object)
    if values.ndim != 1 or labels.shape != values.shape:
        raise ValueError(
            f"p and families must be one-dimensional and of equal length; "
            f"found {values.shape} and {labels.shape}"
        )
    out = np.empty_like(values)
    for family in dict.fromkeys(labels.tolist()):
        at = labels == family
        out[at] = adjust_pvalues(values[at], method)
    return out


def _step_down_rows(p: np.ndarray, method: str) -> np.ndarray:
    """:func:`_step_down` applied to every row of p (no missing values) at once."""
    m = p.shape[1]
    n = m
    if method == "none":
        return p.copy()
    if method == "bonferroni":
        return np.minimum(1.0, n * p)
    if method == "holm":
        order = np.argsort(p, axis=1, kind="stable")
        i = np.arange(1, m + 1)
        ordered = np.take_along_axis(p, order, axis=1)
        adjusted = np.minimum(1.0, np.maximum.accumulate((n + 1 - i) * ordered, axis=1))
    else:
        order = np.argsort(-p, axis=1, kind="stable")
        i = np.arange(m, 0, -1)
        ordered = np.take_along_axis(p, order, axis=1)
        if method == "hochberg":
            scaled = (n + 1 - i) * ordered
        elif method == "bh":
            scaled = (n / i) * ordered
        else:  # by
            q = math.fsum(1.0 / k for k in range(1, n + 1))
            scaled = (q * n / i) * ordered
        adjusted = np.minimum(1.0, np.minimum.accumulate(scaled, axis=1))
    out = np.empty_like(p)
    np.put_along_axis(out, order, adjusted, axis=1)
    return out


def adjust_rows_by_family(p: ArrayLike, families: Sequence[str], method: str) -> np.ndarray:
    """:func:`adjust_by_family` applied to each row of a (sets × tests) array, vectorised.

    Row r of the result equals ``adjust_by_family(p[r], families, method)`` to the last bit:
    the same sorts and running extremes, done for all rows with one missing-value pattern at
    once (leave-one-out influence corrects thousands of such sets).
    """
    name = method.lower()
    if name not in METHODS:
        raise ValueError(f"unknown adjustment method {method!r}; choose one of {list(METHODS)}")
    values = np.asarray(p, dtype=np.float64)
    labels = [str(f) for f in families]
    if values.ndim != 2 or values.shape[1] != len(labels):
        raise ValueError(
            f"p must be (sets x tests) with one family label per test; found shape "
            f"{values.shape} and {len(labels)} labels"
        )
    present = ~np.isnan(values)
    if np.any((values[present] < 0.0) | (values[present] > 1.0)):
        raise ValueError("p-values must lie in [0, 1]")
    out = values.copy()
    for family in dict.fromkeys(labels):
        columns = np.flatnonzero([label == family for label in labels])
        block = values[:, columns]
        patterns, which = np.unique(~np.isnan(block), axis=0, return_inverse=True)
        for k, pattern in enumerate(patterns):
            if pattern.sum() <= 1:
                continue  # one test or none: p unchanged, as adjust_pvalues
            rows = np.flatnonzero(which.ravel() == k)
            cols = columns[pattern]
            out[np.ix_(rows, cols)] = _step_down_rows(values[np.ix_(rows, cols)], name)
    return out
