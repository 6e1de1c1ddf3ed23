"""The pipeline's stages wired together, without printing: the command line calls these.

input → validation → instruments → episodes → models → inference → report. Each function
returns plain data; the CLI decides what to show and where to write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from alliance.episodes.episodes import EpisodeSet, build_episodes
from alliance.episodes.ledger import Ledger, ModelLedger, build_ledger, participants_table
from alliance.input.mapping import apply_mapping, load_mapping
from alliance.input.readers import read_table
from alliance.instruments.registry import load_instruments
from alliance.instruments.reliability import reliability_table
from alliance.instruments.scoring import score_items
from alliance.validation.item_layout import validate_items
from alliance.validation.layout import detect_layout
from alliance.validation.scored_layout import validate_scored

if TYPE_CHECKING:  # the models stage loads only for analyze: validate and score stay light
    from alliance.models.fit import ModelResult
    from alliance.models.plan import AnalysisPlan

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class LoadedData:
    """A validated input file, scored: everything later stages need and nothing more."""

    path: Path
    sha256: str
    synthetic: bool
    layout: str  # "items" or "scored"
    scores: pd.DataFrame  # the scored frame (SPEC §3 scored layout)
    participants: pd.DataFrame  # participant_id, arm, phases, rows
    rows_in: int
    rows_missing_value: int
    rows_duplicate: int = 0  # identical copies of another row, kept once
    warnings: tuple[str, ...] = ()  # things the user should know that are not errors
    items: pd.DataFrame | None = None  # the item frame, for item-layout input
    status: pd.DataFrame | None = None  # scoring status per score, for item-layout input
    reliability: pd.DataFrame | None = None  # alpha and omega per scale and timepoint


def load_data(path: Path, mapping: Path | None = None) -> LoadedData:
    """Read, map, validate and (for item-level data) score one input file.

    Raises ``DataError`` listing every problem when the file is not valid.
    """
    raw = read_table(Path(path))
    if mapping is not None:
        raw = apply_mapping(raw, load_mapping(Path(mapping)))
    layout = detect_layout(raw)
    if layout == "items":
        instruments = load_instruments()
        items = validate_items(raw, instruments)
        sha256, synthetic, rows_in, read_warnings = (
            raw.sha256, raw.synthetic, len(raw.frame), raw.warnings
        )  # fmt: skip
        # The file as read is not needed past validation: freeing it before scoring takes a
        # large trial's peak memory down by a fifth.
        del raw
        scored = score_items(items, instruments)
        return LoadedData(
            path=Path(path),
            sha256=sha256,
            synthetic=synthetic,
            layout=layout,
            scores=scored.scores,
            participants=participants_table(items),
            rows_in=rows_in,
            rows_missing_value=int(items["value"].isna().sum()),
            rows_duplicate=int(items.attrs.get("collapsed_duplicates", 0)),
            warnings=(*read_warnings, *items.attrs.get("warnings", ())),
            items=items,
            status=scored.status,
            reliability=reliability_table(items, instruments),
        )
    scores = validate_scored(raw)
    return LoadedData(
        path=Path(path),
        sha256=raw.sha256,
        synthetic=raw.synthetic,
        layout=layout,
        scores=scores,
        participants=participants_table(scores),
        rows_in=len(raw.frame),
        rows_missing_value=0,
        warnings=raw.warnings,
    )


def ledger_for(loaded: LoadedData, episodes: EpisodeSet) -> Ledger:
    return build_ledger(
        loaded.participants,
        episodes,
        loaded.rows_in,
        loaded.rows_missing_value,
        loaded.rows_duplicate,
    )


def known_scores() -> set[str]:
    return {name for inst in load_instruments().values() for name in inst.score_names}


def _missing_reasons(loaded: LoadedData, episodes: EpisodeSet) -> dict[tuple[str, str], str]:
    """Why a score is missing, where scoring knows better than "missing" (too few items)."""
    if loaded.status is None or episodes.frame.empty:
        return {}
    status = loaded.status.loc[loaded.status["status"] == "too_few_items"]
    phase_of = dict(
        zip(episodes.frame["participant_id"], episodes.frame["episode_phase"], strict=True)
    )
    reasons = {}
    for row in status.itertuples(index=False):
        if phase_of.get(row.participant_id) != row.phase:
            continue
        column = f"{row.score}__{row.timepoint}"
        reasons[(str(row.participant_id), column)] = (
            f"too few items answered for {row.score} at {row.timepoint} "
            f"({row.n_present} of {row.n_items})"
        )
    return reasons


@dataclass(frozen=True)
class Analysis:
    loaded: LoadedData
    plan: AnalysisPlan
    seed: int
    episodes: EpisodeSet
    ledger: Ledger
    models: list[ModelResult]


def analyze(
    loaded: LoadedData, plan: AnalysisPlan, seed: int = 0, progress: Progress = _quiet
) -> Analysis:
    """Episodes, ledger and every model of the plan for one loaded file."""
    from alliance.models.fit import fit_plan
    from alliance.models.plan import check_plan_against_data

    check_plan_against_data(plan, set(loaded.scores.columns), known_scores())
    progress("episodes")
    episodes = build_episodes(loaded.scores, plan.episode_rule)
    ledger = ledger_for(loaded, episodes)
    progress("models")
    models = fit_plan(episodes.frame, plan, _missing_reasons(loaded, episodes), seed)
    ledger = ledger.with_models(
        [ModelLedger(m.spec.key, m.data.participant_ids, m.data.excluded) for m in models]
    )
    ledger.check()
    return Analysis(loaded, plan, seed, episodes, ledger, models)
