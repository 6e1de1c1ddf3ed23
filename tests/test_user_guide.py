"""The user guide is complete and current: its tables agree with the instrument definitions,
the draft's prefixes and the plan parser, the edits it documents are the ones the tests make,
and the README leads to it and to nothing outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

from alliance.input.draft import PREFIXES
from alliance.instruments.registry import load_instruments
from alliance.models.plan_template import plan_keys
from tests.test_mapping_draft import MANUAL_EDITS

ROOT = Path(__file__).parents[1]
GUIDE = ROOT / "docs" / "user-guide.md"
README = ROOT / "README.md"


def _between(text: str, marker: str) -> list[str]:
    block = text.split(f"<!-- {marker}:", 1)[1].split(f"<!-- /{marker} -->", 1)[0]
    return [line for line in block.splitlines() if line.startswith("| `")]


def _links(text: str) -> list[str]:
    return [t for t in re.findall(r"\]\(([^)#\s]+)", text) if "://" not in t]


def test_instrument_table_is_the_definitions() -> None:
    expected = []
    for code, inst in load_instruments().items():
        items = inst.item_codes
        scores = ", ".join(f"`{s}`" for s in inst.score_names)
        expected.append(
            f"| `{code}` | {inst.name} | {len(items)} | `{items[0]}` … `{items[-1]}` | "
            f"{inst.response_min:g}–{inst.response_max:g} | {scores} |"
        )
    assert _between(GUIDE.read_text(encoding="utf-8"), "instruments") == expected


def test_prefix_table_is_the_drafts() -> None:
    expected = [
        f"| `{code}` | {', '.join(f'`{p}`' for p in prefixes)} |"
        for code, prefixes in PREFIXES.items()
    ]
    assert _between(GUIDE.read_text(encoding="utf-8"), "prefixes") == expected


def test_every_plan_key_is_documented() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", text, flags=re.MULTILINE))
    missing = [key for key in plan_keys() if key not in documented]
    assert missing == [], f"plan keys missing from the guide's plan table: {missing}"


def test_documented_edits_are_the_tests_edits() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for edits in MANUAL_EDITS.values():
        for (_, key), value in edits.items():
            assert f'`"{key}" = "{value}"`' in text


def test_readme_links_the_guide_and_nothing_outside_the_repository() -> None:
    text = README.read_text(encoding="utf-8")
    assert "SPEC" not in text
    assert "docs/user-guide.md" in _links(text)
    named = set(_links(text)) | set(re.findall(r"`((?:docs|tests|benchmarks)/[^`\s]+)`", text))
    for target in named:
        assert (ROOT / target).exists(), target


def test_guide_links_resolve() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert "SPEC" not in text
    assert "results-json.md" in _links(text)
    # mapping.md (the mapping grammar's reference) is checked with the wide-export grammar.
    for target in set(_links(text)) - {"mapping.md"}:
        assert (GUIDE.parent / target).exists(), target
