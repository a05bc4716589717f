"""pandas / pyarrow conversions for tables sent to and received from the server."""

from __future__ import annotations

import json
from typing import Any, List, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import _time
from .errors import InvalidArgument

#: Largest Arrow record batch sent in one gRPC message (the server accepts 64 MiB).
MAX_BATCH_BYTES = 16 << 20
#: Rows per record batch sent; the server joins in chunks of this size.
MAX_BATCH_ROWS = 64 << 10


def column_names(data: Any) -> List[str]:
    """The column names of a table-like value (empty for anything else)."""
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        return list(data.schema.names)
    if isinstance(data, pd.DataFrame):
        return [str(c) for c in data.columns]
    if isinstance(data, Mapping):
        return [str(c) for c in data]
    return []


def json_columns(data: Any, names: List[str], what: str) -> Any:
    """data with the columns named, which hold JSON or map features, as JSON
    text: strings are kept as they are (the server checks them), other values
    (dicts, lists, numbers, bools) are serialised; nulls stay null."""
    def dump(v: Any, name: str, row: int) -> Any:
        if v is None or isinstance(v, str) or (isinstance(v, float) and v != v):
            return v
        try:
            return json.dumps(v, allow_nan=False, default=_json_default)
        except (TypeError, ValueError) as e:
            raise InvalidArgument(f"{what}: column {name!r}: row {row}: cannot write as JSON: {e}") from None

    if isinstance(data, Mapping) and not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(dict(data))
    if isinstance(data, pd.DataFrame):
        todo = [n for n in names if n in data.columns
                and (data[n].dtype == object or not pd.api.types.is_string_dtype(data[n].dtype))]
        if not todo:
            return data
        data = data.copy(deep=False)
        for n in todo:
            text = [dump(v, n, i) for i, v in enumerate(data[n].tolist())]
            data[n] = pd.array([None if v is None or not isinstance(v, str) else v for v in text], dtype=pd.StringDtype())
        return data
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        for n in names:
            idx = table.schema.get_field_index(n)
            typ = table.schema.field(idx).type if idx >= 0 else None
            if typ is None or pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_null(typ):
                continue
            values = table.column(idx).to_pylist()
            if pa.types.is_map(typ):  # Arrow gives a map's entries as (key, value) pairs
                values = [None if v is None else dict(v) for v in values]
            text = [dump(v, n, i) for i, v in enumerate(values)]
            table = table.set_column(idx, pa.field(n, pa.string()), pa.array(text, pa.string()))
        return table
    return data


def list_columns(data: Any, targets: Mapping[str, pa.DataType], what: str) -> Any:
    """data with the object columns of a DataFrame named in targets, which
    hold list features, converted to their Arrow list type up front: inferred,
    a list of Timestamps would lose its nanoseconds and an empty list its
    item type."""
    if not isinstance(data, pd.DataFrame):
        return data
    todo = [n for n in targets if n in data.columns and data[n].dtype == object]
    if not todo:
        return data
    data = data.copy(deep=False)
    for n in todo:
        values = [v.tolist() if isinstance(v, np.ndarray) else v for v in data[n].tolist()]
        try:
            arr = pa.array(values, type=targets[n])
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as e:
            raise InvalidArgument(f"{what}: column {n!r}: cannot convert to {targets[n]}: {e}") from None
        data[n] = pd.Series(pd.arrays.ArrowExtensionArray(arr), index=data.index)
    return data


def _json_default(v: Any) -> Any:
    """numpy scalars and arrays inside JSON values, as Python ones."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"{type(v).__name__} is not JSON serializable")


def to_table(data: Any, what: str) -> pa.Table:
    """A pandas DataFrame, pyarrow Table/RecordBatch or dict of columns as an
    Arrow table without schema metadata and without dictionary columns."""
    if isinstance(data, pa.Table):
        table = data
    elif isinstance(data, pa.RecordBatch):
        table = pa.Table.from_batches([data])
    elif isinstance(data, pd.DataFrame):
        if data.columns.duplicated().any():
            dup = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
            raise InvalidArgument(f"{what}: column(s) {', '.join(dup)} appear twice")
        try:
            table = pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
            raise InvalidArgument(f"{what}: cannot convert to Arrow: {e}") from None
    elif isinstance(data, Mapping):
        return to_table(pd.DataFrame(dict(data)), what)
    else:
        raise InvalidArgument(f"{what}: expected a pandas DataFrame or a pyarrow Table, got {type(data).__name__}")
    table = table.replace_schema_metadata(None)
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            table = table.set_column(i, f.name, pc.cast(table.column(i), f.type.value_type))
    return table


def ensure_timestamp(table: pa.Table, name: str, what: str) -> pa.Table:
    """Converts column name to an Arrow timestamp when it holds strings, dates
    or Python datetimes; naive times are UTC. Strings follow the CLI's rule
    for CSV cells (:func:`timefence._time.parse_column_time`): RFC 3339, or
    ``2024-01-01 00:00:00`` without a zone (UTC), or a date (midnight UTC);
    a column with any other string is refused, naming its first such row,
    never guessed. A missing column is left for the server to report."""
    idx = table.schema.get_field_index(name)
    if idx < 0:
        return table
    typ = table.schema.field(idx).type
    if pa.types.is_timestamp(typ):
        return table
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return table.set_column(idx, name, _parse_times(table.column(idx), name, what))
    if not (pa.types.is_date(typ) or pa.types.is_null(typ)):
        raise InvalidArgument(f"{what}: column {name!r} must hold timestamps, got Arrow type {typ}")
    values = pd.to_datetime(table.column(idx).to_pandas(), utc=True)
    return table.set_column(idx, name, pa.array(values, type=pa.timestamp("ns", "UTC")))


def _parse_times(col: pa.ChunkedArray, name: str, what: str) -> pa.Array:
    """A string column as UTC nanosecond timestamps, by the rule of
    :func:`timefence._time.parse_column_time`; nulls stay null."""
    ok = pc.match_substring_regex(col, "^" + _time.COLUMN_PATTERN + "$")
    years = pc.cast(pc.if_else(ok, pc.utf8_slice_codeunits(col, 0, 4), pa.scalar("2000")), pa.int64())
    ok = pc.and_(ok, pc.and_(pc.greater_equal(years, _time.MIN_YEAR), pc.less_equal(years, _time.MAX_YEAR)))
    bad = pc.fill_null(pc.invert(ok), False)
    if pc.any(bad).as_py():
        row = pc.index(bad, True).as_py()
        _time.parse_column_time(col[row].as_py(), f"{what}: column {name!r}: row {row}")  # raises the rule's error
    raw = col.to_pandas()
    try:
        # The fast path, for the times pandas reads as the rule does.
        values = pd.to_datetime(raw, utc=True, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        # Out-of-range fields (February 30, 24:00) or an offset of 24 hours,
        # which Go's parser accepts: one value at a time, naming the row.
        parsed = [
            _time.parse_column_time(v, f"{what}: column {name!r}: row {i}")
            if isinstance(v, str) else None
            for i, v in enumerate(raw.tolist())
        ]
        values = pd.to_datetime(pd.Series(parsed, dtype=object), utc=True)
    return pa.array(values, type=pa.timestamp("ns", "UTC"))


def _family(t: pa.DataType) -> str:
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "list<" + _family(t.value_type) + ">"
    return str(t)


def castable(src: pa.DataType, dst: pa.DataType) -> bool:
    """Whether the client converts src to dst by itself: within a family
    (numbers, strings, binaries, lists of numbers) and from all-null columns.
    Anything else (e.g. ints to strings) is left for the server to refuse."""
    return pa.types.is_null(src) or _family(src) == _family(dst)


def cast_columns(table: pa.Table, targets: Mapping[str, pa.DataType], what: str) -> pa.Table:
    """Casts the columns named in targets to their type when they differ and
    the conversion loses nothing (e.g. int64 to double, 2.0 to 2, list<double>
    to list<float>, all-null columns); a lossy one raises InvalidArgument."""
    for name, target in targets.items():
        idx = table.schema.get_field_index(name)
        if idx < 0 or table.schema.field(idx).type == target or not castable(table.schema.field(idx).type, target):
            continue
        try:
            col = pc.cast(table.column(idx), target, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
            raise InvalidArgument(
                f"{what}: column {name!r}: cannot convert Arrow type {table.schema.field(idx).type} to {target}: {e}"
            ) from None
        table = table.set_column(idx, pa.field(name, target), col)
    return table


def batches(table: pa.Table) -> List[pa.RecordBatch]:
    """The table as record batches small enough for one gRPC message each."""
    if table.num_rows == 0:
        return []
    per_row = max(1, table.nbytes // table.num_rows)
    rows = max(1024, min(MAX_BATCH_ROWS, MAX_BATCH_BYTES // per_row))
    return table.to_batches(max_chunksize=rows)


def utc_timestamps(table: pa.Table) -> pa.Table:
    """Marks naive timestamp columns as UTC (the server reads them as UTC)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz is None:
            table = table.set_column(i, pa.field(f.name, pa.timestamp(f.type.unit, "UTC"), f.nullable), table.column(i).cast(pa.timestamp(f.type.unit, "UTC")))
    return table


_NULLABLE = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
}

DTYPE_BACKENDS = ("nullable", "pyarrow", "numpy")


def to_pandas(table: pa.Table, dtype_backend: str = "nullable") -> pd.DataFrame:
    """Converts a result table to pandas.

    ``"nullable"`` (default): integers -> ``Int64`` (null -> ``pd.NA``), booleans ->
    ``boolean``, strings -> ``string``; floats stay numpy ``float64``/``float32``
    (null -> NaN); bytes and float lists are object columns (null -> None);
    timestamps are ``datetime64[..., UTC]``. ``"pyarrow"``: every column
    ``pd.ArrowDtype``. ``"numpy"``: pyarrow's defaults (ints with nulls become floats).
    """
    table = utc_timestamps(table)
    if dtype_backend == "nullable":
        return table.to_pandas(types_mapper=_NULLABLE.get)
    if dtype_backend == "pyarrow":
        return table.to_pandas(types_mapper=pd.ArrowDtype)
    if dtype_backend == "numpy":
        return table.to_pandas()
    raise InvalidArgument(f"dtype_backend: expected one of {', '.join(DTYPE_BACKENDS)}, got {dtype_backend!r}")


def utc_series(s: pd.Series) -> pd.Series:
    """A datetime series as tz-aware UTC; other series unchanged."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s
    if pd.api.types.is_datetime64_dtype(s.dtype):
        return s.dt.tz_localize("UTC")
    return s
