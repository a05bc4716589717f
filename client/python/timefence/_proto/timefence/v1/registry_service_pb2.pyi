from timefence._proto.timefence.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ApplyEntityRequest(_message.Message):
    __slots__ = ("entity",)
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    entity: _types_pb2.Entity
    def __init__(self, entity: _Optional[_Union[_types_pb2.Entity, _Mapping]] = ...) -> None: ...

class ApplyEntityResponse(_message.Message):
    __slots__ = ("entity", "changed")
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    entity: _types_pb2.Entity
    changed: bool
    def __init__(self, entity: _Optional[_Union[_types_pb2.Entity, _Mapping]] = ..., changed: bool = ...) -> None: ...

class GetEntityRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetEntityResponse(_message.Message):
    __slots__ = ("entity",)
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    entity: _types_pb2.Entity
    def __init__(self, entity: _Optional[_Union[_types_pb2.Entity, _Mapping]] = ...) -> None: ...

class ListEntitiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListEntitiesResponse(_message.Message):
    __slots__ = ("entities",)
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    entities: _containers.RepeatedCompositeFieldContainer[_types_pb2.Entity]
    def __init__(self, entities: _Optional[_Iterable[_Union[_types_pb2.Entity, _Mapping]]] = ...) -> None: ...

class ApplyFeatureViewRequest(_message.Message):
    __slots__ = ("feature_view",)
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    feature_view: _types_pb2.FeatureView
    def __init__(self, feature_view: _Optional[_Union[_types_pb2.FeatureView, _Mapping]] = ...) -> None: ...

class ApplyFeatureViewResponse(_message.Message):
    __slots__ = ("feature_view", "changed")
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    feature_view: _types_pb2.FeatureView
    changed: bool
    def __init__(self, feature_view: _Optional[_Union[_types_pb2.FeatureView, _Mapping]] = ..., changed: bool = ...) -> None: ...

class GetFeatureViewRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetFeatureViewResponse(_message.Message):
    __slots__ = ("feature_view",)
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    feature_view: _types_pb2.FeatureView
    def __init__(self, feature_view: _Optional[_Union[_types_pb2.FeatureView, _Mapping]] = ...) -> None: ...

class ListFeatureViewsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListFeatureViewsResponse(_message.Message):
    __slots__ = ("feature_views",)
    FEATURE_VIEWS_FIELD_NUMBER: _ClassVar[int]
    feature_views: _containers.RepeatedCompositeFieldContainer[_types_pb2.FeatureView]
    def __init__(self, feature_views: _Optional[_Iterable[_Union[_types_pb2.FeatureView, _Mapping]]] = ...) -> None: ...

class CreateSplitRequest(_message.Message):
    __slots__ = ("split",)
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    split: _types_pb2.Split
    def __init__(self, split: _Optional[_Union[_types_pb2.Split, _Mapping]] = ...) -> None: ...

class CreateSplitResponse(_message.Message):
    __slots__ = ("split", "created")
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    split: _types_pb2.Split
    created: bool
    def __init__(self, split: _Optional[_Union[_types_pb2.Split, _Mapping]] = ..., created: bool = ...) -> None: ...

class GetSplitRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetSplitResponse(_message.Message):
    __slots__ = ("split",)
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    split: _types_pb2.Split
    def __init__(self, split: _Optional[_Union[_types_pb2.Split, _Mapping]] = ...) -> None: ...

class ListSplitsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSplitsResponse(_message.Message):
    __slots__ = ("splits",)
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    splits: _containers.RepeatedCompositeFieldContainer[_types_pb2.Split]
    def __init__(self, splits: _Optional[_Iterable[_Union[_types_pb2.Split, _Mapping]]] = ...) -> None: ...

class ApplyDefinitionsRequest(_message.Message):
    __slots__ = ("yaml", "file_name", "entities", "feature_views", "splits", "dry_run")
    YAML_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEWS_FIELD_NUMBER: _ClassVar[int]
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    yaml: str
    file_name: str
    entities: _containers.RepeatedCompositeFieldContainer[_types_pb2.Entity]
    feature_views: _containers.RepeatedCompositeFieldContainer[_types_pb2.FeatureView]
    splits: _containers.RepeatedCompositeFieldContainer[_types_pb2.Split]
    dry_run: bool
    def __init__(self, yaml: _Optional[str] = ..., file_name: _Optional[str] = ..., entities: _Optional[_Iterable[_Union[_types_pb2.Entity, _Mapping]]] = ..., feature_views: _Optional[_Iterable[_Union[_types_pb2.FeatureView, _Mapping]]] = ..., splits: _Optional[_Iterable[_Union[_types_pb2.Split, _Mapping]]] = ..., dry_run: bool = ...) -> None: ...

class PlannedChange(_message.Message):
    __slots__ = ("kind", "name", "action", "version", "location", "problem", "reason", "entity", "feature_view", "split")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    FEATURE_VIEW_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    action: str
    version: int
    location: str
    problem: str
    reason: str
    entity: _types_pb2.Entity
    feature_view: _types_pb2.FeatureView
    split: _types_pb2.Split
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., action: _Optional[str] = ..., version: _Optional[int] = ..., location: _Optional[str] = ..., problem: _Optional[str] = ..., reason: _Optional[str] = ..., entity: _Optional[_Union[_types_pb2.Entity, _Mapping]] = ..., feature_view: _Optional[_Union[_types_pb2.FeatureView, _Mapping]] = ..., split: _Optional[_Union[_types_pb2.Split, _Mapping]] = ...) -> None: ...

class ApplyDefinitionsResponse(_message.Message):
    __slots__ = ("changes", "applied")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[PlannedChange]
    applied: bool
    def __init__(self, changes: _Optional[_Iterable[_Union[PlannedChange, _Mapping]]] = ..., applied: bool = ...) -> None: ...
