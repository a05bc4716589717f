"""Peer engines, each run in its own process so its peak memory is its own:

    python -m tfbench.child TASK JSON_ARGS

prints one line ``TFBENCH_RESULT {...}``. The timed section starts after the
inputs are loaded; the peak RSS (VmHWM) is reset at its start and read at its
end, so it is the high-water mark of the process during the join, counting
the inputs it already holds.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .common import VIEWS, Timer, disk_bytes, emit, hwm_mib, proc_status, reset_hwm


def _write(table, path):
    if path:
        import pyarrow.parquet as pq
        pq.write_table(table, path)


def duck_load(a):
    """The versions (timed: `seconds`), then their winner timelines
    (`timeline_seconds`), then the spines (not timed). The file's size is
    taken after each of the first two."""
    import duckdb
    from .engines import duckdb_materialise_sql
    db = Path(a["db"])
    tmp = db.with_suffix(".tmp")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    rows = tl_rows = 0
    with Timer() as t:
        for view, path in a["views"].items():
            con.execute(f"CREATE TABLE {view} AS SELECT * FROM read_parquet('{path}')")
            rows += con.execute(f"SELECT count(*) FROM {view}").fetchone()[0]
        con.execute("CHECKPOINT")
    size = disk_bytes(tmp)
    with Timer() as tt:
        for view, feats in VIEWS.items():
            tl_rows += con.execute(duckdb_materialise_sql(view, [f for f, _ in feats])).fetchone()[0]
        con.execute("CHECKPOINT")
    tl_size = disk_bytes(tmp)
    for name, path in a["spines"].items():
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{path}')")
    con.execute("CHECKPOINT")
    con.close()
    os.replace(tmp, db)
    return {"seconds": t.seconds, "rows": rows, "bytes": size, "timeline_seconds": tt.seconds,
            "timeline_rows": tl_rows, "timeline_bytes": tl_size - size}


def duck_join(a):
    """The read-rule join (timelines computed in the statement), the same over
    the materialised timelines (`timeline`), or the naive join (`naive`)."""
    import duckdb
    from .engines import duckdb_join_sql, duckdb_naive_join_sql
    con = duckdb.connect(a["db"], read_only=True)
    if a.get("naive"):
        sql = duckdb_naive_join_sql(a["spine"])
    else:
        sql = duckdb_join_sql(a["spine"], materialised=a.get("timeline", False))
    reset_hwm()
    with Timer() as t:
        res = con.sql(sql).to_arrow_table()
    peak = hwm_mib()
    _write(res, a.get("out"))
    return {"seconds": t.seconds, "rows": res.num_rows, "peak_mib": peak,
            "threads": con.execute("SELECT current_setting('threads')").fetchone()[0]}


def duck_export(a):
    import duckdb
    from .engines import duckdb_export_sql
    con = duckdb.connect(a["db"], read_only=True)
    feats = [f for f, _ in VIEWS[a["view"]]]
    reset_hwm()
    with Timer() as t:
        rows = con.execute(duckdb_export_sql(a["view"], feats, a["out"])).fetchone()[0]
    return {"seconds": t.seconds, "rows": rows, "peak_mib": hwm_mib(), "bytes": os.path.getsize(a["out"])}


def duck_stats(a):
    import duckdb
    from .engines import duckdb_stats_sql
    con = duckdb.connect(a["db"], read_only=True)
    feats = [f for f, _ in VIEWS[a["view"]]]
    reset_hwm()
    with Timer() as t:
        row = con.execute(duckdb_stats_sql(a["view"], feats)).fetchone()
    return {"seconds": t.seconds, "versions": row[0], "peak_mib": hwm_mib()}


def pandas_join(a):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from .engines import pandas_join as join
    spine = pq.read_table(a["spine"]).to_pandas()
    versions = {v: pq.read_table(p).to_pandas() for v, p in a["views"].items()}
    reset_hwm()
    with Timer() as t:
        res = join(spine, versions)
    peak = hwm_mib()
    if a.get("out"):
        # merge_asof turns int64 columns with misses into float64: back to
        # nullable int64 for the comparison (values are < 2**53, exact).
        cols = {}
        for c in res.columns:
            s = res[c]
            arr = pa.array(s, from_pandas=True)
            cols[c] = arr
        tbl = pa.table(cols)
        ints = {f for feats in VIEWS.values() for f, typ in feats if typ == "int64"}
        for f in ints:
            i = tbl.schema.get_field_index(f)
            tbl = tbl.set_column(i, f, tbl.column(f).cast(pa.int64()))
        _write(tbl, a["out"])
    return {"seconds": t.seconds, "rows": len(res), "peak_mib": peak, "pandas": pd.__version__}


def polars_join(a):
    """Timelines computed from the versions before the clock (then the
    versions dropped: the process holds the spine and the timelines)."""
    import polars as pl
    from .engines import polars_join as join, polars_timeline
    spine = pl.read_parquet(a["spine"])
    versions = {v: pl.read_parquet(p) for v, p in a["views"].items()}
    with Timer() as tt:
        timelines = {v: polars_timeline(df, [f for f, _ in VIEWS[v]]) for v, df in versions.items()}
    del versions
    reset_hwm()
    with Timer() as t:
        res = join(spine, timelines)
    peak = hwm_mib()
    if a.get("out"):
        _write(res.to_arrow(), a["out"])
    return {"seconds": t.seconds, "rows": res.height, "peak_mib": peak, "timeline_seconds": tt.seconds,
            "threads": pl.thread_pool_size()}


def feast_join(a):
    import pyarrow as pa
    import pyarrow.parquet as pq
    import warnings
    warnings.filterwarnings("ignore")
    from feast import FeatureStore
    store = FeatureStore(repo_path=a["repo"])
    spine = pq.read_table(a["spine"]).to_pandas()
    # tz-aware UTC up front: Feast converts naive timestamps row by row.
    spine["event_timestamp"] = spine["event_timestamp"].dt.tz_localize("UTC")
    feats = [f"{v}:{f}" for v, fs in VIEWS.items() for f, _ in fs]
    reset_hwm()
    with Timer() as t:
        job = store.get_historical_features(entity_df=spine, features=feats,
                                            filter_by_created_timestamp=a.get("filter", True))
        res = job.to_df().sort_values("rid", kind="stable").reset_index(drop=True)
    peak = hwm_mib()
    if a.get("out"):
        res["event_timestamp"] = res["event_timestamp"].dt.tz_convert(None)
        tbl = pa.Table.from_pandas(res, preserve_index=False)
        ints = {f for feats_ in VIEWS.values() for f, typ in feats_ if typ == "int64"}
        for f in ints:
            i = tbl.schema.get_field_index(f)
            tbl = tbl.set_column(i, f, tbl.column(f).cast(pa.int64()))
        _write(tbl, a["out"])
    return {"seconds": t.seconds, "rows": len(res), "peak_mib": peak}


def _closed_loop(call, ids: list, seconds: float) -> dict:
    """Calls call(id) one after the other for `seconds` (after a warm-up of
    a tenth of that) and summarises the latencies as the load generator does."""
    import math
    import time
    n, i = len(ids), 0
    end = time.perf_counter() + seconds / 10
    while time.perf_counter() < end:
        call(ids[i % n])
        i += 1
    lat = []
    start = time.perf_counter()
    end = start + seconds
    while True:
        t0 = time.perf_counter()
        if t0 >= end:
            break
        call(ids[i % n])
        lat.append(time.perf_counter() - t0)
        i += 1
    elapsed = time.perf_counter() - start
    lat.sort()

    def q(p):
        return lat[min(len(lat) - 1, max(0, math.ceil(p * len(lat)) - 1))] * 1e3
    return {"requests": len(lat), "seconds": elapsed, "throughput": len(lat) / elapsed,
            "mean_ms": sum(lat) / len(lat) * 1e3, "p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99),
            "p999_ms": q(0.999), "max_ms": lat[-1] * 1e3}


def _entity_ids(a) -> list:
    import numpy as np
    return np.random.default_rng(a.get("seed", 9)).integers(0, a["keyspace"], 100_000).tolist()


def python_online(a):
    """The Python client, one 1 x 50 `get_online_features` call after the
    other: the DataFrame (default) and the dict form (`output="dict"`), and
    for the floor, gRPC health checks from Python over a channel of its own."""
    import grpc
    import timefence
    feats, ids = a["features"], _entity_ids(a)
    client = timefence.Client(a["addr"])
    first = client.get_online_features({"user_id": [ids[0]]}, feats, include_status=True, output="dict")
    bad = [f for f in first if f.endswith("__status") and first[f] != ["present"]]
    if bad:
        raise RuntimeError(f"entity {ids[0]}: {len(bad)} features not present, e.g. {bad[0]}: {first[bad[0]]}")
    out = {"features": len(feats), "entities": 1}
    with grpc.insecure_channel(a["addr"]) as ch:
        check = ch.unary_unary("/grpc.health.v1.Health/Check", request_serializer=None, response_deserializer=None)
        out["floor"] = _closed_loop(lambda k: check(b""), ids, a["seconds"])
    out["dataframe"] = _closed_loop(lambda k: client.get_online_features({"user_id": [k]}, feats), ids, a["seconds"])
    out["dict"] = _closed_loop(lambda k: client.get_online_features({"user_id": [k]}, feats, output="dict"), ids,
                               a["seconds"])
    client.close()
    return out


def python_online_feast(a):
    """Feast's Python SDK, the same calls: `FeatureStore.get_online_features(
    features, entity_rows=[{"user_id": k}]).to_dict()` on the SQLite online store."""
    import warnings
    warnings.filterwarnings("ignore")
    from feast import FeatureStore
    feats, ids = a["features"], _entity_ids(a)
    store = FeatureStore(repo_path=a["repo"])
    first = store.get_online_features(features=feats, entity_rows=[{"user_id": ids[0]}]).to_dict()
    missing = [f for f in first if f != "user_id" and first[f] == [None]]
    if missing:
        raise RuntimeError(f"entity {ids[0]}: {len(missing)} features without a value, e.g. {missing[0]}")
    call = lambda k: store.get_online_features(features=feats, entity_rows=[{"user_id": k}]).to_dict()  # noqa: E731
    return {"features": len(feats), "entities": 1, "to_dict": _closed_loop(call, ids, a["seconds"])}


TASKS = {f.__name__: f for f in [duck_load, duck_join, duck_export, duck_stats, pandas_join, polars_join, feast_join,
                                 python_online, python_online_feast]}


def main():
    task, args = sys.argv[1], json.loads(sys.argv[2])
    res = TASKS[task](args)
    res["vm"] = proc_status()
    emit(res)


if __name__ == "__main__":
    main()
