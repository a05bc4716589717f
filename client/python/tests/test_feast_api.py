"""Feast's call shapes on timefence's client: ``entity_df=``, ``.to_df()``,
``entity_rows=``, ``.to_dict()``; and the differences docs/feast.md states,
each checked against the server."""

from __future__ import annotations

import pickle
from typing import Dict

import grpc
import pandas as pd
import pytest

import timefence
from timefence import Feature


@pytest.fixture
def drivers(client: timefence.Client, uid: str) -> Dict[str, str]:
    """A driver entity and view with backfilled history in 2024, a split
    over the first half of 2024: Feast's quickstart, timefence's way."""
    entity, view, split = f"driver_{uid}", f"driver_stats_{uid}", f"train_{uid}"
    client.apply([
        timefence.Entity(entity, join_keys=[timefence.JoinKey("driver_id", "int64")]),
        timefence.FeatureView(view, entity=entity, ttl="30d",
                              features=[Feature("conv_rate", "double"), Feature("trips", "int64")]),
    ])
    client.create_split(split, start="2024-01-01T00:00:00Z", end="2024-06-30T23:59:59Z")
    client.write(view, pd.DataFrame({
        "driver_id": [1001, 1001, 1002],
        "event_timestamp": pd.to_datetime(["2024-03-01T10:00:00Z", "2024-03-02T10:00:00Z", "2024-03-01T10:00:00Z"]),
        "available_at": pd.to_datetime(["2024-03-01T10:05:00Z", "2024-03-02T10:05:00Z", "2024-03-01T10:05:00Z"]),
        "conv_rate": [0.5, 0.6, 0.9],
        "trips": [10, 12, 3],
    }), backfill=True)
    return {"entity": entity, "view": view, "split": split}


def _entity_df() -> pd.DataFrame:
    return pd.DataFrame({
        "driver_id": [1001, 1002],
        "event_timestamp": pd.to_datetime(["2024-03-03T00:00:00Z", "2024-03-03T00:00:00Z"]),
        "label": [1, 0],
    })


def test_historical_with_entity_df_and_to_df(client: timefence.Client, drivers: Dict[str, str]) -> None:
    v = drivers["view"]
    job = client.get_historical_features(
        entity_df=_entity_df(), features=[f"{v}:conv_rate", f"{v}:trips"], full_feature_names=False, split=drivers["split"]
    )
    df = job.to_df()
    assert type(df) is pd.DataFrame
    assert df.columns.tolist() == ["driver_id", "event_timestamp", "label", "conv_rate", "trips"]
    assert df["conv_rate"].tolist() == [0.6, 0.9] and df["trips"].tolist() == [12, 3]
    assert df.attrs["timefence"]["rows"] == 2 and df.attrs["timefence"]["split"] == drivers["split"]
    # The result itself is still the DataFrame it always was.
    assert isinstance(job, pd.DataFrame) and isinstance(job, timefence.HistoricalFeatures)
    pd.testing.assert_frame_equal(job.to_df(), pd.DataFrame(job), check_frame_type=False)
    assert job["trips"].tolist() == [12, 3] and type(job[["trips"]]) is pd.DataFrame
    assert job.attrs["timefence"] == client.last_summary
    # The spine positionally, as before, gives the same frame.
    same = client.get_historical_features(_entity_df(), [f"{v}:conv_rate", f"{v}:trips"], split=drivers["split"])
    pd.testing.assert_frame_equal(same, job)
    # to_arrow: Feast's other RetrievalJob method.
    table = job.to_arrow()
    assert table.column_names == df.columns.tolist()
    assert table.column("trips").to_pylist() == [12, 3]
    assert b"timefence" in table.schema.metadata
    # A pickled result is still one.
    again = pickle.loads(pickle.dumps(job))
    pd.testing.assert_frame_equal(again.to_df(), df)


def test_historical_full_feature_names(client: timefence.Client, drivers: Dict[str, str]) -> None:
    v = drivers["view"]
    df = client.get_historical_features(
        entity_df=_entity_df(), features=[f"{v}:trips"], full_feature_names=True, split=drivers["split"]
    ).to_df()
    assert df.columns.tolist() == ["driver_id", "event_timestamp", "label", f"{v}__trips"]


def test_historical_needs_a_split_and_says_so(client: timefence.Client, drivers: Dict[str, str]) -> None:
    """Feast has no split; a Feast call without one is refused by the guard,
    and the error names the argument to add."""
    with pytest.raises(timefence.SplitRequired) as ei:
        client.get_historical_features(entity_df=_entity_df(), features=[f"{drivers['view']}:trips"]).to_df()
    e = ei.value
    assert e.message.startswith("get_historical_features needs split=")
    assert "create_split(" in e.message and "the server said: split:" in e.message
    assert (e.code, e.reason, e.domain) == (grpc.StatusCode.FAILED_PRECONDITION, "SPLIT_REQUIRED", "timefence.dev")


def test_historical_spine_arguments(client: timefence.Client, drivers: Dict[str, str]) -> None:
    v = drivers["view"]
    with pytest.raises(TypeError, match="pass the spine once"):
        client.get_historical_features(_entity_df(), [v], entity_df=_entity_df(), split=drivers["split"])
    with pytest.raises(TypeError, match="missing the spine"):
        client.get_historical_features(features=[v], split=drivers["split"])
    with pytest.raises(TypeError, match="missing features"):
        client.get_historical_features(entity_df=_entity_df(), split=drivers["split"])


def test_online_with_entity_rows(client: timefence.Client, drivers: Dict[str, str]) -> None:
    v = drivers["view"]
    refs = [f"{v}:conv_rate", f"{v}:trips"]
    resp = client.get_online_features(features=refs, entity_rows=[{"driver_id": 1001}, {"driver_id": 1003}])
    assert isinstance(resp, timefence.OnlineFeatures)
    # Feast's shape: {name: [values]}, the join keys included; None where nothing was found.
    # The history is from 2024 and the view's ttl is 30 days: stale now, so null.
    assert resp.to_dict() == {"driver_id": [1001, 1003], "conv_rate": [None, None], "trips": [None, None]}
    assert type(resp.to_dict()) is dict
    df = resp.to_df()
    want = client.get_online_features({"driver_id": [1001, 1003]}, refs)
    pd.testing.assert_frame_equal(df, want)
    assert df.attrs["timefence"]["features"] == refs
    # output="pandas" still gives the DataFrame itself.
    assert isinstance(client.get_online_features(features=refs, entity_rows=[{"driver_id": 1001}], output="pandas"), pd.DataFrame)
    # full_feature_names, as in Feast.
    full = client.get_online_features(features=refs, entity_rows=[{"driver_id": 1001}], full_feature_names=True)
    assert list(full.to_dict()) == ["driver_id", f"{v}__conv_rate", f"{v}__trips"]


def test_online_values_and_status_through_to_df(client: timefence.Client, uid: str, drivers: Dict[str, str]) -> None:
    v = drivers["view"]
    client.write(v, pd.DataFrame({"driver_id": [1001], "event_timestamp": [pd.Timestamp.now(tz="UTC")],
                                  "conv_rate": [0.7], "trips": [13]}))
    resp = client.get_online_features(features=[v], entity_rows=[{"driver_id": 1001}, {"driver_id": 1003}],
                                      include_status=True)
    d = resp.to_dict()
    assert d["trips"] == [13, None] and d["conv_rate"] == [0.7, None]
    assert d["trips__status"] == ["present", "not_found"]
    df = resp.to_df()
    assert df["trips"].dtype == "Int64" and df["trips__status"].tolist() == ["present", "not_found"]
    arrow = resp.to_df(dtype_backend="pyarrow")
    assert isinstance(arrow["trips"].dtype, pd.ArrowDtype)
    # The dict form of the timefence call has the same methods, and keeps them through pickle.
    row = client.get_online_features({"driver_id": 1001}, [f"{v}:trips"], output="dict")
    assert row.to_dict() == {"driver_id": [1001], "trips": [13]}
    back = pickle.loads(pickle.dumps(row))
    assert back == row and back.attrs == row.attrs
    pd.testing.assert_frame_equal(back.to_df(), row.to_df())


def test_online_argument_errors(client: timefence.Client, drivers: Dict[str, str]) -> None:
    v = drivers["view"]
    # Feast's positional order is (features, entity_rows).
    with pytest.raises(TypeError, match=r"Feast's positional order \(features, entity_rows\)"):
        client.get_online_features([f"{v}:trips"], [{"driver_id": 1001}])
    with pytest.raises(TypeError, match="pass the entities once"):
        client.get_online_features([f"{v}:trips"], entity_rows=[{"driver_id": 1001}])
    with pytest.raises(timefence.InvalidArgument, match="entity_rows: expected a list of dicts"):
        client.get_online_features(features=[v], entity_rows={"driver_id": [1001]})
    with pytest.raises(TypeError, match="missing features"):
        client.get_online_features(entity_rows=[{"driver_id": 1001}])
    # An as-of read (training-side) without a split names the argument too.
    with pytest.raises(timefence.SplitRequired, match="get_online_features with as_of needs split="):
        client.get_online_features(features=[v], entity_rows=[{"driver_id": 1001}], as_of="2024-03-03T00:00:00Z")


def test_registry_objects_have_feast_attributes(client: timefence.Client, drivers: Dict[str, str]) -> None:
    views = {fv.name: fv for fv in client.list_feature_views()}
    fv = views[drivers["view"]]
    assert [f.name for f in fv.features] == ["conv_rate", "trips"]
    assert fv.ttl == pd.Timedelta(days=30)
    entities = {e.name: e for e in client.list_entities()}
    assert [k.name for k in entities[drivers["entity"]].join_keys] == ["driver_id"]


# -- the differences docs/feast.md states ------------------------------------


def test_spine_row_without_a_value_is_kept(client: timefence.Client, drivers: Dict[str, str]) -> None:
    """Feast drops an entity row with no feature row before it; timefence keeps it, with nulls."""
    spine = pd.DataFrame({"driver_id": [1001, 1001, 1999],
                          "event_timestamp": pd.to_datetime(["2024-02-01T00:00:00Z", "2024-03-03T00:00:00Z",
                                                             "2024-03-03T00:00:00Z"])})
    out = client.get_historical_features(spine, [f"{drivers['view']}:trips"], split=drivers["split"])
    assert out["trips"].tolist() == [pd.NA, 12, pd.NA]


def test_duplicate_spine_rows_are_all_kept(client: timefence.Client, drivers: Dict[str, str]) -> None:
    spine = pd.DataFrame({"driver_id": [1001, 1001], "event_timestamp": pd.to_datetime(["2024-03-03T00:00:00Z"] * 2),
                          "label": [0, 1]})
    out = client.get_historical_features(spine, [f"{drivers['view']}:trips"], split=drivers["split"])
    assert len(out) == 2 and out["label"].tolist() == [0, 1] and out["trips"].tolist() == [12, 12]


def test_event_time_ties_break_on_available_at_then_seq(client: timefence.Client, drivers: Dict[str, str]) -> None:
    v, split = drivers["view"], drivers["split"]
    at = "2024-04-01T00:00:00Z"

    def write(trips: int, available_at: str) -> None:
        client.write(v, pd.DataFrame({"driver_id": [2001], "event_timestamp": [at], "available_at": [available_at],
                                      "trips": [trips]}), backfill=True)

    write(1, "2024-04-01T02:00:00Z")
    write(2, "2024-04-01T01:00:00Z")  # written later, but arrived earlier
    write(3, "2024-04-01T02:00:00Z")  # same event time and arrival as the first: the later write wins
    spine = pd.DataFrame({"driver_id": 2001, "event_timestamp": pd.to_datetime(
        ["2024-04-01T00:30:00Z", "2024-04-01T01:30:00Z", "2024-04-01T03:00:00Z"])})
    out = client.get_historical_features(spine, [f"{v}:trips"], split=split)
    assert out["trips"].tolist() == [pd.NA, 2, 3]


def test_late_data_is_invisible_before_it_arrived(client: timefence.Client, drivers: Dict[str, str]) -> None:
    """Feast joins on event time only; a value that arrived late is visible
    to timefence only from its arrival (Feast's `created` column maps to
    a backfill's available_at)."""
    v, split = drivers["view"], drivers["split"]
    client.write(v, pd.DataFrame({"driver_id": [3001], "event_timestamp": ["2024-05-01T00:00:00Z"],
                                  "available_at": ["2024-05-03T00:00:00Z"], "trips": [5]}), backfill=True)
    spine = pd.DataFrame({"driver_id": 3001, "event_timestamp": pd.to_datetime(
        ["2024-05-02T00:00:00Z", "2024-05-04T00:00:00Z"])})
    out = client.get_historical_features(spine, [f"{v}:trips"], split=split)
    assert out["trips"].tolist() == [pd.NA, 5]
    assert out.attrs["timefence"]["naive_differences"] == 1
