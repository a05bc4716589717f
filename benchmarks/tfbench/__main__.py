"""Run the side-by-side benchmarks: `python -m tfbench [--sizes 100k,1m] [--smoke]`.

benchmarks/run.sh sets up the virtualenv, builds the server and the load
generator, then calls this. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import timefence

from . import datagen, report
from . import timefence as tf
from .common import (BENCH_DIR, DATASETS, FEATURES, ONLINE_FEATURES, ONLINE_VIEW, OUT_DIR, SEC, SIZES, SPLIT,
                     SPLIT_END, SPLIT_START,
                     VIEWS, Dataset, Size, Timer, dataset_dir, disk_bytes, free_port, hwm_mib, log,
                     proc_status, reset_hwm)

PY = sys.executable


class Failure(Exception):
    pass


def child(task: str, args: dict, timeout: float | None = None) -> dict:
    """Run a peer task in its own process and return its result."""
    cmd = [PY, "-m", "tfbench.child", task, json.dumps(args)]
    try:
        p = subprocess.run(cmd, cwd=BENCH_DIR, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("TFBENCH_RESULT "):
            return json.loads(line[len("TFBENCH_RESULT "):])
    tail = (p.stderr or p.stdout).strip().splitlines()[-5:]
    return {"error": f"exit {p.returncode}: " + " | ".join(tail)}


# ---------------------------------------------------------------- comparisons

def compare(ref: pa.Table, other: pa.Table, cols: list[str], key: str = "rid") -> dict:
    """Row-by-row equality of `cols` between two joins of the same spine.

    Rows are matched by position when both have every spine row; otherwise
    (Feast drops some) by the spine's row id, and the missing rows counted."""
    res = {"rows": ref.num_rows, "other_rows": other.num_rows}
    if other.num_rows != ref.num_rows or not ref.column(key).equals(other.column(key)):
        ids = other.column(key).to_numpy()
        pos = np.searchsorted(ref.column(key).to_numpy(), ids)
        if len(pos) and (pos.max() >= ref.num_rows):
            return dict(res, equal=False, note="unknown row ids")
        ref = ref.take(pa.array(pos))
        res["missing_rows"] = res["rows"] - other.num_rows
        res["order_differs"] = True
    bad = np.zeros(ref.num_rows, dtype=bool)
    per_col = {}
    for c in cols:
        a = ref.column(c).combine_chunks()
        b = other.column(c).combine_chunks().cast(a.type)
        eq = pc.fill_null(pc.equal(a, b), False).to_numpy(zero_copy_only=False)
        both_null = (a.is_null().to_numpy(zero_copy_only=False) & b.is_null().to_numpy(zero_copy_only=False))
        diff = ~(eq | both_null)
        per_col[c] = int(diff.sum())
        bad |= diff
    res["differing_rows"] = int(bad.sum())
    res["differing_by_column"] = {c: n for c, n in per_col.items() if n}
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        res["first_difference"] = {"rid": ref.column(key)[i].as_py(),
                                   **{c: [ref.column(c)[i].as_py(), other.column(c)[i].as_py()] for c in cols
                                      if per_col[c] and ref.column(c)[i].as_py() != other.column(c)[i].as_py()}}
    res["equal"] = not bad.any() and "missing_rows" not in res
    return res


def oracle_check(result: pa.Table, size: Size, sample: int) -> dict:
    from .engines import oracle
    spine = pq.read_table(datagen.spine_path(size))
    versions = {v: pq.read_table(datagen.versions_path(size.dataset, v)) for v in VIEWS}
    rng = np.random.default_rng(7)
    rows = np.sort(rng.choice(spine.num_rows, min(sample, spine.num_rows), replace=False))
    want = oracle(spine, versions, rows)
    exp = pa.table({"rid": spine.column("rid").take(pa.array(rows)),
                    **{f: pa.array(want[f], result.schema.field(f).type) for f in FEATURES}})
    return dict(compare(result.take(pa.array(rows)), exp, FEATURES), sample=len(rows))


# ---------------------------------------------------------------- timefence

def load_timefence(binary: str, ds: Dataset, store: Path) -> dict:
    """A fresh store with the 3 views written as backfills (available_at set)."""
    if store.exists():
        shutil.rmtree(store)
    meta = datagen.meta(ds)
    rows = 0
    with tf.Server(binary, store) as srv:
        tf.define(srv, online=False, ingest=False)
        client = srv.flight()
        with Timer() as t:
            for view in VIEWS:
                table = pq.read_table(datagen.versions_path(ds, view)).drop(["seq"])
                nb = meta["views"][view]["base_rows"]
                # Base versions, then the corrections, in file order: timefence
                # assigns seq in this order, as the peers' seq column says.
                for lo, hi in [(0, nb), (nb, table.num_rows)]:
                    for off in range(lo, hi, 500_000):
                        tf.put(client, view, table.slice(off, min(500_000, hi - off)), backfill=True)
                rows += table.num_rows
        client.close()
        peak = hwm_mib(srv.pid)
        settle = srv.settle()
    # Badger compacts again when the store is next opened: let a process do
    # that now, so that the measured processes start from a settled store
    # (and their memory does not hold what compaction left behind).
    with tf.Server(binary, store) as srv:
        reopen = srv.settle()
    log(f"[{ds.name}] timefence: idle {settle:.0f} s after the load, {reopen:.0f} s after reopening "
        "(background compaction)")
    return {"seconds": t.seconds, "rows": rows, "values": rows * 3, "rows_per_s": rows / t.seconds,
            "peak_mib": peak, "settle_seconds": settle, "reopen_settle_seconds": reopen}


def join_timefence(binary: str, store: Path, size: Size) -> tuple[dict, pa.Table]:
    spine = pq.read_table(datagen.spine_path(size))
    with tf.Server(binary, store) as srv:
        settle = srv.settle(limit=120)
        client = srv.flight()
        before = proc_status(srv.pid)
        reset_hwm(srv.pid)
        with Timer() as t:
            res, summary = tf.historical(client, spine, list(VIEWS))
        peak = hwm_mib(srv.pid)
        after = proc_status(srv.pid)
        client.close()
    return {"seconds": t.seconds, "rows": res.num_rows, "peak_mib": peak, "rss_before_mib": before["VmRSS"] / 1024,
            "settle_seconds": settle,
            "rss_anon_after_mib": after.get("RssAnon", 0) / 1024, "rss_file_after_mib": after.get("RssFile", 0) / 1024,
            "summary": summary}, res


def tier_cost(load: dict, first: dict, store: Path) -> dict:
    """The cost of the store after the dataset's first join: the seconds from
    the start of the bulk load to the end of that join (the load, every wait
    for the server to be idle, the join), and the data directory's bytes on
    disk, the columnar history tier (`history/`) apart from Badger's files."""
    total, history = disk_bytes(store), disk_bytes(store / "history")
    out = {"first_join_seconds": first["seconds"], "first_join_settle_seconds": first["settle_seconds"],
           "bytes": total, "history_bytes": history, "badger_bytes": total - history}
    if not load.get("reused"):
        out["to_first_join_seconds"] = (load["seconds"] + load["settle_seconds"] + load["reopen_settle_seconds"]
                                        + first["settle_seconds"] + first["seconds"])
    return out


# ---------------------------------------------------------------- phases

def run_joins(a, sizes: list[Size], results: dict) -> None:
    by_ds: dict[str, list[Size]] = {}
    for s in sizes:
        by_ds.setdefault(s.dataset.name, []).append(s)
    smallest = min(sizes, key=lambda s: s.spine_rows)
    for dsname, dsizes in by_ds.items():
        ds = DATASETS[dsname]
        d = dataset_dir(ds)
        store = d / "tf"
        marker = d / "tf.loaded.json"
        want = {"meta": datagen.meta(ds)["dataset"], "gen": datagen.GEN_VERSION}
        if a.reuse_store and marker.exists() and json.loads(marker.read_text()).get("want") == want:
            log(f"[{dsname}] timefence: reusing the loaded store (--reuse-store)")
            results["load"][dsname] = {"timefence": dict(json.loads(marker.read_text())["load"], reused=True)}
        else:
            marker.unlink(missing_ok=True)
            log(f"[{dsname}] timefence: backfill load of {ds.versions:,} versions")
            results["load"][dsname] = {"timefence": load_timefence(a.tf_bin, ds, store)}
            marker.write_text(json.dumps({"want": want, "load": results["load"][dsname]["timefence"]}))
        log(f"[{dsname}] timefence load: {results['load'][dsname]['timefence']['rows_per_s']:,.0f} rows/s")
        db = d / "duck.db"
        log(f"[{dsname}] duckdb: load")
        dl = results["load"][dsname]["duckdb"] = child("duck_load", {
            "db": str(db), "views": {v: str(datagen.versions_path(ds, v)) for v in VIEWS},
            "spines": {f"spine_{s.spine_rows}": str(datagen.spine_path(s)) for s in dsizes}})
        if "error" in dl:
            results["errors"].append(f"{dsname} duckdb load: {dl['error']}")
        else:
            log(f"[{dsname}] duckdb: load {dl['seconds']:.1f} s, winner timelines materialised in "
                f"{dl['timeline_seconds']:.1f} s ({dl['timeline_rows']:,} rows)")
        feast_repo = d / "feast"
        feast_ok = False
        if a.feast and any(s.spine_rows <= a.feast_max_spine for s in dsizes):
            try:
                from . import feastrepo
                with Timer() as t:
                    feastrepo.setup(feast_repo, {v: datagen.versions_path(ds, v).resolve() for v in VIEWS})
                feast_ok = True
                log(f"[{dsname}] feast: repository applied in {t.seconds:.1f} s")
            except Exception as e:  # noqa: BLE001
                results["errors"].append(f"feast setup: {e!r}")
        first_join = True
        for s in sorted(dsizes, key=lambda s: s.spine_rows):
            r = results["join"].setdefault(s.name, {"spine_rows": s.spine_rows, "versions": sum(
                datagen.meta(ds)["views"][v]["rows"] for v in VIEWS), "dataset": dsname})
            reps = a.repeat if a.repeat else (3 if s.spine_rows <= 100_000 else 1)
            verify = s.spine_rows <= a.verify_max_rows
            out = OUT_DIR / "joins"
            out.mkdir(parents=True, exist_ok=True)
            # timefence
            runs, tf_res = [], None
            for i in range(reps):
                m, res = join_timefence(a.tf_bin, store, s)
                runs.append(m)
                if tf_res is None:
                    tf_res = res
                del res
                log(f"[{s.name}] timefence: {m['seconds']:.2f} s, {s.spine_rows / m['seconds']:,.0f} rows/s, "
                    f"peak {m['peak_mib']:.0f} MiB (server idle after {m['settle_seconds']:.0f} s at start)")
                if first_join:
                    ld = results["load"][dsname]["timefence"]
                    ld.update(tier_cost(ld, m, store))
                    first_join = False
                    log(f"[{dsname}] timefence: {ld['bytes'] / ld['rows']:.0f} bytes/version on disk "
                        f"({ld['history_bytes'] / ld['rows']:.0f} in history/)")
            r["timefence"] = summarize(runs, s.spine_rows)
            r["timefence"]["summary"] = runs[0]["summary"]
            files = {"spine": str(datagen.spine_path(s)),
                     "views": {v: str(datagen.versions_path(ds, v)) for v in VIEWS}}
            peers = [("duckdb", "duck_join", {"db": str(db), "spine": f"spine_{s.spine_rows}"}, reps, True),
                     ("duckdb_timeline", "duck_join", {"db": str(db), "spine": f"spine_{s.spine_rows}",
                                                       "timeline": True}, reps, True),
                     ("duckdb_naive", "duck_join", {"db": str(db), "spine": f"spine_{s.spine_rows}", "naive": True},
                      1, False),
                     ("pandas", "pandas_join", files, reps, True),
                     ("polars", "polars_join", files, reps, True)]
            if feast_ok and s.spine_rows <= a.feast_max_spine:
                peers.append(("feast", "feast_join", {"repo": str(feast_repo), "spine": str(datagen.spine_path(s))},
                              1, False))
            elif a.feast:
                r["feast"] = {"skipped": f"spine over --feast-max-spine {a.feast_max_spine:,}"}
            checks = r.setdefault("checks", {})
            for name, task, args, n, must_equal in peers:
                runs = []
                for i in range(n):
                    args = dict(args, out=str(out / f"{s.name}_{name}.parquet") if verify and i == 0 else None)
                    log(f"[{s.name}] {name}: run {i + 1}/{n}")
                    m = child(task, args, timeout=a.feast_timeout if name == "feast" else a.timeout)
                    if "error" in m:
                        results["errors"].append(f"{s.name} {name}: {m['error']}")
                        log(f"[{s.name}] {name}: {m['error']}")
                        break
                    runs.append(m)
                    log(f"[{s.name}] {name}: {m['seconds']:.2f} s, {s.spine_rows / m['seconds']:,.0f} rows/s, "
                        f"peak {m['peak_mib']:.0f} MiB")
                if not runs:
                    r[name] = {"error": results["errors"][-1]}
                    if must_equal and verify:
                        checks[name] = {"equal": False, "note": "did not run"}
                    continue
                r[name] = summarize(runs, s.spine_rows)
                if verify:
                    other = pq.read_table(out / f"{s.name}_{name}.parquet")
                    c = compare(tf_res, other, FEATURES)
                    c["must_equal"] = must_equal
                    checks[name] = c
                    log(f"[{s.name}] {name} vs timefence: "
                        + ("identical" if c["equal"] else f"{c['differing_rows']:,} rows differ"
                           + (f", {c.get('missing_rows', 0):,} rows missing" if c.get("missing_rows") else "")))
            if s == smallest:
                c = oracle_check(tf_res, s, a.oracle_sample)
                c["must_equal"] = True
                checks["oracle"] = c
                log(f"[{s.name}] brute-force oracle on {c['sample']:,} rows: "
                    + ("identical" if c["equal"] else f"{c['differing_rows']} rows differ"))
            del tf_res


def summarize(runs: list[dict], rows: int) -> dict:
    secs = [r["seconds"] for r in runs]
    med = statistics.median(secs)
    out = {"seconds": med, "rows_per_s": rows / med, "runs": secs,
           "peak_mib": max(r["peak_mib"] for r in runs)}
    for k in ["rss_before_mib", "rss_anon_after_mib", "rss_file_after_mib", "settle_seconds", "timeline_seconds"]:
        if k in runs[0]:
            out[k] = runs[0][k]
    return out


def run_export(a, ds: Dataset, results: dict) -> None:
    d = dataset_dir(ds)
    out = OUT_DIR / "export"
    out.mkdir(parents=True, exist_ok=True)
    r = results["export"] = {"dataset": ds.name}
    tf_dir = out / "tf"
    with tf.Server(a.tf_bin, d / "tf") as srv:
        srv.settle(limit=60)
        client = timefence.Client(srv.addr)
        reset_hwm(srv.pid)
        # The user's path: the Python client streams every view and writes
        # each as Parquet with its manifest.
        with Timer() as t:
            tables = client.export(SPLIT, list(VIEWS), tf_dir)
        peak = hwm_mib(srv.pid)
        tf_tables = {v: tbl.num_rows for v, tbl in tables.items()}
        total, secs = sum(tf_tables.values()), t.seconds
        del tables
        client.close()
        # Statistics under the split, every feature of every view.
        st_versions, st_values, st_secs = 0, 0, 0.0
        for view in VIEWS:
            with Timer() as t:
                resp = tf.statistics(srv, view)
            st_versions += resp.versions
            st_values += resp.versions * len(resp.features)
            st_secs += t.seconds
    results["stats"] = {"timefence": {"versions": st_versions, "values": st_values, "seconds": st_secs,
                                      "values_per_s": st_values / st_secs}}
    log(f"[stats] timefence: {st_values:,} values in {st_secs:.2f} s, {st_values / st_secs:,.0f} values/s")
    r["timefence"] = {"rows": total, "seconds": secs, "rows_per_s": total / secs, "peak_mib": peak,
                      "bytes": sum((tf_dir / f"{v}.parquet").stat().st_size for v in VIEWS)}
    log(f"[export] timefence: {total:,} rows in {secs:.2f} s, {total / secs:,.0f} rows/s")
    dtotal, dsecs, dpeak, dbytes = 0, 0.0, 0.0, 0
    for view in VIEWS:
        m = child("duck_export", {"db": str(d / "duck.db"), "view": view, "out": str(out / f"duck_{view}.parquet")},
                  timeout=a.timeout)
        if "error" in m:
            results["errors"].append(f"export duckdb: {m['error']}")
            r["duckdb"] = {"error": m["error"]}
            return
        dtotal, dsecs, dpeak, dbytes = dtotal + m["rows"], dsecs + m["seconds"], max(dpeak, m["peak_mib"]), \
            dbytes + m["bytes"]
        if m["rows"] != tf_tables[view]:
            r.setdefault("mismatch", []).append(f"{view}: timefence {tf_tables[view]:,} rows, DuckDB {m['rows']:,}")
    r["duckdb"] = {"rows": dtotal, "seconds": dsecs, "rows_per_s": dtotal / dsecs, "peak_mib": dpeak, "bytes": dbytes}
    sv, ss = 0, 0.0
    for view in VIEWS:
        m = child("duck_stats", {"db": str(d / "duck.db"), "view": view}, timeout=a.timeout)
        if "error" in m:
            results["errors"].append(f"stats duckdb: {m['error']}")
            break
        sv, ss = sv + m["versions"] * len(VIEWS[view]), ss + m["seconds"]
    else:
        results["stats"]["duckdb"] = {"values": sv, "seconds": ss, "values_per_s": sv / ss}
        log(f"[stats] duckdb: {sv:,} values in {ss:.2f} s")
        if sv != results["stats"]["timefence"]["values"]:
            results["errors"].append(f"stats: timefence summarised {results['stats']['timefence']['values']:,} values, DuckDB {sv:,}")
    # Same rows? Compare the two exports of one view as sorted sets of rows.
    view = next(iter(VIEWS))
    cols = ["user_id", "event_timestamp", "available_at"] + [f for f, _ in VIEWS[view]]
    keys = [(c, "ascending") for c in cols]
    t1 = pq.read_table(tf_dir / f"{view}.parquet", columns=cols)
    t2 = pq.read_table(out / f"duck_{view}.parquet", columns=cols)
    t1 = t1.set_column(1, "event_timestamp", t1.column(1).cast(pa.timestamp("us"))).set_column(
        2, "available_at", t1.column(2).cast(pa.timestamp("us")))
    r["same_rows"] = t1.sort_by(keys).equals(t2.cast(t1.schema).sort_by(keys))
    log(f"[export] duckdb: {dtotal:,} rows in {dsecs:.2f} s; same rows as timefence: {r['same_rows']}")


def run_ingest_online(a, ds: Dataset, results: dict) -> None:
    d = dataset_dir(ds)
    store = d / "tf_live"
    if store.exists():
        shutil.rmtree(store)
    rng = np.random.default_rng(11)
    with tf.Server(a.tf_bin, store) as srv:
        tf.define(srv, online=True, ingest=True)
        client = srv.flight()
        now = time.time_ns() // 1000 * 1000
        # Narrow: the join views' shape (3 features), batches of 100K rows.
        n, batch = a.ingest_rows, min(100_000, a.ingest_rows)
        feats = VIEWS["user_activity"]
        tables = []
        for off in range(0, n, batch):
            m = min(batch, n - off)
            cols = {"user_id": pa.array(rng.permutation(max(m, 1_000_000))[:m].astype(np.int64)),
                    "event_timestamp": pa.array((now - rng.integers(0, 3600 * 10**6, m) * 1000) // 1000,
                                                pa.timestamp("us"))}
            for f, typ in feats:
                cols[f] = pa.array(rng.integers(0, 10**6, m) if typ == "int64" else rng.random(m))
            tables.append(pa.table(cols))
        with Timer() as t:
            for tb in tables:
                tf.put(client, "ingest_narrow", tb, backfill=False)
        results["ingest"]["narrow"] = {"rows": n, "features": 3, "batch_rows": batch, "seconds": t.seconds,
                                       "values_per_s": n * 3 / t.seconds, "rows_per_s": n / t.seconds}
        log(f"[ingest] narrow: {n * 3 / t.seconds:,.0f} values/s ({n / t.seconds:,.0f} rows/s)")
        # Wide: the online view (50 features), batches of 20K rows: this is
        # also the data of the online benchmark.
        online = pq.read_table(d / "online.parquet")
        ets = pa.array(np.full(online.num_rows, (now - 60 * SEC) // 1000), pa.timestamp("us"))
        online = online.set_column(1, "event_timestamp", ets)
        pq.write_table(online, d / "online_live.parquet")
        wb = min(20_000, online.num_rows)
        with Timer() as t:
            for off in range(0, online.num_rows, wb):
                tf.put(client, ONLINE_VIEW, online.slice(off, wb), backfill=False)
        nv = online.num_rows * len(ONLINE_FEATURES)
        results["ingest"]["wide"] = {"rows": online.num_rows, "features": len(ONLINE_FEATURES), "batch_rows": wb,
                                     "seconds": t.seconds, "values_per_s": nv / t.seconds,
                                     "rows_per_s": online.num_rows / t.seconds}
        log(f"[ingest] wide: {nv / t.seconds:,.0f} values/s ({online.num_rows / t.seconds:,.0f} rows/s)")
        client.close()
        # Small batches: 8 writers of 100-row durable batches over gRPC, each
        # sending its next batch when the last is acknowledged.
        # The CPU time of the server and of the load generator, per batch,
        # say how far the two cores can take it.
        srv.settle()
        srv_cpu, gen_cpu = srv.cpu_seconds(), children_cpu_seconds()
        sb = loadgen_write(a, srv.addr, ["-writers", "8", "-duration", f"{max(a.online_seconds, 3)}s"])["closed"]
        batches = max(1, sb["ok"])
        srv_us = (srv.cpu_seconds() - srv_cpu) / batches * 1e6
        gen_us = (children_cpu_seconds() - gen_cpu) / batches * 1e6
        results["ingest"]["small_batches"] = {
            "rows": sb["ok"] * 100, "features": 3, "batch_rows": 100, "seconds": sb["seconds"],
            "values_per_s": sb["throughput"] * 300, "rows_per_s": sb["throughput"] * 100,
            "writers": 8, "p99_ms": sb["p99_ms"], "errors": sb["errors"],
            "server_cpu_us_per_batch": srv_us, "loadgen_cpu_us_per_batch": gen_us,
            "cpu_bound_values_per_s": os.cpu_count() / ((srv_us + gen_us) / 1e6) * 300}
        log(f"[ingest] small batches (8 writers x 100 rows): {sb['throughput'] * 300:,.0f} values/s, "
            f"p99 {sb['p99_ms']:.2f} ms, {sb['errors']} errors; CPU per batch: server {srv_us:.0f} us, "
            f"load generator {gen_us:.0f} us")
        if a.online:
            persisted = tf.wait_persisted(srv)
            settled = srv.settle()
            log(f"[online] timefence: in-memory versions written to run files after {persisted:.0f} s, "
                f"idle after {settled:.0f} s more")
            results["online"]["timefence"] = online_runs(a, "grpc", srv.addr, online.num_rows, srv.pid)
            if a.python_online:
                results["online"]["python"] = {"timefence": python_online(a, srv.addr, online.num_rows, results)}
            results["online"]["timefence"]["mixed"] = mixed_workload(
                a, srv, online.num_rows, results["ingest"]["small_batches"]["rows_per_s"] / 100)
    if a.online and a.feast:
        try:
            results["online"]["feast"] = feast_online(a, d, online.num_rows)
        except Exception as e:  # noqa: BLE001
            results["errors"].append(f"feast online: {e!r}")
            log(f"feast online: {e!r}")
    if a.online and a.python_online:
        py = results["online"].setdefault("python", {})
        if not a.feast:
            py["feast"] = {"skipped": "Feast not enabled (--feast)"}
        elif "feast" not in results["online"]:
            py["feast"] = {"skipped": "the Feast online store was not built (see the errors)"}
        else:
            py["feast"] = python_online_feast(a, d / "feast_online", online.num_rows, results)


def children_cpu_seconds() -> float:
    """CPU time of this process's waited-for children (the load generator)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def loadgen_write(a, addr: str, extra: list[str]) -> dict:
    """Durable 100-row write batches to ingest_narrow (loadgen -target write)."""
    cmd = [a.loadgen_bin, "-target", "write", "-addr", addr, "-view", "ingest_narrow", "-batch-rows", "100",
           "-keyspace", "1000000", "-warmup", "0s"] + extra
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise Failure(f"loadgen {' '.join(cmd[1:])}: {p.stderr.strip()[-500:]}")
    return json.loads(p.stdout)


def mixed_workload(a, srv, keyspace: int, max_batches_per_s: float) -> dict:
    """Online 1x50 lookups at the fixed rate while 8 writers send 100-row
    batches at half their measured maximum and point-in-time joins of the
    online view run back to back: the p99 against the idle one."""
    rate = max(1.0, max_batches_per_s / 2)
    secs = a.online_seconds
    # The writes cover the floor's run and the lookups' (each with its
    # 1 s warm-up), after 2 s for the joins to start.
    writes = subprocess.Popen(
        [a.loadgen_bin, "-target", "write", "-addr", srv.addr, "-view", "ingest_narrow", "-batch-rows", "100",
         "-keyspace", "1000000", "-warmup", "0s", "-rate", f"{rate:.0f}", "-duration", f"{2 * secs + 6}s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rng = np.random.default_rng(5)
    n = min(200_000, keyspace * 2)
    spine = pa.table({"user_id": pa.array(rng.integers(0, keyspace, n), pa.int64()),
                      "event_timestamp": pa.array(rng.integers(SPLIT_START, SPLIT_END, n) // 1000, pa.timestamp("us"))})
    stop = threading.Event()
    joins = []

    def join_loop():
        client = srv.flight()
        try:
            while not stop.is_set():
                t0 = time.time()
                tf.historical(client, spine, [ONLINE_VIEW])
                joins.append(time.time() - t0)
        finally:
            client.close()

    th = threading.Thread(target=join_loop, daemon=True)
    th.start()
    time.sleep(2)
    log(f"[online] mixed: 1x50 at {a.online_rate_1} req/s while writes run at {rate:.0f} batches/s "
        f"and {n:,}-row joins run back to back")
    floor = health_floor(a, srv.addr, a.online_rate_1, secs, "mixed")
    res = loadgen(a, "grpc", srv.addr, 1, keyspace, ["-rate", str(a.online_rate_1), "-duration", f"{secs}s"])
    stop.set()
    th.join(timeout=300)
    out, err = writes.communicate(timeout=600)
    if writes.returncode != 0:
        raise Failure(f"loadgen write: {err.strip()[-500:]}")
    f = res["fixed"]
    w = json.loads(out)["fixed"]
    log(f"[online] mixed 1x50: p50 {f['p50_ms']:.3f} p99 {f['p99_ms']:.3f} p999 {f['p999_ms']:.3f} ms; "
        f"writes {w['throughput']:.0f} batches/s (p99 {w['p99_ms']:.2f} ms); {len(joins)} joins")
    return {"1x50": f, "floor": floor, "writes": w, "write_rate": rate, "joins": len(joins), "join_rows": n,
            "join_seconds": float(np.median(joins)) if joins else None}


def loadgen(a, target: str, addr: str, entities: int, keyspace: int, extra: list[str]) -> dict:
    cmd = [a.loadgen_bin, "-target", target, "-addr", addr, "-entities", str(entities),
           "-keyspace", str(keyspace), "-features", str(len(ONLINE_FEATURES)), "-view", ONLINE_VIEW] + extra
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise Failure(f"loadgen {' '.join(cmd[1:])}: {p.stderr.strip()[-500:]}")
    return json.loads(p.stdout)


def health_floor(a, addr: str, rate: float, seconds: float, what: str) -> dict:
    """The gRPC floor: standard health checks (loadgen -target health, the
    same connections and open-loop machinery as the lookups) at a rate."""
    h = loadgen(a, "health", addr, 1, 1, ["-rate", str(rate), "-duration", f"{seconds}s"])["fixed"]
    log(f"[online] {what}: gRPC health check floor at {rate}/s: p50 {h['p50_ms']:.3f} p99 {h['p99_ms']:.3f} "
        f"p999 {h['p999_ms']:.3f} ms")
    return h


def online_runs(a, target: str, addr: str, keyspace: int, pid: int | None) -> dict:
    """Fixed-rate runs of both shapes, then the throughput search. Over gRPC,
    each fixed-rate run is preceded by health checks at its rate: the floor
    (`<run>_floor`) its latency is read against (DESIGN.md §9)."""
    out = {}
    for shape, rate in [(1, a.online_rate_1), (100, a.online_rate_100)]:
        r = out[f"{shape}x50"] = {}
        runs = [("fixed", rate)] + ([("fixed_high", rate * a.high_factor)] if target == "grpc" and a.high_factor else [])
        for key, rt in runs:
            if target == "grpc":
                r[f"{key}_floor"] = health_floor(a, addr, rt, a.online_seconds, f"before {shape}x50")
            log(f"[online] {target} {shape}x50: {rt} req/s for {a.online_seconds} s")
            res = loadgen(a, target, addr, shape, keyspace, ["-rate", str(rt), "-duration", f"{a.online_seconds}s"])
            f = r[key] = res["fixed"]
            fl = r.get(f"{key}_floor")
            log(f"[online] {target} {shape}x50 at {rt}/s: p50 {f['p50_ms']:.3f} p99 {f['p99_ms']:.3f} "
                f"p999 {f['p999_ms']:.3f} ms, {f['throughput']:.0f}/s served, {f['errors']} errors"
                + (f"; p99 {f['p99_ms'] / fl['p99_ms']:.2f}x the floor's" if fl and fl["p99_ms"] else ""))
        if a.search:
            s = loadgen(a, target, addr, shape, keyspace, [
                "-search", "-rate", str(a.search_start), "-step-duration", f"{a.search_step}s",
                "-search-max", str(a.search_max), "-p99-limit", "10ms", "-warmup", "0s"])
            r["search"] = {"best": s.get("best"), "steps": s.get("steps")}
            b = s.get("best") or {}
            log(f"[online] {target} {shape}x50: {b.get('throughput', 0):,.0f} req/s at p99 <= 10 ms")
    if pid:
        out["peak_mib"] = hwm_mib(pid)
    return out


def python_online(a, addr: str, keyspace: int, results: dict) -> dict:
    """The Python client's 1x50 lookups, one after the other, in a process
    of their own: the DataFrame and the dict form, and the Python gRPC floor."""
    log(f"[online] python client 1x50: health checks, then get_online_features as a DataFrame and as a dict, "
        f"{a.python_seconds} s each, one call after the other")
    m = child("python_online", {"addr": addr, "keyspace": keyspace, "seconds": a.python_seconds,
                                "features": [f"{ONLINE_VIEW}:{f}" for f, _ in ONLINE_FEATURES]}, timeout=600)
    if "error" in m:
        results["errors"].append(f"python online: {m['error']}")
        log(f"[online] python client: {m['error']}")
        return {"error": m["error"]}
    for k in ["floor", "dataframe", "dict"]:
        f = m[k]
        log(f"[online] python {k}: p50 {f['p50_ms']:.3f} p99 {f['p99_ms']:.3f} p999 {f['p999_ms']:.3f} ms, "
            f"{f['throughput']:,.0f} calls/s")
    m.pop("vm", None)
    return m


def python_online_feast(a, repo: Path, keyspace: int, results: dict) -> dict:
    """Feast's Python SDK, the same calls on the `feast serve` repository."""
    log(f"[online] feast python SDK 1x50: get_online_features(...).to_dict(), {a.python_seconds} s")
    m = child("python_online_feast", {"repo": str(repo), "keyspace": keyspace, "seconds": a.python_seconds,
                                      "features": [f"{ONLINE_VIEW}:{f}" for f, _ in ONLINE_FEATURES]}, timeout=600)
    if "error" in m:
        results["errors"].append(f"feast python online: {m['error']}")
        log(f"[online] feast python SDK: {m['error']}")
        return {"error": m["error"]}
    f = m["to_dict"]
    log(f"[online] feast python to_dict: p50 {f['p50_ms']:.3f} p99 {f['p99_ms']:.3f} p999 {f['p999_ms']:.3f} ms, "
        f"{f['throughput']:,.0f} calls/s")
    m.pop("vm", None)
    return m


def feast_online(a, d: Path, keyspace: int) -> dict:
    from datetime import datetime as dt
    from . import feastrepo
    repo = d / "feast_online"
    feastrepo.setup(repo, {}, online=(d / "online_live.parquet").resolve())
    with Timer() as t:
        feastrepo.materialize(repo, dt(2000, 1, 1, tzinfo=timezone.utc), dt.now(timezone.utc))
    mat = {"seconds": t.seconds, "rows": keyspace, "values_per_s": keyspace * len(ONLINE_FEATURES) / t.seconds}
    log(f"[online] feast materialize to SQLite: {t.seconds:.1f} s")
    port = free_port()
    feast = str(Path(PY).parent / "feast")
    logf = open(d / "feast_serve.log", "wb")
    proc = subprocess.Popen([feast, "-c", str(repo), "serve", "-h", "127.0.0.1", "-p", str(port), "-w",
                             str(a.feast_workers), "--no-access-log", "--max-requests", "100000000",
                             "-r", "3600"], stdout=logf, stderr=logf)
    try:
        import urllib.request
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None:
                raise Failure(f"feast serve exited with {proc.returncode}; see {logf.name}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except Exception:  # noqa: BLE001
                if time.time() > deadline:
                    raise Failure("feast serve did not start")
                time.sleep(0.5)
        out = online_runs(a, "http", f"127.0.0.1:{port}", keyspace, None)
        out["materialize"] = mat
        out["workers"] = a.feast_workers
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        logf.close()


# ---------------------------------------------------------------- environment

def environment(a) -> dict:
    def cmd(*c):
        try:
            return subprocess.run(c, capture_output=True, text=True, timeout=20).stdout.strip()
        except Exception:  # noqa: BLE001
            return "?"
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1]
    vers = {"timefence": tf.version(a.tf_bin), "go": cmd("go", "version").removeprefix("go version "),
            "python": platform.python_version()}
    import importlib.metadata as md
    for pkg in ["duckdb", "pandas", "polars", "pyarrow", "numpy", "grpcio", "feast", "dask", "matplotlib"]:
        try:
            vers[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "nproc": os.cpu_count(),
            "cpu": cpu, "mem_gib": round(int(mem) / 2**20, 1), "kernel": platform.release(),
            "loadavg_start": open("/proc/loadavg").read().split()[:3], "versions": vers}


# ---------------------------------------------------------------- main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="run.sh", description=__doc__)
    ap.add_argument("--sizes", default="100k,1m", help="comma list of " + ", ".join(SIZES))
    ap.add_argument("--smoke", action="store_true", help="tiny sizes and short runs, for CI")
    ap.add_argument("--tf-bin", default=str(OUT_DIR / "bin" / "timefence"))
    ap.add_argument("--loadgen-bin", default=str(OUT_DIR / "bin" / "loadgen"))
    ap.add_argument("--feast", dest="feast", action="store_true", default=None,
                    help="run Feast (default: on, off with --smoke)")
    ap.add_argument("--no-feast", dest="feast", action="store_false")
    ap.add_argument("--feast-max-spine", type=int, default=1_000_000)
    ap.add_argument("--feast-timeout", type=float, default=3600)
    ap.add_argument("--feast-workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=3600, help="bound on each peer run, seconds")
    ap.add_argument("--repeat", type=int, default=0, help="runs per join (default 3 up to 100K rows, else 1)")
    ap.add_argument("--verify-max-rows", type=int, default=1_000_000)
    ap.add_argument("--oracle-sample", type=int, default=2000)
    ap.add_argument("--reuse-store", action="store_true",
                    help="reuse a timefence store loaded by an earlier run (development; the load is not re-measured)")
    ap.add_argument("--skip", default="", help="comma list of phases to skip: join, export, ingest, online, python")
    ap.add_argument("--online-seconds", type=float, default=20)
    ap.add_argument("--online-rate-1", type=int, default=100, help="fixed rate for 1 entity x 50 features")
    ap.add_argument("--online-rate-100", type=int, default=10, help="fixed rate for 100 entities x 50 features")
    ap.add_argument("--high-factor", type=int, default=10,
                    help="also run timefence at this multiple of the fixed rates (0: no)")
    ap.add_argument("--python-seconds", type=float, default=5,
                    help="seconds of each closed-loop Python client online run (DataFrame, dict, floor, Feast)")
    ap.add_argument("--no-search", dest="search", action="store_false")
    ap.add_argument("--search-start", type=int, default=50)
    ap.add_argument("--search-step", type=float, default=3)
    ap.add_argument("--search-max", type=int, default=100_000)
    ap.add_argument("--ingest-rows", type=int, default=1_000_000)
    ap.add_argument("--results", default=None, help="RESULTS.md path (default benchmarks/RESULTS.md; "
                                                     "out/RESULTS-smoke.md with --smoke)")
    ap.add_argument("--command", default=None, help="the command line to record")
    ap.add_argument("--note", default=None, help="a remark for RESULTS.md (e.g. what else ran on the machine)")
    ap.add_argument("--report-only", metavar="RESULTS_JSON", default=None,
                    help="only rewrite RESULTS.md (and the plot) from a results JSON of an earlier run")
    a = ap.parse_args(argv)
    # run.sh runs the harness from benchmarks/; paths on its command line are
    # the caller's.
    caller = Path(os.environ.get("TFBENCH_CALLER_DIR", "."))
    if a.report_only:
        src = caller / a.report_only
        res = json.loads(src.read_text())
        if a.note:
            res["note"] = a.note
            src.write_text(json.dumps(res, indent=1, default=str))
        md = caller / a.results if a.results else src.with_name(src.stem.replace("results", "RESULTS") + ".md")
        report.write(res, md, res.get("smoke", False))
        log(f"wrote {md}")
        return 0
    if a.smoke:
        a.sizes = "smoke"
        a.online_seconds, a.search_step, a.search_max = 2, 0.5, 400
        a.python_seconds = 1
        a.online_rate_1, a.online_rate_100, a.search_start, a.high_factor = 100, 20, 50, 0
        a.ingest_rows = 20_000
        a.oracle_sample = 3000
        a.repeat = a.repeat or 1
        tf.SETTLE_QUIET = 1.0
    if a.feast is None:
        a.feast = not a.smoke
    skip = set(filter(None, a.skip.split(",")))
    a.online = "online" not in skip
    a.python_online = "python" not in skip
    sizes = [SIZES[s.strip().lower()] for s in a.sizes.split(",")]
    results_md = caller / a.results if a.results else (OUT_DIR / "RESULTS-smoke.md" if a.smoke else BENCH_DIR / "RESULTS.md")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    results = {"env": environment(a), "command": a.command or " ".join(sys.argv), "smoke": a.smoke, "note": a.note,
               "sizes": [s.name for s in sizes], "load": {}, "join": {}, "export": {}, "ingest": {}, "online": {},
               "errors": []}
    log(f"timefence benchmarks: sizes {', '.join(s.name for s in sizes)}; load average "
        f"{' '.join(results['env']['loadavg_start'])}")
    with Timer() as total:
        datagen.ensure(sizes)
        ref = max((s.dataset for s in sizes), key=lambda d: d.versions)
        if "join" not in skip:
            run_joins(a, sizes, results)
        if "export" not in skip:
            if not (dataset_dir(ref) / "duck.db").exists() or not (dataset_dir(ref) / "tf").exists():
                results["errors"].append("export: needs the join phase's stores")
            else:
                try:
                    run_export(a, ref, results)
                except Exception as e:  # noqa: BLE001
                    results["errors"].append(f"export: {e!r}")
                    log(f"export: {e!r}")
        if "ingest" not in skip:
            try:
                run_ingest_online(a, ref, results)
            except Exception as e:  # noqa: BLE001
                results["errors"].append(f"ingest/online: {e!r}")
                log(f"ingest/online: {e!r}")
    results["env"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    results["total_seconds"] = total.seconds
    failed = [f"{size}: {name}" for size, r in results["join"].items() for name, c in r.get("checks", {}).items()
              if c.get("must_equal") and not c.get("equal")]
    if results["export"].get("same_rows") is False or results["export"].get("mismatch"):
        failed.append("export: timefence and DuckDB exported different rows")
    results["failed_checks"] = failed
    json_path = results_md.with_name(results_md.stem.replace("RESULTS", "results") + ".json")
    json_path.write_text(json.dumps(results, indent=1, default=str))
    report.write(results, results_md, a.smoke)
    log(f"wrote {results_md} and {json_path} in {total.seconds:.0f} s")
    if failed:
        log("EQUALITY CHECK FAILED: " + "; ".join(failed))
        return 1
    if results["errors"]:
        log("errors: " + "; ".join(results["errors"]))
        return 2 if a.smoke else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
