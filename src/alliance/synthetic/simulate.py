"""``alliance simulate``: a calibrated synthetic stand-in for the restricted trial data.

The steps are the trial's own: allocate and cross over (design), draw each phase's totals from
the calibrated model (totals), turn them into item responses (items), lose some assessments and
answers (missingness), and score the items with the package's scorer, so a synthetic trial goes
through exactly the path real data take. The same calibration, options and seed always give the
same trial.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import ValidationError

from alliance.config import validation_messages
from alliance.errors import PlanError
from alliance.instruments.registry import Instrument, load_instruments
from alliance.instruments.scoring import score_items
from alliance.synthetic.items import ITEM_RANK, blank_items, item_rows
from alliance.synthetic.model import Counts, TrialModel, build_model, design_counts
from alliance.synthetic.sessions import draw_sessions, sessions_rng
from alliance.synthetic.settings import Calibration, Design, SessionsCalibration
from alliance.synthetic.totals import draw_totals

PHASE_ORDER = {"randomized": 0, "open_label": 1}


@dataclass(frozen=True)
class SimulationOptions:
    """Command-line changes to the calibration file's design and effects."""

    n: int | None = None
    arms: tuple[float, float] | None = None
    crossover: float | None = None
    missing_items: float | None = None
    missing_visits: float | None = None
    partial_r: dict[str, dict[str, float]] = field(default_factory=dict)
    sessions: bool = False  # also session-by-session alliance and symptoms ([sessions])

    def design(self, base: Design) -> Design:
        changes = {
            key: value
            for key in ("n", "arms", "crossover", "missing_items", "missing_visits")
            if (value := getattr(self, key)) is not None
        }
        return Design.model_validate({**base.model_dump(), **changes})

    def calibration(self, base: Calibration) -> Calibration:
        """The calibration with these effects; the design stays the published one."""
        effects = {o: dict(v) for o, v in base.partial_r.items()}
        for outcome, values in self.partial_r.items():
            effects.setdefault(outcome, {}).update(values)
        return Calibration.model_validate({**base.model_dump(), "partial_r": effects})


@dataclass(frozen=True)
class SyntheticTrial:
    items: pd.DataFrame  # the item layout (docs/data-layouts.md), as a user's file would hold it
    scores: pd.DataFrame  # the items scored by alliance's own scorer (scored layout)
    totals: pd.DataFrame  # the totals drawn, before any assessment or item was lost
    counts: Counts
    design: Design


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(validation_messages(exc, "value"))
    return str(exc)


def _assessments(totals: pd.DataFrame, model: TrialModel) -> pd.DataFrame:
    """One row per (participant, phase, score, timepoint) with its drawn total."""
    columns = [c for c in totals.columns if "__" in c]
    long = totals.melt(
        id_vars=["participant_id", "phase", "arm"], value_vars=columns, value_name="total"
    )
    long[["score", "timepoint"]] = long["variable"].str.split("__", expand=True)
    return long.drop(columns="variable")


def _lose_visits(
    assessments: pd.DataFrame, share: float, model: TrialModel, rng: np.random.Generator
) -> pd.DataFrame:
    """Drop a share of assessments; never the enrolment assessment (first outcome, baseline)."""
    enrolment = (
        (assessments["phase"] == "randomized")
        & (assessments["score"] == model.outcomes[0].name)
        & (assessments["timepoint"] == "baseline")
    )
    lost = (rng.random(len(assessments)) < share) & ~enrolment.to_numpy()
    return assessments.loc[~lost]


def _instrument_of(model: TrialModel) -> dict[str, str]:
    out = {o.name: o.calibration.instrument for o in model.outcomes}
    alliance = model.calibration.alliance.instrument
    out[load_instruments()[alliance].scores[0].name] = alliance
    return out


def _check_instruments(model: TrialModel, instruments: dict[str, Instrument]) -> None:
    for name, code in _instrument_of(model).items():
        if code not in instruments:
            raise ValueError(f"instrument {code!r} (for {name}) is not a bundled instrument")
        total = instruments[code].scores[0].name
        if total != name:
            raise ValueError(f"outcomes.{name}: instrument {code} scores '{total}', not '{name}'")


def _items(
    assessments: pd.DataFrame, model: TrialModel, instruments: dict[str, Instrument],
    rng: np.random.Generator,
) -> pd.DataFrame:  # fmt: skip
    parts = []
    for score, code in _instrument_of(model).items():
        chosen = assessments[assessments["score"] == score].reset_index(drop=True)
        if len(chosen):
            parts.append(item_rows(chosen, "total", instruments[code], rng))
    return pd.concat(parts, ignore_index=True)


def _carry_open_label_baselines(items: pd.DataFrame, model: TrialModel) -> pd.DataFrame:
    """A crossover's open-label baseline is the placebo phase's post visit: the same answers."""
    crossovers = items.loc[items["phase"] == "open_label", "participant_id"].unique()
    outcome_codes = [o.calibration.instrument for o in model.outcomes]
    carried = items[
        (items["phase"] == "randomized")
        & items["participant_id"].isin(crossovers)
        & (items["timepoint"] == "post")
        & items["instrument"].isin(outcome_codes)
    ].copy()
    carried["phase"] = "open_label"
    carried["timepoint"] = "baseline"
    return pd.concat([items, carried], ignore_index=True)


def _session_items(
    totals: pd.DataFrame, model: TrialModel, design: Design, instruments: dict[str, Instrument],
    seed: int,
) -> pd.DataFrame:  # fmt: skip
    """Item rows of every phase's sessions, with visits missed and answers left blank as the
    article's assessments are, all drawn from the sessions' own random stream."""
    cal = model.calibration.sessions
    assert cal is not None
    rng = sessions_rng(seed)
    anchor = model.calibration.outcomes[cal.anchor].instrument
    assessments = draw_sessions(rng, cal, totals, instruments, anchor)
    assessments = assessments.loc[rng.random(len(assessments)) >= design.missing_visits]
    parts = []
    for code in (cal.alliance_instrument, cal.outcome_instrument):
        score = instruments[code].scores[0].name
        chosen = assessments[assessments["score"] == score].reset_index(drop=True)
        if len(chosen):
            parts.append(item_rows(chosen, "total", instruments[code], rng))
    return blank_items(pd.concat(parts, ignore_index=True), design.missing_items, instruments, rng)


def _session_codes(model: TrialModel, sessions: bool) -> tuple[list[str], list[str]]:
    """Timepoints and instruments the session data add (none without them)."""
    cal = model.calibration.sessions
    if not sessions or cal is None:
        return [], []
    return list(cal.timepoints()), [cal.alliance_instrument, cal.outcome_instrument]


def _ordered(items: pd.DataFrame, model: TrialModel, sessions: bool = False) -> pd.DataFrame:
    """Rows as a trial database exports them: participant, phase, visit, instrument, item.

    Session visits follow the article's (whose order is the same with and without them)."""
    session_timepoints, session_codes = _session_codes(model, sessions)
    timepoints = ["baseline", *model.timepoints, "post", *session_timepoints]
    codes = list(dict.fromkeys([*_instrument_of(model).values(), *session_codes]))
    keys = [
        items[ITEM_RANK].to_numpy(),
        pd.Categorical(items["instrument"], categories=codes).codes,
        pd.Categorical(items["timepoint"], categories=timepoints).codes,
        pd.Categorical(items["phase"], categories=list(PHASE_ORDER)).codes,
        pd.Categorical(items["participant_id"]).codes,
    ]
    order = np.lexsort(keys)  # the last key sorts first
    return items.iloc[order].drop(columns=ITEM_RANK).reset_index(drop=True)


def _calibrated(
    calibration: Calibration, options: SimulationOptions, instruments: dict[str, Instrument]
) -> tuple[TrialModel, Design, Counts]:
    model = build_model(options.calibration(calibration))
    design = options.design(calibration.design)
    counts = design_counts(design)
    if counts.mdma_episodes == 0:
        raise ValueError(
            "the design has no MDMA episode: raise the MDMA arm or the crossover share"
        )
    _check_instruments(model, instruments)
    if options.sessions:
        _check_sessions(calibration.sessions, instruments)
    return model, design, counts


def _check_sessions(cal: SessionsCalibration | None, instruments: dict[str, Instrument]) -> None:
    if cal is None:
        raise ValueError(
            "the calibration has no [sessions] section, which --sessions needs (see the "
            "bundled calibration.toml)"
        )
    for key in ("alliance_instrument", "outcome_instrument"):
        code = getattr(cal, key)
        if code not in instruments:
            raise ValueError(f"sessions.{key}: {code!r} is not a bundled instrument")


def simulate(
    calibration: Calibration,
    seed: int = 0,
    options: SimulationOptions | None = None,
    source: str = "calibration.toml",
) -> SyntheticTrial:
    """A synthetic trial from a calibration, options and seed (same inputs, same trial).

    A target that cannot be met (an SD out of reach, correlations that cannot hold together)
    is reported as a problem of the calibration ``source``, naming the entry.
    """
    instruments = load_instruments()
    opts = options or SimulationOptions()
    try:
        model, design, counts = _calibrated(calibration, opts, instruments)
    except (ValueError, ValidationError) as exc:
        raise PlanError(
            source,
            [f"{_message(exc)}. Fix: correct that entry of {source}, or the option that sets it"],
        ) from None
    rng = np.random.default_rng(seed)
    totals = draw_totals(rng, model, counts, instruments)
    assessments = _assessments(totals, model)
    carried_later = (assessments["phase"] == "open_label") & (
        assessments["timepoint"] == "baseline"
    )
    assessments = _lose_visits(assessments.loc[~carried_later], design.missing_visits, model, rng)
    items = _items(assessments, model, instruments, rng)
    items = blank_items(items, design.missing_items, instruments, rng)
    items = _carry_open_label_baselines(items, model)
    if opts.sessions:
        session_items = _session_items(totals, model, design, instruments, seed)
        items = pd.concat([items, session_items], ignore_index=True)
    items = _ordered(items, model, opts.sessions)
    scores = score_items(items, instruments).scores
    scores = scores.iloc[
        np.lexsort(
            [scores["phase"].map(PHASE_ORDER).to_numpy(), scores["participant_id"].to_numpy()]
        )
    ].reset_index(drop=True)
    return SyntheticTrial(items=items, scores=scores, totals=totals, counts=counts, design=design)
