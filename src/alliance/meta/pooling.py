"""Random-effects meta-analysis of correlations on Fisher's z, as R's ``metafor::rma``.

Pure functions of arrays. Each study gives a correlation r from n participants, possibly a
partial correlation from a model with k covariates; its Fisher z = atanh(r) has sampling
variance 1 / (n − 3 − k) (``metafor::escalc("ZCOR")`` is the case k = 0). The pooled estimate
is the inverse-variance weighted mean of z with weights 1 / (vᵢ + τ²), shown back as r = tanh z.

Everything follows ``metafor::rma.uni`` (version 3.8) for an intercept-only model:

- τ² by DerSimonian–Laird (``dl``), Paule–Mandel (``pm``: the generalised Q equal to k − 1,
  found by root bracketing on [0, max(100, 10·mad(z)²)]), or maximum likelihood (``ml``) and
  restricted maximum likelihood (``reml``) by Fisher scoring from the Hedges estimate, with
  step halving at the boundary τ² = 0;
- Wald z tests (``z``) or Knapp–Hartung (``knha``): the variance of the estimate times
  s² = Σwᵢ(yᵢ − μ̂)² / (k − 1), t with k − 1 df, and no truncation of s² at 1 (metafor's
  default; its ``test="adhoc"`` truncates);
- the prediction interval μ̂ ± crit·√(SE² + τ²) with the test's critical value;
- Cochran's Q with the fixed-effect weights 1/vᵢ, I² = 100·τ² / (ṽ + τ²) and H² = τ²/ṽ + 1
  with the "typical" within-study variance ṽ = (k − 1) / (Σwᵢ − Σwᵢ²/Σwᵢ), wᵢ = 1/vᵢ.

Iterative estimators: metafor stops Fisher scoring when τ² changes by less than 1e-5 and
gives up after 100 iterations ("Fisher scoring algorithm did not converge"); the same rule
decides here whether the estimate converged, and then the iteration goes on to a change below
1e-13 so the answer does not depend on where a stopping rule happened to fall. Paule–Mandel's
root is found to 1e-15 (metafor's ``uniroot`` default tolerance is 1.2e-4). Every sum over
studies is a vector operation, so ten thousand studies pool in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

METHODS = ("reml", "dl", "pm", "ml")
TESTS = ("z", "knha")
METHOD_NAMES = {
    "reml": "restricted maximum likelihood (REML)",
    "dl": "DerSimonian–Laird",
    "pm": "Paule–Mandel",
    "ml": "maximum likelihood (ML)",
}
TEST_NAMES = {"z": "Wald z", "knha": "Knapp–Hartung"}

# metafor's rma.uni control defaults: the convergence verdict follows them.
METAFOR_THRESHOLD = 1e-5
METAFOR_MAXITER = 100
METAFOR_LL_TOL = float(np.finfo(float).eps) ** 0.25  # ll0check: log-likelihood at τ² = 0
POLISH_THRESHOLD = 1e-13
POLISH_MAXITER = 10_000


class PoolingError(ValueError):
    """The studies cannot be pooled as asked (the message says why and what to try)."""


def fisher_z(r: np.ndarray | float) -> np.ndarray:
    """Fisher's variance-stabilising transform of a correlation, atanh(r)."""
    return np.arctanh(np.asarray(r, dtype=np.float64))


def inverse_fisher_z(z: np.ndarray | float) -> np.ndarray:
    """Back from Fisher's z to r, tanh(z) (``metafor::transf.ztor``)."""
    return np.tanh(np.asarray(z, dtype=np.float64))


def fisher_z_variance(n: np.ndarray | float, covariates: np.ndarray | float = 0) -> np.ndarray:
    """Sampling variance of Fisher's z of a (partial) correlation: 1 / (n − 3 − covariates)."""
    return 1.0 / (np.asarray(n, dtype=np.float64) - 3.0 - np.asarray(covariates, np.float64))


@dataclass(frozen=True)
class Tau2:
    """An estimate of the between-study variance and how it was reached."""

    value: float
    iterations: int = 0
    note: str = ""  # e.g. metafor's "stuck at a local maximum" reset to 0


@dataclass(frozen=True)
class Pooled:
    """A random-effects meta-analysis, on the Fisher-z scale unless named ``_r``."""

    method: str
    test: str
    level: float
    k: int
    estimate: float
    se: float
    statistic: float  # z (Wald) or t (Knapp–Hartung)
    df: int | None  # t's degrees of freedom with Knapp–Hartung, None with Wald
    p: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    tau2: Tau2
    q: float
    q_df: int
    q_p: float
    i2: float  # percent, as metafor
    h2: float
    weights: np.ndarray  # percent of the total weight, as metafor's weights()

    @property
    def r(self) -> float:
        return float(np.tanh(self.estimate))

    @property
    def r_interval(self) -> tuple[float, float, float, float]:
        """CI and prediction interval back-transformed to r."""
        return tuple(  # type: ignore[return-value]
            float(np.tanh(x)) for x in (self.ci_low, self.ci_high, self.pi_low, self.pi_high)
        )


def _weighted_mean(y: np.ndarray, w: np.ndarray) -> float:
    return float(np.dot(w, y) / w.sum())


def tau2_dl(y: np.ndarray, v: np.ndarray) -> Tau2:
    """DerSimonian–Laird: (Q − (k − 1)) / (Σw − Σw²/Σw), truncated at 0."""
    w = 1.0 / v
    q = float(np.dot(w, (y - _weighted_mean(y, w)) ** 2))
    trace = w.sum() - np.dot(w, w) / w.sum()
    return Tau2(max(0.0, (q - (y.size - 1)) / trace))


def _generalised_q(tau2: float, y: np.ndarray, v: np.ndarray) -> float:
    w = 1.0 / (v + tau2)
    return float(np.dot(w, (y - _weighted_mean(y, w)) ** 2))


def _mad(y: np.ndarray) -> float:
    """R's mad(): the median absolute deviation scaled by 1.4826."""
    return float(1.4826 * np.median(np.abs(y - np.median(y))))


def tau2_pm(y: np.ndarray, v: np.ndarray) -> Tau2:
    """Paule–Mandel: the τ² at which the generalised Q equals its expectation, k − 1."""
    target = y.size - 1
    if _generalised_q(0.0, y, v) < target:
        return Tau2(0.0)
    upper = max(100.0, 10.0 * _mad(y) ** 2)
    if _generalised_q(upper, y, v) > target:
        raise PoolingError(
            f'the Paule–Mandel estimate of τ² lies beyond {upper:g} (metafor: "Value of '
            "'tau2.max' too low\"); the effects are too far apart to pool. Try --method dl"
        )
    root, info = optimize.brentq(
        lambda t: _generalised_q(t, y, v) - target,
        0.0,
        upper,
        xtol=1e-15,
        rtol=4 * np.finfo(float).eps,
        maxiter=1000,
        full_output=True,
    )
    return Tau2(float(root), iterations=int(info.iterations))


def _tau2_he(y: np.ndarray, v: np.ndarray) -> float:
    """Hedges' (unweighted method-of-moments) estimate: metafor's starting value for ML/REML."""
    k = y.size
    rss = float(np.sum((y - y.mean()) ** 2))
    return max(0.0, (rss - v.sum() * (k - 1) / k) / (k - 1))


def _fisher_scoring_step(tau2: float, y: np.ndarray, v: np.ndarray, reml: bool) -> float:
    """One Fisher-scoring adjustment of τ² (metafor's ``adj``), in O(k).

    With W = diag(w), w = 1/(v + τ²), and the intercept-only projection P = W − ww'/Σw:
    P y = w∘(y − μ̂), so y'PPy = Σw²(y − μ̂)²; tr P = Σw − Σw²/Σw; and
    tr PP = Σw² − 2Σw³/Σw + (Σw²/Σw)². No k × k matrix is formed.
    """
    w = 1.0 / (v + tau2)
    total = w.sum()
    residual = y - np.dot(w, y) / total
    ypppy = float(np.dot(w * w, residual * residual))
    w2 = float(np.dot(w, w))
    if reml:
        trace_p = total - w2 / total
        trace_pp = w2 - 2.0 * float(np.dot(w * w, w)) / total + (w2 / total) ** 2
        return (ypppy - trace_p) / trace_pp
    return (ypppy - total) / w2


def _log_likelihood(tau2: float, y: np.ndarray, v: np.ndarray, reml: bool) -> float:
    """metafor's (restricted) log-likelihood of an intercept-only model, up to a constant."""
    w = 1.0 / (v + tau2)
    residual = y - _weighted_mean(y, w)
    ll = -0.5 * float(np.sum(np.log(v + tau2))) - 0.5 * float(np.dot(w, residual**2))
    if reml:
        ll -= 0.5 * float(np.log(w.sum()))
    return ll


def tau2_fisher_scoring(y: np.ndarray, v: np.ndarray, reml: bool) -> Tau2:
    """ML or REML τ² by Fisher scoring, as metafor iterates it (see the module notes)."""
    tau2 = _tau2_he(y, v)
    change = np.inf
    iterations = 0
    metafor_converged = False
    while change > POLISH_THRESHOLD and iterations < POLISH_MAXITER:
        iterations += 1
        adj = _fisher_scoring_step(tau2, y, v, reml)
        if not np.isfinite(adj):
            adj = 0.0
        while tau2 + adj < 0.0:
            adj /= 2.0
        old, tau2 = tau2, tau2 + adj
        change = abs(tau2 - old)
        metafor_converged = metafor_converged or change <= METAFOR_THRESHOLD
        if iterations == METAFOR_MAXITER and not metafor_converged:
            name = "REML" if reml else "ML"
            raise PoolingError(
                f"the {name} estimate of τ² did not converge: Fisher scoring still changed it "
                f"by {change:.3g} after {METAFOR_MAXITER} iterations (metafor stops here with "
                '"Fisher scoring algorithm did not converge"). Try --method dl or --method pm, '
                "which need no iteration of this kind"
            )
    note = ""
    # metafor's ll0check: a stationary point worse than τ² = 0 is a local maximum; use 0.
    if tau2 > METAFOR_THRESHOLD and (
        _log_likelihood(0.0, y, v, reml) - _log_likelihood(tau2, y, v, reml) > METAFOR_LL_TOL
    ):
        tau2 = 0.0
        note = "Fisher scoring stopped at a local maximum; τ² set to 0 (as metafor does)"
    return Tau2(tau2, iterations=iterations, note=note)


def estimate_tau2(y: np.ndarray, v: np.ndarray, method: str) -> Tau2:
    if method == "dl":
        return tau2_dl(y, v)
    if method == "pm":
        return tau2_pm(y, v)
    if method in ("reml", "ml"):
        return tau2_fisher_scoring(y, v, reml=method == "reml")
    raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def pool(
    y: np.ndarray, v: np.ndarray, method: str = "reml", test: str = "z", level: float = 0.95
) -> Pooled:
    """Random-effects pooled estimate of effects ``y`` with sampling variances ``v``.

    Needs at least two studies (one study has nothing to pool: its own z and CI are the
    answer) and positive, finite variances.
    """
    y = np.asarray(y, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; choose one of {', '.join(TESTS)}")
    k = y.size
    if k < 2:
        raise PoolingError("one study has nothing to pool with; give at least two")
    if y.shape != v.shape or not (np.isfinite(y).all() and np.isfinite(v).all() and (v > 0).all()):
        raise ValueError("effects and variances must be finite, of equal length, variances > 0")
    tau2 = estimate_tau2(y, v, method)
    w = 1.0 / (v + tau2.value)
    total = w.sum()
    estimate = float(np.dot(w, y) / total)
    variance = 1.0 / total
    df: int | None = None
    if test == "knha":
        df = k - 1
        rss = float(np.dot(w, (y - estimate) ** 2))
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / df
        variance *= s2w
        crit = float(stats.t.isf((1 - level) / 2, df))
    else:
        crit = float(stats.norm.isf((1 - level) / 2))
    se = float(np.sqrt(variance))
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = float(np.divide(estimate, se))
    if df is not None:
        p = float(2 * stats.t.sf(abs(statistic), df))
    else:
        p = float(2 * stats.norm.sf(abs(statistic)))
    half_pi = crit * float(np.sqrt(variance + tau2.value))
    fixed = 1.0 / v
    q = max(0.0, float(np.dot(fixed, (y - _weighted_mean(y, fixed)) ** 2)))
    typical = (k - 1) / (fixed.sum() - np.dot(fixed, fixed) / fixed.sum())
    return Pooled(
        method=method,
        test=test,
        level=level,
        k=k,
        estimate=estimate,
        se=se,
        statistic=statistic,
        df=df,
        p=p,
        ci_low=estimate - crit * se,
        ci_high=estimate + crit * se,
        pi_low=estimate - half_pi,
        pi_high=estimate + half_pi,
        tau2=tau2,
        q=q,
        q_df=k - 1,
        q_p=float(stats.chi2.sf(q, k - 1)),
        i2=float(100.0 * tau2.value / (typical + tau2.value)),
        h2=float(tau2.value / typical + 1.0),
        weights=100.0 * w / total,
    )
