"""timefence.feast_import on the repository `feast init` makes, against a
real server of its own (the import's names would clash on the shared one),
compared with Feast's own point-in-time join on the same entity rows."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import shutil
import subprocess
import sys
from typing import Iterator, Tuple

import pandas as pd
import pytest
from conftest import start_server, stop_server

import timefence

feast = pytest.importorskip(
    "feast", reason="the Feast SDK is not installed: pip install './client/python[feast]' (scripts/test-python.sh does)"
)

from timefence.feast_import import import_repo  # noqa: E402

os.environ.setdefault("FEAST_USAGE", "False")  # no telemetry from the tests

VIEW = "driver_hourly_stats"
FEATURES = ["conv_rate", "acc_rate", "avg_daily_trips"]


def _feast_cli(*args: str, cwd: pathlib.Path) -> None:
    exe = pathlib.Path(sys.executable).with_name("feast")
    proc = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "FEAST_USAGE": "False"})
    assert proc.returncode == 0, f"feast {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The `feast init` template repository (works offline), not yet applied."""
    root = tmp_path_factory.mktemp("feast")
    _feast_cli("init", "demo", cwd=root)
    repo = root / "demo" / "feature_repo"
    assert (repo / "data" / "driver_stats.parquet").is_file()
    return repo


def _copy(template: pathlib.Path, tmp_path: pathlib.Path) -> pathlib.Path:
    repo = tmp_path / "feature_repo"
    shutil.copytree(template, repo)
    return repo


@pytest.fixture
def own_client(binary: pathlib.Path, tmp_path: pathlib.Path) -> Iterator[timefence.Client]:
    proc, address = start_server(binary, tmp_path / "data", tmp_path / "server.log")
    try:
        with timefence.Client(address) as c:
            c.address_for_tests = address  # type: ignore[attr-defined]
            yield c
    finally:
        stop_server(proc)


def _spine(start: pd.Timestamp, hours: int, minute: int) -> pd.DataFrame:
    """Every driver at hour marks + minute over the last `hours` hours before start."""
    times = [start.floor("h") - pd.Timedelta(hours=h) + pd.Timedelta(minutes=minute) for h in range(1, hours + 1, 5)]
    return pd.DataFrame([(d, t) for d in range(1001, 1006) for t in times], columns=["driver_id", "event_timestamp"])


def _feast_join(repo: pathlib.Path, spine: pd.DataFrame) -> pd.DataFrame:
    store = feast.FeatureStore(repo_path=str(repo))
    out = store.get_historical_features(entity_df=spine, features=[f"{VIEW}:{f}" for f in FEATURES]).to_df()
    out["event_timestamp"] = pd.to_datetime(out["event_timestamp"], utc=True)
    return out


def _both(client: timefence.Client, repo: pathlib.Path, spine: pd.DataFrame,
          feast_shift: dt.timedelta = dt.timedelta(0)) -> Tuple[pd.DataFrame, pd.DataFrame]:
    """timefence's join at the spine's times and Feast's at the times minus
    feast_shift, for the rows where both have a value, aligned."""
    now = pd.Timestamp.now(tz="UTC")
    split = f"feast_{now.value}"
    client.create_split(split, start="2020-01-01T00:00:00Z", end=now)
    ours = client.get_historical_features(spine, [f"{VIEW}:{f}" for f in FEATURES], split=split)
    shifted = spine.assign(event_timestamp=spine["event_timestamp"] - feast_shift)
    theirs = _feast_join(repo, shifted).dropna(subset=FEATURES)
    theirs["event_timestamp"] = theirs["event_timestamp"] + feast_shift
    merged = ours.dropna(subset=FEATURES).merge(theirs, on=["driver_id", "event_timestamp"], suffixes=("", "_feast"))
    a = merged[FEATURES].astype("float64").reset_index(drop=True)
    b = merged[[f + "_feast" for f in FEATURES]].astype("float64").set_axis(FEATURES, axis=1).reset_index(drop=True)
    return a, b


def test_feast_import_template(template: pathlib.Path, tmp_path: pathlib.Path, own_client: timefence.Client) -> None:
    repo = _copy(template, tmp_path)
    # A feature service whose projection reads the view's key from another column.
    with open(repo / "feature_definitions.py", "a") as f:
        f.write('\nby_origin = FeatureService(name="by_origin", features=[driver_stats_fv.with_join_key_map({"driver_id": "origin_id"})])\n')
    _feast_cli("apply", cwd=repo)
    defs = tmp_path / "definitions.yaml"
    report = import_repo(repo, own_client, definitions_out=defs)

    # The definitions: the entity with its typed key, the view with the
    # mappable features, its ttl and tags.
    assert defs.read_text() == report.definitions
    assert own_client.get_entity("driver").join_keys[0].name == "driver_id"
    assert own_client.get_entity("driver").join_keys[0].type == "int64"
    view = own_client.get_feature_view(VIEW)
    assert [(f.name, f.type) for f in view.features] == [
        ("conv_rate", "float"), ("acc_rate", "float"), ("avg_daily_trips", "int64"),
        ("driver_metadata", "map"), ("driver_config", "json"), ("driver_profile", "json")]
    assert view.ttl == dt.timedelta(days=1)
    assert view.tags == {"team": "driver_performance"}
    assert sorted(report.feature_views) == [VIEW, "driver_hourly_stats_fresh"]

    # Every row of the Parquet source, loaded as a backfill.
    parquet = pd.read_parquet(repo / "data" / "driver_stats.parquet")
    assert report.rows == {VIEW: len(parquet), "driver_hourly_stats_fresh": len(parquet)}
    assert "created" in report.available_at[VIEW]

    # What was not imported, each with what to do instead.
    left = {(u.kind, u.name) for u in report.unmapped}
    assert ("on-demand feature view", "transformed_conv_rate") in left
    assert ("push source", "driver_stats_push_source") in left
    assert ("feature service", "driver_activity_v1") in left
    assert ("label view", "driver_quality_labels") in left
    assert not any(kind == "feature" for kind, _ in left), "every feature of the template has a type"
    assert all(u.instead for u in report.unmapped)
    by_origin = next(u for u in report.unmapped if u.name == "by_origin")
    assert f"its projection of {VIEW} reads join keys from other columns: rename 'origin_id' to 'driver_id' in the spine" in by_origin.instead
    assert "transformed_conv_rate" in str(report) and "Not imported" in str(report)

    # Map, Json and Struct features hold the source's values as JSON.
    latest = parquet.sort_values("event_timestamp").groupby("driver_id").tail(1).set_index("driver_id")
    online = own_client.get_online_features({"driver_id": [1001, 1005]},
                                            [f"{VIEW}:{f}" for f in ("driver_metadata", "driver_config", "driver_profile")],
                                            output="dict")
    for i, driver in enumerate([1001, 1005]):
        assert json.loads(online["driver_metadata"][i]) == latest.loc[driver, "driver_metadata"]
        assert online["driver_config"][i] == latest.loc[driver, "driver_config"]
        assert json.loads(online["driver_profile"][i]) == latest.loc[driver, "driver_profile"]

    # The template's rows were all created when `feast init` ran: at a time
    # after that, timefence answers as Feast does.
    after = pd.Timestamp.now(tz="UTC").floor("us")
    spine = pd.DataFrame({"driver_id": range(1001, 1006), "event_timestamp": after})
    ours, theirs = _both(own_client, repo, spine)
    assert len(ours) == 5
    pd.testing.assert_frame_equal(ours, theirs)
    # Before it, nothing had arrived: timefence has no value where Feast's
    # event-time join has one (docs/feast.md, "A value is visible only once it had arrived").
    early = spine.assign(event_timestamp=parquet["created"].min().tz_localize("UTC") - pd.Timedelta(hours=2))
    split = f"early_{after.value}"
    own_client.create_split(split, start="2020-01-01T00:00:00Z", end=after)
    with pytest.warns(timefence.NoDataUnderSplit):
        got = own_client.get_historical_features(early, [f"{VIEW}:conv_rate"], split=split)
    assert got["conv_rate"].isna().all()
    assert _feast_join(repo, early)["conv_rate"].notna().any()

    # Importing again changes nothing and writes nothing twice.
    again = import_repo(repo, own_client, quiet=True)
    assert {c.action for c in again.apply.changes} == {"unchanged"}
    assert again.already_loaded == again.rows


def test_feast_import_created_column(template: pathlib.Path, tmp_path: pathlib.Path, own_client: timefence.Client) -> None:
    """Rows created 30 minutes after their event time: timefence at t is Feast
    at t when Feast's value had arrived by t (spine at :45 past the hour of
    hourly data), and Feast at t - 30m otherwise (what production had)."""
    repo = _copy(template, tmp_path)
    path = repo / "data" / "driver_stats.parquet"
    df = pd.read_parquet(path)
    df["created"] = df["event_timestamp"].dt.tz_localize(None) + pd.Timedelta(minutes=30)
    df.to_parquet(path)
    _feast_cli("apply", cwd=repo)
    report = import_repo(repo, own_client, quiet=True)
    assert report.rows[VIEW] == len(df)

    start = pd.Timestamp.now(tz="UTC")
    ours, theirs = _both(own_client, repo, _spine(start, 14 * 24, 45))
    assert len(ours) > 200
    pd.testing.assert_frame_equal(ours, theirs)
    ours, theirs = _both(own_client, repo, _spine(start, 14 * 24, 15), feast_shift=dt.timedelta(minutes=30))
    assert len(ours) > 200
    pd.testing.assert_frame_equal(ours, theirs)


def test_feast_import_needs_a_lag_without_created_column(
    template: pathlib.Path, tmp_path: pathlib.Path, own_client: timefence.Client
) -> None:
    repo = _copy(template, tmp_path)
    code = repo / "feature_definitions.py"
    code.write_text(code.read_text().replace('created_timestamp_column="created",', ""))
    _feast_cli("apply", cwd=repo)

    with pytest.raises(ValueError, match=r"feature view driver_hourly_stats.*no created_timestamp_column.*pass a lag"):
        import_repo(repo, own_client, quiet=True)
    assert own_client.list_feature_views() == []  # refused before anything was applied

    # With a lag, a row becomes available at event time + lag: timefence at t
    # is Feast at t - lag.
    report = import_repo(repo, own_client, lag="30m", quiet=True)
    assert report.available_at[VIEW] == "event time + 30m"
    ours, theirs = _both(own_client, repo, _spine(pd.Timestamp.now(tz="UTC"), 14 * 24, 15),
                         feast_shift=dt.timedelta(minutes=30))
    assert len(ours) > 200
    pd.testing.assert_frame_equal(ours, theirs)


def test_feast_import_cli(template: pathlib.Path, tmp_path: pathlib.Path, binary: pathlib.Path,
                          own_client: timefence.Client) -> None:
    """`timefence import feast` runs this interpreter's importer (TIMEFENCE_PYTHON)."""
    repo = _copy(template, tmp_path)
    _feast_cli("apply", cwd=repo)
    defs = tmp_path / "defs.yaml"
    env = {**os.environ, "TIMEFENCE_PYTHON": sys.executable}
    proc = subprocess.run(
        [str(binary), "import", "feast", str(repo), "--addr", own_client.address_for_tests,  # type: ignore[attr-defined]
         "--dry-run", "--definitions-out", str(defs)],
        capture_output=True, text=True, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    rows = len(pd.read_parquet(repo / "data" / "driver_stats.parquet"))
    assert "dry run" in proc.stdout and f"would load {rows} rows into driver_hourly_stats " in proc.stdout
    assert "name: driver_hourly_stats" in defs.read_text()
    assert own_client.list_feature_views() == []  # a dry run applies nothing


def test_feast_import_types() -> None:
    from feast import types as ft

    from timefence.feast_import import _map_type

    scalars = (ft.Int64, ft.Int32, ft.Float64, ft.Float32, ft.String, ft.Bool, ft.Bytes, ft.UnixTimestamp)
    names = ["int64", "int32", "double", "float", "string", "bool", "bytes", "timestamp"]
    assert [_map_type(t)[0] for t in scalars] == names
    assert [_map_type(ft.Array(t))[0] for t in scalars] == [n + "_list" for n in names]
    assert [_map_type(t)[0] for t in (ft.Map, ft.Json, ft.Struct({"a": ft.Int64}))] == ["map", "json", "json"]
    for unmapped, hint in ((ft.Array(ft.Map), "one feature per element"), (ft.Decimal, "json feature")):
        ours, instead = _map_type(unmapped)
        assert ours is None and hint in instead
