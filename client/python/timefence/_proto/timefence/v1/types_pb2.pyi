from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ValueType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VALUE_TYPE_UNSPECIFIED: _ClassVar[ValueType]
    VALUE_TYPE_INT64: _ClassVar[ValueType]
    VALUE_TYPE_DOUBLE: _ClassVar[ValueType]
    VALUE_TYPE_FLOAT: _ClassVar[ValueType]
    VALUE_TYPE_STRING: _ClassVar[ValueType]
    VALUE_TYPE_BOOL: _ClassVar[ValueType]
    VALUE_TYPE_BYTES: _ClassVar[ValueType]
    VALUE_TYPE_FLOAT_LIST: _ClassVar[ValueType]
    VALUE_TYPE_INT32: _ClassVar[ValueType]
    VALUE_TYPE_TIMESTAMP: _ClassVar[ValueType]
    VALUE_TYPE_JSON: _ClassVar[ValueType]
    VALUE_TYPE_MAP: _ClassVar[ValueType]
    VALUE_TYPE_INT32_LIST: _ClassVar[ValueType]
    VALUE_TYPE_INT64_LIST: _ClassVar[ValueType]
    VALUE_TYPE_DOUBLE_LIST: _ClassVar[ValueType]
    VALUE_TYPE_STRING_LIST: _ClassVar[ValueType]
    VALUE_TYPE_BOOL_LIST: _ClassVar[ValueType]
    VALUE_TYPE_BYTES_LIST: _ClassVar[ValueType]
    VALUE_TYPE_TIMESTAMP_LIST: _ClassVar[ValueType]

class ExpectationLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPECTATION_LEVEL_UNSPECIFIED: _ClassVar[ExpectationLevel]
    EXPECTATION_LEVEL_HARD: _ClassVar[ExpectationLevel]
    EXPECTATION_LEVEL_WARN: _ClassVar[ExpectationLevel]
VALUE_TYPE_UNSPECIFIED: ValueType
VALUE_TYPE_INT64: ValueType
VALUE_TYPE_DOUBLE: ValueType
VALUE_TYPE_FLOAT: ValueType
VALUE_TYPE_STRING: ValueType
VALUE_TYPE_BOOL: ValueType
VALUE_TYPE_BYTES: ValueType
VALUE_TYPE_FLOAT_LIST: ValueType
VALUE_TYPE_INT32: ValueType
VALUE_TYPE_TIMESTAMP: ValueType
VALUE_TYPE_JSON: ValueType
VALUE_TYPE_MAP: ValueType
VALUE_TYPE_INT32_LIST: ValueType
VALUE_TYPE_INT64_LIST: ValueType
VALUE_TYPE_DOUBLE_LIST: ValueType
VALUE_TYPE_STRING_LIST: ValueType
VALUE_TYPE_BOOL_LIST: ValueType
VALUE_TYPE_BYTES_LIST: ValueType
VALUE_TYPE_TIMESTAMP_LIST: ValueType
EXPECTATION_LEVEL_UNSPECIFIED: ExpectationLevel
EXPECTATION_LEVEL_HARD: ExpectationLevel
EXPECTATION_LEVEL_WARN: ExpectationLevel

class Value(_message.Message):
    __slots__ = ("int64_value", "double_value", "float_value", "string_value", "bool_value", "bytes_value", "float_list_value", "int32_value", "timestamp_value", "json_value", "map_value", "int32_list_value", "int64_list_value", "double_list_value", "string_list_value", "bool_list_value", "bytes_list_value", "timestamp_list_value")
    INT64_VALUE_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    FLOAT_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    BYTES_VALUE_FIELD_NUMBER: _ClassVar[int]
    FLOAT_LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT32_VALUE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_VALUE_FIELD_NUMBER: _ClassVar[int]
    JSON_VALUE_FIELD_NUMBER: _ClassVar[int]
    MAP_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT32_LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT64_LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    BYTES_LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    int64_value: int
    double_value: float
    float_value: float
    string_value: str
    bool_value: bool
    bytes_value: bytes
    float_list_value: FloatList
    int32_value: int
    timestamp_value: int
    json_value: str
    map_value: str
    int32_list_value: Int32List
    int64_list_value: Int64List
    double_list_value: DoubleList
    string_list_value: StringList
    bool_list_value: BoolList
    bytes_list_value: BytesList
    timestamp_list_value: Int64List
    def __init__(self, int64_value: _Optional[int] = ..., double_value: _Optional[float] = ..., float_value: _Optional[float] = ..., string_value: _Optional[str] = ..., bool_value: bool = ..., bytes_value: _Optional[bytes] = ..., float_list_value: _Optional[_Union[FloatList, _Mapping]] = ..., int32_value: _Optional[int] = ..., timestamp_value: _Optional[int] = ..., json_value: _Optional[str] = ..., map_value: _Optional[str] = ..., int32_list_value: _Optional[_Union[Int32List, _Mapping]] = ..., int64_list_value: _Optional[_Union[Int64List, _Mapping]] = ..., double_list_value: _Optional[_Union[DoubleList, _Mapping]] = ..., string_list_value: _Optional[_Union[StringList, _Mapping]] = ..., bool_list_value: _Optional[_Union[BoolList, _Mapping]] = ..., bytes_list_value: _Optional[_Union[BytesList, _Mapping]] = ..., timestamp_list_value: _Optional[_Union[Int64List, _Mapping]] = ...) -> None: ...

class FloatList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class Int32List(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class Int64List(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class DoubleList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class StringList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class BoolList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, values: _Optional[_Iterable[bool]] = ...) -> None: ...

class BytesList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, values: _Optional[_Iterable[bytes]] = ...) -> None: ...

class JoinKey(_message.Message):
    __slots__ = ("name", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: ValueType
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[ValueType, str]] = ...) -> None: ...

class Entity(_message.Message):
    __slots__ = ("name", "join_keys", "description", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    JOIN_KEYS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    join_keys: _containers.RepeatedCompositeFieldContainer[JoinKey]
    description: str
    version: int
    def __init__(self, name: _Optional[str] = ..., join_keys: _Optional[_Iterable[_Union[JoinKey, _Mapping]]] = ..., description: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class Feature(_message.Message):
    __slots__ = ("name", "type", "description", "required")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: ValueType
    description: str
    required: bool
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[ValueType, str]] = ..., description: _Optional[str] = ..., required: bool = ...) -> None: ...

class FeatureView(_message.Message):
    __slots__ = ("name", "entity", "features", "ttl", "description", "tags", "owner", "version", "serving_log_rate", "expectations")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVING_LOG_RATE_FIELD_NUMBER: _ClassVar[int]
    EXPECTATIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    entity: str
    features: _containers.RepeatedCompositeFieldContainer[Feature]
    ttl: _duration_pb2.Duration
    description: str
    tags: _containers.ScalarMap[str, str]
    owner: str
    version: int
    serving_log_rate: float
    expectations: _containers.RepeatedCompositeFieldContainer[Expectation]
    def __init__(self, name: _Optional[str] = ..., entity: _Optional[str] = ..., features: _Optional[_Iterable[_Union[Feature, _Mapping]]] = ..., ttl: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., description: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., owner: _Optional[str] = ..., version: _Optional[int] = ..., serving_log_rate: _Optional[float] = ..., expectations: _Optional[_Iterable[_Union[Expectation, _Mapping]]] = ...) -> None: ...

class Expectation(_message.Message):
    __slots__ = ("feature", "level", "min", "max", "allowed", "not_null", "max_null_rate", "max_arrival_lag", "max_batch_interval")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    NOT_NULL_FIELD_NUMBER: _ClassVar[int]
    MAX_NULL_RATE_FIELD_NUMBER: _ClassVar[int]
    MAX_ARRIVAL_LAG_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    feature: str
    level: ExpectationLevel
    min: float
    max: float
    allowed: _containers.RepeatedScalarFieldContainer[str]
    not_null: bool
    max_null_rate: float
    max_arrival_lag: _duration_pb2.Duration
    max_batch_interval: _duration_pb2.Duration
    def __init__(self, feature: _Optional[str] = ..., level: _Optional[_Union[ExpectationLevel, str]] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., allowed: _Optional[_Iterable[str]] = ..., not_null: bool = ..., max_null_rate: _Optional[float] = ..., max_arrival_lag: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., max_batch_interval: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Split(_message.Message):
    __slots__ = ("name", "start", "end", "description", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    description: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., start: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., description: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
