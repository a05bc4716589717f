"""Online lookups against the real server: the DataFrame and the dict forms,
every feature type, nulls and the three statuses."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from helpers import ALL_TYPES, define_user_view

import timefence
from timefence import Feature
from timefence._arrow import to_pandas

NAMES = [f.name for f in ALL_TYPES]


def _populate(client: timefence.Client, uid: str) -> Dict[str, Any]:
    """A view of every type with a 1h ttl: user 1 has a value of each type,
    user 2 a row of nulls, user 3 values older than the ttl (stale), user 5
    empty values; user 4 was never written (not found)."""
    n = define_user_view(client, uid, features=ALL_TYPES, ttl="1h")
    fresh = pd.Timestamp.now(tz="UTC").floor("ms") - pd.Timedelta(minutes=1)
    old = fresh - pd.Timedelta(hours=2)
    res = client.write(
        n["view"],
        pd.DataFrame(
            {
                "user_id": [1, 2, 3, 5],
                "event_timestamp": [fresh, fresh, old, fresh],
                "i": pd.array([-7, None, 3, 0], dtype="Int64"),
                "d": [1.5, np.nan, 2.5, 0.0],
                "f": np.array([0.5, np.nan, 1.0, 0.0], dtype=np.float32),
                "s": ["ü", None, "x", ""],
                "b": pd.array([True, None, True, False], dtype="boolean"),
                "raw": [b"\x00\x01", None, b"x", b""],
                "emb": [[1.0, 2.5], None, [3.0], []],
            }
        ),
    )
    return dict(n, fresh=fresh, old=old, last_seq=res["last_seq"])


def test_online_dict_values_nulls_and_statuses(client: timefence.Client, uid: str) -> None:
    n = _populate(client, uid)
    before = pd.Timestamp.now(tz="UTC")
    out = client.get_online_features({"user_id": [1, 2, 3, 4, 5]}, [n["view"]], include_status=True, output="dict")

    assert isinstance(out, dict)
    assert list(out) == ["user_id"] + [c for f in NAMES for c in (f, f"{f}__status", f"{f}__event_timestamp")]
    assert out["user_id"] == [1, 2, 3, 4, 5]
    # Values are Python scalars; null (null value, stale, not found) is None.
    assert out["i"] == [-7, None, None, None, 0]
    assert out["d"] == [1.5, None, None, None, 0.0]
    assert out["f"] == [0.5, None, None, None, 0.0]
    assert out["s"] == ["ü", None, None, None, ""]
    assert out["b"] == [True, None, None, None, False]
    assert out["raw"] == [b"\x00\x01", None, None, None, b""]
    assert out["emb"] == [[1.0, 2.5], None, None, None, []]
    assert [type(v) for v in (out["i"][0], out["d"][0], out["f"][0], out["s"][0], out["b"][0], out["raw"][0], out["emb"][0])] == [
        int, float, float, str, bool, bytes, list]
    for f in NAMES:
        assert out[f"{f}__status"] == ["present", "present", "stale", "not_found", "present"], f
        # The event time of the version read; a stale value still has one.
        assert out[f"{f}__event_timestamp"] == [n["fresh"], n["fresh"], n["old"], None, n["fresh"]], f
    ts = out["i__event_timestamp"][0]
    assert isinstance(ts, pd.Timestamp) and str(ts.tz) == "UTC"

    meta = out.attrs["timefence"]
    assert meta["features"] == [f"{n['view']}:{f}" for f in NAMES]
    assert meta["watermark"] >= n["last_seq"]
    assert isinstance(meta["read_time"], pd.Timestamp) and meta["read_time"] >= before


def test_online_dict_without_status_and_shapes(client: timefence.Client, uid: str) -> None:
    n = _populate(client, uid)
    refs = [f"{n['view']}:i", f"{n['view']}:s"]
    # Feast's entity rows, and full feature names.
    out = client.get_online_features([{"user_id": 4}, {"user_id": 1}], refs, full_feature_names=True, output="dict")
    assert out == {"user_id": [4, 1], f"{n['view']}__i": [None, -7], f"{n['view']}__s": [None, "ü"]}
    # A DataFrame of entities, one feature as a string.
    out = client.get_online_features(pd.DataFrame({"user_id": [5, 2]}), f"{n['view']}:i", output="dict")
    assert out == {"user_id": [5, 2], "i": [0, None]}
    assert out.attrs["timefence"]["features"] == [f"{n['view']}:i"]
    # A single entity, the inference shape.
    assert client.get_online_features({"user_id": 1}, refs, output="dict") == {"user_id": [1], "i": [-7], "s": ["ü"]}
    with pytest.raises(timefence.InvalidArgument, match="output"):
        client.get_online_features({"user_id": [1]}, refs, output="polars")
    other = define_user_view(client, f"{uid}b", features=[Feature("i", "int64")])
    both = [f"{n['view']}:i", f"{other['view']}:i"]
    with pytest.raises(timefence.InvalidArgument, match="full_feature_names"):
        client.get_online_features({"user_id": [1]}, both, output="dict")
    out = client.get_online_features({"user_id": [1]}, both, full_feature_names=True, output="dict")
    assert out == {"user_id": [1], f"{n['view']}__i": [-7], f"{other['view']}__i": [None]}
    with pytest.raises(timefence.UnknownFeature):
        client.get_online_features({"user_id": [1]}, [f"{n['view']}:nope"], output="dict")


def test_online_dict_and_dataframe_agree(client: timefence.Client, uid: str) -> None:
    n = _populate(client, uid)
    entities = {"user_id": [3, 1, 4, 2, 5]}
    d = client.get_online_features(entities, [n["view"]], include_status=True, output="dict")
    df = client.get_online_features(entities, [n["view"]], include_status=True)
    assert list(df.columns) == list(d)
    for c in df.columns:
        values = [None if (not isinstance(v, (list, np.ndarray)) and pd.isna(v)) else v for v in df[c].tolist()]
        values = [v.tolist() if isinstance(v, np.ndarray) else v for v in values]
        assert values == d[c], c
    assert df.attrs["timefence"]["features"] == d.attrs["timefence"]["features"]


def test_online_dataframe_dtypes(client: timefence.Client, uid: str) -> None:
    n = _populate(client, uid)
    df = client.get_online_features({"user_id": [1, 2, 3, 4, 5]}, [n["view"]], include_status=True)
    assert df.index.equals(pd.RangeIndex(5))
    assert df["user_id"].dtype == np.int64
    assert str(df["i"].dtype) == "Int64" and df["i"].tolist() == [-7, pd.NA, pd.NA, pd.NA, 0]
    assert df["d"].dtype == np.float64 and df["d"].iloc[0] == 1.5 and df["d"].iloc[1:4].isna().all()
    assert df["f"].dtype == np.float32 and df["f"].iloc[0] == 0.5 and df["f"].iloc[1:4].isna().all()
    assert str(df["s"].dtype) == "string" and df["s"].tolist() == ["ü", pd.NA, pd.NA, pd.NA, ""]
    assert str(df["b"].dtype) == "boolean" and df["b"].tolist() == [True, pd.NA, pd.NA, pd.NA, False]
    assert df["raw"].dtype == object and df["raw"].tolist() == [b"\x00\x01", None, None, None, b""]
    assert df["emb"].dtype == object and df["emb"].iloc[1] is None and df["emb"].iloc[3] is None
    assert df["emb"].iloc[0].dtype == np.float32 and df["emb"].iloc[0].tolist() == [1.0, 2.5]
    assert str(df["i__status"].dtype) == "string"
    assert df["i__status"].tolist() == ["present", "present", "stale", "not_found", "present"]
    ts = df["d__event_timestamp"]
    assert isinstance(ts.dtype, pd.DatetimeTZDtype) and str(ts.dt.tz) == "UTC"
    assert ts.iloc[0] == n["fresh"] and ts.iloc[2] == n["old"] and pd.isna(ts.iloc[3])
    # A DataFrame of entities keeps its own key dtype; the index starts again at 0.
    keys = pd.DataFrame({"user_id": np.array([5, 1], dtype=np.int32)}, index=[10, 11])
    df = client.get_online_features(keys, [f"{n['view']}:i"])
    assert df["user_id"].dtype == np.int32 and df.index.equals(pd.RangeIndex(2)) and df["i"].tolist() == [0, -7]


def test_online_dataframe_matches_arrow_conversion(client: timefence.Client, uid: str) -> None:
    """The default frame is built without Arrow; it must be exactly what
    converting the Arrow result with the nullable mapping gives."""
    n = _populate(client, uid)
    entities = {"user_id": [1, 2, 3, 4, 5]}
    fast = client.get_online_features(entities, [n["view"]], include_status=True)
    arrow_backed = client.get_online_features(entities, [n["view"]], include_status=True, dtype_backend="pyarrow")
    assert all(isinstance(arrow_backed[c].dtype, pd.ArrowDtype) for c in arrow_backed.columns if c != "user_id")
    features = [c for c in fast.columns if c != "user_id"]
    want = to_pandas(pa.table({c: arrow_backed[c].array for c in features}), "nullable")
    pd.testing.assert_frame_equal(fast[features], want)
    numpy_backed = client.get_online_features(entities, [n["view"]], dtype_backend="numpy")
    assert numpy_backed["i"].dtype == np.float64 and np.isnan(numpy_backed["i"].iloc[1])
    with pytest.raises(timefence.InvalidArgument, match="dtype_backend"):
        client.get_online_features(entities, [n["view"]], dtype_backend="arrow")


def test_online_no_entities(client: timefence.Client, uid: str) -> None:
    n = _populate(client, uid)
    for output in ("pandas", "dict"):
        with pytest.raises(timefence.InvalidArgument, match="entity row"):
            client.get_online_features({"user_id": []}, [f"{n['view']}:i"], output=output)
