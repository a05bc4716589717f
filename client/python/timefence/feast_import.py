"""Imports a Feast repository into timefence: definitions and offline data.

>>> from datetime import timedelta
>>> import timefence
>>> from timefence.feast_import import import_repo
>>> report = import_repo("feature_repo", timefence.Client("localhost:7070"))  # doctest: +SKIP
>>> print(report)  # doctest: +SKIP

:func:`import_repo` reads the repository's registry through the Feast SDK
(``feast.FeatureStore(repo_path=...)``; run ``feast apply`` there first),
turns its entities and feature views into one timefence definitions file,
applies it all or nothing, and loads each view's Parquet ``FileSource`` as a
backfill: a row's ``available_at`` is the source's
``created_timestamp_column`` when it has one, else its event time plus
``lag``. What has no timefence counterpart (on-demand views, push and
stream sources, feature services, other offline stores, some types) is left
out and listed in the report with what to do instead.

From a shell: ``python -m timefence.feast_import REPO_PATH [--lag 1h]``
or ``timefence import feast REPO_PATH``. It needs the ``feast`` extra:
``pip install './client/python[feast]'`` from the repository's root.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import os
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from . import _arrow
from ._time import format_duration, parse_duration
from .definitions import arrow_type

if TYPE_CHECKING:  # pragma: no cover
    from .client import ApplyResult, Client

__all__ = ["ImportReport", "Unmapped", "FeastMissing", "import_repo", "definitions_from_repo", "main"]

INSTALL_HINT = "pip install './client/python[feast]' from the repository's root"

# Rows per write: each write is one atomic batch, below the server's
# --max-write-rows (10M by default) and its memory bound.
BATCH_ROWS = 1_000_000

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_RESERVED = {"event_timestamp", "available_at", "deleted", "backfilled"}


class FeastMissing(ImportError):
    """The Feast SDK is not installed."""


@dataclass
class Unmapped:
    """Something of the Feast repository the import left out."""

    kind: str  # "feature", "feature view", "on-demand feature view", "source", "feature service", ...
    name: str
    reason: str
    instead: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.reason}; instead: {self.instead}"


@dataclass
class ImportReport:
    """What :func:`import_repo` did.

    ``definitions`` is the YAML it applied; ``entities`` and ``feature_views``
    name what it defined; ``apply`` is the server's :class:`ApplyResult`
    (``None`` before applying); ``rows`` counts the rows loaded per view (in a
    dry run, the rows that would be loaded), ``available_at`` how each view's
    available_at was set, ``already_loaded`` the rows an earlier import had
    written (same batch ids: not written twice); ``unmapped`` lists what was
    left out, each with what to do instead.
    """

    repo_path: str
    definitions: str = ""
    entities: List[str] = field(default_factory=list)
    feature_views: List[str] = field(default_factory=list)
    apply: Optional["ApplyResult"] = None
    rows: Dict[str, int] = field(default_factory=dict)
    available_at: Dict[str, str] = field(default_factory=dict)
    already_loaded: Dict[str, int] = field(default_factory=dict)
    unmapped: List[Unmapped] = field(default_factory=list)
    dry_run: bool = False

    def __str__(self) -> str:
        out = [f"Feast repository {self.repo_path}" + (" (dry run: nothing applied or loaded)" if self.dry_run else "")]
        if self.apply is not None:
            for c in self.apply.changes:
                line = f"  {c.action} {c.kind} {c.name}"
                if c.problem:
                    line += f": {c.problem}"
                out.append(line)
        else:
            out += [f"  entity {e}" for e in self.entities] + [f"  feature view {v}" for v in self.feature_views]
        verb = "would load" if self.dry_run else "loaded"
        for view, n in self.rows.items():
            line = f"  {verb} {n} rows into {view} as a backfill (available_at: {self.available_at.get(view, '?')})"
            if self.already_loaded.get(view):
                line += f"; {self.already_loaded[view]} of them were loaded by an earlier import and not written again"
            out.append(line)
        if self.unmapped:
            out.append(f"Not imported ({len(self.unmapped)}):")
            out += [f"  - {u}" for u in self.unmapped]
        return "\n".join(out)


def _feast() -> Any:
    try:
        import feast  # noqa: F401
    except ImportError as e:
        raise FeastMissing(f"importing a Feast repository needs the Feast SDK: {INSTALL_HINT} ({e})") from e
    return feast


# ---------------------------------------------------------------------------
# Types


def _map_type(dtype: Any) -> Tuple[Optional[str], str]:
    """timefence's type of a Feast dtype, or None and what to do instead."""
    from feast import types as ft

    scalar = {
        ft.Int64: "int64",
        ft.Int32: "int32",
        ft.Float64: "double",
        ft.Float32: "float",
        ft.String: "string",
        ft.Bool: "bool",
        ft.Bytes: "bytes",
        ft.UnixTimestamp: "timestamp",
    }
    for feast_type, ours in scalar.items():
        if dtype == feast_type:
            return ours, ""
    if dtype == ft.Map:
        return "map", ""
    if dtype == ft.Json or isinstance(dtype, ft.Struct):
        return "json", ""
    if isinstance(dtype, ft.Array):
        item = next((ours for feast_type, ours in scalar.items() if dtype.base_type == feast_type), None)
        if item is not None:
            return item + "_list", ""
        return None, "write it as one feature per element, or as a json feature"
    return None, "flatten it into scalar features, or store it as a json feature"


def _key_type(dtype: Any) -> Optional[str]:
    from feast import types as ft

    if dtype in (ft.Int64, ft.Int32):
        return "int64"
    if dtype == ft.String:
        return "string"
    return None


def _entity_value_key_type(entity: Any) -> Optional[str]:
    from feast.value_type import ValueType

    return {ValueType.INT64: "int64", ValueType.INT32: "int64", ValueType.STRING: "string"}.get(entity.value_type)


# ---------------------------------------------------------------------------
# Definitions


@dataclass
class _ViewPlan:
    name: str
    entity: str
    keys: List[str]
    features: Dict[str, str]  # name -> timefence type
    source: Any
    definition: Dict[str, Any]


def _source_note(view: Any) -> Optional[Unmapped]:
    """The unmapped note for a view's stream or push source, if any."""
    stream = getattr(view, "stream_source", None)
    if stream is None:
        return None
    kind = type(stream).__name__
    if kind == "PushSource":
        return Unmapped("push source", stream.name, f"pushes to feature view {view.name} have no timefence counterpart",
                        f"write rows with client.write({view.name!r}, df) (or `timefence write {view.name} FILE`) "
                        "where you called store.push; its batch source was loaded as history")
    return Unmapped("stream source", stream.name, f"{kind} of feature view {view.name} is not read by timefence",
                    f"have the stream job write each row with client.write({view.name!r}, df)")


def _plan(store: Any, report: ImportReport) -> Tuple[List[Dict[str, Any]], List[_ViewPlan]]:
    entities = {e.name: e for e in store.list_entities()}
    entity_defs: Dict[str, Dict[str, Any]] = {}
    views: List[_ViewPlan] = []

    def refuse(kind: str, name: str, reason: str, instead: str) -> None:
        report.unmapped.append(Unmapped(kind, name, reason, instead))

    for view in sorted(store.list_feature_views(), key=lambda v: v.name):
        vname = view.name
        if not _NAME.match(vname):
            refuse("feature view", vname, "the name has characters timefence names do not allow",
                   "rename it in Feast to letters, digits and underscores")
            continue
        ent_names = [n for n in view.entities if n != "__dummy"]
        if not ent_names:
            refuse("feature view", vname, "it has no entity; timefence views describe one entity",
                   "add an entity to it in Feast, or write its values to a view of a constant-key entity")
            continue
        key_types = {c.name: _key_type(c.dtype) for c in view.entity_columns}
        keys: List[Tuple[str, str]] = []
        problem = ""
        for en in ent_names:
            ent = entities.get(en)
            join_keys = [ent.join_key] if ent is not None else [en]
            for jk in join_keys:
                kt = key_types.get(jk) or (_entity_value_key_type(ent) if ent is not None else None)
                if kt is None or not _NAME.match(jk):
                    problem = f"join key {jk} is not an int64 or string column named with letters, digits and underscores"
                    break
                keys.append((jk, kt))
        if problem:
            refuse("feature view", vname, problem, "give the entity an Int64 or String join key in Feast")
            continue
        # One entity per view: a view of several Feast entities gets one
        # entity with all their join keys (a composite key).
        ename = ent_names[0] if len(ent_names) == 1 else "__".join(ent_names)
        edef: Dict[str, Any] = {"name": ename}
        if len(ent_names) == 1 and entities.get(ename) is not None and entities[ename].description:
            edef["description"] = entities[ename].description
        elif len(ent_names) > 1:
            edef["description"] = "the Feast entities " + ", ".join(ent_names) + " together"
        edef["join_keys"] = [{"name": k, "type": t} for k, t in keys]
        known = entity_defs.get(ename)
        if known is not None and known["join_keys"] != edef["join_keys"]:
            refuse("feature view", vname, f"its entity {ename}'s join keys have other types than in another view",
                   "give the entity's join key one type in every view's source")
            continue
        entity_defs.setdefault(ename, edef)

        features: Dict[str, str] = {}
        fdefs: List[Dict[str, Any]] = []
        for f in view.features:
            fref = f"{vname}:{f.name}"
            ours, instead = _map_type(f.dtype)
            if ours is None:
                refuse("feature", fref, f"Feast type {f.dtype} has no timefence type", instead)
                continue
            if not _NAME.match(f.name) or f.name in _RESERVED or f.name in dict(keys):
                refuse("feature", fref, "its name is not allowed for a timefence feature (a reserved, key or non-identifier name)",
                       "rename it with the source's field_mapping")
                continue
            features[f.name] = ours
            fd: Dict[str, Any] = {"name": f.name, "type": ours}
            if f.description:
                fd["description"] = f.description
            fdefs.append(fd)
        if not fdefs:
            refuse("feature view", vname, "none of its features has a timefence type", "see its features above")
            continue
        vdef: Dict[str, Any] = {"name": vname, "entity": ename, "ttl": format_duration(view.ttl if view.ttl else None)}
        if view.description:
            vdef["description"] = view.description
        if view.owner:
            vdef["owner"] = view.owner
        if view.tags:
            vdef["tags"] = {str(k): str(v) for k, v in view.tags.items()}
        vdef["features"] = fdefs
        views.append(_ViewPlan(vname, ename, [k for k, _ in keys], features, view.batch_source, vdef))
        note = _source_note(view)
        if note is not None:
            report.unmapped.append(note)

    for e in sorted(entities.values(), key=lambda e: e.name):
        if e.name in entity_defs or e.name == "__dummy":
            continue
        kt = _entity_value_key_type(e)
        if kt is None or not _NAME.match(e.name) or not _NAME.match(e.join_key):
            refuse("entity", e.name, "no feature view uses it and its value type is not Int64 or String",
                   "define it in timefence by hand when a view needs it")
            continue
        edef = {"name": e.name}
        if e.description:
            edef["description"] = e.description
        edef["join_keys"] = [{"name": e.join_key, "type": kt}]
        entity_defs[e.name] = edef

    for odfv in sorted(store.list_on_demand_feature_views(), key=lambda v: v.name):
        refuse("on-demand feature view", odfv.name, "its features are computed at request time by Feast's Python transformation",
               "compute them in your application or training code from the imported features "
               "(timefence stores and serves values; it runs no transformations)")
    for sfv in sorted(_list(store, "list_stream_feature_views"), key=lambda v: v.name):
        refuse("stream feature view", sfv.name, "stream feature views are not imported",
               "define a feature view in timefence and have the stream job write to it with client.write")
    for lv in sorted(_list(store, "list_label_views"), key=lambda v: v.name):
        refuse("label view", lv.name, "label views are not imported",
               "keep labels in the spine as pass-through columns of get_historical_features, or write them to a feature view")
    imported = {f"{v.name}:{f}" for v in views for f in v.features}
    for fs in sorted(store.list_feature_services(), key=lambda s: s.name):
        refs = [f"{proj.name_to_use()}:{f.name}" for proj in fs.feature_view_projections for f in proj.features]
        kept = [r for r in refs if r in imported]
        instead = "pass its references as features=: " + (", ".join(kept) if kept else "(none of them was imported)")
        if len(kept) < len(refs):
            instead += f" ({len(refs) - len(kept)} of its features were not imported)"
        for proj in fs.feature_view_projections:
            if proj.join_key_map:
                renames = ", ".join(f"{col!r} to {key!r}" for key, col in sorted(proj.join_key_map.items()))
                instead += f"; its projection of {proj.name_to_use()} reads join keys from other columns: rename {renames} in the spine"
        refuse("feature service", fs.name, "timefence has no feature services", instead)
    planned = {v.source.name for v in views}
    for src in sorted(store.list_data_sources(), key=lambda s: s.name):
        kind = type(src).__name__
        if kind in ("RequestSource", "PushSource") or src.name in planned:
            continue  # reported with their on-demand view / feature view
        if kind != "FileSource":
            refuse("data source", src.name, f"a {kind} is not read by the importer (it reads Parquet FileSources)",
                   "export its rows to Parquet and load them with client.write(view, df, backfill=True) "
                   "or `timefence write --backfill VIEW FILE`")
    return list(entity_defs.values()), views


def _list(store: Any, method: str) -> List[Any]:
    fn = getattr(store, method, None)
    return list(fn()) if fn is not None else []


def _open_store(repo_path: Union[str, os.PathLike]) -> Any:
    feast = _feast()
    path = os.fspath(repo_path)
    if not os.path.isfile(os.path.join(path, "feature_store.yaml")):
        raise ValueError(f"{path} is not a Feast repository: it has no feature_store.yaml")
    store = feast.FeatureStore(repo_path=path)
    if not store.list_feature_views() and not store.list_entities():
        raise ValueError(f"the Feast registry of {path} holds no entities or feature views: run `feast apply` in {path} first")
    return store


def definitions_from_repo(repo_path: Union[str, os.PathLike]) -> Tuple[str, ImportReport]:
    """The timefence definitions (YAML) of a Feast repository, and the report
    of what they leave out. Applies and loads nothing."""
    report = ImportReport(repo_path=os.fspath(repo_path))
    store = _open_store(repo_path)
    _fill_definitions(store, report)
    return report.definitions, report


def _fill_definitions(store: Any, report: ImportReport) -> List[_ViewPlan]:
    entity_defs, views = _plan(store, report)
    doc: Dict[str, Any] = {"entities": entity_defs, "feature_views": [v.definition for v in views]}
    header = (f"# timefence definitions imported from the Feast repository {report.repo_path}\n"
              "# (python -m timefence.feast_import); what was not imported is in the import report.\n")
    report.definitions = header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    report.entities = [e["name"] for e in entity_defs]
    report.feature_views = [v.name for v in views]
    return views


# ---------------------------------------------------------------------------
# Data


def _source_path(source: Any, repo_path: str) -> Optional[str]:
    path = getattr(source, "path", None)
    if path is None:
        return None
    if path.startswith("file://"):
        path = path[len("file://"):]
    if "://" in path:
        return None
    return path if os.path.isabs(path) else os.path.join(repo_path, path)


def _utc(col: pa.ChunkedArray) -> pa.ChunkedArray:
    t = col.type
    if pa.types.is_timestamp(t):
        if t.tz is None:
            col = pc.assume_timezone(col, "UTC")
        return col.cast(pa.timestamp("ns", tz="UTC"))
    return col


def _load_table(plan: _ViewPlan, repo_path: str, lag: Optional[_dt.timedelta]) -> Tuple[pa.Table, str]:
    """The view's source rows, shaped for a backfill write, and how their
    available_at was set."""
    import pyarrow.dataset as ds

    src = plan.source
    path = _source_path(src, repo_path)
    mapping: Dict[str, str] = dict(src.field_mapping or {})
    back = {v: k for k, v in mapping.items()}  # view name -> source column
    ts = src.timestamp_field
    created = src.created_timestamp_column or ""
    # The event and created columns are named in the source's own names;
    # accept their mapped names too.
    ts_col = ts if ts not in back else back[ts]
    created_col = (created if created not in back else back[created]) if created else ""
    wanted = [back.get(k, k) for k in plan.keys] + [ts_col] + ([created_col] if created_col else []) + \
        [back.get(f, f) for f in plan.features]
    dataset = ds.dataset(path, format="parquet")
    have = set(dataset.schema.names)
    missing = [c for c in wanted if c not in have]
    if missing:
        raise ValueError(f"feature view {plan.name}: its source {path} has no column " + ", ".join(missing))
    table = dataset.to_table(columns=list(dict.fromkeys(wanted)))
    cols: Dict[str, pa.ChunkedArray] = {}
    for k in plan.keys:
        cols[k] = table[back.get(k, k)]
    cols["event_timestamp"] = _utc(table[ts_col])
    if created_col:
        cols["available_at"] = _utc(table[created_col])
        how = f"the source's created column {created}"
    else:
        cols["available_at"] = pc.add(cols["event_timestamp"], pa.scalar(lag, pa.duration("us")).cast(pa.duration("ns")))
        how = f"event time + {format_duration(lag)}"
    for f, ours in plan.features.items():
        col = table[back.get(f, f)]
        target = {"float_list": pa.list_(pa.float32()), "float": pa.float32(), "double": pa.float64(),
                  "double_list": pa.list_(pa.float64())}.get(ours)
        if ours in ("int64", "int32") and pa.types.is_integer(col.type):
            target = arrow_type(ours)
        if target is not None and col.type != target:
            # Feast's declared type: float64 values of a Float32 or
            # Array(Float32) feature are stored as float32.
            col = col.cast(target, safe=False)
        if ours in ("json", "map") and not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            col = _arrow.json_columns(pa.table({f: col}), [f], f"feature view {plan.name}")[f]
        cols[f] = col
    out = pa.table(cols)
    # Rows of one key and event time are versions in row order, the last
    # winning; order them by created time (stable) so the last created wins,
    # as in Feast. Different created times are ordered by available_at anyway.
    order = pc.sort_indices(out, sort_keys=[("available_at", "ascending")])
    return out.take(order), how


def _batch_id(view: str, table: pa.Table) -> str:
    h = hashlib.sha256()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    h.update(sink.getvalue().to_pybytes())
    return f"feast-import:{view}:{h.hexdigest()[:32]}"


# ---------------------------------------------------------------------------
# The import


def import_repo(
    repo_path: Union[str, os.PathLike],
    client: "Client",
    *,
    lag: Union[_dt.timedelta, str, None] = None,
    definitions_out: Union[str, os.PathLike, None] = None,
    dry_run: bool = False,
    quiet: bool = False,
) -> ImportReport:
    """Imports the Feast repository at ``repo_path`` into the server of ``client``.

    - Reads the repository's registry with the Feast SDK (``feast apply`` it
      first) and builds a definitions file: entities with typed join keys,
      feature views with their features (Feast types mapped: Int64, Int32,
      Float64 to double, Float32 to float, String, Bool, Bytes, UnixTimestamp
      to timestamp, Array of each to its list, Map to map, Json and Struct to
      json; see docs/types.md), ttl, description,
      owner and tags. A view of several entities gets one entity with all their
      join keys, named ``a__b``. The YAML is written to ``definitions_out``
      when given.
    - Applies it with ``client.apply`` (all or nothing; ``dry_run`` passes
      through, and then nothing is loaded).
    - Loads each view's Parquet ``FileSource`` (its batch source) as a
      backfill: ``available_at`` is the source's ``created_timestamp_column``
      when it has one, else event time + ``lag`` (a timedelta or a duration
      such as ``"1h"``); a view with neither is refused before anything is
      applied. The source's ``timestamp_field`` and ``field_mapping`` are
      followed; columns not in the view are dropped. Rows are written in
      batches of at most ``BATCH_ROWS`` with batch ids derived from their
      content, so running the import again writes nothing twice.

    Returns an :class:`ImportReport` (printed unless ``quiet``) that lists
    what was created, the rows loaded per view, and what was not imported
    (on-demand and stream feature views, push and stream sources, feature
    services, label views, non-file sources, unmappable feature types), each
    with what to do instead. Raises :class:`FeastMissing` without the Feast
    SDK, ``ValueError`` for a repository it cannot import, and the client's
    errors (e.g. :class:`~timefence.SchemaMismatch`) when the server refuses.
    """
    repo = os.fspath(repo_path)
    lag_td = parse_duration(lag, "lag") if lag is not None else None
    report = ImportReport(repo_path=repo, dry_run=dry_run)
    store = _open_store(repo)
    plans = _fill_definitions(store, report)

    loadable: List[_ViewPlan] = []
    for p in plans:
        kind = type(p.source).__name__
        if kind != "FileSource" or _source_path(p.source, repo) is None:
            report.unmapped.append(Unmapped(
                "data source", p.source.name,
                f"feature view {p.name} was defined but its {kind} "
                + ("is not a local file" if kind == "FileSource" else "is not a Parquet FileSource") + ", so no rows were loaded",
                f"export its rows to Parquet and load them with client.write({p.name!r}, df, backfill=True)"))
            continue
        if getattr(p.source, "file_format", None) is not None and type(p.source.file_format).__name__ != "ParquetFormat":
            report.unmapped.append(Unmapped("data source", p.source.name, f"the source of {p.name} is not Parquet",
                                            "convert it to Parquet and run the import again"))
            continue
        if not p.source.created_timestamp_column and lag_td is None:
            raise ValueError(
                f"feature view {p.name}: its source {p.source.name} has no created_timestamp_column, so nothing says "
                "when its rows became available; pass a lag (lag=timedelta(hours=1), or --lag 1h) to make each row "
                "available at its event time plus the lag (0s reproduces Feast's event-time join, leaks included)")
        loadable.append(p)

    if definitions_out is not None:
        with open(definitions_out, "w", encoding="utf-8") as f:
            f.write(report.definitions)
    report.apply = client.apply(report.definitions, dry_run=dry_run)

    for p in loadable:
        table, how = _load_table(p, repo, lag_td)
        report.available_at[p.name] = how
        report.rows[p.name] = table.num_rows
        if dry_run:
            continue
        for start in range(0, table.num_rows, BATCH_ROWS):
            chunk = table.slice(start, BATCH_ROWS)
            got = client.write(p.name, chunk, batch_id=_batch_id(p.name, chunk), backfill=True)
            if got.get("duplicate"):
                report.already_loaded[p.name] = report.already_loaded.get(p.name, 0) + chunk.num_rows
    if not quiet:
        print(report)
    return report


# ---------------------------------------------------------------------------
# Command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m timefence.feast_import",
        description="Import a Feast repository (feast apply it first) into a timefence server: "
                    "definitions, then each view's Parquet source as a backfill.")
    p.add_argument("repo_path", help="the Feast repository: the folder of feature_store.yaml")
    p.add_argument("--lag", help="for sources without a created_timestamp_column: rows become available at "
                                 "event time + LAG (e.g. 1h, 30m, 1d, 0s)")
    p.add_argument("--definitions-out", help="also write the definitions (YAML) to this file")
    p.add_argument("--dry-run", action="store_true", help="check the definitions with the server; apply and load nothing")
    p.add_argument("--addr", default=os.environ.get("TIMEFENCE_ADDR", "localhost:7070"),
                   help="server address (env TIMEFENCE_ADDR, default localhost:7070)")
    p.add_argument("--tls", action="store_true", help="connect over TLS, trusting the system's certificate authorities")
    p.add_argument("--tls-ca", help="connect over TLS, trusting this PEM certificate authority")
    p.add_argument("--tls-cert", help="client certificate (PEM) for mutual TLS")
    p.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    return p


def _tls(args: argparse.Namespace) -> Any:
    if not (args.tls_ca or args.tls_cert or args.tls_key):
        return bool(args.tls)
    import grpc

    if bool(args.tls_cert) != bool(args.tls_key):
        raise ValueError("mutual TLS needs both --tls-cert and --tls-key")

    def read(p: Optional[str]) -> Optional[bytes]:
        if not p:
            return None
        with open(p, "rb") as f:
            return f.read()

    return grpc.ssl_channel_credentials(read(args.tls_ca), read(args.tls_key), read(args.tls_cert))


def _one_line(e: BaseException) -> str:
    return "; ".join(line.strip() for line in str(e).splitlines() if line.strip())


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line; the token comes from TIMEFENCE_TOKEN."""
    args = _parser().parse_args(argv)
    from .client import Client
    from .errors import TimefenceError

    try:
        with Client(args.addr, token=os.environ.get("TIMEFENCE_TOKEN") or None, tls=_tls(args)) as client:
            import_repo(args.repo_path, client, lag=args.lag, definitions_out=args.definitions_out, dry_run=args.dry_run)
    except FeastMissing as e:
        print(f"timefence import feast: {_one_line(e)}", file=sys.stderr)
        return 3
    except (ValueError, OSError, TimefenceError) as e:
        print(f"timefence import feast: {_one_line(e)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
