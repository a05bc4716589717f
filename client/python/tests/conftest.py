"""Runs the tests against a real timefence server.

The session fixture builds the server from the repository root with
``go build`` (unless ``TIMEFENCE_BIN`` names a binary), starts ``timefence
serve`` on a temporary data directory and a free loopback port, waits for
the gRPC health check to answer SERVING, and stops it at the end.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import uuid
from typing import Iterator, Optional, Tuple

import grpc
import pytest

import timefence

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]

# grpc.health.v1.Health/Check: an empty request (service ""), and the
# response HealthCheckResponse{status: SERVING} is the two bytes 08 01.
_HEALTH_CHECK = "/grpc.health.v1.Health/Check"
_SERVING = b"\x08\x01"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _build(tmp: pathlib.Path) -> pathlib.Path:
    env_bin = os.environ.get("TIMEFENCE_BIN")
    if env_bin:
        path = pathlib.Path(env_bin)
        if not path.is_file():
            pytest.exit(f"TIMEFENCE_BIN={env_bin} is not a file", returncode=2)
        return path
    go = shutil.which("go")
    if go is None:
        pytest.exit("go is not installed: install Go or set TIMEFENCE_BIN to a timefence binary", returncode=2)
    out = tmp / "timefence"
    proc = subprocess.run(
        [go, "build", "-o", str(out), "./cmd/timefence"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.exit(f"go build ./cmd/timefence failed:\n{proc.stderr}", returncode=2)
    return out


def _healthy(address: str, deadline: float, proc: subprocess.Popen) -> bool:
    with grpc.insecure_channel(address) as ch:
        check = ch.unary_unary(_HEALTH_CHECK, request_serializer=None, response_deserializer=None)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                if check(b"", timeout=1) == _SERVING:
                    return True
            except grpc.RpcError:
                pass
            time.sleep(0.05)
    return False


class Server:
    def __init__(self, address: str, log: pathlib.Path) -> None:
        self.address = address
        self.log = log

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def start_server(
    binary: pathlib.Path, data: pathlib.Path, log: pathlib.Path, *flags: str, address: Optional[str] = None
) -> Tuple[subprocess.Popen, str]:
    """Starts ``timefence serve`` and waits until it serves.

    Without ``address`` it listens on a free loopback port; with one
    (``"127.0.0.1:7070"``) it listens there, and the test fails when the
    server cannot (the caller checks first that the port is free).
    """
    fixed = address is not None
    for _attempt in range(1 if fixed else 3):  # a free port may be taken between probe and bind
        addr = address if fixed else f"127.0.0.1:{_free_port()}"
        assert addr is not None
        with open(log, "wb") as logf:
            proc = subprocess.Popen(
                [str(binary), "serve", "--data", str(data), "--addr", addr, *flags],
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if _healthy(addr, time.monotonic() + 30, proc):
            return proc, addr
        proc.kill()
        proc.wait()
    message = f"timefence serve did not become healthy; its log:\n{log.read_text(errors='replace')}"
    if fixed:
        pytest.fail(message, pytrace=False)
    pytest.exit(message, returncode=2)


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def binary(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return _build(tmp_path_factory.mktemp("bin"))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, binary: pathlib.Path) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("timefence")
    log = tmp / "server.log"
    proc, address = start_server(binary, tmp / "data", log)
    try:
        yield Server(address, log)
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def client(server: Server) -> Iterator[timefence.Client]:
    with timefence.Client(server.address) as c:
        yield c


@pytest.fixture
def uid() -> str:
    """A suffix that keeps each test's definitions apart on the shared server."""
    return uuid.uuid4().hex[:8]
