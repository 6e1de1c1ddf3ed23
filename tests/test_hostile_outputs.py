"""Hostile paths: outputs never destroy an input, output folders never mix two runs.

One group per class of failure: an output onto an input (also through links), an input inside
the output folder, stale files of an earlier run, a crash in the report stage, SIGINT/SIGTERM at
several stages, two runs racing into one folder, inputs that are pipes, devices, folders or too
large, and ``--out`` paths that cannot be written (refused before any work).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import alliance
from alliance.cli import app
from tests.conftest import sha256, small_trial

runner = CliRunner()
FAST = ["--bootstrap", "0", "--permutations", "0"]
SOURCE = str(Path(alliance.__file__).resolve().parents[1])


def plan_text(outcome: str, timepoint: str) -> str:
    return f"""
name = "one model"
alpha = 0.05
episode_rule = "first_mdma"
missing_data = "complete_cases"

[multiplicity]
method = "holm"
family = "all"

[[outcomes]]
score = "{outcome}"
label = "{outcome}"

[[predictors]]
score = "wai"
label = "WAI total"
timepoints = ["{timepoint}"]
"""


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) and the SHA-256 of its bytes."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def leftovers(folder: Path) -> list[str]:
    """Temporary files of a transaction still in ``folder``: there must be none after a run."""
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.name.startswith(".alliance-") and p.name != ".alliance-manifest.json"
    )


def assert_consistent(folder: Path, user_files: set[str] = frozenset()) -> str:
    """The folder holds exactly one run: its manifest lists every file but the user's, and
    results.json and report.html come from the same input. Returns that input's SHA-256."""
    manifest = json.loads((folder / ".alliance-manifest.json").read_text())
    present = set(snapshot(folder)) - {".alliance-manifest.json"} - set(user_files)
    assert set(manifest["files"]) == present
    digest = json.loads((folder / "results.json").read_text())["input_sha256"]
    assert digest in (folder / "report.html").read_text()
    assert leftovers(folder) == []
    return digest


def analyze_args(data: Path, plan: Path, out: Path) -> list[str]:
    return ["analyze", str(data), "--plan", str(plan), "--out", str(out), *FAST]


def said(result: object) -> str:
    """A command's output as one line: the usage-error box wraps long messages."""
    text = re.sub(r"[│╭╮╰╯─]", " ", getattr(result, "output", str(result)))
    return " ".join(text.split())


def start(*args: str, cwd: Path, memory: int | None = None) -> subprocess.Popen[str]:
    """``alliance *args`` in a process of its own, optionally with its address space capped."""
    env = {**os.environ, "PYTHONPATH": SOURCE + os.pathsep + os.environ.get("PYTHONPATH", "")}

    def cap() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.Popen(
        [sys.executable, "-m", "alliance", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=cap if memory else None,
    )


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 300
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            _, err = process.communicate()
            pytest.fail(f"the run never reached '{what}' (exit {process.returncode}): {err}")
        time.sleep(0.01)


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real earlier run (one model, caps at s4) into ``out``, beside its input and plan."""
    root = tmp_path_factory.mktemp("previous")
    small_trial().to_csv(root / "trial.csv", index=False)
    (root / "plan.toml").write_text(plan_text("caps", "s4"))
    result = runner.invoke(
        app,
        analyze_args(root / "trial.csv", root / "plan.toml", root / "out"),
    )
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def site(previous: Path, tmp_path: Path) -> Path:
    """A copy of the earlier run's folder, input and plan, plus another input (other.csv)."""
    shutil.copytree(previous, tmp_path / "site", symlinks=True)
    small_trial(seed=11).to_csv(tmp_path / "site" / "other.csv", index=False)
    return tmp_path / "site"


# --------------------------------------------------------------------------- 1. inputs destroyed


@pytest.mark.parametrize("how", ["same path", "symlink", "hard link", "dot-dot"])
def test_score_never_writes_over_its_input(trial_csv: Path, tmp_path: Path, how: str) -> None:
    before = sha256(trial_csv)
    out = {
        "same path": trial_csv,
        "symlink": tmp_path / "link.csv",
        "hard link": tmp_path / "hard.csv",
        "dot-dot": tmp_path / "sub" / ".." / "trial.csv",
    }[how]
    if how == "symlink":
        out.symlink_to(trial_csv)
    if how == "hard link":
        os.link(trial_csv, out)
    (tmp_path / "sub").mkdir()
    result = runner.invoke(app, ["score", str(trial_csv), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "--out" in said(result) and "never writes over its input" in said(result)
    assert sha256(trial_csv) == before


def test_no_command_writes_over_its_plan_mapping_or_calibration(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(plan_text("caps", "s4"))
    calibration = tmp_path / "calibration.toml"
    calibration.write_text("# not read: the output check comes first\n")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text("[columns]\n")
    data = tmp_path / "trial.csv"
    small_trial().to_csv(data, index=False)
    link = tmp_path / "plan-link.json"
    link.symlink_to(plan)
    before = {p: sha256(p) for p in (plan, calibration, mapping)}
    commands = [
        ["power", "--plan", str(plan), "--out", str(link), "--simulations", "0"],
        ["simulate", "--calibration", str(calibration), "--out", str(calibration)],
        ["simulate", "--plan", str(plan), "--out", str(plan)],
        ["score", str(data), "--mapping", str(mapping), "--out", str(mapping)],
    ]
    for command in commands:
        result = runner.invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        assert "never writes over its input" in said(result)
    assert {p: sha256(p) for p in before} == before


@pytest.mark.parametrize(
    "where",
    ["tables/descriptives.csv", "ledger.csv", "symlink to a table", "hard link to a table"],
)
def test_analyze_refuses_an_input_the_output_folder_would_replace(site: Path, where: str) -> None:
    out = site / "out"
    data = out / where
    if where == "symlink to a table":
        data = site / "data.csv"
        data.symlink_to(out / "tables" / "descriptives.csv")
    if where == "hard link to a table":
        data = site / "data.csv"
        os.link(out / "tables" / "model_terms.csv", data)
    before = snapshot(out)
    result = runner.invoke(app, ["analyze", str(data), "--out", str(out), *FAST])
    assert result.exit_code == 2, result.output
    assert "lies in the output folder" in said(result)
    assert snapshot(out) == before


def test_analyze_refuses_a_plan_inside_the_output_folder(site: Path) -> None:
    plan = site / "out" / "figures" / "plan.toml"
    shutil.copy(site / "plan.toml", plan)
    result = runner.invoke(
        app, ["analyze", str(site / "trial.csv"), "--plan", str(plan), "--out", str(site / "out")]
    )
    assert result.exit_code == 2, result.output
    assert "--plan" in said(result) and "lies in the output folder" in said(result)
    assert plan.read_text() == (site / "plan.toml").read_text()


# --------------------------------------------------------------------------- 3. folders that lie


def test_a_rerun_removes_stale_files_and_keeps_the_users(site: Path) -> None:
    out = site / "out"
    assert any("caps_wai_s4" in name for name in snapshot(out))
    # The user's own files, one of them this run's input, kept in the output folder.
    (out / "notes.txt").write_text("my notes")
    (out / "figures" / "my_figure.png").write_bytes(b"not ours")
    (out / "mine").mkdir()
    shutil.copy(site / "other.csv", out / "mine" / "trial.csv")
    user = {"notes.txt", "figures/my_figure.png", "mine/trial.csv"}
    kept = {name: digest for name, digest in snapshot(out).items() if name in user}
    (site / "iesr.toml").write_text(plan_text("iesr", "s9"))

    result = runner.invoke(
        app,
        analyze_args(out / "mine" / "trial.csv", site / "iesr.toml", out),
    )

    assert result.exit_code == 0, result.output
    after = snapshot(out)
    assert not [name for name in after if "caps_wai_s4" in name]  # the model left the plan
    assert [name for name in after if "iesr_wai_s9" in name]
    assert {name: after[name] for name in user} == kept
    assert assert_consistent(out, user) == sha256(site / "other.csv")


def test_a_folder_from_before_manifests_loses_its_stale_files_only(site: Path) -> None:
    out = site / "legacy"
    (out / "figures").mkdir(parents=True)
    (out / "results.json").write_text('{"alliance_version": "0.0.1"}')
    (out / "figures" / "added_variable_old_model.png").write_bytes(b"stale")
    (out / "tables").mkdir()
    (out / "tables" / "old_table.csv").write_text("stale\n")
    (out / "notes.txt").write_text("my notes")
    result = runner.invoke(
        app,
        analyze_args(site / "trial.csv", site / "plan.toml", out),
    )
    assert result.exit_code == 0, result.output
    assert not (out / "figures" / "added_variable_old_model.png").exists()
    assert not (out / "tables" / "old_table.csv").exists()
    assert (out / "notes.txt").read_text() == "my notes"
    assert_consistent(out, {"notes.txt"})


def test_a_crash_in_the_report_stage_leaves_the_previous_output(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = site / "out"
    before = snapshot(out)

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("report stage failed")

    monkeypatch.setattr("alliance.report.outputs.write_report", crash)
    result = runner.invoke(
        app,
        analyze_args(site / "other.csv", site / "plan.toml", out),
    )
    assert isinstance(result.exception, RuntimeError)
    assert snapshot(out) == before
    assert leftovers(out) == []
    # Into a new folder, the same crash leaves no folder at all.
    fresh = site / "fresh" / "out"
    result = runner.invoke(app, ["analyze", str(site / "other.csv"), "--out", str(fresh), *FAST])
    assert isinstance(result.exception, RuntimeError)
    assert not (site / "fresh").exists()


@pytest.mark.parametrize(
    "moves", [1, 3, 4], ids=["moving out the old", "old moved out", "moving in the new"]
)
def test_a_commit_killed_halfway_is_rolled_back_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moves: int
) -> None:
    from alliance.output import transaction
    from alliance.output.transaction import folder_lock, output_transaction

    out = tmp_path / "out"
    with output_transaction(out) as staging:
        (staging / "a.txt").write_text("old a")
        (staging / "sub").mkdir()
        (staging / "sub" / "b.txt").write_text("old b")
    (out / "user.txt").write_text("mine")
    before = snapshot(out)

    class Killed(BaseException):
        """Stands for SIGKILL: nothing after it runs, so no rollback either."""

    done: list[Path] = []
    real_move = transaction._move

    def dying_move(source: Path, target: Path) -> None:
        if len(done) == moves:  # the old run's 3 files go out first, then the new ones come in
            raise Killed
        done.append(target)
        real_move(source, target)

    monkeypatch.setattr(transaction, "_move", dying_move)
    monkeypatch.setattr(transaction, "_rollback", lambda *args: None)
    with pytest.raises(Killed), output_transaction(out) as staging:
        (staging / "a.txt").write_text("new a")
        (staging / "c.txt").write_text("new c")
    assert snapshot(out) != before and (out / ".alliance-journal.json").exists()
    monkeypatch.undo()

    with folder_lock(out) as folder:
        transaction.recover(folder)
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_a_lock_left_by_a_crashed_run_does_not_block(site: Path) -> None:
    out = site / "out"
    (out / ".alliance-lock").write_text("12345\n")  # its holder is long gone
    result = runner.invoke(
        app,
        analyze_args(site / "other.csv", site / "plan.toml", out),
    )
    assert result.exit_code == 0, result.output
    assert assert_consistent(out) == sha256(site / "other.csv")


# Kill tests: a real process, signalled once it has reached a stage of its run. The stages are
# found by watching the folder, not by timing: the lock taken (reading or analysing), results.json
# written into the staging folder (figures being drawn), report.html written (about to commit).
def _reached(out: Path, stage: str, before: dict[str, str]) -> Callable[[], bool]:
    def check() -> bool:
        if stage == "locked":
            return (out / ".alliance-lock").exists()
        name = "results.json" if stage == "results written" else "report.html"
        staged = any(out.glob(f".alliance-staging-*/{name}"))
        # Only the one file is read: the running commit moves whole folders (a walk of the
        # output folder could meet one that vanishes under it).
        try:
            now: str | None = hashlib.sha256((out / name).read_bytes()).hexdigest()
        except FileNotFoundError:
            now = None
        written = now != before.get(name)  # a run without staging
        return staged or written

    return check


@pytest.mark.parametrize(
    ("stage", "signum"),
    [
        ("locked", signal.SIGINT),
        ("locked", signal.SIGTERM),
        ("results written", signal.SIGINT),
        ("results written", signal.SIGTERM),
        ("report written", signal.SIGTERM),
    ],
)
def test_an_interrupted_run_leaves_the_previous_output(
    site: Path, stage: str, signum: signal.Signals
) -> None:
    out = site / "out"
    before = snapshot(out)
    process = start("analyze", "other.csv", "--plan", "plan.toml", "--out", "out", *FAST, cwd=site)
    wait_until(_reached(out, stage, before), process, stage)
    process.send_signal(signum)
    _, err = process.communicate(timeout=300)
    assert "Traceback" not in err
    if process.returncode == 0:  # finished before the signal came: then the new run, whole
        assert assert_consistent(out) == sha256(site / "other.csv")
        return
    assert process.returncode == 128 + signum, err
    assert "interrupted" in err
    if stage == "report written" and snapshot(out) != before:
        # Signalled as the commit ended: the new run is complete, never a mix.
        assert assert_consistent(out) == sha256(site / "other.csv")
    else:
        assert snapshot(out) == before
    assert leftovers(out) == []


def test_a_second_run_into_a_busy_folder_fails_at_once(site: Path) -> None:
    from alliance.output.transaction import folder_lock

    out = site / "out"
    before = snapshot(out)
    with folder_lock(out):
        process = start("analyze", "other.csv", "--out", "out", *FAST, cwd=site)
        _, err = process.communicate(timeout=300)
    assert process.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "another alliance run is writing to this folder" in lines[0]
    assert snapshot(out) == before


def test_two_runs_racing_into_one_folder_leave_one_whole_output(site: Path) -> None:
    out = site / "race"
    run = ("--plan", "plan.toml", "--out", "race", *FAST)
    first = start("analyze", "trial.csv", *run, cwd=site)
    second = start("analyze", "other.csv", *run, cwd=site)
    errors = [p.communicate(timeout=600)[1] for p in (first, second)]
    codes = [p.returncode for p in (first, second)]
    assert 0 in codes, errors
    for code, err in zip(codes, errors, strict=True):
        assert "Traceback" not in err
        if code != 0:
            assert code == 1 and "another alliance run is writing" in err
    digest = assert_consistent(out)
    winners = [
        sha256(site / n) for n, c in zip(("trial.csv", "other.csv"), codes, strict=True) if c == 0
    ]
    assert digest in winners


# --------------------------------------------------------------------------- 5. --out checked first


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to read the data fails the test: the refusal must come before the work."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the data were read before --out was checked")

    monkeypatch.setattr("alliance.pipeline.load_data", refuse)


@pytest.mark.parametrize("kind", ["a file", "a dangling symlink", "under a file"])
def test_an_unusable_out_folder_is_refused_before_any_work(
    trial_csv: Path, tmp_path: Path, no_work: None, kind: str
) -> None:
    out = tmp_path / "out"
    if kind == "a file":
        out.write_text("a file")
    if kind == "a dangling symlink":
        out.symlink_to(tmp_path / "nowhere")
    if kind == "under a file":
        (tmp_path / "file").write_text("a file")
        out = tmp_path / "file" / "out"
    result = runner.invoke(app, ["analyze", str(trial_csv), "--out", str(out), *FAST])
    assert result.exit_code == 2, result.output
    assert "--out" in said(result)
    assert not (tmp_path / "nowhere").exists()


def test_a_read_only_out_folder_is_refused_before_any_work(
    trial_csv: Path, tmp_path: Path, no_work: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    # Root may write into a read-only folder, so the permission check is stood in for here;
    # the next test checks a real read-only folder when not running as root.
    from alliance.output import paths

    real = paths._writable
    monkeypatch.setattr(
        paths, "_writable", lambda path, *mode: Path(path) != out and real(path, *mode)
    )
    result = runner.invoke(app, ["analyze", str(trial_csv), "--out", str(out), *FAST])
    assert result.exit_code == 2, result.output
    assert "read-only" in said(result)


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root can write into a read-only folder; the test above checks the refusal",
)
def test_a_really_read_only_out_folder_is_refused(
    trial_csv: Path, tmp_path: Path, no_work: None
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = runner.invoke(app, ["analyze", str(trial_csv), "--out", str(out), *FAST])
    finally:
        out.chmod(stat.S_IRWXU)
    assert result.exit_code == 2, result.output


@pytest.mark.parametrize("kind", ["a folder", "a named pipe"])
def test_an_out_file_that_is_no_regular_file_is_refused(
    trial_csv: Path, tmp_path: Path, no_work: None, kind: str
) -> None:
    out = tmp_path / "scores.csv"
    if kind == "a folder":
        out.mkdir()
    else:
        os.mkfifo(out)
    result = runner.invoke(app, ["score", str(trial_csv), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert out.is_dir() if kind == "a folder" else stat.S_ISFIFO(out.lstat().st_mode)


def test_an_out_file_of_an_unknown_format_is_refused_before_any_work(
    trial_csv: Path, tmp_path: Path, no_work: None
) -> None:
    result = runner.invoke(app, ["score", str(trial_csv), "--out", str(tmp_path / "x.txt")])
    assert result.exit_code == 2, result.output
    assert "cannot write a '.txt' file" in said(result)


def test_an_interrupted_spss_write_leaves_no_temporary_file(
    trial_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyreadstat

    def interrupted(frame: object, path: str) -> None:
        Path(path).write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(pyreadstat, "write_sav", interrupted)
    out = tmp_path / "written" / "scores.sav"
    result = runner.invoke(app, ["score", str(trial_csv), "--out", str(out)])
    assert result.exit_code != 0
    assert list(out.parent.iterdir()) == []


# --------------------------------------------------------------------------- 5./6. hostile inputs


def finishes(call: Callable[[], object], unblock: Path | None = None) -> BaseException | None:
    """Run ``call`` with a time limit; a call still blocked on the pipe ``unblock`` fails."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    if thread.is_alive():
        if unblock is not None:  # let the blocked reader go before failing
            os.close(os.open(unblock, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("reading the input blocked")
    return outcome[0]


@pytest.mark.parametrize("loader", ["read_table", "load_plan", "load_mapping", "load_calibration"])
def test_every_reader_refuses_a_named_pipe_without_blocking(tmp_path: Path, loader: str) -> None:
    from alliance.errors import AllianceError
    from alliance.input.mapping import load_mapping
    from alliance.input.readers import read_table
    from alliance.models.plan import load_plan
    from alliance.synthetic.settings import load_calibration

    functions = {
        "read_table": read_table,
        "load_plan": load_plan,
        "load_mapping": load_mapping,
        "load_calibration": load_calibration,
    }
    pipe = tmp_path / ("input.csv" if loader == "read_table" else "input.toml")
    os.mkfifo(pipe)
    error = finishes(lambda: functions[loader](pipe), unblock=pipe)
    assert isinstance(error, AllianceError)
    assert "named pipe" in str(error)


@pytest.mark.parametrize(
    "command",
    [
        ["validate", "pipe.csv"],
        ["validate", "zero.csv"],
        ["analyze", "trial.csv", "--plan", "/dev/zero", "--out", "out"],
        ["simulate", "--calibration", "/dev/urandom", "--out", "sim.csv"],
    ],
    ids=["pipe", "symlink-to-dev-zero", "dev-zero-plan", "dev-urandom-calibration"],
)
def test_pipes_and_devices_are_refused_quickly(tmp_path: Path, command: list[str]) -> None:
    small_trial().to_csv(tmp_path / "trial.csv", index=False)
    os.mkfifo(tmp_path / "pipe.csv")
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    # A run that reads a device anyway must fail fast, not take the machine's memory with it.
    process = start(*command, cwd=tmp_path, memory=4 * 1024**3)
    try:
        _, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"{command} hung on its input")
    assert process.returncode == 1, err
    assert re.search(r"named pipe|character device", err)
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_folder_given_as_data_is_refused(tmp_path: Path) -> None:
    (tmp_path / "trial.csv").mkdir()
    result = runner.invoke(app, ["validate", str(tmp_path / "trial.csv")])
    assert result.exit_code == 1
    assert "folder" in said(result)


def test_inputs_over_the_size_cap_are_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.csv"
    with open(big, "wb") as handle:  # sparse: 3 GiB that take no disk space
        handle.truncate(3 * 1024**3)
    result = runner.invoke(app, ["validate", str(big)])
    assert result.exit_code == 1
    assert "larger than alliance reads" in said(result) and "ALLIANCE_MAX_DATA_MB" in said(result)

    small = tmp_path / "small.csv"
    small_trial().to_csv(small, index=False)  # about 100 KB
    monkeypatch.setenv("ALLIANCE_MAX_DATA_MB", "0.05")
    result = runner.invoke(app, ["validate", str(small)])
    assert result.exit_code == 1 and "ALLIANCE_MAX_DATA_MB" in said(result)
    monkeypatch.setenv("ALLIANCE_MAX_DATA_MB", "1")
    assert runner.invoke(app, ["validate", str(small)]).exit_code == 0

    plan = tmp_path / "plan.toml"
    with open(plan, "wb") as handle:
        handle.truncate(64 * 1024**2)
    result = runner.invoke(
        app, ["analyze", str(small), "--plan", str(plan), "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 1
    assert "larger than alliance reads" in said(result)
