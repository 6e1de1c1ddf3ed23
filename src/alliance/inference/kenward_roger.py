"""Kenward–Roger small-sample inference for fixed effects of a linear mixed model, as pbkrtest.

For a model whose covariance is linear in its variance parameters, Σ = Σᵣ γᵣGᵣ, Kenward & Roger
(1997) replace the plug-in covariance Φ = (X'Σ⁻¹X)⁻¹ of β̂ by Φ_A = Φ + 2ΦUΦ, which adds the
variability of the estimated γ that Φ ignores, and refer t = l'β̂ / √(l'Φ_A l) to a t
distribution whose df come from matching the first two moments of the Wald statistic. With

    Pᵣ = −X'Σ⁻¹GᵣΣ⁻¹X,  Qᵣₛ = X'Σ⁻¹GᵣΣ⁻¹GₛΣ⁻¹X,  Kᵣₛ = tr(Σ⁻¹GᵣΣ⁻¹Gₛ),

the REML expected information (times 2) is Iᵣₛ = Kᵣₛ − 2 tr(ΦQᵣₛ) + tr(ΦPᵣΦPₛ), W = 2I⁻¹ the
covariance of γ̂, U = Σᵣₛ Wᵣₛ(Qᵣₛ − PᵣΦPₛ). The second-derivative terms Rᵣₛ vanish because Σ is
linear in γ, and, like pbkrtest, Φ_A omits nothing else. For one contrast (q = 1) the df are
pbkrtest's ``Lb_ddf`` with A₁ = A₂ = Σᵣₛ Wᵣₛ aᵣaₛ, aᵣ = l'ΦPᵣΦl / l'Φl, which reduces to 2/A₂:
Satterthwaite's formula on Φ with the expected rather than the observed information.

The model-specific pieces (P, Q, K) come from the caller; :mod:`alliance.models.mixed` computes
them in closed form for a random intercept.

References
----------
Kenward, M. G., & Roger, J. H. (1997). Small sample inference for fixed effects from restricted
maximum likelihood. *Biometrics*, 53(3), 983–997.
Halekoh, U., & Højsgaard, S. (2014). A Kenward–Roger approximation and parametric bootstrap
methods for tests in linear mixed models — the R package pbkrtest. *Journal of Statistical
Software*, 59(9), 1–30.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# pbkrtest inverts the information with solve() when its smallest |eigenvalue| exceeds this,
# otherwise with MASS::ginv (singular values below √ε of the largest dropped).
_CONDITION_TOL = 1e-10
_GINV_TOL = float(np.sqrt(np.finfo(float).eps))
# pbkrtest's .divZero: 0/0 counts as 1.
_DIV_ZERO_TOL = 1e-14


@dataclass(frozen=True)
class KenwardRoger:
    vcov: np.ndarray  # Φ_A, the adjusted covariance of β̂
    df: np.ndarray  # denominator df of each unit contrast eⱼ'β


def _div_zero(x: float, y: float) -> float:
    if abs(x) < _DIV_ZERO_TOL and abs(y) < _DIV_ZERO_TOL:
        return 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(x) / np.float64(y))


def _ddf_one(a2: float) -> float:
    """pbkrtest's Lb_ddf for q = 1 (A₁ = A₂), step by step and in IEEE arithmetic as R computes
    it (x/0 = ±Inf), so its edge cases (V₀ near 0, V₂ = 0, 0/0) follow it too; algebraically it
    equals 2/A₂, and A₂ = 0 gives infinite df, as in a model without variance parameters."""
    with np.errstate(divide="ignore", invalid="ignore"):
        q, a = np.float64(1.0), np.float64(a2)
        b = (a + 6.0 * a) / (2.0 * q)
        g = ((q + 1.0) * a - (q + 4.0) * a) / ((q + 2.0) * a)
        denom = 3.0 * q + 2.0 * (1.0 - g)
        c1, c2, c3 = g / denom, (q - g) / denom, (q + 2.0 - g) / denom
        v0 = 1.0 + c1 * b
        v1 = 1.0 - c2 * b
        v2 = 1.0 - c3 * b
        v0 = np.float64(0.0) if abs(v0) < 1e-10 else v0
        rho = (1.0 / q) * _div_zero(float(1.0 - a / q), float(v1)) ** 2 * v0 / v2
        df = 4.0 + (q + 2.0) / (q * rho - 1.0)
    if a == 0.0:
        return math.inf
    return float(df)


def kenward_roger(
    phi: np.ndarray,
    P: Sequence[np.ndarray],
    Q: Sequence[Sequence[np.ndarray]],
    K: np.ndarray,
) -> KenwardRoger:
    """Φ_A and the KR df of every fixed effect from Φ and the pieces Pᵣ, Qᵣₛ, Kᵣₛ above."""
    m = len(P)
    info = np.empty((m, m))
    for r in range(m):
        phi_p = phi @ P[r]
        for s in range(r, m):
            info[r, s] = info[s, r] = (
                K[r, s] - 2.0 * np.sum(phi * Q[r][s]) + np.sum(phi_p * (P[s] @ phi))  # tr(ΦPᵣΦPₛ)
            )
    if np.min(np.abs(np.linalg.eigvalsh(info))) > _CONDITION_TOL:
        W = 2.0 * np.linalg.inv(info)
    else:
        W = 2.0 * np.linalg.pinv(info, rcond=_GINV_TOL)
    U = np.zeros_like(phi)
    for r in range(m):
        for s in range(m):
            q_rs = Q[r][s] if r <= s else Q[s][r].T
            U += W[r, s] * (q_rs - P[r] @ phi @ P[s])
    vcov = phi + 2.0 * phi @ U @ phi
    variance = np.diag(phi)
    a = np.stack([np.diag(phi @ p @ phi) for p in P], axis=1) / variance[:, None]  # (p, m)
    a2 = np.einsum("pr,rs,ps->p", a, W, a)
    df = np.array([_ddf_one(float(x)) for x in a2])
    return KenwardRoger(vcov=np.asarray(vcov), df=df)
