"""Load + validate + score against a bare pyarrow read of the same file, in the same run.

The file is the one the goals name: ``alliance simulate --n 10000 --seed 3`` (about 2.9 million
item rows, 140 MB). Every measurement runs in a fresh process (so peak memories don't mix) and
is repeated; the fastest run counts, which is the least disturbed by other work on the machine.

- ours, in process: ``read_table`` + ``validate_items`` + ``score_items`` (every check, every
  score, the status table);
- pandas ``read_csv(engine="pyarrow")`` of the same file, nothing else;
- polars read + group-by + pivot (sums per participant, phase, timepoint and instrument, no
  validation, no subscales), when polars is installed;
- the whole ``alliance score FILE --out scores.csv`` command, start-up and writing included;
- ``alliance analyze`` of a 20,000-participant trial (``simulate --n 20000 --seed 1``): peak
  memory and report size (``--quick`` leaves it out: it takes a few minutes).

Goals (issue 18): ``alliance score`` within 5x the bare pyarrow read and under 1 GB;
``analyze`` at n = 20,000 under 2 GB with a report under 10 MB.

    python benchmarks/bench_load_score.py [--participants 10000] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

OURS = """
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from alliance.input.readers import read_table
from alliance.instruments.registry import load_instruments
from alliance.instruments.scoring import score_items
from alliance.validation.item_layout import validate_items
instruments = load_instruments()
t1 = time.perf_counter()
raw = read_table(Path(sys.argv[1]))
t2 = time.perf_counter()
items = validate_items(raw, instruments)
del raw
t3 = time.perf_counter()
scored = score_items(items, instruments)
t4 = time.perf_counter()
print(json.dumps({"seconds": t4 - t1, "imports": t1 - t0,
                  "stages": {"read": t2 - t1, "validate": t3 - t2, "score": t4 - t3},
                  "rows": len(items), "scores": scored.scores.shape[0]}))
"""

PANDAS = """
import json, sys, time
t0 = time.perf_counter()
import pandas as pd
t1 = time.perf_counter()
frame = pd.read_csv(sys.argv[1], engine="pyarrow")
t2 = time.perf_counter()
print(json.dumps({"seconds": t2 - t1, "imports": t1 - t0, "rows": len(frame)}))
"""

POLARS = """
import json, sys, time
t0 = time.perf_counter()
import polars as pl
t1 = time.perf_counter()
keys = ["participant_id", "phase", "timepoint", "instrument"]
frame = pl.read_csv(sys.argv[1], schema_overrides={"item": pl.Utf8, "participant_id": pl.Utf8})
sums = frame.group_by(keys).agg(pl.col("value").sum().alias("total"),
                                pl.col("value").count().alias("present"))
wide = sums.pivot(on="timepoint", index=["participant_id", "phase", "instrument"],
                  values="total")
t2 = time.perf_counter()
print(json.dumps({"seconds": t2 - t1, "imports": t1 - t0, "rows": frame.height}))
"""


def run(command: list[str], env: dict[str, str] | None = None) -> tuple[dict, float, float]:
    """The JSON the command prints last (or {}), its wall time and its peak memory in MB."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    assert process.stdout is not None and process.stderr is not None
    out, err = process.stdout.read(), process.stderr.read()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{err[-2000:]}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return (json.loads(lines[-1]) if lines else {}), wall, usage.ru_maxrss / 1024


def best(command: list[str], repeat: int, env: dict[str, str]) -> tuple[dict, float, float]:
    """The fastest of ``repeat`` runs (by the time the command reports, else wall time)."""
    runs = [run(command, env) for _ in range(repeat)]
    return min(runs, key=lambda r: r[0].get("seconds", r[1]))


def alliance(*args: str) -> list[str]:
    return [sys.executable, "-m", "alliance", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="leave out analyze at n = 20,000")
    args = parser.parse_args()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    try:
        import polars  # noqa: F401

        has_polars = True
    except ImportError:
        has_polars = False

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "items.csv"
        run(alliance("simulate", "--n", str(args.participants), "--seed", str(args.seed),
                     "--out", str(path)), env)  # fmt: skip
        size = path.stat().st_size / 1e6
        ours, _, ours_mb = best([sys.executable, "-c", OURS, str(path)], args.repeat, env)
        bare, _, bare_mb = best([sys.executable, "-c", PANDAS, str(path)], args.repeat, env)
        polars_result = (
            best([sys.executable, "-c", POLARS, str(path)], args.repeat, env)
            if has_polars
            else None
        )
        out = Path(tmp) / "scores.csv"
        _, command_s, command_mb = min(
            (run(alliance("score", str(path), "--out", str(out)), env) for _ in range(args.repeat)),
            key=lambda r: r[1],
        )
        analyze = None
        if not args.quick:
            big = Path(tmp) / "n20000.csv"
            run(alliance("simulate", "--n", "20000", "--seed", "1", "--out", str(big)), env)
            folder = Path(tmp) / "analysis"
            _, analyze_s, analyze_mb = run(alliance("analyze", str(big), "--out", str(folder)), env)
            report_mb = (folder / "report.html").stat().st_size / 1e6
            analyze = (analyze_s, analyze_mb, report_mb)

    rows = ours["rows"]
    print(f"File: {rows:,} item rows, {args.participants:,} participants, {size:.0f} MB CSV")
    print("(fastest of", args.repeat, "runs each; a shared machine makes absolute times vary,")
    print(" the ratios are measured in the same run)\n")
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in ours["stages"].items())
    print(
        f"alliance read+validate+score  {ours['seconds']:6.2f} s  ({stages}), peak {ours_mb:,.0f} MB"
    )
    print(
        f"pandas read_csv(pyarrow)      {bare['seconds']:6.2f} s  (read only), peak {bare_mb:,.0f} MB"
    )
    if polars_result is not None:
        result, _, polars_mb = polars_result
        print(
            f"polars read+group-by+pivot    {result['seconds']:6.2f} s  (no validation, totals "
            f"only), peak {polars_mb:,.0f} MB"
        )
    else:
        print("polars                        not installed in this environment")
    print(
        f"alliance score (command)      {command_s:6.2f} s  (start-up, imports and writing "
        f"included), peak {command_mb:,.0f} MB"
    )
    ratio = ours["seconds"] / bare["seconds"]
    print(f"\nratio read+validate+score / bare pyarrow read: {ratio:.1f}x")
    goals = [
        ("read+validate+score within 5x the bare pyarrow read", ratio <= 5),
        ("alliance score under 1 GB", command_mb < 1024),
    ]
    if analyze is not None:
        analyze_s, analyze_mb, report_mb = analyze
        print(
            f"alliance analyze, n = 20,000: {analyze_s:.0f} s, peak {analyze_mb:,.0f} MB, "
            f"report.html {report_mb:.1f} MB"
        )
        goals += [
            ("analyze at n = 20,000 under 2 GB", analyze_mb < 2048),
            ("report.html at n = 20,000 under 10 MB", report_mb < 10),
        ]
    for goal, met in goals:
        print(f"goal: {goal}: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
