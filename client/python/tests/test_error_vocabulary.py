"""The Python exceptions match the table of docs/errors.md, and the client
reads the ErrorInfo wherever the server puts it.

The table names, for every ErrorInfo reason the server sends, the Python
class that stands for it; its one row without a reason (``—``) names the
class a status of that code becomes. These tests fail when the docs and the
package drift apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import grpc
import pytest
from conftest import REPO_ROOT
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

import timefence
from timefence import errors

ERRORS_MD = REPO_ROOT / "docs" / "errors.md"
_HEADER = re.compile(r"^\|\s*reason\s*\|\s*code\s*\|\s*Go\s*\|\s*Python\s*\|\s*when\s*\|\s*$")
_CODE = re.compile(r"`([A-Z_]+)`")


@dataclass
class Row:
    reason: Optional[str]  # None for the row whose reason is "—"
    codes: List[str]  # one code, or several ("`NOT_FOUND` (...) or `FAILED_PRECONDITION` (...)")
    go: str
    python: str


def _cell(text: str) -> str:
    return text.strip().strip("`").strip()


def parse_table(text: str) -> List[Row]:
    """The rows of the reason | code | Go | Python | when table."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _HEADER.match(line)), None)
    if start is None:
        raise AssertionError("docs/errors.md has no `| reason | code | Go | Python | when |` table")
    rows: List[Row] = []
    for line in lines[start + 2 :]:  # past the header and its |---| line
        if not line.startswith("|"):
            break
        cells = line.strip().strip("|").split("|")
        assert len(cells) >= 5, f"docs/errors.md: a row of fewer than 5 cells: {line}"
        reason = _cell(cells[0])
        rows.append(
            Row(
                reason=None if reason in ("—", "-") else reason,
                codes=_CODE.findall(cells[1]),
                go=_cell(cells[2]),
                python=_cell(cells[3]),
            )
        )
    return rows


@pytest.fixture(scope="module")
def table() -> List[Row]:
    rows = parse_table(ERRORS_MD.read_text())
    # The table is found and whole: a parse that stopped early checks nothing.
    assert len(rows) >= 20
    assert all(r.codes and r.python for r in rows)
    return rows


def test_every_reason_has_its_exported_class(table: List[Row]) -> None:
    for row in table:
        if row.reason is None:
            continue
        cls = getattr(timefence, row.python, None)
        assert cls is not None, f"docs/errors.md names {row.python} for {row.reason}; timefence has no such class"
        assert row.python in timefence.__all__, f"timefence.__all__ lacks {row.python}"
        assert row.python in errors.__all__, f"timefence.errors.__all__ lacks {row.python}"
        assert cls.REASON == row.reason, f"{row.python}.REASON is {cls.REASON!r}, docs/errors.md says {row.reason!r}"
        assert errors._BY_REASON.get(row.reason) is cls, f"reason {row.reason} does not raise {row.python}"


def test_reasons_are_the_documented_ones(table: List[Row]) -> None:
    documented = {r.reason for r in table if r.reason is not None}
    assert set(errors._BY_REASON) == documented, (
        f"only in the client: {sorted(set(errors._BY_REASON) - documented)}; "
        f"only in docs/errors.md: {sorted(documented - set(errors._BY_REASON))}"
    )


def test_reasonless_rows_map_by_code(table: List[Row]) -> None:
    reasonless = [r for r in table if r.reason is None]
    assert reasonless, "docs/errors.md has no row without a reason (the gRPC message over 64 MiB)"
    for row in reasonless:
        assert len(row.codes) == 1, row
        code = grpc.StatusCode[row.codes[0]]
        assert errors._BY_CODE.get(code) is getattr(timefence, row.python), (
            f"a {row.codes[0]} status without a reason raises {errors._BY_CODE.get(code)}, "
            f"docs/errors.md says {row.python}"
        )


def test_every_class_is_a_timefence_error(table: List[Row]) -> None:
    for row in table:
        cls = getattr(timefence, row.python, None)
        assert isinstance(cls, type) and issubclass(cls, timefence.TimefenceError), row.python


def test_table_parse() -> None:
    text = (
        "intro\n\n"
        "| reason | code | Go | Python | when |\n"
        "|---|---|---|---|---|\n"
        "| `A` | `NOT_FOUND` (x) or `FAILED_PRECONDITION` (y) | `ErrA` | `A` | a \\| b |\n"
        "| — | `RESOURCE_EXHAUSTED` | `ErrB` | `B` | c |\n"
        "\n| not | the table |\n"
    )
    assert parse_table(text) == [
        Row("A", ["NOT_FOUND", "FAILED_PRECONDITION"], "ErrA", "A"),
        Row(None, ["RESOURCE_EXHAUSTED"], "ErrB", "B"),
    ]


# -- reading the ErrorInfo ----------------------------------------------------


class FakeRpcError(grpc.RpcError, grpc.Call):
    """A failed call as grpc raises it: a code, details and trailers."""

    def __init__(self, code: grpc.StatusCode, details: str, trailers: Sequence[Tuple[str, Any]] = ()) -> None:
        self._code, self._details, self._trailers = code, details, tuple(trailers)

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Tuple[Tuple[str, Any], ...]:
        return self._trailers

    def initial_metadata(self) -> Tuple[Tuple[str, Any], ...]:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> Optional[float]:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Any) -> bool:
        return False


def _status_details(code: grpc.StatusCode, reason: str, **metadata: str) -> bytes:
    info = error_details_pb2.ErrorInfo(reason=reason, domain=errors.ERROR_DOMAIN, metadata=metadata)
    detail = any_pb2.Any()
    detail.Pack(info)
    return status_pb2.Status(code=code.value[0], message="m", details=[detail]).SerializeToString()


# As the server sends it: protobuf JSON, whose whitespace varies.
ARROW_DETAIL = (
    '{"reason":"CUTOFF_EXCEEDED", "domain":"timefence.dev", "metadata":{"offending_rows":"3", "first_rows":"1,4"}}'
)


@pytest.mark.parametrize(
    "value", [ARROW_DETAIL.encode(), ARROW_DETAIL, json.dumps(json.loads(ARROW_DETAIL), indent=2).encode()]
)
def test_arrow_detail_trailer(value: Any) -> None:
    # A Flight refusal of FAILED_PRECONDITION has no grpc-status-details-bin:
    # its ErrorInfo is only in x-arrow-status-detail-bin, as bytes (grpc
    # decodes -bin trailers) or, from another stack, as text.
    trailers = [("x-arrow-status", "4"), ("x-arrow-status-detail-bin", value)]
    e = errors.from_rpc_error(FakeRpcError(grpc.StatusCode.FAILED_PRECONDITION, "2 of 5 rows ...", trailers))
    assert type(e) is timefence.CutoffExceeded
    assert (e.reason, e.domain, e.code) == ("CUTOFF_EXCEEDED", "timefence.dev", grpc.StatusCode.FAILED_PRECONDITION)
    assert e.message == "2 of 5 rows ..."
    assert (e.offending_rows, e.first_rows) == (3, [1, 4])


def test_status_details_come_first() -> None:
    err = FakeRpcError(
        grpc.StatusCode.UNAUTHENTICATED,
        "unknown credential",
        [
            ("x-arrow-status-detail-bin", b'{"reason":"PERMISSION_DENIED"}'),
            ("grpc-status-details-bin", _status_details(grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")),
        ],
    )
    e = errors.from_rpc_error(err)
    assert type(e) is timefence.Unauthenticated and e.reason == "UNAUTHENTICATED"


@pytest.mark.parametrize("value", [b"not json", b"\xff\xfe", b"[1, 2]", b'{"reason": 7}'])
def test_malformed_arrow_detail_falls_back_to_the_code(value: bytes) -> None:
    err = FakeRpcError(grpc.StatusCode.NOT_FOUND, "gone", [("x-arrow-status-detail-bin", value)])
    e = errors.from_rpc_error(err)
    assert type(e) is timefence.TimefenceError and e.reason is None and e.code == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    "code, name",
    [
        ("INVALID_ARGUMENT", "InvalidArgument"),
        ("OUT_OF_RANGE", "InvalidArgument"),
        ("RESOURCE_EXHAUSTED", "LimitExceeded"),
        ("PERMISSION_DENIED", "PermissionDenied"),
        ("UNAUTHENTICATED", "Unauthenticated"),
        ("UNAVAILABLE", "Unavailable"),
        ("DEADLINE_EXCEEDED", "DeadlineExceeded"),
        ("CANCELLED", "Cancelled"),
        ("INTERNAL", "Internal"),
        ("DATA_LOSS", "DataLoss"),
    ],
)
def test_reasonless_status_by_code(code: str, name: str) -> None:
    cls = getattr(errors, name)
    e = errors.from_rpc_error(FakeRpcError(grpc.StatusCode[code], "no reason"))
    assert type(e) is cls
    assert e.reason == cls.REASON  # the reason of the class chosen by code
    assert e.metadata == {}


def test_deadline_exceeded_is_a_timeout_error() -> None:
    assert issubclass(timefence.DeadlineExceeded, TimeoutError)


def test_internal_request_id() -> None:
    e = errors.from_rpc_error(
        FakeRpcError(
            grpc.StatusCode.INTERNAL,
            "internal error (request id r-1)",
            [("grpc-status-details-bin", _status_details(grpc.StatusCode.INTERNAL, "INTERNAL", request_id="r-1"))],
        )
    )
    assert type(e) is timefence.Internal and e.request_id == "r-1"
