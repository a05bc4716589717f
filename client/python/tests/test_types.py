"""Every value type through every surface of the Python client: write,
online (dict and DataFrame), point-in-time join, export (and its Parquet),
statistics; the checks on write; widening a feature's type."""

from __future__ import annotations

import json
import pathlib
from typing import Any, Dict

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import define_user_view, open_split, utc

import timefence
from timefence import Feature

T0 = pd.Timestamp("2024-03-01T12:00:00.123456789Z")
T1 = pd.Timestamp("1969-07-20T20:17:40Z")

# One feature of each type besides those of helpers.ALL_TYPES, and what user 1
# writes to it, in the form a pandas user would hold it.
WRITTEN: Dict[str, Any] = {
    "i32": ("int32", -2_147_483_648),
    "ts": ("timestamp", T0),
    "js": ("json", [1, "two", {"three": 3.5}]),
    "mp": ("map", {"a": 1, "b": [True, None]}),
    "i32s": ("int32_list", [2_147_483_647, -1]),
    "i64s": ("int64_list", [2**62, -5]),
    "ds": ("double_list", [0.25, -1e300]),
    "ss": ("string_list", ["ü", ""]),
    "bs": ("bool_list", [True, False, True]),
    "raws": ("bytes_list", [b"\x00\xff", b""]),
    "tss": ("timestamp_list", [T0, T1]),
}
# What reads return for user 1, in plain Python (JSON and map as the text written).
READ: Dict[str, Any] = {
    "i32": -2_147_483_648,
    "ts": T0,
    "js": json.dumps(WRITTEN["js"][1]),
    "mp": json.dumps(WRITTEN["mp"][1]),
    "i32s": [2_147_483_647, -1],
    "i64s": [2**62, -5],
    "ds": [0.25, -1e300],
    "ss": ["ü", ""],
    "bs": [True, False, True],
    "raws": [b"\x00\xff", b""],
    "tss": [T0, T1],
}
ARROW = {
    "i32": pa.int32(),
    "ts": pa.timestamp("ns", "UTC"),
    "js": pa.string(),
    "mp": pa.string(),
    "i32s": pa.list_(pa.int32()),
    "i64s": pa.list_(pa.int64()),
    "ds": pa.list_(pa.float64()),
    "ss": pa.list_(pa.string()),
    "bs": pa.list_(pa.bool_()),
    "raws": pa.list_(pa.binary()),
    "tss": pa.list_(pa.timestamp("ns", "UTC")),
}
NAMES = list(WRITTEN)


def _plain(v: Any) -> Any:
    """A value read back, as plain Python for comparison."""
    if isinstance(v, np.ndarray):
        # A DataFrame's list cell: a numpy array (of datetime64[ns] for times, in UTC).
        v = [utc(x) for x in v] if v.dtype.kind == "M" else v.tolist()
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, np.datetime64):
        return utc(v)
    if isinstance(v, pd.Timestamp):
        return utc(v)
    if isinstance(v, np.generic):
        return v.item()
    return v


def _populate(client: timefence.Client, uid: str) -> Dict[str, Any]:
    """User 1 has a value of each type, user 2 nulls, user 3 empty lists."""
    n = define_user_view(client, uid, features=[Feature(name, typ) for name, (typ, _) in WRITTEN.items()])
    et = pd.Timestamp.now(tz="UTC").floor("ms") - pd.Timedelta(minutes=1)
    empty = {name: ([] if typ.endswith("_list") else None) for name, (typ, _) in WRITTEN.items()}
    df = pd.DataFrame({"user_id": [1, 2, 3], "event_timestamp": [et] * 3})
    for name, (_, value) in WRITTEN.items():
        col = np.empty(3, dtype=object)
        for i, v in enumerate([value, None, empty[name]]):
            col[i] = v
        df[name] = col
    res = client.write(n["view"], df)
    return dict(n, et=et, res=res)


def test_every_type_online(client: timefence.Client, uid: str) -> None:
    n = _populate(client, uid)
    out = client.get_online_features({"user_id": [1, 2, 3]}, [n["view"]], output="dict")
    for name in NAMES:
        assert _plain(out[name][0]) == READ[name], name
        assert out[name][1] is None, name
        want_empty = [] if WRITTEN[name][0].endswith("_list") else None
        assert out[name][2] == want_empty, name
    assert isinstance(out["ts"][0], pd.Timestamp) and str(out["ts"][0].tz) == "UTC"
    assert out["ts"][0].nanosecond == 789, "nanoseconds are kept"

    df = client.get_online_features({"user_id": [1, 2, 3]}, [n["view"]])
    assert str(df["i32"].dtype) == "Int32"
    assert isinstance(df["ts"].dtype, pd.DatetimeTZDtype) and str(df["ts"].dt.tz) == "UTC"
    assert str(df["js"].dtype) == "string" and str(df["mp"].dtype) == "string"
    for name in NAMES:
        assert _plain(df[name].iloc[0]) == READ[name], name
        assert df[name].iloc[1] is None or pd.isna(df[name].iloc[1]), name
    # The Arrow-backed frame holds the same values in the join's Arrow types.
    arrow_df = client.get_online_features({"user_id": [1]}, [n["view"]], dtype_backend="pyarrow")
    for name, typ in ARROW.items():
        assert arrow_df[name].dtype == pd.ArrowDtype(typ), name
        assert _plain(arrow_df[name].iloc[0]) == READ[name], name


def test_every_type_join_export_statistics(client: timefence.Client, uid: str, tmp_path: pathlib.Path) -> None:
    n = _populate(client, uid)
    split = open_split(client, uid)
    after = utc(n["res"]["commit_time"]) + pd.Timedelta(milliseconds=1)
    spine = pd.DataFrame({"user_id": [1, 2, 3, 4], "event_timestamp": [after] * 4})

    table = client.get_historical_features(spine, [n["view"]], split=split, as_arrow=True)
    assert {k: table.schema.field(k).type for k in ARROW} == ARROW
    for name in NAMES:
        col = table.column(name).to_pylist()
        assert _plain(col[0]) == READ[name], name
        assert col[1] is None and col[3] is None, name

    df = client.get_historical_features(spine, [n["view"]], split=split)
    assert str(df["i32"].dtype) == "Int32"
    for name in NAMES:
        assert _plain(df[name].iloc[0]) == READ[name], name

    tables = client.export(split, n["view"], tmp_path)
    exported = tables[n["view"]]
    assert {k: exported.schema.field(k).type for k in ARROW} == ARROW
    row = exported.to_pylist()[exported.column("user_id").to_pylist().index(1)]
    for name in NAMES:
        assert _plain(row[name]) == READ[name], name
    parquet = pq.read_table(tmp_path / f"{n['view']}.parquet")
    prow = parquet.to_pylist()[parquet.column("user_id").to_pylist().index(1)]
    for name in NAMES:
        assert _plain(prow[name]) == READ[name], name

    stats = client.statistics(split, n["view"])
    assert stats.loc["i32", "min"] == -2_147_483_648
    for name in NAMES:
        assert stats.loc[name, "null_count"] == (2 if WRITTEN[name][0] in ("json", "map", "int32", "timestamp") else 1), name


def test_checks_on_write(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid, features=[Feature("js", "json"), Feature("mp", "map"), Feature("i32", "int32"),
                                                Feature("ds", "double_list"), Feature("ts", "timestamp")])
    et = pd.Timestamp.now(tz="UTC").floor("s")

    def write(**cols: Any) -> None:
        client.write(n["view"], pd.DataFrame({"user_id": [1, 2], "event_timestamp": [et, et], **cols}))

    with pytest.raises(timefence.InvalidArgument, match=r"row 1.*js.*not valid JSON"):
        write(js=['{"a": 1}', '{"a": '])
    with pytest.raises(timefence.InvalidArgument, match=r"row 0.*mp.*a map is a JSON object"):
        write(mp=["[1, 2]", "{}"])
    with pytest.raises(timefence.InvalidArgument, match=r"i32"):
        write(i32=[1, 2**40])
    with pytest.raises(timefence.InvalidArgument, match=r"row 1.*ds.*NaN"):
        write(ds=[[1.0], [float("nan")]])
    with pytest.raises(timefence.InvalidArgument, match=r"ts.*row 0"):
        write(ts=["03/02/2024 10:00", "2024-01-01T00:00:00Z"])
    # Nothing of the refused batches was written.
    out = client.get_online_features({"user_id": [1, 2]}, [n["view"]], include_status=True, output="dict")
    assert out["js__status"] == ["not_found", "not_found"]

    # Timestamps as strings follow the timestamp rule; Python objects go in as JSON.
    write(ts=["2024-01-01T00:00:00.000000001Z", None], mp=[{"k": "v"}, None], js=[None, [1, None]])
    out = client.get_online_features({"user_id": [1, 2]}, [n["view"]], output="dict")
    assert out["ts"] == [pd.Timestamp("2024-01-01T00:00:00.000000001Z"), None]
    assert out["mp"] == ['{"k": "v"}', None] and out["js"] == [None, "[1, null]"]
    # Numbers in a numeric column are JSON numbers; NaN is null.
    write(js=[2.5, np.nan])
    assert client.get_online_features({"user_id": [1, 2]}, [f"{n['view']}:js"], output="dict")["js"] == ["2.5", None]


def test_widening(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid, features=[Feature("c", "int32"), Feature("e", "float_list")])
    split = open_split(client, uid)
    et = pd.Timestamp.now(tz="UTC").floor("ms") - pd.Timedelta(minutes=1)
    res = client.write(n["view"], pd.DataFrame({"user_id": [1], "event_timestamp": [et], "c": [-3], "e": [[0.5, 1.0]]}))
    spine = pd.DataFrame({"user_id": [1], "event_timestamp": [utc(res["commit_time"]) + pd.Timedelta(milliseconds=1)]})
    before = client.get_historical_features(spine, [n["view"]], split=split, as_arrow=True)
    dataset = json.loads(before.schema.metadata[b"timefence"])["dataset_id"]
    assert before.schema.field("c").type == pa.int32()

    # int32 to int64 and float_list to double_list widen; a narrowing is refused.
    with pytest.raises(timefence.SchemaMismatch, match="cannot change type from int32 to string"):
        define_user_view(client, uid, features=[Feature("c", "string"), Feature("e", "float_list")])
    define_user_view(client, uid, features=[Feature("c", "int64"), Feature("e", "double_list")])
    client.write(n["view"], pd.DataFrame({"user_id": [2], "event_timestamp": [et], "c": [2**40], "e": [[1e300]]}))
    out = client.get_online_features({"user_id": [1, 2]}, [n["view"]], output="dict")
    assert out == {"user_id": [1, 2], "c": [-3, 2**40], "e": [[0.5, 1.0], [1e300]]}
    after = client.get_historical_features(spine, [n["view"]], split=split, as_arrow=True)
    assert after.schema.field("c").type == pa.int64() and after.schema.field("e").type == pa.list_(pa.float64())

    # The dataset recorded before re-reads as it was, byte for byte.
    again = client.get_historical_features(spine, split=split, dataset_id=dataset, as_arrow=True)
    assert again.schema.field("c").type == pa.int32()
    assert json.loads(again.schema.metadata[b"timefence"])["checksum"] == json.loads(before.schema.metadata[b"timefence"])["checksum"]
    assert again.column("c").to_pylist() == [-3]
