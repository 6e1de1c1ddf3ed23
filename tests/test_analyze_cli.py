"""``alliance analyze`` end to end: the results.json contract, determinism, outputs, overrides."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app
from tests.conftest import sha256, small_trial

runner = CliRunner()

MODEL_KEYS = {
    "outcome",
    "predictor",
    "timepoint",
    "n",
    "r_squared",
    "adj_r_squared",
    "delta_r_squared",
    "f_squared",
    "partial_r",
    "p_adjusted",
    "adjust_method",
    "survives_correction",
    "terms",
}
TERM_KEYS = {"name", "estimate", "std_error", "t", "p", "ci_low", "ci_high", "std_beta"}
FAST = ["--seed", "3"]
CLASSICAL = ("--bootstrap", "0", "--permutations", "0")  # where resampling is not what is checked


def analyze(path, out, *extra):
    result = runner.invoke(app, ["analyze", str(path), "--out", str(out), *FAST, *extra])
    assert result.exit_code == 0, result.output
    return json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def trial_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("trial") / "trial.csv"
    small_trial().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def default_run(trial_file, tmp_path_factory):
    """One analysis with the default options (an analysis takes seconds), shared by the tests
    that only read its outputs: the input's checksum before, the output folder, results.json."""
    before = sha256(trial_file)
    out = tmp_path_factory.mktemp("default") / "out"
    return before, out, analyze(trial_file, out)


def test_results_json_follows_the_contract(trial_file, default_run):
    before, out, doc = default_run
    assert sha256(trial_file) == before
    assert doc["schema_version"] == "1"
    assert doc["input_sha256"] == before
    assert doc["synthetic"] is False
    assert doc["seed"] == 3
    assert doc["plan"]["multiplicity"]["method"] == "holm"
    assert doc["ledger"]["participants_in"] == 8
    assert doc["ledger"]["episodes"] == 7
    assert doc["ledger"]["excluded"][0]["participant_id"] == "p4"
    assert len(doc["models"]) == 6
    for model in doc["models"]:
        assert set(model) >= MODEL_KEYS
        assert [t["name"] for t in model["terms"]] == ["intercept", "baseline", "wai"]
        for term in model["terms"]:
            assert set(term) >= TERM_KEYS
        assert model["n"] == 7
        assert model["adjust_method"] == "holm"
    for name in ("ledger.csv", "tables/model_terms.csv", "tables/alliance_effects.csv"):
        assert (out / name).exists(), name
    # Figures are SVG unless PNGs are asked for (--png).
    figures = out / "figures"
    assert len(list(figures.glob("*.svg"))) == 4 + 3 * len(doc["models"])
    assert (figures / "forest_literature.svg").exists()
    assert not list(figures.glob("*.png"))


def _modules_loaded_by(args: list[str], prefixes: tuple[str, ...]) -> list[str]:
    """Run the command in a fresh interpreter; the loaded modules starting with ``prefixes``."""
    script = (
        "import sys\n"
        "from alliance.cli import app\n"
        "try:\n"
        f"    app({args!r})\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        f"print(sorted(m for m in sys.modules if m.startswith({prefixes!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return list(ast.literal_eval(done.stdout.strip().splitlines()[-1]))


def test_no_figures_skips_matplotlib_and_keeps_everything_else(trial_csv, tmp_path):
    out = tmp_path / "out"
    args = ["analyze", str(trial_csv), "--out", str(out), "--no-figures"]
    loaded = _modules_loaded_by([*args, "--bootstrap", "0", "--permutations", "0"],
                                ("matplotlib",))  # fmt: skip
    assert loaded == []
    assert [p.name for p in (out / "figures").iterdir()] == ["participant_flow.svg"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "--no-figures" in html and 'id="table-influence"' in html
    assert (out / "results.json").exists() and (out / "tables.docx").exists()


def test_validate_loads_neither_the_models_nor_matplotlib(trial_csv):
    loaded = _modules_loaded_by(
        ["validate", str(trial_csv)], ("matplotlib", "alliance.models.fit", "scipy.stats")
    )
    assert loaded == []


def test_png_and_no_figures_together_are_a_usage_error(trial_csv, tmp_path):
    result = runner.invoke(
        app, ["analyze", str(trial_csv), "--out", str(tmp_path), "--png", "--no-figures"]
    )
    assert result.exit_code == 2
    assert "choose one" in result.output


def test_same_input_plan_and_seed_give_identical_models(trial_file, default_run, tmp_path):
    _, _, first = default_run
    second = analyze(trial_file, tmp_path / "b")
    assert first["models"] == second["models"]


def test_row_order_does_not_change_results(trial_file, default_run, tmp_path):
    shuffled = tmp_path / "shuffled.csv"
    frame = pd.read_csv(trial_file, dtype=str)
    frame.sample(frac=1, random_state=1).to_csv(shuffled, index=False)
    a = default_run[2]
    b = analyze(shuffled, tmp_path / "b", *CLASSICAL)
    for ma, mb in zip(a["models"], b["models"], strict=True):
        for ta, tb in zip(ma["terms"], mb["terms"], strict=True):
            assert ta["estimate"] == pytest.approx(tb["estimate"], rel=1e-12)
            assert ta["p"] == pytest.approx(tb["p"], rel=1e-10)


def test_adjust_and_family_override_the_plan(trial_csv, tmp_path):
    overrides = ("--adjust", "bonferroni", "--family", "per_outcome")
    doc = analyze(trial_csv, tmp_path / "o", *overrides, *CLASSICAL)
    assert doc["plan"]["multiplicity"] == {"method": "bonferroni", "family": "per_outcome"}
    for model in doc["models"]:
        raw = next(t["p"] for t in model["terms"] if t["name"] == "wai")
        assert model["p_adjusted"] == pytest.approx(min(1.0, 3 * raw), rel=1e-12)


def test_scored_layout_gives_the_same_models_as_item_layout(trial_file, default_run, tmp_path):
    scores = tmp_path / "scores.csv"
    result = runner.invoke(app, ["score", str(trial_file), "--out", str(scores)])
    assert result.exit_code == 0, result.output
    a = default_run[2]
    b = analyze(scores, tmp_path / "b", *CLASSICAL)
    assert b["input_layout"] == "scored"
    for ma, mb in zip(a["models"], b["models"], strict=True):
        assert ma["n"] == mb["n"]
        for ta, tb in zip(ma["terms"], mb["terms"], strict=True):
            assert ta["estimate"] == pytest.approx(tb["estimate"], rel=1e-9)


def test_plan_error_exits_1(trial_csv, tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text("[[outcomes]]\nscore='caps'\n[[predictors]]\nscore='wai'\ntimepoints=['s7']\n")
    result = runner.invoke(
        app, ["analyze", str(trial_csv), "--plan", str(plan), "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "s7" in result.output


def test_a_workbook_with_data_in_another_worksheet_says_so(trial_csv, tmp_path):
    import openpyxl

    frame = pd.read_csv(trial_csv, dtype=str, keep_default_na=False)
    workbook = openpyxl.Workbook()
    workbook.active.title = "trial"
    workbook.active.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        workbook.active.append([float(v) if v.replace(".", "").isdigit() else v for v in row])
    workbook.create_sheet("later visits").append(["participant_id", "caps__followup"])
    path = tmp_path / "trial.xlsx"
    workbook.save(path)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "only the first worksheet ('trial') was read" in result.stderr
    assert "'later visits'" in result.stderr

    # The warning stays with the result: in results.json and at the top of the report.
    out = tmp_path / "out"
    document = analyze(path, out, *CLASSICAL)
    assert len(document["warnings"]) == 1
    assert "'later visits'" in document["warnings"][0]
    report = (out / "report.html").read_text()
    assert report.index('<section id="warnings">') < report.index('<section id="summary">')
    assert "later visits" in report


def test_a_clean_input_has_no_warnings(default_run):
    _, out, document = default_run
    assert document["warnings"] == []
    assert '<section id="warnings">' not in (out / "report.html").read_text()


def test_console_names_match_results_json_and_the_report_path_is_printed(trial_csv, tmp_path):
    out = tmp_path / "console"
    result = runner.invoke(app, ["analyze", str(trial_csv), "--out", str(out), *FAST, *CLASSICAL])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "results.json").read_text())
    lines = result.output.splitlines()
    for model in doc["models"]:
        line = next(x for x in lines if x.strip().startswith(model["key"] + ":"))
        assert f"b (unstd.)={model['terms'][2]['estimate']:.3f}" in line
        assert f"p_adj (holm)={model['p_adjusted']:.4f}" in line
    assert "p_adj=" not in result.output and "Holm p=" not in result.output
    assert f"results: {(out / 'results.json').resolve()}" in result.output
    assert f"report: {(out / 'report.html').resolve()}" in result.output


def test_model_line_without_correction(tmp_path):
    from alliance.models.plan import load_plan
    from alliance.pipeline import analyze as run_analysis
    from alliance.pipeline import load_data
    from alliance.report.console import model_line
    from tests.conftest import small_trial

    path = tmp_path / "t.csv"
    small_trial().to_csv(path, index=False)
    plan = load_plan().with_overrides(adjust="none", bootstrap=0, permutations=0)
    model = run_analysis(load_data(path), plan).models[0]
    line = model_line(model, "none")
    assert line.startswith("  caps~wai@pre_s3: n=7, b (unstd.)=")
    assert "p_adj" not in line and line.endswith("(no multiplicity correction)")


def test_a_long_exclusion_list_is_summarised_on_the_terminal(tmp_path):
    trial = small_trial()
    placebo_only = trial[trial["participant_id"] == "p4"]
    extra = [placebo_only.assign(participant_id=f"x{i:02d}") for i in range(25)]
    path = tmp_path / "many_excluded.csv"
    pd.concat([trial, *extra], ignore_index=True).to_csv(path, index=False)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    named = [line for line in result.output.splitlines() if line.strip().startswith("excluded ")]
    assert len(named) == 20
    assert "... and 6 more (6 no MDMA exposure" in result.output
    assert "ledger.csv" in result.output
