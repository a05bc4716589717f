"""What the joins over exported versions share (:mod:`timefence.duckdb`,
:mod:`timefence.spark`): the export's manifests, the feature references,
the ttl, and the guard, which refuses a spine outside a manifest's split
with the server's ``CUTOFF_EXCEEDED`` error."""

from __future__ import annotations

import datetime as _dt
import json
import pathlib
from typing import Any, Dict, List, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from . import _time
from .errors import CutoffExceeded, InvalidArgument

#: How many offending rows a refusal names, as the server's.
MAX_REPORTED_ROWS = 5

TTL = Union[_dt.timedelta, str, None]


def read_manifest(src: pathlib.Path, view: str) -> Dict[str, Any]:
    """The manifest ``<view>.manifest.json`` of an export directory."""
    path = src / f"{view}.manifest.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidArgument(f"source: no manifest {path}: export the view with its manifest") from None


def wanted_features(features: Sequence[str]) -> Dict[str, List[str]]:
    """The features asked for, by view in order of first mention; an empty
    list for a view named alone (``"view"``: all its features)."""
    wanted: Dict[str, List[str]] = {}
    for ref in features:
        view, _, feature = ref.partition(":")
        wanted.setdefault(view, [])
        if feature:
            wanted[view].append(feature)
    return wanted


def split_window(manifest: Dict[str, Any]) -> Tuple[int, int]:
    """The manifest's split as ``(start, end)`` in Unix nanoseconds, both
    inclusive."""
    sp = manifest["split"]
    start, end = (pd.Timestamp(sp[k]).value if sp.get(k) else 0 for k in ("start", "end"))
    return start, end


def check_split(manifest: Dict[str, Any], nanos: Any) -> None:
    """Refuses a spine with times (a numpy array of Unix nanoseconds, in the
    spine's order) outside the manifest's split, as the server does."""
    start, end = split_window(manifest)
    bad = (nanos < start) | (nanos > end)
    if bad.any():
        raise cutoff_exceeded(manifest, int(bad.sum()), len(nanos), [int(i) for i in np.nonzero(bad)[0][:MAX_REPORTED_ROWS]])


def cutoff_exceeded(manifest: Dict[str, Any], offending: int, total: int, first_rows: Sequence[int]) -> CutoffExceeded:
    """The server's ``CUTOFF_EXCEEDED`` error for a spine of ``total`` rows,
    ``offending`` of them outside the manifest's split, the first of which
    (0-based, lowest first, at most :data:`MAX_REPORTED_ROWS`) are named."""
    sp = manifest["split"]
    start, end = split_window(manifest)
    rows = [str(i) for i in first_rows[:MAX_REPORTED_ROWS]]
    return CutoffExceeded(
        f"{offending} of {total} rows have a timestamp outside split \"{sp['name']}\" "
        f"[{rfc3339(start)}, {rfc3339(end)}] (first rows: {', '.join(rows)}); nothing was read",
        reason=CutoffExceeded.REASON,
        metadata={"split": sp["name"], "cutoff": rfc3339(end), "offending_rows": str(offending), "first_rows": ",".join(rows)},
    )


def rfc3339(ns: int) -> str:
    """A time as the server writes it: RFC 3339 in UTC, to the nanosecond,
    without trailing zeros."""
    ts = pd.Timestamp(ns, tz="UTC")
    frac = f"{ts.microsecond * 1000 + ts.nanosecond:09d}".rstrip("0")
    return ts.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def ttl_nanos(ttl: TTL) -> int:
    """A view's ttl in nanoseconds, 0 for none."""
    if ttl is None:
        return 0
    td = _time.parse_duration(ttl, "ttl")
    return 0 if td is None else int(pd.Timedelta(td).value)
