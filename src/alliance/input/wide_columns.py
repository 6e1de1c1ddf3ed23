"""Which columns of a wide export hold which items: the ``[[items]]`` patterns matched against
the column names once, every ambiguity or unknown item code a problem naming the column and
the mapping's line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alliance.input.wide_mapping import ItemsEntry, Target
from alliance.input.wide_rows import column_problem, similar_columns
from alliance.instruments.registry import load_instruments
from alliance.validation.instrument_codes import item_label, items_summary
from alliance.validation.problems import ProblemCollector


@dataclass(frozen=True)
class Claim:
    column: str
    entry: ItemsEntry
    item: str
    token: Target | None


def claim_columns(
    columns: Sequence[str],
    entries: Sequence[ItemsEntry],
    reserved: Mapping[str, str],
    file: str,
    mapping: str,
    problems: ProblemCollector,
) -> list[Claim]:
    """Each item column with its entry, item code and timepoint token; problems collected."""
    instruments = load_instruments()
    claims: list[Claim] = []
    matched: dict[int, int] = {e.index: 0 for e in entries}
    seen: dict[tuple[str, str, str], str] = {}
    for column in columns:
        hits = [(e, m) for e in entries if (m := e.regex.fullmatch(column)) is not None]
        if not hits:
            continue
        for entry, _ in hits:
            matched[entry.index] += 1
        if len(hits) > 1:
            problems.add(
                "two patterns",
                column_problem(
                    file,
                    column,
                    f"column '{column}' is matched by two [[items]] patterns: "
                    f"{hits[0][0].where(mapping)} and {hits[1][0].where(mapping)}",
                    "make the patterns specific enough that each column matches one of them",
                ),
            )
            continue
        entry, match = hits[0]
        if column in reserved:
            problems.add(
                "two claims",
                column_problem(
                    file,
                    column,
                    f"column '{column}' is matched by {entry.where(mapping)} and also used as "
                    f"{reserved[column]}",
                    "use the column for one purpose only: narrow the pattern or drop the other "
                    "entry",
                ),
            )
            continue
        inst = instruments[entry.instrument]
        item = item_label(match.group("item"))
        if item not in inst.item_codes:
            problems.add(
                "unknown item",
                column_problem(
                    file,
                    column,
                    f"column '{column}' matches {entry.where(mapping)}, but "
                    f"'{match.group('item')}' is not an item code of {inst.code} (its items are "
                    f"{items_summary(list(inst.item_codes))})",
                    "check that the pattern names the right instrument, or rename the column "
                    "so the pattern does not match it",
                ),
            )
            continue
        token: Target | None = None
        if entry.uses_timepoint:
            text = match.group("timepoint")
            token = entry.tokens.get(text)
            if token is None:
                problems.add(
                    "unknown token",
                    column_problem(
                        file,
                        column,
                        f"column '{column}' matches {entry.where(mapping)}, but its timepoint "
                        f"token '{text}' has no entry in that entry's [items.timepoints]",
                        f'add "{text}" = "<timepoint>" to [items.timepoints] of that entry',
                    ),
                )
                continue
        key = (inst.code, item, token.key if token else "")
        if key in seen:
            problems.add(
                "same item twice",
                column_problem(
                    file,
                    column,
                    f"columns '{seen[key]}' and '{column}' both hold {inst.code} item {item}"
                    f"{f' at {token.timepoint}' if token else ''} ({entry.where(mapping)})",
                    "keep one of the two columns, or narrow the pattern",
                ),
            )
            continue
        seen[key] = column
        claims.append(Claim(column, entry, item, token))
    for entry in entries:
        if matched[entry.index] == 0:
            problems.add(
                "pattern without column",
                column_problem(
                    file,
                    None,
                    f"{entry.where(mapping)} matches no column of {file}",
                    f"correct the pattern ({{item}} stands for the item code, e.g. 12); "
                    f"{similar_columns(entry.pattern, columns)}",
                ),
            )
    return claims
