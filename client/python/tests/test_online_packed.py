"""Packed online results read into the dict and the DataFrame, from
hand-made responses: features of one field interleaved with others of
another type, lists, nulls, and responses that do not add up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from timefence import TimefenceError, _online
from timefence._proto.timefence.v1 import online_service_pb2 as pb
from timefence._proto.timefence.v1 import types_pb2

T = types_pb2
PRESENT, NOT_FOUND = pb.FEATURE_STATUS_PRESENT, pb.FEATURE_STATUS_NOT_FOUND


def _response(**packed) -> pb.GetOnlineFeaturesResponse:
    resp = pb.GetOnlineFeaturesResponse(watermark=7)
    resp.packed.CopyFrom(pb.PackedColumns(**packed))
    return resp


def _mixed() -> pb.GetOnlineFeaturesResponse:
    """Two rows of: int64 a, timestamp t, int64 list l, int64 b, double d,
    string s. a, t, l's items and b share int64_values; row 1 is null in
    a, l and s, and not found in every feature."""
    return _response(
        types=[T.VALUE_TYPE_INT64, T.VALUE_TYPE_TIMESTAMP, T.VALUE_TYPE_INT64_LIST, T.VALUE_TYPE_INT64,
               T.VALUE_TYPE_DOUBLE, T.VALUE_TYPE_STRING],
        statuses=[PRESENT, NOT_FOUND] * 6,
        event_time_unix_nanos=[5, 0] * 6,
        nulls=[False, True, False, False, False, True, False, False, False, False, False, True],
        int64_values=[11, 0, 1_000, 2_000, 7, 8, 9, 21, 22],
        double_values=[0.5, -1.5],
        string_values=["x", ""],
        list_lengths=[3, 0],
    )


ARGS = (["a", "t", "l", "b", "d", "s"], {"user_id": [1, 2]}, ["user_id"], [[1, 2]])


def test_dict() -> None:
    got = _online.to_dict(_mixed(), *ARGS, True, {})
    stamp = pd.Timestamp(1_000, unit="ns", tz="UTC")
    assert dict(got) == {
        "user_id": [1, 2],
        "a": [11, None], "a__status": ["present", "not_found"], "a__event_timestamp": [pd.Timestamp(5, tz="UTC"), None],
        "t": [stamp, pd.Timestamp(2_000, unit="ns", tz="UTC")],
        "t__status": ["present", "not_found"], "t__event_timestamp": [pd.Timestamp(5, tz="UTC"), None],
        "l": [[7, 8, 9], None], "l__status": ["present", "not_found"], "l__event_timestamp": [pd.Timestamp(5, tz="UTC"), None],
        "b": [21, 22], "b__status": ["present", "not_found"], "b__event_timestamp": [pd.Timestamp(5, tz="UTC"), None],
        "d": [0.5, -1.5], "d__status": ["present", "not_found"], "d__event_timestamp": [pd.Timestamp(5, tz="UTC"), None],
        "s": ["x", None], "s__status": ["present", "not_found"], "s__event_timestamp": [pd.Timestamp(5, tz="UTC"), None],
    }


def test_frame() -> None:
    df = _online.to_frame(_mixed(), *ARGS, False, {})
    assert list(df.columns) == ["user_id", "a", "t", "l", "b", "d", "s"]
    assert df["a"].tolist() == [11, pd.NA] and str(df["a"].dtype) == "Int64"
    assert df["b"].tolist() == [21, 22] and str(df["b"].dtype) == "Int64"
    assert df["t"].tolist() == [pd.Timestamp(1_000, unit="ns", tz="UTC"), pd.Timestamp(2_000, unit="ns", tz="UTC")]
    assert df["l"].iloc[0].tolist() == [7, 8, 9] and df["l"].iloc[1] is None
    assert df["d"].tolist() == [0.5, -1.5]
    assert df["s"].tolist() == ["x", pd.NA] and str(df["s"].dtype) == "string"
    arrow = _online.arrow_frame(_mixed(), *ARGS, False, "pyarrow", {})
    assert arrow["a"].tolist() == [11, pd.NA] and list(arrow["l"].iloc[0]) == [7, 8, 9] and pd.isna(arrow["l"].iloc[1])


@pytest.mark.parametrize("change, message", [
    ({"int64_values": [11, 0, 1_000, 2_000, 7, 8, 9, 21]}, "8 int64_values for 6 features x 2 rows; want 9"),
    ({"double_values": [0.5, -1.5, 2.5]}, "3 double_values for 6 features x 2 rows; want 2"),
    ({"list_lengths": [3]}, "list lengths do not hold 2 entity rows"),
    ({"list_lengths": [3, 0, 1]}, "3 list lengths; want 2"),
    ({"list_lengths": [4, -1]}, "list lengths do not hold 2 entity rows"),
    ({"nulls": [False] * 11}, "nulls, statuses or event times do not hold 6 features x 2 rows"),
    ({"statuses": [PRESENT] * 13}, "nulls, statuses or event times do not hold 6 features x 2 rows"),
    ({"types": [T.VALUE_TYPE_INT64] * 5 + [99]}, "unknown value type 99"),
])
def test_inconsistent_responses_are_refused(change, message) -> None:
    resp = _mixed()
    for field, values in change.items():
        resp.packed.ClearField(field)
        getattr(resp.packed, field).extend(values)
    for read in (lambda: _online.to_dict(resp, *ARGS, True, {}), lambda: _online.to_frame(resp, *ARGS, True, {})):
        with pytest.raises(TimefenceError, match="online response: " + message.replace("(", r"\(")):
            read()


def test_columns_from_an_older_server_are_refused() -> None:
    resp = pb.GetOnlineFeaturesResponse(columns=[pb.FeatureColumn(type=T.VALUE_TYPE_INT64)])
    with pytest.raises(TimefenceError, match="the server is older than this client"):
        _online.to_dict(resp, *ARGS, False, {})
    assert np.array_equal(_online.Packed(_mixed(), 2).nulls[0], [False, True])
