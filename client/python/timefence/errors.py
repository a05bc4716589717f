"""Exceptions raised by the timefence client.

Every error the server returns carries a gRPC status code and, for errors the
server recognised, an ``ErrorInfo`` with a *reason* (``"CUTOFF_EXCEEDED"``,
``"UNKNOWN_FEATURE"``, ...) and metadata. The client turns it into the
subclass of :class:`TimefenceError` of that reason, for the gRPC API and the
Arrow Flight calls alike; a status without a reason becomes the subclass of
its code. Every class stands for one reason of ``docs/errors.md``::

    try:
        client.get_historical_features(spine, ["user_stats"], split="train")
    except timefence.CutoffExceeded as e:
        print(e.offending_rows, e.first_rows)
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Tuple, Type

import grpc

__all__ = [
    "ERROR_DOMAIN",
    "TimefenceError",
    "InvalidArgument",
    "UnknownEntity",
    "UnknownFeatureView",
    "UnknownFeature",
    "UnknownSplit",
    "SchemaMismatch",
    "SplitExists",
    "BatchConflict",
    "SplitRequired",
    "CutoffExceeded",
    "FutureTime",
    "UnknownDataset",
    "DatasetMismatch",
    "PermissionDenied",
    "Unauthenticated",
    "Unavailable",
    "LimitExceeded",
    "StreamIdle",
    "StorageFull",
    "ReadOnly",
    "ReplicaBehind",
    "ExpectationFailed",
    "DataLoss",
    "DeadlineExceeded",
    "Cancelled",
    "Internal",
]

#: The ``ErrorInfo.domain`` of timefence's errors.
ERROR_DOMAIN = "timefence.dev"


class TimefenceError(Exception):
    """An error returned by the timefence server, or found by the client
    before sending a request.

    Attributes:
        message: the server's message (one sentence naming the field or row).
        code: the gRPC status code; ``None`` for an error found by the client.
        reason: the ``ErrorInfo`` reason, e.g. ``"SPLIT_REQUIRED"``. When the
            server gave none (e.g. it is unreachable), the reason of the
            subclass chosen by status code (``"UNAVAILABLE"``), else ``None``.
        metadata: the ``ErrorInfo`` metadata, e.g. ``{"offending_rows": "3"}``.
        domain: the ``ErrorInfo`` domain, ``"timefence.dev"``.
    """

    #: The ErrorInfo reason this class stands for.
    REASON: Optional[str] = None

    def __init__(
        self,
        message: str,
        *,
        code: Optional[grpc.StatusCode] = None,
        reason: Optional[str] = None,
        metadata: Optional[Mapping[str, str]] = None,
        domain: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason if reason is not None else self.REASON
        self.metadata: Dict[str, str] = dict(metadata or {})
        self.domain = domain

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        code = self.code.name if self.code is not None else None
        return f"{type(self).__name__}({self.message!r}, code={code}, reason={self.reason!r})"


class InvalidArgument(TimefenceError, ValueError):
    """The request is malformed: a bad value, type, column or row (``INVALID_ARGUMENT``).
    Nothing of a refused write was written."""

    REASON = "INVALID_ARGUMENT"


class ExpectationFailed(InvalidArgument):
    """A write batch failed a hard expectation of its feature view
    (``EXPECTATION_FAILED``); the message names the expectation and the
    first failing rows. Nothing of the batch was written."""

    REASON = "EXPECTATION_FAILED"


class UnknownEntity(TimefenceError, LookupError):
    """No entity of that name exists (``UNKNOWN_ENTITY``)."""

    REASON = "UNKNOWN_ENTITY"


class UnknownFeatureView(TimefenceError, LookupError):
    """No feature view of that name exists (``UNKNOWN_FEATURE_VIEW``)."""

    REASON = "UNKNOWN_FEATURE_VIEW"


class UnknownFeature(TimefenceError, LookupError):
    """The feature view has no feature of that name (``UNKNOWN_FEATURE``)."""

    REASON = "UNKNOWN_FEATURE"


class UnknownSplit(TimefenceError, LookupError):
    """No split of that name exists (``UNKNOWN_SPLIT``)."""

    REASON = "UNKNOWN_SPLIT"


class SchemaMismatch(TimefenceError):
    """A definition change would break readers: a type change, a removed
    feature, another entity (``SCHEMA_MISMATCH``)."""

    REASON = "SCHEMA_MISMATCH"


class SplitExists(TimefenceError):
    """A split of that name exists with other bounds; splits are immutable
    (``SPLIT_EXISTS``)."""

    REASON = "SPLIT_EXISTS"


class BatchConflict(TimefenceError):
    """The batch id was already used for a batch with other content
    (``BATCH_ID_CONFLICT``)."""

    REASON = "BATCH_ID_CONFLICT"


class SplitRequired(TimefenceError):
    """A training-side read (historical join, read as of a past time) was made
    without a split (``SPLIT_REQUIRED``)."""

    REASON = "SPLIT_REQUIRED"


class CutoffExceeded(TimefenceError):
    """The spine (or ``as_of``) has timestamps outside the split's window;
    the request was refused whole and nothing was read (``CUTOFF_EXCEEDED``).

    Attributes:
        offending_rows: how many rows lie outside the window.
        first_rows: the 0-based indices of the first few of them.
        split: the split's name.
        cutoff: the split's end, as the server formats it (RFC 3339).
    """

    REASON = "CUTOFF_EXCEEDED"

    @property
    def offending_rows(self) -> int:
        try:
            return int(self.metadata.get("offending_rows", "0"))
        except ValueError:
            return 0

    @property
    def first_rows(self) -> List[int]:
        raw = self.metadata.get("first_rows", "")
        return [int(r) for r in raw.split(",") if r.strip().lstrip("-").isdigit()]

    @property
    def split(self) -> Optional[str]:
        return self.metadata.get("split")

    @property
    def cutoff(self) -> Optional[str]:
        return self.metadata.get("cutoff")


class FutureTime(TimefenceError):
    """The spine (or ``as_of``) has timestamps later than the server's now by
    more than its allowed clock skew: what such a read returns could still
    change, so the request was refused whole and nothing was read
    (``FUTURE_TIME``).

    Attributes:
        time: the first such timestamp, as the server formats it (RFC 3339).
        now: the server's time when it refused the read (RFC 3339).
        offending_rows: how many rows are later than now.
        first_rows: the 0-based indices of the first few of them.
    """

    REASON = "FUTURE_TIME"

    @property
    def time(self) -> Optional[str]:
        return self.metadata.get("time")

    @property
    def now(self) -> Optional[str]:
        return self.metadata.get("now")

    @property
    def offending_rows(self) -> int:
        try:
            return int(self.metadata.get("offending_rows", "0"))
        except ValueError:
            return 0

    @property
    def first_rows(self) -> List[int]:
        raw = self.metadata.get("first_rows", "")
        return [int(r) for r in raw.split(",") if r.strip().lstrip("-").isdigit()]


class PermissionDenied(TimefenceError):
    """The credential's role or split scope does not allow this call
    (``PERMISSION_DENIED``)."""

    REASON = "PERMISSION_DENIED"


class Unauthenticated(TimefenceError):
    """The server requires a bearer token and the call carried no known one
    (``UNAUTHENTICATED``)."""

    REASON = "UNAUTHENTICATED"


class Unavailable(TimefenceError):
    """The server cannot be reached or is shutting down (``UNAVAILABLE``)."""

    REASON = "UNAVAILABLE"


class UnknownDataset(TimefenceError, LookupError):
    """No manifest has that dataset id."""

    REASON = "UNKNOWN_DATASET"


class DatasetMismatch(TimefenceError):
    """A dataset id was re-read with a spine other than its own."""

    REASON = "DATASET_MISMATCH"


class LimitExceeded(TimefenceError):
    """The request is past one of the server's limits on rows, bytes or
    values per request (``LIMIT_EXCEEDED``); the message names the limit and
    the ``timefence serve`` flag that raises it. Nothing was written.

    Attributes:
        limit: the flag's name, e.g. ``"max-write-rows"``.
        value: the limit's value.
    """

    REASON = "LIMIT_EXCEEDED"

    @property
    def limit(self) -> Optional[str]:
        return self.metadata.get("limit")

    @property
    def value(self) -> Optional[str]:
        return self.metadata.get("value")


class StreamIdle(TimefenceError):
    """The server ended an Arrow Flight stream that neither read nor sent a
    message for its idle timeout (``STREAM_IDLE``)."""

    REASON = "STREAM_IDLE"


class ReadOnly(TimefenceError):
    """The server serves a sandbox or is a read replica, which refuse writes
    and changes to their definitions (``READ_ONLY``); the message names where
    the sandbox was cut, or the replica's primary. Write there."""

    REASON = "READ_ONLY"


class ReplicaBehind(TimefenceError):
    """A read replica had not reached the read's ``min_watermark`` within the
    call's deadline, at most 5 s (``REPLICA_BEHIND``); the message gives its
    lag. Retry, or read from the primary."""

    REASON = "REPLICA_BEHIND"


class StorageFull(TimefenceError):
    """A write was refused because the server's data directory has less free
    space than its reserve (``STORAGE_FULL``). Nothing was written; writes
    resume by themselves once space returns."""

    REASON = "STORAGE_FULL"


class DataLoss(TimefenceError):
    """Stored data failed a checksum or decode check and was not served
    (``DATA_LOSS``); the message names the file."""

    REASON = "DATA_LOSS"


class DeadlineExceeded(TimefenceError, TimeoutError):
    """The call's deadline passed before it ended (``DEADLINE_EXCEEDED``). A
    write cut this way may or may not have committed: retry it with the same
    batch id."""

    REASON = "DEADLINE_EXCEEDED"


class Cancelled(TimefenceError):
    """The call was cancelled before it ended (``CANCELLED``). As for a
    deadline, retry a write with the same batch id."""

    REASON = "CANCELLED"


class Internal(TimefenceError):
    """A bug or a storage failure on the server (``INTERNAL``). The metadata
    ``request_id`` names the server's log entry of the cause.

    Attributes:
        request_id: the id under which the server logged the cause.
    """

    REASON = "INTERNAL"

    @property
    def request_id(self) -> Optional[str]:
        return self.metadata.get("request_id")


_BY_REASON: Dict[str, Type[TimefenceError]] = {
    cls.REASON: cls
    for cls in (
        InvalidArgument,
        UnknownEntity,
        UnknownFeatureView,
        UnknownFeature,
        UnknownSplit,
        SchemaMismatch,
        SplitExists,
        BatchConflict,
        SplitRequired,
        UnknownDataset,
        DatasetMismatch,
        CutoffExceeded,
        FutureTime,
        PermissionDenied,
        Unauthenticated,
        Unavailable,
        LimitExceeded,
        StreamIdle,
        StorageFull,
        ReadOnly,
        ReplicaBehind,
        ExpectationFailed,
        DataLoss,
        DeadlineExceeded,
        Cancelled,
        Internal,
    )
}

# The class of a status without an ErrorInfo reason (a gRPC message over
# 64 MiB, a deadline or cancellation seen by the client, an unreachable
# server), by code.
_BY_CODE: Dict[grpc.StatusCode, Type[TimefenceError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.RESOURCE_EXHAUSTED: LimitExceeded,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.INTERNAL: Internal,
    grpc.StatusCode.DATA_LOSS: DataLoss,
}

_STATUS_DETAILS_KEY = "grpc-status-details-bin"
# A failed Arrow Flight call carries its ErrorInfo here, in protobuf JSON
# form; the codes Arrow reports as plain Arrow errors (INVALID_ARGUMENT,
# NOT_FOUND, ...) carry it nowhere else.
_ARROW_DETAIL_KEY = "x-arrow-status-detail-bin"


def _error_info(trailers: Any) -> Tuple[Optional[str], Dict[str, str], Optional[str]]:
    """Reads the ErrorInfo out of a call's trailing metadata: reason, metadata,
    domain. It comes from ``grpc-status-details-bin``, else from the
    ``x-arrow-status-detail-bin`` of a failed Flight call."""
    from google.rpc import error_details_pb2, status_pb2

    items = [(item[0], item[1]) for item in trailers or ()]
    for key, value in items:
        if key != _STATUS_DETAILS_KEY or not isinstance(value, (bytes, bytearray)):
            continue
        try:
            st = status_pb2.Status.FromString(bytes(value))
        except Exception:  # a malformed detail is no reason to hide the error
            break
        for detail in st.details:
            if detail.type_url.endswith("google.rpc.ErrorInfo"):
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason or None, dict(info.metadata), info.domain or None
    for key, value in items:
        if key != _ARROW_DETAIL_KEY:
            continue
        parsed = _arrow_detail(value)
        if parsed is not None:
            return parsed
    return None, {}, None


def _arrow_detail(value: Any) -> Optional[Tuple[Optional[str], Dict[str, str], Optional[str]]]:
    """Parses the JSON ErrorInfo of an ``x-arrow-status-detail-bin`` trailer
    (bytes or str); ``None`` when it is not one."""
    try:
        text = bytes(value).decode("utf-8") if isinstance(value, (bytes, bytearray, memoryview)) else str(value)
        info = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    reason = info.get("reason")
    domain = info.get("domain")
    raw = info.get("metadata")
    metadata = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    return (
        reason if isinstance(reason, str) and reason else None,
        metadata,
        domain if isinstance(domain, str) and domain else None,
    )


def from_rpc_error(err: grpc.RpcError) -> TimefenceError:
    """Converts a failed gRPC call into the matching :class:`TimefenceError` subclass."""
    code: Optional[grpc.StatusCode] = None
    message = str(err)
    trailers: Any = None
    if isinstance(err, grpc.Call):
        code = err.code()
        message = err.details() or (code.name if code is not None else str(err))
        trailers = err.trailing_metadata()
    reason, metadata, domain = _error_info(trailers)
    cls: Type[TimefenceError] = TimefenceError
    if reason is not None and reason in _BY_REASON:
        cls = _BY_REASON[reason]
    elif code is not None and code in _BY_CODE:
        cls = _BY_CODE[code]
    return cls(message, code=code, reason=reason, metadata=metadata, domain=domain)
