"""Definitions, YAML and durations: no server needed."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import timefence
from timefence import Entity, Feature, FeatureView, Split

YAML = """
entities:
  - name: user
    description: a customer
    join_keys: [{name: user_id, type: int64}]
feature_views:
  - name: user_stats
    entity: user
    ttl: 24h
    description: activity
    owner: team-risk
    tags: {tier: gold}
    features:
      - {name: clicks, type: int64, description: clicks in the last hour, required: false}
      - {name: emb, type: float_list}
splits:
  - {name: train, start: 2024-01-01T00:00:00Z, end: 2024-06-30T23:59:59Z}
"""


def test_load_yaml_string() -> None:
    defs = timefence.load_definitions(YAML)
    assert [type(d) for d in defs] == [Entity, FeatureView, Split]
    e, v, s = defs
    assert e.name == "user" and e.join_keys == [timefence.JoinKey("user_id", "int64")] and e.description == "a customer"
    assert v.ttl == dt.timedelta(hours=24)
    assert v.tags == {"tier": "gold"} and v.owner == "team-risk" and v.description == "activity"
    assert v.features == [Feature("clicks", "int64", "clicks in the last hour", False), Feature("emb", "float_list")]
    assert s.start == pd.Timestamp("2024-01-01", tz="UTC")
    assert s.end == pd.Timestamp("2024-06-30T23:59:59", tz="UTC")


def test_load_yaml_file_and_order(tmp_path) -> None:
    p = tmp_path / "defs.yaml"
    p.write_text(YAML)
    assert timefence.load_definitions(p) == timefence.load_definitions(str(p))
    # objects are sorted into apply order, entities first
    v = FeatureView("v", entity=Entity("e", join_keys=["k:string"]), features=[("f", "double")])
    defs = timefence.load_definitions([Split("s", end="2024-01-01T00:00:00Z"), v])
    assert [d.name for d in defs] == ["e", "v", "s"]
    assert defs[0].join_keys[0].type == "string"


@pytest.mark.parametrize(
    "bad, needle",
    [
        ("entities: [{name: u, join_keys: [{name: k, type: int65}]}]", "unknown type"),
        ("feature_views: [{name: v, entity: u, features: [], tll: 1h}]", "unknown field(s) tll"),
        ("feature_views: [{name: v, entity: u, ttl: 1 day}]", "duration"),
        ("splits: [{name: s, start: 2024-01-01}]", "missing end"),
        ("entitys: []", "unknown field(s) entitys"),
        ("entities: [{name: u, join_keys: [k]]", "not valid YAML"),
        ("no/such/file.yaml", "no such file"),
    ],
)
def test_load_errors(bad: str, needle: str) -> None:
    with pytest.raises(timefence.InvalidArgument, match=None) as ei:
        timefence.load_definitions(bad)
    assert needle in str(ei.value)
    assert isinstance(ei.value, ValueError)


@pytest.mark.parametrize(
    "text, want",
    [
        ("90s", dt.timedelta(seconds=90)),
        ("30m", dt.timedelta(minutes=30)),
        ("1h30m", dt.timedelta(hours=1, minutes=30)),
        ("1.5h", dt.timedelta(hours=1, minutes=30)),
        ("7d", dt.timedelta(days=7)),
        ("1d12h", dt.timedelta(days=1, hours=12)),
        ("250ms", dt.timedelta(milliseconds=250)),
        ("0", None),
        (0, None),
        (None, None),
        (3600, dt.timedelta(hours=1)),
        (dt.timedelta(minutes=5), dt.timedelta(minutes=5)),
    ],
)
def test_parse_duration(text, want) -> None:
    assert timefence.parse_duration(text) == want


@pytest.mark.parametrize("bad", ["-1h", "1x", "h", "1h 30m", "abc"])
def test_parse_duration_errors(bad: str) -> None:
    with pytest.raises(timefence.InvalidArgument):
        timefence.parse_duration(bad)


def test_split_times_are_utc() -> None:
    s = Split("s", start=dt.datetime(2024, 1, 1), end="2024-06-30T23:59:59+02:00")
    assert s.start == pd.Timestamp("2024-01-01", tz="UTC")
    assert s.end == pd.Timestamp("2024-06-30T21:59:59", tz="UTC")
    assert s.to_proto().end.seconds == int(s.end.timestamp())
