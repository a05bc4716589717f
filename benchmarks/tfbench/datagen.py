"""Deterministic synthetic data: versions of 3 views, spines, the online view.

Every engine reads the same files. Per view:

* base versions: a uniform random entity, an event time uniform over 30 days
  (microsecond resolution, so DuckDB and pandas hold it exactly) and
  available_at = event_time + lag, with lag 0 for 5%, ~5 min for 85% and ~2
  days for 10% (late data, some of it arriving after the split's cutoff);
* corrections (3%): a rewrite of a base version's entity and event time with
  new values, written later (greater seq): two thirds arrive later than the
  original, one third at the same available_at (so only seq breaks the tie).

``seq`` is the write order; timefence assigns its own seq in the same order
because the files are written row by row, base rows first.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .common import (DAY, ONLINE_FEATURES, SEC, SPAN, T0, US, VIEWS, Dataset, Size,
                     dataset_dir, log)

GEN_VERSION = 3
TS = pa.timestamp("us")


def _values(rng: np.random.Generator, typ: str, n: int) -> np.ndarray:
    if typ == "int64":
        return rng.integers(0, 1_000_000, n, dtype=np.int64)
    return np.round(rng.random(n) * 1000.0, 6)


def _view_table(ds: Dataset, vi: int, feats) -> tuple[pa.Table, int]:
    rng = np.random.default_rng([ds.seed, vi])
    n = ds.versions // len(VIEWS)
    keys = rng.integers(0, ds.entities, n, dtype=np.int64)
    event = T0 + rng.integers(0, SPAN // US, n, dtype=np.int64) * US
    u = rng.random(n)
    lag = np.where(u < 0.05, 0.0, np.where(u < 0.90, rng.exponential(300.0, n), rng.exponential(2 * 86400.0, n)))
    avail = event + (lag * 1e6).astype(np.int64) * US
    # One version per (entity, event time) among the base rows.
    _, first = np.unique(np.stack([keys, event]), axis=1, return_index=True)
    first.sort()
    keys, event, avail = keys[first], event[first], avail[first]
    nb = len(keys)
    # Corrections: same entity and event time, new values, written later.
    nc = max(1, nb * 3 // 100)
    pick = rng.choice(nb, nc, replace=False)
    same = rng.random(nc) < 1 / 3
    cavail = avail[pick] + np.where(same, 0, (rng.exponential(86400.0, nc) * 1e6).astype(np.int64) * US)
    keys = np.concatenate([keys, keys[pick]])
    event = np.concatenate([event, event[pick]])
    avail = np.concatenate([avail, cavail])
    total = nb + nc
    cols = {
        "user_id": pa.array(keys),
        "event_timestamp": pa.array(event // US, TS),
        "available_at": pa.array(avail // US, TS),
        "seq": pa.array(np.arange(total, dtype=np.int64)),
    }
    for f, typ in feats:
        cols[f] = pa.array(_values(rng, typ, total))
    return pa.table(cols), nb


def _spine(size: Size, views: dict[str, pa.Table]) -> pa.Table:
    ds = size.dataset
    rng = np.random.default_rng([ds.seed, 100, size.spine_rows])
    n = size.spine_rows
    keys = rng.integers(0, ds.entities, n, dtype=np.int64)
    # 2% of rows name entities that were never written: all features null.
    unknown = rng.random(n) < 0.02
    keys[unknown] = ds.entities + rng.integers(0, 1000, unknown.sum())
    ts = T0 + rng.integers(0, SPAN // US, n, dtype=np.int64) * US
    # 2% of rows sit exactly on a version's event time or available_at, to
    # test that both bounds are inclusive.
    edge = np.flatnonzero(rng.random(n) < 0.02)
    names = list(views)
    for j, chunk in enumerate(np.array_split(edge, len(names))):
        t = views[names[j]]
        if len(chunk) == 0:
            continue
        pick = rng.integers(0, t.num_rows, len(chunk))
        vk = t.column("user_id").to_numpy()[pick]
        ve = t.column("event_timestamp").cast(pa.int64()).to_numpy()[pick] * US
        va = t.column("available_at").cast(pa.int64()).to_numpy()[pick] * US
        on_event = rng.random(len(chunk)) < 0.5
        keys[chunk] = vk
        ts[chunk] = np.minimum(np.where(on_event, ve, va), T0 + SPAN)
    # Feast collapses spine rows with the same (entity, timestamp): keep them unique.
    while True:
        _, first = np.unique(np.stack([keys, ts]), axis=1, return_index=True)
        if len(first) == n:
            break
        dup = np.setdiff1d(np.arange(n), first)
        ts[dup] = np.minimum(ts[dup] + US, T0 + SPAN) - rng.integers(0, 2, len(dup)) * 7 * US
    return pa.table({
        "rid": pa.array(np.arange(n, dtype=np.int64)),
        "user_id": pa.array(keys),
        "event_timestamp": pa.array(ts // US, TS),
        "label": pa.array(rng.integers(0, 2, n, dtype=np.int64)),
    })


def _online(ds: Dataset) -> pa.Table:
    rng = np.random.default_rng([ds.seed, 200])
    n = ds.online_entities
    cols = {
        "user_id": pa.array(np.arange(n, dtype=np.int64)),
        # Written live later; event times in the recent past, filled in then.
        "event_timestamp": pa.array(np.zeros(n, dtype=np.int64), TS),
    }
    for f, typ in ONLINE_FEATURES:
        cols[f] = pa.array(_values(rng, typ, n))
    return pa.table(cols)


def ensure(sizes: list[Size]) -> None:
    """Generate the datasets and spines the sizes need, reusing files whose
    parameters match."""
    for ds in {s.dataset for s in sizes}:
        d = dataset_dir(ds)
        d.mkdir(parents=True, exist_ok=True)
        meta_path = d / "meta.json"
        want = {"gen_version": GEN_VERSION, "dataset": ds.__dict__}
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        if {k: meta.get(k) for k in want} != want:
            log(f"generating dataset {ds.name}: {ds.entities:,} entities, {ds.versions:,} versions")
            meta = dict(want, views={}, spines={})
            for vi, (view, feats) in enumerate(VIEWS.items()):
                t, nb = _view_table(ds, vi, feats)
                pq.write_table(t, d / f"versions_{view}.parquet")
                meta["views"][view] = {"rows": t.num_rows, "base_rows": nb}
            t = _online(ds)
            pq.write_table(t, d / "online.parquet")
            meta_path.write_text(json.dumps(meta, indent=1))
        views = None
        for s in sizes:
            if s.dataset != ds or str(s.spine_rows) in meta.get("spines", {}):
                continue
            if views is None:
                views = {v: pq.read_table(d / f"versions_{v}.parquet") for v in VIEWS}
            log(f"generating spine {s.name}: {s.spine_rows:,} rows")
            sp = _spine(s, views)
            pq.write_table(sp, spine_path(s))
            meta["spines"][str(s.spine_rows)] = sp.num_rows
            meta_path.write_text(json.dumps(meta, indent=1))


def spine_path(size: Size) -> Path:
    return dataset_dir(size.dataset) / f"spine_{size.spine_rows}.parquet"


def versions_path(ds: Dataset, view: str) -> Path:
    return dataset_dir(ds) / f"versions_{view}.parquet"


def meta(ds: Dataset) -> dict:
    return json.loads((dataset_dir(ds) / "meta.json").read_text())


__all__ = ["ensure", "spine_path", "versions_path", "meta", "DAY", "SEC"]
