"""One meta-analysis run: the studies pooled, and the literature beside (or with) them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from alliance.meta.literature import Benchmark, load_literature
from alliance.meta.pooling import Pooled, PoolingError, pool
from alliance.meta.studies import Study


@dataclass(frozen=True)
class Effect:
    """A row of the pooling: a study, or a published effect when the user asks to pool them."""

    name: str
    z: float
    variance: float
    study: Study | None = None
    benchmark: Benchmark | None = None

    @property
    def r(self) -> float:
        return math.tanh(self.z)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        half = stats.norm.isf((1 - level) / 2) * math.sqrt(self.variance)
        return math.tanh(self.z - half), math.tanh(self.z + half)


@dataclass(frozen=True)
class MetaAnalysis:
    effects: tuple[Effect, ...]  # in input order, pooled literature last
    pooled: Pooled
    literature_version: str | None
    literature: tuple[Benchmark, ...]  # drawn beside the result (empty without --literature)
    not_pooled: tuple[tuple[str, str], ...] = ()  # (literature key, why) with --pool-literature
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def studies(self) -> tuple[Study, ...]:
        return tuple(e.study for e in self.effects if e.study is not None)

    @property
    def synthetic(self) -> bool:
        return any(s.synthetic for s in self.studies)

    @property
    def any_flipped(self) -> bool:
        return any(s.flipped for s in self.studies) or any(b.entry.flip for b in self.literature)


def _one_study_message(study: Study) -> str:
    low, high = Effect(study.name, study.z, study.variance).interval()
    return (
        f"only one study ({study.name}: r = {study.r:.3f}, 95% CI [{low:.3f}, {high:.3f}] "
        f"from n = {study.n}); a meta-analysis needs two or more, so nothing was pooled. That "
        "r and its interval are all one study gives; add the other studies or sites"
    )


def run_meta(
    studies: Sequence[Study],
    method: str = "reml",
    test: str = "z",
    literature: bool = False,
    pool_literature: bool = False,
    warnings: Sequence[str] = (),
) -> MetaAnalysis:
    """Pool ``studies`` (and, with ``pool_literature``, the published effects that carry an
    interval); the literature is otherwise only drawn beside the result."""
    if not studies:
        raise PoolingError("no studies were given")
    if len(studies) == 1 and not pool_literature:
        raise PoolingError(_one_study_message(studies[0]))
    effects = [Effect(s.name, s.z, s.variance, study=s) for s in studies]
    version, benchmarks = load_literature() if (literature or pool_literature) else (None, [])
    not_pooled: list[tuple[str, str]] = []
    if pool_literature:
        for b in benchmarks:
            variance = b.variance
            if variance is None:
                not_pooled.append((b.key, "no verified confidence interval or n to weight it"))
            else:
                effects.append(Effect(b.label, math.atanh(b.r), variance, benchmark=b))
        if len(effects) < 2:
            raise PoolingError(_one_study_message(studies[0]))
    y = np.array([e.z for e in effects])
    v = np.array([e.variance for e in effects])
    return MetaAnalysis(
        effects=tuple(effects),
        pooled=pool(y, v, method, test),
        literature_version=version,
        literature=tuple(benchmarks),
        not_pooled=tuple(not_pooled),
        warnings=tuple(warnings),
    )
