"""BLAS threads under control and a light validate/score: what the data path promises besides
its results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from threadpoolctl import threadpool_info, threadpool_limits

from alliance.threads import USER_SETTINGS, blas_threads
from tests.conftest import small_trial


def blas_threads_now() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_blas_runs_on_one_thread_inside_the_block(monkeypatch):
    for name in USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    with threadpool_limits(limits=2, user_api="blas"):
        assert blas_threads_now() and set(blas_threads_now()) == {2}
        with blas_threads():
            assert set(blas_threads_now()) == {1}
        assert set(blas_threads_now()) == {2}


def test_a_thread_count_the_user_set_is_kept(monkeypatch):
    for name in USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    with threadpool_limits(limits=2, user_api="blas"), blas_threads():
        assert set(blas_threads_now()) == {2}


_COMMAND = """
import json, sys
from alliance.cli import main
sys.argv = ["alliance", *sys.argv[1:]]
try:
    main()
except SystemExit as end:
    code = end.code
heavy = ("matplotlib", "scipy", "statsmodels")
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def test_validate_and_score_load_neither_matplotlib_nor_scipy(tmp_path):
    data = tmp_path / "trial.csv"
    small_trial().to_csv(data, index=False)
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    for args in (["validate", str(data)], ["score", str(data), "--out", str(tmp_path / "s.csv")]):
        out = subprocess.run(
            [sys.executable, "-c", _COMMAND, *args], capture_output=True, text=True, env=env
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["code"] in (0, None), out.stderr
        assert result["loaded"] == [], f"{args[0]} imported {result['loaded']}"
