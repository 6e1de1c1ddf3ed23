"""Tidy tables built from an analysis: the rows behind every CSV, APA table and report section."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alliance.models.fit import ModelResult


def terms_table(models: list[ModelResult]) -> pd.DataFrame:
    """One row per model and term, every statistic the plan asks for (docs/user-guide.md)."""
    rows = []
    for m in models:
        for i, name in enumerate(m.fit.names):
            rows.append(
                {
                    "outcome": m.spec.outcome.score,
                    "predictor": m.spec.predictor.score,
                    "timepoint": m.spec.timepoint,
                    "n": m.fit.n,
                    "term": name,
                    "estimate": m.fit.estimate[i],
                    "std_error": m.fit.std_error[i],
                    "t": m.fit.t[i],
                    "p": m.fit.p[i],
                    "ci_low": m.fit.ci_low[i],
                    "ci_high": m.fit.ci_high[i],
                    "std_beta": m.fit.std_beta[i],
                }
            )
    return pd.DataFrame(rows)


def alliance_table(models: list[ModelResult]) -> pd.DataFrame:
    """One row per model: the alliance term with its effect sizes and corrected p."""
    rows = []
    for m in models:
        j = m.data.term
        row = {
            "outcome": m.spec.outcome.score,
            "predictor": m.spec.predictor.score,
            "timepoint": m.spec.timepoint,
            "n": m.fit.n,
            "b": m.fit.estimate[j],
            "se": m.fit.std_error[j],
            "ci_low": m.fit.ci_low[j],
            "ci_high": m.fit.ci_high[j],
            "beta": m.fit.std_beta[j],
            "t": m.fit.t[j],
            "df": m.fit.df_resid,
            "p": m.fit.p[j],
            "p_adjusted": m.p_adjusted,
            "survives_correction": m.survives_correction,
            "partial_r": m.term_stats["partial_r"],
            "delta_r_squared": m.term_stats["delta_r_squared"],
            "f_squared": m.term_stats["f_squared"],
            "r_squared": m.fit.r_squared,
            "adj_r_squared": m.fit.adj_r_squared,
        }
        row.update({k: v for k, v in m.extras.get("term", {}).items() if np.isscalar(v)})
        rows.append(row)
    return pd.DataFrame(rows)


def descriptives_table(scores: pd.DataFrame, group: str | None = None) -> pd.DataFrame:
    """Mean, SD, n, min and max of every ``<score>__<timepoint>`` column."""
    columns = [c for c in scores.columns if "__" in c]
    groups = [("all", scores)] if group is None else list(scores.groupby(group, sort=True))
    rows = []
    for label, frame in groups:
        for column in columns:
            values = pd.to_numeric(frame[column], errors="coerce").dropna()
            score, timepoint = column.split("__", 1)
            rows.append(
                {
                    "group": label,
                    "score": score,
                    "timepoint": timepoint,
                    "n": len(values),
                    "mean": values.mean() if len(values) else np.nan,
                    "sd": values.std(ddof=1) if len(values) > 1 else np.nan,
                    "min": values.min() if len(values) else np.nan,
                    "max": values.max() if len(values) else np.nan,
                }
            )
    return pd.DataFrame(rows)
