from google.protobuf import timestamp_pb2 as _timestamp_pb2
from timefence._proto.timefence.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FeatureStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FEATURE_STATUS_UNSPECIFIED: _ClassVar[FeatureStatus]
    FEATURE_STATUS_PRESENT: _ClassVar[FeatureStatus]
    FEATURE_STATUS_NOT_FOUND: _ClassVar[FeatureStatus]
    FEATURE_STATUS_STALE: _ClassVar[FeatureStatus]
FEATURE_STATUS_UNSPECIFIED: FeatureStatus
FEATURE_STATUS_PRESENT: FeatureStatus
FEATURE_STATUS_NOT_FOUND: FeatureStatus
FEATURE_STATUS_STALE: FeatureStatus

class GetOnlineFeaturesRequest(_message.Message):
    __slots__ = ("features", "join_keys", "entity_rows", "as_of", "split", "log", "request_id", "context", "min_watermark", "packed")
    class ContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _types_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_types_pb2.Value, _Mapping]] = ...) -> None: ...
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    JOIN_KEYS_FIELD_NUMBER: _ClassVar[int]
    ENTITY_ROWS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    MIN_WATERMARK_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedScalarFieldContainer[str]
    join_keys: _containers.RepeatedScalarFieldContainer[str]
    entity_rows: _containers.RepeatedCompositeFieldContainer[EntityRow]
    as_of: _timestamp_pb2.Timestamp
    split: str
    log: bool
    request_id: str
    context: _containers.MessageMap[str, _types_pb2.Value]
    min_watermark: int
    packed: bool
    def __init__(self, features: _Optional[_Iterable[str]] = ..., join_keys: _Optional[_Iterable[str]] = ..., entity_rows: _Optional[_Iterable[_Union[EntityRow, _Mapping]]] = ..., as_of: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., split: _Optional[str] = ..., log: bool = ..., request_id: _Optional[str] = ..., context: _Optional[_Mapping[str, _types_pb2.Value]] = ..., min_watermark: _Optional[int] = ..., packed: bool = ...) -> None: ...

class EntityRow(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[_types_pb2.Value]
    def __init__(self, values: _Optional[_Iterable[_Union[_types_pb2.Value, _Mapping]]] = ...) -> None: ...

class FeatureColumn(_message.Message):
    __slots__ = ("type", "statuses", "event_time_unix_nanos", "nulls", "int64_values", "double_values", "float_values", "string_values", "bool_values", "bytes_values", "float_list_values", "int32_values", "int32_list_values", "int64_list_values", "double_list_values", "string_list_values", "bool_list_values", "bytes_list_values")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_UNIX_NANOS_FIELD_NUMBER: _ClassVar[int]
    NULLS_FIELD_NUMBER: _ClassVar[int]
    INT64_VALUES_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUES_FIELD_NUMBER: _ClassVar[int]
    FLOAT_VALUES_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUES_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUES_FIELD_NUMBER: _ClassVar[int]
    BYTES_VALUES_FIELD_NUMBER: _ClassVar[int]
    FLOAT_LIST_VALUES_FIELD_NUMBER: _ClassVar[int]
    INT32_VALUES_FIELD_NUMBER: _ClassVar[int]
    INT32_LIST_VALUES_FIELD_NUMBER: _ClassVar[int]
    INT64_LIST_VALUES_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_LIST_VALUES_FIELD_NUMBER: _ClassVar[int]
    STRING_LIST_VALUES_FIELD_NUMBER: _ClassVar[int]
    BOOL_LIST_VALUES_FIELD_NUMBER: _ClassVar[int]
    BYTES_LIST_VALUES_FIELD_NUMBER: _ClassVar[int]
    type: _types_pb2.ValueType
    statuses: _containers.RepeatedScalarFieldContainer[FeatureStatus]
    event_time_unix_nanos: _containers.RepeatedScalarFieldContainer[int]
    nulls: _containers.RepeatedScalarFieldContainer[bool]
    int64_values: Int64Values
    double_values: DoubleValues
    float_values: FloatValues
    string_values: StringValues
    bool_values: BoolValues
    bytes_values: BytesValues
    float_list_values: FloatListValues
    int32_values: Int32Values
    int32_list_values: Int32ListValues
    int64_list_values: Int64ListValues
    double_list_values: DoubleListValues
    string_list_values: StringListValues
    bool_list_values: BoolListValues
    bytes_list_values: BytesListValues
    def __init__(self, type: _Optional[_Union[_types_pb2.ValueType, str]] = ..., statuses: _Optional[_Iterable[_Union[FeatureStatus, str]]] = ..., event_time_unix_nanos: _Optional[_Iterable[int]] = ..., nulls: _Optional[_Iterable[bool]] = ..., int64_values: _Optional[_Union[Int64Values, _Mapping]] = ..., double_values: _Optional[_Union[DoubleValues, _Mapping]] = ..., float_values: _Optional[_Union[FloatValues, _Mapping]] = ..., string_values: _Optional[_Union[StringValues, _Mapping]] = ..., bool_values: _Optional[_Union[BoolValues, _Mapping]] = ..., bytes_values: _Optional[_Union[BytesValues, _Mapping]] = ..., float_list_values: _Optional[_Union[FloatListValues, _Mapping]] = ..., int32_values: _Optional[_Union[Int32Values, _Mapping]] = ..., int32_list_values: _Optional[_Union[Int32ListValues, _Mapping]] = ..., int64_list_values: _Optional[_Union[Int64ListValues, _Mapping]] = ..., double_list_values: _Optional[_Union[DoubleListValues, _Mapping]] = ..., string_list_values: _Optional[_Union[StringListValues, _Mapping]] = ..., bool_list_values: _Optional[_Union[BoolListValues, _Mapping]] = ..., bytes_list_values: _Optional[_Union[BytesListValues, _Mapping]] = ...) -> None: ...

class Int64Values(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class DoubleValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class FloatValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class StringValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class BoolValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, values: _Optional[_Iterable[bool]] = ...) -> None: ...

class BytesValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, values: _Optional[_Iterable[bytes]] = ...) -> None: ...

class FloatListValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[_types_pb2.FloatList]
    def __init__(self, values: _Optional[_Iterable[_Union[_types_pb2.FloatList, _Mapping]]] = ...) -> None: ...

class Int32Values(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class Int32ListValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[_types_pb2.Int32List]
    def __init__(self, values: _Optional[_Iterable[_Union[_types_pb2.Int32List, _Mapping]]] = ...) -> None: ...

class Int64ListValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[_types_pb2.Int64List]
    def __init__(self, values: _Optional[_Iterable[_Union[_types_pb2.Int64List, _Mapping]]] = ...) -> None: ...

class DoubleListValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[_types_pb2.DoubleList]
    def __init__(self, values: _Optional[_Iterable[_Union[_types_pb2.DoubleList, _Mapping]]] = ...) -> None: ...

class StringListValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[_types_pb2.StringList]
    def __init__(self, values: _Optional[_Iterable[_Union[_types_pb2.StringList, _Mapping]]] = ...) -> None: ...

class BoolListValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[_types_pb2.BoolList]
    def __init__(self, values: _Optional[_Iterable[_Union[_types_pb2.BoolList, _Mapping]]] = ...) -> None: ...

class BytesListValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[_types_pb2.BytesList]
    def __init__(self, values: _Optional[_Iterable[_Union[_types_pb2.BytesList, _Mapping]]] = ...) -> None: ...

class GetOnlineFeaturesResponse(_message.Message):
    __slots__ = ("features", "columns", "read_time", "watermark", "request_id", "packed")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    READ_TIME_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedScalarFieldContainer[str]
    columns: _containers.RepeatedCompositeFieldContainer[FeatureColumn]
    read_time: _timestamp_pb2.Timestamp
    watermark: int
    request_id: str
    packed: PackedColumns
    def __init__(self, features: _Optional[_Iterable[str]] = ..., columns: _Optional[_Iterable[_Union[FeatureColumn, _Mapping]]] = ..., read_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., watermark: _Optional[int] = ..., request_id: _Optional[str] = ..., packed: _Optional[_Union[PackedColumns, _Mapping]] = ...) -> None: ...

class PackedColumns(_message.Message):
    __slots__ = ("types", "statuses", "event_time_unix_nanos", "nulls", "int64_values", "double_values", "float_values", "int32_values", "bool_values", "string_values", "bytes_values", "list_lengths")
    TYPES_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_UNIX_NANOS_FIELD_NUMBER: _ClassVar[int]
    NULLS_FIELD_NUMBER: _ClassVar[int]
    INT64_VALUES_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUES_FIELD_NUMBER: _ClassVar[int]
    FLOAT_VALUES_FIELD_NUMBER: _ClassVar[int]
    INT32_VALUES_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUES_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUES_FIELD_NUMBER: _ClassVar[int]
    BYTES_VALUES_FIELD_NUMBER: _ClassVar[int]
    LIST_LENGTHS_FIELD_NUMBER: _ClassVar[int]
    types: _containers.RepeatedScalarFieldContainer[_types_pb2.ValueType]
    statuses: _containers.RepeatedScalarFieldContainer[FeatureStatus]
    event_time_unix_nanos: _containers.RepeatedScalarFieldContainer[int]
    nulls: _containers.RepeatedScalarFieldContainer[bool]
    int64_values: _containers.RepeatedScalarFieldContainer[int]
    double_values: _containers.RepeatedScalarFieldContainer[float]
    float_values: _containers.RepeatedScalarFieldContainer[float]
    int32_values: _containers.RepeatedScalarFieldContainer[int]
    bool_values: _containers.RepeatedScalarFieldContainer[bool]
    string_values: _containers.RepeatedScalarFieldContainer[str]
    bytes_values: _containers.RepeatedScalarFieldContainer[bytes]
    list_lengths: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, types: _Optional[_Iterable[_Union[_types_pb2.ValueType, str]]] = ..., statuses: _Optional[_Iterable[_Union[FeatureStatus, str]]] = ..., event_time_unix_nanos: _Optional[_Iterable[int]] = ..., nulls: _Optional[_Iterable[bool]] = ..., int64_values: _Optional[_Iterable[int]] = ..., double_values: _Optional[_Iterable[float]] = ..., float_values: _Optional[_Iterable[float]] = ..., int32_values: _Optional[_Iterable[int]] = ..., bool_values: _Optional[_Iterable[bool]] = ..., string_values: _Optional[_Iterable[str]] = ..., bytes_values: _Optional[_Iterable[bytes]] = ..., list_lengths: _Optional[_Iterable[int]] = ...) -> None: ...
