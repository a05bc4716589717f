"""Point-in-time joins in DuckDB over exported versions, with the server's rule.

An export (``Client.export(split, views, path)``, ``timefence export``, or a
sandbox's ``parquet/`` directory) writes ``<view>.parquet`` with every
version of the view within the split and ``<view>.manifest.json`` beside
it. :func:`get_historical_features` joins a spine with them in DuckDB, with
the SQL of ``timefence/sql/point_in_time.sql``, and returns what the
server's ``get_historical_features`` returns under the same split.

The guard is carried in the files: they hold nothing after the split's end,
and a spine with any time outside the split recorded in the manifest is
refused whole, before any work, with the server's ``CUTOFF_EXCEEDED``
message. Needs ``pip install './client/python[duckdb]'``.
"""

from __future__ import annotations

import os
import pathlib
from importlib import resources
from typing import Any, Mapping, Optional, Sequence, Union

import pandas as pd

from . import _arrow
from ._exported import TTL, check_split, read_manifest, ttl_nanos, wanted_features
from .errors import InvalidArgument


def sql() -> str:
    """The SQL template of the join (``timefence/sql/point_in_time.sql``)."""
    return resources.files("timefence").joinpath("sql/point_in_time.sql").read_text()


def get_historical_features(
    con: Any,
    source: Union[str, os.PathLike],
    spine: Any,
    features: Sequence[str],
    *,
    ttl: Optional[Mapping[str, TTL]] = None,
    timestamp_column: str = "event_timestamp",
) -> pd.DataFrame:
    """Joins ``spine`` with ``features`` (``"view:feature"`` or ``"view"``)
    read from the export in the directory ``source``, in the DuckDB
    connection ``con``.

    ``ttl`` maps a view to its definition's ttl (a timedelta or a duration
    such as ``"7d"``; none when absent): the files do not record it. The
    result has the spine's columns, then one column per feature, in the
    order given; values are null where the server's are (no version, a
    deletion, or older than the ttl). A spine time outside the split in a
    view's manifest raises :class:`~timefence.CutoffExceeded`.
    """
    src = pathlib.Path(source)
    table = _arrow.ensure_timestamp(_arrow.to_table(spine, "spine"), timestamp_column, "spine")
    if timestamp_column not in table.column_names:
        raise InvalidArgument(f"spine: no timestamp column {timestamp_column!r}")
    frame = table.to_pandas()
    times = pd.to_datetime(frame[timestamp_column], utc=True)
    if times.isna().any():
        raise InvalidArgument(f"spine: column {timestamp_column!r}: row {int(times.isna().to_numpy().argmax())}: timestamp is null")
    nanos = times.dt.as_unit("ns").astype("int64").to_numpy()

    out = frame.copy()
    for view, names in wanted_features(features).items():
        manifest = read_manifest(src, view)
        check_split(manifest, nanos)
        path = src / f"{view}.parquet"
        columns = con.sql(f"SELECT * FROM read_parquet({_literal(str(path))}) LIMIT 0").columns
        keys = columns[:columns.index("event_timestamp")]
        missing = [k for k in keys if k not in frame.columns]
        if missing:
            raise InvalidArgument(f"spine: no join key column {', '.join(missing)} of view {view!r}")
        feats = names or columns[columns.index("backfilled") + 1:]
        unknown = [f for f in feats if f not in columns]
        if unknown:
            raise InvalidArgument(f"features: view {view!r} has no feature {', '.join(unknown)} in {path}")
        clash = [f for f in feats if f in out.columns]
        if clash:
            raise InvalidArgument(f"features: more than one column named {', '.join(clash)}")
        spine_rel = pd.DataFrame({"_spine_row": range(len(frame)), "_t": nanos, **{k: frame[k] for k in keys}})
        con.register("_timefence_spine", spine_rel)
        ttl_ns = ttl_nanos((ttl or {}).get(view))
        query = sql().format(
            versions=_literal(str(path)),
            spine="_timefence_spine",
            keys=" AND ".join(f"v.{_ident(k)} = s.{_ident(k)}" for k in keys),
            features=", ".join(
                f"CASE WHEN w.deleted OR ({ttl_ns} > 0 AND w._t - w._event > {ttl_ns}) THEN NULL ELSE w.{_ident(f)} END AS {_ident(f)}"
                for f in feats),
            ttl=ttl_ns,
        )
        try:
            joined = con.sql(query).to_arrow_table()
        finally:
            con.unregister("_timefence_spine")
        for f in feats:
            out[f] = _arrow.to_pandas(joined.select([f]))[f].array
    return out


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


__all__ = ["get_historical_features", "sql"]
