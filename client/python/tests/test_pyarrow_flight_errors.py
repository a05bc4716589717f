"""Refused Arrow Flight calls, as a plain ``pyarrow.flight.FlightClient``
sees them, and as the timefence client raises them.

A failed Flight call carries the ``x-arrow-status`` trailers
(docs/flight.md), so pyarrow raises the exception class of the refusal's
code and keeps its ErrorInfo:

- INVALID_ARGUMENT, FAILED_PRECONDITION: ``ArrowInvalid``; NOT_FOUND:
  ``ArrowKeyError``; ALREADY_EXISTS: ``ArrowException``; RESOURCE_EXHAUSTED:
  ``ArrowCapacityError``. The ErrorInfo is the JSON after ``. Detail: `` in
  the message.
- UNAUTHENTICATED: ``FlightUnauthenticatedError``; PERMISSION_DENIED:
  ``FlightUnauthorizedError``; DEADLINE_EXCEEDED: ``FlightTimedOutError``.
  ``extra_info`` is the serialized ``google.rpc.Status``, whose details
  hold the ErrorInfo.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import subprocess
import uuid
from typing import Any, Dict, Iterator, Optional, Tuple, Type

import grpc
import pandas as pd
import pyarrow as pa
import pyarrow.flight as fl
import pytest
from conftest import Server, start_server, stop_server
from google.rpc import error_details_pb2, status_pb2

import timefence

DETAIL = ". Detail: "
# How long the limits server waits for an idle stream: the stalled write
# below fails after it, so it is short; every other call on that server
# sends its messages at once.
IDLE = "2s"
SAFETY = fl.FlightCallOptions(timeout=60)  # no test hangs if a refusal never comes


# -- reading the ErrorInfo as a pyarrow user would ------------------------------


def arrow_detail(e: BaseException) -> Dict[str, Any]:
    """The ErrorInfo that pyarrow appends to the message of an Arrow* error."""
    text = str(e)
    at = text.find(DETAIL + "{")
    assert at >= 0, f"no {DETAIL!r} in the message: {text}"
    info, _ = json.JSONDecoder().raw_decode(text, at + len(DETAIL))
    return dict(info)


def flight_status(e: fl.FlightError) -> Tuple[int, Dict[str, Any]]:
    """The gRPC code and the ErrorInfo of a Flight* error's ``extra_info``."""
    assert e.extra_info, f"{type(e).__name__} without extra_info: {e}"
    st = status_pb2.Status.FromString(e.extra_info)
    for detail in st.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return st.code, {"reason": info.reason, "domain": info.domain, "metadata": dict(info.metadata)}
    raise AssertionError(f"no ErrorInfo in the extra_info of {type(e).__name__}: {st}")


def refused(cls: Type[BaseException], call: Any, *args: Any) -> Any:
    """Runs call, which must raise exactly cls; returns the exception."""
    with pytest.raises(cls) as ei:
        call(*args)
    assert type(ei.value) is cls, f"expected {cls.__name__}, got {type(ei.value).__name__}: {ei.value}"
    return ei.value


# -- plain pyarrow.flight calls ------------------------------------------------


def export(c: fl.FlightClient, cmd: Dict[str, Any], options: fl.FlightCallOptions = SAFETY) -> pa.Table:
    return c.do_get(fl.Ticket(json.dumps(cmd)), options=options).read_all()


def _finish(writer: Any, body: Any) -> Any:
    """Runs body; closes writer either way, without hiding body's error."""
    try:
        out = body()
    except BaseException:
        with contextlib.suppress(pa.ArrowException):
            writer.close()
        raise
    writer.close()
    return out


def put(c: fl.FlightClient, cmd: Dict[str, Any], table: pa.Table, options: fl.FlightCallOptions = SAFETY) -> None:
    writer, results = c.do_put(fl.FlightDescriptor.for_command(json.dumps(cmd)), table.schema, options=options)

    def body() -> None:
        writer.write_table(table)
        writer.done_writing()
        results.read()

    _finish(writer, body)


def exchange(c: fl.FlightClient, cmd: Dict[str, Any], spine: pa.Table) -> pa.Table:
    writer, reader = c.do_exchange(fl.FlightDescriptor.for_command(json.dumps(cmd)), options=SAFETY)

    def body() -> pa.Table:
        writer.begin(spine.schema)
        writer.write_table(spine)
        writer.done_writing()
        return reader.read_all()

    return _finish(writer, body)


def bearer(token: str) -> fl.FlightCallOptions:
    return fl.FlightCallOptions(timeout=60, headers=[(b"authorization", f"Bearer {token}".encode())])


# -- data ------------------------------------------------------------------------

NOW = pd.Timestamp.now(tz="UTC")


class Store:
    """A view and a split around now on a server."""

    def __init__(self, client: timefence.Client) -> None:
        uid = uuid.uuid4().hex[:8]
        self.view, self.split = f"stats_{uid}", f"now_{uid}"
        client.apply(
            [
                timefence.Entity(f"user_{uid}", join_keys=[timefence.JoinKey("user_id", "int64")]),
                timefence.FeatureView(
                    self.view, entity=f"user_{uid}", features=[timefence.Feature("clicks", "int64")]
                ),
            ]
        )
        client.create_split(self.split, start=NOW - pd.Timedelta(days=2), end=NOW + pd.Timedelta(days=2))


def rows(n: int, clicks: int = 1) -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array(range(1, n + 1), pa.int64()),
            "event_timestamp": pa.array([NOW - pd.Timedelta(hours=1)] * n, pa.timestamp("us", "UTC")),
            "clicks": pa.array([clicks] * n, pa.int64()),
        }
    )


def late_spine() -> pa.Table:
    """Two rows; row 1 lies 30 days before the split's start."""
    return pa.table(
        {
            "user_id": pa.array([1, 2], pa.int64()),
            "event_timestamp": pa.array([NOW, NOW - pd.Timedelta(days=30)], pa.timestamp("us", "UTC")),
        }
    )


@pytest.fixture(scope="module")
def store(client: timefence.Client) -> Store:
    return Store(client)


@pytest.fixture(scope="module")
def flight(server: Server) -> Iterator[fl.FlightClient]:
    with fl.FlightClient(f"grpc://{server.address}") as c:
        yield c


@pytest.fixture(scope="module")
def limits(binary: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[str, Store]]:
    """A server refusing bulk writes of more than 2 rows and ending streams
    idle for IDLE."""
    tmp = tmp_path_factory.mktemp("limits")
    proc, address = start_server(
        binary, tmp / "data", tmp / "server.log", "--max-write-rows", "2", "--stream-idle-timeout", IDLE
    )
    try:
        with timefence.Client(address) as c:
            s = Store(c)
        yield address, s
    finally:
        stop_server(proc)


def make_token(binary: pathlib.Path, auth: pathlib.Path, name: str, role: str) -> str:
    out = subprocess.run(
        [str(binary), "token", "create", "--name", name, "--role", role, "--add-to", str(auth)],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


@pytest.fixture(scope="module")
def authed(
    binary: pathlib.Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tuple[str, Dict[str, str], Store]]:
    """A server with auth: tokens of an admin and of a reader (who may not write)."""
    tmp = tmp_path_factory.mktemp("auth")
    auth = tmp / "auth.json"
    tokens = {
        "admin": make_token(binary, auth, "ops", "admin"),
        "reader": make_token(binary, auth, "inference", "reader"),
    }
    proc, address = start_server(binary, tmp / "data", tmp / "server.log", "--auth-file", str(auth))
    try:
        with timefence.Client(address, token=tokens["admin"]) as c:
            s = Store(c)
        yield address, tokens, s
    finally:
        stop_server(proc)


# -- plain pyarrow.flight: Arrow* errors, ErrorInfo in the message ------------


def test_invalid_argument(flight: fl.FlightClient) -> None:
    e = refused(pa.ArrowInvalid, export, flight, {"op": "export", "Split": "x"})
    assert arrow_detail(e) == {"reason": "INVALID_ARGUMENT", "domain": "timefence.dev"}
    assert str(e).startswith('flight command: unknown field "Split"')


def test_failed_precondition_split_required(flight: fl.FlightClient, store: Store) -> None:
    e = refused(pa.ArrowInvalid, export, flight, {"op": "export", "feature_view": store.view})
    assert arrow_detail(e)["reason"] == "SPLIT_REQUIRED"


def test_failed_precondition_cutoff_exceeded(flight: fl.FlightClient, store: Store) -> None:
    cmd = {"op": "historical", "split": store.split, "features": [store.view]}
    e = refused(pa.ArrowInvalid, exchange, flight, cmd, late_spine())
    info = arrow_detail(e)
    assert info["reason"] == "CUTOFF_EXCEEDED" and info["domain"] == "timefence.dev"
    assert {k: info["metadata"][k] for k in ("offending_rows", "first_rows", "split")} == {
        "offending_rows": "1",
        "first_rows": "1",
        "split": store.split,
    }
    assert "cutoff" in info["metadata"]


@pytest.mark.parametrize(
    "cmd, reason",
    [
        ({"op": "export", "feature_view": "no_such_view"}, "UNKNOWN_FEATURE_VIEW"),
        ({"op": "export", "dataset_id": "no_such_dataset"}, "UNKNOWN_DATASET"),
    ],
)
def test_not_found(flight: fl.FlightClient, store: Store, cmd: Dict[str, Any], reason: str) -> None:
    if "dataset_id" not in cmd:
        cmd = {**cmd, "split": store.split}
    e = refused(pa.ArrowKeyError, export, flight, cmd)
    assert isinstance(e, KeyError)
    assert arrow_detail(e) == {"reason": reason, "domain": "timefence.dev"}


def test_already_exists_batch_conflict(flight: fl.FlightClient, store: Store) -> None:
    batch = f"b-{uuid.uuid4().hex[:8]}"
    cmd = {"op": "write", "feature_view": store.view, "batch_id": batch}
    put(flight, cmd, rows(1))
    put(flight, cmd, rows(1))  # the same content again: a duplicate, no error
    # pyarrow has no class of Arrow's AlreadyExists: the base class.
    e = refused(pa.ArrowException, put, flight, cmd, rows(1, clicks=2))
    assert arrow_detail(e) == {"reason": "BATCH_ID_CONFLICT", "domain": "timefence.dev"}
    assert f'batch id "{batch}"' in str(e)


def test_resource_exhausted_limit_exceeded(limits: Tuple[str, Store]) -> None:
    address, s = limits
    with fl.FlightClient(f"grpc://{address}") as c:
        put(c, {"op": "write", "feature_view": s.view}, rows(2))  # at the limit
        e = refused(pa.ArrowCapacityError, put, c, {"op": "write", "feature_view": s.view}, rows(3))
    info = arrow_detail(e)
    assert info["reason"] == "LIMIT_EXCEEDED"
    assert info["metadata"] == {"limit": "max-write-rows", "value": "2"}


# -- plain pyarrow.flight: Flight* errors, ErrorInfo in extra_info ------------


def test_deadline_exceeded_stream_idle(limits: Tuple[str, Store]) -> None:
    address, s = limits
    with fl.FlightClient(f"grpc://{address}") as c:
        table = rows(1)
        descriptor = fl.FlightDescriptor.for_command(json.dumps({"op": "write", "feature_view": s.view}))
        writer, results = c.do_put(descriptor, table.schema, options=SAFETY)
        # The schema is sent; then the client waits for a result it never
        # earns, until the server ends the idle stream.
        e = refused(fl.FlightTimedOutError, _finish, writer, results.read)
    code, info = flight_status(e)
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED.value[0]
    assert info == {
        "reason": "STREAM_IDLE",
        "domain": "timefence.dev",
        "metadata": {"limit": "stream-idle-timeout", "value": IDLE},
    }
    # pyarrow appends the detail trailer to the message of these too.
    assert arrow_detail(e)["reason"] == "STREAM_IDLE"


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_unauthenticated(authed: Tuple[str, Dict[str, str], Store], token: Optional[str]) -> None:
    address, _, s = authed
    options = bearer(token) if token else SAFETY
    read = {"op": "export", "split": s.split, "feature_view": s.view}
    write = {"op": "write", "feature_view": s.view}
    with fl.FlightClient(f"grpc://{address}") as c:
        for e in (
            refused(fl.FlightUnauthenticatedError, export, c, read, options),
            refused(fl.FlightUnauthenticatedError, put, c, write, rows(1), options),
        ):
            code, info = flight_status(e)
            assert code == grpc.StatusCode.UNAUTHENTICATED.value[0]
            assert info == {"reason": "UNAUTHENTICATED", "domain": "timefence.dev", "metadata": {}}


def test_permission_denied(authed: Tuple[str, Dict[str, str], Store]) -> None:
    address, tokens, s = authed
    write = {"op": "write", "feature_view": s.view}
    with fl.FlightClient(f"grpc://{address}") as c:
        put(c, write, rows(1), bearer(tokens["admin"]))
        e = refused(fl.FlightUnauthorizedError, put, c, write, rows(1), bearer(tokens["reader"]))
    code, info = flight_status(e)
    assert code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert info == {"reason": "PERMISSION_DENIED", "domain": "timefence.dev", "metadata": {}}
    assert 'credential "inference" (reader)' in str(e)


# -- the timefence client: the TimefenceError of each refusal --------------------


def test_client_cutoff_exceeded(client: timefence.Client, store: Store) -> None:
    with pytest.raises(timefence.CutoffExceeded) as ei:
        client.get_historical_features(late_spine(), [store.view], split=store.split)
    e = ei.value
    assert (e.code, e.reason, e.domain) == (grpc.StatusCode.FAILED_PRECONDITION, "CUTOFF_EXCEEDED", "timefence.dev")
    assert e.metadata["offending_rows"] == "1"
    assert (e.offending_rows, e.first_rows, e.split) == (1, [1], store.split)
    assert e.cutoff is not None


def test_client_split_required(client: timefence.Client, store: Store) -> None:
    with pytest.raises(timefence.SplitRequired) as ei:
        client.get_historical_features(late_spine(), [store.view])
    assert ei.value.code == grpc.StatusCode.FAILED_PRECONDITION


def test_client_not_found(client: timefence.Client, store: Store) -> None:
    with pytest.raises(timefence.UnknownFeatureView) as ei:
        client.export(store.split, "no_such_view")
    assert (ei.value.code, ei.value.reason) == (grpc.StatusCode.NOT_FOUND, "UNKNOWN_FEATURE_VIEW")
    with pytest.raises(timefence.UnknownDataset) as ei2:
        client.export(store.split, store.view, dataset_ids={store.view: "no_such_dataset"})
    assert (ei2.value.code, ei2.value.reason) == (grpc.StatusCode.NOT_FOUND, "UNKNOWN_DATASET")


def test_client_batch_conflict(client: timefence.Client, store: Store) -> None:
    batch = f"b-{uuid.uuid4().hex[:8]}"
    client.write(store.view, rows(1), batch_id=batch)
    with pytest.raises(timefence.BatchConflict) as ei:
        client.write(store.view, rows(1, clicks=2), batch_id=batch)
    assert (ei.value.code, ei.value.reason) == (grpc.StatusCode.ALREADY_EXISTS, "BATCH_ID_CONFLICT")


def test_client_limit_exceeded(limits: Tuple[str, Store]) -> None:
    address, s = limits
    with timefence.Client(address) as c, pytest.raises(timefence.LimitExceeded) as ei:
        c.write(s.view, rows(3))
    assert ei.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (ei.value.limit, ei.value.value) == ("max-write-rows", "2")


def test_client_unauthenticated(authed: Tuple[str, Dict[str, str], Store]) -> None:
    address, tokens, s = authed
    with timefence.Client(address) as c:
        for call in (
            lambda: c.export(s.split, s.view),  # Flight DoGet
            lambda: c.write(s.view, rows(1)),  # Flight DoPut
            c.list_splits,  # gRPC
        ):
            with pytest.raises(timefence.Unauthenticated) as ei:
                call()
            assert (ei.value.code, ei.value.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
            assert not isinstance(ei.value, timefence.PermissionDenied)
    with timefence.Client(address, token=tokens["reader"]) as c, pytest.raises(timefence.PermissionDenied) as ei:
        c.write(s.view, rows(1))
    assert (ei.value.code, ei.value.reason) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
