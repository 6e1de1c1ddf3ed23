"""The distributions the synthetic trial draws from, and the algebra that calibrates them.

Post severity is baseline × ratio, where the ratio (the share of baseline severity left at post)
has a two-piece distribution: with probability ``response`` it lies in ``[0, cut]`` (a response,
``cut = 1 − response_fall``), otherwise in ``[cut, UPPER]``; within each piece it is a scaled
beta. The response rate is therefore exact by construction, and a long right tail of
non-responders, which these small trials show (10/12 responders with a mean near 25 and SD near
19), is possible where a normal distribution would not allow it.

The ratio is driven through a Gaussian copula: ``ratio = Q(Φ(e))`` with ``e`` standard normal and
jointly normal with the alliance scores. Because the baseline is independent of ``(e, alliance)``,
the population partial correlation of post with alliance given baseline has a closed form (see
:func:`attenuation`), so a target partial r is met by choosing the latent correlation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import integrate, optimize, stats

UPPER = 1.2  # ASSUMPTION: a non-responder may worsen by up to 20 % of baseline


@dataclass(frozen=True)
class Moments:
    """First and second raw moments of a non-negative quantity."""

    mean: float
    second: float

    @property
    def sd(self) -> float:
        return float(np.sqrt(max(self.second - self.mean**2, 0.0)))

    def times(self, other: Moments) -> Moments:
        """Moments of the product of two independent quantities."""
        return Moments(self.mean * other.mean, self.second * other.second)

    @staticmethod
    def mixture(parts: list[tuple[float, Moments]]) -> Moments:
        total = sum(w for w, _ in parts)
        return Moments(
            sum(w * m.mean for w, m in parts) / total,
            sum(w * m.second for w, m in parts) / total,
        )


def truncated_normal(mean: float, sd: float, low: float, high: float) -> stats.rv_continuous:
    return stats.truncnorm((low - mean) / sd, (high - mean) / sd, loc=mean, scale=sd)


def truncated_normal_moments(mean: float, sd: float, low: float, high: float) -> Moments:
    dist = truncated_normal(mean, sd, low, high)
    m, v = (float(x) for x in dist.stats(moments="mv"))
    return Moments(m, v + m**2)


def _beta(mean: float, concentration: float) -> tuple[float, float]:
    return mean * concentration, (1.0 - mean) * concentration


@dataclass(frozen=True)
class RatioDistribution:
    """Share of baseline severity remaining at post: two scaled beta pieces (see module doc)."""

    response: float
    cut: float
    responder_mean: float  # mean ratio among responders, in (0, cut)
    nonresponder_mean: float  # mean ratio among non-responders, in (cut, UPPER)
    concentration: float

    def __post_init__(self) -> None:
        if not 0.0 < self.responder_mean < self.cut:
            raise ValueError(
                f"the responders' mean ratio {self.responder_mean:.3f} must lie in "
                f"(0, {self.cut:.2f})"
            )
        if not self.cut < self.nonresponder_mean < UPPER:
            raise ValueError(
                f"the non-responders' mean ratio {self.nonresponder_mean:.3f} must lie in "
                f"({self.cut:.2f}, {UPPER})"
            )

    @property
    def _pieces(self) -> tuple[tuple[float, float, float, float], ...]:
        """(weight, offset, width, mean of the unit beta) for responders and non-responders."""
        width_n = UPPER - self.cut
        return (
            (self.response, 0.0, self.cut, self.responder_mean / self.cut),
            (1.0 - self.response, self.cut, width_n, (self.nonresponder_mean - self.cut) / width_n),
        )

    def moments(self) -> Moments:
        mean = second = 0.0
        for weight, offset, width, mu in self._pieces:
            a, b = _beta(mu, self.concentration)
            beta_second = mu * (a + 1.0) / (a + b + 1.0)
            mean += weight * (offset + width * mu)
            second += weight * (offset**2 + 2 * offset * width * mu + width**2 * beta_second)
        return Moments(mean, second)

    def quantile(self, u: np.ndarray) -> np.ndarray:
        """Q(u): the ratio at probability u, monotone and continuous at the cut."""
        u = np.asarray(u, dtype="float64")
        (w_r, _, width_r, mu_r), (w_n, off_n, width_n, mu_n) = self._pieces
        responder = u < w_r
        out = np.empty_like(u)
        out[responder] = width_r * stats.beta.ppf(
            u[responder] / w_r, *_beta(mu_r, self.concentration)
        )
        out[~responder] = off_n + width_n * stats.beta.ppf(
            (u[~responder] - w_r) / w_n, *_beta(mu_n, self.concentration)
        )
        return out

    def latent_covariance(self) -> float:
        """E[e · Q(Φ(e))] for standard normal e: how much of e the ratio carries."""
        split = float(stats.norm.ppf(self.response))

        def integrand(e: float) -> float:
            return float(e * self.quantile(np.array([stats.norm.cdf(e)]))[0] * stats.norm.pdf(e))

        total = 0.0
        with warnings.catch_warnings():
            # Boost's beta quantile warns at u within 1e-16 of 1, where the integrand is ~0.
            warnings.simplefilter("ignore", RuntimeWarning)
            for low, high in ((-np.inf, split), (split, np.inf)):
                value, _ = integrate.quad(integrand, low, high, limit=200)
                total += value
        return total


def attenuation(ratio: RatioDistribution, baseline: Moments) -> float:
    """Population partial r of post with alliance given baseline, per unit latent correlation.

    With post = b·r(e), b independent of (e, W) and corr(e, W) = ρ, the residual of post on b is
    b·r − E[r]·b, whose variance is E[b²]·var(r) and whose covariance with W is
    E[b]·ρ·E[e·r(e)] (E[W | e] = ρe). So partial r = ρ · E[e·r(e)]/sd(r) · E[b]/√E[b²].
    """
    return ratio.latent_covariance() / ratio.moments().sd * baseline.mean / np.sqrt(baseline.second)


def solve_ratio(
    response: float,
    cut: float,
    nonresponder_mean: float,
    post: Moments,
    baseline: Moments,
) -> RatioDistribution:
    """The ratio distribution whose post severity has the target mean and SD.

    E[post] = E[b]·E[r] fixes the responders' mean ratio (linear); E[post²] = E[b²]·E[r²] fixes
    the concentration, found by a bracketing root search (E[r²] falls as concentration rises).
    """
    target_mean = post.mean / baseline.mean
    target_second = post.second / baseline.second
    responder_mean = (target_mean - (1.0 - response) * nonresponder_mean) / response

    def excess(log_kappa: float) -> float:
        dist = RatioDistribution(response, cut, responder_mean, nonresponder_mean,
                                 float(np.exp(log_kappa)))  # fmt: skip
        return dist.moments().second - target_second

    low, high = np.log(0.05), np.log(1e4)
    probe = RatioDistribution(response, cut, responder_mean, nonresponder_mean, 1.0)  # validates
    del probe
    if excess(low) < 0 or excess(high) > 0:
        reachable = (
            np.sqrt(max(excess(high) + target_second, 0) * baseline.second - post.mean**2),
            np.sqrt(max(excess(low) + target_second, 0) * baseline.second - post.mean**2),
        )
        raise ValueError(
            f"post SD {post.sd:.1f} cannot be reached with this response rate and mean; "
            f"reachable SDs lie between {reachable[0]:.1f} and {reachable[1]:.1f}"
        )
    log_kappa = optimize.brentq(excess, low, high, xtol=1e-12)
    return RatioDistribution(response, cut, responder_mean, nonresponder_mean,
                             float(np.exp(log_kappa)))  # fmt: skip
