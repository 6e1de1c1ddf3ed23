"""Internal consistency per instrument, scale and timepoint: Cronbach's alpha, McDonald's omega.

Both are computed on complete cases of the scale's items, after reverse-keying (a reversed item
would otherwise lower alpha spuriously). Omega total comes from a one-factor model fitted by
maximum likelihood on the correlation matrix: ω = (Σλ)² / ((Σλ)² + Σψ) with standardised
loadings λ and uniquenesses ψ = 1 − λ² (McDonald, 1999), as R's
``factanal(factors = 1)`` gives them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd

from alliance.instruments.registry import Instrument, load_instruments
from alliance.instruments.scoring import key_codes, response_matrix, unit_matrix
from alliance.threads import blas_threads

MIN_CASES = 3
MIN_OMEGA_ITEMS = 3


def cronbach_alpha(matrix: np.ndarray) -> float:
    """Cronbach's (1951) alpha of an (n cases × k items) matrix without missing values.

    α = k / (k − 1) · (1 − Σ var(item) / var(total)), sample variances (ddof 1), as
    ``psych::alpha``'s ``raw_alpha``.
    """
    x = np.asarray(matrix, dtype="float64")
    k = x.shape[1]
    item_var = x.var(axis=0, ddof=1).sum()
    total_var = x.sum(axis=1).var(ddof=1)
    return float(k / (k - 1) * (1 - item_var / total_var))


def one_factor_loadings(matrix: np.ndarray) -> np.ndarray:
    """Standardised loadings of a one-factor maximum-likelihood factor analysis.

    Minimises the ML discrepancy log|Σ| + tr(S Σ⁻¹) over the uniquenesses, with the loadings
    given by the leading eigenvector of the rescaled correlation matrix — the algorithm of
    R's ``factanal`` (Jöreskog, 1967), including its lower bound of 0.005 on uniquenesses.
    """
    corr = np.corrcoef(np.asarray(matrix, dtype="float64"), rowvar=False)
    p = corr.shape[0]

    def loadings_for(psi: np.ndarray) -> np.ndarray:
        scale = 1 / np.sqrt(psi)
        values, vectors = np.linalg.eigh(corr * np.outer(scale, scale))
        lead = max(values[-1] - 1, 0)
        return np.sqrt(psi) * vectors[:, -1] * np.sqrt(lead)

    def discrepancy(psi: np.ndarray) -> float:
        lam = loadings_for(psi)
        sigma = np.outer(lam, lam) + np.diag(psi)
        _, logdet = np.linalg.slogdet(sigma)
        return float(logdet + np.trace(np.linalg.solve(sigma, corr)) - p)

    def gradient(psi: np.ndarray) -> np.ndarray:
        # factanal's FAgr: diag(ΛΛ' + Ψ − S) / Ψ², exact for the loadings optimal given Ψ.
        # Without it L-BFGS-B differences p + 1 discrepancies per step: most of the time
        # a report spent on reliability.
        lam = loadings_for(psi)
        return np.asarray((lam**2 + psi - np.diag(corr)) / psi**2)

    # Imported here: scipy.optimize alone costs a second of start-up, which validate and
    # score (that never fit a factor model) should not pay.
    from scipy import optimize

    start = (1 - 0.5 / np.diag(np.linalg.inv(corr))).clip(0.005, 1)  # factanal's start
    result = optimize.minimize(
        discrepancy, start, jac=gradient, method="L-BFGS-B", bounds=[(0.005, 1.0)] * p,
        options={"ftol": 1e-14, "gtol": 1e-10, "maxiter": 2000},
    )  # fmt: skip
    lam = loadings_for(result.x)
    return lam if lam.sum() >= 0 else -lam


def mcdonald_omega(matrix: np.ndarray) -> float:
    """McDonald's omega total from a one-factor ML model (see module docstring)."""
    lam = one_factor_loadings(matrix)
    common = lam.sum() ** 2
    return float(common / (common + (1 - lam**2).sum()))


def reliability_table(
    items: pd.DataFrame,
    instruments: Mapping[str, Instrument] | None = None,
    targets: Collection[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Alpha and omega per instrument, timepoint and summed score.

    ``targets``: the (score, timepoint) pairs to report (an analysis reports what its plan
    analyses); None reports every sum score at every timepoint in ``items``. An item-mean score
    is left out: it has the same reliability as its sum.
    """
    instruments = instruments or load_instruments()
    instrument = key_codes(items["instrument"])
    timepoint = key_codes(items["timepoint"])
    # One integer per (instrument, timepoint), in sorted order of both.
    n_time = len(timepoint.labels) + 1
    combination = instrument.codes * n_time + timepoint.codes
    combination[(instrument.codes < 0) | (timepoint.codes < 0)] = -1
    order = np.argsort(combination, kind="stable")
    present, starts = np.unique(combination[order], return_index=True)
    bounds = np.r_[starts, len(order)]
    rows = []
    with blas_threads():
        for g, value in enumerate(present):
            if value < 0:
                continue
            code = str(instrument.labels[value // n_time])
            time = str(timepoint.labels[value % n_time])
            inst = instruments[code]
            scores = [
                s
                for s in inst.scores
                if s.method == "sum" and (targets is None or (s.name, time) in targets)
            ]
            if not scores:
                continue
            group = items.iloc[np.sort(order[bounds[g] : bounds[g + 1]])]
            _, matrix = response_matrix(group, inst)
            units = unit_matrix(matrix, inst)
            index = {c: j for j, c in enumerate(inst.unit_codes)}
            for score in scores:
                block = units[:, [index[u] for u in score.items]]
                rows.append(scale_reliability(block, inst.code, time, score.name, score.label))
    return pd.DataFrame(rows, columns=COLUMNS)


COLUMNS = ["instrument", "timepoint", "scale", "label", "n", "n_items", "alpha", "omega", "note"]


def scale_reliability(
    block: np.ndarray, instrument: str, timepoint: str, scale: str, label: str
) -> dict[str, object]:
    """One row of the table: alpha and omega of one scale's (cases × items) block, or why not."""
    complete = block[~np.isnan(block).any(axis=1)]
    k = block.shape[1]
    row: dict[str, object] = {
        "instrument": instrument,
        "timepoint": timepoint,
        "scale": scale,
        "label": label,
        "n": len(complete),
        "n_items": k,
        "alpha": np.nan,
        "omega": np.nan,
        "note": "",
    }
    variances = complete.var(axis=0, ddof=1) if len(complete) > 1 else np.zeros(1)
    if k < 2:
        row["note"] = "a single item has no internal consistency"
    elif len(complete) < MIN_CASES:
        row["note"] = f"fewer than {MIN_CASES} complete cases"
    elif np.any(variances == 0):
        row["note"] = "an item has no variance"
    else:
        row["alpha"] = cronbach_alpha(complete)
        if k < MIN_OMEGA_ITEMS:
            # A one-factor model of two items is not identified: any loadings with the same
            # product fit, so omega would be an artefact of the optimiser.
            row["note"] = f"omega needs at least {MIN_OMEGA_ITEMS} items"
        elif len(complete) <= k:
            # The item correlation matrix is singular: no factor model can be fitted.
            row["note"] = "omega needs more complete cases than items"
        else:
            row["omega"] = mcdonald_omega(complete)
    return row
