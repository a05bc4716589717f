"""Talking to a timefence server: process management, the gRPC stubs of the
project's Python client, and the Arrow Flight calls (write, historical, export)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import time
from pathlib import Path

import grpc
import pyarrow as pa
import pyarrow.flight as fl

from .common import ONLINE_FEATURES, ONLINE_VIEW, SPLIT, SPLIT_END, SPLIT_START, VIEWS, free_port

# Seconds of idleness that mean the server is settled (see Server.settle).
SETTLE_QUIET = 3.0


def stubs():
    """The gRPC stubs, as the project's Python client ships them."""
    return {name: importlib.import_module(f"timefence._proto.timefence.v1.{name}") for name in
            ["types_pb2", "registry_service_pb2", "registry_service_pb2_grpc", "online_service_pb2",
             "online_service_pb2_grpc", "dataset_service_pb2", "dataset_service_pb2_grpc"]}


class Server:
    """A `timefence serve` process on a data directory and a free port."""

    def __init__(self, binary: str, data: Path):
        self.binary, self.data = binary, data
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.proc = None
        self.logf = None

    def start(self) -> "Server":
        self.data.mkdir(parents=True, exist_ok=True)
        self.logf = open(self.data.parent / f"{self.data.name}.server.log", "ab")
        self.proc = subprocess.Popen([self.binary, "serve", "--data", str(self.data), "--addr", self.addr,
                                      "--log-level", "warn"], stdout=self.logf, stderr=self.logf)
        deadline = time.time() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"timefence serve exited with {self.proc.returncode}; see {self.logf.name}")
            try:
                ch = grpc.insecure_channel(self.addr)
                grpc.channel_ready_future(ch).result(timeout=1)
                ch.close()
                break
            except grpc.FutureTimeoutError:
                if time.time() > deadline:
                    raise RuntimeError(f"timefence serve did not start on {self.addr}")
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_seconds(self) -> float:
        f = open(f"/proc/{self.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    def settle(self, quiet: float | None = None, limit: float = 300.0) -> float:
        """Wait until the server is idle (under 3% of a core for `quiet`
        seconds): after a bulk load, Badger compacts in the background for a
        while, and a measurement must not share the cores with it. Returns
        the seconds waited."""
        quiet = quiet or SETTLE_QUIET
        t0 = time.time()
        while time.time() - t0 < limit:
            c0 = self.cpu_seconds()
            time.sleep(quiet)
            if self.cpu_seconds() - c0 < 0.03 * quiet:
                break
        return time.time() - t0

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.logf:
            self.logf.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def flight(self) -> fl.FlightClient:
        return fl.FlightClient(f"grpc://{self.addr}")

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(self.addr, options=[("grpc.max_receive_message_length", 64 << 20)])


_TYPE = {"int64": "VALUE_TYPE_INT64", "double": "VALUE_TYPE_DOUBLE"}


def define(server: Server, online: bool = True, ingest: bool = True) -> None:
    """Apply the entity, the views and the split."""
    m = stubs()
    t, r, rg = m["types_pb2"], m["registry_service_pb2"], m["registry_service_pb2_grpc"]
    with server.channel() as ch:
        reg = rg.RegistryServiceStub(ch)
        reg.ApplyEntity(r.ApplyEntityRequest(entity=t.Entity(
            name="user", join_keys=[t.JoinKey(name="user_id", type=t.VALUE_TYPE_INT64)])))
        views = dict(VIEWS)
        if online:
            views[ONLINE_VIEW] = ONLINE_FEATURES
        if ingest:
            views["ingest_narrow"] = VIEWS["user_activity"]
            views["ingest_wide"] = ONLINE_FEATURES
        for name, feats in views.items():
            reg.ApplyFeatureView(r.ApplyFeatureViewRequest(feature_view=t.FeatureView(
                name=name, entity="user",
                features=[t.Feature(name=f, type=t.ValueType.Value(_TYPE[typ])) for f, typ in feats])))
        split = t.Split(name=SPLIT, description="benchmark split")
        split.start.FromNanoseconds(SPLIT_START)
        split.end.FromNanoseconds(SPLIT_END)
        reg.CreateSplit(r.CreateSplitRequest(split=split))


def put(client: fl.FlightClient, view: str, table: pa.Table, backfill: bool, chunk: int = 65_536) -> dict:
    """One DoPut {"op": "write"}: the whole table is one atomic batch."""
    cmd = {"op": "write", "feature_view": view}
    if backfill:
        cmd["backfill"] = True
    writer, reader = client.do_put(fl.FlightDescriptor.for_command(json.dumps(cmd)), table.schema)
    writer.write_table(table, max_chunksize=chunk)
    writer.done_writing()
    buf = reader.read()
    writer.close()
    return json.loads(buf.to_pybytes()) if buf is not None else {}


def historical(client: fl.FlightClient, spine: pa.Table, features: list[str], chunk: int = 65_536):
    """DoExchange {"op": "historical"}: returns (result table, join summary)."""
    cmd = {"op": "historical", "split": SPLIT, "features": features}
    writer, reader = client.do_exchange(fl.FlightDescriptor.for_command(json.dumps(cmd)))
    writer.begin(spine.schema)
    writer.write_table(spine, max_chunksize=chunk)
    writer.done_writing()
    chunks, summary = [], None
    while True:
        try:
            c = reader.read_chunk()
        except StopIteration:
            break
        if c.data is not None:
            chunks.append(c.data)
        if c.app_metadata is not None:
            summary = json.loads(c.app_metadata.to_pybytes())
    writer.close()
    return pa.Table.from_batches(chunks), summary


def export(client: fl.FlightClient, view: str):
    """DoGet {"op": "export"}: returns (table, summary)."""
    t = fl.Ticket(json.dumps({"op": "export", "split": SPLIT, "feature_view": view}).encode())
    reader = client.do_get(t)
    chunks, summary = [], None
    while True:
        try:
            c = reader.read_chunk()
        except StopIteration:
            break
        if c.data is not None:
            chunks.append(c.data)
        if c.app_metadata is not None:
            summary = json.loads(c.app_metadata.to_pybytes())
    return pa.Table.from_batches(chunks, schema=reader.schema), summary


def wait_persisted(server: "Server", limit: float = 120.0) -> float:
    """Wait until no view holds versions in memory only (the compactor has
    written them to run files, as it does FlushIdle after the last write), so
    that a measurement does not share the cores with that work. Returns the
    seconds waited."""
    m = stubs()
    stub = m["dataset_service_pb2_grpc"].DatasetServiceStub(server.channel())
    t0 = time.time()
    while time.time() - t0 < limit:
        views = stub.GetHistoryStatus(m["dataset_service_pb2"].GetHistoryStatusRequest(), timeout=10).views
        if all(v.tail_versions == 0 for v in views):
            break
        time.sleep(0.5)
    return time.time() - t0


def statistics(server: "Server", view: str):
    """GetStatistics of every feature of view under the split: the response."""
    m = stubs()
    stub = m["dataset_service_pb2_grpc"].DatasetServiceStub(server.channel())
    return stub.GetStatistics(m["dataset_service_pb2"].GetStatisticsRequest(split=SPLIT, feature_view=view), timeout=600)


def version(binary: str) -> str:
    try:
        out = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=10).stdout.strip()
        return out.removeprefix("timefence ")
    except Exception as e:  # noqa: BLE001
        return f"unknown ({e})"


__all__ = ["Server", "define", "put", "historical", "export", "statistics", "stubs", "version", "wait_persisted"]
