"""Deletions: Client.delete, the deleted column of Client.write, and an
export written back as it is."""

from __future__ import annotations

import pathlib

import pandas as pd
import pyarrow as pa
import pytest

import timefence
from conftest import start_server, stop_server
from helpers import define_user_view


def _status(client: timefence.Client, view: str, users: list) -> list:
    out = client.get_online_features({"user_id": users}, [f"{view}:clicks"], include_status=True, output="dict")
    return out["clicks__status"]


def test_delete_then_not_found(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid)
    now = pd.Timestamp.now(tz="UTC")
    client.write(n["view"], pd.DataFrame({"user_id": [1, 2, 3], "event_timestamp": [now - pd.Timedelta(minutes=5)] * 3,
                                          "clicks": [1, 2, 3], "score": [0.5, 1.5, 2.5]}))
    assert _status(client, n["view"], [1, 2, 3]) == ["present"] * 3

    res = client.delete(n["view"], {"user_id": [1, 2]})
    assert res["rows"] == 2 and not res["duplicate"]
    assert _status(client, n["view"], [1, 2, 3]) == ["not_found", "not_found", "present"]

    # A deleted entity carries its deletion's event time; one never written, none.
    client.write(n["view"], pd.DataFrame({"user_id": [5], "event_timestamp": [now - pd.Timedelta(minutes=5)],
                                          "clicks": [5], "score": [5.5]}))
    at = now - pd.Timedelta(minutes=1)
    client.delete(n["view"], {"user_id": [5]}, event_time=at)
    df = client.get_online_features({"user_id": [5, 99]}, [f"{n['view']}:clicks"], include_status=True)
    assert df["clicks__status"].tolist() == ["not_found", "not_found"]
    assert df["clicks__event_timestamp"].iloc[0] == at
    assert pd.isna(df["clicks__event_timestamp"].iloc[1])
    d = client.get_online_features({"user_id": [5, 99]}, [f"{n['view']}:clicks"], include_status=True, output="dict")
    assert d["clicks__event_timestamp"][0] == at and pd.isna(d["clicks__event_timestamp"][1])

    # A DataFrame of keys, an event time, a batch id; a deletion earlier than
    # the key's latest version leaves it present.
    keys = pd.DataFrame({"user_id": [3]})
    first = client.delete(n["view"], keys, event_time=now - pd.Timedelta(hours=1), batch_id=f"del-{uid}")
    again = client.delete(n["view"], keys, event_time=now - pd.Timedelta(hours=1), batch_id=f"del-{uid}")
    assert again["duplicate"] and again["first_seq"] == first["first_seq"]
    assert _status(client, n["view"], [3]) == ["present"]

    with pytest.raises(timefence.InvalidArgument, match="keyed by user_id"):
        client.delete(n["view"], {"customer": [1]})
    with pytest.raises(timefence.InvalidArgument, match="at least one entity"):
        client.delete(n["view"], {"user_id": []})


def test_write_with_deleted_column(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid, features=[timefence.Feature("clicks", "int64", required=True),
                                                timefence.Feature("score", "double")])
    now = pd.Timestamp.now(tz="UTC")
    t0, t1 = now - pd.Timedelta(minutes=10), now - pd.Timedelta(minutes=5)
    client.write(n["view"], pd.DataFrame({"user_id": [1, 2, 3], "event_timestamp": [t0] * 3,
                                          "clicks": [1, 2, 3], "score": [0.5, 1.5, 2.5]}))
    # Deleted rows carry nulls, even in the required clicks; None in deleted is False.
    client.write(n["view"], pd.DataFrame({"user_id": [1, 2, 3], "event_timestamp": [t1] * 3,
                                          "deleted": [True, False, None],
                                          "clicks": [None, 20, 30], "score": [None, None, 3.5]}))
    out = client.get_online_features({"user_id": [1, 2, 3]}, [n["view"]], include_status=True, output="dict")
    assert out["clicks__status"] == ["not_found", "present", "present"]
    assert out["clicks"] == [None, 20, 30]

    with pytest.raises(timefence.InvalidArgument, match='row 0: column "score": a deleted row carries no values'):
        client.write(n["view"], pd.DataFrame({"user_id": [2], "event_timestamp": [now], "deleted": [True],
                                              "clicks": [None], "score": [1.0]}))
    with pytest.raises(timefence.InvalidArgument, match="only allowed in a backfill"):
        client.write(n["view"], pd.DataFrame({"user_id": [2], "event_timestamp": [now], "backfilled": [False],
                                              "clicks": [1]}))
    assert _status(client, n["view"], [2]) == ["present"], "nothing of the refused writes was written"


def _comparable(table: pa.Table) -> pd.DataFrame:
    """An export's rows without the backfilled flag (a backfill sets it)."""
    return table.drop_columns(["backfilled"]).to_pandas()


def test_export_writes_back(client: timefence.Client, uid: str, binary: pathlib.Path, tmp_path: pathlib.Path) -> None:
    n = define_user_view(client, uid)
    now = pd.Timestamp.now(tz="UTC")
    t0 = now - pd.Timedelta(days=2)
    client.write(n["view"], pd.DataFrame({
        "user_id": [1, 2, 1],
        "event_timestamp": [t0, t0, t0 + pd.Timedelta(hours=1)],
        "available_at": [t0 + pd.Timedelta(minutes=5), t0, t0 + pd.Timedelta(hours=2)],
        "deleted": [False, False, True],
        "clicks": [1, 2, None],
        "score": [0.5, None, None],
    }), backfill=True)
    client.write(n["view"], pd.DataFrame({"user_id": [2, 3], "event_timestamp": [t0 + pd.Timedelta(hours=3)] * 2,
                                          "clicks": [5, 6], "score": [None, 6.5]}))
    client.delete(n["view"], {"user_id": [3]}, event_time=t0 + pd.Timedelta(hours=4))
    # A split ending now: the live writes above are available by its end.
    split = client.create_split(f"back_{uid}", start=t0 - pd.Timedelta(days=1), end=pd.Timestamp.now(tz="UTC"))
    want = client.export(split.name, n["view"])[n["view"]]
    assert want.num_rows == 6
    assert want.column("deleted").to_pylist().count(True) == 2

    proc, address = start_server(binary, tmp_path / "data", tmp_path / "log")
    try:
        with timefence.Client(address) as other:
            define_user_view(other, uid)
            other.create_split(split.name, start=split.start, end=split.end)
            res = other.write(n["view"], want, backfill=True)
            assert res["rows"] == 6
            got = other.export(split.name, n["view"])[n["view"]]
    finally:
        stop_server(proc)
    assert got.column("backfilled").to_pylist() == [True] * 6
    pd.testing.assert_frame_equal(_comparable(want), _comparable(got))
