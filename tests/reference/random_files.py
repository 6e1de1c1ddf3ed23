"""Seeded random item-layout files: valid trials with missing items and blank responses, and
files with every kind of mistake validation reports, in the text variants users' exports have
(CRLF, semicolons, quotes, a byte-order mark, blank lines, ragged rows, extra columns).

``random_item_file(seed)`` gives the bytes of one file and its extension. The expected outcome
of loading each file (scores, status, participants and warnings, or every problem message)
was recorded by the load path before the columnar rewrite (``make_expected.py``); the test
``tests/test_load_score_equivalence.py`` checks today's path against it.
"""

from __future__ import annotations

import codecs

import numpy as np

FORMS = {
    "WAI": ([str(i) for i in range(1, 37)], 1, 7, ("pre_s3", "s4", "s9")),
    "WAI_S": ([str(i) for i in range(1, 13)], 1, 7, ("s4", "s9")),
    "CAPS4": ([f"{i}{k}" for i in range(1, 18) for k in ("f", "i")], 0, 4, ("baseline", "post")),
    "CAPS5": ([str(i) for i in range(1, 21)], 0, 4, ("baseline", "post")),
    "IESR": ([str(i) for i in range(1, 23)], 0, 4, ("baseline", "post")),
}
SEEDS = range(80)

# Mistakes, each applied to one random row (or participant) with some probability.
_MISTAKES = (
    "text value",
    "out of range",
    "fraction",
    "decimal comma",
    "nan",
    "unknown item",
    "unknown instrument",
    "blank participant",
    "bad phase",
    "bad arm",
    "bad timepoint",
    "blank item",
    "conflicting duplicate",
    "second arm",
    "two forms",
)


def _rows(rng: np.random.Generator) -> list[dict[str, str]]:
    n = int(rng.integers(2, 10))
    families = [
        ["WAI", "WAI_S"][int(rng.integers(0, 2))],
        ["CAPS4", "CAPS5"][int(rng.integers(0, 2))],
    ]
    if rng.random() < 0.5:
        families.append("IESR")
    rows = []
    for p in range(n):
        pid = f"P{p:02d}" if rng.random() < 0.9 else f"p {p}"
        arm = "mdma" if rng.random() < 0.5 else "placebo"
        phases = ["randomized"] + (
            ["open_label"] if arm == "placebo" and rng.random() < 0.6 else []
        )
        therapist = f"T{int(rng.integers(1, 4))}" if rng.random() < 0.9 else ""
        for phase in phases:
            for code in families:
                items, low, high, timepoints = FORMS[code]
                for timepoint in timepoints:
                    if phase == "open_label" and timepoint == "baseline" and rng.random() < 0.5:
                        continue  # the baseline is then borrowed from the randomised post
                    if rng.random() < 0.1:
                        continue  # a whole assessment missing
                    for item in items:
                        if rng.random() < 0.05:
                            continue  # a missing item row
                        value = "" if rng.random() < 0.05 else str(int(rng.integers(low, high + 1)))
                        rows.append(
                            {
                                "participant_id": pid,
                                "phase": phase,
                                "arm": arm,
                                "timepoint": timepoint,
                                "instrument": code,
                                "item": item,
                                "value": value,
                                "therapist_id": therapist,
                            }
                        )
    return rows


def _mistake(kind: str, rows: list[dict[str, str]], rng: np.random.Generator) -> None:
    row = rows[int(rng.integers(0, len(rows)))]
    if kind == "text value":
        row["value"] = "seven"
    elif kind == "out of range":
        row["value"] = "99"
    elif kind == "fraction":
        row["value"] = "2.5"
    elif kind == "decimal comma":
        row["value"] = "2,5"
    elif kind == "nan":
        row["value"] = ["nan", "inf", "NA", "."][int(rng.integers(0, 4))]
    elif kind == "unknown item":
        row["item"] = "99"
    elif kind == "unknown instrument":
        row["instrument"] = "PHQ9"
    elif kind == "blank participant":
        row["participant_id"] = ""
    elif kind == "bad phase":
        row["phase"] = "phase 3"
    elif kind == "bad arm":
        row["arm"] = "active"
    elif kind == "bad timepoint":
        row["timepoint"] = "Week 1"
    elif kind == "blank item":
        row["item"] = ""
    elif kind == "conflicting duplicate":
        copy = dict(row)
        copy["value"] = "9" if row["value"] != "9" else "8"
        rows.append(copy)
    elif kind == "second arm":
        row["arm"] = "placebo" if row["arm"] == "mdma" else "mdma"
    elif kind == "two forms":
        copy = dict(row)
        copy["instrument"] = {"WAI": "WAI_S", "WAI_S": "WAI", "CAPS4": "CAPS5"}.get(
            row["instrument"], "CAPS4"
        )
        copy["item"] = "1f" if copy["instrument"] == "CAPS4" else "1"
        rows.append(copy)


def _spellings(rows: list[dict[str, str]], rng: np.random.Generator) -> None:
    """Accepted variants: case, spaces, 'CAPS-IV', '01', 'Randomised', 'open-label'."""
    for row in rows:
        if rng.random() < 0.02:
            row["instrument"] = {"CAPS4": "CAPS-IV", "WAI": "wai", "IESR": "IES-R"}.get(
                row["instrument"], row["instrument"]
            )
        if rng.random() < 0.02 and row["item"].isdigit():
            row["item"] = "0" + row["item"]
        if rng.random() < 0.02:
            row["phase"] = {"randomized": "Randomised", "open_label": "open-label"}.get(
                row["phase"], row["phase"]
            )
        if rng.random() < 0.02:
            row["participant_id"] = f" {row['participant_id']} "


def random_item_file(seed: int) -> tuple[bytes, str]:
    """The bytes of one random item-layout file and its extension (``.csv`` or ``.tsv``)."""
    rng = np.random.default_rng(seed)
    rows = _rows(rng)
    _spellings(rows, rng)
    clean = seed % 3 == 0  # a third of the files are valid (missing items and blanks only)
    if not clean:
        for kind in _MISTAKES:
            if rng.random() < 0.25:
                _mistake(kind, rows, rng)
    if rng.random() < 0.2:
        rows.append(dict(rows[int(rng.integers(0, len(rows)))]))  # a row pasted twice
    if rng.random() < 0.3:
        order = rng.permutation(len(rows))
        rows = [rows[i] for i in order]
    columns = list(rows[0])
    if rng.random() < 0.2:
        columns.remove("therapist_id")
    if rng.random() < 0.2:
        columns.append("notes")
        for row in rows:
            row["notes"] = "" if rng.random() < 0.8 else "seen"
    header = list(columns)
    if rng.random() < 0.3:
        header = [c.upper() if rng.random() < 0.5 else f" {c.title()}" for c in header]
    synthetic = rng.random() < 0.3
    if synthetic:
        header.append("synthetic")
        columns.append("synthetic")
        for row in rows:
            row["synthetic"] = "true"
    suffix = ".tsv" if rng.random() < 0.15 else ".csv"
    sep = "\t" if suffix == ".tsv" else (";" if rng.random() < 0.15 else ",")
    quote = rng.random() < 0.15
    lines = [sep.join(header)]
    for row in rows:
        cells = [row[c] for c in columns]
        if quote:
            cells = [f'"{c}"' if rng.random() < 0.3 else c for c in cells]
        lines.append(sep.join(cells))
    if not clean and rng.random() < 0.1:
        at = int(rng.integers(1, len(lines)))
        lines[at] = lines[at] + sep + "extra"  # a ragged row
    if rng.random() < 0.1:
        lines.insert(int(rng.integers(1, len(lines))), "")  # a blank line
    newline = "\r\n" if rng.random() < 0.2 else "\n"
    text = newline.join(lines) + (newline if rng.random() < 0.8 else "")
    data = text.encode("utf-8")
    if rng.random() < 0.1:
        data = codecs.BOM_UTF8 + data
    return data, suffix
