"""CDISC long files (SDTM QS, ADaM ADQS) read through ``[[items]]`` entries with
``code_column`` and ``value_column``: the item code comes from a column's values, one row per
answer (``docs/mapping.md``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alliance.errors import Problem
from alliance.input.readers import SOURCE_ROW, RawTable
from alliance.input.wide_mapping import ItemsEntry, Target, WideMapping
from alliance.input.wide_rows import (
    Reshaped,
    as_categorical,
    assemble,
    codes_of,
    column_problem,
    merge_codes,
    phase_source_problem,
    range_problems,
    row_timepoints,
    silent_participants,
    unmapped_events,
)
from alliance.instruments.registry import load_instruments
from alliance.validation.cells import (
    Codes,
    ParsedNumbers,
    names_text,
    number_problems,
    read_numbers,
    text_codes,
)
from alliance.validation.instrument_codes import item_label, items_summary
from alliance.validation.problems import ProblemCollector


def reshape_long(
    frame: pd.DataFrame,
    ids: pd.DataFrame,
    entries: Sequence[ItemsEntry],
    wide: WideMapping,
    events: tuple[np.ndarray, list[Target], Codes] | None,
    raw: RawTable,
    mfile: str,
    decimal: str,
    problems: ProblemCollector,
) -> Reshaped:
    """CDISC-style files: one row per answer, the item code in a column's values."""
    file = problems.file
    instruments = load_instruments()
    source_row = frame[SOURCE_ROW].to_numpy()
    n = len(frame)
    entry_of = np.full(n, -1, dtype=np.int64)
    item_codes: dict[str, int] = {}
    item_of = np.full(n, -1, dtype=np.int64)
    token_of = np.full(n, -1, dtype=np.int64)
    tokens: list[Target] = []
    unmatched: dict[str, int] = {}
    for column in dict.fromkeys(e.code_column for e in entries):
        assert column is not None
        codes = text_codes(frame[column])
        mine = [e for e in entries if e.code_column == column]
        counts = np.bincount(codes.codes[codes.codes >= 0], minlength=len(codes.labels))
        for k, label in enumerate(codes.labels):
            text = str(label).lower()
            hits = [(e, m) for e in mine if (m := e.regex.fullmatch(text)) is not None]
            rows = codes.codes == k
            if not hits:
                unmatched[str(label)] = int(counts[k])
                continue
            first = int(source_row[rows][0])
            if len(hits) > 1:
                problems.add(
                    "two patterns",
                    Problem(
                        file=file,
                        row=first,
                        column=column,
                        value=str(label),
                        what=f"code '{label}' is matched by two [[items]] patterns: "
                        f"{hits[0][0].where(mfile)} and {hits[1][0].where(mfile)}",
                        fix="make the patterns specific enough that each code matches one",
                    ),
                )
                continue
            entry, match = hits[0]
            item = item_label(match.group("item"))
            inst = instruments[entry.instrument]
            if item not in inst.item_codes:
                problems.add(
                    "unknown item",
                    Problem(
                        file=file,
                        row=first,
                        column=column,
                        value=str(label),
                        what=f"code '{label}' matches {entry.where(mfile)}, but "
                        f"'{match.group('item')}' is not an item code of {inst.code} (its items "
                        f"are {items_summary(list(inst.item_codes))})",
                        fix="check that the pattern names the right instrument",
                    ),
                )
                continue
            if entry.uses_timepoint:
                token = entry.tokens.get(match.group("timepoint"))
                if token is None:
                    problems.add(
                        "unknown token",
                        Problem(
                            file=file,
                            row=first,
                            column=column,
                            value=str(label),
                            what=f"code '{label}' matches {entry.where(mfile)}, but its "
                            f"timepoint token '{match.group('timepoint')}' has no entry in "
                            "[items.timepoints]",
                            fix="add the token to that entry's [items.timepoints]",
                        ),
                    )
                    continue
                tokens.append(token)
                token_of[rows] = len(tokens) - 1
            entry_of[rows] = entry.index
            item_of[rows] = item_codes.setdefault(item, len(item_codes))
    for entry in entries:
        if not (entry_of == entry.index).any():
            problems.add(
                "pattern without code",
                column_problem(
                    file,
                    entry.code_column,
                    f"{entry.where(mfile)} matches no value of column '{entry.code_column}'",
                    "correct the pattern ({item} stands for the item code); the column holds "
                    f"{names_text(sorted(unmatched, key=lambda c: -unmatched[c]), 8)}",
                ),
            )
    matched = entry_of >= 0
    values = np.full(n, np.nan)
    by_index = {e.index: e for e in entries}
    for column in dict.fromkeys(e.value_column for e in entries):
        assert column is not None
        rows = matched & np.isin(entry_of, [e.index for e in entries if e.value_column == column])
        parsed = read_numbers(frame[column], raw.value_labels.get(column), decimal)
        kinds = np.where(rows, parsed.kinds, 1).astype(np.int8)
        number_problems(
            frame,
            ParsedNumbers(parsed.values, kinds),
            problems,
            column=column,
            noun="answer",
            fix="write the answer as a number, or leave the cell blank to mark it missing",
        )
        values[rows] = parsed.values[rows]
    for index, entry in by_index.items():
        range_problems(
            frame, values, entry_of == index, entry.value_column or "", entry.instrument, problems
        )
    answered = matched & ~np.isnan(values)
    skip, warnings = unmapped_events(answered, matched, events, frame, wide, mfile, problems)
    row_tp, row_phase = row_timepoints(ids, events)
    if row_tp is None and not tokens:
        problems.add(
            "no timepoint",
            column_problem(
                file,
                None,
                f"{mfile} gives no timepoint for the answers",
                "add [timepoints] naming the visit column (VISIT, AVISIT) and its values",
            ),
        )
    token_phase = any(t.phase for t in tokens)
    phase_source_problem(wide, mfile, problems, row_phase is not None or token_phase)
    if problems:
        return Reshaped(pd.DataFrame(), [])
    keep = matched & ~skip
    tp_tokens = codes_of([t.timepoint for t in tokens] + [None])
    ph_tokens = codes_of([t.phase for t in tokens] + [None])
    token_index = np.where(token_of >= 0, token_of, len(tokens))
    timepoint = merge_codes(tp_tokens, token_index, row_tp, np.arange(n))
    phase = merge_codes(ph_tokens, token_index, row_phase, np.arange(n))
    names = codes_of([e.instrument for e in entries])
    table_of = np.full(max(e.index for e in entries) + 2, -1, dtype=np.int64)
    for k, e in enumerate(entries):
        table_of[e.index] = names.codes[k]
    inst_codes = table_of[entry_of]  # entry_of -1 reads the last slot, -1
    # An administration (participant, phase, timepoint, instrument) with every answer blank
    # was not given: its rows are dropped, not counted as missing answers.
    person = text_codes(ids["participant_id"]).codes if "participant_id" in ids else np.zeros(n)
    key = pd.DataFrame(
        {
            "p": person,
            "ph": np.asarray(phase.codes),
            "tp": np.asarray(timepoint.codes),
            "i": inst_codes,
            "a": answered,
        }
    )
    given = key.groupby(["p", "ph", "tp", "i"], sort=False, dropna=False)["a"].transform("any")
    given_mask = given.to_numpy(dtype=bool)
    not_given = int((keep & ~given_mask).sum())
    rows = np.flatnonzero(keep & given_mask)
    table = assemble(
        ids,
        rows,
        values[rows],
        as_categorical(inst_codes[rows], names.labels),
        as_categorical(item_of[rows], np.array(list(item_codes), dtype=object)),
        as_categorical(np.asarray(timepoint.codes)[rows], np.asarray(timepoint.categories)),
        as_categorical(np.asarray(phase.codes)[rows], np.asarray(phase.categories)),
    )
    if unmatched:
        shown = ", ".join(
            f"{code} ({count:,})"
            for code, count in sorted(unmatched.items(), key=lambda kv: -kv[1])[:10]
        )
        more = f" and {len(unmatched) - 10:,} more" if len(unmatched) > 10 else ""
        warnings.append(
            f"{file}: {sum(unmatched.values()):,} row(s) hold codes no [[items]] pattern of "
            f"{mfile} matches (other questionnaires or items); they were not used: {shown}{more}"
        )
    warnings.append(
        f"{file}: read through {mfile}: {int(matched.sum()):,} rows hold items of the mapped "
        f"instruments; {len(table):,} item answers kept ({int(np.isnan(values[rows]).sum()):,} "
        f"blank, counted as missing items); {not_given:,} rows belong to instruments not given "
        "at that visit (every answer blank) and gave no rows"
    )
    warnings.extend(silent_participants(ids, rows, file))
    return Reshaped(table, warnings)
