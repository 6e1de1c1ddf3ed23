"""Scoring by the published rules, worked by hand: reverse keys, proration at exactly 80 %,
CAPS-IV frequency + intensity and its F1/I2 symptom rule, CAPS-5 SEV2, IES-R subscales."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alliance.errors import PlanError
from alliance.instruments.registry import load_instruments, parse_instrument
from alliance.instruments.scoring import enough_present, score_items

INST = load_instruments()


def frame(instrument: str, values: dict[str, float], timepoint: str = "baseline") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "participant_id": "a",
            "phase": "randomized",
            "arm": "mdma",
            "timepoint": timepoint,
            "instrument": instrument,
            "item": list(values),
            "value": [float(v) for v in values.values()],
        }
    )


def score(instrument: str, values: dict[str, float], timepoint: str = "baseline") -> pd.Series:
    return score_items(frame(instrument, values, timepoint)).scores.iloc[0]


def test_iesr_total_and_subscales_by_hand():
    values = {str(i): (i % 5) for i in range(1, 23)}  # 1,2,3,4,0,1,2,...
    s = score("IESR", values)
    intrusion = [1, 2, 3, 6, 9, 14, 16, 20]
    avoidance = [5, 7, 8, 11, 12, 13, 17, 22]
    hyper = [4, 10, 15, 18, 19, 21]
    assert s["iesr__baseline"] == sum(i % 5 for i in range(1, 23)) == 43
    assert s["iesr_intrusion__baseline"] == sum(i % 5 for i in intrusion) == 16
    assert s["iesr_avoidance__baseline"] == sum(i % 5 for i in avoidance) == 15
    assert s["iesr_hyperarousal__baseline"] == sum(i % 5 for i in hyper) == 12
    assert s["iesr_hyperarousal_mean__baseline"] == pytest.approx(12 / 6)
    assert sorted(intrusion + avoidance + hyper) == list(range(1, 23))


def test_wai_reverse_keyed_items_are_reflected_8_minus_x():
    wai = INST["WAI"]
    values = {item: 7 for item in wai.item_codes}  # "always" to every item
    s = score("WAI", values, "s4")
    n_reverse = len(wai.reverse_keyed)
    assert s["wai__s4"] == 7 * (36 - n_reverse) + 1 * n_reverse
    # Answering 8 − x on reversed items gives the maximum alliance, 252.
    values = {item: (1 if item in wai.reverse_keyed else 7) for item in wai.item_codes}
    s = score("WAI", values, "s4")
    assert s["wai__s4"] == 252
    assert s["wai_task__s4"] == s["wai_bond__s4"] == s["wai_goal__s4"] == 84


def test_wai_keys_are_the_published_keys():
    # Horvath & Greenberg (1989) client form: the 14 negatively worded items are reversed; the
    # subscale lists and the short forms' keys are those recorded (with sources) in the TOMLs.
    wai = INST["WAI"]
    assert set(wai.reverse_keyed) == {
        "1", "3", "7", "9", "10", "11", "12", "15", "20", "27", "29", "31", "33", "34"
    }  # fmt: skip
    lists = {s.name: {int(i) for i in s.items} for s in wai.scores}
    assert lists["wai_task"] == {2, 4, 7, 11, 13, 15, 16, 18, 24, 31, 33, 35}
    assert lists["wai_bond"] == {1, 5, 8, 17, 19, 20, 21, 23, 26, 28, 29, 36}
    assert lists["wai_goal"] == {3, 6, 9, 10, 12, 14, 22, 25, 27, 30, 32, 34}
    assert set(INST["WAI_S"].reverse_keyed) == {"4", "10"}
    assert INST["WAI_SR"].reverse_keyed == ()
    for code in ("WAI_S", "WAI_SR"):
        lists = {s.name: {int(i) for i in s.items} for s in INST[code].scores}
        assert lists["wai_task"] == {1, 2, 10, 12}
        assert lists["wai_bond"] == {3, 5, 7, 9}
        assert lists["wai_goal"] == {4, 6, 8, 11}


def test_wai_reverse_keys_worked_by_hand():
    # Every item 4 ("sometimes") except item 10 (reversed Goal item) and 16 (Task, not
    # reversed), both answered 2: Goal = 11*4 + (8-2) = 50, Task = 11*4 + 2 = 46.
    values = {item: 4 for item in INST["WAI"].item_codes}
    values.update({"10": 2, "16": 2})
    s = score("WAI", values, "s4")
    assert (s["wai_goal__s4"], s["wai_task__s4"], s["wai_bond__s4"]) == (50, 46, 48)
    assert s["wai__s4"] == 144
    # WAI-S: item 4 answered 1 and item 10 answered 7 (both reversed): Goal 7+4+4+4 = 19,
    # Task 4+4+1+4 = 13, Bond 16, total 48.
    values = {item: 4 for item in INST["WAI_S"].item_codes}
    values.update({"4": 1, "10": 7})
    s = score("WAI_S", values, "s4")
    assert (s["wai_goal__s4"], s["wai_task__s4"], s["wai_bond__s4"], s["wai__s4"]) == (
        19, 13, 16, 48
    )  # fmt: skip
    # WAI-SR, 1-5, nothing reversed: item i answered (i mod 5) + 1.
    values = {str(i): i % 5 + 1 for i in range(1, 13)}
    s = score("WAI_SR", values, "s4")
    assert s["wai_task__s4"] == 2 + 3 + 1 + 3  # items 1, 2, 10, 12
    assert s["wai_goal__s4"] == 5 + 2 + 4 + 2  # items 4, 6, 8, 11
    assert s["wai_bond__s4"] == 4 + 1 + 3 + 5  # items 3, 5, 7, 9
    assert s["wai__s4"] == sum(values.values())


def test_wai_subscales_partition_the_36_items():
    wai = INST["WAI"]
    subscales = [set(s.items) for s in wai.scores if s.name != "wai"]
    assert [len(s) for s in subscales] == [12, 12, 12]
    assert set().union(*subscales) == set(wai.item_codes)


def test_proration_at_exactly_80_percent_and_just_below():
    # IES-R Hyperarousal has 6 items: 5 present is 83 % (prorated), 4 is 67 % (missing).
    # IES-R Avoidance has 8 items: 7 present is 87.5 %; total 22 items: 18 present is 81.8 %.
    values = {str(i): 2 for i in range(1, 23)}
    for item in ("4", "10", "5", "7"):
        values[item] = np.nan
    s = score("IESR", values)
    # Hyperarousal: 4 of 6 present (67 %) -> missing.
    assert np.isnan(s["iesr_hyperarousal__baseline"])
    # Avoidance: 6 of 8 present (75 %) -> missing.
    assert np.isnan(s["iesr_avoidance__baseline"])
    # Total: 18 of 22 present (81.8 %) -> prorated 36 * 22 / 18 = 44.
    assert s["iesr__baseline"] == pytest.approx(44.0)


def test_exactly_80_percent_counts_as_enough():
    assert enough_present(np.array([4]), 5, 0.8)[0]  # 4/5 = 80 % exactly
    assert not enough_present(np.array([3]), 5, 0.8)[0]
    assert enough_present(np.array([8]), 10, 0.8)[0]
    assert not enough_present(np.array([7]), 10, 0.8)[0]
    assert enough_present(np.array([29]), 36, 0.8)[0]  # 80.6 %
    assert not enough_present(np.array([28]), 36, 0.8)[0]  # 77.8 %
    # WAI total with 29 of 36 items: prorated; with 28: missing.
    wai = INST["WAI"]
    values = {item: 4 for item in wai.item_codes}  # 4 is its own reverse (8 - 4)
    for item in wai.item_codes[:7]:
        values[item] = np.nan
    assert score("WAI", values)["wai__baseline"] == pytest.approx(4 * 29 * 36 / 29)
    values[wai.item_codes[7]] = np.nan
    assert np.isnan(score("WAI", values)["wai__baseline"])


def test_caps4_severity_is_frequency_plus_intensity_and_f1_i2_rule():
    values = {}
    for i in range(1, 18):
        values[f"{i}f"] = 0
        values[f"{i}i"] = 0
    values.update({"1f": 1, "1i": 2})  # present: F>=1 and I>=2, severity 3
    values.update({"2f": 4, "2i": 1})  # absent: intensity too low, severity 5
    values.update({"7f": 0, "7i": 4})  # absent: frequency 0, severity 4
    values.update({"14f": 2, "14i": 3})  # present, severity 5
    s = score("CAPS4", values)
    assert s["caps__baseline"] == 3 + 5 + 4 + 5
    assert s["caps_b__baseline"] == 8
    assert s["caps_c__baseline"] == 4
    assert s["caps_d__baseline"] == 5
    assert s["caps_symptoms__baseline"] == 2


def test_caps_is_not_prorated_by_default():
    values = {f"{i}{k}": 2 for i in range(1, 18) for k in "fi"}
    values["3i"] = np.nan
    s = score("CAPS4", values)
    assert np.isnan(s["caps__baseline"])
    assert np.isnan(s["caps_b__baseline"])
    assert s["caps_c__baseline"] == 7 * 4
    status = score_items(frame("CAPS4", values)).status.set_index("score")
    assert status.loc["caps", "status"] == "too_few_items"
    # A plan may ask for the 80 % rule on the CAPS too.
    prorated = score_items(frame("CAPS4", values), min_fraction_present={"CAPS4": 0.8})
    assert prorated.scores.iloc[0]["caps__baseline"] == pytest.approx(16 * 4 * 17 / 16)


def test_caps5_sev2_rule_and_clusters():
    values = {str(i): 0 for i in range(1, 21)}
    values.update({"1": 2, "6": 1, "8": 4, "15": 3, "20": 2})
    s = score("CAPS5", values)
    assert s["caps__baseline"] == 12
    assert (s["caps_b__baseline"], s["caps_c__baseline"]) == (2, 1)
    assert (s["caps_d__baseline"], s["caps_e__baseline"]) == (4, 5)
    assert s["caps_symptoms__baseline"] == 4


def test_definition_errors_name_the_file_and_field():
    with pytest.raises(PlanError) as info:
        parse_instrument(
            'code="X"\nname="x"\nversion="1"\ncitation="c"\nrespondent="self"\n'
            "response_min=1\nresponse_max=5\nitems=['1','2']\nmin_fraction_present=0.8\n"
            "[[scores]]\nname='x'\nlabel='x'\nitems=['1','3']\n",
            "x.toml",
        )
    assert "x.toml" in str(info.value)
    assert "'3'" in str(info.value)
    with pytest.raises(PlanError, match="min_fraction_present"):
        parse_instrument(
            'code="X"\nname="x"\nversion="1"\ncitation="c"\nrespondent="self"\n'
            "response_min=1\nresponse_max=5\nitems=['1']\nmin_fraction_present=1.5\n"
            "[[scores]]\nname='x'\nlabel='x'\nitems=['1']\n",
            "x.toml",
        )


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_scores_do_not_depend_on_row_order(seed):
    from tests.conftest import small_trial

    items = small_trial(seed % 1000)
    items["value"] = items["value"].astype("float64")
    rng = np.random.default_rng(seed)
    items.loc[rng.random(len(items)) < 0.05, "value"] = np.nan
    order = rng.permutation(len(items))
    a = score_items(items).scores
    b = score_items(items.iloc[order].reset_index(drop=True)).scores
    pd.testing.assert_frame_equal(a, b)
