"""Which of the two input layouts (docs/data-layouts.md) a table is in, from its column names."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from alliance.errors import DataError, Problem
from alliance.input.readers import SOURCE_ROW, RawTable
from alliance.validation import item_layout, scored_layout

Layout = Literal["items", "scored"]
_ITEM_MARKERS = ("instrument", "item", "value")


def detect_layout(data: RawTable | pd.DataFrame, file: str = "data") -> Layout:
    """``"items"`` (long: ``instrument, item, value``) or ``"scored"`` (wide:
    ``<score>__<timepoint>`` columns).

    A table with all three item columns is in the item layout; otherwise one with any
    ``<score>__<timepoint>`` column is scored; otherwise one with some item columns is in the
    item layout (its validation then names the missing ones).

    Raises
    ------
    DataError
        One problem listing what each layout needs, when the table is in neither.
    """
    if isinstance(data, RawTable):
        file = data.name
        data = data.frame
    columns = [str(c) for c in data.columns if c != SOURCE_ROW]
    if all(c in columns for c in _ITEM_MARKERS):
        return "items"
    if any(scored_layout.is_score_column(c) for c in columns):
        return "scored"
    if any(c in columns for c in _ITEM_MARKERS):
        return "items"
    found = ", ".join(columns) if columns else "none"
    raise DataError(
        [
            Problem(
                file=file,
                row=1,
                what="the columns fit neither input layout: the item layout needs "
                f"{', '.join(item_layout.REQUIRED)}; the scored layout needs "
                f"{', '.join(scored_layout.REQUIRED)} and score columns named "
                f"<score>__<timepoint> (e.g. caps__baseline, wai__s4); found: {found}",
                fix="rename the columns (column names are not case-sensitive), or translate "
                "them with a mapping file (--mapping)",
            )
        ]
    )
