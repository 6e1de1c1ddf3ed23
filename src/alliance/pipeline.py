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

from alliance.episodes.episodes import EpisodeSet, build_episodes, episode_items
from alliance.episodes.ledger import Ledger, ModelLedger, build_ledger, participants_table
from alliance.errors import DataError
from alliance.input.mapping import apply_mapping, blame_mapping, load_mapping
from alliance.input.readers import RawTable, read_table
from alliance.instruments.labels import missing_text
from alliance.instruments.registry import load_instruments
from alliance.instruments.reliability import reliability_table
from alliance.instruments.scoring import score_items
from alliance.threads import blas_threads
from alliance.validation.item_layout import validate_items
from alliance.validation.layout import detect_layout
from alliance.validation.scored_layout import validate_scored

if TYPE_CHECKING:  # the models stage loads only for analyze: validate and score stay light
    from alliance.missing.analysis import MultipleImputation
    from alliance.models.fit import ModelResult
    from alliance.models.mixed_sections import MixedResults
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
    scores: pd.DataFrame  # the scored frame (the scored layout, docs/data-layouts.md)
    participants: pd.DataFrame  # participant_id, arm, phases, rows
    rows_in: int
    rows_missing_value: int
    rows_duplicate: int = 0  # identical copies of another row, kept once
    warnings: tuple[str, ...] = ()  # things the user should know that are not errors
    items: pd.DataFrame | None = None  # the item frame, for item-layout input
    status: pd.DataFrame | None = None  # scoring status per score, for item-layout input


def load_data(path: Path, mapping: Path | None = None, decimal: str = ".") -> LoadedData:
    """Read, map, validate and (for item-level data) score one input file.

    ``decimal`` is the decimal separator of numbers stored as text (``","`` for files from a
    decimal-comma locale). Raises ``DataError`` listing every problem when the file is not valid;
    a problem with a value the mapping produced also names the mapping's entry.
    """
    if mapping is None:
        # No name holds the table as read, so validation can let it go before scoring.
        return _validated(read_table(Path(path)), Path(path), decimal)
    raw = read_table(Path(path))
    column_mapping = load_mapping(Path(mapping))
    if column_mapping.wide is not None:  # a wide export or CDISC file: reshaped first
        from alliance.input.wide import reshape

        table = reshape(raw, column_mapping, decimal)
    else:
        table = apply_mapping(raw, column_mapping)
    try:
        return _validated(table, Path(path), decimal)
    except DataError as exc:
        blamed = blame_mapping(exc, raw, column_mapping)
        if column_mapping.wide is not None:
            from alliance.input.wide import as_read

            blamed = as_read(blamed, column_mapping)
        raise blamed from None


def _validated(raw: RawTable, path: Path, decimal: str) -> LoadedData:
    layout = detect_layout(raw)
    if layout == "items":
        instruments = load_instruments()
        items = validate_items(raw, instruments, decimal)
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
        )
    scores = validate_scored(raw, decimal=decimal)
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


def plan_labels(plan: AnalysisPlan) -> dict[str, str]:
    """Score → the plan's label, for the scores the plan labels."""
    labels = {o.score: o.label for o in plan.outcomes} | {p.score: p.label for p in plan.predictors}
    return {score: label for score, label in labels.items() if label}


def _missing_reasons(
    loaded: LoadedData, episodes: EpisodeSet, names: dict[str, str]
) -> dict[tuple[str, str], str]:
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
            f"{missing_text(column, names)}: too few items answered "
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
    # Alpha and omega of the plan's scores at the plan's timepoints, over the MDMA episodes
    # (item-level input only; a scored file has no items).
    reliability: pd.DataFrame | None = None
    # Pooled models, imputation traces and the sensitivity analysis when the plan asks for
    # multiple imputation (None for complete cases).
    missing: MultipleImputation | None = None
    # The plan's [[longitudinal]] and [[moderation]] models, when it declares any.
    mixed: MixedResults | None = None


def analysed_reliability(
    loaded: LoadedData, plan: AnalysisPlan, episodes: EpisodeSet
) -> pd.DataFrame | None:
    """Internal consistency of what the plan analyses, on the episodes' own item responses."""
    if loaded.items is None:
        return None
    instruments = load_instruments()
    items = episode_items(loaded.items, episodes.frame, instruments)
    return reliability_table(items, instruments, plan_targets(plan))


def plan_targets(plan: AnalysisPlan) -> set[tuple[str, str]]:
    """The (score, timepoint) pairs a plan analyses: outcomes at baseline and post, alliance at
    each of its timepoints."""
    targets = {(o.score, t) for o in plan.outcomes for t in (o.baseline, o.post)}
    return targets | {(p.score, t) for p in plan.predictors for t in p.timepoints}


def analyze(
    loaded: LoadedData,
    plan: AnalysisPlan,
    seed: int = 0,
    progress: Progress = _quiet,
    workers: int = 1,
) -> Analysis:
    """Episodes, ledger and every model of the plan for one loaded file."""
    from alliance.models.fit import fit_plan
    from alliance.models.plan import check_plan_against_data

    check_plan_against_data(plan, set(loaded.scores.columns), known_scores())
    progress("episodes")
    episodes = build_episodes(loaded.scores, plan.episode_rule)
    ledger = ledger_for(loaded, episodes)
    missing = None
    if plan.missing_data == "multiple_imputation":  # first: its checks name imputed variables
        from alliance.missing.analysis import multiple_imputation

        progress("imputation")
        missing = multiple_imputation(episodes.frame, plan, seed, workers)
    progress("models")
    reasons = _missing_reasons(loaded, episodes, plan_labels(plan))
    with blas_threads():
        models = fit_plan(episodes.frame, plan, reasons, seed) if plan.has_article_models else []
    ledger = ledger.with_models(
        [ModelLedger(m.spec.key, m.data.participant_ids, m.data.excluded) for m in models]
    )
    ledger.check()
    progress("reliability")
    reliability = analysed_reliability(loaded, plan, episodes)
    mixed = None
    if plan.longitudinal or plan.moderation:
        from alliance.models.mixed_sections import fit_mixed_sections

        progress("mixed models")
        mixed = fit_mixed_sections(loaded.scores, episodes.frame, plan)
    return Analysis(loaded, plan, seed, episodes, ledger, models, reliability, missing, mixed)
