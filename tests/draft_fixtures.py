"""Hand-made wide exports, as trials deliver them, for ``alliance mapping draft``.

Each builder writes a file and returns it with the item-layout table holding the same answers,
so a test can check that a mapping reads the export into exactly those rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

WAI = [str(i) for i in range(1, 37)]
WAI_SHORT = [str(i) for i in range(1, 13)]
IESR = [str(i) for i in range(1, 23)]
CAPS5 = [str(i) for i in range(1, 21)]
CAPS4 = [f"{i}{k}" for i in range(1, 18) for k in ("f", "i")]
PCL5 = [str(i) for i in range(1, 21)]
ITEM_COLUMNS = ["participant_id", "phase", "arm", "timepoint", "instrument", "item", "value"]

# Which instruments each timepoint of the article's design holds.
DESIGN = {
    "baseline": ("CAPS5", "IESR"),
    "pre_s3": ("WAI",),
    "s4": ("WAI",),
    "s9": ("WAI",),
    "post": ("CAPS5", "IESR"),
}
ITEMS = {"WAI": WAI, "WAI_S": WAI_SHORT, "IESR": IESR, "CAPS5": CAPS5, "CAPS4": CAPS4}
RANGES = {"WAI": (1, 7), "WAI_S": (1, 5), "IESR": (0, 4), "CAPS5": (0, 4), "CAPS4": (0, 4)}


def _answers(rng: np.random.Generator, instrument: str) -> list[int]:
    low, high = RANGES[instrument]
    return [int(v) for v in rng.integers(low, high + 1, size=len(ITEMS[instrument]))]


def _people(n: int) -> list[tuple[str, str]]:
    return [(f"{i + 1:03d}", "mdma" if i % 2 == 0 else "placebo") for i in range(n)]


def redcap_flat(folder: Path, n: int = 12, seed: int = 1) -> tuple[Path, pd.DataFrame]:
    """A REDCap flat export: one row per record and event, the arm on the baseline event only,
    a screening event without answers, and an open-label block for placebo participants who
    crossed over. ``rand_group`` is coded 1 (MDMA) / 2 (placebo) without labels, as a CSV
    export holds it."""
    rng = np.random.default_rng(seed)
    columns = ["record_id", "redcap_event_name", "rand_group", "age"]
    columns += [f"wai_{i}" for i in WAI] + [f"caps5_{i}" for i in CAPS5]
    columns += [f"iesr_{i}" for i in IESR]
    events = {
        "baseline": "baseline_arm_1",
        "pre_s3": "pre_session_3_arm_1",
        "s4": "session_4_arm_1",
        "s9": "session_9_arm_1",
        "post": "post_treatment_arm_1",
    }
    rows, items = [], []
    for pid, arm in _people(n):
        rows.append({"record_id": pid, "redcap_event_name": "screening_arm_1", "age": 40})
        phases = ["randomized"] + (["open_label"] if arm == "placebo" else [])
        for phase in phases:
            for timepoint, event in events.items():
                name = event if phase == "randomized" else f"ol_{event}"
                row: dict[str, object] = {"record_id": pid, "redcap_event_name": name}
                if name == "baseline_arm_1":
                    row["rand_group"] = 1 if arm == "mdma" else 2
                for instrument in DESIGN[timepoint]:
                    prefix = instrument.lower()
                    for item, value in zip(
                        ITEMS[instrument], _answers(rng, instrument), strict=True
                    ):
                        row[f"{prefix}_{item}"] = value
                        items.append((pid, phase, arm, timepoint, instrument, item, value))
                rows.append(row)
    path = folder / "redcap_export.csv"
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.astype(
        {c: "Int64" for c in columns if c not in ("record_id", "redcap_event_name")}
    )
    frame.to_csv(path, index=False)
    return path, pd.DataFrame(items, columns=ITEM_COLUMNS)


def _wide(
    rng: np.random.Generator,
    people: list[tuple[str, str]],
    blocks: list[tuple[str, str, str, str]],
) -> tuple[list[dict[str, object]], list[tuple[object, ...]]]:
    """One row per participant; ``blocks`` = (instrument, timepoint, column prefix, suffix
    separator) with columns ``<prefix><item>``."""
    rows, items = [], []
    for pid, arm in people:
        row: dict[str, object] = {}
        for instrument, timepoint, prefix, _ in blocks:
            for item, value in zip(ITEMS[instrument], _answers(rng, instrument), strict=True):
                row[f"{prefix}{item}"] = value
                items.append((pid, "randomized", arm, timepoint, instrument, item, value))
        rows.append(row)
    return rows, items


def spss_wide(folder: Path, n: int = 12, seed: int = 2) -> tuple[Path, pd.DataFrame]:
    """An SPSS file, one row per participant: ``Subject``, ``Group`` with value labels
    (1 MDMA, 2 Placebo), ``WAI_PRES3_1`` ... ``WAI_S9_36``, CAPS-IV ``CAPS4_BL_1F`` ... and
    ``IESR_BL_1`` ... ``IESR_POST_22``; the WAI items carry labels for their end points."""
    import pyreadstat

    rng = np.random.default_rng(seed)
    people = _people(n)
    blocks = [
        ("WAI", "pre_s3", "WAI_PRES3_", ""),
        ("WAI", "s4", "WAI_S4_", ""),
        ("WAI", "s9", "WAI_S9_", ""),
        ("CAPS4", "baseline", "CAPS4_BL_", ""),
        ("CAPS4", "post", "CAPS4_POST_", ""),
        ("IESR", "baseline", "IESR_BL_", ""),
        ("IESR", "post", "IESR_POST_", ""),
    ]
    rows, items = _wide(rng, people, blocks)
    frame = pd.DataFrame(rows)
    frame.columns = [c.upper() for c in frame.columns]  # SPSS names: CAPS4_BL_1F
    frame.insert(0, "Group", [1.0 if arm == "mdma" else 2.0 for _, arm in people])
    frame.insert(0, "Subject", [pid for pid, _ in people])
    labels = {"Group": {1.0: "MDMA", 2.0: "Placebo"}}
    for column in frame.columns:
        if column.startswith("WAI_"):
            labels[column] = {1.0: "Never", 7.0: "Always"}
    path = folder / "trial_wide.sav"
    pyreadstat.write_sav(frame, str(path), variable_value_labels=labels)
    return path, pd.DataFrame(items, columns=ITEM_COLUMNS)


def stata_wide(folder: Path, n: int = 12, seed: int = 3) -> tuple[Path, pd.DataFrame]:
    """A Stata file, one row per participant: ``pid``, ``trt`` coded 0/1 without labels, the
    WAI-S short form ``wais_s4_1`` ..., CAPS-5 ``caps5_bl_1`` / ``caps5_pt_1`` and IES-R
    ``iesr_pre_1`` / ``iesr_post_1``."""
    import pyreadstat

    rng = np.random.default_rng(seed)
    people = _people(n)
    blocks = [
        ("WAI_S", "s4", "wais_s4_", ""),
        ("WAI_S", "s9", "wais_s9_", ""),
        ("CAPS5", "baseline", "caps5_bl_", ""),
        ("CAPS5", "post", "caps5_pt_", ""),
        ("IESR", "baseline", "iesr_pre_", ""),
        ("IESR", "post", "iesr_post_", ""),
    ]
    rows, items = _wide(rng, people, blocks)
    frame = pd.DataFrame(rows)
    frame.insert(0, "trt", [1 if arm == "mdma" else 0 for _, arm in people])
    frame.insert(0, "pid", [pid for pid, _ in people])
    path = folder / "trial_wide.dta"
    pyreadstat.write_dta(frame, str(path))
    return path, pd.DataFrame(items, columns=ITEM_COLUMNS)


def excel_visits(folder: Path, n: int = 10, seed: int = 4) -> tuple[Path, pd.DataFrame]:
    """An Excel workbook, one row per participant and visit: ``participant_id``, ``Visit``
    (``Baseline``, ``Session 4``, ``Post``, and ``Follow-up 12m`` which the draft cannot name),
    ``Arm`` (``MDMA`` / ``Placebo``), ``wai_1`` ..., ``iesr_1`` ... and PCL-5 ``pcl5_1`` ...
    (the tests also draft it against a registry without PCL-5)."""
    rng = np.random.default_rng(seed)
    visits = {"Baseline": "baseline", "Session 4": "s4", "Post": "post", "Follow-up 12m": "fu"}
    rows, items = [], []
    for pid, arm in _people(n):
        for visit, timepoint in visits.items():
            row: dict[str, object] = {
                "participant_id": f"P{pid}",
                "Visit": visit,
                "Arm": "MDMA" if arm == "mdma" else "Placebo",
            }
            instruments = ("WAI",) if timepoint == "s4" else ("IESR",)
            for instrument in instruments:
                for item, value in zip(ITEMS[instrument], _answers(rng, instrument), strict=True):
                    row[f"{instrument.lower()}_{item}"] = value
                    items.append((f"P{pid}", "randomized", arm, timepoint, instrument, item, value))
            if timepoint != "s4":
                for item in PCL5:
                    value = int(rng.integers(0, 5))
                    row[f"pcl5_{item}"] = value
                    items.append((f"P{pid}", "randomized", arm, timepoint, "PCL5", item, value))
            rows.append(row)
    path = folder / "visits.xlsx"
    pd.DataFrame(rows).to_excel(path, index=False)
    return path, pd.DataFrame(items, columns=ITEM_COLUMNS)
