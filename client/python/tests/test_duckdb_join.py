"""timefence.duckdb against the server's join, on random histories: late
data, ties on event time, corrections, deletions, ttl and composite keys.
Every value must be the server's: 0 differences."""

from __future__ import annotations

import pathlib
import random
from typing import Any, List

import numpy as np
import pandas as pd
import pytest

import timefence
from timefence import Feature

duckdb = pytest.importorskip("duckdb", reason="pip install './client/python[duckdb]' (scripts/test-python.sh does)")
import timefence.duckdb as tfduck  # noqa: E402

BASE = pd.Timestamp("2024-03-01T00:00:00Z")


def _history(rng: random.Random, batches: int) -> List[pd.DataFrame]:
    """Backfill batches over 3 days: keys (user_id, region), event times on
    whole minutes (so ties are common), available_at at or after them (late
    data), repeated rows of one key and time (corrections), deletions."""
    out = []
    for b in range(batches):
        rows = []
        for _ in range(rng.randint(1, 40)):
            user, region = rng.randint(1, 6), rng.choice(["eu", "us"])
            event = BASE + pd.Timedelta(minutes=rng.randint(0, 3 * 24 * 60))
            if rows and rng.random() < 0.2:  # another version of a key and time of this batch
                prev = rows[rng.randrange(len(rows))]
                user, region, event = prev["user_id"], prev["region"], prev["event_timestamp"]
            late = pd.Timedelta(minutes=rng.choice([0, 0, 1, 30, 600, 2000]))
            deleted = rng.random() < 0.08
            rows.append({
                "user_id": user, "region": region, "event_timestamp": event, "available_at": event + late,
                "deleted": deleted,
                "clicks": None if deleted or rng.random() < 0.1 else rng.randint(-5, 100),
                "score": None if deleted else rng.choice([0.5, -1.25, 3.0, float(b)]),
                "label": None if deleted else rng.choice(["a", "b", "ü"]),
            })
        out.append(pd.DataFrame(rows))
    return out


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    return v.item() if isinstance(v, np.generic) else v


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_duckdb_join_equals_server(client: timefence.Client, uid: str, tmp_path: pathlib.Path, seed: int) -> None:
    rng = random.Random(seed)
    entity, fast, slow = f"acct_{uid}", f"fast_{uid}", f"slow_{uid}"
    features = [Feature("clicks", "int64"), Feature("score", "double"), Feature("label", "string")]
    client.apply([
        timefence.Entity(entity, join_keys=[("user_id", "int64"), ("region", "string")]),
        timefence.FeatureView(fast, entity=entity, features=features, ttl="6h"),
        timefence.FeatureView(slow, entity=entity, features=[Feature("clicks", "int64"), Feature("label", "string")]),
    ])
    for view in (fast, slow):
        for batch in _history(rng, 12):
            client.write(view, batch[[c for c in batch.columns if view == fast or c != "score"]], backfill=True)
    split = f"march_{uid}"
    client.create_split(split, start=BASE, end=BASE + pd.Timedelta(days=2))
    client.export(split, [fast, slow], tmp_path)

    # Spine times on whole minutes too, and on the version times exactly.
    n = 400
    spine = pd.DataFrame({
        "user_id": [rng.randint(1, 7) for _ in range(n)],
        "region": [rng.choice(["eu", "us"]) for _ in range(n)],
        "event_timestamp": [BASE + pd.Timedelta(minutes=rng.randint(0, 2 * 24 * 60)) for _ in range(n)],
        "label_y": [rng.random() < 0.5 for _ in range(n)],
    })
    refs = [f"{fast}:clicks", f"{fast}:score", f"{slow}:label"]
    want = client.get_historical_features(spine, refs, split=split)
    con = duckdb.connect()
    got = tfduck.get_historical_features(con, tmp_path, spine, refs, ttl={fast: "6h"})

    assert list(got.columns) == list(want.columns)
    differences = [
        (i, c, _plain(want[c].iloc[i]), _plain(got[c].iloc[i]))
        for c in ("clicks", "score", "label") for i in range(n)
        if _plain(want[c].iloc[i]) != _plain(got[c].iloc[i])
    ]
    assert differences == []
    assert want["clicks"].notna().sum() > 50 and want["clicks"].isna().sum() > 20, "the spine exercises values and nulls"


def test_duckdb_join_refuses_rows_outside_the_split(client: timefence.Client, uid: str, tmp_path: pathlib.Path) -> None:
    entity, view = f"acct_{uid}", f"v_{uid}"
    client.apply([timefence.Entity(entity, join_keys=[("user_id", "int64")]),
                  timefence.FeatureView(view, entity=entity, features=[Feature("clicks", "int64")])])
    client.write(view, pd.DataFrame({"user_id": [1], "event_timestamp": [BASE], "available_at": [BASE], "clicks": [3]}), backfill=True)
    split = f"s_{uid}"
    client.create_split(split, start=BASE, end=BASE + pd.Timedelta(days=1))
    client.export(split, view, tmp_path)
    spine = pd.DataFrame({"user_id": [1, 1, 1], "event_timestamp": [BASE, BASE + pd.Timedelta(days=2), BASE - pd.Timedelta(days=1)]})
    with pytest.raises(timefence.CutoffExceeded) as server:
        client.get_historical_features(spine, [view], split=split)
    with pytest.raises(timefence.CutoffExceeded) as local:
        tfduck.get_historical_features(duckdb.connect(), tmp_path, spine, [view])
    assert str(local.value) == str(server.value)
    assert local.value.first_rows == [1, 2] and local.value.split == split
