"""The point-in-time join on Spark (timefence.spark over an export) beside
the server's join (Client.get_historical_features), on the same history and
the same spines, in one run on one machine.

    python benchmarks/spark/join.py --binary PATH --sizes 1m,10m

Starts `timefence serve` on a fresh data directory, backfills a generated
history (deterministic), exports it with Client.export, and for each spine
size times both joins, checks that they return the same values, and prints a
table with the ratio. benchmarks/spark/run.sh builds the server, installs
what this needs and runs it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import timefence
import timefence.spark as tfspark

SEC = 1_000_000_000
DAY = 86_400 * SEC
T0 = 1_735_689_600 * SEC  # 2025-01-01T00:00:00Z
SPAN = 30 * DAY
SPLIT = "bench"
# Two views of one entity: one with a ttl, one without.
VIEWS = {"activity": [("clicks", "int64"), ("spend", "double")], "risk": [("score", "double"), ("flags", "int64")]}
TTL = {"activity": "7d"}


def size(text: str) -> int:
    """1m, 10m, 100k or a plain number of rows."""
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def history(rng: np.random.Generator, entities: int, per_entity: int) -> pd.DataFrame:
    """Versions of one view: per entity about per_entity of them, event
    times over 30 days at microsecond resolution, available 0 to 2 days
    later (late data), 3% corrections of an existing version (the same key
    and event time, written later), 1% deletions."""
    n = entities * per_entity
    users = rng.integers(0, entities, n)
    event = T0 + rng.integers(0, SPAN // 1000, n) * 1000
    lag = np.where(rng.random(n) < 0.1, rng.integers(0, 2 * DAY // 1000, n) * 1000, rng.integers(0, 600 * SEC // 1000, n) * 1000)
    fix = rng.random(n) < 0.03
    src = rng.integers(0, n, n)
    users = np.where(fix, users[src], users)
    event = np.where(fix, event[src], event)
    return pd.DataFrame({
        "user_id": users,
        "event_timestamp": pd.to_datetime(event, utc=True),
        "available_at": pd.to_datetime(event + lag, utc=True),
        "deleted": rng.random(n) < 0.01,
    })


def features(rng: np.random.Generator, frame: pd.DataFrame, view: str) -> pd.DataFrame:
    out = frame.copy()
    for name, typ in VIEWS[view]:
        out[name] = rng.integers(0, 1000, len(frame)) if typ == "int64" else rng.random(len(frame)) * 100
        out.loc[out["deleted"], name] = None
    return out


def spine(rng: np.random.Generator, rows: int, entities: int) -> pd.DataFrame:
    """Uniform entities (a few never written) and times within the split,
    at microsecond resolution; rid and label pass through."""
    return pd.DataFrame({
        "rid": np.arange(rows, dtype=np.int64),
        "user_id": rng.integers(0, entities + entities // 50, rows),
        "event_timestamp": pd.to_datetime(T0 + rng.integers(0, SPAN // 1000, rows) * 1000, utc=True),
        "label": rng.random(rows) < 0.5,
    })


class Server:
    """`timefence serve` on a data directory and a free loopback port."""

    def __init__(self, binary: str, data: Path, log: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.addr = f"127.0.0.1:{s.getsockname()[1]}"
        self.log = open(log, "ab")
        self.proc = subprocess.Popen([binary, "serve", "--data", str(data), "--addr", self.addr, "--log-level", "warn"],
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"timefence serve exited with {self.proc.returncode}; see {log}")
            try:
                with timefence.Client(self.addr) as c:
                    c.list_splits()
                return
            except timefence.TimefenceError:
                if time.time() > deadline:
                    raise RuntimeError(f"timefence serve did not start on {self.addr}; see {log}") from None
                time.sleep(0.2)

    def settle(self, quiet: float = 3.0, limit: float = 120.0) -> float:
        """Waits until the server uses under 3% of a core for `quiet`
        seconds (compaction after a bulk load); returns the seconds waited."""
        def cpu() -> float:
            f = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        t0 = time.time()
        while time.time() - t0 < limit:
            c0 = cpu()
            time.sleep(quiet)
            if cpu() - c0 < 0.03 * quiet:
                break
        return time.time() - t0

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def same(server: pd.DataFrame, spark: pa.Table, names: List[str]) -> int:
    """How many feature values differ between the two joins, rows matched by rid."""
    got = spark.sort_by("rid")
    want = pa.Table.from_pandas(server.sort_values("rid"), preserve_index=False)
    differ = 0
    for name in names:
        a, b = want.column(name).combine_chunks(), got.column(name).combine_chunks().cast(want.schema.field(name).type)
        same_null = pc.equal(a.is_null(), b.is_null())
        equal = pc.fill_null(pc.equal(a, b), True)
        differ += len(a) - pc.sum(pc.and_(same_null, equal).cast(pa.int64())).as_py()
    return differ


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", required=True, help="the timefence binary (run.sh builds it)")
    p.add_argument("--sizes", default="1m,10m", help="spine rows, comma-separated (100k, 1m, 10m, or a number); default 1m,10m")
    p.add_argument("--entities", type=size, default=100_000, help="entities (user_id); default 100k")
    p.add_argument("--versions", type=int, default=10, help="versions per entity and view; default 10")
    p.add_argument("--work", type=Path, default=Path(__file__).resolve().parent / "out" / "run", help="data, export and spines (emptied first); default benchmarks/spark/out/run")
    p.add_argument("--master", default="local[2]", help="Spark master; default local[2]")
    p.add_argument("--driver-memory", default="6g", help="Spark driver memory (local mode: all of Spark); default 6g")
    p.add_argument("--shuffle-partitions", type=int, default=16, help="spark.sql.shuffle.partitions; default 16")
    p.add_argument("--repeat", type=int, default=1, help="runs of each join per size (the median is shown); default 1")
    p.add_argument("--command", help=argparse.SUPPRESS)  # the command line to report, from run.sh
    args = p.parse_args()
    sizes = [size(s) for s in args.sizes.split(",")]

    load = os.getloadavg()
    started = dt.datetime.now(dt.timezone.utc)
    print(f"{started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    shutil.rmtree(args.work, ignore_errors=True)
    (args.work / "export").mkdir(parents=True)
    server = Server(args.binary, args.work / "data", args.work / "server.log")
    try:
        client = timefence.Client(server.addr, timeout=3600)
        client.apply([timefence.Entity("user", join_keys=[("user_id", "int64")])] + [
            timefence.FeatureView(v, entity="user", ttl=TTL.get(v), features=[timefence.Feature(n, t) for n, t in feats])
            for v, feats in VIEWS.items()])
        rng = np.random.default_rng(20250101)
        t = time.perf_counter()
        versions = 0
        for view in VIEWS:
            frame = features(rng, history(rng, args.entities, args.versions), view)
            for i in range(0, len(frame), 500_000):
                client.write(view, frame.iloc[i:i + 500_000], backfill=True)
            versions += len(frame)
        client.create_split(SPLIT, start=pd.Timestamp(T0 - DAY, tz="UTC"), end=pd.Timestamp(T0 + SPAN, tz="UTC"))
        print(f"loaded {versions:,} versions of {len(VIEWS)} views over {args.entities:,} entities in {time.perf_counter() - t:.1f} s", flush=True)
        t = time.perf_counter()
        client.export(SPLIT, list(VIEWS), args.work / "export")
        print(f"exported them in {time.perf_counter() - t:.1f} s", flush=True)
        refs = [f"{v}:{n}" for v, feats in VIEWS.items() for n, _ in feats]
        names = [n for feats in VIEWS.values() for n, _ in feats]

        from pyspark.sql import SparkSession
        spark = (SparkSession.builder.master(args.master).appName("timefence-spark-join")
                 .config("spark.driver.memory", args.driver_memory)
                 .config("spark.driver.maxResultSize", "0")
                 .config("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
                 .config("spark.sql.session.timeZone", "UTC")
                 .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                 .getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        # A first join, not timed: the JVM's warm-up.
        warm = spine(np.random.default_rng(1), 10_000, args.entities)
        tfspark.get_historical_features(spark, args.work / "export", warm, refs, ttl=TTL).toArrow()

        rows: List[Tuple[int, float, float, int]] = []
        for n in sizes:
            frame = spine(np.random.default_rng(n), n, args.entities)
            path = args.work / f"spine_{n}.parquet"
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, coerce_timestamps="us")  # Spark timestamps
            server.settle()
            times: Dict[str, List[float]] = {"server": [], "spark": []}
            for _ in range(args.repeat):
                t = time.perf_counter()
                want = client.get_historical_features(frame, refs, split=SPLIT)
                times["server"].append(time.perf_counter() - t)
                t = time.perf_counter()
                got = tfspark.get_historical_features(spark, args.work / "export", spark.read.parquet(str(path)), refs, ttl=TTL).toArrow()
                times["spark"].append(time.perf_counter() - t)
            differ = same(want, got, names)
            rows.append((n, statistics.median(times["server"]), statistics.median(times["spark"]), differ))
            print(f"  {n:,} rows: server {rows[-1][1]:.2f} s, spark {rows[-1][2]:.2f} s, {differ} values differ", flush=True)
        spark.stop()
        client.close()
    finally:
        server.stop()

    import pyspark
    end = os.getloadavg()
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    print()
    print(f"point-in-time join, {versions:,} versions ({len(VIEWS)} views, {len(refs)} features, {args.entities:,} entities), "
          f"{started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average {load[0]:.2f} at the start and {end[0]:.2f} at the end")
    print(f"Spark {pyspark.__version__} ({args.master}, {args.shuffle_partitions} shuffle partitions, driver {args.driver_memory}), "
          f"{java}, Python {platform.python_version()}; command: {args.command or ' '.join(sys.argv)}")
    print()
    print("| spine rows | server s | Spark s | Spark time / server time | server rows/s | Spark rows/s | values differing |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, a, b, d in rows:
        print(f"| {n:,} | {a:.2f} | {b:.2f} | {b / a:.2f}× | {n / a:,.0f} | {n / b:,.0f} | {d} |")
    return 1 if any(d for *_, d in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
