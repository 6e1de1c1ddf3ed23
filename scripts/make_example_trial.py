"""Write the bundled example trial (item layout) from the scored example dataset.

Each participant's CAPS-IV, IES-R and WAI totals in ``tests/fixtures/data/article_like.csv``
(fabricated numbers shaped like the 2024 article's trial: 23 enrolled, 22 MDMA episodes) are
spread over the instrument's items so that scoring the items gives back exactly those totals;
reverse-keyed WAI items are written as answered (8 − keyed value). A few items are blanked to
exercise the missing-item rule. The file carries the synthetic marker.

    python scripts/make_example_trial.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from alliance.input.writers import write_table
from alliance.instruments.registry import load_instruments

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "fixtures" / "data" / "article_like.csv"
TARGET = ROOT / "src" / "alliance" / "data" / "demo_trial.csv"
SEED = 2024


def spread(total: int, n: int, low: int, high: int, rng: np.random.Generator) -> np.ndarray:
    """n integers in [low, high] summing to ``total``, varied by random transfers."""
    base = np.full(n, total // n)
    base[rng.choice(n, total - base.sum(), replace=False)] += 1
    for _ in range(3 * n):
        i, j = rng.choice(n, 2, replace=False)
        if base[i] > low and base[j] < high:
            base[i] -= 1
            base[j] += 1
    return base


def items_for(row: pd.Series, rng: np.random.Generator) -> list[tuple]:
    inst = load_instruments()
    out = []
    plan = [("CAPS4", "caps", ("baseline", "post")), ("IESR", "iesr", ("baseline", "post")),
            ("WAI", "wai", ("pre_s3", "s4", "s9"))]  # fmt: skip
    for code, score, timepoints in plan:
        definition = inst[code]
        low, high = int(definition.response_min), int(definition.response_max)
        for timepoint in timepoints:
            value = row.get(f"{score}__{timepoint}")
            if pd.isna(value):
                continue
            n = len(definition.item_codes)
            keyed = spread(round(value) - low * n, n, 0, high - low, rng) + low
            for item, answer in zip(definition.item_codes, keyed, strict=True):
                if item in definition.reverse_keyed:
                    answer = low + high - answer
                out.append((row["participant_id"], row["phase"], row["arm"], timepoint, code,
                            item, float(answer)))  # fmt: skip
    return out


def main() -> None:
    rng = np.random.default_rng(SEED)
    scored = pd.read_csv(SOURCE, dtype={"participant_id": str})
    rows = [r for _, row in scored.iterrows() for r in items_for(row, rng)]
    items = pd.DataFrame(
        rows, columns=["participant_id", "phase", "arm", "timepoint", "instrument", "item", "value"]
    )
    # Blank one self-report item in a few questionnaires: prorated, as the 80 % rule allows.
    self_report = items.index[items["instrument"].isin(["IESR", "WAI"])]
    items.loc[rng.choice(self_report, 6, replace=False), "value"] = np.nan
    items["value"] = items["value"].astype("Int64")
    write_table(items, TARGET, synthetic=True)
    print(f"wrote {TARGET.relative_to(ROOT)}: {len(items)} rows")


if __name__ == "__main__":
    main()
