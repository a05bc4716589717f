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
