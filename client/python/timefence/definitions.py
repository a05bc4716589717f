"""Definitions: entities, feature views and splits, and the YAML definitions file.

The dataclasses mirror the server's definitions. They can be built in Python,
or written in a YAML definitions file, which :meth:`Client.apply` sends to
the server to parse (the one parser of the file, shared with the CLI)::

    entities:
      - name: user
        description: a customer
        join_keys: [{name: user_id, type: int64}]
    feature_views:
      - name: user_stats
        entity: user
        ttl: 24h        # Go-style duration (90s, 30m, 1h30m) or 7d; 0 or absent = no limit
        owner: team-risk
        tags: {tier: gold}
        features:
          - {name: clicks, type: int64, description: clicks in the last hour}
    splits:
      - {name: train, start: 2024-01-01T00:00:00Z, end: 2024-06-30T23:59:59Z}

Types: ``int64``, ``int32``, ``double``, ``float``, ``string``, ``bytes``,
``bool``, ``timestamp``, ``json``, ``map``, and lists ``float_list``,
``int32_list``, ``int64_list``, ``double_list``, ``string_list``,
``bool_list``, ``bytes_list``, ``timestamp_list`` (see docs/types.md). Join
keys are ``int64`` or ``string``.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import pandas as pd
import pyarrow as pa

from . import _time
from ._proto.timefence.v1 import registry_service_pb2, types_pb2
from .errors import InvalidArgument

__all__ = [
    "VALUE_TYPES",
    "JoinKey",
    "Entity",
    "Feature",
    "Expectation",
    "FeatureView",
    "Split",
    "Definition",
]

#: The value types of join keys and features (see docs/types.md).
VALUE_TYPES = (
    "int64", "int32", "double", "float", "string", "bytes", "bool", "timestamp", "json", "map",
    "float_list", "int32_list", "int64_list", "double_list", "string_list", "bool_list", "bytes_list", "timestamp_list",
)

_ALIASES = {
    "int": "int64",
    "integer": "int64",
    "long": "int64",
    "float64": "double",
    "float32": "float",
    "str": "string",
    "boolean": "bool",
    "binary": "bytes",
    "unix_timestamp": "timestamp",
    "datetime": "timestamp",
    "embedding": "float_list",
    "list<float>": "float_list",
    "list<int32>": "int32_list",
    "list<int64>": "int64_list",
    "list<double>": "double_list",
    "list<string>": "string_list",
    "list<bool>": "bool_list",
    "list<bytes>": "bytes_list",
    "list<timestamp>": "timestamp_list",
}

_TYPE_TO_PROTO = {name: types_pb2.ValueType.Value("VALUE_TYPE_" + name.upper()) for name in VALUE_TYPES}
_TYPE_FROM_PROTO = {v: k for k, v in _TYPE_TO_PROTO.items()}

_ITEM_ARROW_TYPES = {
    "int64": pa.int64(),
    "int32": pa.int32(),
    "double": pa.float64(),
    "float": pa.float32(),
    "string": pa.string(),
    "bytes": pa.binary(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("ns", "UTC"),
}
_ARROW_TYPES = dict(
    _ITEM_ARROW_TYPES,
    json=pa.string(),
    map=pa.string(),
    **{item + "_list": pa.list_(t) for item, t in _ITEM_ARROW_TYPES.items()},
)


def normalize_type(t: Any, field_name: str) -> str:
    """Returns the canonical type name of t ("int64", "double", ...)."""
    if not isinstance(t, str):
        raise InvalidArgument(f"{field_name}: expected a type name ({', '.join(VALUE_TYPES)}), got {t!r}")
    name = t.strip().lower()
    name = _ALIASES.get(name, name)
    if name not in VALUE_TYPES:
        raise InvalidArgument(f"{field_name}: unknown type {t!r}; expected one of {', '.join(VALUE_TYPES)}")
    return name


def arrow_type(t: str) -> pa.DataType:
    """The Arrow type the server uses for a value type."""
    return _ARROW_TYPES[t]


@dataclass
class JoinKey:
    """One typed key column of an entity (``int64`` or ``string``)."""

    name: str
    type: str = "int64"

    def __post_init__(self) -> None:
        self.type = normalize_type(self.type, f"join key {self.name!r}: type")


@dataclass
class Entity:
    """A kind of thing features describe, identified by its join keys.

    ``join_keys`` accepts :class:`JoinKey` objects, ``{"name": ..., "type": ...}``
    dicts, ``(name, type)`` tuples, or strings ``"user_id"`` (int64) /
    ``"user_id:string"``.
    """

    name: str
    join_keys: List[JoinKey] = field(default_factory=list)
    description: str = ""
    #: Output only: the definition version, starting at 1.
    version: int = 0

    def __post_init__(self) -> None:
        self.join_keys = [_join_key(k, f"entity {self.name!r}: join_keys[{i}]") for i, k in enumerate(self.join_keys)]

    @property
    def join_key_names(self) -> List[str]:
        return [k.name for k in self.join_keys]

    def to_proto(self) -> types_pb2.Entity:
        return types_pb2.Entity(
            name=self.name,
            description=self.description,
            join_keys=[types_pb2.JoinKey(name=k.name, type=_TYPE_TO_PROTO[k.type]) for k in self.join_keys],
        )

    @classmethod
    def from_proto(cls, e: types_pb2.Entity) -> "Entity":
        return cls(
            name=e.name,
            description=e.description,
            version=e.version,
            join_keys=[JoinKey(k.name, _TYPE_FROM_PROTO.get(k.type, "int64")) for k in e.join_keys],
        )


@dataclass
class Feature:
    """One typed column of a feature view."""

    name: str
    type: str = "double"
    description: str = ""
    #: When true, writes with a null value for this feature are refused.
    required: bool = False

    def __post_init__(self) -> None:
        self.type = normalize_type(self.type, f"feature {self.name!r}: type")

    def to_proto(self) -> types_pb2.Feature:
        return types_pb2.Feature(
            name=self.name, type=_TYPE_TO_PROTO[self.type], description=self.description, required=self.required
        )

    @classmethod
    def from_proto(cls, f: types_pb2.Feature) -> "Feature":
        return cls(name=f.name, type=_TYPE_FROM_PROTO[f.type], description=f.description, required=f.required)


_LEVELS = {"hard": types_pb2.EXPECTATION_LEVEL_HARD, "warn": types_pb2.EXPECTATION_LEVEL_WARN}


@dataclass
class Expectation:
    """One check of a feature view's write batches (see docs/validation.md).

    Give ``feature`` and one kind: ``min`` and/or ``max`` (numeric features),
    ``allowed`` (string or integer features), ``not_null=True`` or
    ``max_null_rate`` (0 to 1, per batch); or ``max_arrival_lag`` alone (a
    ``timedelta``, a Go-style string like ``"1h"`` or seconds); or
    ``max_batch_interval`` alone, the view's expected cadence (``level="warn"``
    only: a batch later than that after the previous one records an event). ``level`` is
    ``"hard"`` (the default: a failing batch is refused whole with
    :class:`~timefence.ExpectationFailed`) or ``"warn"`` (the batch is written
    and a validation event recorded; see :meth:`Client.validation_report`).
    """

    feature: str = ""
    level: str = "hard"
    min: Optional[float] = None
    max: Optional[float] = None
    allowed: Optional[List[Any]] = None
    not_null: bool = False
    max_null_rate: Optional[float] = None
    max_arrival_lag: Optional[_dt.timedelta] = None
    max_batch_interval: Optional[_dt.timedelta] = None

    def __post_init__(self) -> None:
        if self.level not in _LEVELS:
            raise InvalidArgument(f"expectation level {self.level!r}: expected hard or warn")
        self.max_arrival_lag = _time.parse_duration(self.max_arrival_lag, "max_arrival_lag")
        self.max_batch_interval = _time.parse_duration(self.max_batch_interval, "max_batch_interval")

    def to_proto(self) -> types_pb2.Expectation:
        msg = types_pb2.Expectation(feature=self.feature, level=_LEVELS[self.level],
                                    allowed=[str(a) for a in self.allowed or []], not_null=self.not_null)
        for name in ("min", "max", "max_null_rate"):
            if getattr(self, name) is not None:
                setattr(msg, name, float(getattr(self, name)))
        lag = _time.to_proto_duration(self.max_arrival_lag)
        if lag is not None:
            msg.max_arrival_lag.CopyFrom(lag)
        every = _time.to_proto_duration(self.max_batch_interval)
        if every is not None:
            msg.max_batch_interval.CopyFrom(every)
        return msg

    @classmethod
    def from_proto(cls, e: types_pb2.Expectation) -> "Expectation":
        return cls(
            feature=e.feature,
            level="warn" if e.level == types_pb2.EXPECTATION_LEVEL_WARN else "hard",
            min=e.min if e.HasField("min") else None,
            max=e.max if e.HasField("max") else None,
            allowed=list(e.allowed) or None,
            not_null=e.not_null,
            max_null_rate=e.max_null_rate if e.HasField("max_null_rate") else None,
            max_arrival_lag=_time.from_proto_duration(e.max_arrival_lag) if e.HasField("max_arrival_lag") else None,
            max_batch_interval=(_time.from_proto_duration(e.max_batch_interval)
                                if e.HasField("max_batch_interval") else None),
        )


@dataclass
class FeatureView:
    """A named group of features about one entity, written together.

    ``entity`` is the entity's name or an :class:`Entity` (applied along with
    the view). ``ttl`` is a ``timedelta``, a Go-style string (``"24h"``,
    ``"7d"``) or seconds; ``None``/``0`` means no limit. ``features`` accepts
    :class:`Feature` objects, dicts, or ``(name, type)`` tuples;
    ``expectations`` :class:`Expectation` objects or dicts of their fields.
    """

    name: str
    entity: Union[str, Entity]
    features: List[Feature] = field(default_factory=list)
    ttl: Optional[_dt.timedelta] = None
    description: str = ""
    tags: Dict[str, str] = field(default_factory=dict)
    owner: str = ""
    #: The share of online lookups of the view kept in the serving log (0 to 1).
    serving_log_rate: float = 0.0
    #: Checks of every write batch (see docs/validation.md).
    expectations: List[Expectation] = field(default_factory=list)
    #: Output only: the definition version, starting at 1.
    version: int = 0

    def __post_init__(self) -> None:
        self.ttl = _time.parse_duration(self.ttl, f"feature view {self.name!r}: ttl")
        self.expectations = [e if isinstance(e, Expectation) else Expectation(**e) for e in self.expectations]
        self.features = [_feature(f, f"feature view {self.name!r}: features[{i}]") for i, f in enumerate(self.features)]
        self.tags = {str(k): str(v) for k, v in (self.tags or {}).items()}

    @property
    def entity_name(self) -> str:
        return self.entity.name if isinstance(self.entity, Entity) else self.entity

    @property
    def feature_names(self) -> List[str]:
        return [f.name for f in self.features]

    def feature(self, name: str) -> Optional[Feature]:
        for f in self.features:
            if f.name == name:
                return f
        return None

    def to_proto(self) -> types_pb2.FeatureView:
        msg = types_pb2.FeatureView(
            name=self.name,
            entity=self.entity_name,
            features=[f.to_proto() for f in self.features],
            description=self.description,
            tags=self.tags,
            owner=self.owner,
            serving_log_rate=self.serving_log_rate,
            expectations=[e.to_proto() for e in self.expectations],
        )
        ttl = _time.to_proto_duration(self.ttl)
        if ttl is not None:
            msg.ttl.CopyFrom(ttl)
        return msg

    @classmethod
    def from_proto(cls, v: types_pb2.FeatureView) -> "FeatureView":
        return cls(
            name=v.name,
            entity=v.entity,
            features=[Feature.from_proto(f) for f in v.features],
            ttl=_time.from_proto_duration(v.ttl) if v.HasField("ttl") else None,
            description=v.description,
            tags=dict(v.tags),
            owner=v.owner,
            serving_log_rate=v.serving_log_rate,
            expectations=[Expectation.from_proto(e) for e in v.expectations],
            version=v.version,
        )


@dataclass
class Split:
    """A named, immutable time window ``[start, end]`` for training-side reads.

    ``end`` is the cutoff: nothing that happened or arrived after it can be
    read under the split. Times are datetimes or pandas Timestamps (naive
    ones are UTC), or strings in RFC 3339 with a zone, like
    ``2024-06-30T23:59:59Z``. They are stored as UTC pandas Timestamps.
    Without ``start`` the window opens at the Unix epoch.
    """

    name: str
    start: Optional[pd.Timestamp] = None
    end: Optional[pd.Timestamp] = None
    description: str = ""
    #: Output only: when the split was created.
    create_time: Optional[pd.Timestamp] = None

    def __post_init__(self) -> None:
        if self.start is not None:
            self.start = _time.to_timestamp(self.start, f"split {self.name!r}: start")
        if self.end is not None:
            self.end = _time.to_timestamp(self.end, f"split {self.name!r}: end")
        if self.create_time is not None:
            self.create_time = _time.to_timestamp(self.create_time, f"split {self.name!r}: create_time")

    def to_proto(self) -> types_pb2.Split:
        if self.end is None:
            raise InvalidArgument(f"split {self.name!r}: end is required (it is the cutoff)")
        msg = types_pb2.Split(name=self.name, description=self.description)
        msg.end.CopyFrom(_time.to_proto_timestamp(self.end))
        if self.start is not None:
            msg.start.CopyFrom(_time.to_proto_timestamp(self.start))
        return msg

    @classmethod
    def from_proto(cls, s: types_pb2.Split) -> "Split":
        return cls(
            name=s.name,
            start=_time.optional_timestamp(s, "start"),
            end=_time.optional_timestamp(s, "end"),
            description=s.description,
            create_time=_time.optional_timestamp(s, "create_time"),
        )


Definition = Union[Entity, FeatureView, Split]


def _join_key(k: Any, where: str) -> JoinKey:
    if isinstance(k, JoinKey):
        return k
    if isinstance(k, str):
        name, _, t = k.partition(":")
        return JoinKey(name.strip(), t.strip() or "int64")
    if isinstance(k, Mapping):
        _check_fields(k, ("name", "type"), where)
        if "name" not in k:
            raise InvalidArgument(f"{where}: missing name")
        return JoinKey(str(k["name"]), k.get("type", "int64"))
    if isinstance(k, (tuple, list)) and len(k) == 2:
        return JoinKey(str(k[0]), k[1])
    raise InvalidArgument(f"{where}: expected a JoinKey, a {{name, type}} mapping or a 'name:type' string, got {k!r}")


def _feature(f: Any, where: str) -> Feature:
    if isinstance(f, Feature):
        return f
    if isinstance(f, Mapping):
        _check_fields(f, ("name", "type", "description", "required"), where)
        if "name" not in f or "type" not in f:
            raise InvalidArgument(f"{where}: a feature needs a name and a type")
        return Feature(
            name=str(f["name"]),
            type=f["type"],
            description=str(f.get("description") or ""),
            required=_bool(f.get("required", False), f"{where}.required"),
        )
    if isinstance(f, (tuple, list)) and len(f) == 2:
        return Feature(str(f[0]), f[1])
    raise InvalidArgument(f"{where}: expected a Feature, a {{name, type}} mapping or a (name, type) tuple, got {f!r}")


def _bool(v: Any, where: str) -> bool:
    if isinstance(v, bool):
        return v
    raise InvalidArgument(f"{where}: expected true or false, got {v!r}")


def _check_fields(m: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    unknown = [str(k) for k in m if k not in allowed and k != "version"]
    if unknown:
        raise InvalidArgument(
            f"{where}: unknown field(s) {', '.join(sorted(unknown))}; expected {', '.join(allowed)}"
        )


def definitions_request(source: Any, dry_run: bool = False) -> registry_service_pb2.ApplyDefinitionsRequest:
    """The request that applies ``source`` (see :meth:`Client.apply`). A YAML
    file or string goes to the server as text, where the one parser of
    definitions files reads it; objects go as messages."""
    req = registry_service_pb2.ApplyDefinitionsRequest(dry_run=dry_run)
    if isinstance(source, os.PathLike) or (isinstance(source, str) and _looks_like_path(source)):
        path = os.fspath(source)
        try:
            with open(path, encoding="utf-8") as fh:
                req.yaml, req.file_name = fh.read(), path
        except FileNotFoundError:
            raise InvalidArgument(f"definitions: no such file {path!r}") from None
        return req
    if isinstance(source, str):
        req.yaml, req.file_name = source, "definitions"
        return req
    if isinstance(source, Mapping):
        import yaml

        req.yaml, req.file_name = yaml.safe_dump(dict(source), sort_keys=False), "definitions"
        return req
    items = [source] if isinstance(source, (Entity, FeatureView, Split)) else source
    if not isinstance(items, Iterable):
        raise InvalidArgument(
            f"definitions: expected a YAML path or string, a mapping or a list of definitions, got {type(source).__name__}"
        )
    entities: Dict[str, Entity] = {}
    for i, item in enumerate(items):
        if isinstance(item, Entity):
            entities.setdefault(item.name, item)
            req.entities.append(item.to_proto())
        elif isinstance(item, FeatureView):
            req.feature_views.append(item.to_proto())
        elif isinstance(item, Split):
            req.splits.append(item.to_proto())
        else:
            raise InvalidArgument(f"definitions[{i}]: expected an Entity, FeatureView or Split, got {type(item).__name__}")
    # Entities given as objects of views are applied too.
    for item in items:
        if isinstance(item, FeatureView) and isinstance(item.entity, Entity) and item.entity.name not in entities:
            entities[item.entity.name] = item.entity
            req.entities.append(item.entity.to_proto())
    return req


def _looks_like_path(s: str) -> bool:
    if "\n" in s:
        return False
    if os.path.exists(s):
        return True
    return s.endswith((".yaml", ".yml")) or ":" not in s
