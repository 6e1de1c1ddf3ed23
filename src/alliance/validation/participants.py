"""What both layouts share about participants: reading participant_id, phase and arm, and
the check across a participant's rows that the randomised arm is the same on every one."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alliance.errors import Problem
from alliance.input.readers import SOURCE_ROW
from alliance.validation.cells import (
    Codes,
    arm_column,
    participant_column,
    phase_column,
    rows_text,
)
from alliance.validation.problems import ProblemCollector

_INT64_LIMIT = 2**62


def combined_key(codes: Sequence[np.ndarray], sizes: Sequence[int]) -> np.ndarray:
    """One int64 per row identifying its combination of codes (code -1 allowed)."""
    radix = [max(int(s), 0) + 1 for s in sizes]
    if float(np.prod(np.asarray(radix, dtype=float))) >= _INT64_LIMIT:
        columns = {str(i): c for i, c in enumerate(codes)}
        grouped = pd.DataFrame(columns).groupby(list(columns), sort=False)
        return grouped.ngroup().to_numpy(dtype=np.int64)
    key = np.zeros(len(codes[0]), dtype=np.int64)
    for column, base in zip(codes, radix, strict=True):
        key = key * base + (column.astype(np.int64) + 1)
    return key


_PARTICIPANT_READERS = {
    "participant_id": participant_column,
    "phase": phase_column,
    "arm": arm_column,
}


def participant_codes(frame: pd.DataFrame, problems: ProblemCollector) -> dict[str, Codes]:
    """``participant_id``, ``phase`` and ``arm`` (those present) as codes; problems collected."""
    return {c: read(frame, problems) for c, read in _PARTICIPANT_READERS.items() if c in frame}


def check_one_arm(frame: pd.DataFrame, codes: dict[str, Codes], problems: ProblemCollector) -> None:
    """Collect a problem for each participant whose rows give more than one arm (when the
    participant, phase and arm columns could be read)."""
    if set(_PARTICIPANT_READERS) <= codes.keys():
        problems.extend(
            "two arms",
            arm_conflicts(
                frame, codes["participant_id"], codes["phase"], codes["arm"], problems.file
            ),
        )


def arm_conflicts(
    frame: pd.DataFrame, participant: Codes, phase: Codes, arm: Codes, file: str
) -> list[Problem]:
    """A problem for each participant whose rows give more than one arm.

    ``arm`` is the randomised allocation, so it is the same on every row of a participant,
    open-label rows included (a placebo participant who crossed over keeps ``placebo``).
    """
    valid = (participant.codes >= 0) & (arm.codes >= 0)
    # Distinct (participant, arm) pairs by one sort of an integer key (not a frame's hash).
    n_arms = len(arm.labels) + 1
    distinct = np.unique(participant.codes[valid] * n_arms + arm.codes[valid])
    pairs = pd.DataFrame({"participant": distinct // n_arms, "arm": distinct % n_arms})
    arms_per = pairs.groupby("participant")["arm"].size()
    mixed = arms_per.index[arms_per.to_numpy() > 1].to_numpy()
    if len(mixed) == 0:
        return []
    rows = np.flatnonzero(valid & np.isin(participant.codes, mixed))
    sub = pd.DataFrame(
        {
            "participant": participant.codes[rows],
            "arm": arm.codes[rows],
            "phase": phase.codes[rows],
            "source_row": frame[SOURCE_ROW].to_numpy()[rows],
            "position": rows,
        }
    )
    problems = []
    for _, group in sub.groupby("participant", sort=False):
        pid = participant.labels[int(group["participant"].iloc[0])]
        counts = group["arm"].value_counts(sort=True)
        minority = int(counts.index[-1])
        first = group.loc[group["arm"] == minority].iloc[0]
        described = [
            f"'{arm.labels[a]}' ({rows_text(group.loc[group['arm'] == a, 'source_row'].to_numpy())})"
            for a in counts.index
        ]
        what = f"participant '{pid}' has more than one arm: {' and '.join(described)}"
        fix = (
            "arm is the randomised allocation and must be the same on every row of a participant; "
            "correct the rows with the wrong arm"
        )
        labels: dict[str, set[int]] = {}
        for p, a in zip(group["phase"].to_numpy(), group["arm"].to_numpy(), strict=True):
            labels.setdefault(phase.labels[p] if p >= 0 else "", set()).add(int(a))
        if set(labels) == {"randomized", "open_label"} and all(
            len(a) == 1 for a in labels.values()
        ):
            randomized = arm.labels[next(iter(labels["randomized"]))]
            open_label = arm.labels[next(iter(labels["open_label"]))]
            what = (
                f"participant '{pid}' has arm '{randomized}' on randomized rows but "
                f"'{open_label}' on open-label rows"
            )
            fix = (
                "arm is the randomised allocation, so open-label rows keep it (every open-label "
                f"row is MDMA by definition): write '{randomized}' on the open-label rows"
            )
        problems.append(
            Problem(
                file=file,
                row=int(first["source_row"]),
                column="arm",
                value=arm.labels[minority],
                what=what,
                fix=fix,
            )
        )
    return problems
