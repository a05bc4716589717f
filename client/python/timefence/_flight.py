"""Arrow Flight over the client's own gRPC channel.

timefence serves Arrow Flight on its gRPC port. Rather than open a second
connection with ``pyarrow.flight`` (which cannot reuse a
``grpc.ChannelCredentials``, and raises Arrow's exception classes), the
client speaks the Flight calls it needs, ``DoGet``, ``DoPut`` and
``DoExchange``, on the same ``grpc.Channel``: each message is a Flight
``FlightData`` protobuf carrying one Arrow IPC message (schema or record
batch). The messages are encoded here by hand; they have four fields.
"""

from __future__ import annotations

import struct
from typing import Iterable, Iterator, List, Optional, Tuple

import pyarrow as pa
import pyarrow.ipc as ipc

DO_GET = "/arrow.flight.protocol.FlightService/DoGet"
DO_PUT = "/arrow.flight.protocol.FlightService/DoPut"
DO_EXCHANGE = "/arrow.flight.protocol.FlightService/DoExchange"

_DESCRIPTOR_CMD = 2  # FlightDescriptor.DescriptorType.CMD

# Field tags (field number << 3 | wire type 2).
_TAG_DESCRIPTOR = b"\x0a"  # FlightData.flight_descriptor = 1
_TAG_HEADER = b"\x12"  # FlightData.data_header = 2
_TAG_APP_METADATA = b"\x1a"  # FlightData.app_metadata = 3
_TAG_BODY = b"\xc2\x3e"  # FlightData.data_body = 1000

_CONTINUATION = b"\xff\xff\xff\xff"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(tag: bytes, data: "bytes | memoryview") -> List["bytes | memoryview"]:
    return [tag, _varint(len(data)), data]


def _descriptor(cmd: bytes) -> bytes:
    # FlightDescriptor{type = CMD (field 1, varint), cmd = cmd (field 2)}
    return b"".join([b"\x08", _varint(_DESCRIPTOR_CMD), *_field(b"\x12", cmd)])


def _ipc_parts(buf: pa.Buffer) -> Tuple[memoryview, memoryview]:
    """Splits an encapsulated IPC message into its metadata (flatbuffer) and body."""
    view = memoryview(buf)
    if bytes(view[:4]) == _CONTINUATION:
        (meta_len,) = struct.unpack_from("<i", view, 4)
        start = 8
    else:  # pre-0.15 format: no continuation marker
        (meta_len,) = struct.unpack_from("<i", view, 0)
        start = 4
    return view[start : start + meta_len], view[start + meta_len :]


def flight_data(header: "bytes | memoryview", body: "bytes | memoryview" = b"", cmd: Optional[bytes] = None) -> bytes:
    parts: List["bytes | memoryview"] = []
    if cmd is not None:
        parts += _field(_TAG_DESCRIPTOR, _descriptor(cmd))
    parts += _field(_TAG_HEADER, header)
    if len(body):
        parts += _field(_TAG_BODY, body)
    return b"".join(parts)


def ticket(body: bytes) -> bytes:
    """A Flight Ticket message: its one field holds the ticket bytes."""
    return b"".join(_field(b"\x0a", body))


def encode_stream(cmd: bytes, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """The FlightData messages of an Arrow stream: the schema (carrying the
    command descriptor), then one message per record batch."""
    header, _ = _ipc_parts(schema.serialize())
    yield flight_data(header, cmd=cmd)
    for batch in batches:
        header, body = _ipc_parts(batch.serialize())
        yield flight_data(header, body)


class FlightData:
    """A decoded FlightData message; fields are views into the received bytes."""

    __slots__ = ("header", "body", "app_metadata")

    def __init__(self, header: memoryview, body: memoryview, app_metadata: memoryview) -> None:
        self.header = header
        self.body = body
        self.app_metadata = app_metadata


def _read_varint(buf: memoryview, pos: int) -> Tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[Tuple[int, memoryview]]:
    """Yields (field number, bytes) for every length-delimited field; skips the others."""
    buf = memoryview(data)
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 2:
            n, pos = _read_varint(buf, pos)
            if pos + n > len(buf):
                raise ValueError("truncated field")
            yield num, buf[pos : pos + n]
            pos += n
        elif wire == 0:
            _, pos = _read_varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


_EMPTY = memoryview(b"")


def decode_flight_data(data: bytes) -> FlightData:
    header = body = meta = _EMPTY
    for num, value in _fields(data):
        if num == 2:
            header = value
        elif num == 3:
            meta = value
        elif num == 1000:
            body = value
    return FlightData(header, body, meta)


def decode_put_result(data: bytes) -> bytes:
    """The app_metadata of a PutResult (field 1)."""
    for num, value in _fields(data):
        if num == 1:
            return bytes(value)
    return b""


def identity(b: bytes) -> bytes:
    return b


def _message(fd: FlightData) -> ipc.Message:
    header = fd.header
    pad = (-len(header)) % 8
    buf = b"".join([_CONTINUATION, struct.pack("<i", len(header) + pad), header, b"\x00" * pad, fd.body])
    return ipc.read_message(pa.py_buffer(buf))


class StreamReader:
    """Rebuilds Arrow record batches from received FlightData messages."""

    def __init__(self) -> None:
        self.schema: Optional[pa.Schema] = None
        self.batches: List[pa.RecordBatch] = []
        self.last_app_metadata: Optional[bytes] = None

    def add(self, fd: FlightData) -> None:
        if len(fd.app_metadata):
            self.last_app_metadata = bytes(fd.app_metadata)
        if not len(fd.header):
            return  # a metadata-only message
        msg = _message(fd)
        if msg.type == "schema":
            self.schema = ipc.read_schema(msg)
        elif msg.type == "record batch":
            if self.schema is None:
                raise ValueError("Arrow stream: record batch before the schema")
            self.batches.append(ipc.read_record_batch(msg, self.schema))
        else:
            raise ValueError(f"Arrow stream: unexpected {msg.type} message")

    def table(self) -> pa.Table:
        if self.schema is None:
            raise ValueError("Arrow stream: no schema received")
        return pa.Table.from_batches(self.batches, schema=self.schema)
