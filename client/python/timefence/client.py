"""The timefence client."""

from __future__ import annotations

import json
import os
import pathlib
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union

import grpc
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import _arrow, _flight, _hints, _online, _time
from google.protobuf import json_format

from ._proto.timefence.v1 import (
    dataset_service_pb2,
    dataset_service_pb2_grpc,
    online_service_pb2_grpc,
    registry_service_pb2,
    registry_service_pb2_grpc,
    serving_log_pb2,
    serving_log_pb2_grpc,
    types_pb2,
)
from ._online import OnlineFeatures
from .definitions import Entity, FeatureView, Split, arrow_type, definitions_request
from ._hints import NoDataUnderSplit
from .errors import InvalidArgument, SplitRequired, TimefenceError, from_rpc_error

__all__ = ["Client", "ApplyResult", "Change", "HistoricalFeatures", "OnlineFeatures", "SkewReport"]

T = TypeVar("T")

@dataclass
class Change:
    """What :meth:`Client.apply` did, or in a dry run would do, to one definition."""

    kind: str  # "entity", "feature_view" or "split"
    name: str
    action: str  # "created", "updated", "unchanged" or "refused"
    version: int = 0  # the definition version after the apply (entities, views)
    location: str = ""  # "file:line" of the definition, or e.g. "feature_views[0]"
    problem: str = ""  # why it is refused
    reason: str = ""  # the refusal's reason, e.g. "SCHEMA_MISMATCH"

    def __str__(self) -> str:
        v = f" (v{self.version})" if self.version else ""
        why = f": {self.problem}" if self.problem else ""
        return f"{self.action:9} {self.kind} {self.name}{v}{why}"


@dataclass
class ApplyResult:
    """The plan of :meth:`Client.apply`: one :class:`Change` per definition,
    and the definitions as the server holds them after it (or would, in a
    dry run). ``applied`` is False for a dry run."""

    changes: List[Change] = field(default_factory=list)
    entities: List[Entity] = field(default_factory=list)
    feature_views: List[FeatureView] = field(default_factory=list)
    splits: List[Split] = field(default_factory=list)
    applied: bool = True

    def _names(self, action: str) -> List[str]:
        return [f"{c.kind}:{c.name}" for c in self.changes if c.action == action]

    @property
    def created(self) -> List[str]:
        """``"kind:name"`` of the definitions created."""
        return self._names("created")

    @property
    def updated(self) -> List[str]:
        """``"kind:name"`` of the definitions changed."""
        return self._names("updated")

    @property
    def unchanged(self) -> List[str]:
        """``"kind:name"`` of the definitions that were already current."""
        return self._names("unchanged")

    @property
    def refused(self) -> List[Change]:
        """The refused definitions (only a dry run returns them; an apply raises)."""
        return [c for c in self.changes if c.action == "refused"]

    def __str__(self) -> str:
        if not self.changes:
            return "nothing to apply"
        counts = ", ".join(
            f"{n} {a}"
            for a, n in (
                ("created", len(self.created)),
                ("updated", len(self.updated)),
                ("unchanged", len(self.unchanged)),
                ("refused", len(self.refused)),
            )
            if n
        )
        head = "applied" if self.applied else "dry run, nothing applied: would apply"
        lines = [f"{head} {len(self.changes)} definitions: {counts}"]
        return "\n".join(lines + [f"  {c.location}: {c}" if c.problem else f"  {c}" for c in self.changes])


_ACTIONS = {"create": "created", "update": "updated"}


FeatureRefs = Union[str, FeatureView, Sequence[Union[str, FeatureView]]]
TableLike = Union[pd.DataFrame, pa.Table]


def _parse_address(address: str) -> Tuple[str, Optional[bool]]:
    for scheme, tls in (("grpc+tls://", True), ("grpcs://", True), ("grpc+tcp://", False), ("grpc://", False), ("http://", False), ("https://", True)):
        if address.startswith(scheme):
            return address[len(scheme) :].rstrip("/"), tls
    return address, None


class Client:
    """A connection to a timefence server.

    Args:
        address: ``"host:port"`` (a ``grpc://`` or ``grpc+tls://`` prefix is accepted).
        token: a bearer token sent with every call (``authorization: Bearer ...``).
        tls: ``False`` for plaintext, ``True`` for TLS with the system's root
            certificates, PEM root certificate ``bytes``, or a
            ``grpc.ChannelCredentials``.
        timeout: deadline in seconds for unary calls (registry, online lookups);
            ``None`` leaves it to the server. Bulk Flight calls have no deadline.
        options: extra gRPC channel options.

    The client is safe to share between threads; use it as a context manager
    or call :meth:`close`. The registry, online and write calls use gRPC; bulk
    writes and point-in-time joins use Arrow Flight on the same channel.
    """

    def __init__(
        self,
        address: str = "localhost:7070",
        token: Optional[str] = None,
        tls: Union[bool, bytes, grpc.ChannelCredentials, None] = False,
        *,
        timeout: Optional[float] = None,
        options: Optional[Sequence[Tuple[str, Any]]] = None,
    ) -> None:
        target, scheme_tls = _parse_address(address)
        if scheme_tls and tls is False:
            tls = True
        merged: Dict[str, Any] = {
            "grpc.max_receive_message_length": -1,
            "grpc.max_send_message_length": -1,
            "grpc.primary_user_agent": "timefence-python",
        }
        merged.update(dict(options or []))
        opts = list(merged.items())
        if tls is False or tls is None:
            self._channel = grpc.insecure_channel(target, options=opts)
        else:
            if isinstance(tls, grpc.ChannelCredentials):
                creds = tls
            elif tls is True:
                creds = grpc.ssl_channel_credentials()
            elif isinstance(tls, (bytes, bytearray)):
                creds = grpc.ssl_channel_credentials(root_certificates=bytes(tls))
            else:
                raise InvalidArgument(f"tls: expected a bool, PEM bytes or grpc.ChannelCredentials, got {type(tls).__name__}")
            self._channel = grpc.secure_channel(target, creds, options=opts)
        self.address = target
        self.timeout = timeout
        self._metadata: Tuple[Tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
        self._registry = registry_service_pb2_grpc.RegistryServiceStub(self._channel)
        self._online = online_service_pb2_grpc.OnlineServiceStub(self._channel)
        self._do_put = self._channel.stream_stream(
            _flight.DO_PUT, request_serializer=_flight.identity, response_deserializer=_flight.decode_put_result
        )
        self._datasets = dataset_service_pb2_grpc.DatasetServiceStub(self._channel)
        self._logs = serving_log_pb2_grpc.ServingLogServiceStub(self._channel)
        self._do_get = self._channel.unary_stream(
            _flight.DO_GET, request_serializer=_flight.ticket, response_deserializer=_flight.decode_flight_data
        )
        self._do_exchange = self._channel.stream_stream(
            _flight.DO_EXCHANGE, request_serializer=_flight.identity, response_deserializer=_flight.decode_flight_data
        )
        self._lock = threading.Lock()
        self._views: Dict[str, FeatureView] = {}
        self._entities: Dict[str, Entity] = {}
        self._online_names = _online.Names()
        #: The summary of the last point-in-time join (see :meth:`get_historical_features`).
        self.last_summary: Optional[Dict[str, Any]] = None

    # -- plumbing ---------------------------------------------------------

    def close(self) -> None:
        """Closes the connection."""
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"timefence.Client({self.address!r})"

    @staticmethod
    def _warn(messages: Sequence[str]) -> None:
        """Warns each message, as raised by the public method that called this."""
        for m in messages:
            warnings.warn(m, NoDataUnderSplit, stacklevel=3)

    def _call(self, method: Callable[..., T], request: Any) -> T:
        try:
            return method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    # -- registry ---------------------------------------------------------

    def apply(self, definitions: Any, *, dry_run: bool = False) -> ApplyResult:
        """Applies entities, feature views and splits, all or nothing.

        ``definitions`` is a YAML file path, a YAML string, a mapping shaped like
        the YAML file, an :class:`Entity` / :class:`FeatureView` / :class:`Split`,
        or a list of them. The server parses the file (the same parser as
        ``timefence apply``), checks every definition against what it holds
        and against the others, and applies them together only if none is
        refused; a refusal raises its exception (e.g.
        :class:`~timefence.SchemaMismatch`, or :class:`~timefence.InvalidArgument`
        at the file's line) naming every refused definition, and nothing is
        applied. With ``dry_run=True`` nothing is applied and the result is the
        plan, refusals included (:attr:`ApplyResult.refused`). Re-applying the
        same definitions changes nothing.
        """
        resp = self._call(self._registry.ApplyDefinitions, definitions_request(definitions, dry_run))
        result = ApplyResult(applied=resp.applied)
        for c in resp.changes:
            action = _ACTIONS.get(c.action, c.action)
            result.changes.append(Change(c.kind, c.name, action, c.version, c.location, c.problem, c.reason))
            which = c.WhichOneof("definition")
            if which == "entity":
                got = Entity.from_proto(c.entity)
                result.entities.append(got)
                if resp.applied:
                    with self._lock:
                        self._entities[got.name] = got
            elif which == "feature_view":
                gotv = FeatureView.from_proto(c.feature_view)
                result.feature_views.append(gotv)
                if resp.applied:
                    with self._lock:
                        self._views[gotv.name] = gotv
            elif which == "split":
                result.splits.append(Split.from_proto(c.split))
        return result

    def get_entity(self, name: str) -> Entity:
        """The entity named name; :class:`~timefence.UnknownEntity` if there is none."""
        e = Entity.from_proto(self._call(self._registry.GetEntity, registry_service_pb2.GetEntityRequest(name=name)).entity)
        with self._lock:
            self._entities[e.name] = e
        return e

    def list_entities(self) -> List[Entity]:
        resp = self._call(self._registry.ListEntities, registry_service_pb2.ListEntitiesRequest())
        return [Entity.from_proto(e) for e in resp.entities]

    def get_feature_view(self, name: str) -> FeatureView:
        """The feature view named name; :class:`~timefence.UnknownFeatureView` if there is none."""
        resp = self._call(self._registry.GetFeatureView, registry_service_pb2.GetFeatureViewRequest(name=name))
        v = FeatureView.from_proto(resp.feature_view)
        with self._lock:
            self._views[v.name] = v
        return v

    def list_feature_views(self) -> List[FeatureView]:
        resp = self._call(self._registry.ListFeatureViews, registry_service_pb2.ListFeatureViewsRequest())
        return [FeatureView.from_proto(v) for v in resp.feature_views]

    def create_split(
        self,
        name: str,
        start: Optional[_time.TimeLike] = None,
        end: Optional[_time.TimeLike] = None,
        description: str = "",
    ) -> Split:
        """Creates the immutable split ``[start, end]`` (``end`` is the cutoff).

        Times are datetimes or pandas Timestamps (naive ones are UTC), or
        strings in RFC 3339 with a zone, like ``"2024-06-30T23:59:59Z"`` or
        ``"2024-06-30 23:59:59+02:00"``, nanoseconds kept: the rule of the
        CLI and the definitions file. Any other string, a date alone among
        them, raises :class:`~timefence.InvalidArgument` (``"2024-06-30"``
        could mean its first or its last instant). Without ``start`` the
        window opens at the Unix epoch. Creating
        an identical split again succeeds; other bounds raise
        :class:`~timefence.SplitExists`.
        """
        if end is None:
            raise InvalidArgument("create_split: end is required (it is the split's cutoff)")
        sp = Split(name=name, start=start, end=end, description=description)  # type: ignore[arg-type]
        resp = self._call(self._registry.CreateSplit, registry_service_pb2.CreateSplitRequest(split=sp.to_proto()))
        return Split.from_proto(resp.split)

    def get_split(self, name: str) -> Split:
        """The split named name; :class:`~timefence.UnknownSplit` if there is none."""
        return Split.from_proto(self._call(self._registry.GetSplit, registry_service_pb2.GetSplitRequest(name=name)).split)

    def list_splits(self) -> List[Split]:
        resp = self._call(self._registry.ListSplits, registry_service_pb2.ListSplitsRequest())
        return [Split.from_proto(s) for s in resp.splits]

    # -- cached definitions -----------------------------------------------

    def _view(self, name: str, need: Iterable[str] = ()) -> Optional[FeatureView]:
        """The definition of a view, from the cache unless it lacks a needed
        feature (features can be added, never changed). None if unknown."""
        with self._lock:
            v = self._views.get(name)
        if v is not None and all(v.feature(f) is not None for f in need):
            return v
        try:
            return self.get_feature_view(name)
        except TimefenceError:  # unknown, or not allowed: the server will say what it thinks
            return None

    def _entity(self, name: str) -> Optional[Entity]:
        with self._lock:
            e = self._entities.get(name)
        if e is not None:
            return e
        try:
            return self.get_entity(name)
        except TimefenceError:
            return None

    def _key_types(self, views: Iterable[str]) -> Dict[str, str]:
        """The join key types of the entities of some views."""
        out: Dict[str, str] = {}
        for vname in views:
            v = self._view(vname)
            e = self._entity(v.entity_name) if v is not None else None
            for k in e.join_keys if e is not None else ():
                out.setdefault(k.name, k.type)
        return out

    # -- writes -----------------------------------------------------------

    def write(
        self,
        view: str,
        df: TableLike,
        batch_id: Optional[str] = None,
        event_time_column: str = "event_timestamp",
        *,
        backfill: bool = False,
        available_at_column: str = "available_at",
    ) -> Dict[str, Any]:
        """Writes a table of feature values to a view as one atomic batch, in
        bulk over Arrow Flight.

        ``df`` (pandas DataFrame or pyarrow Table) has the view's join key
        columns, the event time column, and any subset of the view's features
        (absent ones are written as null). Naive datetimes are UTC; columns are
        cast to the view's types where that loses nothing (e.g. int to double).
        A ``json`` or ``map`` feature takes JSON text or Python objects (dicts,
        lists, numbers), which are written as JSON text; a ``timestamp``
        feature takes datetimes or strings under the timestamp rule.
        The batch is validated whole and becomes visible whole, or is refused
        with nothing written (:class:`~timefence.InvalidArgument`). With
        ``batch_id``, retrying the same batch writes nothing twice; the same id
        with other content raises :class:`~timefence.BatchConflict`.

        A bool ``deleted`` column marks deletions: a row with ``True`` is a
        tombstone for its key from its event time on, and its features must
        be null (required ones too); null in ``deleted`` is ``False``.

        A ``backfill`` write carries each row's ``available_at`` (column
        ``available_at_column``); its versions are flagged backfilled, and a
        ``backfilled`` column is ignored. So a table from :meth:`export`
        writes back as it is with ``backfill=True``.

        Returns the server's result: ``{"first_seq", "last_seq", "commit_time",
        "rows", "duplicate"}``.
        """
        what = f"write to {view!r}"
        v = self._view(view, [c for c in _arrow.column_names(df)
                              if c not in (event_time_column, available_at_column, "deleted", "backfilled")])
        if v is not None:
            df = _arrow.json_columns(df, [f.name for f in v.features if f.type in ("json", "map")], what)
            df = _arrow.list_columns(df, {f.name: arrow_type(f.type) for f in v.features if f.type.endswith("_list")}, what)
        table = _arrow.to_table(df, what)
        table = _arrow.ensure_timestamp(table, event_time_column, what)
        if backfill:
            table = _arrow.ensure_timestamp(table, available_at_column, what)
        if v is not None:
            targets: Dict[str, pa.DataType] = {}
            e = self._entity(v.entity_name)
            for k in e.join_keys if e is not None else ():
                targets[k.name] = arrow_type(k.type)
            for f in v.features:
                targets.setdefault(f.name, arrow_type(f.type))
                if f.type == "timestamp":
                    table = _arrow.ensure_timestamp(table, f.name, what)
            table = _arrow.cast_columns(table, targets, what)
        cmd: Dict[str, Any] = {"op": "write", "feature_view": view}
        if batch_id:
            cmd["batch_id"] = batch_id
        if backfill:
            cmd["backfill"] = True
            cmd["available_at_column"] = available_at_column
        if event_time_column != "event_timestamp":
            cmd["event_time_column"] = event_time_column
        return self._put(cmd, table, what)

    def delete(
        self,
        view: str,
        keys: Union[Mapping[str, Any], pd.DataFrame],
        event_time: Optional[_time.TimeLike] = None,
        batch_id: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Deletes entities from a view: writes a tombstone for each key at
        ``event_time`` (default now, UTC), in one atomic batch. From that time
        on the keys read as not found, online and in joins; reads at earlier
        times still see their history. Tombstones are live writes, available
        from their commit.

        ``keys`` holds all join keys of the view's entity, as for
        :meth:`get_online_features`: ``{"user_id": [1, 2]}``, or a DataFrame of
        key columns. ``batch_id`` makes a retry write nothing twice. Returns
        the result, as :meth:`write` does.
        """
        what = f"delete from {view!r}"
        names, columns = _entity_columns(keys)
        rows = len(columns[0]) if columns else 0
        if rows == 0:
            raise InvalidArgument(f"{what}: keys: at least one entity is required")
        v = self._view(view)
        e = self._entity(v.entity_name) if v is not None else None
        targets: Dict[str, pa.DataType] = {}
        if e is not None:
            want = [k.name for k in e.join_keys]
            if sorted(names) != sorted(want):
                raise InvalidArgument(
                    f"{what}: keys: {view} is keyed by {', '.join(want)} (entity {e.name}); got {', '.join(names)}"
                )
            targets = {k.name: arrow_type(k.type) for k in e.join_keys}
        try:
            table = pa.table({n: pa.array(c) for n, c in zip(names, columns)})
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise InvalidArgument(f"{what}: keys: {err}") from None
        table = _arrow.cast_columns(table, targets, what)
        at = pd.Timestamp.now(tz="UTC") if event_time is None else _time.to_timestamp(event_time, "event_time")
        table = table.append_column("event_timestamp", pa.array([at.value] * rows, pa.timestamp("ns", "UTC")))
        table = table.append_column("deleted", pa.array([True] * rows, pa.bool_()))
        cmd: Dict[str, Any] = {"op": "write", "feature_view": view}
        if batch_id:
            cmd["batch_id"] = batch_id
        return self._put(cmd, table, what)

    def _put(self, cmd: Dict[str, Any], table: pa.Table, what: str) -> Dict[str, Any]:
        """Sends a table with a DoPut command; returns the write's result."""
        messages = _flight.encode_stream(json.dumps(cmd).encode(), table.schema, _arrow.batches(table))
        call = self._do_put(messages, metadata=self._metadata)
        result: Optional[bytes] = None
        try:
            for meta in call:
                if result is None:
                    result = meta
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        except BaseException:
            call.cancel()
            raise
        if not result:
            raise TimefenceError(f"{what}: the server ended the write without a result")
        return dict(json.loads(result))

    # -- point-in-time joins ----------------------------------------------

    def get_historical_features(
        self,
        spine: Optional[TableLike] = None,
        features: Optional[FeatureRefs] = None,
        split: Optional[str] = None,
        timestamp_column: str = "event_timestamp",
        full_feature_names: bool = False,
        as_arrow: bool = False,
        *,
        entity_df: Optional[TableLike] = None,
        dtype_backend: str = "nullable",
        dataset_id: Optional[str] = None,
    ) -> Union["HistoricalFeatures", pa.Table]:
        """Point-in-time join: for each spine row, the feature values production
        would have read at the row's timestamp, under a split.

        Args:
            spine: a pandas DataFrame or pyarrow Table with the join keys of every
                requested view, the timestamp column, and any other columns
                (labels, ids), which pass through unchanged.
            features: feature references, ``"view:feature"`` or ``"view"`` for
                all of a view's features.
            split: the split the read runs under (required). Every spine timestamp must lie
                in its window, or :class:`~timefence.CutoffExceeded` is raised and
                nothing is returned. Without one, :class:`~timefence.SplitRequired`.
            entity_df: Feast's name for ``spine``; pass one or the other.
            timestamp_column: the spine's timestamp column. Naive datetimes
                are UTC; strings are read as the CLI reads CSV cells: RFC 3339
                (``2024-01-01T00:00:00Z``), ``2024-01-01 00:00:00`` without a
                zone (UTC) or a date (midnight UTC); any other string (such
                as ``03/02/2024``) is refused, never guessed.
            full_feature_names: name feature columns ``view__feature``.
            as_arrow: return a ``pyarrow.Table`` instead of a DataFrame.
            dataset_id: re-read a recorded dataset (see :meth:`manifest`): with the
                same spine the result is byte-identical to the first read's,
                whatever was written since; ``features`` and ``split`` may be
                left empty then.
            dtype_backend: for DataFrames, how feature columns are typed:
                ``"nullable"`` (default) gives ``Int64``, ``boolean`` and ``string``
                columns with ``pd.NA`` for missing values, numpy floats with NaN,
                object columns for bytes and float lists; ``"pyarrow"`` gives
                ``pd.ArrowDtype`` columns; ``"numpy"`` pyarrow's defaults.

        Returns a :class:`HistoricalFeatures`, a pandas DataFrame that also
        has Feast's ``to_df()`` and ``to_arrow()``: the spine's columns (in
        spine order, with the spine's index for a
        DataFrame; naive datetime columns become UTC) followed by one nullable
        column per feature; a feature is null when it had no value at the row's
        time. Timestamps are tz-aware UTC. The join summary (``rows``, ``split``,
        ``watermark``, ``naive_differences``, ``max_event_time``,
        ``max_available_at``, ``backfilled_values``, ``dataset_id``,
        ``checksum``) is in
        ``df.attrs["timefence"]`` (for a Table, the schema metadata key
        ``timefence`` as JSON) and in :attr:`last_summary`.

        When every feature of a view is null in every row, a
        :class:`~timefence.NoDataUnderSplit` warning says whether the view
        has no version under the split (history written live, after the
        cutoff: load it with ``write(..., backfill=True)``) or has versions
        the spine's keys and timestamps did not meet.
        """
        if entity_df is not None:
            if spine is not None:
                raise TypeError("get_historical_features: pass the spine once, as spine or as entity_df (Feast's name)")
            spine = entity_df
        if spine is None:
            raise TypeError("get_historical_features: missing the spine (a DataFrame of join keys and timestamps): pass spine or entity_df=")
        if features is None and not dataset_id:
            raise TypeError("get_historical_features: missing features: pass features=['view:feature', ...]")
        refs = _refs(features if features is not None else [])
        what = "spine"
        table = _arrow.to_table(spine, what)
        table = _arrow.ensure_timestamp(table, timestamp_column, what)
        table = self._cast_keys(table, refs)
        cmd: Dict[str, Any] = {"op": "historical", "split": split or "", "features": refs}
        if dataset_id:
            cmd["dataset_id"] = dataset_id
        if timestamp_column != "event_timestamp":
            cmd["timestamp_column"] = timestamp_column
        if full_feature_names:
            cmd["full_feature_names"] = True
        messages = _flight.encode_stream(json.dumps(cmd).encode(), table.schema, _arrow.batches(table))
        reader = _flight.StreamReader()
        call = self._do_exchange(messages, metadata=self._metadata)
        try:
            for fd in call:
                reader.add(fd)
        except grpc.RpcError as err:
            raise _split_hint(from_rpc_error(err), "get_historical_features") from None
        except BaseException:
            call.cancel()
            raise
        result = reader.table()
        if result.num_rows != table.num_rows:
            raise TimefenceError(f"the join returned {result.num_rows} rows for a spine of {table.num_rows}")
        summary: Dict[str, Any] = json.loads(reader.last_app_metadata) if reader.last_app_metadata else {}
        self.last_summary = summary
        if result.num_rows > 0:
            present = [c.length() - c.null_count for c in result.columns[table.num_columns :]]
            self._warn(_hints.null_views(self, summary.get("split") or split or "", refs, present))
        if as_arrow:
            result = _arrow.utc_timestamps(result)
            return result.replace_schema_metadata({"timefence": json.dumps(summary)})
        feats = result.select(list(range(table.num_columns, result.num_columns)))
        out = self._spine_frame(spine, result.select(list(range(table.num_columns))), timestamp_column, dtype_backend)
        fdf = _arrow.to_pandas(feats, dtype_backend)
        fdf.index = out.index
        out = HistoricalFeatures(pd.concat([out, fdf], axis=1), copy=False)
        out.attrs["timefence"] = summary
        return out

    # -- datasets -----------------------------------------------------------

    def export(
        self,
        split: str,
        views: Union[str, Sequence[str]],
        path: Union[str, os.PathLike, None] = None,
        *,
        dataset_ids: Optional[Mapping[str, str]] = None,
    ) -> Dict[str, pa.Table]:
        """Snapshot export: every version of each view that production could
        have seen by the split's cutoff (event time and available-at time both
        within the split).

        Each table has the view's join keys, ``event_timestamp``,
        ``available_at``, ``deleted``, ``backfilled`` and the features. With a
        ``path`` (a directory, created if missing), each view is also written
        as ``<view>.parquet`` with its manifest beside it as
        ``<view>.manifest.json``, for DuckDB, Spark or pandas to read. The
        export's summary (``dataset_id``, ``checksum``, ``rows``, ...) is in
        the table's schema metadata under ``timefence``. ``dataset_ids`` maps
        a view to a recorded export to repeat byte for byte. A view with no
        version under the split gets a :class:`~timefence.NoDataUnderSplit`
        warning.
        """
        names = [views] if isinstance(views, str) else list(views)
        directory = None if path is None else pathlib.Path(path)
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

        summaries: Dict[str, Dict[str, Any]] = {}

        def one(view: str) -> pa.Table:
            cmd: Dict[str, Any] = {"op": "export", "split": split, "feature_view": view}
            if dataset_ids and view in dataset_ids:
                cmd = {"op": "export", "dataset_id": dataset_ids[view]}
            table, summary = self._get_table(cmd)
            summaries[view] = summary
            if directory is not None:
                write_parquet(table, directory / f"{view}.parquet")
                manifest = self.manifest(summary["dataset_id"])
                (directory / f"{view}.manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
            return table

        # One thread per view: the streams and the Parquet encoding of
        # different views overlap (both release the GIL).
        results: Dict[str, pa.Table] = {}
        errors: List[BaseException] = []

        def run(view: str) -> None:
            try:
                results[view] = one(view)
            except BaseException as err:  # re-raised below, in the caller's thread
                errors.append(err)

        threads = [threading.Thread(target=run, args=(v,)) for v in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        for v in names:
            if results[v].num_rows == 0:
                self._warn(_hints.empty(self, summaries[v].get("split") or split, [v]))
        return {v: results[v] for v in names}

    def manifest(self, dataset_id: str) -> Dict[str, Any]:
        """The manifest of a historical read or export: spine hash, features
        with their definition versions, split, watermark, row count, latest
        event and available-at times read, backfilled values used, the
        naive-join difference count, server version and output checksum."""
        resp = self._call(self._datasets.GetManifest, dataset_service_pb2.GetManifestRequest(dataset_id=dataset_id))
        return json_format.MessageToDict(resp.manifest, preserving_proto_field_name=True)

    def list_manifests(self) -> List[Dict[str, Any]]:
        """Every recorded manifest."""
        resp = self._call(self._datasets.ListManifests, dataset_service_pb2.ListManifestsRequest())
        return [json_format.MessageToDict(m, preserving_proto_field_name=True) for m in resp.manifests]

    def statistics(self, split: str, view: str, features: Optional[Sequence[str]] = None) -> pd.DataFrame:
        """The safe ``describe()``: per feature count, null rate, min, max,
        mean, standard deviation, quantiles (1, 5, 25, 50, 75, 95, 99 %), most
        frequent values and distinct count, over the view's versions within
        the split only. One row per feature; the response's totals
        (``versions``, ``entities``, ``watermark``) are in ``df.attrs``, and
        how late the versions arrived in ``df.attrs["arrival_lag_seconds"]``
        (``count``, ``min``, ``median``, ``p95``, ``max``, ``mean``). A
        view with no version under the split gets a
        :class:`~timefence.NoDataUnderSplit` warning."""
        req = dataset_service_pb2.GetStatisticsRequest(split=split, feature_view=view, features=list(features or []))
        resp = self._call(self._datasets.GetStatistics, req)
        if resp.versions == 0:
            self._warn(_hints.empty(self, resp.split or split, [resp.feature_view or view]))
        return _stats_frame(resp)

    def create_sandbox(self, split: str, path: Union[str, os.PathLike]) -> Dict[str, Any]:
        """Cuts a sandbox from the server at ``split`` into the file ``path``:
        a store of its own with the definitions, ``split`` and the splits that
        end no later, every version that happened and arrived by the split's
        end, and the datasets recorded under those splits; nothing after the
        cutoff (docs/sandbox.md). The file is a backup file: restore it with
        ``timefence restore --data DIR PATH`` and serve it, read-only, with
        ``timefence serve --data DIR`` (``timefence sandbox create`` does both
        steps and writes Parquet copies). ``path`` appears only once whole.

        Returns what was cut: ``split``, ``cutoff``, ``splits``, ``versions``,
        ``left_out``, ``manifests``, ``watermark`` and ``source_store_id``."""
        path = os.fspath(path)
        tmp = path + ".partial"
        req = dataset_service_pb2.CreateSandboxRequest(split=split)
        info = None
        try:
            with open(tmp, "wb") as f:
                for msg in self._datasets.CreateSandbox(req, timeout=self.timeout, metadata=self._metadata):
                    if msg.chunk:
                        f.write(msg.chunk)
                    if msg.HasField("info"):
                        info = msg.info
                f.flush()
                os.fsync(f.fileno())
            if info is None:
                raise TimefenceError("the sandbox stream ended without its summary")
            os.replace(tmp, path)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return {
            "split": info.split.name,
            "cutoff": _time.from_proto_timestamp(info.split.end),
            "splits": list(info.splits),
            "versions": info.versions,
            "left_out": info.left_out,
            "manifests": info.manifests,
            "watermark": info.watermark,
            "source_store_id": info.source_store_id,
        }

    def history_status(self) -> pd.DataFrame:
        """The columnar history that training-side reads read, one row per
        feature view: ``file_runs``, ``file_versions`` and ``file_bytes`` (run
        files on the server), ``tail_runs`` and ``tail_versions`` (still in
        memory) and ``last_compaction`` (UTC, NaT if never)."""
        resp = self._call(self._datasets.GetHistoryStatus, dataset_service_pb2.GetHistoryStatusRequest())
        rows = [{
            "feature_view": v.feature_view,
            "file_runs": v.file_runs,
            "file_versions": v.file_versions,
            "file_bytes": v.file_bytes,
            "tail_runs": v.tail_runs,
            "tail_versions": v.tail_versions,
            "last_compaction": pd.Timestamp(v.last_compaction.ToNanoseconds(), tz="UTC") if v.HasField("last_compaction") else pd.NaT,
        } for v in resp.views]
        return pd.DataFrame(rows, columns=["feature_view", "file_runs", "file_versions", "file_bytes", "tail_runs",
                                           "tail_versions", "last_compaction"])

    def _get_table(self, cmd: Dict[str, Any]) -> Tuple[pa.Table, Dict[str, Any]]:
        """Runs a Flight DoGet with the ticket cmd; returns the table, its
        timestamps in UTC and its summary (the last app metadata) under the
        schema metadata key ``timefence``, and the summary."""
        reader = _flight.StreamReader()
        call = self._do_get(json.dumps(cmd).encode(), metadata=self._metadata, timeout=self.timeout)
        try:
            for fd in call:
                reader.add(fd)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        summary: Dict[str, Any] = json.loads(reader.last_app_metadata) if reader.last_app_metadata else {}
        return _arrow.utc_timestamps(reader.table()).replace_schema_metadata({"timefence": json.dumps(summary)}), summary

    def serving_log(
        self, split: str, features: FeatureRefs, *, full_feature_names: bool = False, as_arrow: bool = False
    ) -> Union[pd.DataFrame, pa.Table]:
        """What production served, under ``split``: the logged lookups read
        within the split's window that served every one of ``features``
        (``"view:feature"`` or ``"view"``), one row per entity row, with
        ``request_id``, ``row``, ``read_time``, the join keys, ``context``
        (the request-time inputs as a JSON object, null when none), then one
        column per feature as served (null unless it was present), named as
        the feature, or ``view__feature`` with ``full_feature_names``. A
        lookup read after the split's end is never in it. Lookups are logged
        with ``get_online_features(log=True)`` or the server's sample rate."""
        cmd = {"op": "serving_log", "split": split, "features": _refs(features)}
        try:
            table, summary = self._get_table(cmd)
        except SplitRequired as e:
            raise _split_hint(e, "serving_log") from None
        names = [c.replace(":", "__") if full_feature_names else c.partition(":")[2] or c for c in table.column_names]
        if len(set(names)) != len(names):
            raise InvalidArgument(
                "features: two columns would have the same name; pass full_feature_names=True to name them view__feature"
            )
        table = table.rename_columns(names)
        if as_arrow:
            return table
        out = _arrow.to_pandas(table)
        out.attrs["timefence"] = summary
        return out

    def training_set_from_log(
        self,
        split: str,
        features: FeatureRefs,
        labels: FeatureRefs,
        *,
        label_key: Optional[str] = "request_id",
        full_feature_names: bool = False,
    ) -> pd.DataFrame:
        """Log and wait: the lookups production served under ``split``
        (:meth:`serving_log`), each with its labels, which arrived after it.
        The features are exactly what production served, not a
        recomputation. Labels are features of a view written when the outcome
        is known, keyed one of two ways:

        - by request id (the default): a view with a string join key named
          ``label_key``. Each label is read by a point-in-time join at the
          split's end, under the split: the latest label available by the
          cutoff, none that arrived after it, null where none had arrived.
        - by entity and time (``label_key=None``): a view of the entity the
          lookups read, whose ttl is the label window, e.g. "churned within
          7 days". Each row reads its entity's labels as of its read time plus
          the ttl, so a label counts when its event time lies in
          ``[read_time, read_time + ttl]``. A row whose window ends after the
          split's end has null labels and ``label_window_complete`` False:
          its outcome is not known by the cutoff.
        """
        log = self.serving_log(split, features, full_feature_names=full_feature_names)
        end = self.get_split(split).end
        complete = None
        if label_key is not None:
            spine = pd.DataFrame({label_key: log["request_id"].astype(object),
                                  "event_timestamp": pd.Series([end] * len(log), dtype="datetime64[ns, UTC]")})
        else:
            window = self._label_window(labels)
            keys = self.get_entity(self.get_feature_view(_refs(labels)[0].partition(":")[0]).entity).join_keys
            missing = [k.name for k in keys if k.name not in log.columns]
            if missing:
                raise InvalidArgument(f"labels: the serving log of {_refs(features)} has no join key {missing} of the label view")
            due = pd.to_datetime(log["read_time"], utc=True) + window
            complete = (due <= end).to_numpy()
            spine = log[[k.name for k in keys]].copy()
            spine["event_timestamp"] = due.where(complete, end).astype("datetime64[ns, UTC]")
        joined = self.get_historical_features(spine, labels, split=split, full_feature_names=full_feature_names)
        extra = [c for c in joined.columns if c not in spine.columns]
        clash = [c for c in extra if c in log.columns]
        if clash:
            raise InvalidArgument(f"labels: {clash} name columns of the serving log too; rename the label features")
        out = pd.concat([log.reset_index(drop=True), joined[extra].reset_index(drop=True)], axis=1)
        if complete is not None:
            out.loc[~complete, extra] = None
            out["label_window_complete"] = complete
        out.attrs["timefence"] = {"serving_log": log.attrs.get("timefence", {}), "labels": joined.attrs.get("timefence", {})}
        return out

    def _label_window(self, labels: FeatureRefs) -> pd.Timedelta:
        """The ttl shared by the views of ``labels``: the window after each
        request in which its outcome counts."""
        ttls = {self.get_feature_view(ref.partition(":")[0]).ttl for ref in _refs(labels)}
        if len(ttls) != 1:
            raise InvalidArgument(f"labels: the label views have different ttls {sorted(map(str, ttls))}; each is a label window, so join them one by one")
        ttl = ttls.pop()
        if not ttl:
            raise InvalidArgument("labels keyed by entity and time need a label view with a ttl: the window after each request "
                                  "in which its outcome counts (e.g. ttl: 7d)")
        return pd.Timedelta(ttl)

    def skew_report(
        self,
        since: Optional[_time.TimeLike] = None,
        until: Optional[_time.TimeLike] = None,
        *,
        max_mismatches: int = 100,
    ) -> "SkewReport":
        """Replays the lookups of the serving log read from ``since`` to
        ``until`` (both inclusive; default: all, up to now) as point-in-time
        reads at their read times with every write the server holds now,
        which is what a training join reads for them, and compares each value
        with the one served. ``mismatches`` is 0 when training reads exactly
        what production served; each row of ``examples`` (at most
        ``max_mismatches``) names the lookup, the feature, both values and the
        version responsible, e.g. a backfill that rewrote the past."""
        req = serving_log_pb2.GetSkewReportRequest(max_mismatches=max_mismatches)
        if since is not None:
            req.since.CopyFrom(_time.to_proto_timestamp(since, "since"))
        if until is not None:
            req.until.CopyFrom(_time.to_proto_timestamp(until, "until"))
        resp = self._call(self._logs.GetSkewReport, req)
        features = pd.DataFrame([{"feature": f.feature, "values": f.values, "mismatches": f.mismatches} for f in resp.features],
                                columns=["feature", "values", "mismatches"])

        def when(ns: int) -> Any:
            return pd.Timestamp(ns, tz="UTC") if ns else pd.NaT

        examples = pd.DataFrame([{
            "request_id": m.request_id,
            "read_time": pd.Timestamp(m.read_time.ToNanoseconds(), tz="UTC"),
            "watermark": m.watermark,
            "row": m.row,
            "entity_key": m.entity_key,
            "feature": m.feature,
            "served_value": m.served.value,
            "served_status": _online.STATUS_NAMES.get(m.served.status, "unspecified"),
            "served_event_time": when(m.served.event_time_unix_nanos),
            "replayed_value": m.replayed.value,
            "replayed_status": _online.STATUS_NAMES.get(m.replayed.status, "unspecified"),
            "replayed_event_time": when(m.replayed.event_time_unix_nanos),
            "replayed_available_at": when(m.replayed.available_at_unix_nanos),
            "replayed_seq": m.replayed.seq,
            "replayed_backfilled": m.replayed.backfilled,
            "cause": m.cause,
        } for m in resp.examples], columns=list(SkewReport.EXAMPLE_COLUMNS))
        return SkewReport(lookups=resp.lookups, values=resp.values, mismatches=resp.mismatches,
                          watermark=resp.watermark, features=features, examples=examples)

    def validation_report(
        self,
        since: Optional[_time.TimeLike] = None,
        until: Optional[_time.TimeLike] = None,
        view: Optional[str] = None,
        *,
        max_events: int = 100,
    ) -> "ValidationReport":
        """Returns the validation events committed from ``since`` to ``until``
        (both inclusive; default: all, up to now), of ``view`` or of every
        view: the write batches that failed a warn expectation and were
        written all the same. ``events`` has one row per event (at most
        ``max_events``), ``counts`` one per view and expectation."""
        req = dataset_service_pb2.GetValidationReportRequest(feature_view=view or "", max_events=max_events)
        if since is not None:
            req.since.CopyFrom(_time.to_proto_timestamp(since, "since"))
        if until is not None:
            req.until.CopyFrom(_time.to_proto_timestamp(until, "until"))
        resp = self._call(self._datasets.GetValidationReport, req)
        events = pd.DataFrame([{
            "time": pd.Timestamp(e.time.ToNanoseconds(), tz="UTC"),
            "feature_view": e.feature_view,
            "view_version": e.view_version,
            "batch_id": e.batch_id,
            "expectation": e.kind + (f"({e.expectation.feature})" if e.expectation.feature else ""),
            "level": "warn" if e.expectation.level == types_pb2.EXPECTATION_LEVEL_WARN else "hard",
            "bound": e.bound,
            "rows_checked": e.rows_checked,
            "rows_failed": e.rows_failed,
            "failed_rows": [(r.row, r.value) for r in e.failed_rows],
            "first_seq": e.first_seq,
            "last_seq": e.last_seq,
        } for e in resp.events], columns=list(ValidationReport.EVENT_COLUMNS))
        counts = pd.DataFrame([{"feature_view": c.feature_view, "expectation": c.expectation, "level": c.level,
                                "events": c.events, "rows_failed": c.rows_failed} for c in resp.counts],
                              columns=["feature_view", "expectation", "level", "events", "rows_failed"])
        return ValidationReport(total_events=resp.total_events, events=events, counts=counts)

    def compare_statistics(
        self, view: str, baseline_split: str, current_split: str, features: Optional[Sequence[str]] = None
    ) -> List[Dict[str, Any]]:
        """Compares a view's features between two splits and returns the
        anomalies found (``feature``, ``kind``, ``severity``, ``description``):
        missing data, completeness drops, new values, a changed most frequent
        value, distribution and mean shifts. An empty list means no change
        worth a look, unless a side has no data at all: a split under which
        the view has no version is compared as empty, with a
        :class:`~timefence.NoDataUnderSplit` warning for that side."""
        req = dataset_service_pb2.CompareStatisticsRequest(
            feature_view=view, baseline_split=baseline_split, current_split=current_split, features=list(features or [])
        )
        resp = self._call(self._datasets.CompareStatistics, req)
        for side, name in ((resp.current, current_split), (resp.baseline, baseline_split)):
            if side.versions == 0:
                self._warn(_hints.empty(self, side.split or name, [side.feature_view or view]))
        return [json_format.MessageToDict(a, preserving_proto_field_name=True) for a in resp.anomalies]

    def _cast_keys(self, table: pa.Table, refs: Sequence[str]) -> pa.Table:
        """Casts spine join keys the server would refuse (e.g. float or uint64
        ints) to their entity's type when that loses nothing."""
        views = list(dict.fromkeys(r.partition(":")[0] for r in refs))
        accepted = {
            "int64": lambda t: pa.types.is_signed_integer(t) or t == pa.uint32(),
            "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
        }
        targets = {}
        for name, typ in self._key_types(views).items():
            idx = table.schema.get_field_index(name)
            if idx >= 0 and typ in accepted and not accepted[typ](table.schema.field(idx).type):
                targets[name] = arrow_type(typ)
        return _arrow.cast_columns(table, targets, "spine") if targets else table

    @staticmethod
    def _spine_frame(spine: TableLike, returned: pa.Table, timestamp_column: str, dtype_backend: str) -> pd.DataFrame:
        """The spine columns of a pandas result. For a DataFrame spine these are
        the caller's own columns, so their dtypes and the index are kept; naive
        datetime columns become UTC."""
        if not isinstance(spine, pd.DataFrame):
            return _arrow.to_pandas(returned, dtype_backend)
        out = spine.copy(deep=False)
        for c in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[c].dtype):
                out[c] = _arrow.utc_series(out[c])
        if timestamp_column in out.columns and not pd.api.types.is_datetime64_any_dtype(out[timestamp_column].dtype):
            # The client converted it (strings, dates): take the converted times.
            ts = _arrow.to_pandas(returned.select([timestamp_column]), dtype_backend)[timestamp_column]
            out[timestamp_column] = ts.set_axis(out.index)
        return out

    # -- online -----------------------------------------------------------

    def get_online_features(
        self,
        entities: Union[Mapping[str, Any], Sequence[Mapping[str, Any]], pd.DataFrame, None] = None,
        features: Optional[FeatureRefs] = None,
        *,
        entity_rows: Optional[Sequence[Mapping[str, Any]]] = None,
        as_of: Optional[_time.TimeLike] = None,
        split: Optional[str] = None,
        full_feature_names: bool = False,
        include_status: bool = False,
        dtype_backend: str = "nullable",
        output: Optional[str] = None,
        log: bool = False,
        request_id: Optional[str] = None,
        context: Optional[Mapping[str, Any]] = None,
        min_watermark: int = 0,
    ) -> Union[pd.DataFrame, OnlineFeatures]:
        """Online lookup: the current feature values of some entities.

        Args:
            entities: join key values, Feast style: ``{"user_id": [1, 2]}``, a
                list of dicts ``[{"user_id": 1}, {"user_id": 2}]``, or a DataFrame.
            features: ``"view:feature"`` or ``"view"`` references.
            entity_rows: Feast's name and shape, a list of dicts; pass it or
                ``entities``. With it the result is an :class:`OnlineFeatures`
                (``output="dict"``) unless ``output`` says otherwise, so that
                Feast's ``.to_dict()`` and ``.to_df()`` work on it.
            as_of: read as of this past time instead of now (a datetime, or a
                string in RFC 3339 with a zone). That is a training-side read:
                it needs ``split``, and the time must lie in the split's window.
            split: the split of an ``as_of`` read.
            full_feature_names: name feature columns ``view__feature``.
            include_status: add ``<feature>__status`` (``"present"``,
                ``"not_found"`` or ``"stale"``) and ``<feature>__event_timestamp``
                (the event time of the value read) columns.
            dtype_backend: as for :meth:`get_historical_features`.
            output: ``"pandas"`` (the default with ``entities``), a DataFrame;
                ``"dict"`` (the default with ``entity_rows``), the cheap form
                for inference: an :class:`OnlineFeatures`, a dict of
                ``{column: [values]}`` with the same columns (Feast's
                ``to_dict()`` shape), Python values and ``None`` for nulls,
                and no DataFrame built; its ``to_df()`` builds the DataFrame.
            log: keep the lookup in the server's serving log, whatever its
                sample rate (``timefence serve --serving-log-rate``);
                :meth:`skew_report` replays logged lookups. Reads with
                ``as_of`` are never logged.
            request_id: the lookup's id in the serving log (at most 128
                bytes), e.g. the id the request's labels will carry; the
                server makes one when it is not given.
            context: request-time inputs that are not in the store, kept with
                the logged lookup: ``{"device": "ios", "basket": 3}`` (bool,
                int, float, str, bytes or datetime values).
            min_watermark: read your writes: the lowest watermark to read at,
                e.g. ``client.write(...)["last_seq"]``. A read replica behind
                it waits for it, up to 5 s within the call's timeout, then
                raises :class:`ReplicaBehind`.

        Returns one row per entity, in order: the key columns, then one column
        per feature (null when not found or stale). ``df.attrs["timefence"]``
        (``.attrs["timefence"]`` of the dict) holds ``read_time``,
        ``watermark``, the resolved ``features`` and ``request_id`` (the
        lookup's id in the serving log; None when it was not logged).
        """
        if entity_rows is not None:
            if entities is not None:
                raise TypeError(
                    "get_online_features: pass the entities once, as entities or as entity_rows (Feast's name)"
                    + _feast_order_hint(entities)
                )
            if isinstance(entity_rows, (Mapping, pd.DataFrame, str, bytes)) or not isinstance(entity_rows, Sequence):
                raise InvalidArgument(
                    f"entity_rows: expected a list of dicts like [{{'user_id': 1}}], got {type(entity_rows).__name__}"
                )
            entities = entity_rows
            output = output or "dict"
        if entities is None:
            raise TypeError("get_online_features: missing the entities: pass entities or entity_rows=[{key: value}, ...]")
        if features is None:
            raise TypeError("get_online_features: missing features: pass features=['view:feature', ...]")
        output = output or "pandas"
        _online.check_output(output, dtype_backend)
        if _is_refs(entities):
            raise TypeError("get_online_features: entities look like feature references" + _feast_order_hint(entities))
        refs = _refs(features)
        keys, columns = _entity_columns(entities)
        try:
            req = _online.request(refs, keys, columns, as_of, split)
            if log or request_id or context:
                _online.add_log_fields(req, log, request_id, context)
            req.min_watermark = min_watermark
            resp = self._call(self._online.GetOnlineFeatures, req)
        except SplitRequired as e:
            raise _split_hint(e, "get_online_features with as_of") from None
        resolved = tuple(resp.features)
        names = self._online_names.get(resolved, keys, full_feature_names)
        attrs = _online.meta(resp, resolved)
        if output == "dict":
            return _online.to_dict(resp, names, entities, keys, columns, include_status, attrs)
        if dtype_backend == "nullable":
            return _online.to_frame(resp, names, entities, keys, columns, include_status, attrs)
        return _online.arrow_frame(resp, names, entities, keys, columns, include_status, dtype_backend, attrs)


@dataclass
class ValidationReport:
    """What :meth:`Client.validation_report` found: every event in the
    window (``total_events``), the first of them in ``events`` (one row
    each: its commit time, view, batch, expectation, rows checked and
    failed, and the first failing rows as ``(row, value)`` pairs) and counts
    per view and expectation in ``counts``."""

    EVENT_COLUMNS = (
        "time", "feature_view", "view_version", "batch_id", "expectation", "level", "bound",
        "rows_checked", "rows_failed", "failed_rows", "first_seq", "last_seq",
    )

    total_events: int
    events: pd.DataFrame
    counts: pd.DataFrame


@dataclass
class SkewReport:
    """What :meth:`Client.skew_report` found: the lookups replayed, the
    values compared (entity rows × features) and how many differ, per
    feature in ``features`` and by example in ``examples`` (values as text,
    ``"null"`` for none)."""

    EXAMPLE_COLUMNS = (
        "request_id", "read_time", "watermark", "row", "entity_key", "feature",
        "served_value", "served_status", "served_event_time",
        "replayed_value", "replayed_status", "replayed_event_time", "replayed_available_at", "replayed_seq",
        "replayed_backfilled", "cause",
    )

    lookups: int
    values: int
    mismatches: int
    watermark: int
    features: pd.DataFrame
    examples: pd.DataFrame

    @property
    def ok(self) -> bool:
        """Whether every replayed value is the one served."""
        return self.mismatches == 0


class HistoricalFeatures(pd.DataFrame):
    """What :meth:`Client.get_historical_features` returns: a pandas
    DataFrame in every respect, plus the two methods of Feast's
    ``RetrievalJob`` that code moving from Feast calls. Frames derived from
    it (slices, copies, merges) are plain DataFrames."""

    def to_df(self) -> pd.DataFrame:
        """The result as a plain DataFrame (Feast's ``RetrievalJob.to_df()``):
        the same columns, index and ``attrs``, sharing the data."""
        out = pd.DataFrame(self, copy=False)
        out.attrs = dict(self.attrs)
        return out

    def to_arrow(self) -> pa.Table:
        """The result as a pyarrow Table (Feast's ``RetrievalJob.to_arrow()``),
        converted from the DataFrame without its index, the join summary as
        JSON under the schema metadata key ``timefence``; the same as
        ``as_arrow=True`` gives, up to the index."""
        table = pa.Table.from_pandas(pd.DataFrame(self, copy=False), preserve_index=False)
        return table.replace_schema_metadata({"timefence": json.dumps(self.attrs.get("timefence", {}), default=str)})


def _split_hint(err: TimefenceError, what: str) -> TimefenceError:
    """A SplitRequired error from the server, its message led by what the
    caller forgot: the split argument. Other errors unchanged."""
    if not isinstance(err, SplitRequired):
        return err
    msg = (
        f"{what} needs split=: every training-side read runs under a named split, and nothing after the "
        "split's end can be read under it; create one with create_split(\"train\", start=..., end=...) "
        f"and pass split=\"train\" (the server said: {err.message})"
    )
    return SplitRequired(msg, code=err.code, reason=err.reason, metadata=err.metadata, domain=err.domain)


def _is_refs(value: Any) -> bool:
    """Whether value is a list of feature reference strings."""
    return (
        isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and len(value) > 0
        and all(isinstance(v, str) for v in value)
    )


def _feast_order_hint(entities: Any) -> str:
    if not _is_refs(entities):
        return ""
    return (
        "; Feast's positional order (features, entity_rows) is the reverse of timefence's (entities, features): "
        "call get_online_features(features=[...], entity_rows=[...])"
    )


def _refs(features: FeatureRefs) -> List[str]:
    """Feature references as strings; a FeatureView stands for all its features."""
    items = [features] if isinstance(features, (str, FeatureView)) else list(features)
    out = []
    for f in items:
        if isinstance(f, FeatureView):
            out.append(f.name)
        elif isinstance(f, str):
            out.append(f)
        else:
            raise InvalidArgument(f"features: expected 'view:feature' strings, got {f!r}")
    return out


def _action(changed: bool, version: int) -> str:
    if not changed:
        return "unchanged"
    return "created" if version <= 1 else "updated"


def _entity_columns(entities: Any) -> Tuple[List[str], List[List[Any]]]:
    """Join key names and one list of values per key."""
    if isinstance(entities, pd.DataFrame):
        keys = [str(c) for c in entities.columns]
        return keys, [entities[c].tolist() for c in entities.columns]
    if isinstance(entities, Mapping):
        keys = [str(k) for k in entities]
        cols = []
        for k, v in entities.items():
            if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
                v = [v]
            cols.append(list(v))
        lengths = {len(c) for c in cols}
        if len(lengths) > 1:
            raise InvalidArgument(f"entities: key columns have different lengths ({', '.join(f'{k}: {len(c)}' for k, c in zip(keys, cols))})")
        return keys, cols
    if isinstance(entities, Sequence) and not isinstance(entities, (str, bytes)):
        rows = list(entities)
        if not rows:
            raise InvalidArgument("entities: at least one entity row is required")
        if not all(isinstance(r, Mapping) for r in rows):
            raise InvalidArgument("entities: expected a dict of key -> values or a list of dicts")
        keys = [str(k) for k in rows[0]]
        for i, r in enumerate(rows):
            if set(map(str, r)) != set(keys):
                raise InvalidArgument(f"entities[{i}]: keys {sorted(map(str, r))} differ from the first row's {sorted(keys)}")
        return keys, [[r[k] for r in rows] for k in keys]
    raise InvalidArgument(f"entities: expected a dict of key -> values, a list of dicts or a DataFrame, got {type(entities).__name__}")


_QUANTILES = ["p1", "p5", "p25", "p50", "p75", "p95", "p99"]


def _stats_frame(resp: Any) -> pd.DataFrame:
    rows = []
    for f in resp.features:
        row: Dict[str, Any] = {
            "feature": f.feature,
            "type": types_pb2.ValueType.Name(f.type).removeprefix("VALUE_TYPE_").lower(),
            "count": f.count,
            "null_count": f.null_count,
            "null_rate": f.null_rate,
            "min": f.min if f.HasField("min") else None,
            "max": f.max if f.HasField("max") else None,
            "mean": f.mean if f.HasField("mean") else None,
            "std": f.stddev if f.HasField("stddev") else None,
            "distinct": f.distinct_count,
            "distinct_approximate": f.distinct_approximate,
            "top_values": [(v.value, v.count) for v in f.top_values],
        }
        for name, q in zip(_QUANTILES, list(f.quantiles) or [None] * len(_QUANTILES)):
            row[name] = q
        rows.append(row)
    df = pd.DataFrame(rows).set_index("feature") if rows else pd.DataFrame()
    df.attrs.update(
        {"split": resp.split, "feature_view": resp.feature_view, "view_version": resp.view_version,
         "watermark": resp.watermark, "versions": resp.versions, "entities": resp.entities}
    )
    lag = resp.arrival_lag
    if lag.count and len(lag.quantiles) == 7:
        # How late versions arrived (available_at - event_time), in seconds.
        df.attrs["arrival_lag_seconds"] = {"count": lag.count, "min": lag.min, "median": lag.quantiles[3],
                                           "p95": lag.quantiles[5], "max": lag.max, "mean": lag.mean}
    return df


def write_parquet(table: pa.Table, path: Union[str, os.PathLike]) -> None:
    """Write a table as Parquet the way exports are written: dictionary
    encoding only for strings, bytes and booleans (numbers and times are
    mostly distinct, where a dictionary costs time and saves nothing)."""
    dictionary = [f.name for f in table.schema
                  if pa.types.is_string(f.type) or pa.types.is_binary(f.type) or pa.types.is_boolean(f.type)]
    pq.write_table(table, path, use_dictionary=dictionary)
