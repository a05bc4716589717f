"""Expectations against the real server: a hard one refuses a batch whole,
over gRPC and over Arrow Flight; a warn one writes it and records a
validation event that validation_report returns, by time and view."""

from __future__ import annotations

import pandas as pd
import pytest

import timefence
from timefence import Expectation, Feature


def _define(client: timefence.Client, uid: str, expectations: list) -> str:
    entity, view = f"user_{uid}", f"stats_{uid}"
    client.apply([
        timefence.Entity(entity, join_keys=[timefence.JoinKey("user_id", "int64")]),
        timefence.FeatureView(view, entity=entity, features=[Feature("clicks", "int64"), Feature("country", "string")],
                              expectations=expectations),
    ])
    return view


def _rows(clicks: list, countries: list) -> pd.DataFrame:
    now = pd.Timestamp.now(tz="UTC").floor("ms") - pd.Timedelta(seconds=5)
    return pd.DataFrame({"user_id": list(range(1, len(clicks) + 1)), "event_timestamp": [now] * len(clicks),
                         "clicks": clicks, "country": countries})


def test_hard_expectation_refuses_the_batch(client: timefence.Client, uid: str) -> None:
    view = _define(client, uid, [{"feature": "clicks", "min": 0, "max": 100}])
    assert client.get_feature_view(view).expectations == [Expectation(feature="clicks", min=0.0, max=100.0)]
    with pytest.raises(timefence.ExpectationFailed) as err:
        client.write(view, _rows([1, -2, 300], ["DE", "DE", "FR"]))
    assert isinstance(err.value, timefence.InvalidArgument)
    assert err.value.reason == "EXPECTATION_FAILED"
    assert (f'feature view "{view}": hard expectation range(clicks) (min 0, max 100) failed: '
            "2 of 3 rows fail (row 1: -2, row 2: 300); nothing of the batch was written") in str(err.value)
    got = client.get_online_features({"user_id": [1]}, [f"{view}:clicks"])
    assert got["clicks"].isna().all(), "nothing of the batch was written"


def test_warn_expectation_records_an_event(client: timefence.Client, uid: str) -> None:
    view = _define(client, uid, [Expectation(feature="country", allowed=["DE", "FR"], level="warn")])
    since = pd.Timestamp.now(tz="UTC")
    client.write(view, _rows([1, 2, 3], ["DE", "XX", "YY"]))
    got = client.get_online_features({"user_id": [2]}, [f"{view}:country"])
    assert got["country"].tolist() == ["XX"]

    rep = client.validation_report(since=since, view=view)
    assert rep.total_events == 1
    ev = rep.events.iloc[0]
    assert (ev["feature_view"], ev["expectation"], ev["level"], ev["bound"]) == (view, "allowed(country)", "warn", "allowed DE, FR")
    assert (ev["rows_checked"], ev["rows_failed"]) == (3, 2)
    assert ev["failed_rows"] == [(1, '"XX"'), (2, '"YY"')]
    assert ev["time"] >= since
    assert rep.counts.to_dict("records") == [
        {"feature_view": view, "expectation": "allowed(country)", "level": "warn", "events": 1, "rows_failed": 2}]
    assert client.validation_report(until=since, view=view).total_events == 0
    assert list(client.validation_report(until=since, view=view).events.columns) == list(timefence.ValidationReport.EVENT_COLUMNS)
    with pytest.raises(timefence.UnknownFeatureView):
        client.validation_report(view=f"nope_{uid}")


def test_batch_cadence_records_a_late_batch(client: timefence.Client, uid: str) -> None:
    import time

    cadence = Expectation(max_batch_interval="300ms", level="warn")
    view = _define(client, uid, [cadence])
    assert client.get_feature_view(view).expectations == [cadence]
    since = pd.Timestamp.now(tz="UTC")
    client.write(view, _rows([1], ["DE"]))
    client.write(view, _rows([2], ["DE"]))
    assert client.validation_report(since=since, view=view).total_events == 0
    time.sleep(0.4)
    client.write(view, _rows([3], ["DE"]))
    ev = client.validation_report(since=since, view=view).events.iloc[0]
    assert (ev["expectation"], ev["bound"]) == ("max_batch_interval", "batch interval <= 300ms")
    assert ev["failed_rows"][0][1].endswith("since the previous batch")
