"""Hostile values at the command line: implausible scores, non-finite and overflowing numbers,
numbers Python would read but a user did not write, ill-posed plans, degenerate models,
out-of-bounds options, wide files and decimal commas.

Each case runs the command a user would run and checks the exit status (1 for bad input, 2 for
a usage error), that the message names what is wrong, that no traceback is shown and that the
input file is unchanged.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app
from tests.conftest import sha256, small_trial

runner = CliRunner()
FAST = ["--bootstrap", "0", "--permutations", "0"]


def scored_trial(n: int = 24, seed: int = 3) -> pd.DataFrame:
    """A valid scored file: n MDMA participants in the randomised phase, the article's columns."""
    rng = np.random.default_rng(seed)
    baseline = rng.integers(50, 100, n)
    return pd.DataFrame(
        {
            "participant_id": [f"m{i}" for i in range(n)],
            "phase": "randomized",
            "arm": "mdma",
            "caps__baseline": baseline,
            "caps__post": np.clip(baseline - rng.integers(0, 50, n), 0, 136),
            "iesr__baseline": rng.integers(30, 80, n),
            "iesr__post": rng.integers(5, 60, n),
            "wai__pre_s3": rng.integers(120, 240, n),
            "wai__s4": rng.integers(120, 240, n),
            "wai__s9": rng.integers(120, 240, n),
        }
    )


def write(frame: pd.DataFrame, folder: Path, name: str = "scores.csv", **kwargs) -> Path:
    path = Path(folder) / name
    frame.to_csv(path, index=False, **kwargs)
    return path


def invoke(args: list[str], inputs: list[Path]):
    before = {p: sha256(p) for p in inputs}
    result = runner.invoke(app, [str(a) for a in args])
    for path, digest in before.items():
        assert sha256(path) == digest, f"{path.name} was modified"
    return result


def output_of(result) -> str:
    return result.output + (result.stderr if result.stderr_bytes is not None else "")


def assert_fails(result, status: int, fragments: list[str]) -> str:
    output = output_of(result)
    assert result.exit_code == status, output
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in:\n{output}"
    return output


def validate(path: Path, *extra: str):
    return invoke(["validate", path, *extra], [path])


# --- 2. Wrong numbers: scores outside their instrument's range -----------------------------------


@pytest.mark.parametrize(
    ("column", "value", "fragments"),
    [
        ("caps__post", -40, ["caps__post", "-40", "0–136", "CAPS5 0–80"]),
        ("wai__s4", 9999, ["wai__s4", "9999", "12–252"]),
        ("iesr__baseline", 89, ["iesr__baseline", "89", "0–88"]),
        ("caps__post", 1e300, ["caps__post", "outside the range"]),
    ],
)
def test_scores_outside_the_instrument_range_are_errors(tmp_path, column, value, fragments):
    frame = scored_trial().astype({column: "float64"})
    frame.loc[4, column] = value
    output = assert_fails(validate(write(frame, tmp_path)), 1, [*fragments, "row 6", "Fix:"])
    assert "scores.csv" in output


def test_subscales_and_symptom_counts_have_ranges_too(tmp_path):
    frame = scored_trial().astype({"caps__post": "float64"})
    frame["wai_task__s4"] = 30.0  # WAI Task: 4–84 over the three forms
    frame["iesr_intrusion_mean__post"] = 2.5  # an item mean: 0–4
    frame["caps_symptoms__post"] = 7.0  # a count: whole numbers 0–20
    frame.loc[2, "wai_task__s4"] = 85
    frame.loc[3, "iesr_intrusion_mean__post"] = 4.5
    frame.loc[5, "caps_symptoms__post"] = 3.5
    frame.loc[6, "caps__post"] = 40.5  # a prorated total may be fractional
    assert_fails(
        validate(write(frame, tmp_path)),
        1,
        ["wai_task__s4", "85", "iesr_intrusion_mean__post", "4.5", "caps_symptoms__post", "3.5"],
    )
    frame.loc[2, "wai_task__s4"] = 84
    frame.loc[3, "iesr_intrusion_mean__post"] = 4
    frame.loc[5, "caps_symptoms__post"] = 3
    result = validate(write(frame, tmp_path, "fixed.csv"))
    assert result.exit_code == 0, output_of(result)


def test_caps_times_1e300_no_longer_gives_t_0_p_1(tmp_path):
    frame = scored_trial().astype({"caps__post": "float64"})
    frame["caps__post"] *= 1e300
    path = write(frame, tmp_path)
    result = invoke(["analyze", path, "--out", tmp_path / "out", *FAST], [path])
    assert_fails(result, 1, ["caps__post", "outside the range of caps"])
    assert not (tmp_path / "out" / "results.json").exists()


# --- 2. Wrong numbers: non-finite values and numbers Python reads but nobody wrote -------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("0_3", "not a plain number"),
        ("\u0663\u0660", "not a plain number"),  # Arabic-Indic 30
        ("\uff13\uff10", "not a plain number"),  # full-width 30
        ("inf", "not a finite number"),
        ("-Infinity", "not a finite number"),
        ("nan", "not a finite number"),
        ("1e400", "not a finite number"),
        ("3 0", "is not a number"),
    ],
)
def test_scores_must_be_plain_finite_numbers(tmp_path, text, fragment):
    frame = scored_trial().astype({"caps__post": "object"})
    frame.loc[1, "caps__post"] = text
    assert_fails(validate(write(frame, tmp_path)), 1, ["caps__post", "row 3", repr(text), fragment])


@pytest.mark.parametrize("text", ["0_3", "\u0663", "\uff13", "nan", "inf"])
def test_item_responses_are_read_strictly(tmp_path, text):
    frame = small_trial().astype({"value": "object"})
    frame.loc[40, "value"] = text
    assert_fails(validate(write(frame, tmp_path, "trial.csv")), 1, ["value", "row 42", repr(text)])


def test_item_codes_in_other_digits_are_not_read_as_numbers(tmp_path):
    frame = small_trial()
    frame.loc[frame["instrument"] == "WAI", "item"] = frame["item"].where(
        frame["item"] != "3", "\u0663"
    )
    assert_fails(validate(write(frame, tmp_path, "trial.csv")), 1, ["item", "\u0663"])


@pytest.mark.parametrize(
    ("cells", "fragments"),
    [
        (["34", "0_3"], ["age", "'0_3'", "not a plain number"]),
        (["34", "inf"], ["age", "'inf'", "not a finite number"]),
        (["34", "1e300"], ["age", "implausibly large", "1e+15"]),
    ],
)
def test_numeric_covariates_are_checked(tmp_path, cells, fragments):
    frame = scored_trial()
    frame["age"] = (cells * len(frame))[: len(frame)]
    assert_fails(validate(write(frame, tmp_path)), 1, fragments)


def test_text_covariates_stay_text(tmp_path):
    frame = scored_trial()
    frame["site"] = "Boston, MA"
    frame["notes"] = ["dose 1,5 mg", "0_3 session"] * (len(frame) // 2)
    result = validate(write(frame, tmp_path))
    assert result.exit_code == 0, output_of(result)


# --- 2. Wrong numbers: duplicate models ----------------------------------------------------------


def plan_file(folder: Path, text: str, name: str = "plan.toml") -> Path:
    path = Path(folder) / name
    path.write_text(text, encoding="utf-8")
    return path


def analyze_with_plan(folder: Path, plan_text: str, frame: pd.DataFrame | None = None):
    data = write(scored_trial() if frame is None else frame, folder)
    plan = plan_file(folder, plan_text)
    return invoke(["analyze", data, "--plan", plan, "--out", folder / "out", *FAST], [data, plan])


CAPS_ON_WAI = "[[outcomes]]\nscore = 'caps'\n[[predictors]]\nscore = 'wai'\n"


def test_a_model_listed_twice_is_a_plan_error(tmp_path):
    result = analyze_with_plan(tmp_path, CAPS_ON_WAI + "timepoints = ['s4', 's4', 'S4 ']\n")
    output = assert_fails(result, 1, ["plan.toml", "predictors.0.timepoints", "'s4'", "3 times"])
    assert "Fix:" in output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "[[outcomes]]\nscore = 'caps'\n[[outcomes]]\nscore = 'CAPS'\n[[predictors]]\n"
            "score = 'wai'\ntimepoints = ['s4']\n",
            ["outcomes", "'caps' is listed 2 times"],
        ),
        (
            CAPS_ON_WAI + "timepoints = ['s4']\n[[predictors]]\nscore = 'wai'\n"
            "timepoints = ['s9', ' s4']\n",
            ["predictors.1", "already in predictors.0"],
        ),
        (
            "[[outcomes]]\nscore = 'caps'\n[[predictors]]\nscore = 'caps'\ntimepoints = ['post']\n",
            ["predictors.0.score", "also an outcome"],
        ),
        (
            "covariates = ['wai__s4']\n" + CAPS_ON_WAI + "timepoints = ['s4', 's9']\n",
            ["covariates", "'wai__s4'", "predictor of model caps~wai@s4"],
        ),
        (
            "covariates = ['caps__baseline']\n" + CAPS_ON_WAI + "timepoints = ['s4']\n",
            ["covariates", "baseline of model"],
        ),
        (
            "covariates = ['age', 'AGE ']\n" + CAPS_ON_WAI + "timepoints = ['s4']\n",
            ["covariates", "'age' is listed 2 times"],
        ),
        (
            "[[outcomes]]\nscore = 'caps'\nbaseline = 'post'\n[[predictors]]\nscore = 'wai'\n"
            "timepoints = ['s4']\n",
            ["outcomes.0", "baseline and post are both"],
        ),
    ],
)
def test_ill_posed_plans_are_plan_errors(tmp_path, text, fragments):
    assert_fails(analyze_with_plan(tmp_path, text), 1, ["plan.toml", *fragments, "Fix:"])


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("alpha = nan", "alpha"),
        ("alpha = 0.0", "alpha"),
        ("alpha = 0.9", "alpha"),
        ("alpha = '0.05'", "alpha"),
        ("inference.permutations = 10_000_000", "inference.permutations"),
        ("inference.bootstrap = -1", "inference.bootstrap"),
        ("inference.bootstrap = true", "inference.bootstrap"),
        ("inference.bf_rscale = 1e308", "inference.bf_rscale"),
        ("inference.bf_rscale = inf", "inference.bf_rscale"),
        ("inference.bf_rscale = 0.0", "inference.bf_rscale"),
    ],
)
def test_numeric_plan_entries_have_bounds(tmp_path, line, fragment):
    text = line + "\n" + CAPS_ON_WAI + "timepoints = ['s4']\n"
    output = assert_fails(analyze_with_plan(tmp_path, text), 1, ["plan.toml", fragment, "Fix:"])
    assert "OverflowError" not in output


# --- 5. Degenerate models: located messages, not ZeroDivisionError ------------------------------


def test_an_exact_fit_is_an_analysis_error_naming_the_model(tmp_path):
    frame = scored_trial()
    frame["caps__post"] = frame["caps__baseline"] - 10
    result = analyze_with_plan(tmp_path, CAPS_ON_WAI + "timepoints = ['s4']\n", frame)
    output = assert_fails(result, 1, ["caps~wai@s4", "exactly", "R² = 1"])
    assert "ZeroDivisionError" not in output
    assert "RuntimeWarning" not in output


def test_a_participant_alone_in_a_covariate_level_is_an_analysis_error(tmp_path):
    frame = scored_trial()
    frame["site"] = "north"
    frame["centre"] = np.where(np.arange(len(frame)) == 0, "solo", "main")
    text = "covariates = ['centre']\n" + CAPS_ON_WAI + "timepoints = ['s4']\n"
    output = assert_fails(analyze_with_plan(tmp_path, text, frame), 1, ["caps~wai@s4", "'m0'"])
    assert "leverage 1" in output
    assert "RuntimeWarning" not in output


def test_bayes_factor_with_a_huge_prior_scale_raises_a_value_error():
    from alliance.inference.bayes_factor import log_bf10

    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(20), rng.standard_normal((20, 2))])
    y = X @ [1.0, 0.5, 0.2] + rng.standard_normal(20)
    with pytest.raises(ValueError, match="prior scale"):
        log_bf10(y, X, 2, rscale=1e308)


# --- 5/6. Numeric options: documented bounds, usage errors naming the option --------------------


@pytest.mark.parametrize(
    ("args", "option", "fragment"),
    [
        (["power", "--n", "100000000"], "--n", "100,000"),
        (["power", "--n", "1_0"], "--n", "not a whole number"),
        (["power", "--n", "\u0661\u0660"], "--n", "not a whole number"),
        (["power", "--simulations", "2000000"], "--simulations", "1,000,000"),
        (["power", "--covariates", "1000"], "--covariates", "100"),
        (["power", "--tests", "1000000000"], "--tests", "10,000"),
        (["power", "--alpha", "nan"], "--alpha", "not a finite number"),
        (["power", "--effect", "0_3"], "--effect", "not a finite number"),
        (["power", "--seed", str(2**40)], "--seed", "4,294,967,295"),
        (["power", "--seed", "9" * 5000], "--seed", "outside"),
        (["simulate", "--n", "1000000000", "--out", "x.csv"], "--n", "20,000"),
        (["simulate", "--crossover", "nan", "--out", "x.csv"], "--crossover", "finite"),
        (["simulate", "--arms", "inf:1", "--out", "x.csv"], "--arms", "finite"),
        (["simulate", "--arms", "1_0:8", "--out", "x.csv"], "--arms", "12:8"),
        (["analyze", "x.csv", "--permutations", "2000000"], "--permutations", "1,000,000"),
        (["analyze", "x.csv", "--bootstrap", "-1"], "--bootstrap", "outside"),
        (["analyze", "x.csv", "--seed", "-5"], "--seed", "outside"),
    ],
)
def test_numeric_options_out_of_bounds_are_usage_errors(tmp_path, args, option, fragment):
    result = runner.invoke(app, args)
    output = output_of(result)
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    assert option in output and fragment in output, output


def test_bounds_are_in_the_help():
    for command, fragments in {
        "power": ["100,000", "1,000,000", "4,294,967,295"],
        "simulate": ["20,000", "4,294,967,295"],
        "analyze": ["1,000,000", "--decimal-comma"],
    }.items():
        result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0
        for fragment in fragments:
            assert fragment in result.output, (command, fragment)


def test_overflowing_arm_weights_are_normalised_not_zero(tmp_path):
    out = tmp_path / "trial.csv"
    result = runner.invoke(app, ["simulate", "--arms", "1e308:1e308", "--n", "20", "--out", out])
    assert result.exit_code == 0, output_of(result)
    assert "10 MDMA and 10 placebo" in result.output


def test_power_at_a_large_n_keeps_memory_bounded():
    from alliance.power.simulation import BATCH_BYTES, batch_size

    for n, k in [(22, 1), (1_000, 3), (100_000, 1), (100_000, 100)]:
        batch = batch_size(n, k)
        assert batch >= 1
        assert batch == 1 or batch * n * (k + 2) * 8 <= BATCH_BYTES
    assert batch_size(22, 1) == 1024  # small designs draw a whole chunk, as before


# --- 6. Wide files ------------------------------------------------------------------------------


def wide_scored(columns: int, rows: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    extra = pd.DataFrame(
        rng.integers(20, 80, (rows, columns)), columns=[f"wai_task__t{j}" for j in range(columns)]
    )
    return pd.concat([scored_trial(rows), extra], axis=1)


def test_wide_scored_files_validate_without_performance_warnings(tmp_path):
    from alliance.episodes.episodes import build_episodes
    from alliance.pipeline import ledger_for, load_data

    path = write(wide_scored(1500), tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        loaded = load_data(path)
        episodes = build_episodes(loaded.scores)
        ledger_for(loaded, episodes)
    assert loaded.scores.shape == (30, 3 + 7 + 1500)
    assert episodes.frame.shape[0] == 30


def test_ignored_columns_of_an_item_file_are_summarised(tmp_path):
    frame = small_trial()
    extra = pd.DataFrame({f"note{j}": "x" for j in range(300)}, index=frame.index)
    path = write(pd.concat([frame, extra], axis=1), tmp_path, "trial.csv")
    result = validate(path)
    assert result.exit_code == 0, output_of(result)
    warning = [line for line in result.stderr.splitlines() if "not part of the item" in line]
    assert len(warning) == 1 and "300 column(s)" in warning[0] and "and 290 more" in warning[0]
    assert len(warning[0]) < 400


# --- 7. Decimal commas: one hint per column, and an option to read them -------------------------


def decimal_comma_file(folder: Path, rows: int = 200) -> Path:
    frame = scored_trial(rows)
    frame["wai__s4"] = frame["wai__s4"].astype(str) + ",5"
    frame["iesr__post"] = frame["iesr__post"].astype(str) + ",25"
    return write(frame, folder, "export.csv", sep=";")


def test_decimal_commas_get_one_hint_per_column(tmp_path):
    path = decimal_comma_file(tmp_path)
    assert_fails(validate(path), 1, ["--decimal-comma", "wai__s4", "iesr__post"])
    result = validate(path)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, errors
    assert "200 cell(s)" in errors[0]


def test_decimal_comma_option_reads_them(tmp_path):
    path = decimal_comma_file(tmp_path)
    result = validate(path, "--decimal-comma")
    assert result.exit_code == 0, output_of(result)
    out = tmp_path / "out"
    result = invoke(["analyze", path, "--decimal-comma", "--out", out, *FAST], [path])
    assert result.exit_code == 0, output_of(result)


def test_decimal_comma_option_refuses_decimal_points(tmp_path):
    frame = scored_trial().astype({"wai__s4": "float64"})
    frame.loc[0, "wai__s4"] = 150.5
    path = write(frame, tmp_path)
    assert_fails(validate(path, "--decimal-comma"), 1, ["wai__s4", "150.5", "decimal point"])


def test_mapping_labels_match_numbers_strictly(tmp_path):
    frame = small_trial()
    frame["arm"] = frame["arm"].map({"mdma": "1", "placebo": "2"})
    frame.loc[frame["participant_id"] == "m1", "arm"] = "0_1"
    data = write(frame, tmp_path, "trial.csv")
    mapping = plan_file(tmp_path, '[values.arm]\n"1" = "mdma"\n"2" = "placebo"\n', "map.toml")
    result = invoke(["validate", data, "--mapping", mapping], [data, mapping])
    assert_fails(result, 1, ["arm", "'0_1'"])


def test_too_few_cases_for_leave_one_out_is_an_analysis_error(tmp_path):
    frame = scored_trial(4)  # 4 complete cases for 3 coefficients: one residual df
    output = assert_fails(
        analyze_with_plan(tmp_path, CAPS_ON_WAI + "timepoints = ['s4']\n", frame),
        1,
        ["caps~wai@s4", "at least 5"],
    )
    assert "RuntimeWarning" not in output
