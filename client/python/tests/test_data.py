"""Writes, point-in-time joins and online lookups against the real server."""

from __future__ import annotations

import json
import time
from typing import List, Optional, Tuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from helpers import ALL_TYPES, define_user_view, open_split, utc

import timefence
from timefence import Feature



def test_write_result_and_idempotency(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid)
    df = pd.DataFrame(
        {"user_id": [1, 2, 3], "event_timestamp": pd.Timestamp.now(tz="UTC").floor("s"), "clicks": [5, 6, 7], "score": [0.5, 0.25, 1.0]}
    )
    res = client.write(n["view"], df, batch_id=f"b-{uid}")
    assert res["rows"] == 3 and res["duplicate"] is False
    assert res["last_seq"] - res["first_seq"] == 2
    assert utc(res["commit_time"]) <= pd.Timestamp.now(tz="UTC")
    again = client.write(n["view"], df, batch_id=f"b-{uid}")
    assert again["duplicate"] is True and again["first_seq"] == res["first_seq"]
    with pytest.raises(timefence.BatchConflict) as ei:
        client.write(n["view"], df.assign(clicks=[9, 9, 9]), batch_id=f"b-{uid}")
    assert ei.value.reason == "BATCH_ID_CONFLICT"


def test_write_refused_whole(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid, features=[Feature("clicks", "int64", required=True), Feature("score", "double")])
    now = pd.Timestamp.now(tz="UTC")
    good = pd.DataFrame({"user_id": [1, 2], "event_timestamp": [now, now], "clicks": [1, 2]})
    # A null in a required feature: refused, nothing written.
    with pytest.raises(timefence.InvalidArgument) as ei:
        client.write(n["view"], good.assign(clicks=pd.array([1, None], dtype="Int64")))
    assert "clicks" in str(ei.value) and ei.value.code is not None
    # A column that is no feature of the view.
    with pytest.raises(timefence.InvalidArgument, match="not a feature"):
        client.write(n["view"], good.assign(other=[1, 2]))
    # Values that do not fit the feature's type are refused by the client.
    with pytest.raises(timefence.InvalidArgument, match="clicks"):
        client.write(n["view"], good.assign(clicks=[1.5, 2.0]))
    # ... and values of another kind are not converted at all: the server refuses them.
    with pytest.raises(timefence.InvalidArgument, match="score") as ei:
        client.write(n["view"], good.assign(score=["1", "2"]))
    assert ei.value.code is not None
    with pytest.raises(timefence.InvalidArgument):
        client.write(n["view"], good.drop(columns=["event_timestamp"]))
    with pytest.raises(timefence.UnknownFeatureView):
        client.write(f"nope_{uid}", good)
    online = client.get_online_features({"user_id": [1, 2]}, [n["view"]], include_status=True)
    assert online["clicks__status"].tolist() == ["not_found", "not_found"]
    # Ints are cast to a double feature; an absent feature is written as null.
    res = client.write(n["view"], good.assign(score=[1, 2]))
    assert res["rows"] == 2
    online = client.get_online_features({"user_id": [1, 2]}, [n["view"]])
    assert online["score"].tolist() == [1.0, 2.0] and online["clicks"].tolist() == [1, 2]


def test_dtypes_and_nulls(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid, features=ALL_TYPES)
    split = open_split(client, uid)
    et = pd.Timestamp.now().floor("ms")  # naive: UTC
    df = pd.DataFrame(
        {
            "user_id": [1, 2, 3],
            "event_timestamp": [et, et, et],
            "i": pd.array([7, None, -3], dtype="Int64"),
            "d": [1.5, np.nan, -2.25],
            "f": np.array([0.5, 1.0, np.nan], dtype=np.float32),
            "s": ["a", None, "ü"],
            "b": pd.array([True, None, False], dtype="boolean"),
            "raw": [b"\x00\x01", None, b""],
            "emb": [[1.0, 2.0], None, []],
        }
    )
    res = client.write(n["view"], df)
    after = utc(res["commit_time"]) + pd.Timedelta(milliseconds=1)
    spine = pd.DataFrame({"user_id": [3, 1, 2, 4], "event_timestamp": [after] * 4, "label": [True, False, True, False]})
    out = client.get_historical_features(spine, [n["view"]], split=split)

    assert list(out.columns) == ["user_id", "event_timestamp", "label", "i", "d", "f", "s", "b", "raw", "emb"]
    assert str(out["i"].dtype) == "Int64"
    assert out["d"].dtype == np.float64 and out["f"].dtype == np.float32
    assert str(out["s"].dtype) == "string"
    assert str(out["b"].dtype) == "boolean"
    assert out["raw"].dtype == object and out["emb"].dtype == object
    assert isinstance(out["event_timestamp"].dtype, pd.DatetimeTZDtype) and str(out["event_timestamp"].dt.tz) == "UTC"
    # spine columns keep their dtypes
    assert out["label"].dtype == bool and out["user_id"].dtype == np.int64

    assert out["i"].tolist() == [-3, 7, pd.NA, pd.NA]
    assert out["d"].iloc[0] == -2.25 and out["d"].iloc[1] == 1.5 and out["d"].iloc[2:].isna().all()
    assert np.isnan(out["f"].iloc[0]) and out["f"].iloc[1] == 0.5
    assert out["s"].tolist() == ["ü", "a", pd.NA, pd.NA]
    assert out["b"].tolist() == [False, True, pd.NA, pd.NA]
    assert out["raw"].tolist() == [b"", b"\x00\x01", None, None]
    assert list(out["emb"].iloc[0]) == [] and list(out["emb"].iloc[1]) == [1.0, 2.0]
    assert out["emb"].iloc[2] is None and out["emb"].iloc[3] is None

    table = client.get_historical_features(spine, [n["view"]], split=split, as_arrow=True)
    assert isinstance(table, pa.Table)
    want = {"i": pa.int64(), "d": pa.float64(), "f": pa.float32(), "s": pa.string(), "b": pa.bool_(),
            "raw": pa.binary(), "emb": pa.list_(pa.float32())}
    assert {k: table.schema.field(k).type for k in want} == want
    assert table.schema.field("event_timestamp").type.tz == "UTC"
    assert json.loads(table.schema.metadata[b"timefence"])["rows"] == 4
    assert table.column("i").to_pylist() == [-3, 7, None, None]

    arrow_backed = client.get_historical_features(spine, [n["view"]], split=split, dtype_backend="pyarrow")
    assert isinstance(arrow_backed["i"].dtype, pd.ArrowDtype)

    # Online: the same values, and the event time written naive comes back as UTC.
    online = client.get_online_features({"user_id": [3, 1, 4]}, [n["view"]], include_status=True)
    assert online["i"].tolist() == [-3, 7, pd.NA]
    assert str(online["i"].dtype) == "Int64" and str(online["b"].dtype) == "boolean" and str(online["s"].dtype) == "string"
    assert online["s"].tolist() == ["ü", "a", pd.NA]
    assert online["raw"].tolist() == [b"", b"\x00\x01", None]
    assert online["i__status"].tolist() == ["present", "present", "not_found"]
    assert online["i__event_timestamp"].iloc[0] == utc(et)
    assert pd.isna(online["i__event_timestamp"].iloc[2])
    assert online.attrs["timefence"]["watermark"] >= res["last_seq"]


def _oracle(
    versions: List[Tuple[int, pd.Timestamp, pd.Timestamp, int, int]],
    spine: pd.DataFrame,
    naive: bool = False,
) -> List[Optional[Tuple[int, int]]]:
    """The read rule, brute force: for each spine row, the (seq, value) of the
    version with the greatest (event_time, available_at, seq) among those with
    event_time <= t and available_at <= t. With naive, available_at is ignored
    (an event-time-only join over a snapshot taken now)."""
    out: List[Optional[Tuple[int, int]]] = []
    for key, t in zip(spine["user_id"], spine["event_timestamp"]):
        cands = [v for v in versions if v[0] == key and v[1] <= t and (naive or v[2] <= t)]
        if not cands:
            out.append(None)
            continue
        best = max(cands, key=lambda v: (v[1], v[2], v[3]))
        out.append((best[3], best[4]))
    return out


def test_point_in_time_late_data_matches_oracle(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid, features=[Feature("value", "int64")])
    split = open_split(client, uid)
    T = pd.Timestamp.now(tz="UTC").floor("s")
    m = pd.Timedelta(minutes=1)
    writes = [
        # (key, event_time, value)
        [(1, T - 60 * m, 10), (2, T - 60 * m, 20), (3, T - 30 * m, 30)],
        # late data: arrives now, happened before the first write arrived
        [(1, T - 90 * m, 11), (2, T - 45 * m, 21), (4, T - 10 * m, 40)],
        # the same event time again: the later arrival wins from its arrival on
        [(2, T - 45 * m, 22), (3, T - 20 * m, 31), (1, T - 120 * m, 12)],
    ]
    versions = []
    commits = []
    for rows in writes:
        df = pd.DataFrame(rows, columns=["user_id", "event_timestamp", "value"])
        res = client.write(n["view"], df)
        commit = utc(res["commit_time"])
        commits.append(commit)
        for i, (k, et, v) in enumerate(rows):
            versions.append((k, et, commit, res["first_seq"] + i, v))
        time.sleep(0.02)
    assert commits == sorted(commits)
    c1, c2, c3 = commits
    ns = pd.Timedelta(1, "ns")
    # The last time is after every commit, and not later than now: a later time is refused.
    after = max(c3, pd.Timestamp.now(tz="UTC"))
    times = [T - 100 * m, T - 50 * m, T - 20 * m, c1 - ns, c1, c1 + (c2 - c1) / 2, c2 - ns, c2, c2 + (c3 - c2) / 2, c3, after]
    spine = pd.DataFrame(
        [(k, t) for t in times for k in (1, 2, 3, 4, 5)], columns=["user_id", "event_timestamp"]
    )
    spine["row"] = np.arange(len(spine))
    out = client.get_historical_features(spine, [f"{n['view']}:value"], split=split)

    want = _oracle(versions, spine)
    got = out["value"].tolist()
    assert got == [w[1] if w else pd.NA for w in want]
    assert out["row"].tolist() == spine["row"].tolist()
    # The late value 21 (event time T-45m, arrived at c2) is invisible before c2 ...
    before = out[(out["user_id"] == 2) & (out["event_timestamp"] >= c1) & (out["event_timestamp"] < c2)]
    assert len(before) == 3 and (before["value"] == 20).all()
    # ... though a naive event-time join would have read it.
    naive = _oracle(versions, spine, naive=True)
    diffs = sum(1 for a, b in zip(want, naive) if (a[0] if a else 0) != (b[0] if b else 0))
    assert diffs > 0
    summary = out.attrs["timefence"]
    assert summary["naive_differences"] == diffs
    assert summary["rows"] == len(spine) and summary["split"] == split
    assert client.last_summary == summary

    # An online read as of a past time under the split agrees with the join.
    at = c1 + (c2 - c1) / 2
    past = client.get_online_features({"user_id": [1, 2, 3, 4, 5]}, [n["view"]], as_of=at, split=split)
    assert past["value"].tolist() == [10, 20, 30, pd.NA, pd.NA]
    now = client.get_online_features([{"user_id": k} for k in (1, 2, 3, 4, 5)], [n["view"]])
    assert now["value"].tolist() == [10, 22, 31, 40, pd.NA]


def test_backfill_is_visible_in_the_past(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid, features=[Feature("value", "int64")])
    client.create_split(f"h1_{uid}", start="2024-01-01T00:00:00Z", end="2024-06-30T23:59:59Z")
    df = pd.DataFrame(
        {
            "user_id": [1, 1],
            "event_timestamp": pd.to_datetime(["2024-02-01", "2024-03-01"]),
            "available_at": pd.to_datetime(["2024-02-02", "2024-03-05"]),
            "value": [1, 2],
        }
    )
    client.write(n["view"], df, backfill=True)
    spine = pd.DataFrame({"user_id": 1, "event_timestamp": pd.to_datetime(["2024-02-01", "2024-02-02", "2024-03-04", "2024-03-05"])})
    out = client.get_historical_features(spine, [n["view"]], split=f"h1_{uid}")
    assert out["value"].tolist() == [pd.NA, 1, 1, 2]
    assert out.attrs["timefence"]["backfilled_values"] == 3
    assert out.attrs["timefence"]["naive_differences"] == 2


def test_cutoff_exceeded_refuses_whole_spine(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid)
    client.create_split(f"h1_{uid}", start="2024-01-01T00:00:00Z", end="2024-06-30T23:59:59Z")
    spine = pd.DataFrame(
        {"user_id": [1, 2, 3, 4], "event_timestamp": pd.to_datetime(["2024-03-01", "2024-07-01", "2024-06-30T23:59:59", "2025-01-01"], format="ISO8601")}
    )
    client.last_summary = None
    with pytest.raises(timefence.CutoffExceeded) as ei:
        client.get_historical_features(spine, [n["view"]], split=f"h1_{uid}")
    e = ei.value
    assert e.offending_rows == 2 and e.first_rows == [1, 3]
    assert e.split == f"h1_{uid}" and e.cutoff == "2024-06-30T23:59:59Z"
    assert e.code is not None and e.code.name == "FAILED_PRECONDITION"
    assert client.last_summary is None
    # A spine before the window's start is refused too; the boundaries are inclusive.
    with pytest.raises(timefence.CutoffExceeded):
        client.get_historical_features(spine.assign(event_timestamp=pd.Timestamp("2023-12-31")), [n["view"]], split=f"h1_{uid}")
    with pytest.warns(timefence.NoDataUnderSplit, match="holds no versions yet"):  # nothing was written
        ok = client.get_historical_features(spine.iloc[[0, 2]], [n["view"]], split=f"h1_{uid}")
    assert len(ok) == 2 and ok.index.tolist() == [0, 2]
    # An online read as of a time after the cutoff is refused the same way.
    with pytest.raises(timefence.CutoffExceeded):
        client.get_online_features({"user_id": [1]}, [n["view"]], as_of="2024-07-01T00:00:00Z", split=f"h1_{uid}")


def test_future_time_is_refused(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid)
    client.create_split(f"open_{uid}", start="2024-01-01T00:00:00Z", end="2200-01-01T00:00:00Z")
    later = pd.Timestamp.now(tz="UTC") + pd.Timedelta(hours=1)
    spine = pd.DataFrame({"user_id": [1, 2, 3], "event_timestamp": [pd.Timestamp("2024-03-01", tz="UTC"), later, later]})
    client.last_summary = None
    with pytest.raises(timefence.FutureTime) as ei:
        client.get_historical_features(spine, [n["view"]], split=f"open_{uid}")
    e = ei.value
    assert e.reason == "FUTURE_TIME" and e.code is not None and e.code.name == "FAILED_PRECONDITION"
    assert e.offending_rows == 2 and e.first_rows == [1, 2]
    assert pd.Timestamp(e.time) == later and pd.Timestamp(e.now) < later
    assert "later than now" in e.message
    assert client.last_summary is None
    # An online read as of a time later than now is refused the same way.
    with pytest.raises(timefence.FutureTime) as ei:
        client.get_online_features({"user_id": [1]}, [n["view"]], as_of=later, split=f"open_{uid}")
    assert pd.Timestamp(ei.value.time) == later
    # A time in the past is read.
    with pytest.warns(timefence.NoDataUnderSplit, match="holds no versions yet"):  # nothing was written
        ok = client.get_historical_features(spine.iloc[[0]], [n["view"]], split=f"open_{uid}")
    assert len(ok) == 1


def test_split_required_and_unknown_split(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid)
    spine = pd.DataFrame({"user_id": [1], "event_timestamp": [pd.Timestamp("2024-03-01", tz="UTC")]})
    with pytest.raises(timefence.SplitRequired) as ei:
        client.get_historical_features(spine, [n["view"]])
    assert ei.value.reason == "SPLIT_REQUIRED"
    with pytest.raises(timefence.SplitRequired):
        client.get_online_features({"user_id": [1]}, [n["view"]], as_of="2024-03-01T00:00:00Z")
    with pytest.raises(timefence.UnknownSplit):
        client.get_historical_features(spine, [n["view"]], split=f"nope_{uid}")


def test_unknown_feature(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid)
    split = open_split(client, uid)
    spine = pd.DataFrame({"user_id": [1], "event_timestamp": [pd.Timestamp.now(tz="UTC")]})
    with pytest.raises(timefence.UnknownFeature) as ei:
        client.get_historical_features(spine, [f"{n['view']}:nope"], split=split)
    assert "nope" in str(ei.value) and isinstance(ei.value, LookupError)
    with pytest.raises(timefence.UnknownFeature):
        client.get_online_features({"user_id": [1]}, [f"{n['view']}:nope"])
    with pytest.raises(timefence.UnknownFeatureView):
        client.get_historical_features(spine, [f"nope_{uid}"], split=split)
    with pytest.raises(timefence.UnknownFeatureView):
        client.get_online_features({"user_id": [1]}, [f"nope_{uid}:x"])


def test_spine_errors(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid)
    split = open_split(client, uid)
    now = pd.Timestamp.now(tz="UTC")
    with pytest.raises(timefence.InvalidArgument, match="user_id"):
        client.get_historical_features(pd.DataFrame({"other": [1], "event_timestamp": [now]}), [n["view"]], split=split)
    with pytest.raises(timefence.InvalidArgument, match="timestamp"):
        client.get_historical_features(pd.DataFrame({"user_id": [1], "ts": [now]}), [n["view"]], split=split)
    with pytest.raises(timefence.InvalidArgument, match="null"):
        client.get_historical_features(
            pd.DataFrame({"user_id": pd.array([1, None], dtype="Int64"), "event_timestamp": [now, now]}), [n["view"]], split=split
        )
    # A feature named like a spine column needs full feature names.
    with pytest.raises(timefence.InvalidArgument, match="full_feature_names"):
        client.get_historical_features(pd.DataFrame({"user_id": [1], "event_timestamp": [now], "clicks": [0]}), [n["view"]], split=split)


def test_arrow_spine_custom_timestamp_and_full_names(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid, key_type="string")
    split = open_split(client, uid)
    key = n["key"]
    res = client.write(
        n["view"],
        pa.table({key: ["a", "b"], "ts": pa.array([pd.Timestamp.now(tz="UTC")] * 2, pa.timestamp("us", "UTC")), "clicks": [1, 2]}),
        event_time_column="ts",
    )
    after = utc(res["commit_time"]) + pd.Timedelta(seconds=1)
    spine = pa.table(
        {
            key: pa.array(["b", "a", "c"], pa.large_string()),
            "when": pa.array([after.isoformat()] * 3),  # ISO strings are converted
            "label": pa.array([1, None, 3], pa.int32()),
        }
    )
    out = client.get_historical_features(spine, [f"{n['view']}:clicks"], split=split, timestamp_column="when", full_feature_names=True)
    clicks = f"{n['view']}__clicks"
    assert list(out.columns) == [key, "when", "label", clicks]
    assert out[clicks].tolist() == [2, 1, pd.NA]
    assert out["label"].tolist() == [1, pd.NA, 3] and str(out["label"].dtype) == "Int32"
    assert str(out["when"].dt.tz) == "UTC" and out["when"].iloc[0] == after

    online = client.get_online_features({key: ["a", "c"]}, [f"{n['view']}:clicks"], full_feature_names=True, include_status=True)
    assert list(online.columns) == [key, clicks, f"{clicks}__status", f"{clicks}__event_timestamp"]
    assert online[clicks].tolist() == [1, pd.NA]


def test_pandas_spine_index_and_string_times(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid)
    split = open_split(client, uid)
    res = client.write(n["view"], pd.DataFrame({"user_id": [5], "event_timestamp": [pd.Timestamp.now()], "clicks": [3]}))
    after = utc(res["commit_time"]) + pd.Timedelta(seconds=1)
    spine = pd.DataFrame(
        {
            "user_id": np.array([5, 6], dtype=np.uint8),  # cast to int64 by the client
            "event_timestamp": [after.isoformat(), after.isoformat()],
            "cat": pd.Categorical(["x", "y"]),
        },
        index=pd.Index(["r1", "r2"], name="rid"),
    )
    out = client.get_historical_features(spine, [n["view"]], split=split)
    assert out.index.tolist() == ["r1", "r2"] and out.index.name == "rid"
    assert out["cat"].dtype == "category" and out["user_id"].dtype == np.uint8
    assert out["event_timestamp"].tolist() == [after, after]
    assert out["clicks"].tolist() == [3, pd.NA]


def test_online_features_stale_and_shapes(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid, ttl="1h")
    now = pd.Timestamp.now(tz="UTC")
    client.write(
        n["view"],
        pd.DataFrame({"user_id": [1, 2], "event_timestamp": [now - pd.Timedelta(hours=2), now], "clicks": [1, 2], "score": [0.1, 0.2]}),
    )
    df = client.get_online_features({"user_id": [2, 1, 3]}, [f"{n['view']}:clicks", f"{n['view']}:score"], include_status=True)
    assert df["user_id"].tolist() == [2, 1, 3]
    assert df["clicks"].tolist() == [2, pd.NA, pd.NA]
    assert df["clicks__status"].tolist() == ["present", "stale", "not_found"]
    assert df["clicks__event_timestamp"].iloc[1] == (now - pd.Timedelta(hours=2))
    assert df.attrs["timefence"]["features"] == [f"{n['view']}:clicks", f"{n['view']}:score"]
    assert df.attrs["timefence"]["read_time"] >= now
    # a DataFrame of entities, and a single feature reference as a string
    single = client.get_online_features(pd.DataFrame({"user_id": [2]}), f"{n['view']}:score")
    assert list(single.columns) == ["user_id", "score"] and single["score"].tolist() == [0.2]
    with pytest.raises(timefence.InvalidArgument):
        client.get_online_features({"user_id": [1, 2], "other": [1]}, [n["view"]])
    with pytest.raises(timefence.InvalidArgument):
        client.get_online_features({"user_id": [True]}, [n["view"]])
    with pytest.raises(timefence.InvalidArgument):
        client.get_online_features({"other_id": [1]}, [n["view"]])
