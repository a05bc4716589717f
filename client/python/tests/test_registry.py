"""Registry round trips: apply, feature views, entities, splits."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import timefence
from timefence import Entity, Feature, FeatureView


def test_apply_yaml_string_file_and_objects(client: timefence.Client, uid: str, tmp_path) -> None:
    yaml_text = f"""
entities:
  - name: user_{uid}
    description: a customer
    join_keys: [{{name: user_id, type: int64}}]
feature_views:
  - name: stats_{uid}
    entity: user_{uid}
    ttl: 1h30m
    description: user activity
    owner: team-risk
    tags: {{tier: gold}}
    features:
      - {{name: clicks, type: int64, description: clicks, required: true}}
      - {{name: country, type: string}}
      - {{name: emb, type: float_list}}
splits:
  - {{name: train_{uid}, start: 2024-01-01T00:00:00Z, end: 2024-06-30T23:59:59Z}}
"""
    res = client.apply(yaml_text)
    assert res.created == [f"entity:user_{uid}", f"feature_view:stats_{uid}", f"split:train_{uid}"]
    assert res.updated == [] and res.unchanged == []
    assert "3 created" in str(res)

    # The same definitions from a file: nothing changes.
    path = tmp_path / "features.yaml"
    path.write_text(yaml_text)
    again = client.apply(str(path))
    assert again.unchanged == res.created and again.created == []

    v = client.get_feature_view(f"stats_{uid}")
    assert v.entity == f"user_{uid}"
    assert v.ttl == dt.timedelta(hours=1, minutes=30)
    assert (v.owner, v.description, v.tags, v.version) == ("team-risk", "user activity", {"tier": "gold"}, 1)
    assert v.features == [
        Feature("clicks", "int64", "clicks", True),
        Feature("country", "string"),
        Feature("emb", "float_list"),
    ]
    assert f"stats_{uid}" in {fv.name for fv in client.list_feature_views()}
    e = client.get_entity(f"user_{uid}")
    assert e.join_keys == [timefence.JoinKey("user_id", "int64")] and e.description == "a customer"
    assert f"user_{uid}" in {x.name for x in client.list_entities()}

    # A compatible change (a new feature, no ttl) from Python objects.
    changed = client.apply(
        FeatureView(
            f"stats_{uid}",
            entity=f"user_{uid}",
            description="user activity",
            owner="team-risk",
            tags={"tier": "gold"},
            features=v.features + [Feature("active", "bool")],
        )
    )
    assert changed.updated == [f"feature_view:stats_{uid}"]
    assert changed.feature_views[0].version == 2
    assert changed.feature_views[0].ttl is None
    assert client.get_feature_view(f"stats_{uid}").feature("active") == Feature("active", "bool")

    # A breaking change is refused.
    with pytest.raises(timefence.SchemaMismatch) as ei:
        client.apply(FeatureView(f"stats_{uid}", entity=f"user_{uid}", features=[Feature("clicks", "string")]))
    assert ei.value.reason == "SCHEMA_MISMATCH" and ei.value.domain == "timefence.dev"


def test_apply_dict_and_entity_object(client: timefence.Client, uid: str) -> None:
    user = Entity(f"u_{uid}", join_keys=[("id", "string")])
    res = client.apply([FeatureView(f"v_{uid}", entity=user, features=[("x", "double")], ttl="7d")])
    assert res.created == [f"entity:u_{uid}", f"feature_view:v_{uid}"]
    assert res.feature_views[0].ttl == dt.timedelta(days=7)
    res = client.apply({"feature_views": [{"name": f"v_{uid}", "entity": f"u_{uid}", "ttl": "168h",
                                           "features": [{"name": "x", "type": "double"}]}]})
    assert res.unchanged == [f"feature_view:v_{uid}"]


@pytest.mark.parametrize(
    "bad, needle",
    [
        ("entities: [{name: u, join_keys: [{name: k, type: int65}]}]", 'definitions:1: entities[0].join_keys[0].type: unknown join key type "int65"'),
        ("feature_views: [{name: v, entity: u, features: [], tll: 1h}]", 'definitions:1: feature_views[0].tll: unknown key; did you mean "ttl"?'),
        ("splits: [{name: s, start: 2024-01-01T00:00:00Z}]", 'definitions:1: splits[0]: missing required key "end"'),
        ("entitys: []", "entitys"),
        ("entities: [{name: u, join_keys: [k]]", "definitions: invalid YAML"),
        ("no/such/file.yaml", "no such file"),
    ],
)
def test_apply_refuses_a_bad_file(client: timefence.Client, bad: str, needle: str) -> None:
    with pytest.raises(timefence.InvalidArgument) as ei:
        client.apply(bad)
    assert needle in str(ei.value)


def test_apply_is_all_or_nothing(client: timefence.Client, uid: str, tmp_path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text(
        f"""entities:
  - name: m_{uid}
    join_keys: [{{name: merchant_id, type: string}}]
feature_views:
  - name: sales_{uid}
    entity: m_{uid}
    features: [{{name: revenue, type: double}}]
  - name: orphan_{uid}
    entity: nobody_{uid}
    features: [{{name: x, type: int64}}]
"""
    )
    # A dry run plans every definition, the refused one at its line, and applies nothing.
    plan = client.apply(path, dry_run=True)
    assert not plan.applied
    assert [(c.kind, c.action) for c in plan.changes] == [("entity", "created"), ("feature_view", "created"), ("feature_view", "refused")]
    (refused,) = plan.refused
    assert refused.location == f"{path}:8" and refused.reason == "UNKNOWN_ENTITY"
    assert f'unknown entity "nobody_{uid}"' in refused.problem
    assert "dry run, nothing applied" in str(plan)
    with pytest.raises(timefence.UnknownEntity):
        client.get_entity(f"m_{uid}")

    # Applied, the file is refused whole: the entity and view before the refusal are not created.
    with pytest.raises(timefence.UnknownEntity) as ei:
        client.apply(str(path))
    assert f"{path}:8" in str(ei.value) and "nothing was applied" in str(ei.value)
    with pytest.raises(timefence.UnknownEntity):
        client.get_entity(f"m_{uid}")
    with pytest.raises(timefence.UnknownFeatureView):
        client.get_feature_view(f"sales_{uid}")


def test_apply_unknown_entity(client: timefence.Client, uid: str) -> None:
    with pytest.raises(timefence.TimefenceError) as ei:
        client.apply(FeatureView(f"v_{uid}", entity=f"nobody_{uid}", features=[("x", "double")]))
    assert isinstance(ei.value, timefence.UnknownEntity), repr(ei.value)
    with pytest.raises(timefence.UnknownEntity):
        client.get_entity(f"nobody_{uid}")


def test_unknown_feature_view(client: timefence.Client, uid: str) -> None:
    with pytest.raises(timefence.UnknownFeatureView) as ei:
        client.get_feature_view(f"nothing_{uid}")
    assert ei.value.code is not None and ei.value.code.name == "NOT_FOUND"


def test_splits(client: timefence.Client, uid: str) -> None:
    name = f"train_{uid}"
    sp = client.create_split(name, start=dt.datetime(2024, 1, 1), end="2024-06-30T23:59:59Z", description="h1")
    assert sp.name == name
    assert sp.start == pd.Timestamp("2024-01-01", tz="UTC")
    assert sp.end == pd.Timestamp("2024-06-30 23:59:59", tz="UTC")
    assert sp.create_time is not None and sp.create_time.tzinfo is not None
    # Same bounds again (other spellings): accepted.
    again = client.create_split(name, start=pd.Timestamp("2024-01-01"), end=dt.datetime(2024, 6, 30, 23, 59, 59, tzinfo=dt.timezone.utc))
    assert again.end == sp.end
    assert client.get_split(name) == sp
    assert name in {s.name for s in client.list_splits()}
    with pytest.raises(timefence.SplitExists):
        client.create_split(name, start="2024-01-01T00:00:00Z", end="2024-07-31T00:00:00Z")
    # No start: the window opens at the epoch.
    open_ = client.create_split(f"all_{uid}", end="2024-01-01T00:00:00Z")
    assert open_.start == pd.Timestamp(0, tz="UTC")
    with pytest.raises(timefence.UnknownSplit):
        client.get_split(f"nope_{uid}")
    with pytest.raises(timefence.InvalidArgument):
        client.create_split(f"bad_{uid}", start="2024-02-01T00:00:00Z", end="2024-01-01T00:00:00Z")
    with pytest.raises(timefence.InvalidArgument):
        client.create_split(f"noend_{uid}", start="2024-02-01T00:00:00Z")


def test_unavailable() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with timefence.Client(f"127.0.0.1:{port}", timeout=2) as c:
        with pytest.raises(timefence.Unavailable) as ei:
            c.list_splits()
    assert ei.value.reason == "UNAVAILABLE"


def test_token_is_sent_without_breaking_calls(server, uid: str) -> None:
    # The server has no auth yet; a token must not get in the way.
    with timefence.Client(f"grpc://{server.address}", token="secret") as c:
        assert isinstance(c.list_splits(), list)


def test_channel_options() -> None:
    import grpc

    # TLS channels are made lazily: constructing them must work without a server.
    for tls in (True, grpc.ssl_channel_credentials()):
        timefence.Client("localhost:1", tls=tls).close()
    c = timefence.Client("grpc+tls://localhost:1", options=[("grpc.max_receive_message_length", 1 << 20)])
    assert c.address == "localhost:1"
    c.close()
    with pytest.raises(timefence.InvalidArgument):
        timefence.Client("localhost:1", tls="yes")  # type: ignore[arg-type]
