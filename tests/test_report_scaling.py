"""What a large trial's outputs summarise, and how results.json is laid out."""

from __future__ import annotations

import json

import numpy as np

from alliance.report.files import json_text
from alliance.report.summaries import bin_ranges, qq_rows, standout, summary_note


def test_json_text_is_the_same_document_with_one_record_per_line():
    document = {
        "models": [
            {
                "key": "caps~wai@s4",
                "influence": [
                    {"participant_id": f"P{i}", "dfbeta": i / 7, "changes_conclusion": i == 2}
                    for i in range(5)
                ],
                "participants": ["P0", "P1"],
                "nested": {"empty": [], "none": None, "deep": [[1, 2], [3]]},
            }
        ],
        "text": 'quote " and é',
    }
    text = json_text(document)
    assert json.loads(text) == document
    lines = text.splitlines()
    assert sum('"participant_id"' in line for line in lines) == 5  # one record per line
    assert '      "participants": ["P0", "P1"],' in lines
    assert text.endswith("}\n")


def test_json_text_refuses_nan():
    try:
        json_text({"x": float("nan")})
    except ValueError:
        return
    raise AssertionError("NaN written")


def test_summary_helpers():
    assert summary_note([]) == ""
    note = summary_note(["Figure A: a density of 900 points"])
    assert "Figure A: a density of 900 points" in note and "every participant" in note
    values = np.array([3.0, 1.0, np.nan, 5.0, 2.0, 4.0])
    centre, low, high = bin_ranges(values, bins=3)
    np.testing.assert_allclose(centre, [1.5, 3.5, 5.5])
    np.testing.assert_allclose(low, [1.0, 5.0, 2.0])
    np.testing.assert_allclose(high, [3.0, 5.0, 4.0])
    assert list(qq_rows(10)) == list(range(10))
    rows = qq_rows(10_000)
    assert rows[0] == 0 and rows[-1] == 9_999 and len(rows) <= 500
    flips = np.zeros(100, dtype=bool)
    flips[7] = True
    cooks = np.arange(100.0)
    picked = standout(cooks, flips, top=3)
    assert list(picked) == [7, 97, 98, 99]
