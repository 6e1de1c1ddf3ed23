"""Session-by-session alliance and symptoms for every phase (``alliance simulate --sessions``).

For participant i in one phase, at sessions j = 1 … K (``[sessions]`` of the calibration):

- alliance A_ij = m_j + a_i + d_ij, where m_j runs linearly from the first to the last session's
  mean, a_i ~ N(0, between SD²) is the participant's level in that phase and d_ij ~ N(0, within
  SD²) the session's deviation from it;
- symptoms Y_ij = c_ij + β_w·d_i,j−1 + β_b·a_i + e_ij (no lagged term at session 1), where the
  course c_ij runs linearly from the anchor outcome's baseline to its post score of the phase,
  each as a share of the scale's range mapped onto the symptom scale, and e_ij ~ N(0, residual
  SD²).

β_w is the within-person effect of a session with better alliance than the participant's usual
on the next session's symptoms, β_b the between-person effect of a participant's level: the two
slopes of the lagged within–between model (docs/mixed-models.md). Alliance is drawn independent
of the phase's course and of the article's WAI, so both slopes are exactly the declared ones;
rounding and the scales' floors and ceilings attenuate them slightly. Every phase has sessions,
placebo phases included, with the same effects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alliance.instruments.registry import Instrument
from alliance.synthetic.settings import SessionsCalibration
from alliance.synthetic.totals import total_range

# The session data's own stream: a child of the trial's seed that the article's draws never use,
# so adding sessions leaves every article-level number as it was.
SESSIONS_STREAM = 1


def sessions_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SESSIONS_STREAM,)))


def _share(values: np.ndarray, inst: Instrument) -> np.ndarray:
    low, high = total_range(inst)
    return (values - low) / (high - low)


def draw_sessions(
    rng: np.random.Generator,
    cal: SessionsCalibration,
    totals: pd.DataFrame,
    instruments: dict[str, Instrument],
    anchor_instrument: str,
) -> pd.DataFrame:
    """One row per (participant, phase, score, session) with its drawn total, as ``totals`` rows.

    ``totals`` holds the trial's phases (one row each) with the anchor's baseline and post totals.
    """
    n, k = len(totals), cal.count
    alliance_inst = instruments[cal.alliance_instrument]
    outcome_inst = instruments[cal.outcome_instrument]
    level = rng.normal(0.0, cal.alliance_between_sd, n)
    deviation = rng.normal(0.0, cal.alliance_within_sd, (n, k))
    noise = rng.normal(0.0, cal.residual_sd, (n, k))

    mean = np.linspace(cal.alliance_first_mean, cal.alliance_last_mean, k)
    alliance = mean[None, :] + level[:, None] + deviation

    anchor = instruments[anchor_instrument]
    start = _share(totals[f"{cal.anchor}__baseline"].to_numpy(float), anchor)
    end = _share(totals[f"{cal.anchor}__post"].to_numpy(float), anchor)
    low, high = total_range(outcome_inst)
    fraction = np.linspace(0.0, 1.0, k)
    course = low + (high - low) * (start[:, None] + (end - start)[:, None] * fraction[None, :])
    lagged = np.zeros((n, k))
    lagged[:, 1:] = deviation[:, :-1]
    symptoms = course + cal.within_effect * lagged + cal.between_effect * level[:, None] + noise

    timepoints = cal.timepoints()
    frames = []
    for inst, values in ((alliance_inst, alliance), (outcome_inst, symptoms)):
        low, high = total_range(inst)
        whole = np.clip(np.rint(values), low, high)
        frames.append(
            pd.DataFrame(
                {
                    "participant_id": np.repeat(totals["participant_id"].to_numpy(), k),
                    "phase": np.repeat(totals["phase"].to_numpy(), k),
                    "arm": np.repeat(totals["arm"].to_numpy(), k),
                    "total": whole.reshape(-1),
                    "score": inst.scores[0].name,
                    "timepoint": np.tile(np.array(timepoints, dtype=object), n),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
