"""Linear mixed models with one random intercept per participant, fitted by REML as lme4 does.

Model: y = Xβ + Zu + e with u ~ N(0, σ²θ²I) one intercept per participant and e ~ N(0, σ²I).
Per participant i with nᵢ rows, the relative covariance is Hᵢ = I + θ²11', whose inverse and
determinant have closed forms: Hᵢ⁻¹ = I − wᵢ11' with wᵢ = θ²/(1 + nᵢθ²), |Hᵢ| = 1 + nᵢθ².
So for any θ the fixed effects are a GLS solve with M(θ) = X'H⁻¹X = X'X − Σ wᵢ sᵢsᵢ' (sᵢ the
column sums of participant i's rows), and the REML criterion profiled over σ is lme4's

    d(θ) = Σ log(1 + nᵢθ²) + log|M(θ)| + (n − p)(1 + log(2π r²(θ) / (n − p))),

r²(θ) = (y − Xβ̂)'H⁻¹(y − Xβ̂) (Bates et al. 2015, eq. 42 with REML's |R_X|² term). θ ≥ 0 is
found on a grid over seven decades (all grid points at once, from the per-participant sums), then
as the root of the criterion's analytic gradient in the best cell: near the optimum the criterion
is flat to rounding, its gradient is not, so θ̂ is found to ~1e-15 rather than ~1e-8. θ = 0 is a
boundary optimum (a singular fit) whenever no interior point does better, as with lme4's bounded
optimiser.

Degrees of freedom, t, p and confidence intervals follow lmerTest's Satterthwaite method
(:mod:`alliance.inference.satterthwaite`), which needs the Hessian of the (unprofiled) REML
deviance over (θ, σ) and the derivatives of vcov(β) = σ²M⁻¹ over (θ, σ); both are computed here
in closed form from the per-participant sums, so a fit costs O(n·p) per criterion evaluation.
With ``df_method="kenward_roger"`` the t tests use Kenward–Roger's adjusted covariance and df
instead (:mod:`alliance.inference.kenward_roger`), whose model-specific pieces are closed forms in
the same sums; at trial sizes this keeps the level of the alliance × condition test that
Satterthwaite's test exceeds (docs/mixed-models.md).

References
----------
Bates, D., Mächler, M., Bolker, B., & Walker, S. (2015). Fitting linear mixed-effects models
using lme4. *Journal of Statistical Software*, 67(1), 1–48.
Kenward, M. G., & Roger, J. H. (1997). Small sample inference for fixed effects from restricted
maximum likelihood. *Biometrics*, 53(3), 983–997.
Kuznetsova, A., Brockhoff, P. B., & Christensen, R. H. B. (2017). lmerTest package: tests in
linear mixed effects models. *Journal of Statistical Software*, 82(13), 1–26.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg
from scipy import optimize

from alliance.errors import AnalysisError
from alliance.inference.kenward_roger import kenward_roger
from alliance.inference.satterthwaite import satterthwaite_df, satterthwaite_table

# lme4's isSingular(): a fit whose relative random-effect SD θ is below this is on the boundary.
SINGULAR_TOL = 1e-4
# The θ grid spans these decades before Brent refines the best cell: θ = σ_u/σ beyond 10⁴ means
# a residual variance a hundred-millionth of the participant variance, which no score data have.
_GRID = np.concatenate(([0.0], np.geomspace(1e-3, 1e4, 57)))
_XATOL = 1e-12
# A column counts as collinear below this fraction of its norm after the earlier columns are
# projected out (R's lm() and lme4's rank check use the same QR tolerance).
_RANK_TOL = 1e-7
# Small-sample inference for the fixed effects: lmerTest's Satterthwaite df on the plug-in
# vcov(β), or Kenward–Roger's adjusted vcov(β) and df (pbkrtest; lmerTest ddf = "Kenward-Roger").
DF_METHODS = ("satterthwaite", "kenward_roger")
# results.json's df_method: the method and the R package whose numbers it reproduces.
DF_METHOD_LABELS = {
    "satterthwaite": "Satterthwaite (lmerTest)",
    "kenward_roger": "Kenward-Roger (pbkrtest)",
}


@dataclass(frozen=True, eq=False)
class MixedFit:
    """One REML fit: fixed effects with small-sample inference and the variance components.

    ``vcov`` and ``df`` are those the t tests use: the plug-in σ²M⁻¹ with Satterthwaite df, or
    Kenward–Roger's adjusted covariance with its df (``df_method``)."""

    model: str
    names: tuple[str, ...]
    estimate: np.ndarray
    vcov: np.ndarray
    df: np.ndarray
    theta: float  # σ_participant / σ_residual
    sigma: float  # residual SD (REML)
    reml_deviance: float
    n_observations: int
    n_groups: int
    df_method: str = "satterthwaite"  # one of DF_METHODS; vcov is Φ_A for "kenward_roger"

    @property
    def participant_variance(self) -> float:
        return (self.theta * self.sigma) ** 2

    @property
    def residual_variance(self) -> float:
        return self.sigma**2

    @property
    def icc(self) -> float:
        """Share of the variance between participants: σ²_u / (σ²_u + σ²)."""
        return self.theta**2 / (1.0 + self.theta**2)

    @property
    def df_method_label(self) -> str:
        return DF_METHOD_LABELS[self.df_method]

    @property
    def singular(self) -> bool:
        return self.theta < SINGULAR_TOL

    def terms(self) -> pd.DataFrame:
        """name, estimate, std_error, df, t, p, ci_low, ci_high: one row per fixed effect."""
        return satterthwaite_table(self.names, self.estimate, self.vcov, self.df)


@dataclass(frozen=True)
class _Sums:
    """Per-participant sufficient statistics, computed once per fit."""

    n: np.ndarray  # rows per participant
    S: np.ndarray  # column sums of X per participant (G × p)
    t: np.ndarray  # sum of y per participant
    XtX: np.ndarray
    Xty: np.ndarray
    codes: np.ndarray  # participant index of each row


def _sums(y: np.ndarray, X: np.ndarray, codes: np.ndarray, groups: int) -> _Sums:
    n = np.bincount(codes, minlength=groups).astype(float)
    S = np.zeros((groups, X.shape[1]))
    np.add.at(S, codes, X)
    t = np.bincount(codes, weights=y, minlength=groups)
    return _Sums(n, S, t, X.T @ X, X.T @ y, codes)


@dataclass(frozen=True)
class _AtTheta:
    """Everything the criterion and its derivatives need at one θ."""

    beta: np.ndarray
    chol: np.ndarray  # Cholesky factor (lower) of M(θ)
    r2: float  # penalised residual sum of squares r²(θ)
    E: np.ndarray  # per-participant residual sums 1'eᵢ
    logdet_h: float
    logdet_m: float


def _solve(y: np.ndarray, X: np.ndarray, s: _Sums, theta: float) -> _AtTheta:
    w = theta**2 / (1.0 + s.n * theta**2)
    M = s.XtX - s.S.T @ (w[:, None] * s.S)
    chol = np.linalg.cholesky(M)
    rhs = s.Xty - s.S.T @ (w * s.t)
    beta = scipy.linalg.cho_solve((chol, True), rhs, check_finite=False)
    resid = y - X @ beta  # residuals formed row by row: no cancellation in r²
    E = np.bincount(s.codes, weights=resid, minlength=len(s.n))
    r2 = float(resid @ resid - np.sum(w * E**2))
    logdet_m = 2.0 * float(np.sum(np.log(np.diag(chol))))
    logdet_h = float(np.sum(np.log1p(s.n * theta**2)))
    return _AtTheta(beta, chol, r2, E, logdet_h, logdet_m)


def _profiled_deviance(at: _AtTheta, dof: int) -> float:
    if not at.r2 > 0:
        return math.inf
    return at.logdet_h + at.logdet_m + dof * (1.0 + math.log(2.0 * math.pi * at.r2 / dof))


def _criterion(y: np.ndarray, X: np.ndarray, s: _Sums, dof: int) -> Callable[[float], float]:
    def deviance(theta: float) -> float:
        try:
            return _profiled_deviance(_solve(y, X, s, theta), dof)
        except np.linalg.LinAlgError:
            return math.inf

    return deviance


def _gradient(y: np.ndarray, X: np.ndarray, s: _Sums, dof: int) -> Callable[[float], float]:
    """∂d/∂θ of the profiled criterion: Σ 2nᵢθ/(1 + nᵢθ²) + tr(M⁻¹M′) + (n − p) r²′/r²."""

    def gradient(theta: float) -> float:
        at = _solve(y, X, s, theta)
        w1 = 2.0 * theta / (1.0 + s.n * theta**2) ** 2
        dM = -(s.S.T @ (w1[:, None] * s.S))
        trace = float(np.trace(scipy.linalg.cho_solve((at.chol, True), dM, check_finite=False)))
        r2_1 = -float(np.sum(w1 * at.E**2))
        return (
            float(np.sum(2.0 * s.n * theta / (1.0 + s.n * theta**2))) + trace + dof * r2_1 / at.r2
        )

    return gradient


def _polish(gradient: Callable[[float], float], theta: float) -> float:
    """The root of the gradient next to Brent's θ: near the optimum the criterion is flat to
    rounding (a change of 1e-7 in θ moves it by ~1e-14), its gradient is not."""
    for width in (1e-6, 1e-4, 1e-2):
        lo, hi = theta * (1.0 - width), theta * (1.0 + width)
        g_lo, g_hi = gradient(lo), gradient(hi)
        if np.isfinite(g_lo) and np.isfinite(g_hi) and g_lo < 0.0 < g_hi:
            return float(optimize.brentq(gradient, lo, hi, xtol=1e-15 * theta, rtol=1e-15))
    return theta


def _grid_deviance(s: _Sums, yty: float, dof: int, grid: np.ndarray) -> np.ndarray:
    """The profiled criterion at every grid θ at once, from the per-participant sums only.

    Σe² is formed as y'y − 2β'X'y + β'X'Xβ here, which loses digits when the fit is close; the
    grid only has to find the basin of the optimum, which is then located on exact residuals.
    """
    w = grid[:, None] ** 2 / (1.0 + s.n[None, :] * grid[:, None] ** 2)  # (K, G)
    M = s.XtX[None] - np.einsum("kg,gi,gj->kij", w, s.S, s.S)
    rhs = s.Xty[None] - np.einsum("kg,gi,g->ki", w, s.S, s.t)
    values = np.full(len(grid), np.inf)
    try:
        chol = np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        return values
    beta = np.linalg.solve(M, rhs[..., None])[..., 0]
    E = s.t[None, :] - beta @ s.S.T  # (K, G)
    ee = yty - 2.0 * np.einsum("ki,i->k", beta, s.Xty) + np.einsum("ki,ij,kj->k", beta, s.XtX, beta)
    r2 = ee - np.sum(w * E**2, axis=1)
    logdet_m = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
    logdet_h = np.sum(np.log1p(s.n[None, :] * grid[:, None] ** 2), axis=1)
    ok = r2 > 0
    values[ok] = logdet_h[ok] + logdet_m[ok] + dof * (1.0 + np.log(2.0 * np.pi * r2[ok] / dof))
    return values


def _optimise_theta(
    deviance: Callable[[float], float],
    gradient: Callable[[float], float],
    grid_values: np.ndarray,
    grid: np.ndarray = _GRID,
) -> float:
    """θ̂ ≥ 0: the best grid cell, then the root of the gradient inside it (or Brent on the
    criterion when the cell holds no sign change, e.g. at the θ = 0 boundary)."""
    values = (
        grid_values if np.isfinite(grid_values).any() else np.array([deviance(g) for g in grid])
    )
    if not np.isfinite(values).any():
        raise np.linalg.LinAlgError("the REML criterion is not finite for any θ")
    k = int(np.nanargmin(values))
    lo = float(grid[max(k - 1, 0)])
    hi = float(grid[min(k + 1, len(grid) - 1)])
    if lo > 0.0:
        g_lo, g_hi = gradient(lo), gradient(hi)
        if np.isfinite(g_lo) and np.isfinite(g_hi) and g_lo < 0.0 < g_hi:
            return float(optimize.brentq(gradient, lo, hi, xtol=1e-15 * lo, rtol=1e-15))
    found = optimize.minimize_scalar(
        deviance, bounds=(lo, hi), method="bounded", options={"xatol": _XATOL * max(1.0, hi)}
    )
    best = float(found.x)
    # Brent never evaluates a bound: keep θ = 0 when the boundary is at least as good.
    if deviance(0.0) <= deviance(best) + 1e-9:
        return 0.0
    return _polish(gradient, best)


def _hessian_and_jacobian(
    s: _Sums, at: _AtTheta, theta: float, sigma: float, dof: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Hessian of the REML deviance −2ℓ(θ, σ) and ∂vcov(β)/∂θ, ∂vcov(β)/∂σ, in closed form.

    The deviance lmerTest differentiates (devfun_vp) is Σ log|Hᵢ| + log|M| + r²(θ)/σ² +
    (n − p) log(2πσ²). With w′ = ∂w/∂θ = 2θ/(1 + nθ²)² and w″ = (2 − 6nθ²)/(1 + nθ²)³:
    ∂r²/∂θ = −Σ w′ᵢEᵢ² (envelope theorem) and ∂²r²/∂θ² = −Σ w″ᵢEᵢ² − 2g'M⁻¹g with
    g = −Σ w′ᵢ sᵢ Eᵢ, since ∂β̂/∂θ = M⁻¹g.
    """
    n = s.n
    q = 1.0 + n * theta**2
    w1 = 2.0 * theta / q**2
    w2 = (2.0 - 6.0 * n * theta**2) / q**3
    Minv = scipy.linalg.cho_solve((at.chol, True), np.eye(len(at.beta)))
    dM = -(s.S.T @ (w1[:, None] * s.S))
    d2M = -(s.S.T @ (w2[:, None] * s.S))
    g = -(s.S.T @ (w1 * at.E))
    r2_1 = -float(np.sum(w1 * at.E**2))
    r2_2 = -float(np.sum(w2 * at.E**2)) - 2.0 * float(g @ Minv @ g)
    logdet_h_2 = float(np.sum((2.0 * n - 2.0 * n**2 * theta**2) / q**2))
    MinvdM = Minv @ dM
    logdet_m_2 = float(np.trace(Minv @ d2M) - np.trace(MinvdM @ MinvdM))
    s2 = sigma**2
    h_tt = logdet_h_2 + logdet_m_2 + r2_2 / s2
    h_ts = -2.0 * r2_1 / sigma**3
    h_ss = 6.0 * at.r2 / sigma**4 - 2.0 * dof / s2
    hessian = np.array([[h_tt, h_ts], [h_ts, h_ss]])
    jac_theta = -s2 * (MinvdM @ Minv)
    jac_sigma = 2.0 * sigma * Minv
    return hessian, [jac_theta, jac_sigma]


def _kenward_roger_pieces(
    s: _Sums, theta: float, sigma: float
) -> tuple[list[np.ndarray], list[list[np.ndarray]], np.ndarray]:
    """pbkrtest's Pᵣ, Qᵣₛ, Kᵣₛ for Σ = σ²_u ZZ' + σ²I (γ = (σ²_u, σ²), G = (ZZ', I)).

    Per participant Hᵢ⁻ᵏ = I − ((1 − cᵢᵏ)/nᵢ)11' with cᵢ = 1/(1 + nᵢθ²), and Hᵢ⁻¹1 = cᵢ1, so
    every product of Σ⁻¹ = H⁻¹/σ² with ZZ' is a weighted sum of sᵢsᵢ' (sᵢ the column sums of
    participant i's rows): P₁ = −Σcᵢ²sᵢsᵢ'/σ⁴, P₂ = −X'H⁻²X/σ⁴, Q₁₁ = Σnᵢcᵢ³sᵢsᵢ'/σ⁶,
    Q₁₂ = Σcᵢ³sᵢsᵢ'/σ⁶, Q₂₂ = X'H⁻³X/σ⁶, K₁₁ = Σnᵢ²cᵢ²/σ⁴, K₁₂ = Σnᵢcᵢ²/σ⁴,
    K₂₂ = Σ(nᵢ − 1 + cᵢ²)/σ⁴.
    """
    n = s.n
    log_c = -np.log1p(n * theta**2)
    c = np.exp(log_c)

    def weighted(weights: np.ndarray) -> np.ndarray:
        return np.asarray(s.S.T @ (weights[:, None] * s.S))

    def xhx(k: int) -> np.ndarray:
        """X'H⁻ᵏX; 1 − cᵏ as −expm1 keeps its digits when θ is small."""
        return s.XtX - weighted(-np.expm1(k * log_c) / n)

    s4, s6 = sigma**4, sigma**6
    P = [-weighted(c**2) / s4, -xhx(2) / s4]
    q12 = weighted(c**3) / s6
    Q = [[weighted(n * c**3) / s6, q12], [q12, xhx(3) / s6]]
    k12 = float(np.sum(n * c**2)) / s4
    K = np.array(
        [[float(np.sum((n * c) ** 2)) / s4, k12], [k12, float(np.sum(n - 1.0 + c**2)) / s4]]
    )
    return P, Q, K


def _check_design(
    model: str, y: np.ndarray, X: np.ndarray, names: Sequence[str], groups: int
) -> None:
    n, p = X.shape
    if groups < 2:
        raise AnalysisError(
            model,
            f"the data hold {groups} participant(s); a random intercept needs at least 2. "
            "Fix: include more participants",
        )
    if n <= groups:
        raise AnalysisError(
            model,
            f"{n} observations for {groups} participants: every participant has a single "
            "observation, so participant and residual variance cannot be told apart. Fix: "
            "include participants with two or more observations",
        )
    if n <= p:
        raise AnalysisError(
            model, f"{n} observations for {p} fixed effects. Fix: include more observations"
        )
    if not (np.isfinite(y).all() and np.isfinite(X).all()):
        raise AnalysisError(model, "the data hold a missing or infinite value after selection")
    _, r, _ = scipy.linalg.qr(X, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    if diag.size and (diag < _RANK_TOL * max(diag[0], 1e-300)).any():
        raise AnalysisError(
            model,
            f"the fixed effects ({', '.join(names)}) are collinear (one is a linear function "
            "of the others) in the rows used. Fix: remove a redundant term or check the data",
        )


def fit_random_intercept(
    y: np.ndarray,
    X: np.ndarray,
    participant: Sequence[object] | np.ndarray,
    names: Sequence[str],
    model: str = "mixed model",
    df_method: str = "satterthwaite",
) -> MixedFit:
    """REML fit of ``y ~ X + (1 | participant)`` with small-sample inference: lmerTest's
    Satterthwaite df (``df_method="satterthwaite"``) or Kenward–Roger's adjusted covariance and
    df as pbkrtest (``"kenward_roger"``).

    Raises :class:`AnalysisError` naming ``model`` when the model cannot be estimated.
    """
    if df_method not in DF_METHODS:
        raise ValueError(f"df_method must be one of {DF_METHODS}, not {df_method!r}")
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    _, codes = np.unique(np.asarray(participant, dtype=object).astype(str), return_inverse=True)
    codes = codes.astype(np.intp)
    groups = int(codes.max()) + 1 if codes.size else 0
    _check_design(model, y, X, names, groups)
    n, p = X.shape
    dof = n - p
    s = _sums(y, X, codes, groups)
    try:
        grid_values = _grid_deviance(s, float(y @ y), dof, _GRID)
        theta = _optimise_theta(_criterion(y, X, s, dof), _gradient(y, X, s, dof), grid_values)
        at = _solve(y, X, s, theta)
    except (np.linalg.LinAlgError, ValueError) as exc:
        raise AnalysisError(model, f"the REML fit failed ({exc})") from None
    if not at.r2 > 1e-12 * float(np.sum((y - y.mean()) ** 2)):
        raise AnalysisError(
            model,
            "the fixed effects reproduce the outcome exactly (residual variance zero). "
            "Fix: check that the outcome is not a copy of a predictor",
        )
    sigma = math.sqrt(at.r2 / dof)
    Minv = scipy.linalg.cho_solve((at.chol, True), np.eye(p))
    vcov = sigma**2 * Minv
    if df_method == "kenward_roger":
        adjusted = kenward_roger(vcov, *_kenward_roger_pieces(s, theta, sigma))
        vcov, df = adjusted.vcov, adjusted.df
    else:
        hessian, jacobian = _hessian_and_jacobian(s, at, theta, sigma, dof)
        df = satterthwaite_df(vcov, hessian, jacobian)
    return MixedFit(
        model=model,
        names=tuple(names),
        estimate=at.beta,
        vcov=vcov,
        df=df,
        theta=theta,
        sigma=sigma,
        reml_deviance=_profiled_deviance(at, dof),
        n_observations=n,
        n_groups=groups,
        df_method=df_method,
    )
