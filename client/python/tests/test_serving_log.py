"""The serving log and the skew report against the real server: lookups
logged while live rows arrive replay to what they served; a backfill that
rewrites the past after them is reported with the version responsible."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from helpers import define_user_view

import timefence
from timefence import Feature


def _report(client: timefence.Client, since: pd.Timestamp, lookups: int) -> timefence.SkewReport:
    """Polls until the log holds the lookups: it stores them in the background."""
    deadline = time.monotonic() + 60
    while True:
        rep = client.skew_report(since=since)
        if rep.lookups >= lookups or time.monotonic() > deadline:
            assert rep.lookups == lookups
            return rep
        time.sleep(0.05)


def test_skew_report_is_zero_then_names_a_backfill(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid, features=[Feature("clicks", "int64"), Feature("country", "string")])
    view = n["view"]
    since = pd.Timestamp.now(tz="UTC")
    now = since.floor("ms")
    live = pd.DataFrame({"user_id": [1, 2], "event_timestamp": [now - pd.Timedelta(minutes=1)] * 2,
                         "clicks": [10, 20], "country": ["DE", "FR"]})
    client.write(view, live)

    first = client.get_online_features({"user_id": [1, 2]}, [view], log=True, request_id=f"checkout-{uid}",
                                       context={"device": "ios", "basket": 3, "promo": True, "at": now})
    assert first.attrs["timefence"]["request_id"] == f"checkout-{uid}"
    client.write(view, live.assign(clicks=[11, 21], event_timestamp=now - pd.Timedelta(seconds=30)))
    second = client.get_online_features(entity_rows=[{"user_id": 1}, {"user_id": 3}], features=[view], log=True)
    assert len(second.attrs["timefence"]["request_id"]) == 16
    plain = client.get_online_features({"user_id": [1]}, [view])
    assert plain.attrs["timefence"]["request_id"] is None

    rep = _report(client, since, 2)
    assert rep.ok and rep.mismatches == 0
    assert rep.values == 2 * 2 * 2
    assert rep.features.to_dict("records") == [
        {"feature": f"{view}:clicks", "values": 4, "mismatches": 0},
        {"feature": f"{view}:country", "values": 4, "mismatches": 0},
    ]
    assert rep.examples.empty and list(rep.examples.columns) == list(timefence.SkewReport.EXAMPLE_COLUMNS)

    # User 2 backfilled, available before the first lookup: a training join
    # reads 99 where production served 20.
    read_time = first.attrs["timefence"]["read_time"]
    late = pd.DataFrame({"user_id": [2], "event_timestamp": [now - pd.Timedelta(seconds=50)],
                         "available_at": [pd.Timestamp(read_time) - pd.Timedelta(seconds=1)],
                         "clicks": [99], "country": ["FR"]})
    client.write(view, late, backfill=True)
    rep = client.skew_report(since=since)
    assert not rep.ok
    assert rep.mismatches == 1, rep.examples
    ex = rep.examples.iloc[0]
    assert ex["request_id"] == f"checkout-{uid}"
    assert ex["feature"] == f"{view}:clicks" and ex["row"] == 1 and ex["entity_key"] == "user_id=2"
    assert (ex["served_value"], ex["replayed_value"]) == ("20", "99")
    assert ex["served_status"] == ex["replayed_status"] == "present"
    assert bool(ex["replayed_backfilled"]) and ex["replayed_seq"] > ex["watermark"]
    assert "was backfilled after the lookup" in ex["cause"]
    # Up to a time before the lookups, nothing is replayed.
    assert client.skew_report(since=since, until=since).lookups == 0


def test_bad_log_fields_are_refused(client: timefence.Client, uid: str) -> None:
    n = define_user_view(client, uid, features=[Feature("clicks", "int64")])
    with pytest.raises(timefence.InvalidArgument, match="context\\['x'\\]: list is not a context value"):
        client.get_online_features({"user_id": [1]}, [n["view"]], log=True, context={"x": [1]})
    with pytest.raises(timefence.InvalidArgument, match="request_id: 129 bytes, at most 128"):
        client.get_online_features({"user_id": [1]}, [n["view"]], log=True, request_id="x" * 129)


def test_training_set_from_log(client: timefence.Client, uid: str) -> None:
    """Log and wait: the served features of logged lookups, with labels keyed
    by request id that arrived by the split's end, and none after it."""
    n = define_user_view(client, uid, features=[Feature("clicks", "int64"), Feature("country", "string")])
    view, labels = n["view"], f"outcome_{uid}"
    client.apply([
        timefence.Entity(f"req_{uid}", join_keys=[("request_id", "string")]),
        timefence.FeatureView(labels, entity=f"req_{uid}", features=[Feature("converted", "bool")]),
    ])
    start = pd.Timestamp.now(tz="UTC")
    client.write(view, pd.DataFrame({"user_id": [1, 2], "event_timestamp": [start - pd.Timedelta(minutes=1)] * 2,
                                     "clicks": [10, 20], "country": ["DE", None]}))
    client.get_online_features({"user_id": [1, 2]}, [view], log=True, request_id=f"a-{uid}", context={"device": "ios"})
    client.get_online_features({"user_id": [3]}, [view], log=True, request_id=f"b-{uid}")
    client.write(labels, pd.DataFrame({"request_id": [f"a-{uid}"], "event_timestamp": [pd.Timestamp.now(tz="UTC")],
                                       "converted": [True]}))
    time.sleep(0.01)
    split = f"served_{uid}"
    client.create_split(split, start=start - pd.Timedelta(hours=1), end=pd.Timestamp.now(tz="UTC"))
    time.sleep(0.01)
    # After the split's end: a label of b and another lookup, neither read under it.
    client.write(labels, pd.DataFrame({"request_id": [f"b-{uid}"], "event_timestamp": [pd.Timestamp.now(tz="UTC")],
                                       "converted": [False]}))
    client.get_online_features({"user_id": [1]}, [view], log=True, request_id=f"c-{uid}")

    log = client.serving_log(split, view)
    assert log.attrs["timefence"] == {"split": split, "lookups": 2, "rows": 3}
    assert list(log.columns) == ["request_id", "row", "read_time", "user_id", "context", "clicks", "country"]
    assert log["request_id"].tolist() == [f"a-{uid}", f"a-{uid}", f"b-{uid}"]
    assert log["clicks"].tolist()[:2] == [10, 20] and pd.isna(log["clicks"].iloc[2])
    assert log["context"].iloc[0] == '{"device":"ios"}' and pd.isna(log["context"].iloc[2])

    training = client.training_set_from_log(split, view, [f"{labels}:converted"])
    assert list(training.columns) == list(log.columns) + ["converted"]
    assert training["converted"].tolist()[:2] == [True, True]
    assert pd.isna(training["converted"].iloc[2]), "b's label arrived after the split's end"
    assert training["user_id"].tolist() == [1, 2, 3]

    with pytest.raises(timefence.SplitRequired):
        client.serving_log("", view)


def test_training_set_from_log_with_entity_labels(client: timefence.Client, uid: str) -> None:
    """Labels keyed by entity and time: each logged row takes its entity's
    label whose event time lies within the label view's ttl after the
    lookup; an older outcome does not count, and a window still open at the
    split's end gives no label."""
    n = define_user_view(client, uid)
    view, labels = n["view"], f"churn_{uid}"
    client.apply([timefence.FeatureView(labels, entity=n["entity"], ttl="2s", features=[Feature("churned", "bool")])])
    t0 = pd.Timestamp.now(tz="UTC")
    client.write(labels, pd.DataFrame({"user_id": [2], "event_timestamp": [t0 - pd.Timedelta(seconds=30)], "churned": [True]}))
    client.write(view, pd.DataFrame({"user_id": [1, 2, 3], "event_timestamp": [t0 - pd.Timedelta(minutes=1)] * 3,
                                     "clicks": [1, 2, 3], "score": [0.1, 0.2, 0.3]}))
    client.get_online_features({"user_id": [1, 2, 3]}, [view], log=True, request_id=f"early-{uid}")
    time.sleep(0.3)
    client.write(labels, pd.DataFrame({"user_id": [1], "event_timestamp": [pd.Timestamp.now(tz="UTC")], "churned": [False]}))
    time.sleep(2.2)
    client.get_online_features({"user_id": [1]}, [view], log=True, request_id=f"late-{uid}")
    split = f"churn_{uid}"
    client.create_split(split, start=t0 - pd.Timedelta(hours=1), end=pd.Timestamp.now(tz="UTC"))

    training = client.training_set_from_log(split, view, [f"{labels}:churned"], label_key=None)
    got = {(r.request_id.split("-")[0], r.user_id): (r.churned, r.label_window_complete) for r in training.itertuples()}
    assert got[("early", 1)] == (False, True), "user 1's outcome came within the window"
    assert pd.isna(got[("early", 2)][0]) and got[("early", 2)][1], "user 2's outcome is older than the lookup"
    assert pd.isna(got[("early", 3)][0]), "no outcome for user 3"
    assert pd.isna(got[("late", 1)][0]) and not got[("late", 1)][1], "the window is still open at the split's end"

    client.apply([timefence.FeatureView(f"nottl_{uid}", entity=n["entity"], features=[Feature("churned", "bool")])])
    with pytest.raises(timefence.InvalidArgument, match="need a label view with a ttl"):
        client.training_set_from_log(split, view, [f"nottl_{uid}:churned"], label_key=None)


def test_view_serving_log_rate(client: timefence.Client, uid: str) -> None:
    """A view whose definition keeps every lookup in the log."""
    view = timefence.FeatureView(f"sampled_{uid}", entity=timefence.Entity(f"acct_{uid}", join_keys=[("user_id", "int64")]),
                                 features=[Feature("clicks", "int64")], serving_log_rate=1.0)
    client.apply([view])
    assert client.get_feature_view(view.name).serving_log_rate == 1.0
    out = client.get_online_features({"user_id": [1]}, [view.name])
    assert len(out.attrs["timefence"]["request_id"]) == 16
