from google.protobuf import timestamp_pb2 as _timestamp_pb2
from timefence._proto.timefence.v1 import online_service_pb2 as _online_service_pb2
from timefence._proto.timefence.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ServingLogRecord(_message.Message):
    __slots__ = ("request_id", "read_time_unix_nanos", "watermark", "features", "join_keys", "entity_rows", "columns", "context", "view_versions")
    class ContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.Value, _Mapping]] = ...) -> None: ...
    class ViewVersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    READ_TIME_UNIX_NANOS_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    JOIN_KEYS_FIELD_NUMBER: _ClassVar[int]
    ENTITY_ROWS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    VIEW_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    read_time_unix_nanos: int
    watermark: int
    features: _containers.RepeatedScalarFieldContainer[str]
    join_keys: _containers.RepeatedScalarFieldContainer[str]
    entity_rows: _containers.RepeatedCompositeFieldContainer[_online_service_pb2.EntityRow]
    columns: _containers.RepeatedCompositeFieldContainer[_online_service_pb2.FeatureColumn]
    context: _containers.MessageMap[str, _types_pb2.Value]
    view_versions: _containers.ScalarMap[str, int]
    def __init__(self, request_id: _Optional[str] = ..., read_time_unix_nanos: _Optional[int] = ..., watermark: _Optional[int] = ..., features: _Optional[_Iterable[str]] = ..., join_keys: _Optional[_Iterable[str]] = ..., entity_rows: _Optional[_Iterable[_Union[_online_service_pb2.EntityRow, _Mapping]]] = ..., columns: _Optional[_Iterable[_Union[_online_service_pb2.FeatureColumn, _Mapping]]] = ..., context: _Optional[_Mapping[str, _types_pb2.Value]] = ..., view_versions: _Optional[_Mapping[str, int]] = ...) -> None: ...

class GetSkewReportRequest(_message.Message):
    __slots__ = ("since", "until", "max_mismatches")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    MAX_MISMATCHES_FIELD_NUMBER: _ClassVar[int]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    max_mismatches: int
    def __init__(self, since: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., max_mismatches: _Optional[int] = ...) -> None: ...

class GetSkewReportResponse(_message.Message):
    __slots__ = ("lookups", "values", "mismatches", "features", "examples", "watermark")
    LOOKUPS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    MISMATCHES_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    lookups: int
    values: int
    mismatches: int
    features: _containers.RepeatedCompositeFieldContainer[FeatureSkew]
    examples: _containers.RepeatedCompositeFieldContainer[SkewMismatch]
    watermark: int
    def __init__(self, lookups: _Optional[int] = ..., values: _Optional[int] = ..., mismatches: _Optional[int] = ..., features: _Optional[_Iterable[_Union[FeatureSkew, _Mapping]]] = ..., examples: _Optional[_Iterable[_Union[SkewMismatch, _Mapping]]] = ..., watermark: _Optional[int] = ...) -> None: ...

class FeatureSkew(_message.Message):
    __slots__ = ("feature", "values", "mismatches")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    MISMATCHES_FIELD_NUMBER: _ClassVar[int]
    feature: str
    values: int
    mismatches: int
    def __init__(self, feature: _Optional[str] = ..., values: _Optional[int] = ..., mismatches: _Optional[int] = ...) -> None: ...

class SkewMismatch(_message.Message):
    __slots__ = ("request_id", "read_time", "watermark", "row", "entity_key", "feature", "served", "replayed", "cause")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    READ_TIME_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    ENTITY_KEY_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    SERVED_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    read_time: _timestamp_pb2.Timestamp
    watermark: int
    row: int
    entity_key: str
    feature: str
    served: SkewCell
    replayed: SkewCell
    cause: str
    def __init__(self, request_id: _Optional[str] = ..., read_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., watermark: _Optional[int] = ..., row: _Optional[int] = ..., entity_key: _Optional[str] = ..., feature: _Optional[str] = ..., served: _Optional[_Union[SkewCell, _Mapping]] = ..., replayed: _Optional[_Union[SkewCell, _Mapping]] = ..., cause: _Optional[str] = ...) -> None: ...

class SkewCell(_message.Message):
    __slots__ = ("status", "value", "event_time_unix_nanos", "available_at_unix_nanos", "seq", "backfilled")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_UNIX_NANOS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_AT_UNIX_NANOS_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    BACKFILLED_FIELD_NUMBER: _ClassVar[int]
    status: _online_service_pb2.FeatureStatus
    value: str
    event_time_unix_nanos: int
    available_at_unix_nanos: int
    seq: int
    backfilled: bool
    def __init__(self, status: _Optional[_Union[_online_service_pb2.FeatureStatus, str]] = ..., value: _Optional[str] = ..., event_time_unix_nanos: _Optional[int] = ..., available_at_unix_nanos: _Optional[int] = ..., seq: _Optional[int] = ..., backfilled: bool = ...) -> None: ...
