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


TASKS = {f.__name__: f for f in [duck_load, duck_join, duck_export, duck_stats, pandas_join, polars_join, feast_join]}


def main():
    task, args = sys.argv[1], json.loads(sys.argv[2])
    res = TASKS[task](args)
    res["vm"] = proc_status()
    emit(res)


if __name__ == "__main__":
    main()
