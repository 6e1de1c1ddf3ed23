"""``alliance meta`` through the command line: outputs, sign convention, literature, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from alliance.cli import app

runner = CliRunner()
FIXTURES = Path(__file__).parent / "fixtures" / "r" / "meta"
REFERENCE = json.loads((FIXTURES / "metafor.json").read_text(encoding="utf-8"))


def meta(*args: str) -> object:
    return runner.invoke(app, ["meta", *args])


def write_table(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("method", "test"), [("reml", "z"), ("pm", "knha"), ("dl", "z")])
def test_meta_json_matches_metafor(tmp_path: Path, method: str, test: str) -> None:
    out = tmp_path / "meta"
    result = meta(
        str(FIXTURES / "partial_r_k6.csv"),
        "--out",
        str(out),
        "--method",
        method,
        "--test",
        test,
        "--no-figures",
    )
    assert result.exit_code == 0, result.output
    document = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    ref = next(
        f["tight"] for f in REFERENCE["partial_r_k6"] if f["method"] == method and f["test"] == test
    )
    pooled, het = document["pooled"], document["heterogeneity"]
    for ours, theirs in [
        (pooled["r"], ref["r"]),
        (pooled["ci_low"], ref["r_ci_low"]),
        (pooled["ci_high"], ref["r_ci_high"]),
        (pooled["pi_low"], ref["r_pi_low"]),
        (pooled["pi_high"], ref["r_pi_high"]),
        (pooled["z"], ref["estimate"]),
        (pooled["se"], ref["se"]),
        (pooled["p"], ref["p"]),
        (het["tau2"], ref["tau2"]),
        (het["q"], ref["q"]),
        (het["q_p"], ref["q_p"]),
        (het["i2"] / 100, ref["i2"] / 100),
        (het["h2"], ref["h2"]),
    ]:
        assert ours == pytest.approx(theirs, abs=1e-9)
    assert [s["weight"] for s in document["studies"]] == pytest.approx(ref["weights"], abs=1e-7)
    assert [s["covariates"] for s in document["studies"]] == [1, 2, 1, 3, 1, 2]
    assert document["method"] == method and document["test"] == test and document["k"] == 6
    assert (out / "meta.html").is_file() and not (out / "forest.svg").exists()


def test_outputs_forest_plot_and_page_with_literature(tmp_path: Path) -> None:
    out = tmp_path / "meta"
    result = meta(str(FIXTURES / "k3.csv"), "--out", str(out), "--literature")
    assert result.exit_code == 0, result.output
    svg = (out / "forest.svg").read_text(encoding="utf-8")
    assert "<title>" in svg and "Flückiger et al. 2018" in svg
    assert (out / "forest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "meta.html").read_text(encoding="utf-8")
    assert "<svg" in page and "http://" not in page.replace("http://www.w3.org", "")
    assert "10.1037/pst0000172" in page and "Published effects" in page
    document = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    entries = {e["key"]: e for e in document["literature"]["entries"]}
    assert entries["fluckiger2018"]["r"] == pytest.approx(0.278)
    # Published as r = -.34 with PTSD severity: shown as +.34, the published sign kept.
    assert entries["howard2021"]["r"] == pytest.approx(0.34)
    assert entries["howard2021"]["r_published"] == pytest.approx(-0.34)
    assert not document["literature"]["pooled_with_studies"]
    assert document["k"] == 3  # the literature is drawn, not pooled


def test_pool_literature_pools_only_entries_with_an_interval(tmp_path: Path) -> None:
    out = tmp_path / "meta"
    # DerSimonian–Laird: REML's Fisher scoring does not converge on three small trials beside
    # one large meta-analysis (metafor fails there too; see test_meta_reference).
    result = meta(
        str(FIXTURES / "k3.csv"),
        "--out",
        str(out),
        "--pool-literature",
        "--method",
        "dl",
        "--no-figures",
    )
    assert result.exit_code == 0, result.output
    document = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert document["k"] == 4
    assert document["studies"][-1]["source"] == "literature: fluckiger2018"
    assert {e["key"] for e in document["literature"]["not_pooled"]} == {
        "howard2021",
        "levin2024_prep",
        "levin2024_post",
    }
    assert "not pooled: howard2021" in result.output


def test_direction_column_flips_severity_correlations(tmp_path: Path) -> None:
    rows = [
        {"study": "A", "r": -0.30, "n": 40, "direction": "higher_is_worse"},
        {"study": "B", "r": 0.55, "n": 25, "direction": ""},
    ]
    out = tmp_path / "meta"
    result = meta(str(write_table(tmp_path / "s.csv", rows)), "--out", str(out), "--no-figures")
    assert result.exit_code == 0, result.output
    document = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    k2 = next(f["tight"] for f in REFERENCE["k2"] if f["method"] == "reml" and f["test"] == "z")
    assert document["pooled"]["r"] == pytest.approx(k2["r"], abs=1e-9)
    first = document["studies"][0]
    assert first["r"] == pytest.approx(0.30) and first["r_as_given"] == pytest.approx(-0.30)
    assert first["sign_flipped"] is True
    assert "sign-flipped" in result.output
    assert "sign flipped" in (out / "meta.html").read_text(encoding="utf-8")


def _errors(result: object) -> str:
    return result.output  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [{"study": "A", "r": 1.0, "n": 30}, {"study": "B", "r": 0.2, "n": 30}],
            ["row 2", "column 'r'", "strictly between -1 and 1"],
        ),
        (
            [{"study": "A", "r": 0.3, "n": 30}, {"study": "B", "r": -1.2, "n": 30}],
            ["row 3", "column 'r'"],
        ),
        (
            [
                {"study": "A", "r": 0.3, "n": 5, "covariates": 2},
                {"study": "B", "r": 0.2, "n": 30, "covariates": 0},
            ],
            ["row 2", "column 'n'", "exceed 3 + covariates = 5"],
        ),
        (
            [{"study": "A", "r": 0.3, "n": 30}, {"study": "A", "r": 0.2, "n": 30}],
            ["'A' is used 2 times", "row 2", "row 3"],
        ),
        (
            [{"study": "A", "r": "abc", "n": 30}, {"study": "B", "r": 0.2, "n": "x"}],
            ["row 2, column 'r': not a number", "row 3, column 'n'"],
        ),
        (
            [
                {"study": "A", "r": 0.3, "n": 30, "direction": "up"},
                {"study": "", "r": 0.2, "n": 30},
            ],
            ["unknown direction", "study name is blank"],
        ),
    ],
)
def test_bad_tables_exit_1_with_located_messages(
    tmp_path: Path, rows: list[dict], expected: list[str]
) -> None:
    table = write_table(tmp_path / "studies.csv", rows)
    before = table.read_bytes()
    result = meta(str(table), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1, result.output
    for text in expected:
        assert text in _errors(result)
    assert "Traceback" not in _errors(result)
    assert table.read_bytes() == before
    assert not (tmp_path / "out" / "meta.json").exists()


def test_reml_that_does_not_converge_exits_1_saying_what_to_try(tmp_path: Path) -> None:
    result = meta(str(FIXTURES / "nonconverging_k4.csv"), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert "REML estimate of τ² did not converge" in result.output
    assert "Try --method dl or --method pm" in result.output
    assert not (tmp_path / "o" / "meta.json").exists()


def test_missing_columns_are_named(tmp_path: Path) -> None:
    table = write_table(tmp_path / "s.csv", [{"name": "A", "r": 0.3}])
    result = meta(str(table), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "column 'study': required column is missing" in result.output
    assert "column 'n': required column is missing" in result.output


def test_one_study_says_what_it_gives_and_pools_nothing(tmp_path: Path) -> None:
    table = write_table(tmp_path / "s.csv", [{"study": "Only", "r": 0.4, "n": 28}])
    result = meta(str(table), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "only one study (Only: r = 0.400, 95% CI [0.032, 0.673]" in result.output
    assert "nothing was pooled" in result.output


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["--method", "hs"], "--method"),
        (["--test", "t"], "--test"),
        (["--model", "caps"], "--model"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], hint: str) -> None:
    result = meta(str(FIXTURES / "k2.csv"), "--out", str(tmp_path / "o"), *args)
    assert result.exit_code == 2
    assert hint in result.output


# --------------------------------------------------------------------------- results.json


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three sites' results.json, each made by alliance simulate + alliance analyze."""
    root = tmp_path_factory.mktemp("sites")
    paths = []
    for seed, n in ((1, 30), (2, 45), (3, 26)):
        data = root / f"site{seed}.csv"
        made = runner.invoke(
            app,
            [
                "simulate",
                "--n",
                str(n),
                "--seed",
                str(seed),
                "--layout",
                "scored",
                "--out",
                str(data),
            ],
        )
        assert made.exit_code == 0, made.output
        out = root / f"site_{seed}"
        analysed = runner.invoke(
            app,
            [
                "analyze",
                str(data),
                "--out",
                str(out),
                "--bootstrap",
                "0",
                "--permutations",
                "0",
                "--no-figures",
            ],
        )
        assert analysed.exit_code == 0, analysed.output
        paths.append(out / "results.json")
    return paths


def test_results_json_round_trip_equals_the_table(tmp_path: Path, sites: list[Path]) -> None:
    out_json = tmp_path / "from_json"
    result = meta(*map(str, sites), "--model", "caps@s4", "--out", str(out_json), "--no-figures")
    assert result.exit_code == 0, result.output
    rows = []
    for path in sites:
        model = next(m for m in json.loads(path.read_text())["models"] if m["key"] == "caps~wai@s4")
        rows.append(
            {
                "study": path.parent.name,
                "r": model["partial_r"],
                "n": model["n"],
                "covariates": 1,
                "direction": "higher_is_worse",
            }
        )
    out_table = tmp_path / "from_table"
    table = write_table(tmp_path / "sites.csv", rows)
    assert meta(str(table), "--out", str(out_table), "--no-figures").exit_code == 0
    from_json = json.loads((out_json / "meta.json").read_text())
    from_table = json.loads((out_table / "meta.json").read_text())
    assert from_json["pooled"] == pytest.approx(from_table["pooled"], abs=1e-15)
    assert from_json["heterogeneity"] == pytest.approx(from_table["heterogeneity"], abs=1e-15)
    for a, b in zip(from_json["studies"], from_table["studies"], strict=True):
        assert a["study"] == b["study"] and a["covariates"] == 1 and a["sign_flipped"]
        assert a["r"] == pytest.approx(-a["r_as_given"]) and a["r"] == pytest.approx(b["r"])
        assert a["model"] == "caps~wai@s4"
    assert from_json["synthetic"] is True
    assert "SYNTHETIC" in (out_json / "meta.html").read_text(encoding="utf-8")


def test_results_json_needs_a_model_when_it_holds_several(tmp_path: Path, sites: list[Path]):
    result = meta(*map(str, sites), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert "holds 6 models" in result.output and "--model" in result.output
    unknown = meta(*map(str, sites), "--model", "caps@s7", "--out", str(tmp_path / "o"))
    assert unknown.exit_code == 1
    assert "has no model 'caps@s7'; its models are caps~wai@pre_s3" in unknown.output


def test_results_json_of_different_plans_or_the_same_data_twice(
    tmp_path: Path, sites: list[Path]
) -> None:
    other = tmp_path / "site_x" / "results.json"
    other.parent.mkdir()
    document = json.loads(sites[1].read_text())
    document["plan"]["covariates"] = ["age"]
    document["input_sha256"] = "0" * 64
    other.write_text(json.dumps(document))
    result = meta(str(sites[0]), str(other), "--model", "caps@s4", "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert "site_x: made with another analysis plan" in result.output
    assert "differs in: covariates" in result.output
    copy = tmp_path / "copy" / "results.json"
    copy.parent.mkdir()
    shutil.copy(sites[0], copy)
    twice = meta(str(sites[0]), str(copy), "--model", "caps@s4", "--out", str(tmp_path / "o"))
    assert twice.exit_code == 1
    assert "analysed the same data file" in twice.output


def test_not_a_results_json(tmp_path: Path) -> None:
    bad = tmp_path / "results.json"
    bad.write_text("{not json")
    result = meta(str(bad), str(FIXTURES / "k2.csv"), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert "results.json" in result.output and "not a JSON file" in result.output


def test_many_studies_are_drawn_as_one_rug_row(tmp_path: Path) -> None:
    rows = [{"study": f"S{i:03d}", "r": 0.1 + 0.004 * i, "n": 20 + i} for i in range(80)]
    out = tmp_path / "meta"
    result = meta(str(write_table(tmp_path / "many.csv", rows)), "--out", str(out))
    assert result.exit_code == 0, result.output
    svg = (out / "forest.svg").read_text(encoding="utf-8")
    assert "80 studies (each r; listed in meta.html)" in svg
    assert "S079" in (out / "meta.html").read_text(encoding="utf-8")
    assert len(json.loads((out / "meta.json").read_text())["studies"]) == 80


def test_out_naming_an_input_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "meta"
    out.mkdir()
    table = shutil.copy(FIXTURES / "k2.csv", out / "meta.json")
    result = meta(str(table), "--out", str(out))
    assert result.exit_code == 2
    assert "lies in the output folder" in result.output
