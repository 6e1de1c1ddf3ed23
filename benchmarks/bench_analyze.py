"""End-to-end ``alliance analyze``: against the cost of importing its libraries, and its growth in n.

1. The demo trial (22 MDMA episodes, the article's six models, default resampling: 10,000
   bootstrap and 10,000 permutations per model, every figure as SVG) analysed by the command
   line in a fresh process, against the obvious floor measured in the same run: a process that
   only imports what any such tool imports, ``python -c "import pandas, matplotlib.pyplot,
   scipy.stats"``. The two alternate, several times each, and the medians are compared.
   Goal (issue 12): at most 4x.
2. Wall time and peak memory (the child's own maximum resident set, from ``os.wait4``) of
   ``analyze`` with default options on trials made by ``alliance simulate --n N --seed 1``
   (Parquet, to keep reading out of the way) for N = 22, 2,000 and 20,000, and the exponent
   of growth: the slope of log time on log N. Goal: 20,000 participants in under 60 s and
   2 GB, and near-linear growth (slope close to 1 from 2,000 to 20,000).

    python benchmarks/bench_analyze.py [--repeats 5] [--sizes 22,2000,20000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

CLI = "from alliance.cli import main; main()"
BASELINE = "import pandas, matplotlib.pyplot, scipy.stats"


def run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one child process; it must succeed."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace")
            raise SystemExit(f"{' '.join(args[3:5])} ... failed ({code}):\n{message}")
    return elapsed, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def analyze(data: Path, out: Path, *extra: str) -> tuple[float, float]:
    return run([sys.executable, "-c", CLI, "analyze", str(data), "--out", str(out), *extra])


def demo_ratio(repeats: int, work: Path) -> None:
    demo = Path(str(resources.files("alliance.data").joinpath("demo_trial.csv")))
    run([sys.executable, "-c", BASELINE])  # warm the file cache for both
    analyze(demo, work / "warm")
    baseline, full = [], []
    for k in range(repeats):  # alternating, so a change in machine load hits both alike
        baseline.append(run([sys.executable, "-c", BASELINE])[0])
        full.append(analyze(demo, work / f"demo{k}")[0])
    base, mine = statistics.median(baseline), statistics.median(full)
    print(f"demo trial, default options, median of {repeats} alternating runs:")
    print(f"  python -c '{BASELINE}': {base:6.2f} s")
    print(f"  alliance analyze demo_trial.csv:                          {mine:6.2f} s")
    ok = "met" if mine / base <= 4 else "NOT met"
    print(f"  ratio: {mine / base:.1f}x the import baseline   (goal <= 4x: {ok})")


def trial(n: int, folder: Path) -> Path:
    path = folder / f"trial_n{n}_seed1.parquet"
    if not path.exists():
        run([sys.executable, "-c", CLI, "simulate", "--n", str(n), "--seed", "1",
             "--out", str(path)])  # fmt: skip
    return path


def slope(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) on log(n)."""
    x = [math.log(n) for n in sizes]
    y = [math.log(s) for s in seconds]
    mx, my = statistics.fmean(x), statistics.fmean(y)
    return sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True)) / sum(
        (a - mx) ** 2 for a in x
    )


def scaling(sizes: list[int], work: Path, data: Path) -> None:
    from alliance.inference.streams import thread_count

    print("growth in n: alliance analyze with default options (trials from alliance simulate)")
    print(f"  resampling threads: {thread_count()} (ALLIANCE_THREADS, else the usable CPUs)")
    seconds, peaks = [], []
    for n in sizes:
        path = trial(n, data)
        elapsed, peak = analyze(path, work / f"n{n}")
        seconds.append(elapsed)
        peaks.append(peak)
        print(f"  n = {n:>6,}: {elapsed:7.1f} s, peak memory {peak:7.0f} MB", flush=True)
    if len(sizes) >= 2:
        print(f"  exponent of growth (log-log slope, all sizes): {slope(sizes, seconds):.2f}")
        top = sizes[-2:]
        print(
            f"  exponent from n = {top[0]:,} to {top[1]:,}: "
            f"{slope(top, seconds[-2:]):.2f}   (goal: near 1, linear)"
        )
    if sizes[-1] >= 20_000:
        ok = "met" if seconds[-1] < 60 and peaks[-1] < 2048 else "NOT met"
        print(
            f"  n = {sizes[-1]:,}: {seconds[-1]:.1f} s and {peaks[-1]:.0f} MB   "
            f"(goal < 60 s and < 2 GB: {ok})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="22,2000,20000", help="comma-separated N")
    parser.add_argument("--keep", type=Path, help="folder keeping the simulated trials")
    parser.add_argument("--skip-scaling", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="alliance-bench-") as tmp:
        work = Path(tmp)
        demo_ratio(args.repeats, work)
        if not args.skip_scaling:
            data = args.keep or work
            data.mkdir(parents=True, exist_ok=True)
            scaling(sorted(int(n) for n in args.sizes.split(",")), work, data)


if __name__ == "__main__":
    main()
