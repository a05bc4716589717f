"""Point-in-time joins on Apache Spark over exported versions, with the server's rule.

An export (``Client.export(split, views, path)``, ``timefence export``, or a
sandbox's ``parquet/`` directory) writes ``<view>.parquet`` with every
version of the view within the split and ``<view>.manifest.json`` beside
it. :func:`get_historical_features` joins a spine with them on Spark and
returns what the server's ``get_historical_features`` returns under the
same split.

The join is Spark's own operators, no Python code per row. A version is a
candidate at ``t`` when both its times are ``<= t``, that is from
``max(event_timestamp, available_at)`` on, and the winner is the greatest
candidate in (event_timestamp, available_at, order in the file): so for
the views of one entity, the spine rows and the versions go into one
table, partitioned by the entity key and sorted by time, and the running
maximum of each view's versions seen so far is each spine row's winner.
Each spine row depends only on the versions of its own key, so the work
spreads over the keys.

The guard is carried in the files: they hold nothing after the split's end,
and a spine with any time outside the split recorded in the manifest is
refused whole, before the join, with the server's ``CUTOFF_EXCEEDED``
message. Needs ``pip install './client/python[spark]'`` (Spark 4, Java 17).
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import _arrow
from ._exported import MAX_REPORTED_ROWS, TTL, check_split, cutoff_exceeded, read_manifest, split_window, ttl_nanos, wanted_features
from .errors import InvalidArgument

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

#: Exported times are Parquet ``TIMESTAMP(NANOS)``, which Spark reads only
#: as longs (Unix nanoseconds), with this setting on.
NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"

# The columns the join adds while it works; a spine may not have them.
_ROW, _T, _KIND, _VERSION = "__tf_row", "__tf_t", "__tf_kind", "__tf_version"
_PREFIX = "__tf_"

# monotonically_increasing_id: the partition index above these bits, the
# position within the partition below.
_PARTITION_SHIFT = 33


class _View:
    """What the join needs of one exported view, read without Spark."""

    def __init__(self, src: pathlib.Path, view: str, names: List[str]) -> None:
        self.name = view
        self.manifest = read_manifest(src, view)
        self.path = src / f"{view}.parquet"
        try:
            self.schema = pq.read_schema(self.path)
        except FileNotFoundError:
            raise InvalidArgument(f"source: no file {self.path}: export the view there") from None
        columns = self.schema.names
        self.keys = columns[:columns.index("event_timestamp")]
        self.features = names or columns[columns.index("backfilled") + 1:]
        unknown = [f for f in self.features if f not in columns]
        if unknown:
            raise InvalidArgument(f"features: view {view!r} has no feature {', '.join(unknown)} in {self.path}")


def get_historical_features(
    spark: "SparkSession",
    source: Union[str, os.PathLike],
    spine: Any,
    features: Sequence[str],
    *,
    ttl: Optional[Mapping[str, TTL]] = None,
    timestamp_column: str = "event_timestamp",
) -> "DataFrame":
    """Joins ``spine`` with ``features`` (``"view:feature"`` or ``"view"``)
    read from the export in the directory ``source``, in the Spark session
    ``spark``.

    ``spine`` is a Spark DataFrame (its row order is the order of its
    partitions, as ``collect()`` gives them; its time a timestamp, a
    timestamp without zone (UTC), a date, or a long of Unix nanoseconds, as
    Spark reads Parquet nanosecond times under ``NANOS_AS_LONG``), or a
    pandas DataFrame or pyarrow Table. ``ttl`` maps a view to its
    definition's ttl (a timedelta or a duration such as ``"7d"``; none when
    absent): the files do not record it. The result is a Spark DataFrame
    with the spine's columns, then one column per feature, in the order
    given, in the spine's row order; values are null where the server's are
    (no version, a deletion, or older than the ttl). A spine time outside
    the split in a view's manifest raises :class:`~timefence.CutoffExceeded`
    before any join; a null time or join key raises
    :class:`~timefence.InvalidArgument`.

    Spark's timestamps hold microseconds: the rule compares the spine's
    times to the nanosecond, as the server does, but timestamp columns
    (the spine's from pandas or Arrow, timestamp features) come out cut to
    the microsecond. Sets ``spark.sql.legacy.parquet.nanosAsLong`` on the
    session, without which Spark cannot read the exported times.
    """
    from pyspark.sql import DataFrame

    src = pathlib.Path(source)
    views = [_View(src, view, names) for view, names in wanted_features(features).items()]
    refs = _output_features(views, features)

    if isinstance(spine, DataFrame):
        columns = list(spine.columns)
        _check_columns(columns, views, refs, timestamp_column)
        indexed = _indexed_spark_spine(spine, views, timestamp_column)
    else:
        table = _arrow.ensure_timestamp(_arrow.to_table(spine, "spine"), timestamp_column, "spine")
        columns = table.column_names
        _check_columns(columns, views, refs, timestamp_column)
        indexed = _indexed_arrow_spine(spark, table, views, timestamp_column)

    spark.conf.set(NANOS_AS_LONG, "true")
    # Views with the same join keys (of one entity) share one pass.
    groups: Dict[Tuple[Tuple[str, str], ...], List[_View]] = {}
    for v in views:
        groups.setdefault(tuple((k, str(v.schema.field(k).type)) for k in v.keys), []).append(v)
    out = indexed
    for group in groups.values():
        out = _join_views(spark, out, group, [ttl_nanos((ttl or {}).get(v.name)) for v in group])
    return out.orderBy(_ROW).select(*[_col(c) for c in columns], *[_col(f) for f in refs])


def _output_features(views: List[_View], features: Sequence[str]) -> List[str]:
    """The feature columns of the result, in the order the references give
    them; a name may appear once."""
    by_name = {v.name: v for v in views}
    out: List[str] = []
    for ref in features:
        view, _, feature = ref.partition(":")
        for f in [feature] if feature else by_name[view].features:
            if f in out:
                raise InvalidArgument(f"features: more than one column named {f}")
            out.append(f)
    return out


def _check_columns(columns: List[str], views: List[_View], refs: List[str], timestamp_column: str) -> None:
    if timestamp_column not in columns:
        raise InvalidArgument(f"spine: no timestamp column {timestamp_column!r}")
    for v in views:
        missing = [k for k in v.keys if k not in columns]
        if missing:
            raise InvalidArgument(f"spine: no join key column {', '.join(missing)} of view {v.name!r}")
    clash = [f for f in refs if f in columns]
    if clash:
        raise InvalidArgument(f"features: more than one column named {', '.join(clash)}")
    internal = [c for c in columns if c.startswith(_PREFIX)]
    if internal:
        raise InvalidArgument(f"spine: column {', '.join(internal)}: names starting with {_PREFIX} are the join's own")


def _key_types(views: List[_View]) -> Dict[str, pa.DataType]:
    """Each join key column of the views, with its Arrow type in the first
    view that has it."""
    out: Dict[str, pa.DataType] = {}
    for v in views:
        for k in v.keys:
            out.setdefault(k, v.schema.field(k).type)
    return out


def _key_type_error(name: str, want: pa.DataType, got: str) -> InvalidArgument:
    return InvalidArgument(f"spine: join key column {_go_quote(name)}: expected {'int64' if pa.types.is_integer(want) else 'string'}, got {got}")


def _indexed_arrow_spine(spark: "SparkSession", table: pa.Table, views: List[_View], timestamp_column: str) -> "DataFrame":
    """The spine as a Spark DataFrame with its row index and its times in
    Unix nanoseconds, checked first (nulls, key types, the guard) without
    Spark."""
    col = table.column(timestamp_column)
    if col.null_count:
        row = pc.index(pc.is_null(col), True).as_py()
        raise InvalidArgument(f"spine: column {timestamp_column!r}: row {row}: timestamp is null")
    utc = col.type if col.type.tz else pa.timestamp(col.type.unit, "UTC")
    nanos = pc.cast(pc.cast(col, utc), pa.timestamp("ns", "UTC")).cast(pa.int64()).to_numpy()
    first_null: Optional[Tuple[int, str]] = None
    for name, want in _key_types(views).items():
        got = table.schema.field(name).type
        ints = pa.types.is_integer(got) and not pa.types.is_uint64(got)
        if not (ints if pa.types.is_integer(want) else (pa.types.is_string(got) or pa.types.is_large_string(got))):
            raise _key_type_error(name, want, f"Arrow type {got}")
        if table.column(name).null_count:
            row = pc.index(pc.is_null(table.column(name)), True).as_py()
            if first_null is None or row < first_null[0]:
                first_null = (row, name)
    if first_null is not None:
        raise InvalidArgument(f"spine: row {first_null[0]}: join key column {_go_quote(first_null[1])} is null")
    for v in views:
        check_split(v.manifest, nanos)
    # Spark keeps microseconds; the rule reads the nanoseconds of _T.
    i = table.schema.get_field_index(timestamp_column)
    table = table.set_column(i, timestamp_column, pc.cast(col, pa.timestamp("us", "UTC"), safe=False))
    table = table.append_column(_ROW, pa.array(np.arange(len(table), dtype=np.int64)))
    table = table.append_column(_T, pa.array(nanos, pa.int64()))
    return spark.createDataFrame(table)


def _indexed_spark_spine(spine: "DataFrame", views: List[_View], timestamp_column: str) -> "DataFrame":
    """The spine with a row index (increasing in the spine's order) and its
    times in Unix nanoseconds, checked first (nulls, key types, the guard)
    with Spark aggregations."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    dtype = spine.schema[timestamp_column].dataType
    ts = _col(timestamp_column)
    if isinstance(dtype, T.TimestampType):
        nanos = F.unix_micros(ts) * 1000
    elif isinstance(dtype, T.TimestampNTZType):  # a time without a zone is UTC
        nanos = F.expr(f"timestampdiff(MICROSECOND, TIMESTAMP_NTZ'1970-01-01 00:00:00', {_quote(timestamp_column)})") * 1000
    elif isinstance(dtype, T.DateType):  # midnight UTC
        nanos = F.unix_date(ts).cast("long") * (86_400 * 10**9)
    elif isinstance(dtype, T.LongType):  # Parquet nanoseconds, read under NANOS_AS_LONG
        nanos = ts
    else:
        raise InvalidArgument(f"spine: column {timestamp_column!r} must hold timestamps, got Spark type {dtype.simpleString()}")
    keys = _key_types(views)
    for name, want in keys.items():
        got = spine.schema[name].dataType
        ok = isinstance(got, (T.LongType, T.IntegerType, T.ShortType, T.ByteType)) if pa.types.is_integer(want) else isinstance(got, T.StringType)
        if not ok:
            raise _key_type_error(name, want, f"Spark type {got.simpleString()}")

    indexed = spine.withColumn(_ROW, F.monotonically_increasing_id()).withColumn(_T, nanos)
    t = F.col(_T)
    stats = indexed.agg(
        F.count(F.lit(1)).alias("rows"), F.min(t).alias("min"), F.max(t).alias("max"),
        F.min(F.when(t.isNull(), F.col(_ROW))).alias("null_time"),
        *[F.min(F.when(_col(k).isNull(), F.col(_ROW))).alias(f"null_{i}") for i, k in enumerate(keys)],
    ).first()
    assert stats is not None
    if stats["null_time"] is not None:
        row = _positions(indexed, [stats["null_time"]])[0]
        raise InvalidArgument(f"spine: column {timestamp_column!r}: row {row}: timestamp is null")
    nulls = [(stats[f"null_{i}"], k) for i, k in enumerate(keys) if stats[f"null_{i}"] is not None]
    if nulls:
        mid, name = min(nulls)
        raise InvalidArgument(f"spine: row {_positions(indexed, [mid])[0]}: join key column {_go_quote(name)} is null")
    for v in views:
        start, end = split_window(v.manifest)
        if stats["rows"] == 0 or (stats["min"] >= start and stats["max"] <= end):
            continue
        bad = (t < start) | (t > end)
        offending = indexed.filter(bad).count()
        first = [r[0] for r in indexed.filter(bad).select(_ROW).orderBy(_ROW).limit(MAX_REPORTED_ROWS).collect()]
        raise cutoff_exceeded(v.manifest, offending, stats["rows"], _positions(indexed, first))
    return indexed


def _positions(indexed: "DataFrame", ids: List[int]) -> List[int]:
    """The 0-based positions in the spine of rows with the given
    monotonically_increasing_id values: the rows of the partitions before
    theirs, plus their place in their own."""
    from pyspark.sql import functions as F

    part = F.shiftright(F.col(_ROW), _PARTITION_SHIFT)
    counts = dict(tuple(r) for r in indexed.groupBy(part.alias("p")).count().collect())
    offsets, total = {}, 0
    for p in sorted(counts):
        offsets[p] = total
        total += counts[p]
    low = (1 << _PARTITION_SHIFT) - 1
    return [offsets[i >> _PARTITION_SHIFT] + (i & low) for i in ids]


def _join_views(spark: "SparkSession", spine: "DataFrame", views: List[_View], ttls: List[int]) -> "DataFrame":
    """spine with the features of views that have the same join keys, by
    the rule: the spine rows and the versions of every view in one table,
    partitioned by key and sorted by time, each view's winner the running
    maximum of its versions."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    names = views[0].keys
    keys = [f"{_PREFIX}k{i}" for i in range(len(names))]
    slots = [f"{_VERSION}{i}" for i in range(len(views))]
    first = spark.read.parquet(str(views[0].path))
    key_types = [first.schema[k].dataType.simpleString() for k in names]
    parts = [spine.select(
        "*", *[_col(k).cast(typ).alias(name) for k, typ, name in zip(names, key_types, keys)], F.lit(1).alias(_KIND),
    )]
    for view, slot in zip(views, slots):
        versions = first if view is views[0] else spark.read.parquet(str(view.path))
        event, available = _col("event_timestamp"), _col("available_at")
        # Compared field by field: the order in the file is unique, so the
        # fields after it never decide.
        version = F.struct(
            event.alias("event"), available.alias("available"), F.col("_metadata.row_index").alias("order"),
            _col("deleted").alias("deleted"), *[_col(f).alias(f"f{j}") for j, f in enumerate(view.features)],
        )
        # A version is a candidate from the time both its times have
        # passed; at equal times it sorts before the spine rows (bounds are
        # inclusive).
        parts.append(versions.select(
            *[_col(k).alias(name) for k, name in zip(names, keys)],
            F.greatest(event, available).alias(_T), F.lit(0).alias(_KIND), version.alias(slot),
        ))
    both = parts[0]
    for part in parts[1:]:
        both = both.unionByName(part, allowMissingColumns=True)
    seen = Window.partitionBy(*keys).orderBy(_T, _KIND).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    both = both.select(
        *[_col(c) for c in spine.columns], F.col(_KIND),
        *[F.max(slot).over(seen).alias(slot) for slot in slots],
    ).filter(F.col(_KIND) == 1)
    values = []
    for view, slot, ttl_ns in zip(views, slots, ttls):
        winner = F.col(slot)
        gone = winner.isNull() | winner.getField("deleted")
        if ttl_ns > 0:
            gone = gone | (F.col(_T) - winner.getField("event") > ttl_ns)
        values += [
            _from_nanos(F.when(~gone, winner.getField(f"f{j}")), view.schema.field(f).type).alias(f)
            for j, f in enumerate(view.features)
        ]
    return both.select(*[_col(c) for c in spine.columns], *values)


def _from_nanos(value: "Column", typ: pa.DataType) -> "Column":
    """A timestamp feature (or list of them), read as Unix nanoseconds, as
    Spark timestamps: microseconds, rounded down."""
    from pyspark.sql import functions as F

    def micros(ns: "Column") -> "Column":
        # In decimals: a double cannot hold every long.
        return F.timestamp_micros(F.floor(ns.cast("decimal(20,0)") / 1000).cast("long"))

    if pa.types.is_timestamp(typ):
        return micros(value)
    if (pa.types.is_list(typ) or pa.types.is_large_list(typ)) and pa.types.is_timestamp(typ.value_type):
        return F.transform(value, micros)
    return value


def _go_quote(name: str) -> str:
    """A name quoted as the server's messages quote it."""
    return json.dumps(name, ensure_ascii=False)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _col(name: str) -> "Column":
    from pyspark.sql import functions as F

    return F.col(_quote(name))


__all__ = ["NANOS_AS_LONG", "get_historical_features"]
