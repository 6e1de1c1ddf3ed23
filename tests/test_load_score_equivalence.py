"""The columnar load path gives what the previous path gave: every problem message, every score,
every status row, the participants table and the warnings.

- 80 seeded random item files (valid trials with missing items and blanks; files with every
  kind of mistake, in CSV/TSV variants) against the outcomes the previous path recorded
  (``tests/fixtures/load_score/expected.json``, made by ``tests/reference/make_expected.py``);
- property-based: random item frames scored by today's scorer and by the previous one
  (``tests/reference/old_scoring.py``, kept as the oracle), as text and as Categoricals;
- property-based: random plain text files read by the columnar reader and by the general
  reader (the reference for every rule of reading) give the same table;
- reliability and episodes against the previous implementations on a simulated trial.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alliance.episodes.episodes import build_episodes, episode_items
from alliance.input import readers
from alliance.instruments.registry import load_instruments
from alliance.instruments.reliability import reliability_table
from alliance.instruments.scoring import score_items
from alliance.pipeline import load_data
from tests.reference import old_episodes, old_reliability, old_scoring
from tests.reference.make_expected import EXPECTED, outcome
from tests.reference.random_files import FORMS, SEEDS, random_item_file

INSTRUMENTS = load_instruments()
RECORDED = json.loads(EXPECTED.read_text(encoding="utf-8"))


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as text: the frame the previous path produced."""
    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(categorical, "str"))


@pytest.mark.parametrize("seed", SEEDS)
def test_random_file_loads_as_before(seed, tmp_path):
    data, suffix = random_item_file(seed)
    path = tmp_path / f"trial_{seed}{suffix}"
    path.write_bytes(data)
    assert outcome(path) == RECORDED[str(seed)]


def test_recorded_outcomes_cover_valid_and_broken_files():
    valid = [o for o in RECORDED.values() if "scores" in o]
    broken = [o for o in RECORDED.values() if "problems" in o]
    assert len(valid) >= 20 and len(broken) >= 40
    messages = " ".join(p for o in broken for p in o["problems"])
    for kind in ("is not a number", "more than one arm", "conflicting responses", "two forms",
                 "fields but the header has", "decimal comma", "unknown phase", "is blank"):  # fmt: skip
        assert kind in messages, kind
    assert any(o["rows"][1] > 0 for o in valid), "no valid file with blank responses"


# --- scoring: today's scorer against the previous one -----------------------------------------


@st.composite
def item_frames(draw):
    """Item frames of a few participants, phases and timepoints, with missing items (rows
    absent), blank responses (NaN), rows in any order and optional therapist and site."""
    codes = draw(st.lists(st.sampled_from(sorted(FORMS)), min_size=1, max_size=3, unique=True))
    n = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    p_missing = draw(st.sampled_from([0.0, 0.1, 0.3, 0.7]))
    p_blank = draw(st.sampled_from([0.0, 0.1, 0.5]))
    rows = []
    for p in range(n):
        arm = ["mdma", "placebo"][int(rng.integers(0, 2))]
        for phase in ["randomized", "open_label"][: int(rng.integers(1, 3))]:
            for code in codes:
                items, low, high, timepoints = FORMS[code]
                for timepoint in timepoints[: int(rng.integers(1, len(timepoints) + 1))]:
                    for item in items:
                        if rng.random() < p_missing:
                            continue
                        value = (
                            np.nan if rng.random() < p_blank else float(rng.integers(low, high + 1))
                        )
                        rows.append((f"id{p}", phase, arm, timepoint, code, item, value))
    frame = pd.DataFrame(
        rows, columns=["participant_id", "phase", "arm", "timepoint", "instrument", "item", "value"]
    )
    if frame.empty:
        frame.loc[0] = ["id0", "randomized", "mdma", "baseline", "IESR", "1", np.nan]
    frame["source_row"] = np.arange(2, len(frame) + 2)
    if draw(st.booleans()):
        frame["site"] = np.where(rng.random(len(frame)) < 0.3, None, "north")
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    return frame


def assert_same_scoring(frame: pd.DataFrame, fraction: dict[str, float] | None = None) -> None:
    old = old_scoring.score_items(as_text(frame), INSTRUMENTS, fraction)
    for given_frame in (frame, frame.astype({c: "category" for c in frame.columns[:6]})):
        new = score_items(given_frame, INSTRUMENTS, fraction)
        pd.testing.assert_frame_equal(new.scores, old.scores)
        pd.testing.assert_frame_equal(
            new.status.astype(object), old.status.astype(object), check_dtype=False
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item_frames(), st.sampled_from([None, {"CAPS4": 0.8}, {"WAI": 1.0, "IESR": 0.5}]))
def test_scoring_matches_the_previous_scorer(frame, fraction):
    assert_same_scoring(frame, fraction)


# --- reading: the columnar reader against the general reader ----------------------------------

_CELL = st.text(alphabet=string.ascii_letters + string.digits + " .-_+/éü", max_size=6)


@st.composite
def plain_files(draw):
    width = draw(st.integers(1, 5))
    header = draw(
        st.lists(
            st.sampled_from(["id", "Value", " item ", "", "x", "ID"]),
            min_size=width,
            max_size=width,
        )
    )
    body = draw(st.lists(st.lists(_CELL, min_size=width, max_size=width), min_size=0, max_size=8))
    if draw(st.booleans()) and body:  # a ragged row
        body[draw(st.integers(0, len(body) - 1))].append("extra")
    sep = draw(st.sampled_from([",", ";", "\t"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [sep.join(header)] + [sep.join(row) for row in body]
    for _ in range(draw(st.integers(0, 2))):  # blank lines, anywhere after the header
        lines.insert(draw(st.integers(1, len(lines))), "")
    end = newline if draw(st.booleans()) else ""
    return (newline.join(lines) + end).encode("utf-8"), sep


def _read(path: Path, general: bool, monkeypatch) -> object:
    with monkeypatch.context() as patch:
        if general:
            patch.setattr(readers, "_plain", lambda data, sep: False)
        try:
            raw = readers.read_table(path)
        except readers.DataError as error:
            return [str(p) for p in error.problems]
    return raw.frame.astype(object).where(raw.frame.notna(), None), raw.synthetic


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plain_files())
def test_columnar_reader_reads_as_the_general_reader(tmp_path, monkeypatch, file):
    data, sep = file
    path = tmp_path / ("t.tsv" if sep == "\t" else "t.csv")
    path.write_bytes(data)
    columnar = _read(path, False, monkeypatch)
    general = _read(path, True, monkeypatch)
    if isinstance(general, list):
        assert columnar == general
    else:
        assert isinstance(columnar, tuple)
        pd.testing.assert_frame_equal(columnar[0], general[0])
        assert columnar[1] == general[1]


def test_plain_files_take_the_columnar_reader(tmp_path, monkeypatch):
    """The equivalence above compares two readers only if the plain path is taken at all."""
    path = tmp_path / "t.csv"
    path.write_bytes(b"participant_id,value\na,1\nb,\n")
    monkeypatch.setattr(readers, "_check_ragged", lambda *a: pytest.fail("general reader used"))
    frame = readers.read_table(path).frame
    assert isinstance(frame["participant_id"].dtype, pd.CategoricalDtype)
    assert frame["value"].tolist()[0] == "1" and pd.isna(frame["value"].tolist()[1])


# --- reliability and episodes against the previous implementations -----------------------------


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    from alliance.synthetic.settings import load_calibration
    from alliance.synthetic.simulate import SimulationOptions, simulate

    folder = tmp_path_factory.mktemp("sim")
    trial = simulate(load_calibration(), seed=5, options=SimulationOptions(n=300))
    path = folder / "items.csv"
    trial.items.to_csv(path, index=False)
    return load_data(path)


def test_episodes_match_the_previous_implementation(simulated):
    # Remove some open-label baselines so that baselines are borrowed.
    items = simulated.items
    drop = (items["phase"] == "open_label") & (items["timepoint"] == "baseline")
    drop &= items["participant_id"].astype(str).str[-1].isin(list("13579"))
    items = items.loc[~drop.to_numpy()].reset_index(drop=True)
    scores = score_items(items, INSTRUMENTS).scores
    for rule in ("first_mdma", "randomized_only", "last_mdma"):
        new = build_episodes(scores, rule)
        old = old_episodes.build_episodes(scores, rule)
        pd.testing.assert_frame_equal(new.frame, old.frame)
        pd.testing.assert_frame_equal(new.excluded, old.excluded, check_dtype=False)
        if rule != "randomized_only":
            assert (new.frame["baseline_borrowed"] != "").any()
        mine = episode_items(items, new.frame, INSTRUMENTS)
        theirs = old_episodes.episode_items(as_text(items), old.frame, INSTRUMENTS)
        pd.testing.assert_frame_equal(as_text(mine), theirs, check_dtype=False)
        new_rel = reliability_table(mine, INSTRUMENTS)
        old_rel = old_reliability.reliability_table(theirs, INSTRUMENTS)
        pd.testing.assert_frame_equal(new_rel, old_rel, check_exact=True)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.sampled_from(["1", "2.5", "", "x", " 3 ", "1e3", "nan", "1,5", "NA"]),
            min_size=3,
            max_size=3,
        ),
        min_size=1,
        max_size=12,
    )
)
def test_number_block_reads_categorical_columns_as_text_columns(rows):
    """A scored file read by the columnar reader (Categorical columns) gives every cell the
    verdict the same file as text columns gets."""
    from alliance.validation.cells import read_number_block

    text = pd.DataFrame(rows, columns=["a", "b", "c"]).replace("", None).astype("str")
    categorical = text.astype("category")
    columns = ["a", "b", "c"]
    expected = read_number_block(text, columns, {})
    got = read_number_block(categorical, columns, {})
    for column in columns:
        np.testing.assert_array_equal(got.parsed[column].values, expected.parsed[column].values)
        np.testing.assert_array_equal(got.parsed[column].kinds, expected.parsed[column].kinds)
        assert list(got.texts(categorical, column)) == list(expected.texts(text, column))
