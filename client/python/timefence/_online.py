"""Online lookups: the request, and the response as a dict of lists or a DataFrame.

An online call is usually one entity on the inference path, so everything here
is built for small results: no Arrow round trip for the default DataFrame, and
no DataFrame at all for the dict form. Per-feature-list work (column names and
their check) is cached by :class:`Names`.
"""

from __future__ import annotations

import datetime as _dt
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import pyarrow as pa

from . import _arrow, _frames, _time
from ._proto.timefence.v1 import online_service_pb2, types_pb2
from .definitions import _TYPE_FROM_PROTO, _TYPE_TO_PROTO, arrow_type
from .errors import InvalidArgument, TimefenceError

OUTPUTS = ("pandas", "dict")

PRESENT = online_service_pb2.FEATURE_STATUS_PRESENT
NOT_FOUND = online_service_pb2.FEATURE_STATUS_NOT_FOUND
STALE = online_service_pb2.FEATURE_STATUS_STALE
STATUS_NAMES: Dict[int, str] = {PRESENT: "present", NOT_FOUND: "not_found", STALE: "stale"}

# The values field of a FeatureColumn for each type: a timestamp is in
# int64_values (Unix ns), JSON and map text in string_values, a timestamp list
# in int64_list_values.
_FIELDS = {
    t: name.replace("timestamp", "int64").replace("json", "string").replace("map", "string") + "_values"
    for name, t in _TYPE_TO_PROTO.items()
}
_TIMESTAMP = types_pb2.VALUE_TYPE_TIMESTAMP
_TIMESTAMP_LIST = types_pb2.VALUE_TYPE_TIMESTAMP_LIST
# Fields whose values are not Python scalars as they come.
_LIST_FIELDS = {f for f in _FIELDS.values() if f.endswith("_list_values")}
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
    req = online_service_pb2.GetOnlineFeaturesRequest(features=refs, join_keys=keys)
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


def _raw(col: online_service_pb2.FeatureColumn, n: int) -> Tuple[str, Any, Optional[List[bool]]]:
    """(values field, values container or None when all null, null mask or
    None when no value is null) of one response column."""
    field = _FIELDS.get(col.type) or col.WhichOneof("values") or "double_values"
    values = getattr(col, field).values
    nulls = col.nulls
    if len(values) != n:
        if n == 0 or not col.HasField(field):
            return field, None, None
        raise TimefenceError(f"online response: column of {len(values)} values for {n} entity rows")
    if len(nulls) and len(nulls) != n:
        raise TimefenceError(f"online response: column of {len(nulls)} null flags for {n} entity rows")
    return field, values, (list(nulls) if True in nulls else None)


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
    out: Dict[str, List[Any]] = dict(zip(keys, columns))
    stamps = _stamps_list(resp, n) if include_status else None
    for j, (name, col) in enumerate(zip(names, resp.columns)):
        vals: Optional[List[Any]] = None
        field = _FIELDS.get(col.type)
        if field is not None and field not in _LIST_FIELDS and col.type != _TIMESTAMP:  # the common case, inline
            values = getattr(col, field).values
            nulls = col.nulls
            if len(values) == n and (len(nulls) == n or not nulls):
                vals = list(values)
                if True in nulls:
                    vals = [None if m else v for v, m in zip(vals, nulls)]
        if vals is None:
            field, values, mask = _raw(col, n)
            if values is None:
                vals = [None] * n
            else:
                vals = _python_values(col.type, field, values)
                if mask is not None:
                    vals = [None if m else v for v, m in zip(vals, mask)]
        out[name] = vals
        if stamps is not None:
            out[f"{name}__status"] = [STATUS_NAMES.get(s, "unspecified") for s in col.statuses]
            out[f"{name}__event_timestamp"] = stamps[j * n:(j + 1) * n]
    return OnlineFeatures(out, {"timefence": attrs}, (resp, names, entities, keys, columns, include_status))


def _python_values(typ: int, field: str, values: Any) -> List[Any]:
    """One column's values as Python objects: lists for lists, UTC
    pandas Timestamps for timestamps."""
    if typ == _TIMESTAMP:
        return _timestamps(values)
    if typ == _TIMESTAMP_LIST:
        return [_timestamps(v.values) for v in values]
    if field in _LIST_FIELDS:
        return [list(v.values) for v in values]
    return list(values)


def _timestamps(nanos: Any) -> List[Any]:
    return pd.DatetimeIndex(np.array(nanos, dtype=np.int64).view("M8[ns]")).tz_localize("UTC").tolist()


def _event_nanos(resp: online_service_pb2.GetOnlineFeaturesResponse, n: int) -> np.ndarray:
    """Every column's event times, one after the other, as Unix nanoseconds;
    NaT where no version was found (a deleted entity keeps its deletion's)."""
    ns: List[int] = []
    st: List[int] = []
    for col in resp.columns:
        if len(col.event_time_unix_nanos) != n or len(col.statuses) != n:
            raise TimefenceError(f"online response: statuses or event times do not hold {n} entity rows")
        ns.extend(col.event_time_unix_nanos)
        st.extend(col.statuses)
    out = np.array(ns, dtype=np.int64)
    # A deleted entity is not found but carries the deletion's time.
    out[(np.array(st, dtype=np.int32) == NOT_FOUND) & (out == 0)] = _NAT
    return out


def _stamps_list(resp: online_service_pb2.GetOnlineFeaturesResponse, n: int) -> List[Any]:
    ns = _event_nanos(resp, n)
    stamps = pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC").tolist()
    return [None if v == _NAT else t for v, t in zip(ns.tolist(), stamps)]


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
    data: Dict[Any, Any] = _key_columns(entities, keys, columns)
    statuses: Any = None
    stamps: Any = None
    if include_status:
        ns = _event_nanos(resp, n)
        stamps = pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC").array
        statuses = pd.array([STATUS_NAMES.get(s, "unspecified") for col in resp.columns for s in col.statuses],
                            dtype=pd.StringDtype())
    # Numeric columns are gathered by type and converted with one numpy call
    # per type; each column is then a row of that array (a view). Reading a
    # field of a response message costs about a microsecond, so the loop
    # reads each once.
    groups: Dict[str, Tuple[List[str], List[Any], List[Any]]] = {}
    for j, (name, col) in enumerate(zip(names, resp.columns)):
        typ = col.type
        field = _FIELDS.get(typ)
        grouped = False
        if field in _NUMERIC and typ != _TIMESTAMP:
            values = getattr(col, field).values
            nulls = col.nulls
            if len(values) == n and (not nulls or len(nulls) == n):
                g = groups.get(field)
                if g is None:
                    g = groups[field] = ([], [], [])
                g[0].append(name)
                g[1].append(values)
                g[2].append(nulls)
                data[name] = None  # filled below, in this place
                grouped = True
        if not grouped and (field in _LIST_FIELDS or typ == _TIMESTAMP):
            # As a join's result converts: numpy arrays of the items, and
            # datetime64[ns, UTC].
            arr = _arrow_values(col, n)
            data[name] = arr.to_numpy(zero_copy_only=False) if field in _LIST_FIELDS else _arrow.to_pandas(pa.table({"t": arr}))["t"].array
        elif not grouped:
            field, values, mask = _raw(col, n)
            data[name] = _nullable(field, values, mask, n)
        if include_status:
            data[f"{name}__status"] = statuses[j * n:(j + 1) * n]
            data[f"{name}__event_timestamp"] = stamps[j * n:(j + 1) * n]
    floats: List[Tuple[np.ndarray, List[str]]] = []
    for field, (gnames, columns_values, columns_nulls) in groups.items():
        shape = (len(gnames), n)
        arr: np.ndarray = np.array([v for col_values in columns_values for v in col_values],
                                   dtype=_NUMERIC[field]).reshape(shape)
        if any(columns_nulls):
            masks = np.array([m for col_nulls in columns_nulls for m in (col_nulls or [False] * n)],
                             dtype=bool).reshape(shape)
        else:
            masks = np.zeros(shape, dtype=bool)
        if field == "int64_values" or field == "int32_values":
            for i, name in enumerate(gnames):
                data[name] = _frames.integer_array(arr[i], masks[i])
        elif field == "bool_values":
            for i, name in enumerate(gnames):
                data[name] = _frames.boolean_array(arr[i], masks[i])
        else:
            arr[masks] = np.nan
            floats.append((arr, gnames))  # their places in data stay None
    out = _frames.frame(data, floats, n)
    out.attrs["timefence"] = attrs
    return out


_NUMERIC = {"int64_values": np.int64, "int32_values": np.int32, "double_values": np.float64, "float_values": np.float32,
            "bool_values": np.bool_}


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


def _nullable(field: str, values: Any, mask: Optional[List[bool]], n: int) -> Any:
    """One scalar feature column as the nullable backend has it: Int64,
    Int32, boolean and string extension arrays, numpy floats with NaN, object
    arrays of bytes with None."""
    if field in ("int64_values", "int32_values", "bool_values"):
        dtype = _NUMERIC[field]
        data: np.ndarray
        if values is None:
            data, m = np.zeros(n, dtype=dtype), np.ones(n, dtype=bool)
        else:
            data = np.array(values, dtype=dtype)
            m = np.array(mask, dtype=bool) if mask is not None else np.zeros(n, dtype=bool)
        return pd.arrays.BooleanArray(data, m) if field == "bool_values" else pd.arrays.IntegerArray(data, m)
    if field == "double_values" or field == "float_values":
        fdtype = np.float64 if field == "double_values" else np.float32
        if values is None:
            return np.full(n, np.nan, dtype=fdtype)
        data = np.array(values, dtype=fdtype)
        if mask is not None:
            data[np.array(mask, dtype=bool)] = np.nan
        return data
    vals: List[Any] = [None] * n if values is None else list(values)
    if mask is not None:
        vals = [None if m else v for v, m in zip(vals, mask)]
    if field == "string_values":
        return pd.array(vals, dtype=pd.StringDtype())
    arr = np.empty(n, dtype=object)
    arr[:] = vals
    return arr


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
    data: Dict[str, pa.Array] = {}
    for name, col in zip(names, resp.columns):
        data[name] = _arrow_values(col, n)
        if include_status:
            statuses = np.asarray(col.statuses, dtype=np.int32)
            data[f"{name}__status"] = pa.array([STATUS_NAMES.get(int(st), "unspecified") for st in statuses], pa.string())
            nanos = np.asarray(col.event_time_unix_nanos, dtype=np.int64)
            data[f"{name}__event_timestamp"] = pa.array(
                nanos, pa.timestamp("ns", "UTC"), mask=(statuses == NOT_FOUND) & (nanos == 0)
            )
    if isinstance(entities, pd.DataFrame):
        out = entities.reset_index(drop=True).copy(deep=False)
    else:
        out = pd.DataFrame({k: pd.Series(col) for k, col in zip(keys, columns)})
    feats = _arrow.to_pandas(pa.table(data), dtype_backend) if data else pd.DataFrame(index=range(n))
    feats.index = out.index
    out = pd.concat([out, feats], axis=1)
    out.attrs["timefence"] = attrs
    return out


def _arrow_values(col: online_service_pb2.FeatureColumn, n: int) -> pa.Array:
    """The Arrow array of one response column; null where col.nulls says so."""
    typ = arrow_type(_TYPE_FROM_PROTO.get(col.type, "double"))
    field, values, mask = _raw(col, n)
    if values is None:
        return pa.nulls(n, typ)
    m = np.array(mask, dtype=bool) if mask is not None else None
    if col.type == _TIMESTAMP:
        return pa.array(np.array(values, dtype=np.int64), pa.int64(), mask=m).cast(typ)
    if col.type == _TIMESTAMP_LIST:
        return pa.array([list(v.values) for v in values], pa.list_(pa.int64()), mask=m).cast(typ)
    if field in _NUMERIC:
        return pa.array(np.array(values, dtype=_NUMERIC[field]), typ, mask=m)
    if field in _LIST_FIELDS:
        return pa.array([list(v.values) for v in values], typ, mask=m)
    return pa.array(list(values), typ, mask=m)


def check_output(output: str, dtype_backend: str) -> None:
    if output not in OUTPUTS:
        raise InvalidArgument(f"output: expected one of {', '.join(OUTPUTS)}, got {output!r}")
    if dtype_backend not in _arrow.DTYPE_BACKENDS:
        raise InvalidArgument(f"dtype_backend: expected one of {', '.join(_arrow.DTYPE_BACKENDS)}, got {dtype_backend!r}")


__all__ = ["OnlineFeatures", "Names", "OUTPUTS", "request", "meta", "to_dict", "to_frame", "arrow_frame", "check_output"]
