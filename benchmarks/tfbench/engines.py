"""The peers' point-in-time joins and exports, each with the read rule of
DESIGN.md section 2 (ttl 0, no deletions in the data):

    candidates = versions of the key with event_time <= t and available_at <= t
    winner     = the candidate with the greatest (event_time, available_at, seq)

A single ASOF JOIN cannot express two time bounds, so DuckDB, pandas and
Polars first turn each view into a *timeline*: per entity, the instants at
which the rule's winner changes. A version is a candidate from vis =
max(event_time, available_at) on. Sort an entity's versions by (vis,
event_time, available_at, seq); a version becomes the winner at its vis
exactly when its event_time is the running maximum of event_time so far (a
later-sorted version with an equal event_time has an available_at or seq at
least as great), and of the versions sharing one vis only the last counts. The
winner at t is then the timeline row with the greatest vis <= t: one ASOF JOIN
(backward, inclusive) per view.

Where the timelines are computed differs: within the timed join for DuckDB's
read-rule join and pandas; before the clock for DuckDB over the materialised
timeline (tables ``tl_<view>`` of its database file) and for Polars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from .common import SPLIT_END, SPLIT_START, US, VIEWS

if TYPE_CHECKING:  # imported where used: the DuckDB children do not load Polars
    import polars as pl


def _ts_literal(ns: int) -> str:
    return f"make_timestamp({ns // US})"  # microseconds since the epoch


def duckdb_timeline_sql(view: str, feats: list[str]) -> str:
    f = ", ".join(feats)
    end = _ts_literal(SPLIT_END)
    return f"""
    SELECT user_id, vis, {f} FROM (
      SELECT user_id, greatest(event_timestamp, available_at) AS vis, event_timestamp, {f},
             max(event_timestamp) OVER (PARTITION BY user_id
                 ORDER BY greatest(event_timestamp, available_at), event_timestamp, available_at, seq
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run_e,
             lead(greatest(event_timestamp, available_at)) OVER (PARTITION BY user_id
                 ORDER BY greatest(event_timestamp, available_at), event_timestamp, available_at, seq) AS next_vis
      FROM {view}
      WHERE event_timestamp <= {end} AND available_at <= {end})
    WHERE event_timestamp = run_e AND (next_vis IS NULL OR next_vis <> vis)"""


def timeline_table(view: str) -> str:
    return f"tl_{view}"


def duckdb_materialise_sql(view: str, feats: list[str]) -> str:
    """The view's timeline (cutoff applied) as a table of the database file."""
    return f"CREATE TABLE {timeline_table(view)} AS {duckdb_timeline_sql(view, feats)}"


def duckdb_join_sql(spine: str, views: dict = VIEWS, materialised: bool = False) -> str:
    """One ASOF LEFT JOIN per view against its timeline: computed in the
    statement, or read from the tables of duckdb_materialise_sql."""
    ctes, joins, cols = [], [], []
    for i, (view, feats) in enumerate(views.items()):
        names = [f for f, _ in feats]
        if materialised:
            src = f"{timeline_table(view)} tl{i}"
        else:
            ctes.append(f"tl{i} AS ({duckdb_timeline_sql(view, names)})")
            src = f"tl{i}"
        joins.append(f"ASOF LEFT JOIN {src} ON s.user_id = tl{i}.user_id AND s.event_timestamp >= tl{i}.vis")
        cols += [f"tl{i}.{f}" for f in names]
    return (("WITH " + ",\n".join(ctes) + "\n" if ctes else "") + f"SELECT s.*, {', '.join(cols)}\nFROM {spine} s\n"
            + "\n".join(joins) + "\nORDER BY s.rid")


def duckdb_naive_join_sql(spine: str, views: dict = VIEWS) -> str:
    """Reference only, NOT equivalent: ASOF JOIN on event time alone over the
    snapshot at the cutoff (what an availability-blind store computes)."""
    end = _ts_literal(SPLIT_END)
    ctes, joins, cols = [], [], []
    for i, (view, feats) in enumerate(views.items()):
        names = [f for f, _ in feats]
        ctes.append(f"""n{i} AS (SELECT user_id, event_timestamp, {', '.join(names)} FROM {view}
            WHERE event_timestamp <= {end} AND available_at <= {end}
            QUALIFY row_number() OVER (PARTITION BY user_id, event_timestamp ORDER BY available_at DESC, seq DESC) = 1)""")
        joins.append(f"ASOF LEFT JOIN n{i} ON s.user_id = n{i}.user_id AND s.event_timestamp >= n{i}.event_timestamp")
        cols += [f"n{i}.{f}" for f in names]
    return ("WITH " + ",\n".join(ctes) + f"\nSELECT s.*, {', '.join(cols)}\nFROM {spine} s\n"
            + "\n".join(joins) + "\nORDER BY s.rid")


def duckdb_export_sql(view: str, feats: list[str], path: str) -> str:
    start, end = _ts_literal(SPLIT_START), _ts_literal(SPLIT_END)
    return f"""COPY (SELECT user_id, event_timestamp, available_at, false AS deleted, true AS backfilled,
        {', '.join(feats)} FROM {view}
        WHERE event_timestamp BETWEEN {start} AND {end} AND available_at BETWEEN {start} AND {end})
        TO '{path}' (FORMAT parquet)"""


def duckdb_stats_sql(view: str, feats: list[str]) -> str:
    """What GetStatistics computes, in one DuckDB aggregate over the split's window."""
    start, end = _ts_literal(SPLIT_START), _ts_literal(SPLIT_END)
    per = []
    for f in feats:
        per += [f"count({f})", f"count(*) - count({f})", f"min({f})", f"max({f})", f"avg({f})", f"stddev_samp({f})",
                f"approx_count_distinct({f})", f"quantile_cont({f}, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])"]
    return f"""SELECT count(*), count(DISTINCT user_id), {', '.join(per)} FROM {view}
        WHERE event_timestamp BETWEEN {start} AND {end} AND available_at BETWEEN {start} AND {end}"""


def _ns(col: pd.Series) -> np.ndarray:
    return col.to_numpy().astype("datetime64[ns]").astype(np.int64)


def pandas_timeline(df: pd.DataFrame, feats: list[str]) -> pd.DataFrame:
    e, a = _ns(df["event_timestamp"]), _ns(df["available_at"])
    keep = np.flatnonzero((e <= SPLIT_END) & (a <= SPLIT_END))
    key = df["user_id"].to_numpy()[keep]
    e, a, seq = e[keep], a[keep], df["seq"].to_numpy()[keep]
    vis = np.maximum(e, a)
    order = np.lexsort((seq, a, e, vis, key))  # last key sorts first
    k, v, ee = key[order], vis[order], e[order]
    run_e = pd.Series(ee).groupby(k, sort=False).cummax().to_numpy()
    last = np.ones(len(k), dtype=bool)
    last[:-1] = (k[1:] != k[:-1]) | (v[1:] != v[:-1])
    sel = (ee == run_e) & last
    rows = keep[order[sel]]
    tl = df.iloc[rows][["user_id"] + feats].reset_index(drop=True)
    tl["vis"] = v[sel]
    return tl.sort_values("vis", kind="stable")


def pandas_join(spine: pd.DataFrame, versions: dict[str, pd.DataFrame], views: dict = VIEWS) -> pd.DataFrame:
    out = spine.copy()
    out["_t"] = _ns(out["event_timestamp"])
    out = out.sort_values("_t", kind="stable")
    for view, feats in views.items():
        names = [f for f, _ in feats]
        tl = pandas_timeline(versions[view], names)
        out = pd.merge_asof(out, tl, left_on="_t", right_on="vis", by="user_id",
                            direction="backward", allow_exact_matches=True).drop(columns="vis")
    return out.sort_values("rid", kind="stable").drop(columns="_t").reset_index(drop=True)


def polars_timeline(df: pl.DataFrame, feats: list[str]) -> pl.DataFrame:
    """The pandas timeline in Polars: (user_id, vis, feats) sorted by vis, as
    join_asof requires."""
    import polars as pl
    end = pl.lit(SPLIT_END // US).cast(pl.Datetime("us"))
    e, uid, vis = pl.col("event_timestamp"), pl.col("user_id"), pl.col("vis")
    last = ((uid != uid.shift(-1)) | (vis != vis.shift(-1))).fill_null(True)
    return (df.filter((e <= end) & (pl.col("available_at") <= end))
            .with_columns(vis=pl.max_horizontal("event_timestamp", "available_at"))
            .sort("user_id", "vis", "event_timestamp", "available_at", "seq")
            .filter((e == e.cum_max().over("user_id")) & last)
            .select("user_id", "vis", *feats)
            .sort("vis"))


def polars_join(spine: pl.DataFrame, timelines: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One backward, inclusive join_asof per view (timelines from
    polars_timeline), then back to spine order. Both sides are sorted by
    their time; Polars cannot check that when `by` is given."""
    out = spine.sort("event_timestamp")
    for tl in timelines.values():
        out = out.join_asof(tl, left_on="event_timestamp", right_on="vis", by="user_id", strategy="backward",
                            check_sortedness=False).drop("vis")
    return out.sort("rid")


def oracle(spine: pa.Table, versions: dict[str, pa.Table], rows: np.ndarray, views: dict = VIEWS) -> dict:
    """Brute-force read rule for the given spine rows: {feature: [values]}."""
    out = {f: [] for feats in views.values() for f, _ in feats}
    keys = spine.column("user_id").to_numpy()[rows]
    ts = spine.column("event_timestamp").cast(pa.int64()).to_numpy()[rows] * US
    for view, feats in views.items():
        t = versions[view]
        vk = t.column("user_id").to_numpy()
        ve = t.column("event_timestamp").cast(pa.int64()).to_numpy() * US
        va = t.column("available_at").cast(pa.int64()).to_numpy() * US
        vs = t.column("seq").to_numpy()
        order = np.argsort(vk, kind="stable")
        sk = vk[order]
        vals = {f: t.column(f).to_pylist() for f, _ in feats}
        for k, tt in zip(keys, ts):
            lo, hi = np.searchsorted(sk, k, "left"), np.searchsorted(sk, k, "right")
            best = None
            for i in order[lo:hi]:
                if ve[i] <= tt and va[i] <= tt and ve[i] <= SPLIT_END and va[i] <= SPLIT_END:
                    c = (ve[i], va[i], vs[i])
                    if best is None or c > best[0]:
                        best = (c, i)
            for f, _ in feats:
                out[f].append(None if best is None else vals[f][best[1]])
    return out
