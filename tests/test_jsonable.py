"""JSON values from pandas and numpy."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from engine.jsonable import json_ready


def test_numbers_dates_and_missing_values_become_plain_json():
    value = {
        "nan": float("nan"),
        "inf": np.float64("inf"),
        "int": np.int64(3),
        "bool": np.bool_(True),
        "day": pd.Timestamp("2025-01-20"),
        "date": dt.date(2025, 1, 27),
        "moment": pd.Timestamp("2025-01-27 14:30", tz="UTC"),
        "nat": pd.NaT,
        "rows": ({"window": (0, 5)},),
        1: "key",
    }
    ready = json_ready(value)
    assert ready == {
        "nan": None,
        "inf": None,
        "int": 3,
        "bool": True,
        "day": "2025-01-20",
        "date": "2025-01-27",
        "moment": "2025-01-27T14:30:00+00:00",
        "nat": None,
        "rows": [{"window": [0, 5]}],
        "1": "key",
    }
    json.dumps(ready, allow_nan=False)
