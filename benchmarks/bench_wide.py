"""A REDCap-style wide export (10,000 participants × 6 events) through its mapping to scores,
against the same data in the item layout, in the same run.

The export has one row per record and event (screening without answers, baseline and post with
CAPS-5 and IES-R, sessions 3, 4 and 9 with the WAI), the arm on the baseline event only, 1 %
of answers blank, and REDCap's form-status columns. Both files hold the same answers; each is
loaded, validated and scored (what ``alliance score`` does) in a fresh process, so peak memory
(the process's maximum resident set, interpreter and libraries included) does not mix.
Goal (issue 13): the wide path within 1.5x of the item-layout path.

    python benchmarks/bench_wide.py [--participants 10000] [--repeats 3]
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

INSTRUMENTS = {"CAPS5": (20, 0, 4), "IESR": (22, 0, 4), "WAI": (36, 1, 7)}
EVENTS = {  # event -> (timepoint, instruments given)
    "screening_arm_1": (None, ()),
    "baseline_arm_1": ("baseline", ("CAPS5", "IESR")),
    "session_3_arm_1": ("pre_s3", ("WAI",)),
    "session_4_arm_1": ("s4", ("WAI",)),
    "session_9_arm_1": ("s9", ("WAI",)),
    "post_arm_1": ("post", ("CAPS5", "IESR")),
}
MAPPING = """
[columns]
"record_id" = "participant_id"
"rand_group" = "arm"
[values.arm]
"1" = "mdma"
"2" = "placebo"
[constants]
phase = "randomized"
[participant]
columns = ["arm"]
[timepoints]
column = "redcap_event_name"
[timepoints.values]
"baseline_arm_1" = "baseline"
"session_3_arm_1" = "pre_s3"
"session_4_arm_1" = "s4"
"session_9_arm_1" = "s9"
"post_arm_1" = "post"
[[items]]
instrument = "CAPS5"
pattern = "caps5_{item}"
[[items]]
instrument = "IESR"
pattern = "iesr_{item}"
[[items]]
instrument = "WAI"
pattern = "wai_{item}"
"""


def make_export(n: int, seed: int = 1) -> pd.DataFrame:
    """The REDCap flat export: ``n`` records × 6 events."""
    rng = np.random.default_rng(seed)
    events = list(EVENTS)
    rows = n * len(events)
    frame = pd.DataFrame(
        {
            "record_id": np.repeat([f"P{i:05d}" for i in range(n)], len(events)),
            "redcap_event_name": np.tile(events, n),
        }
    )
    arm = np.where(np.arange(n) % 5 < 3, "1", "2")
    baseline = frame["redcap_event_name"].to_numpy() == "baseline_arm_1"
    frame["rand_group"] = np.where(baseline, np.repeat(arm, len(events)), "")
    event = frame["redcap_event_name"].to_numpy()
    blocks = {}
    for instrument, (k, low, high) in INSTRUMENTS.items():
        given = np.isin(event, [e for e, (_, i) in EVENTS.items() if instrument in i])
        values = rng.integers(low, high + 1, size=(rows, k)).astype("float64")
        values[~given] = np.nan
        values[rng.random((rows, k)) < 0.01] = np.nan
        for j in range(k):
            blocks[f"{instrument.lower()}_{j + 1}"] = values[:, j]
        blocks[f"{instrument.lower()}_complete"] = np.where(given, 2, 0)
    return pd.concat([frame, pd.DataFrame(blocks)], axis=1)


def to_items(export: pd.DataFrame) -> pd.DataFrame:
    """The same answers in the item layout (what a hand-written reshape script would give)."""
    arm = export.loc[export["rand_group"] != "", ["record_id", "rand_group"]]
    labels = arm["rand_group"].map({"1": "mdma", "2": "placebo"})
    arms = dict(zip(arm["record_id"], labels, strict=True))
    frames = []
    for event, (timepoint, instruments) in EVENTS.items():
        rows = export.loc[export["redcap_event_name"] == event]
        for instrument in instruments:
            k = INSTRUMENTS[instrument][0]
            columns = [f"{instrument.lower()}_{j + 1}" for j in range(k)]
            long = rows.melt(id_vars="record_id", value_vars=columns, var_name="item")
            long["item"] = long["item"].str.rsplit("_", n=1).str[1]
            long["instrument"] = instrument
            long["timepoint"] = timepoint
            frames.append(long)
    items = pd.concat(frames, ignore_index=True).rename(columns={"record_id": "participant_id"})
    items["phase"] = "randomized"
    items["arm"] = items["participant_id"].map(arms)
    return items[["participant_id", "phase", "arm", "timepoint", "instrument", "item", "value"]]


def run_one(data: str, mapping: str | None) -> None:
    """In this process: load, validate and score; print seconds and peak memory as JSON."""
    import resource
    import time

    from alliance.pipeline import load_data

    start = time.perf_counter()
    loaded = load_data(Path(data), Path(mapping) if mapping else None)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "rows": len(loaded.scores)}))


def measure(data: Path, mapping: Path | None) -> dict:
    args = [sys.executable, __file__, "--run", str(data)]
    if mapping is not None:
        args += ["--mapping", str(mapping)]
    done = subprocess.run(args, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each path, alternating; the fastest counts"
    )
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--mapping", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_one(args.run, args.mapping)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        wide = Path(folder) / "export.csv"
        items = Path(folder) / "items.csv"
        mapping = Path(folder) / "mapping.toml"
        export = make_export(args.participants)
        export.to_csv(wide, index=False, float_format="%g")
        item_frame = to_items(export)
        item_frame.to_csv(items, index=False, float_format="%g")
        mapping.write_text(MAPPING)
        # Alternating runs, the fastest of each: on a shared machine a single pair of runs can
        # differ twofold from other load alone.
        runs: dict[str, list[dict]] = {"items": [], "wide": []}
        for _ in range(args.repeats):
            runs["items"].append(measure(items, None))
            runs["wide"].append(measure(wide, mapping))
        item_run = min(runs["items"], key=lambda r: r["seconds"])
        wide_run = min(runs["wide"], key=lambda r: r["seconds"])
    if item_run["rows"] != wide_run["rows"]:
        print(f"score rows differ: items {item_run['rows']}, wide {wide_run['rows']}")
        return 1
    ratio = wide_run["seconds"] / item_run["seconds"]
    print(
        f"{args.participants:,} participants × {len(EVENTS)} events; load + validate + score "
        f"(fastest of {args.repeats} runs each)"
    )
    print(
        f"item layout  ({len(item_frame):,} rows): {item_run['seconds']:6.2f} s, "
        f"peak {item_run['peak_mib']:6.0f} MiB"
    )
    print(
        f"wide export  ({len(export):,} rows × 78 item columns): {wide_run['seconds']:6.2f} s, "
        f"peak {wide_run['peak_mib']:6.0f} MiB"
    )
    print(
        f"ratio wide / item layout: time {ratio:.2f} (goal: within 1.5), "
        f"memory {wide_run['peak_mib'] / item_run['peak_mib']:.2f}"
    )
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
