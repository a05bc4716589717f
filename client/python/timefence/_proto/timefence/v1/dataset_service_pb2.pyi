from google.protobuf import timestamp_pb2 as _timestamp_pb2
from timefence._proto.timefence.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AnomalySeverity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANOMALY_SEVERITY_UNSPECIFIED: _ClassVar[AnomalySeverity]
    ANOMALY_SEVERITY_WARNING: _ClassVar[AnomalySeverity]
    ANOMALY_SEVERITY_ERROR: _ClassVar[AnomalySeverity]
ANOMALY_SEVERITY_UNSPECIFIED: AnomalySeverity
ANOMALY_SEVERITY_WARNING: AnomalySeverity
ANOMALY_SEVERITY_ERROR: AnomalySeverity

class GetValidationReportRequest(_message.Message):
    __slots__ = ("since", "until", "feature_view", "max_events")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    MAX_EVENTS_FIELD_NUMBER: _ClassVar[int]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    feature_view: str
    max_events: int
    def __init__(self, since: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., feature_view: _Optional[str] = ..., max_events: _Optional[int] = ...) -> None: ...

class GetValidationReportResponse(_message.Message):
    __slots__ = ("events", "counts", "total_events")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ValidationEvent]
    counts: _containers.RepeatedCompositeFieldContainer[ValidationCount]
    total_events: int
    def __init__(self, events: _Optional[_Iterable[_Union[ValidationEvent, _Mapping]]] = ..., counts: _Optional[_Iterable[_Union[ValidationCount, _Mapping]]] = ..., total_events: _Optional[int] = ...) -> None: ...

class ValidationEvent(_message.Message):
    __slots__ = ("time", "feature_view", "view_version", "batch_id", "first_seq", "last_seq", "expectation", "kind", "bound", "rows_checked", "rows_failed", "failed_rows")
    TIME_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    VIEW_VERSION_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    EXPECTATION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    ROWS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    ROWS_FAILED_FIELD_NUMBER: _ClassVar[int]
    FAILED_ROWS_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    feature_view: str
    view_version: int
    batch_id: str
    first_seq: int
    last_seq: int
    expectation: _types_pb2.Expectation
    kind: str
    bound: str
    rows_checked: int
    rows_failed: int
    failed_rows: _containers.RepeatedCompositeFieldContainer[FailedRow]
    def __init__(self, time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., feature_view: _Optional[str] = ..., view_version: _Optional[int] = ..., batch_id: _Optional[str] = ..., first_seq: _Optional[int] = ..., last_seq: _Optional[int] = ..., expectation: _Optional[_Union[_types_pb2.Expectation, _Mapping]] = ..., kind: _Optional[str] = ..., bound: _Optional[str] = ..., rows_checked: _Optional[int] = ..., rows_failed: _Optional[int] = ..., failed_rows: _Optional[_Iterable[_Union[FailedRow, _Mapping]]] = ...) -> None: ...

class FailedRow(_message.Message):
    __slots__ = ("row", "value")
    ROW_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    row: int
    value: str
    def __init__(self, row: _Optional[int] = ..., value: _Optional[str] = ...) -> None: ...

class ValidationCount(_message.Message):
    __slots__ = ("feature_view", "expectation", "level", "events", "rows_failed")
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    EXPECTATION_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FAILED_FIELD_NUMBER: _ClassVar[int]
    feature_view: str
    expectation: str
    level: str
    events: int
    rows_failed: int
    def __init__(self, feature_view: _Optional[str] = ..., expectation: _Optional[str] = ..., level: _Optional[str] = ..., events: _Optional[int] = ..., rows_failed: _Optional[int] = ...) -> None: ...

class CreateSandboxRequest(_message.Message):
    __slots__ = ("split",)
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    split: str
    def __init__(self, split: _Optional[str] = ...) -> None: ...

class CreateSandboxResponse(_message.Message):
    __slots__ = ("chunk", "info")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    chunk: bytes
    info: SandboxInfo
    def __init__(self, chunk: _Optional[bytes] = ..., info: _Optional[_Union[SandboxInfo, _Mapping]] = ...) -> None: ...

class SandboxInfo(_message.Message):
    __slots__ = ("split", "splits", "source_store_id", "watermark", "versions", "left_out", "manifests", "created")
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    LEFT_OUT_FIELD_NUMBER: _ClassVar[int]
    MANIFESTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    split: _types_pb2.Split
    splits: _containers.RepeatedScalarFieldContainer[str]
    source_store_id: str
    watermark: int
    versions: int
    left_out: int
    manifests: int
    created: _timestamp_pb2.Timestamp
    def __init__(self, split: _Optional[_Union[_types_pb2.Split, _Mapping]] = ..., splits: _Optional[_Iterable[str]] = ..., source_store_id: _Optional[str] = ..., watermark: _Optional[int] = ..., versions: _Optional[int] = ..., left_out: _Optional[int] = ..., manifests: _Optional[int] = ..., created: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FeatureRef(_message.Message):
    __slots__ = ("feature_view", "feature", "view_version")
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    VIEW_VERSION_FIELD_NUMBER: _ClassVar[int]
    feature_view: str
    feature: str
    view_version: int
    def __init__(self, feature_view: _Optional[str] = ..., feature: _Optional[str] = ..., view_version: _Optional[int] = ...) -> None: ...

class Manifest(_message.Message):
    __slots__ = ("dataset_id", "kind", "spine_hash", "features", "split", "watermark", "options", "rows", "max_event_time", "max_available_at", "backfilled_values", "naive_differences", "server_version", "output_checksum", "create_time")
    class OptionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SPINE_HASH_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    MAX_EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    MAX_AVAILABLE_AT_FIELD_NUMBER: _ClassVar[int]
    BACKFILLED_VALUES_FIELD_NUMBER: _ClassVar[int]
    NAIVE_DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    kind: str
    spine_hash: str
    features: _containers.RepeatedCompositeFieldContainer[FeatureRef]
    split: _types_pb2.Split
    watermark: int
    options: _containers.ScalarMap[str, str]
    rows: int
    max_event_time: _timestamp_pb2.Timestamp
    max_available_at: _timestamp_pb2.Timestamp
    backfilled_values: int
    naive_differences: int
    server_version: str
    output_checksum: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, dataset_id: _Optional[str] = ..., kind: _Optional[str] = ..., spine_hash: _Optional[str] = ..., features: _Optional[_Iterable[_Union[FeatureRef, _Mapping]]] = ..., split: _Optional[_Union[_types_pb2.Split, _Mapping]] = ..., watermark: _Optional[int] = ..., options: _Optional[_Mapping[str, str]] = ..., rows: _Optional[int] = ..., max_event_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., max_available_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., backfilled_values: _Optional[int] = ..., naive_differences: _Optional[int] = ..., server_version: _Optional[str] = ..., output_checksum: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetManifestRequest(_message.Message):
    __slots__ = ("dataset_id",)
    DATASET_ID_FIELD_NUMBER: _ClassVar[int]
    dataset_id: str
    def __init__(self, dataset_id: _Optional[str] = ...) -> None: ...

class GetManifestResponse(_message.Message):
    __slots__ = ("manifest",)
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    manifest: Manifest
    def __init__(self, manifest: _Optional[_Union[Manifest, _Mapping]] = ...) -> None: ...

class ListManifestsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListManifestsResponse(_message.Message):
    __slots__ = ("manifests",)
    MANIFESTS_FIELD_NUMBER: _ClassVar[int]
    manifests: _containers.RepeatedCompositeFieldContainer[Manifest]
    def __init__(self, manifests: _Optional[_Iterable[_Union[Manifest, _Mapping]]] = ...) -> None: ...

class GetStatisticsRequest(_message.Message):
    __slots__ = ("split", "feature_view", "features")
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    split: str
    feature_view: str
    features: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, split: _Optional[str] = ..., feature_view: _Optional[str] = ..., features: _Optional[_Iterable[str]] = ...) -> None: ...

class ValueCount(_message.Message):
    __slots__ = ("value", "count")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    value: str
    count: int
    def __init__(self, value: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class FeatureStatistics(_message.Message):
    __slots__ = ("feature", "type", "count", "null_count", "null_rate", "min", "max", "mean", "stddev", "quantiles", "top_values", "distinct_count", "distinct_approximate", "min_length", "max_length")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    NULL_COUNT_FIELD_NUMBER: _ClassVar[int]
    NULL_RATE_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    STDDEV_FIELD_NUMBER: _ClassVar[int]
    QUANTILES_FIELD_NUMBER: _ClassVar[int]
    TOP_VALUES_FIELD_NUMBER: _ClassVar[int]
    DISTINCT_COUNT_FIELD_NUMBER: _ClassVar[int]
    DISTINCT_APPROXIMATE_FIELD_NUMBER: _ClassVar[int]
    MIN_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    feature: str
    type: _types_pb2.ValueType
    count: int
    null_count: int
    null_rate: float
    min: float
    max: float
    mean: float
    stddev: float
    quantiles: _containers.RepeatedScalarFieldContainer[float]
    top_values: _containers.RepeatedCompositeFieldContainer[ValueCount]
    distinct_count: int
    distinct_approximate: bool
    min_length: int
    max_length: int
    def __init__(self, feature: _Optional[str] = ..., type: _Optional[_Union[_types_pb2.ValueType, str]] = ..., count: _Optional[int] = ..., null_count: _Optional[int] = ..., null_rate: _Optional[float] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., mean: _Optional[float] = ..., stddev: _Optional[float] = ..., quantiles: _Optional[_Iterable[float]] = ..., top_values: _Optional[_Iterable[_Union[ValueCount, _Mapping]]] = ..., distinct_count: _Optional[int] = ..., distinct_approximate: bool = ..., min_length: _Optional[int] = ..., max_length: _Optional[int] = ...) -> None: ...

class GetStatisticsResponse(_message.Message):
    __slots__ = ("split", "feature_view", "view_version", "watermark", "versions", "entities", "features", "arrival_lag")
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    VIEW_VERSION_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    ARRIVAL_LAG_FIELD_NUMBER: _ClassVar[int]
    split: str
    feature_view: str
    view_version: int
    watermark: int
    versions: int
    entities: int
    features: _containers.RepeatedCompositeFieldContainer[FeatureStatistics]
    arrival_lag: FeatureStatistics
    def __init__(self, split: _Optional[str] = ..., feature_view: _Optional[str] = ..., view_version: _Optional[int] = ..., watermark: _Optional[int] = ..., versions: _Optional[int] = ..., entities: _Optional[int] = ..., features: _Optional[_Iterable[_Union[FeatureStatistics, _Mapping]]] = ..., arrival_lag: _Optional[_Union[FeatureStatistics, _Mapping]] = ...) -> None: ...

class CompareStatisticsRequest(_message.Message):
    __slots__ = ("feature_view", "baseline_split", "current_split", "features")
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    BASELINE_SPLIT_FIELD_NUMBER: _ClassVar[int]
    CURRENT_SPLIT_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    feature_view: str
    baseline_split: str
    current_split: str
    features: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, feature_view: _Optional[str] = ..., baseline_split: _Optional[str] = ..., current_split: _Optional[str] = ..., features: _Optional[_Iterable[str]] = ...) -> None: ...

class Anomaly(_message.Message):
    __slots__ = ("feature", "kind", "severity", "description", "baseline_value", "current_value")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    BASELINE_VALUE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_VALUE_FIELD_NUMBER: _ClassVar[int]
    feature: str
    kind: str
    severity: AnomalySeverity
    description: str
    baseline_value: float
    current_value: float
    def __init__(self, feature: _Optional[str] = ..., kind: _Optional[str] = ..., severity: _Optional[_Union[AnomalySeverity, str]] = ..., description: _Optional[str] = ..., baseline_value: _Optional[float] = ..., current_value: _Optional[float] = ...) -> None: ...

class CompareStatisticsResponse(_message.Message):
    __slots__ = ("baseline", "current", "anomalies")
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    ANOMALIES_FIELD_NUMBER: _ClassVar[int]
    baseline: GetStatisticsResponse
    current: GetStatisticsResponse
    anomalies: _containers.RepeatedCompositeFieldContainer[Anomaly]
    def __init__(self, baseline: _Optional[_Union[GetStatisticsResponse, _Mapping]] = ..., current: _Optional[_Union[GetStatisticsResponse, _Mapping]] = ..., anomalies: _Optional[_Iterable[_Union[Anomaly, _Mapping]]] = ...) -> None: ...

class GetHistoryStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetHistoryStatusResponse(_message.Message):
    __slots__ = ("views",)
    VIEWS_FIELD_NUMBER: _ClassVar[int]
    views: _containers.RepeatedCompositeFieldContainer[ViewHistory]
    def __init__(self, views: _Optional[_Iterable[_Union[ViewHistory, _Mapping]]] = ...) -> None: ...

class ViewHistory(_message.Message):
    __slots__ = ("feature_view", "file_runs", "file_versions", "file_bytes", "tail_runs", "tail_versions", "last_compaction")
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    FILE_RUNS_FIELD_NUMBER: _ClassVar[int]
    FILE_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    FILE_BYTES_FIELD_NUMBER: _ClassVar[int]
    TAIL_RUNS_FIELD_NUMBER: _ClassVar[int]
    TAIL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    LAST_COMPACTION_FIELD_NUMBER: _ClassVar[int]
    feature_view: str
    file_runs: int
    file_versions: int
    file_bytes: int
    tail_runs: int
    tail_versions: int
    last_compaction: _timestamp_pb2.Timestamp
    def __init__(self, feature_view: _Optional[str] = ..., file_runs: _Optional[int] = ..., file_versions: _Optional[int] = ..., file_bytes: _Optional[int] = ..., tail_runs: _Optional[int] = ..., tail_versions: _Optional[int] = ..., last_compaction: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
