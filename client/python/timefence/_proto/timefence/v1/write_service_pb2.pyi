from google.protobuf import timestamp_pb2 as _timestamp_pb2
from timefence._proto.timefence.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WriteBatchRequest(_message.Message):
    __slots__ = ("batch_id", "feature_view", "feature_names", "rows", "backfill")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    FEATURE_NAMES_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BACKFILL_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    feature_view: str
    feature_names: _containers.RepeatedScalarFieldContainer[str]
    rows: _containers.RepeatedCompositeFieldContainer[WriteRow]
    backfill: bool
    def __init__(self, batch_id: _Optional[str] = ..., feature_view: _Optional[str] = ..., feature_names: _Optional[_Iterable[str]] = ..., rows: _Optional[_Iterable[_Union[WriteRow, _Mapping]]] = ..., backfill: bool = ...) -> None: ...

class WriteRow(_message.Message):
    __slots__ = ("join_keys", "event_time", "values", "delete", "available_at")
    JOIN_KEYS_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_AT_FIELD_NUMBER: _ClassVar[int]
    join_keys: _containers.RepeatedCompositeFieldContainer[_types_pb2.Value]
    event_time: _timestamp_pb2.Timestamp
    values: _containers.RepeatedCompositeFieldContainer[_types_pb2.Value]
    delete: bool
    available_at: _timestamp_pb2.Timestamp
    def __init__(self, join_keys: _Optional[_Iterable[_Union[_types_pb2.Value, _Mapping]]] = ..., event_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., values: _Optional[_Iterable[_Union[_types_pb2.Value, _Mapping]]] = ..., delete: bool = ..., available_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WriteBatchResponse(_message.Message):
    __slots__ = ("first_seq", "last_seq", "commit_time", "rows", "duplicate")
    FIRST_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    COMMIT_TIME_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    first_seq: int
    last_seq: int
    commit_time: _timestamp_pb2.Timestamp
    rows: int
    duplicate: bool
    def __init__(self, first_seq: _Optional[int] = ..., last_seq: _Optional[int] = ..., commit_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., rows: _Optional[int] = ..., duplicate: bool = ...) -> None: ...
