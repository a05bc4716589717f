from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FollowRequest(_message.Message):
    __slots__ = ("after",)
    AFTER_FIELD_NUMBER: _ClassVar[int]
    after: BackupInfo
    def __init__(self, after: _Optional[_Union[BackupInfo, _Mapping]] = ...) -> None: ...

class FollowResponse(_message.Message):
    __slots__ = ("chunk", "info")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    chunk: bytes
    info: BackupInfo
    def __init__(self, chunk: _Optional[bytes] = ..., info: _Optional[_Union[BackupInfo, _Mapping]] = ...) -> None: ...

class BackupRequest(_message.Message):
    __slots__ = ("after",)
    AFTER_FIELD_NUMBER: _ClassVar[int]
    after: BackupInfo
    def __init__(self, after: _Optional[_Union[BackupInfo, _Mapping]] = ...) -> None: ...

class BackupInfo(_message.Message):
    __slots__ = ("store_id", "since", "since_watermark", "next_since", "watermark", "keys", "deletes", "created")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    SINCE_WATERMARK_FIELD_NUMBER: _ClassVar[int]
    NEXT_SINCE_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    DELETES_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    since: int
    since_watermark: int
    next_since: int
    watermark: int
    keys: int
    deletes: int
    created: _timestamp_pb2.Timestamp
    def __init__(self, store_id: _Optional[str] = ..., since: _Optional[int] = ..., since_watermark: _Optional[int] = ..., next_since: _Optional[int] = ..., watermark: _Optional[int] = ..., keys: _Optional[int] = ..., deletes: _Optional[int] = ..., created: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BackupResponse(_message.Message):
    __slots__ = ("chunk", "info")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    chunk: bytes
    info: BackupInfo
    def __init__(self, chunk: _Optional[bytes] = ..., info: _Optional[_Union[BackupInfo, _Mapping]] = ...) -> None: ...
