"""Mixed models in the outputs: results.json records, APA tables, CSV rows and the report text.

``longitudinal_models[]`` and ``moderation_models[]`` carry, per model, the fixed effects with
Satterthwaite (as ``lmerTest``) or Kenward–Roger (as ``pbkrtest``) df, t, p and 95 % CI, the
variance components, the ICC and the singular flag; ``therapist_effects`` the therapist-level
ICCs when the data name therapists.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

import pandas as pd

from alliance.instruments.labels import score_label
from alliance.models.longitudinal import LongitudinalResult
from alliance.models.mixed import MixedFit
from alliance.models.moderation import ModerationResult
from alliance.report import apa
from alliance.report.apa import ApaTable, Section, fmt_ci, fmt_num, fmt_p, fmt_unit, italic, join

if TYPE_CHECKING:
    from alliance.pipeline import Analysis

LEVEL = 0.95  # lmerTest's summary and confint level
# Below this many participants with two episodes the variance split of a moderation model is
# carried by too few pairs to be trusted (the same bound as for therapists).
MIN_REPEATED = 5


def _terms(fit: MixedFit) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in fit.terms().to_dict(orient="records")]


def _fit_record(fit: MixedFit) -> dict[str, Any]:
    return {
        "terms": _terms(fit),
        "variance_components": {
            "participant": fit.participant_variance,
            "residual": fit.residual_variance,
        },
        "icc": fit.icc,
        "singular": fit.singular,
        "theta": fit.theta,
        "reml_criterion": fit.reml_deviance,
        "df_method": fit.df_method_label,
    }


def longitudinal_record(result: LongitudinalResult) -> dict[str, Any]:
    spec, fit = result.spec, result.fit
    return {
        "name": spec.name,
        "outcome": spec.outcome,
        "predictor": spec.predictor,
        "timepoints": list(spec.timepoints),
        "lag": spec.lag,
        "previous_outcome": spec.previous_outcome,
        "n_participants": fit.n_groups,
        "n_observations": fit.n_observations,
        "n_single_observation": result.data.n_single_observation,
        **_fit_record(fit),
        "excluded": [{"participant_id": k, "reason": v} for k, v in result.data.excluded.items()],
    }


def moderation_record(result: ModerationResult) -> dict[str, Any]:
    spec, fit, data = result.spec, result.fit, result.data
    return {
        "key": data.key,
        "outcome": spec.outcome,
        "predictor": spec.predictor,
        "timepoint": data.timepoint,
        "n_episodes": fit.n_observations,
        "n_participants": fit.n_groups,
        "n_mdma_episodes": int((data.rows["mdma"] == 1).sum()),
        "n_placebo_episodes": int((data.rows["mdma"] == 0).sum()),
        "predictor_centre": data.predictor_mean,
        "n_participants_two_episodes": data.n_repeated,
        "warnings": list(moderation_warnings(result)),
        **_fit_record(fit),
        "excluded": [{"episode": k, "reason": v} for k, v in data.excluded.items()],
    }


def moderation_warnings(result: ModerationResult) -> tuple[str, ...]:
    """Why a moderation fit's variance split deserves caution: only crossover participants
    have two episodes, and they alone separate participant from residual variance."""
    repeated = result.data.n_repeated
    if repeated >= MIN_REPEATED:
        return ()
    return (
        f"{result.data.key}: only {repeated} participant(s) contribute two episodes, so the "
        "participant and residual variances (and the ICC) rest on them alone and are poorly "
        "determined; read the fixed effects with care",
    )


def mixed_records(analysis: Analysis) -> dict[str, Any]:
    """The results.json keys of the mixed models (empty lists when the plan has none)."""
    mixed = analysis.mixed
    if mixed is None:
        return {"longitudinal_models": [], "moderation_models": []}
    document: dict[str, Any] = {
        "longitudinal_models": [longitudinal_record(r) for r in mixed.longitudinal],
        "moderation_models": [moderation_record(r) for r in mixed.moderation],
    }
    if mixed.therapist:
        document["therapist_effects"] = {k: v.to_dict() for k, v in mixed.therapist.items()}
    return document


def mixed_terms_table(analysis: Analysis) -> pd.DataFrame:
    """One row per mixed model and fixed effect (tables/mixed_terms.csv)."""
    mixed = analysis.mixed
    frames = []
    if mixed is not None:
        for lr in mixed.longitudinal:
            frames.append(lr.fit.terms().assign(kind="longitudinal", model=lr.spec.name))
        for mr in mixed.moderation:
            frames.append(mr.fit.terms().assign(kind="moderation", model=mr.data.key))
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    return table[["kind", "model", *[c for c in table.columns if c not in ("kind", "model")]]]


# --------------------------------------------------------------------------- APA tables

_COLUMNS = (
    apa.plain("Term"),
    apa.B,
    apa.SE,
    apa.stat_head("df"),
    apa.T,
    apa.P,
    apa.ci_head(LEVEL),
)


def _term_label(name: str, outcome: str, predictor: str) -> str:
    p, o = score_label(predictor), score_label(outcome)
    labels = {
        "(Intercept)": "Intercept",
        "time": "Time (sessions)",
        f"{predictor}_within": f"{p}, within person (lagged)",
        f"{predictor}_between": f"{p}, between persons",
        f"{outcome}_previous": f"{o}, previous session",
        "baseline": f"{o} at baseline",
        predictor: f"{p} (centred)",
        "mdma": "MDMA (vs placebo)",
        f"{predictor}:mdma": f"{p} × MDMA",
    }
    return labels.get(name, name)


def _rows(fit: MixedFit, outcome: str, predictor: str) -> tuple[tuple[str, ...], ...]:
    terms = fit.terms()
    return tuple(
        (
            _term_label(str(r.name), outcome, predictor),
            fmt_num(r.estimate),
            fmt_num(r.std_error),
            fmt_num(r.df, 1),
            fmt_num(r.t),
            fmt_p(r.p),
            fmt_ci(r.ci_low, r.ci_high),
        )
        for r in terms.itertuples(index=False)
    )


def _fit_label(title: str, fit: MixedFit, units: str) -> apa.Runs:
    singular = "; singular fit (participant variance 0)" if fit.singular else ""
    return join(
        f"{title}; {fit.n_groups} participants, {fit.n_observations} {units}; σ",
        (apa.Run("participant", sub=True),),
        f"² = {fmt_num(fit.participant_variance)}, σ",
        (apa.Run("residual", sub=True),),
        f"² = {fmt_num(fit.residual_variance)}, ICC = {fmt_unit(fit.icc)}{singular}",
    )


_DF_PHRASES = {
    "satterthwaite": "Satterthwaite's approximation (as R lmerTest)",
    "kenward_roger": "Kenward and Roger's method, SE from its adjusted covariance (as R pbkrtest)",
}


def _df_phrase(fits: list[MixedFit]) -> str:
    """How the df of these fits were computed, e.g. "Satterthwaite's approximation (...)"."""
    methods = dict.fromkeys(f.df_method for f in fits)
    return " or ".join(_DF_PHRASES[m] for m in methods) + (
        " (each model's df_method in results.json)" if len(methods) > 1 else ""
    )


def _note(fits: list[MixedFit]) -> apa.Runs:
    return join(
        "Linear mixed models with a random intercept per participant, fitted by REML; ",
        italic("df"),
        f" by {_df_phrase(fits)}. ICC = participant variance / (participant + residual variance).",
    )


def longitudinal_apa_table(results: list[LongitudinalResult]) -> ApaTable:
    sections = tuple(
        Section(
            _fit_label(r.spec.name, r.fit, "observations"),
            _rows(r.fit, r.spec.outcome, r.spec.predictor),
        )
        for r in results
    )
    return ApaTable(
        key="longitudinal",
        title="Session-by-Session Alliance: Lagged Within- and Between-Person Effects",
        columns=_COLUMNS,
        sections=sections,
        note=join(
            _note([r.fit for r in results]),
            " Within: the session's alliance minus the participant's mean alliance, predicting "
            "the outcome at a later session; between: the participant's mean alliance, centred "
            "on the sample mean.",
        ),
    )


def moderation_apa_table(results: list[ModerationResult]) -> ApaTable:
    sections = tuple(
        Section(
            _fit_label(
                f"{score_label(r.spec.outcome)} at {r.spec.post} ~ {score_label(r.spec.predictor)} "
                f"{apa.timepoint_phrase(r.data.timepoint)}",
                r.fit,
                "episodes",
            ),
            _rows(r.fit, r.spec.outcome, r.spec.predictor),
        )
        for r in results
    )
    return ApaTable(
        key="moderation",
        title="Alliance × Condition: Every Episode, Including Placebo and Crossover Phases",
        columns=_COLUMNS,
        sections=sections,
        note=join(
            _note([r.fit for r in results]),
            " Alliance is centred on its mean over the model's episodes, so its row is the "
            "alliance slope under placebo and the interaction the difference under MDMA.",
        ),
    )


def mixed_apa_tables(analysis: Analysis) -> list[ApaTable]:
    mixed = analysis.mixed
    if mixed is None:
        return []
    tables = []
    if mixed.longitudinal:
        tables.append(longitudinal_apa_table(mixed.longitudinal))
    if mixed.moderation:
        tables.append(moderation_apa_table(mixed.moderation))
    return tables


# --------------------------------------------------------------------------- report text


def _sentence_longitudinal(r: LongitudinalResult) -> str:
    terms = r.fit.terms().set_index("name")
    p = r.spec.predictor
    within, between = terms.loc[f"{p}_within"], terms.loc[f"{p}_between"]

    def stat(row: Any) -> str:
        return (
            f"<i>b</i> = {fmt_num(row['estimate'])}, <i>t</i>({fmt_num(row['df'], 1)}) = "
            f"{fmt_num(row['t'])}, <i>p</i> {escape(apa.p_equals(row['p']))}"
        )

    return (
        f"<p>In {escape(r.spec.name)} ({r.fit.n_groups} participants, {r.fit.n_observations} "
        f"sessions), a session with alliance one point above the participant's own mean was "
        f"followed by a change in {escape(score_label(r.spec.outcome))} of "
        f"{fmt_num(within['estimate'])} points (within person: {stat(within)}); participants "
        f"whose mean alliance was one point higher differed by {fmt_num(between['estimate'])} "
        f"(between persons: {stat(between)}). ICC = {fmt_unit(r.fit.icc)}"
        + (" (singular fit: no participant variance)" if r.fit.singular else "")
        + ".</p>"
    )


def _sentence_moderation(r: ModerationResult) -> str:
    terms = r.fit.terms().set_index("name")
    row = terms.loc[f"{r.spec.predictor}:mdma"]
    return (
        f"<p>Alliance {escape(apa.timepoint_phrase(r.data.timepoint))} × condition "
        f"({r.fit.n_observations} episodes of {r.fit.n_groups} participants): "
        f"<i>b</i> = {fmt_num(row['estimate'])}, {LEVEL:.0%} CI "
        f"{fmt_ci(row['ci_low'], row['ci_high'])}, <i>t</i>({fmt_num(row['df'], 1)}) = "
        f"{fmt_num(row['t'])}, <i>p</i> {escape(apa.p_equals(row['p']))}.</p>"
    )


_METHOD_SENTENCES = {
    "satterthwaite": "Satterthwaite degrees of freedom (Kuznetsova et al., 2017, as R lmerTest)",
    "kenward_roger": "Kenward–Roger's adjusted standard errors and degrees of freedom (Kenward & "
    "Roger, 1997, as R pbkrtest)",
}


def _methods(longitudinal: list[MixedFit], moderation: list[MixedFit]) -> str:
    """The methods paragraph; when the two kinds of model use different tests, each is named."""
    kinds = [("lagged models", longitudinal), ("alliance × condition models", moderation)]
    used = {kind: list(dict.fromkeys(f.df_method for f in fits)) for kind, fits in kinds if fits}
    if len({m for methods in used.values() for m in methods}) == 1:
        tests = "with " + _METHOD_SENTENCES[next(iter(used.values()))[0]]
    else:
        tests = "; ".join(
            f"in {kind} with " + " or ".join(_METHOD_SENTENCES[m] for m in methods)
            for kind, methods in used.items()
        )
    return (
        "<p>Linear mixed models with a random intercept per participant were fitted by "
        f"restricted maximum likelihood; fixed effects are tested {tests}. " + METHODS
    )


METHODS = (
    "Lagged within–between models regress the outcome "
    "at each session on the alliance at an earlier session split into its deviation from the "
    "participant's own mean alliance (within person) and that mean's deviation from the sample "
    "mean (between persons), with time in sessions (Falkenström et al., 2017). Alliance × "
    "condition models use every treatment phase with data, the randomised placebo phase "
    "included, so a participant who crossed over contributes a placebo and an MDMA episode. "
    "A fit whose participant variance is estimated at zero is marked singular.</p>"
)


def mixed_section_html(analysis: Analysis, tables_for: Callable[..., str]) -> str:
    """The report section body; empty when the plan has no mixed models."""
    mixed = analysis.mixed
    if not mixed:
        return ""
    parts = [_methods([r.fit for r in mixed.longitudinal], [r.fit for r in mixed.moderation])]
    parts += [_sentence_longitudinal(r) for r in mixed.longitudinal]
    parts += [_sentence_moderation(r) for r in mixed.moderation]
    notes = dict.fromkeys(n for t in mixed.therapist.values() for n in t.notes)
    parts += [
        f'<p class="warning">{escape(w)}.</p>'
        for r in mixed.moderation
        for w in moderation_warnings(r)
    ]
    if mixed.therapist:
        rows = "".join(
            f"<tr><td>{escape(k)}</td><td>{v.n_therapists}</td>"
            f"<td>{'—' if v.outcome_icc is None else fmt_unit(v.outcome_icc)}</td>"
            f"<td>{'—' if v.predictor_icc is None else fmt_unit(v.predictor_icc)}</td></tr>"
            for k, v in mixed.therapist.items()
        )
        parts.append(
            "<h3>Therapist effects</h3><table><thead><tr><th>Model</th><th>Therapists</th>"
            "<th>ICC of the outcome</th><th>ICC of the alliance</th></tr></thead><tbody>"
            + rows
            + "</tbody></table><p>Therapist-level ICCs of the participants' mean values; no "
            "model has a therapist random effect.</p>"
            + "".join(f'<p class="warning">{escape(n)}.</p>' for n in notes)
        )
    return "".join(parts) + tables_for("longitudinal", "moderation")
