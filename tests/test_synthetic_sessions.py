"""``alliance simulate --sessions``: session-level alliance and PCL-5 in every phase.

The session data come from their own random stream, so the article's assessments are the same
with and without them; the lagged within-person effect they were drawn with is what the
``[[longitudinal]]`` model recovers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app
from alliance.errors import PlanError
from alliance.instruments.registry import load_instruments
from alliance.models.longitudinal import fit_longitudinal, longitudinal_data
from alliance.models.mixed_plan import LongitudinalSpec
from alliance.synthetic.model import build_model, design_counts
from alliance.synthetic.sessions import draw_sessions
from alliance.synthetic.settings import (
    Calibration,
    Design,
    SessionsCalibration,
    load_calibration,
)
from alliance.synthetic.simulate import SimulationOptions, simulate
from alliance.synthetic.totals import draw_totals

CAL = load_calibration()
SESSIONS = CAL.sessions
assert SESSIONS is not None
TIMEPOINTS = SESSIONS.timepoints()
runner = CliRunner()


@pytest.fixture(scope="module")
def pair():
    options = dict(n=30)
    plain = simulate(CAL, 3, SimulationOptions(**options))
    with_sessions = simulate(CAL, 3, SimulationOptions(**options, sessions=True))
    return plain, with_sessions


def test_sessions_leave_the_article_assessments_exactly_as_they_were(pair):
    plain, with_sessions = pair
    article = ~with_sessions.items["timepoint"].isin(TIMEPOINTS)
    pd.testing.assert_frame_equal(
        with_sessions.items.loc[article].reset_index(drop=True), plain.items
    )
    pd.testing.assert_frame_equal(with_sessions.totals, plain.totals)
    pd.testing.assert_frame_equal(with_sessions.scores[list(plain.scores.columns)], plain.scores)


def test_every_phase_has_wai_sr_and_pcl5_after_every_session(pair):
    _, trial = pair
    items = trial.items[trial.items["timepoint"].isin(TIMEPOINTS)]
    assert set(items["instrument"]) == {"WAI_SR", "PCL5"}
    phases = trial.scores[["participant_id", "phase", "arm"]]
    # Placebo phases too: the moderation model compares the alliance slope across conditions.
    assert ((phases["phase"] == "randomized") & (phases["arm"] == "placebo")).any()
    for score in ("wai", "pcl5"):
        columns = [f"{score}__{t}" for t in TIMEPOINTS]
        values = trial.scores[columns]
        # Missed visits and blank items take a few; each phase keeps most of its sessions.
        assert (values.notna().sum(axis=1) >= len(TIMEPOINTS) // 2).all()
    low_high = {"wai": (12, 60), "pcl5": (0, 80)}
    for score, (low, high) in low_high.items():
        values = trial.scores[[f"{score}__{t}" for t in TIMEPOINTS]].to_numpy(float)
        values = values[~np.isnan(values)]
        assert values.min() >= low and values.max() <= high


def test_sessions_need_the_calibration_section():
    bare = Calibration.model_validate({**CAL.model_dump(), "sessions": None})
    with pytest.raises(PlanError, match=r"\[sessions\] section"):
        simulate(bare, 0, SimulationOptions(sessions=True))
    assert len(simulate(bare, 0, SimulationOptions(n=6)).scores) > 0


def test_session_timepoints_cannot_reuse_the_article_ones():
    clash = {**CAL.model_dump()}
    clash["sessions"] = {**clash["sessions"], "timepoint": "s{n}"}
    with pytest.raises(ValueError, match="s4, s9 is already a timepoint"):
        Calibration.model_validate(clash)


def _longitudinal_fit(seed: int, n: int, sessions: SessionsCalibration = SESSIONS):
    """The session data of n participants' phases (no missing data), fitted as the plan does."""
    model = build_model(CAL)
    design = Design.model_validate({**CAL.design.model_dump(), "n": n})
    instruments = load_instruments()
    rng = np.random.default_rng(seed)
    totals = draw_totals(rng, model, design_counts(design), instruments)
    long = draw_sessions(rng, sessions, totals, instruments, "CAPS4")
    long["column"] = long["score"] + "__" + long["timepoint"]
    wide = long.pivot_table(
        index=["participant_id", "phase"], columns="column", values="total"
    ).reset_index()
    wide["participant_id"] = wide["participant_id"] + "/" + wide["phase"]  # one course each
    spec = LongitudinalSpec(name="pcl5", outcome="pcl5", predictor="wai", timepoints=TIMEPOINTS)
    return fit_longitudinal(longitudinal_data(wide, spec)).fit.terms().set_index("name")


def test_the_lagged_model_recovers_the_declared_within_person_effect():
    """Monte Carlo band: 4 standard errors of one large draw (about 6,600 phases × 11 lagged
    sessions). Rounding and the PCL-5 floor attenuate the slope by well under one SE here."""
    terms = _longitudinal_fit(seed=5, n=5000)
    within = terms.loc["wai_within"]
    assert abs(within["estimate"] - SESSIONS.within_effect) < 4 * within["std_error"]
    assert within["std_error"] < 0.02  # the band is narrow enough to mean something
    # The between slope is the declared one attenuated by the within-person scatter in each
    # participant's observed mean (reliability about 0.98); the random-intercept model ignores
    # each phase's own course, so its SE understates the spread: a looser, absolute band.
    between = terms.loc["wai_between"]
    assert abs(between["estimate"] - SESSIONS.between_effect) < 0.12


def test_without_a_within_effect_the_lagged_model_finds_none():
    null = SESSIONS.model_copy(update={"within_effect": 0.0})
    within = _longitudinal_fit(seed=6, n=5000, sessions=null).loc["wai_within"]
    assert abs(within["estimate"]) < 4 * within["std_error"]


DEMO_PLAN = Path(__file__).parents[1] / "src" / "alliance" / "plans" / "demo.toml"
BUNDLED = Path(__file__).parents[1] / "src" / "alliance" / "synthetic" / "calibration.toml"


def test_cli_writes_session_columns_that_the_demo_plan_accepts(tmp_path):
    out = tmp_path / "scores.csv"
    args = ["simulate", "--n", "8", "--layout", "scored", "--plan", str(DEMO_PLAN)]
    result = runner.invoke(app, [*args, "--sessions", "--out", str(out)])
    assert result.exit_code == 0, result.output
    columns = set(pd.read_csv(out, nrows=0).columns)
    assert {f"{s}__{t}" for s in ("wai", "pcl5") for t in TIMEPOINTS} <= columns
    # Without --sessions the demo plan's longitudinal section has nothing to fit: said, exit 1.
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "plain.csv")])
    assert result.exit_code == 1
    assert "timepoint 'post_s1' of score 'pcl5' is absent from the data" in result.output


def test_cli_sessions_without_a_sessions_calibration_is_a_clear_error(tmp_path):
    text = BUNDLED.read_text(encoding="utf-8")
    mine = tmp_path / "mine.toml"
    mine.write_text(text[: text.index("[sessions]")], encoding="utf-8")
    out = tmp_path / "t.csv"
    result = runner.invoke(
        app, ["simulate", "--sessions", "--calibration", str(mine), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "no [sessions] section" in result.output
    assert "Traceback" not in result.output and not out.exists()
