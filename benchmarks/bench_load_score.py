"""Load + validate + score an item-level file of 10,000 participants (about 2.2 million rows).

Reports wall time and peak memory (each stage run in a fresh process so peaks don't mix), and the
ratio against a straightforward pandas ``groupby().apply()`` scorer measured in the same run.
Goal (issue 2): under 20 s and under 2 GB on a 2-core machine.

    python benchmarks/bench_load_score.py [--participants 10000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

WAI = [str(i) for i in range(1, 37)]
IESR = [str(i) for i in range(1, 23)]
CAPS4 = [f"{i}{k}" for i in range(1, 18) for k in ("f", "i")]


def make_items(n: int, seed: int = 1) -> pd.DataFrame:
    """One randomised phase per participant; WAI at 3 timepoints, CAPS-IV and IES-R at 2."""
    rng = np.random.default_rng(seed)
    blocks = [
        ("WAI", WAI, ("pre_s3", "s4", "s9"), 1, 7),
        ("CAPS4", CAPS4, ("baseline", "post"), 0, 4),
        ("IESR", IESR, ("baseline", "post"), 0, 4),
    ]
    ids = np.array([f"P{i:05d}" for i in range(n)])
    arms = np.where(np.arange(n) % 5 < 3, "mdma", "placebo")
    frames = []
    for instrument, items, timepoints, low, high in blocks:
        k = len(items) * len(timepoints)
        frames.append(
            pd.DataFrame(
                {
                    "participant_id": np.repeat(ids, k),
                    "phase": "randomized",
                    "arm": np.repeat(arms, k),
                    "timepoint": np.tile(np.repeat(timepoints, len(items)), n),
                    "instrument": instrument,
                    "item": np.tile(np.array(items * len(timepoints)), n),
                    "value": rng.integers(low, high + 1, size=n * k).astype("float64"),
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    frame.loc[rng.random(len(frame)) < 0.01, "value"] = np.nan  # 1 % missing items
    return frame


def naive_score(items: pd.DataFrame) -> pd.DataFrame:
    """The obvious alternative: one Python call per participant, phase, timepoint, instrument."""
    from alliance.instruments.registry import load_instruments

    instruments = load_instruments()

    def score(group: pd.DataFrame) -> float:
        inst = instruments[group.name[3]]
        values = group.set_index("item")["value"]
        reverse = [i for i in getattr(inst, "reverse_keyed", ()) if i in values.index]
        values.loc[reverse] = inst.response_min + inst.response_max - values.loc[reverse]
        present = values.notna().sum()
        if present < len(inst.item_codes) * inst.min_fraction_present:
            return float("nan")
        return float(values.sum() * len(inst.item_codes) / present)

    keys = ["participant_id", "phase", "timepoint", "instrument"]
    return items.groupby(keys).apply(score, include_groups=False).unstack("timepoint")


STAGE = """
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
if sys.argv[1] == "alliance":
    from alliance.input.readers import read_table
    from alliance.instruments.registry import load_instruments
    from alliance.instruments.scoring import score_items
    from alliance.validation.item_layout import validate_items
    instruments = load_instruments()
    raw = read_table(Path(sys.argv[2]))
    t1 = time.perf_counter()
    items = validate_items(raw, instruments)
    t2 = time.perf_counter()
    scored = score_items(items, instruments)
    t3 = time.perf_counter()
    stages = {"read": t1 - t0, "validate": t2 - t1, "score": t3 - t2}
else:
    import pandas as pd
    sys.path.insert(0, sys.argv[3])
    from bench_load_score import naive_score
    items = pd.read_csv(sys.argv[2], dtype={"participant_id": str, "item": str})
    t1 = time.perf_counter()
    naive_score(items)
    t3 = time.perf_counter()
    stages = {"read": t1 - t0, "score": t3 - t1}
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": time.perf_counter() - t0, "stages": stages, "peak_mb": peak}))
"""


def run_stage(kind: str, path: Path) -> dict:
    here = str(Path(__file__).resolve().parent)
    out = subprocess.run(
        [sys.executable, "-c", STAGE, kind, str(path), here],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "items.csv"
        items = make_items(args.participants)
        items.to_csv(path, index=False)
        print(
            f"{len(items):,} rows, {args.participants:,} participants, {path.stat().st_size / 1e6:.0f} MB CSV"
        )
        ours = run_stage("alliance", path)
        naive = run_stage("naive", path)
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in ours["stages"].items())
    print(
        f"alliance read+validate+score: {ours['seconds']:.2f} s ({stages}), peak {ours['peak_mb']:.0f} MB"
    )
    print(
        f"pandas groupby-apply scorer:  {naive['seconds']:.2f} s (no validation), peak {naive['peak_mb']:.0f} MB"
    )
    print(
        f"scoring ratio (naive / alliance): {naive['stages']['score'] / ours['stages']['score']:.1f}x"
    )
    print(
        f"end-to-end ratio (naive read+score / alliance read+validate+score): {naive['seconds'] / ours['seconds']:.1f}x"
    )
    verdict = ours["seconds"] < 20 and ours["peak_mb"] < 2048
    print(f"goal (< 20 s, < 2 GB): {'met' if verdict else 'NOT met'}")


if __name__ == "__main__":
    main()
