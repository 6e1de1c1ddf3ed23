"""The ledger: every input row and every participant accounted for (docs/data-layouts.md).

A participant is either in an MDMA episode or excluded with a reason; an episode is in each
model or excluded from it with a reason. Row counts add up: every row read is answered, blank
(a missing item of its score, never a dropped row) or an identical copy of another row, kept
once and counted here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alliance.episodes.episodes import EpisodeSet
from alliance.instruments.scoring import key_codes


@dataclass(frozen=True)
class ModelLedger:
    key: str
    included: tuple[str, ...]
    excluded: dict[str, str]


@dataclass(frozen=True)
class Ledger:
    rows_in: int
    rows_scored: int
    rows_missing_value: int
    participants: pd.DataFrame  # participant_id, arm, phases, rows, episode_phase, reason
    models: tuple[ModelLedger, ...] = ()
    rows_duplicate: int = 0

    @property
    def participants_in(self) -> int:
        return len(self.participants)

    @property
    def episodes(self) -> int:
        return int(self.participants["episode_phase"].notna().sum())

    def excluded(self) -> list[dict[str, str]]:
        out = self.participants.loc[self.participants["episode_phase"].isna()]
        return [
            {"participant_id": str(r.participant_id), "reason": str(r.reason)}
            for r in out.itertuples(index=False)
        ]

    def with_models(self, models: list[ModelLedger]) -> Ledger:
        return Ledger(
            self.rows_in,
            self.rows_scored,
            self.rows_missing_value,
            self.participants,
            tuple(models),
        )

    def check(self) -> None:
        """The counts must add up; a failure here is a bug, never a user error."""
        assert self.rows_scored + self.rows_missing_value + self.rows_duplicate == self.rows_in
        assert self.episodes + int(self.participants["episode_phase"].isna().sum()) == (
            self.participants_in
        )
        for model in self.models:
            assert len(model.included) + len(model.excluded) == self.episodes, model.key

    def to_dict(self) -> dict[str, Any]:
        return {
            "participants_in": self.participants_in,
            "episodes": self.episodes,
            "excluded": self.excluded(),
            "rows_in": self.rows_in,
            "rows_scored": self.rows_scored,
            "rows_missing_value": self.rows_missing_value,
            "rows_duplicate": self.rows_duplicate,
            "models": [
                {
                    "model": m.key,
                    "n": len(m.included),
                    "excluded": [
                        {"participant_id": pid, "reason": reason}
                        for pid, reason in sorted(m.excluded.items())
                    ],
                }
                for m in self.models
            ],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per participant, one column per model: ``included`` or the reason."""
        frame = self.participants.copy()
        frame["status"] = frame["episode_phase"].map(
            lambda p: "episode" if isinstance(p, str) else "excluded"
        )
        ids = frame["participant_id"].astype(str)
        for model in self.models:
            reasons = pd.Series(model.excluded, dtype=object)
            status = _text_or_blank(ids.map(reasons))
            status[ids.isin(pd.Index(model.included, dtype=object)).to_numpy()] = "included"
            frame[model.key] = status
        return frame


def _text_or_blank(mapped: pd.Series) -> np.ndarray:
    """The mapped texts as a new object array, "" where nothing was mapped."""
    values = mapped.to_numpy(dtype=object, copy=True)
    values[mapped.isna().to_numpy()] = ""
    return values


def build_ledger(
    participants: pd.DataFrame,
    episodes: EpisodeSet,
    rows_in: int,
    rows_missing_value: int,
    rows_duplicate: int = 0,
) -> Ledger:
    """Participants (``participant_id, arm, phases, rows``) joined with their episode or reason."""
    frame = participants.copy()
    episode_phase = pd.Series(
        episodes.frame["episode_phase"].to_numpy(dtype=object),
        index=episodes.frame["participant_id"].to_numpy(dtype=object),
    )
    reasons = pd.Series(
        episodes.excluded["reason"].to_numpy(dtype=object),
        index=episodes.excluded["participant_id"].to_numpy(dtype=object),
    )
    frame["episode_phase"] = frame["participant_id"].map(episode_phase)
    frame["reason"] = _text_or_blank(frame["participant_id"].map(reasons))
    return Ledger(
        rows_in=rows_in,
        rows_scored=rows_in - rows_missing_value - rows_duplicate,
        rows_missing_value=rows_missing_value,
        participants=frame.reset_index(drop=True),
        rows_duplicate=rows_duplicate,
    )


def participants_table(frame: pd.DataFrame) -> pd.DataFrame:
    """``participant_id, arm, phases, rows`` from an item or scored frame.

    Counted on integer codes (bincount per phase), so millions of item rows cost a few passes
    over small integer arrays: no grouping on text.
    """
    participant = key_codes(frame["participant_id"])
    phase = key_codes(frame["phase"])
    valid = participant.codes >= 0
    n = len(participant.labels)
    rows = np.bincount(participant.codes[valid], minlength=n)
    # Which phases each participant has, as a bit mask over the (few) phase labels, so the
    # label list is joined once per distinct combination rather than once per participant.
    masks = np.zeros(n, dtype=np.int64)
    for j in range(len(phase.labels)):
        has = np.bincount(participant.codes[valid & (phase.codes == j)], minlength=n) > 0
        masks |= has.astype(np.int64) << j
    distinct = np.unique(masks)
    names = np.array(
        [
            ",".join(str(label) for j, label in enumerate(phase.labels) if m >> j & 1)
            for m in distinct
        ],
        dtype=object,
    )
    # A participant's arm: the first non-missing one in row order.
    arm = np.full(n, np.nan, dtype=object)
    given = np.flatnonzero(valid & frame["arm"].notna().to_numpy())
    who, first = np.unique(participant.codes[given], return_index=True)
    arm[who] = frame["arm"].iloc[given[first]].to_numpy(dtype=object)
    used = rows > 0
    return pd.DataFrame(
        {
            "participant_id": participant.labels[used],
            "arm": arm[used],
            "phases": names[np.searchsorted(distinct, masks[used])],
            "rows": rows[used],
        }
    )
