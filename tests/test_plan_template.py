"""``alliance plan template``: the article's plan, every key explained."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from typer.testing import CliRunner

from alliance.cli import app
from alliance.models.plan import load_plan
from alliance.models.plan_template import plan_keys, template_text

runner = CliRunner()


def test_template_is_the_article_plan(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(template_text(), encoding="utf-8")
    assert load_plan(path) == load_plan(None)


def test_printed_template_is_the_template_and_runs_as_a_plan(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", "template"])
    assert result.exit_code == 0
    assert result.stdout == template_text()
    path = tmp_path / "plan.toml"
    path.write_text(result.stdout, encoding="utf-8")
    assert load_plan(path) == load_plan(None)


def _uncommented(text: str) -> str:
    """The template with its commented-out optional sections switched on."""
    start = text.index("# --- mixed-model sections ---\n")
    end = text.index("# --- end of mixed-model sections ---")
    block = [line[2:] if line.startswith("# ") else "" for line in text[start:end].splitlines()[1:]]
    return text[:start] + "\n".join(block) + "\n" + text[end:]


def test_optional_sections_of_the_template_run_when_switched_on(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text(_uncommented(template_text()), encoding="utf-8")
    plan = load_plan(path)
    assert [m.name for m in plan.longitudinal] == ["PCL-5 by session"]
    assert [m.outcome for m in plan.moderation] == ["caps"]
    assert plan.outcomes == load_plan(None).outcomes


def test_every_key_a_plan_accepts_is_written_out_with_a_comment_above() -> None:
    text = _uncommented(template_text())
    document = tomllib.loads(text)
    lines = text.splitlines()
    for key in plan_keys():
        *tables, name = key.split(".")
        node: object = document
        for table in tables:
            node = node[table]  # type: ignore[index]
            node = node[0] if isinstance(node, list) else node
        assert name in node, f"{key} is not in the template"  # type: ignore[operator]
        first = next(
            i for i, line in enumerate(lines) if re.match(rf"^\[*{re.escape(name)}\]*( =|$)", line)
        )
        assert lines[first - 1].startswith("#"), f"{key} has no comment above it"
