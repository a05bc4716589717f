"""timefence.spark against the server's join, on random histories: late
data, ties on event time, corrections, deletions, ttl, composite keys and a
timestamp feature. Every value must be the server's: 0 differences, with
the spine given as pandas and as a Spark DataFrame of several partitions."""

from __future__ import annotations

import pathlib
import random
from typing import Any, Iterator, List, Tuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import timefence
from timefence import Feature

pytest.importorskip("pyspark", reason="pip install './client/python[spark]' (scripts/test-python.sh does)")
from pyspark.sql import DataFrame, SparkSession  # noqa: E402

import timefence.spark as tfspark  # noqa: E402

BASE = pd.Timestamp("2024-03-01T00:00:00Z")


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = (
        SparkSession.builder.master("local[2]")
        .appName("timefence-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


def _history(rng: random.Random, batches: int) -> List[pd.DataFrame]:
    """Backfill batches over 3 days: keys (user_id, region), event times on
    whole minutes (so ties are common), available_at at or after them (late
    data), repeated rows of one key and time (corrections), deletions, and
    timestamps to the nanosecond as values."""
    out = []
    for b in range(batches):
        rows = []
        for _ in range(rng.randint(1, 40)):
            user, region = rng.randint(1, 6), rng.choice(["eu", "us"])
            event = BASE + pd.Timedelta(minutes=rng.randint(0, 3 * 24 * 60))
            if rows and rng.random() < 0.2:  # another version of a key and time of this batch
                prev = rows[rng.randrange(len(rows))]
                user, region, event = prev["user_id"], prev["region"], prev["event_timestamp"]
            late = pd.Timedelta(minutes=rng.choice([0, 0, 1, 30, 600, 2000]))
            deleted = rng.random() < 0.08
            rows.append({
                "user_id": user, "region": region, "event_timestamp": event, "available_at": event + late,
                "deleted": deleted,
                "clicks": None if deleted or rng.random() < 0.1 else rng.randint(-5, 100),
                "score": None if deleted else rng.choice([0.5, -1.25, 3.0, float(b)]),
                "label": None if deleted else rng.choice(["a", "b", "ü"]),
                "seen": None if deleted else BASE - pd.Timedelta(nanoseconds=rng.randint(-10**15, 10**15)),
            })
        out.append(pd.DataFrame(rows))
    return out


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, pd.Timestamp):  # Spark keeps microseconds, rounded down
        return v.value - v.value % 1000
    return v.item() if isinstance(v, np.generic) else v


def _in_parts(spark: SparkSession, frame: pd.DataFrame, parts: int) -> DataFrame:
    """frame as a Spark DataFrame of several partitions, in frame's order."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    step = -(-len(frame) // parts)
    out = None
    for i in range(0, len(frame), step):
        part = spark.createDataFrame(table.slice(i, step))
        out = part if out is None else out.union(part)
    assert out is not None
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_spark_join_equals_server(
    client: timefence.Client, spark: SparkSession, uid: str, tmp_path: pathlib.Path, seed: int
) -> None:
    rng = random.Random(seed)
    entity, fast, slow = f"acct_{uid}", f"fast_{uid}", f"slow_{uid}"
    person, plain = f"person_{uid}", f"plain_{uid}"  # another entity: keys of its own
    features = [Feature("clicks", "int64"), Feature("score", "double"), Feature("seen", "timestamp")]
    client.apply([
        timefence.Entity(entity, join_keys=[("user_id", "int64"), ("region", "string")]),
        timefence.FeatureView(fast, entity=entity, features=features, ttl="6h"),
        timefence.FeatureView(slow, entity=entity, features=[Feature("clicks", "int64"), Feature("label", "string")]),
        timefence.Entity(person, join_keys=[("user_id", "int64")]),
        timefence.FeatureView(plain, entity=person, features=[Feature("level", "int64")]),
    ])
    written = []
    for view, cols in ((fast, ["region", "clicks", "score", "seen"]), (slow, ["region", "clicks", "label"]), (plain, ["level"])):
        for batch in _history(rng, 12):
            batch["level"] = batch["clicks"]
            client.write(view, batch[["user_id", "event_timestamp", "available_at", "deleted", *cols]], backfill=True)
            written.append(batch)
    split = f"march_{uid}"
    client.create_split(split, start=BASE, end=BASE + pd.Timedelta(days=2))
    client.export(split, [fast, slow, plain], tmp_path)

    # Spine times on whole minutes too, and some exactly where a version
    # becomes visible or its ttl ends (the bounds are inclusive).
    n = 400
    spine = pd.DataFrame({
        "user_id": [rng.randint(1, 7) for _ in range(n)],
        "region": [rng.choice(["eu", "us"]) for _ in range(n)],
        "event_timestamp": [BASE + pd.Timedelta(minutes=rng.randint(0, 2 * 24 * 60)) for _ in range(n)],
        "label_y": [rng.random() < 0.5 for _ in range(n)],
    })
    versions = pd.concat(written, ignore_index=True)
    edges = pd.concat([
        versions.assign(event_timestamp=versions[["event_timestamp", "available_at"]].max(axis=1)),
        versions.assign(event_timestamp=versions["event_timestamp"] + pd.Timedelta(hours=6)),
    ], ignore_index=True)
    edges = edges[edges["event_timestamp"] <= BASE + pd.Timedelta(days=2)]
    for i in rng.sample(range(n), 150):
        e = edges.iloc[rng.randrange(len(edges))]
        spine.loc[i, ["user_id", "region", "event_timestamp"]] = [e["user_id"], e["region"], e["event_timestamp"]]
    # Interleaved views: the columns come in the order given.
    refs = [f"{fast}:clicks", f"{slow}:label", f"{plain}:level", f"{fast}:score", f"{fast}:seen"]
    want = client.get_historical_features(spine, refs, split=split)
    assert want["clicks"].notna().sum() > 50 and want["clicks"].isna().sum() > 20, "the spine exercises values and nulls"
    assert want["label"].notna().sum() > 50 and want["label"].isna().sum() > 20
    assert want["level"].notna().sum() > 50 and want["level"].isna().sum() > 20

    for given in (spine, _in_parts(spark, spine, 3)):
        got = tfspark.get_historical_features(spark, tmp_path, given, refs, ttl={fast: "6h"}).toArrow().to_pandas()
        assert list(got.columns) == list(want.columns)
        assert list(got["user_id"]) == list(spine["user_id"]) and list(got["label_y"]) == list(spine["label_y"]), \
            "the rows come in the spine's order"
        differences = [
            (i, c, _plain(want[c].iloc[i]), _plain(got[c].iloc[i]))
            for c in ("clicks", "label", "level", "score", "seen") for i in range(n)
            if _plain(want[c].iloc[i]) != _plain(got[c].iloc[i])
        ]
        assert differences == []


def _one_view(client: timefence.Client, uid: str, tmp_path: pathlib.Path) -> Tuple[str, str]:
    """A view with one version, exported under a split of one day: its name and the split's."""
    entity, view = f"acct_{uid}", f"v_{uid}"
    client.apply([timefence.Entity(entity, join_keys=[("user_id", "int64")]),
                  timefence.FeatureView(view, entity=entity, features=[Feature("clicks", "int64")])])
    client.write(view, pd.DataFrame({"user_id": [1], "event_timestamp": [BASE], "available_at": [BASE], "clicks": [3]}), backfill=True)
    split = f"s_{uid}"
    client.create_split(split, start=BASE, end=BASE + pd.Timedelta(days=1))
    client.export(split, view, tmp_path)
    return view, split


def test_spark_join_refuses_rows_outside_the_split(
    client: timefence.Client, spark: SparkSession, uid: str, tmp_path: pathlib.Path
) -> None:
    view, split = _one_view(client, uid, tmp_path)
    # Offending rows in several partitions of the Spark spine: the first
    # named are the lowest rows of the whole spine.
    outside = {7, 13, 22, 23, 31, 35, 39}
    spine = pd.DataFrame({
        "user_id": [1] * 40,
        "event_timestamp": [BASE + pd.Timedelta(days=2 if i % 2 else -1) if i in outside else BASE for i in range(40)],
    })
    with pytest.raises(timefence.CutoffExceeded) as server:
        client.get_historical_features(spine, [view], split=split)
    for given in (spine, _in_parts(spark, spine, 4)):
        with pytest.raises(timefence.CutoffExceeded) as local:
            tfspark.get_historical_features(spark, tmp_path, given, [view])
        assert str(local.value) == str(server.value)
        assert local.value.first_rows == [7, 13, 22, 23, 31] and local.value.split == split
        assert local.value.offending_rows == 7


def test_spark_join_refuses_null_keys(
    client: timefence.Client, spark: SparkSession, uid: str, tmp_path: pathlib.Path
) -> None:
    view, split = _one_view(client, uid, tmp_path)
    spine = pd.DataFrame({"user_id": pd.array([1, 1, None, 1, None], dtype="Int64"), "event_timestamp": [BASE] * 5})
    with pytest.raises(timefence.InvalidArgument) as server:
        client.get_historical_features(spine, [view], split=split)
    for given in (spine, _in_parts(spark, spine, 3)):
        with pytest.raises(timefence.InvalidArgument) as local:
            tfspark.get_historical_features(spark, tmp_path, given, [view])
        assert str(local.value) == str(server.value)


def test_row_index_is_the_file_order(spark: SparkSession, tmp_path: pathlib.Path) -> None:
    """The join takes the order of versions in the file from Spark's
    _metadata.row_index: it must number the rows in file order, also when
    Spark reads the file in several splits."""
    n = 20_000
    path = tmp_path / "v.parquet"
    pq.write_table(pa.table({"x": pa.array(np.arange(n)[::-1].copy())}), path, row_group_size=1000)
    spark.conf.set("spark.sql.files.maxPartitionBytes", "4096")
    try:
        frame = spark.read.parquet(str(path)).select("x", "_metadata.row_index")
        assert frame.rdd.getNumPartitions() > 1
        assert frame.filter(frame["x"] + frame["row_index"] != n - 1).count() == 0
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
