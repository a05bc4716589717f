"""Manifests, byte-identical re-reads, snapshot exports and statistics,
checked against the real server and independent readers (pyarrow, pandas)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import timefence

from helpers import define_user_view, utc


def _write_history(client: timefence.Client, view: str, n_users: int, n_versions: int, start: pd.Timestamp, seed: int) -> pd.DataFrame:
    """Backfills n_versions versions over a day after start; returns what was written."""
    rng = np.random.default_rng(seed)
    ev = start + pd.to_timedelta(rng.integers(0, 86_400, n_versions), unit="s")
    df = pd.DataFrame(
        {
            "user_id": rng.integers(0, n_users, n_versions),
            "event_timestamp": ev,
            "available_at": ev + pd.to_timedelta(rng.integers(0, 6 * 3600, n_versions), unit="s"),
            "clicks": rng.integers(0, 1000, n_versions),
            "score": rng.normal(size=n_versions),
        }
    ).drop_duplicates(["user_id", "event_timestamp"])
    client.write(view, df, backfill=True)
    return df


def test_export_parquet_matches_window(client: timefence.Client, uid: str, tmp_path) -> None:
    names = define_user_view(client, uid)
    start = utc("2025-03-01")
    df = _write_history(client, names["view"], 50, 2000, start, seed=1)
    cut = start + pd.Timedelta(hours=12)
    split = f"half_{uid}"
    client.create_split(split, start=start, end=cut)
    tables = client.export(split, names["view"], tmp_path)
    # An independent reader opens the file.
    got = pq.read_table(tmp_path / f"{names['view']}.parquet").to_pandas()
    want = df[(df.event_timestamp <= cut) & (df.available_at <= cut)]
    assert len(got) == len(want) == tables[names["view"]].num_rows
    assert (got.event_timestamp <= cut).all() and (got.available_at <= cut).all(), "nothing after the cutoff"
    key = ["user_id", "event_timestamp"]
    merged = got.merge(want, on=key, suffixes=("", "_want"))
    assert len(merged) == len(want)
    assert (merged.clicks == merged.clicks_want).all()
    assert np.allclose(merged.score, merged.score_want)
    assert (merged.available_at == merged.available_at_want).all()
    assert merged.backfilled.all() and not merged.deleted.any()
    manifest = json.loads((tmp_path / f"{names['view']}.manifest.json").read_text())
    assert manifest["kind"] == "export"
    assert int(manifest["rows"]) == len(want)
    assert manifest["split"]["name"] == split

    # A backfill inside the window changes a fresh export, not the recorded one.
    summary = json.loads(tables[names["view"]].schema.metadata[b"timefence"])
    client.write(names["view"], pd.DataFrame({"user_id": [1], "event_timestamp": [start + pd.Timedelta(minutes=1)],
                                              "available_at": [start + pd.Timedelta(minutes=2)], "clicks": [7], "score": [0.5]}),
                 backfill=True)
    again = client.export(split, names["view"], dataset_ids={names["view"]: summary["dataset_id"]})[names["view"]]
    assert json.loads(again.schema.metadata[b"timefence"])["checksum"] == summary["checksum"]
    assert again.equals(tables[names["view"]])
    fresh = client.export(split, names["view"])[names["view"]]
    assert fresh.num_rows == len(want) + 1


def test_historical_reread_and_manifest(client: timefence.Client, uid: str) -> None:
    names = define_user_view(client, uid)
    start = utc("2025-04-01")
    _write_history(client, names["view"], 20, 500, start, seed=2)
    split = f"all_{uid}"
    client.create_split(split, start=start, end=start + pd.Timedelta(days=2))
    spine = pd.DataFrame({"user_id": np.arange(20).repeat(5),
                          "event_timestamp": start + pd.to_timedelta(np.tile(np.arange(5) * 5, 20), unit="h")})
    first = client.get_historical_features(spine, [names["view"]], split=split)
    summary = first.attrs["timefence"]
    _write_history(client, names["view"], 20, 300, start, seed=3)  # backfills into the past
    again = client.get_historical_features(spine, [], dataset_id=summary["dataset_id"])
    assert again.attrs["timefence"]["checksum"] == summary["checksum"]
    pd.testing.assert_frame_equal(first, again, check_like=False)
    fresh = client.get_historical_features(spine, [names["view"]], split=split)
    assert fresh.attrs["timefence"]["dataset_id"] != summary["dataset_id"]
    m = client.manifest(summary["dataset_id"])
    assert m["kind"] == "historical" and int(m["rows"]) == len(spine)
    assert m["output_checksum"] == summary["checksum"]
    assert {f["feature"] for f in m["features"]} == {"clicks", "score"}
    with pytest.raises(timefence.UnknownDataset):
        client.manifest("no-such-dataset")
    with pytest.raises(timefence.DatasetMismatch):
        client.get_historical_features(spine.iloc[1:], [], dataset_id=summary["dataset_id"])


def test_statistics_match_pandas(client: timefence.Client, uid: str) -> None:
    names = define_user_view(client, uid)
    start = utc("2025-05-01")
    df = _write_history(client, names["view"], 30, 1500, start, seed=4)
    cut = start + pd.Timedelta(hours=18)
    split = f"stats_{uid}"
    client.create_split(split, start=start, end=cut)
    stats = client.statistics(split, names["view"])
    window = df[(df.event_timestamp <= cut) & (df.available_at <= cut)]
    assert stats.attrs["versions"] == len(window)
    assert stats.attrs["entities"] == window.user_id.nunique()
    for feat in ["clicks", "score"]:
        row = stats.loc[feat]
        col = window[feat].astype(float)
        assert row["count"] == len(col)
        assert row["null_count"] == 0
        assert row["min"] == col.min() and row["max"] == col.max()
        assert row["mean"] == pytest.approx(col.mean(), rel=1e-9)
        assert row["std"] == pytest.approx(col.std(), rel=1e-9)
        for name, q in zip(["p1", "p25", "p50", "p75", "p99"], [0.01, 0.25, 0.5, 0.75, 0.99]):
            assert row[name] == pytest.approx(col.quantile(q), rel=1e-9), name
        assert row["distinct"] == col.nunique()
    lag = (window.available_at - window.event_timestamp).dt.total_seconds()
    got = stats.attrs["arrival_lag_seconds"]
    assert got["count"] == len(window)
    assert (got["min"], got["max"]) == pytest.approx((lag.min(), lag.max()), rel=1e-9)
    assert got["median"] == pytest.approx(lag.quantile(0.5), rel=1e-9)
    assert got["mean"] == pytest.approx(lag.mean(), rel=1e-9)
    with pytest.raises(timefence.SplitRequired):
        client.statistics("", names["view"])
    assert client.compare_statistics(names["view"], split, split) == []


def test_export_of_several_views_and_history_status(client: timefence.Client, uid: str, tmp_path) -> None:
    views = [define_user_view(client, f"{uid}a")["view"], define_user_view(client, f"{uid}b")["view"]]
    start = utc("2025-05-01")
    written = {v: _write_history(client, v, 30, 800 + 100 * i, start, seed=10 + i) for i, v in enumerate(views)}
    split = f"day_{uid}"
    client.create_split(split, start=start, end=start + pd.Timedelta(days=2))
    tables = client.export(split, views, tmp_path)
    assert list(tables) == views, "results come in the order asked, though the views export concurrently"
    for v in views:
        assert tables[v].num_rows == len(written[v])
        assert pq.read_table(tmp_path / f"{v}.parquet").num_rows == len(written[v])
        assert json.loads((tmp_path / f"{v}.manifest.json").read_text())["kind"] == "export"

    status = client.history_status().set_index("feature_view")
    for v in views:
        row = status.loc[v]
        assert row.file_versions + row.tail_versions == len(written[v]), "every version is in the history"
    with pytest.raises(timefence.UnknownFeatureView):
        client.export(split, [views[0], "no_such_view"], tmp_path)
