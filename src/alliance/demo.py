"""``alliance demo``: the bundled synthetic trial, validated, scored and analysed in full.

The bundled file was made by ``alliance simulate --sessions`` (the exact command is in
``alliance/data/README.md``); it carries the synthetic marker, so everything the demo writes is
labelled synthetic. The demo's plan (``alliance/plans/demo.toml``) is the article's six models
plus a session-by-session (``[[longitudinal]]``) and an alliance × condition (``[[moderation]]``)
model, so the report shows every kind of model the package fits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from alliance.input.writers import write_table
from alliance.models.plan import load_plan
from alliance.output.transaction import output_transaction
from alliance.pipeline import analyze, load_data
from alliance.report.console import mixed_lines, model_line
from alliance.report.files import write_atomic
from alliance.report.outputs import write_output_files

DEMO_FILE = "demo_trial.csv"
DEMO_PLAN = "demo.toml"


@dataclass(frozen=True)
class DemoResult:
    out: Path
    report: Path
    summary: list[str]


def run_demo(
    out: Path, progress: Callable[[str], None] = lambda _: None, png: bool = False
) -> DemoResult:
    """Write the demo trial (``data/``) and its full analysis into ``out`` as one transaction."""
    out = Path(out)
    data_path = out / "data" / DEMO_FILE
    bundled = resources.files("alliance.data").joinpath(DEMO_FILE).read_bytes()
    with output_transaction(out) as staging:
        staged_data = staging / "data" / DEMO_FILE
        write_atomic(staged_data, lambda h: h.write(bundled))
        progress("validating")
        loaded = load_data(staged_data)
        progress("scoring")
        write_table(loaded.scores, staging / "data" / "demo_scores.csv", synthetic=loaded.synthetic)
        progress("analysing")
        with resources.as_file(resources.files("alliance.plans").joinpath(DEMO_PLAN)) as plan:
            demo_plan = load_plan(plan)
        analysis = analyze(loaded, demo_plan, seed=0, progress=progress)
        progress("writing report")
        write_output_files(analysis, staging, png=png)
    report = out / "report.html"
    ledger = analysis.ledger
    mixed = analysis.mixed
    longitudinal = len(mixed.longitudinal) if mixed else 0
    moderation = len(mixed.moderation) if mixed else 0
    summary = [
        f"demo trial (SYNTHETIC): {ledger.participants_in} participants, "
        f"{ledger.episodes} MDMA episodes, {len(analysis.models)} models, "
        f"{longitudinal} longitudinal and {moderation} moderation models",
    ]
    method = analysis.plan.multiplicity.method
    summary.extend(model_line(model, method) for model in analysis.models)
    summary.extend(mixed_lines(analysis.mixed))
    summary.append(f"data: {data_path}")
    summary.append(f"results: {(out / 'results.json').resolve()}")
    summary.append(f"report: {report.resolve() if report.exists() else report}")
    return DemoResult(out=out, report=report, summary=summary)
