"""``[[longitudinal]]`` and ``[[moderation]]`` plan sections: validation, bad input, outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app
from alliance.errors import AnalysisError, PlanError
from alliance.models.longitudinal import fit_longitudinal, longitudinal_data
from alliance.models.mixed import fit_random_intercept
from alliance.models.mixed_plan import LongitudinalSpec, ModerationSpec
from alliance.models.plan import load_plan

runner = CliRunner()
SESSIONS = Path(__file__).parent / "fixtures" / "r" / "mixed" / "sessions.csv"
DOCS = Path(__file__).parents[1] / "docs" / "results-json.md"
SIX = '["s1", "s2", "s3", "s4", "s5", "s6"]'
LONGITUDINAL = f"""
[[longitudinal]]
name = "iesr by session"
outcome = "iesr"
predictor = "wai"
timepoints = {SIX}
"""
MODERATION = """
[[moderation]]
outcome = "caps"
predictor = "wai"
timepoints = ["s3"]
"""
ARTICLE = """
[[outcomes]]
score = "caps"
[[predictors]]
score = "wai"
timepoints = ["s4"]
"""


def plan_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run(tmp_path: Path, plan: str, data: Path = SESSIONS):
    out = tmp_path / "out"
    fast = ["--bootstrap", "0", "--permutations", "0"]
    path = str(plan_file(tmp_path, plan))
    result = runner.invoke(app, ["analyze", str(data), "--plan", path, "--out", str(out), *fast])
    return result, out


def assert_clear_failure(result, *fragments: str) -> None:
    output = result.output
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    for fragment in fragments:
        assert fragment in output, (fragment, output)


# --------------------------------------------------------------------------- plan validation


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (LONGITUDINAL.replace(SIX, '["s1", "s2"]'), "needs at least 3"),
        (LONGITUDINAL + "lag = 6\n", "lag 6 with 6 timepoints"),
        (LONGITUDINAL + "lag = 0\n", "longitudinal.0.lag"),
        (LONGITUDINAL + "lag = 1.5\n", "longitudinal.0.lag"),
        (LONGITUDINAL + "lag = true\n", "longitudinal.0.lag"),
        (LONGITUDINAL + "previous_outcome = 'yes'\n", "longitudinal.0.previous_outcome"),
        (LONGITUDINAL.replace('name = "iesr by session"', 'name = ""'), "longitudinal.0.name"),
        (LONGITUDINAL.replace(SIX, '["s1", "s2", "s1"]'), "more than once"),
        (LONGITUDINAL + LONGITUDINAL, "is also the name of longitudinal.0"),
        (LONGITUDINAL.replace('outcome = "iesr"', 'outcome = "wai"'), "both 'wai'"),
        (LONGITUDINAL + "colour = 1\n", "keys allowed here: name, outcome, predictor"),
        (MODERATION.replace('timepoints = ["s3"]', "timepoints = []"), "is empty"),
        (MODERATION + MODERATION, "declared twice"),
        ("[[outcomes]]\nscore = 'caps'\n" + MODERATION, "predictors: required"),
        ("name = 'nothing'\n", "declares no model"),
        (MODERATION + "df_method = 'kenward-roger'\n", "moderation.0.df_method"),
        (LONGITUDINAL + "df_method = 'z'\n", "longitudinal.0.df_method"),
    ],
)
def test_invalid_sections_name_the_entry(tmp_path, text, fragment):
    with pytest.raises(PlanError) as info:
        load_plan(plan_file(tmp_path, text))
    assert fragment in str(info.value)
    assert all("Fix:" in line for line in info.value.messages)


def test_article_plan_is_unchanged_and_sections_are_optional():
    plan = load_plan()
    assert plan.has_article_models and len(plan.model_specs()) == 6
    assert plan.longitudinal == () and plan.moderation == ()


def test_a_plan_may_hold_only_mixed_sections(tmp_path):
    from alliance.report.html import plan_toml

    plan = load_plan(plan_file(tmp_path, LONGITUDINAL + MODERATION))
    # the report's Provenance prints the plan as TOML that reads back to the same plan
    assert load_plan(plan_file(tmp_path, plan_toml(plan))) == plan
    assert not plan.has_article_models and plan.model_specs() == []
    assert plan.longitudinal[0].term_names == (
        "(Intercept)",
        "time",
        "wai_within",
        "wai_between",
    )


# --------------------------------------------------------------------------- end to end


def test_mixed_only_plan_writes_the_specified_keys(tmp_path):
    result, out = run(tmp_path, LONGITUDINAL + MODERATION)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text())
    assert document["models"] == []
    (lm,) = document["longitudinal_models"]
    spec_keys = {"name", "outcome", "predictor", "lag", "n_participants", "n_observations"}
    spec_keys |= {"terms", "variance_components", "icc", "singular"}
    assert spec_keys <= set(lm)
    term_keys = {"name", "estimate", "std_error", "df", "t", "p", "ci_low", "ci_high"}
    assert all(set(t) == term_keys for t in lm["terms"])
    assert [t["name"] for t in lm["terms"]] == ["(Intercept)", "time", "wai_within", "wai_between"]
    assert set(lm["variance_components"]) == {"participant", "residual"}
    (mm,) = document["moderation_models"]
    assert {"outcome", "predictor", "timepoint", "n_episodes", "n_participants"} <= set(mm)
    assert [t["name"] for t in mm["terms"]] == [
        "(Intercept)",
        "baseline",
        "wai",
        "mdma",
        "wai:mdma",
    ]
    assert mm["n_placebo_episodes"] > 0 and mm["n_episodes"] > mm["n_participants"]
    # moderation models default to Kenward–Roger, longitudinal ones to Satterthwaite
    assert (lm["df_method"], mm["df_method"]) == (
        "Satterthwaite (lmerTest)",
        "Kenward-Roger (pbkrtest)",
    )
    # therapist_id is in the data: ICCs and the few-therapists warning, no therapist effect
    effects = document["therapist_effects"]["iesr by session"]
    assert effects["therapist_random_effect"] is False and effects["n_therapists"] == 4
    assert "fewer than 5" in effects["warnings"][0]
    html = (out / "report.html").read_text()
    assert "Within- and between-person alliance slopes" in html
    assert 'id="mixed-models"' in html and "Satterthwaite" in html and "Kenward" in html
    assert "fewer than 5, so a therapist random effect cannot be estimated" in html
    assert 'id="summary"' not in html  # no empty article sections
    assert (out / "tables" / "mixed_terms.csv").exists()
    # every key the mixed models write is documented
    documented = set(re.findall(r"`([A-Za-z_0-9]+)`", DOCS.read_text(encoding="utf-8")))

    def keys(value) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {k for v in value.values() for k in keys(v)}
        if isinstance(value, list):
            return {k for v in value for k in keys(v)}
        return set()

    named = keys(document["longitudinal_models"]) | keys(document["moderation_models"])
    named |= {k for v in document["therapist_effects"].values() for k in keys(v)}
    assert not named - documented, named - documented


def test_df_method_key_chooses_the_test(tmp_path):
    """df_method = "satterthwaite" restores lmerTest's test in a moderation model and
    "kenward_roger" gives pbkrtest's in a longitudinal one; same estimates either way."""
    plan = (LONGITUDINAL + 'df_method = "kenward_roger"\n') + (
        MODERATION + 'df_method = "satterthwaite"\n'
    )
    result, out = run(tmp_path, plan)
    assert result.exit_code == 0, result.output
    switched = json.loads((out / "results.json").read_text())
    (tmp_path / "default").mkdir()
    result, out = run(tmp_path / "default", LONGITUDINAL + MODERATION)
    default = json.loads((out / "results.json").read_text())
    for kind, method in (
        ("longitudinal_models", "Kenward-Roger (pbkrtest)"),
        ("moderation_models", "Satterthwaite (lmerTest)"),
    ):
        (a,), (b,) = switched[kind], default[kind]
        assert a["df_method"] == method != b["df_method"]
        for ta, tb in zip(a["terms"], b["terms"], strict=True):
            assert ta["estimate"] == pytest.approx(tb["estimate"], rel=1e-12)
            assert ta["df"] != pytest.approx(tb["df"], rel=1e-6)


def test_article_and_mixed_sections_together(tmp_path):
    result, out = run(tmp_path, ARTICLE + LONGITUDINAL)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text())
    assert len(document["models"]) == 1 and len(document["longitudinal_models"]) == 1
    assert 'id="summary"' in (out / "report.html").read_text()


def test_no_placebo_episode_is_a_clear_error(tmp_path):
    frame = pd.read_csv(SESSIONS)
    frame = frame.loc[~((frame["arm"] == "placebo") & (frame["phase"] == "randomized"))]
    path = tmp_path / "mdma_only.csv"
    frame.to_csv(path, index=False)
    result, _ = run(tmp_path, MODERATION, path)
    assert_clear_failure(result, "caps~wai@s3×mdma", "no placebo episode")


def test_timepoint_absent_from_the_data_is_a_clear_error(tmp_path):
    result, _ = run(tmp_path, LONGITUDINAL.replace(SIX, '["s1", "s2", "s3", "s12"]'))
    assert_clear_failure(result, "timepoint 's12' of score 'iesr' is absent")


def test_timepoint_without_data_is_a_clear_error(tmp_path):
    frame = pd.read_csv(SESSIONS)
    frame["wai__s5"] = np.nan
    path = tmp_path / "blank_s5.csv"
    frame.to_csv(path, index=False)
    result, _ = run(tmp_path, LONGITUDINAL, path)
    assert_clear_failure(result, "iesr by session", "timepoint 's5' of score 'wai' has no value")


def test_participant_with_one_observation_stays_and_is_counted(tmp_path):
    frame = pd.read_csv(SESSIONS)
    one = frame.index[(frame["participant_id"] == "P01")]
    frame.loc[one, [f"iesr__s{k}" for k in range(3, 7)]] = np.nan  # only s2 ← s1 usable
    frame.loc[frame["participant_id"] == "P02", [f"iesr__s{k}" for k in range(2, 7)]] = np.nan
    path = tmp_path / "sparse.csv"
    frame.to_csv(path, index=False)
    result, out = run(tmp_path, LONGITUDINAL, path)
    assert result.exit_code == 0, result.output
    (lm,) = json.loads((out / "results.json").read_text())["longitudinal_models"]
    assert lm["n_single_observation"] >= 1
    assert {e["participant_id"] for e in lm["excluded"]} == {"P02"}
    assert "no session with the outcome" in lm["excluded"][0]["reason"]


def test_item_level_file_runs_the_sections(tmp_path):
    """Session-level WAI and PCL-5 items, scored by alliance, feed the lagged model as a scored
    file would."""
    from tests.conftest import small_trial

    items = small_trial()
    wai = items.loc[(items["instrument"] == "WAI") & (items["timepoint"] == "s4")]
    rng = np.random.default_rng(0)
    copies = []
    for k in range(5, 9):
        session = wai.assign(timepoint=f"s{k}")
        session["value"] = np.clip(session["value"] + rng.integers(-1, 2, len(session)), 1, 7)
        copies.append(session)
    iesr = items.loc[(items["instrument"] == "IESR") & (items["timepoint"] == "post")]
    pcl5 = iesr.loc[iesr["item"].astype(int) <= 20].assign(instrument="PCL5")
    for k in range(5, 9):
        session = pcl5.assign(timepoint=f"s{k}")
        session["value"] = np.clip(session["value"] + rng.integers(-1, 2, len(session)), 0, 4)
        copies.append(session)
    path = tmp_path / "items.csv"
    pd.concat([items, *copies]).to_csv(path, index=False)
    plan = LONGITUDINAL.replace(SIX, '["s5", "s6", "s7", "s8"]').replace('"iesr"', '"pcl5"')
    result, out = run(tmp_path, plan, path)
    assert result.exit_code == 0, result.output
    (lm,) = json.loads((out / "results.json").read_text())["longitudinal_models"]
    assert lm["n_observations"] == 3 * lm["n_participants"]
    assert [t["name"] for t in lm["terms"]][2:] == ["wai_within", "wai_between"]
    assert lm["outcome"] == "pcl5"


# --------------------------------------------------------------------------- model rows


def test_lagged_rows_follow_the_definition():
    episodes = pd.DataFrame(
        {
            "participant_id": ["a", "b"],
            "y__t1": [10.0, 20.0],
            "y__t2": [11.0, np.nan],
            "y__t3": [12.0, 22.0],
            "y__t4": [13.0, 23.0],
            "w__t1": [1.0, 4.0],
            "w__t2": [2.0, 5.0],
            "w__t3": [np.nan, 9.0],
            "w__t4": [100.0, 100.0],  # never a lagged predictor: not in the person mean
        }
    )
    spec = LongitudinalSpec(
        name="m", outcome="y", predictor="w", timepoints=("t1", "t2", "t3", "t4")
    )
    data = longitudinal_data(episodes, spec)
    rows = data.rows
    # a: mean of w over t1..t3 observed = 1.5; b: (4+5+9)/3 = 6; grand mean of means = 3.75
    # a rows: j=2 (w t1), j=3 (w t2); j=4 needs w t3: missing. b: j=2 y missing; j=3, j=4.
    assert rows["participant_id"].tolist() == ["a", "a", "b", "b"]
    assert rows["time"].tolist() == [1.0, 2.0, 2.0, 3.0]
    assert rows["y"].tolist() == [11.0, 12.0, 22.0, 23.0]
    assert rows["w_within"].tolist() == [-0.5, 0.5, -1.0, 3.0]
    assert rows["w_between"].tolist() == [-2.25, -2.25, 2.25, 2.25]
    with_previous = longitudinal_data(
        episodes, spec.model_copy(update={"previous_outcome": True})
    ).rows
    # b at t3 has no outcome at t2, so that row goes
    assert with_previous["y_previous"].tolist() == [10.0, 11.0, 22.0]


def test_lag_two_rows():
    episodes = pd.DataFrame(
        {"participant_id": ["a"], **{f"y__t{k}": [float(k)] for k in range(1, 5)}}
        | {f"w__t{k}": [float(10 * k)] for k in range(1, 5)}
    )
    spec = LongitudinalSpec(
        name="m", outcome="y", predictor="w", timepoints=("t1", "t2", "t3", "t4"), lag=2
    )
    rows = longitudinal_data(episodes, spec).rows
    assert rows["time"].tolist() == [2.0, 3.0]
    assert rows["w_within"].tolist() == [-5.0, 5.0]  # w t1, t2 minus their mean 15


def test_longitudinal_failure_names_the_model():
    episodes = pd.DataFrame(
        {"participant_id": ["a", "b", "c"]}
        | {f"y__t{k}": [1.0, 2.0, np.nan] for k in range(1, 4)}
        | {f"w__t{k}": [np.nan, np.nan, 3.0] for k in range(1, 4)}
    )
    spec = LongitudinalSpec(
        name="sparse", outcome="y", predictor="w", timepoints=("t1", "t2", "t3")
    )
    with pytest.raises(AnalysisError, match="model sparse: no participant"):
        fit_longitudinal(longitudinal_data(episodes, spec))


# --------------------------------------------------------------------------- null level

NULL_LEVEL = json.loads((SESSIONS.parent / "null_level.json").read_text())


def _null_rate(
    rng: np.random.Generator,
    n_single: int,
    n_pairs: int,
    reps: int,
    df_method: str = "satterthwaite",
) -> float:
    """Share of null data sets (no interaction; random intercept SD 6, residual SD 10, covariates
    independent of it) in which alliance:mdma is rejected at .05; the design of
    tests/r/mixed_null_level.R: ``n_single`` MDMA-only participants, ``n_pairs`` who cross over."""
    pid = np.r_[np.arange(n_single), np.repeat(n_single + np.arange(n_pairs), 2)]
    m = np.r_[np.ones(n_single), np.tile([0.0, 1.0], n_pairs)]
    n = len(pid)
    names = ["(Intercept)", "baseline", "wai", "mdma", "wai:mdma"]
    rejected = 0
    for _ in range(reps):
        u = rng.normal(0.0, 6.0, n_single + n_pairs)
        b = rng.normal(80.0, 12.0, n)
        a = rng.normal(5.0, 0.7, n)
        a -= a.mean()
        y = 20.0 + 0.5 * b - 3.0 * a - 20.0 * m + u[pid] + rng.normal(0.0, 10.0, n)
        X = np.column_stack([np.ones(n), b, a, m, a * m])
        p = fit_random_intercept(y, X, pid, names, df_method=df_method).terms()["p"].iloc[4]
        rejected += p < 0.05
    return rejected / reps


def test_interaction_level_at_22_episodes_is_lmertests():
    """At 22 episodes (10 MDMA-only participants, 6 who cross over) Satterthwaite's test of
    alliance:mdma is liberal in lmerTest itself (about 8 % at a nominal 5 %, measured by
    tests/r/mixed_null_level.R); the engine reproduces lmerTest's level, not a better one."""
    reference = NULL_LEVEL["crossover_6"]
    reps = 1000
    rate = _null_rate(np.random.default_rng(606), 10, 6, reps)
    r = reference["rejection_rate"]
    se = np.sqrt(r * (1 - r) / reference["reps"] + r * (1 - r) / reps)
    assert abs(rate - r) < 3 * se, (rate, r)


KR_NULL_LEVEL = json.loads((SESSIONS.parent / "kr_null_level.json").read_text())


def test_default_moderation_test_keeps_its_level_at_22_episodes():
    """At 22 episodes (10 MDMA-only participants, 6 who cross over) the default test of a
    [[moderation]] model, Kenward–Roger, keeps the nominal 5 % within the Monte Carlo error of
    1,000 data sets (band: 3 binomial SEs, 2.9–7.1 %). In R (pbkrtest through lmerTest,
    tests/r/mixed_kr_null_level.R, 4,000 null data sets of this design) KR rejects in 5.65 %
    where lmerTest's Satterthwaite test rejects in 8.0 %, outside the band (this test fails
    with Satterthwaite: 7.6 % on these data sets). The rate must also agree with R's KR rate."""
    df_method = ModerationSpec(outcome="caps", predictor="wai", timepoints=("s3",)).df_method
    assert df_method == "kenward_roger"
    reps = 1000
    rate = _null_rate(np.random.default_rng(2207), 10, 6, reps, df_method)
    assert abs(rate - 0.05) < 3 * np.sqrt(0.05 * 0.95 / reps), rate
    r = KR_NULL_LEVEL["crossover_6"]["kenward_roger"]
    se = np.sqrt(r * (1 - r) / KR_NULL_LEVEL["crossover_6"]["reps"] + r * (1 - r) / reps)
    assert abs(rate - r) < 3 * se, (rate, r)


def test_interaction_test_keeps_its_level_with_more_crossovers():
    """With 90 episodes (30 participants crossing over) the test holds its nominal level."""
    reps = 800
    rate = _null_rate(np.random.default_rng(3030), 30, 30, reps)
    assert abs(rate - 0.05) < 3 * np.sqrt(0.05 * 0.95 / reps), rate


# --------------------------------------------------------------------------- therapist effects


def _with_therapists(tmp_path: Path, n_therapists: int) -> Path:
    frame = pd.read_csv(SESSIONS)
    ids = sorted(frame["participant_id"].unique())
    therapist = {pid: f"T{i % n_therapists}" for i, pid in enumerate(ids)}
    frame["therapist_id"] = frame["participant_id"].map(therapist)
    shift = frame["therapist_id"].str[1:].astype(int) * 6.0  # a strong therapist effect
    for k in range(1, 7):
        frame[f"iesr__s{k}"] = (frame[f"iesr__s{k}"] + shift).clip(0, 88)
    crossover = frame.index[frame["phase"] == "open_label"][-1]
    frame.loc[crossover, "therapist_id"] = "T_other"  # a new therapist after crossing over
    path = tmp_path / "therapists.csv"
    frame.to_csv(path, index=False)
    return path


def test_therapist_icc_with_enough_therapists(tmp_path):
    result, out = run(tmp_path, LONGITUDINAL, _with_therapists(tmp_path, 8))
    assert result.exit_code == 0, result.output
    effects = json.loads((out / "results.json").read_text())["therapist_effects"]
    (entry,) = effects.values()
    assert entry["n_therapists"] == 8 and entry["therapist_random_effect"] is False
    assert entry["outcome_icc"] > 0.3
    assert not any("fewer than 5" in w for w in entry["warnings"])
    assert any("more than one therapist_id" in w for w in entry["warnings"])


def test_no_therapist_id_no_therapist_effects(tmp_path):
    frame = pd.read_csv(SESSIONS).drop(columns="therapist_id")
    path = tmp_path / "no_therapists.csv"
    frame.to_csv(path, index=False)
    result, out = run(tmp_path, LONGITUDINAL, path)
    assert result.exit_code == 0, result.output
    assert "therapist_effects" not in json.loads((out / "results.json").read_text())
