"""Online lookups: the request, and the response as a dict of lists or a DataFrame.

An online call is usually one entity on the inference path, so everything here
is built for small results: the results come packed (a dozen protobuf fields,
whatever the number of features; see :class:`Packed`), the default DataFrame
is built without Arrow, and the dict form builds no DataFrame at all.
Per-feature-list work (column names and their check) is cached by :class:`Names`.
"""

from __future__ import annotations

import datetime as _dt
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import pyarrow as pa

from . import _arrow, _frames, _time
from ._proto.timefence.v1 import online_service_pb2
from .definitions import _TYPE_FROM_PROTO, arrow_type
from .errors import InvalidArgument, TimefenceError

OUTPUTS = ("pandas", "dict")

PRESENT = online_service_pb2.FEATURE_STATUS_PRESENT
NOT_FOUND = online_service_pb2.FEATURE_STATUS_NOT_FOUND
STALE = online_service_pb2.FEATURE_STATUS_STALE
STATUS_NAMES: Dict[int, str] = {PRESENT: "present", NOT_FOUND: "not_found", STALE: "stale"}

# The field of PackedColumns that holds the values (or the list items) of
# each type: timestamps as Unix ns, JSON and map as text.
_ITEM_FIELDS = {"int64": "int64_values", "timestamp": "int64_values", "int32": "int32_values",
                "double": "double_values", "float": "float_values", "bool": "bool_values",
                "string": "string_values", "json": "string_values", "map": "string_values", "bytes": "bytes_values"}
_FIELD_DTYPES = {"int64_values": np.int64, "int32_values": np.int32, "double_values": np.float64,
                 "float_values": np.float32, "bool_values": np.bool_}
_NAT = np.iinfo(np.int64).min


class OnlineFeatures(dict):
    """The result of ``get_online_features(..., output="dict")`` (and of
    ``get_online_features(entity_rows=...)``): ``{column: [values]}`` in the
    DataFrame's column order, as Feast's ``get_online_features(...).to_dict()``.
    Values are Python scalars, lists for the list types, UTC pandas
    Timestamps for ``timestamp`` (and in a ``timestamp_list``), JSON text for
    ``json`` and ``map``; ``None`` where the DataFrame has a null. ``attrs["timefence"]`` holds
    ``read_time``, ``watermark`` and ``features``, as ``df.attrs`` does.

    Feast's ``OnlineResponse`` methods work on it: :meth:`to_dict` and
    :meth:`to_df`."""

    __slots__ = ("attrs", "_source")

    def __init__(self, columns: Dict[str, List[Any]], attrs: Dict[str, Any], source: Optional[Tuple[Any, ...]] = None) -> None:
        super().__init__(columns)
        self.attrs = attrs
        # What to_df needs to build the DataFrame that output="pandas" gives:
        # (response, names, entities, keys, columns, include_status).
        self._source = source

    def __reduce__(self):  # pickle and copy keep attrs and the source
        return (OnlineFeatures, (dict(self), self.attrs, self._source))

    def to_dict(self) -> Dict[str, List[Any]]:
        """The columns as a plain dict of lists (Feast's ``to_dict()``)."""
        return dict(self)

    def to_df(self, dtype_backend: str = "nullable") -> pd.DataFrame:
        """The same lookup as a DataFrame, the one ``output="pandas"`` gives
        (Feast's ``to_df()``), with ``attrs["timefence"]``."""
        if dtype_backend not in _arrow.DTYPE_BACKENDS:
            raise InvalidArgument(f"dtype_backend: expected one of {', '.join(_arrow.DTYPE_BACKENDS)}, got {dtype_backend!r}")
        attrs = dict(self.attrs.get("timefence", {}))
        if self._source is None:
            out = pd.DataFrame(dict(self))
            out.attrs["timefence"] = attrs
            return out
        resp, names, entities, keys, columns, include_status = self._source
        if dtype_backend == "nullable":
            return to_frame(resp, names, entities, keys, columns, include_status, attrs)
        return arrow_frame(resp, names, entities, keys, columns, include_status, dtype_backend, attrs)


def request(
    refs: List[str], keys: List[str], columns: List[List[Any]], as_of: Any, split: Optional[str]
) -> online_service_pb2.GetOnlineFeaturesRequest:
    req = online_service_pb2.GetOnlineFeaturesRequest(features=refs, join_keys=keys, packed=True)
    rows = req.entity_rows
    for i, row in enumerate(zip(*columns)):
        values = rows.add().values
        for k, v in zip(keys, row):
            _add_key(values, v, k, i)
    if as_of is not None:
        req.as_of.CopyFrom(_time.to_proto_timestamp(as_of, "as_of"))
    if split:
        req.split = split
    return req


def _add_key(values: Any, v: Any, key: str, row: int) -> None:
    t = type(v)
    if t is int:
        values.add(int64_value=v)
    elif t is str:
        values.add(string_value=v)
    elif isinstance(v, (bool, np.bool_)):
        raise InvalidArgument(f"entities: row {row}: key {key!r}: a bool is not a join key value (int64 or string)")
    elif isinstance(v, (int, np.integer)):
        values.add(int64_value=int(v))
    elif isinstance(v, str):
        values.add(string_value=str(v))
    elif isinstance(v, float) and v.is_integer():
        values.add(int64_value=int(v))
    else:
        raise InvalidArgument(f"entities: row {row}: key {key!r}: expected an int or a str, got {v!r}")


class Names:
    """The column names of each resolved feature list, checked once: per
    client, a small cache keyed by (features, keys, full_feature_names)."""

    MAX = 256

    def __init__(self) -> None:
        self._cache: Dict[Tuple[Any, ...], List[str]] = {}
        self._lock = threading.Lock()

    def get(self, features: Tuple[str, ...], keys: Sequence[str], full: bool) -> List[str]:
        ck = (features, tuple(keys), full)
        names = self._cache.get(ck)
        if names is not None:
            return names
        names = []
        for ref in features:
            vname, _, fname = ref.partition(":")
            names.append(f"{vname}__{fname}" if full else fname)
        seen: set = set()
        dup: set = set()
        for name in names:
            (dup if name in seen else seen).add(name)
        dup |= seen & set(keys)
        if dup:
            raise InvalidArgument(
                f"features: more than one column named {', '.join(sorted(dup))}; "
                "set full_feature_names=True to name columns view__feature"
            )
        with self._lock:
            if len(self._cache) >= self.MAX:
                self._cache.clear()
            self._cache[ck] = names
        return names


def meta(resp: online_service_pb2.GetOnlineFeaturesResponse, features: Tuple[str, ...]) -> Dict[str, Any]:
    return {"read_time": _time.from_proto_timestamp(resp.read_time), "watermark": resp.watermark,
            "features": list(features), "request_id": resp.request_id or None}


def add_log_fields(
    req: online_service_pb2.GetOnlineFeaturesRequest, log: bool, request_id: Optional[str], context: Optional[Mapping[str, Any]]
) -> None:
    """Sets the serving log fields of an online request."""
    req.log = bool(log)
    if request_id:
        req.request_id = request_id
    for name, v in (context or {}).items():
        if not isinstance(name, str) or not name:
            raise InvalidArgument(f"context: names must be non-empty strings, got {name!r}")
        slot = req.context[name]
        if isinstance(v, (bool, np.bool_)):
            slot.bool_value = bool(v)
        elif isinstance(v, (int, np.integer)):
            slot.int64_value = int(v)
        elif isinstance(v, (float, np.floating)):
            slot.double_value = float(v)
        elif isinstance(v, str):
            slot.string_value = v
        elif isinstance(v, bytes):
            slot.bytes_value = v
        elif isinstance(v, (_dt.datetime, pd.Timestamp)):
            slot.timestamp_value = _time.to_proto_timestamp(v, f"context[{name!r}]").ToNanoseconds()
        else:
            raise InvalidArgument(
                f"context[{name!r}]: {type(v).__name__} is not a context value (bool, int, float, str, bytes or datetime)"
            )


class Layout:
    """Where each feature of a response lies in its PackedColumns, for one
    list of feature types and n rows: per feature its type name, its field,
    whether it is a list, and for a scalar the start of its n values in the
    field, for a list the offsets of its n rows' items (n + 1 of them).
    ``ends`` holds each field's length. A layout without lists depends on
    the types and n only, and is kept (:func:`layout`); to_frame's grouping
    of its numeric features (:meth:`groups`) is kept with it."""

    __slots__ = ("types", "fields", "lists", "starts", "ends", "lengths", "_groups")

    def __init__(self, types: Tuple[int, ...], n: int, list_lengths: Any) -> None:
        self.types: List[str] = []
        self.fields: List[str] = []
        self.lists: List[bool] = []
        self.starts: List[Any] = []
        self.ends: Dict[str, int] = {}
        self._groups: Optional[Tuple[List[Tuple[str, List[int], Any]], List[int]]] = None
        lengths: Optional[np.ndarray] = None
        taken = 0
        at = self.ends
        for typ in types:
            spec = _TYPE_SPECS.get(typ)
            if spec is None:
                raise TimefenceError(f"online response: unknown value type {typ}")
            name, field, is_list = spec
            start = at.get(field, 0)
            if is_list:
                if lengths is None:
                    lengths = np.fromiter(list_lengths, dtype=np.int64, count=len(list_lengths))
                rows = lengths[taken:taken + n]
                if len(rows) != n or (rows < 0).any():
                    raise TimefenceError(f"online response: list lengths do not hold {n} entity rows")
                taken += n
                offsets = np.empty(n + 1, dtype=np.int64)
                offsets[0] = start
                np.cumsum(rows, out=offsets[1:])
                offsets[1:] += start
                at[field] = int(offsets[-1])
                self.starts.append(offsets)
            else:
                at[field] = start + n
                self.starts.append(start)
            self.types.append(name)
            self.fields.append(field)
            self.lists.append(is_list)
        self.lengths = taken  # list lengths read

    def groups(self, n: int) -> Tuple[List[Tuple[str, List[int], Any]], List[int]]:
        """(groups, others): the scalar numeric features of each field as
        (field, features, rows), where rows is None when the field holds
        these features only, one after the other, else the index of their
        values as an (features, n) array; and every other feature."""
        if self._groups is None:
            by_field: Dict[str, List[int]] = {}
            others: List[int] = []
            for j, (typ, field, is_list) in enumerate(zip(self.types, self.fields, self.lists)):
                if field in _FIELD_DTYPES and typ != "timestamp" and not is_list:
                    by_field.setdefault(field, []).append(j)
                else:
                    others.append(j)
            groups = []
            for field, features in by_field.items():
                starts = [self.starts[j] for j in features]
                rows: Any = None
                if starts != list(range(0, len(features) * n, n)) or self.ends[field] != len(features) * n:
                    rows = np.array(starts, dtype=np.intp)[:, None] + np.arange(n, dtype=np.intp)
                groups.append((field, features, rows))
            self._groups = (groups, others)
        return self._groups


def layout(types: Tuple[int, ...], n: int, list_lengths: Any) -> Layout:
    """The layout of a response of these feature types and n rows; kept
    when it has no lists."""
    key = (types, n)
    got = _LAYOUTS.get(key)
    if got is None:
        got = Layout(types, n, list_lengths)
        if not any(got.lists):
            with _LAYOUTS_LOCK:
                if len(_LAYOUTS) >= Names.MAX:
                    _LAYOUTS.clear()
                _LAYOUTS[key] = got
    return got


_LAYOUTS: Dict[Tuple[Tuple[int, ...], int], Layout] = {}
_LAYOUTS_LOCK = threading.Lock()


class Packed:
    """The results of an online response, read from its PackedColumns once:
    the response's :class:`Layout`, and each field converted once, to numpy
    or to Python objects. Reading a protobuf field from Python costs about a
    microsecond, so a 1 x 50 lookup reads a dozen fields instead of five a
    feature."""

    def __init__(self, resp: online_service_pb2.GetOnlineFeaturesResponse, n: int) -> None:
        if not resp.HasField("packed"):
            if len(resp.columns):
                raise TimefenceError("online response: results as columns, not packed; the server is older than this client")
            raise TimefenceError("online response: no results")
        p = resp.packed
        self.n = n
        self._p = p
        self._numpy: Dict[str, np.ndarray] = {}
        self._plain: Dict[str, List[Any]] = {}
        lay = self.layout = layout(tuple(p.types), n, p.list_lengths)
        self.types, self.fields, self.lists, self.starts = lay.types, lay.fields, lay.lists, lay.starts
        f = len(lay.types)
        for field, end in lay.ends.items():
            if len(getattr(p, field)) != end:
                raise TimefenceError(f"online response: {len(getattr(p, field))} {field} for {f} features x {n} rows; want {end}")
        if lay.lengths != len(p.list_lengths):
            raise TimefenceError(f"online response: {len(p.list_lengths)} list lengths; want {lay.lengths}")
        if not (len(p.nulls) == len(p.statuses) == len(p.event_time_unix_nanos) == f * n):
            raise TimefenceError(f"online response: nulls, statuses or event times do not hold {f} features x {n} rows")
        self.nulls = np.fromiter(p.nulls, dtype=bool, count=f * n).reshape(f, n)

    def values(self, field: str) -> Any:
        """A whole field: numbers as numpy, strings and bytes as a list."""
        v = self._numpy.get(field)
        if v is None:
            dtype = _FIELD_DTYPES.get(field)
            if dtype is None:
                return self.plain(field)
            src = getattr(self._p, field)
            v = self._numpy[field] = np.fromiter(src, dtype=dtype, count=len(src))
        return v

    def plain(self, field: str) -> List[Any]:
        """A whole field as a list of Python objects."""
        v = self._plain.get(field)
        if v is None:
            v = self._plain[field] = list(getattr(self._p, field))
        return v

    def scalars(self, j: int) -> Any:
        """Feature j's n values (a scalar type), as values() has them."""
        start = self.starts[j]
        return self.values(self.fields[j])[start:start + self.n]

    def statuses(self) -> np.ndarray:
        src = self._p.statuses
        return np.fromiter(src, dtype=np.int32, count=len(src))

    def status_names(self) -> List[str]:
        """Every feature's statuses, one after the other, by name."""
        return [STATUS_NAMES.get(s, "unspecified") for s in self.statuses().tolist()]

    def event_nanos(self) -> np.ndarray:
        """Every feature's event times, one after the other, as Unix
        nanoseconds; NaT where no version was found (a deleted entity keeps
        its deletion's)."""
        src = self._p.event_time_unix_nanos
        out = np.fromiter(src, dtype=np.int64, count=len(src))
        out[(self.statuses() == NOT_FOUND) & (out == 0)] = _NAT
        return out

    def arrow(self, j: int) -> pa.Array:
        """Feature j as an Arrow array of its type, null where it has no value."""
        typ = arrow_type(self.types[j])
        mask = self.nulls[j]
        if not mask.any():
            mask = None
        if not self.lists[j]:
            scalars = self.scalars(j)
            if self.types[j] == "timestamp":
                return pa.array(scalars, pa.int64(), mask=mask).cast(typ)
            return pa.array(scalars, typ, mask=mask)
        values = self.values(self.fields[j])
        offsets = self.starts[j]
        lo, hi = int(offsets[0]), int(offsets[-1])
        if self.types[j] == "timestamp_list":
            items = pa.array(values[lo:hi], pa.int64()).cast(typ.value_type)
        else:
            items = pa.array(values[lo:hi], typ.value_type)
        return pa.ListArray.from_arrays(pa.array(offsets - lo, pa.int32()), items, type=typ,
                                        mask=None if mask is None else pa.array(mask))


# Each value type's name, the PackedColumns field of its values or items,
# and whether it is a list.
_TYPE_SPECS = {
    t: (name, _ITEM_FIELDS[name[:-5] if name.endswith("_list") else name], name.endswith("_list"))
    for t, name in _TYPE_FROM_PROTO.items()
}


def to_dict(
    resp: online_service_pb2.GetOnlineFeaturesResponse,
    names: List[str],
    entities: Any,
    keys: List[str],
    columns: List[List[Any]],
    include_status: bool,
    attrs: Dict[str, Any],
) -> OnlineFeatures:
    n = len(columns[0]) if columns else 0
    r = Packed(resp, n)
    out: Dict[str, List[Any]] = dict(zip(keys, columns))
    has_nulls = r.nulls.any(axis=1).tolist()
    statuses = stamps = None
    if include_status:
        statuses = r.status_names()
        ns = r.event_nanos()
        stamps = [None if v == _NAT else t for v, t in
                  zip(ns.tolist(), pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC").tolist())]
    for j, name in enumerate(names):
        typ = r.types[j]
        start = r.starts[j]
        if r.lists[j]:
            offsets = start.tolist()
            if typ == "timestamp_list":
                items = r.values(r.fields[j])
                vals = [_timestamps(items[lo:hi]) for lo, hi in zip(offsets, offsets[1:])]
            else:
                plain = r.plain(r.fields[j])
                vals = [plain[lo:hi] for lo, hi in zip(offsets, offsets[1:])]
        elif typ == "timestamp":
            vals = _timestamps(r.scalars(j))
        else:
            vals = r.plain(r.fields[j])[start:start + n]
        if has_nulls[j]:
            vals = [None if m else v for v, m in zip(vals, r.nulls[j].tolist())]
        out[name] = vals
        if statuses is not None and stamps is not None:
            out[f"{name}__status"] = statuses[j * n:(j + 1) * n]
            out[f"{name}__event_timestamp"] = stamps[j * n:(j + 1) * n]
    return OnlineFeatures(out, {"timefence": attrs}, (resp, names, entities, keys, columns, include_status))


def _timestamps(nanos: np.ndarray) -> List[Any]:
    return pd.DatetimeIndex(nanos.view("M8[ns]")).tz_localize("UTC").tolist()


def to_frame(
    resp: online_service_pb2.GetOnlineFeaturesResponse,
    names: List[str],
    entities: Any,
    keys: List[str],
    columns: List[List[Any]],
    include_status: bool,
    attrs: Dict[str, Any],
) -> pd.DataFrame:
    """The default (``dtype_backend="nullable"``) DataFrame, built from the
    response's values without Arrow: the dtypes :func:`_arrow.to_pandas` gives."""
    n = len(columns[0]) if columns else 0
    r = Packed(resp, n)
    data: Dict[Any, Any] = _key_columns(entities, keys, columns)
    statuses: Any = None
    stamps: Any = None
    if include_status:
        stamps = pd.DatetimeIndex(r.event_nanos().view("M8[ns]")).tz_localize("UTC").array
        statuses = pd.array(r.status_names(), dtype=pd.StringDtype())
    # The scalar numeric features of a field are converted together: each
    # one is a row of a 2-D array, which float features share as one block.
    groups, others = r.layout.groups(n)
    if others or include_status:
        for j, name in enumerate(names):
            data[name] = None  # the grouped features' places; the others' are set below
            if include_status:
                data[f"{name}__status"] = statuses[j * n:(j + 1) * n]
                data[f"{name}__event_timestamp"] = stamps[j * n:(j + 1) * n]
    else:
        data.update(dict.fromkeys(names))
    for j in others:
        data[names[j]] = _other_values(r, j)
    floats: List[Tuple[np.ndarray, List[str]]] = []
    for field, features, rows in groups:
        values = r.values(field)
        block = values.reshape(len(features), n) if rows is None else values[rows]
        masks = r.nulls[features]
        gnames = [names[j] for j in features]
        if field == "int64_values" or field == "int32_values":
            for name, v, m in zip(gnames, block, masks):
                data[name] = _frames.integer_array(v, m)
        elif field == "bool_values":
            for name, v, m in zip(gnames, block, masks):
                data[name] = _frames.boolean_array(v, m)
        else:
            block[masks] = np.nan
            floats.append((block, gnames))  # their places in data stay None
    out = _frames.frame(data, floats, n)
    out.attrs["timefence"] = attrs
    return out


def _other_values(r: Packed, j: int) -> Any:
    """Feature j, not a scalar number, as the nullable backend has it."""
    typ = r.types[j]
    if r.lists[j]:
        # As a join's result converts: numpy arrays of the items.
        return r.arrow(j).to_numpy(zero_copy_only=False)
    if typ == "timestamp":
        ns = r.scalars(j).copy()
        ns[r.nulls[j]] = _NAT
        return pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC").array
    vals = r.scalars(j)
    mask = r.nulls[j]
    if mask.any():
        vals = [None if m else v for v, m in zip(vals, mask.tolist())]
    if r.fields[j] == "string_values":
        return pd.array(vals, dtype=pd.StringDtype())
    arr = np.empty(r.n, dtype=object)
    arr[:] = vals
    return arr


def _key_columns(entities: Any, keys: List[str], columns: List[List[Any]]) -> Dict[Any, Any]:
    """The key columns of a result: a DataFrame's own (dtypes kept, index
    reset), or the values given."""
    if isinstance(entities, pd.DataFrame):
        return dict(entities.reset_index(drop=True).items())
    out: Dict[Any, Any] = {}
    for k, col in zip(keys, columns):
        # pd.Series infers int64 for Python ints, and costs 10x more.
        out[k] = np.array(col, dtype=np.int64) if all(type(v) is int for v in col) else pd.Series(col)
    return out


def arrow_frame(
    resp: online_service_pb2.GetOnlineFeaturesResponse,
    names: List[str],
    entities: Any,
    keys: List[str],
    columns: List[List[Any]],
    include_status: bool,
    dtype_backend: str,
    attrs: Dict[str, Any],
) -> pd.DataFrame:
    """The DataFrame through Arrow, for the ``pyarrow`` and ``numpy`` backends."""
    n = len(columns[0]) if columns else 0
    r = Packed(resp, n)
    data: Dict[str, pa.Array] = {}
    if include_status:
        statuses = r.status_names()
        nanos = r.event_nanos()
    for j, name in enumerate(names):
        data[name] = r.arrow(j)
        if include_status:
            part = slice(j * n, (j + 1) * n)
            data[f"{name}__status"] = pa.array(statuses[part], pa.string())
            data[f"{name}__event_timestamp"] = pa.array(nanos[part], pa.int64(), mask=nanos[part] == _NAT).cast(pa.timestamp("ns", "UTC"))
    if isinstance(entities, pd.DataFrame):
        out = entities.reset_index(drop=True).copy(deep=False)
    else:
        out = pd.DataFrame({k: pd.Series(col) for k, col in zip(keys, columns)})
    feats = _arrow.to_pandas(pa.table(data), dtype_backend) if data else pd.DataFrame(index=range(n))
    feats.index = out.index
    out = pd.concat([out, feats], axis=1)
    out.attrs["timefence"] = attrs
    return out


def check_output(output: str, dtype_backend: str) -> None:
    if output not in OUTPUTS:
        raise InvalidArgument(f"output: expected one of {', '.join(OUTPUTS)}, got {output!r}")
    if dtype_backend not in _arrow.DTYPE_BACKENDS:
        raise InvalidArgument(f"dtype_backend: expected one of {', '.join(_arrow.DTYPE_BACKENDS)}, got {dtype_backend!r}")


__all__ = ["OnlineFeatures", "Names", "OUTPUTS", "request", "meta", "to_dict", "to_frame", "arrow_frame", "check_output"]
