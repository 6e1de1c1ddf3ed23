"""PCL-5 (Weathers et al., 2013) scored by hand: total 0–80, DSM-5 clusters, ≥ 2 endorsement,
proration at 80 % (a self-report)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alliance.instruments.registry import load_instruments
from alliance.instruments.scoring import score_items


def _score(values: dict[str, float]) -> pd.Series:
    frame = pd.DataFrame(
        {
            "participant_id": "a",
            "phase": "randomized",
            "arm": "mdma",
            "timepoint": "s3",
            "instrument": "PCL5",
            "item": list(values),
            "value": [float(v) for v in values.values()],
        }
    )
    return score_items(frame).scores.iloc[0]


def test_definition_matches_the_published_key():
    pcl5 = load_instruments()["PCL5"]
    assert pcl5.item_codes == tuple(str(i) for i in range(1, 21))
    assert (pcl5.response_min, pcl5.response_max) == (0, 4)
    assert pcl5.reverse_keyed == ()
    assert "Weathers" in pcl5.citation and "2013" in pcl5.citation
    clusters = {s.name: s.items for s in pcl5.scores}
    assert clusters["pcl5_b"] == tuple(str(i) for i in range(1, 6))
    assert clusters["pcl5_c"] == ("6", "7")
    assert clusters["pcl5_d"] == tuple(str(i) for i in range(8, 15))
    assert clusters["pcl5_e"] == tuple(str(i) for i in range(15, 21))


def test_totals_clusters_and_symptoms_by_hand():
    values = {str(i): i % 5 for i in range(1, 21)}  # 1,2,3,4,0,1,2,...
    s = _score(values)
    assert s["pcl5__s3"] == sum(i % 5 for i in range(1, 21)) == 40
    assert s["pcl5_b__s3"] == 1 + 2 + 3 + 4 + 0
    assert s["pcl5_c__s3"] == 1 + 2
    assert s["pcl5_d__s3"] == sum(i % 5 for i in range(8, 15))
    assert s["pcl5_e__s3"] == sum(i % 5 for i in range(15, 21))
    assert s["pcl5_symptoms__s3"] == sum(i % 5 >= 2 for i in range(1, 21))
    assert _score({str(i): 4 for i in range(1, 21)})["pcl5__s3"] == 80


def test_prorated_from_16_of_20_items_missing_below():
    values = {str(i): 2 for i in range(1, 17)}  # 16 of 20 present: exactly 80 %
    assert _score(values)["pcl5__s3"] == 40  # 32 × 20 / 16
    fewer = {str(i): 2 for i in range(1, 16)}
    assert np.isnan(_score(fewer)["pcl5__s3"])
