"""Record what loading each random item file gives (run once, with the load path to compare
against first on the path):

    PYTHONPATH=<that version's src> python -m tests.reference.make_expected

Writes tests/fixtures/load_score/expected.json: per seed, every problem message, or the scored
frame as CSV text with digests of the status and participants tables, the warnings and the
row counts. The committed file was made by the load path before the columnar rewrite (pandas
C parser, text columns, string-keyed scoring), with today's instrument definitions copied into
that version's definitions folder (so the list of known instruments in messages is today's:
PCL-5 was added after the rewrite).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from tests.reference.random_files import SEEDS, random_item_file

EXPECTED = Path(__file__).resolve().parents[1] / "fixtures" / "load_score" / "expected.json"


def outcome(path: Path) -> dict[str, object]:
    """What loading ``path`` gives, as text that is compared exactly."""
    import hashlib

    from alliance.errors import DataError
    from alliance.pipeline import load_data

    def digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    try:
        loaded = load_data(path)
    except DataError as error:
        return {"problems": [str(p) for p in error.problems]}
    assert loaded.status is not None
    return {
        "scores": loaded.scores.to_csv(index=False),
        "status": digest(loaded.status.astype(object).to_csv(index=False)),
        "participants": digest(loaded.participants.to_csv(index=False)),
        "warnings": list(loaded.warnings),
        "rows": [loaded.rows_in, loaded.rows_missing_value, loaded.rows_duplicate],
    }


def main() -> None:
    expected = {}
    with tempfile.TemporaryDirectory() as folder:
        for seed in SEEDS:
            data, suffix = random_item_file(seed)
            path = Path(folder) / f"trial_{seed}{suffix}"
            path.write_bytes(data)
            expected[str(seed)] = outcome(path)
    EXPECTED.parent.mkdir(parents=True, exist_ok=True)
    EXPECTED.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    valid = sum("scores" in v for v in expected.values())
    print(f"{len(expected)} files: {valid} valid, {len(expected) - valid} with problems")


if __name__ == "__main__":
    main()
