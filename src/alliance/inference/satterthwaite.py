"""Satterthwaite degrees of freedom for fixed effects of a linear mixed model, as lmerTest.

For a contrast l'β with variance v(φ) = l'vcov(β; φ)l over the variance parameters φ = (θ, σ),
Satterthwaite's approximation gives df = 2v² / (∇v' A ∇v), where A, the asymptotic covariance of
φ̂, is twice the inverse Hessian of the REML deviance at the optimum. lmerTest (Kuznetsova et al.
2017, ``contest1D`` and ``as_lmerModLT``) inverts the Hessian as a Moore–Penrose inverse over its
eigenvalues above 1e-8, which is what keeps df finite at a singular fit (θ̂ = 0), where the
deviance is flat in θ to first order; the same is done here.

Reference
---------
Kuznetsova, A., Brockhoff, P. B., & Christensen, R. H. B. (2017). lmerTest package: tests in
linear mixed effects models. *Journal of Statistical Software*, 82(13), 1–26.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

# lmerTest's tolerance for an eigenvalue of the deviance Hessian to count as positive.
EIGEN_TOL = 1e-8


def varpar_covariance(hessian: np.ndarray) -> np.ndarray:
    """2 H⁺: the asymptotic covariance of the variance parameters (pseudo-inverse as lmerTest)."""
    values, vectors = np.linalg.eigh(hessian)
    keep = values > EIGEN_TOL
    kept = vectors[:, keep]
    return np.asarray(2.0 * (kept / values[keep]) @ kept.T)


def satterthwaite_df(
    vcov: np.ndarray, hessian: np.ndarray, jacobian: Sequence[np.ndarray]
) -> np.ndarray:
    """Satterthwaite df of each fixed effect (each unit contrast l = eⱼ).

    ``jacobian[k]`` is ∂vcov(β)/∂φₖ, in the order of the Hessian's rows.
    """
    A = varpar_covariance(hessian)
    variance = np.diag(vcov)
    grad = np.stack([np.diag(j) for j in jacobian], axis=1)  # (p, k)
    denominator = np.einsum("pk,kl,pl->p", grad, A, grad)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(2.0 * variance**2 / denominator)


def satterthwaite_table(
    names: Sequence[str],
    estimate: np.ndarray,
    vcov: np.ndarray,
    df: np.ndarray,
    level: float = 0.95,
) -> pd.DataFrame:
    """The t table lmerTest's ``summary`` prints, with its Wald CI (``confint`` at ``level``)."""
    se = np.sqrt(np.diag(vcov))
    t = estimate / se
    p = 2.0 * stats.t.sf(np.abs(t), df)
    half = stats.t.ppf(1.0 - (1.0 - level) / 2.0, df) * se
    return pd.DataFrame(
        {
            "name": list(names),
            "estimate": estimate,
            "std_error": se,
            "df": df,
            "t": t,
            "p": p,
            "ci_low": estimate - half,
            "ci_high": estimate + half,
        }
    )
