"""A 1M-row spine round trip."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from helpers import define_user_view, open_split, utc

import timefence
from timefence import Feature

ENTITIES = 10_000
ROWS = 1_000_000


def test_million_row_spine(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid, features=[Feature("value", "int64"), Feature("score", "double")])
    split = open_split(client, uid)
    ids = np.arange(ENTITIES, dtype=np.int64)
    res = client.write(
        n["view"],
        pd.DataFrame({"user_id": ids, "event_timestamp": pd.Timestamp.now(tz="UTC"), "value": ids * 3, "score": ids / 2}),
    )
    assert res["rows"] == ENTITIES
    commit = utc(res["commit_time"])
    # Spine times lie between the commit and now: a time later than now is refused.
    span = max((pd.Timestamp.now(tz="UTC") - commit).value, 1)

    rng = np.random.default_rng(7)
    # ~1% of the keys were never written.
    keys = rng.integers(0, ENTITIES + ENTITIES // 100, size=ROWS)
    spine = pd.DataFrame(
        {
            "user_id": keys,
            "event_timestamp": commit + pd.to_timedelta(rng.integers(0, span, size=ROWS), unit="ns"),
            "row": np.arange(ROWS),
        }
    )
    start = time.perf_counter()
    out = client.get_historical_features(spine, [n["view"]], split=split)
    elapsed = time.perf_counter() - start
    print(f"1M-row point-in-time join round trip: {elapsed:.2f}s")

    assert len(out) == ROWS
    assert (out["row"].to_numpy() == np.arange(ROWS)).all()
    assert (out["user_id"].to_numpy() == keys).all()
    known = keys < ENTITIES
    value = out["value"]
    assert str(value.dtype) == "Int64"
    assert value.isna().to_numpy().sum() == (~known).sum()
    sample = rng.choice(ROWS, size=1000, replace=False)
    for i in sample:
        k = keys[i]
        if k < ENTITIES:
            assert value.iloc[i] == k * 3 and out["score"].iloc[i] == k / 2
        else:
            assert value.iloc[i] is pd.NA and np.isnan(out["score"].iloc[i])
    assert (value.to_numpy(dtype="float64", na_value=np.nan)[known] == keys[known] * 3).all()
    assert out.attrs["timefence"]["rows"] == ROWS
