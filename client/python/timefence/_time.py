"""Times and durations: Python values <-> protobuf Timestamp / Duration."""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from typing import Any, Optional, Union

import numpy as np
import pandas as pd
from google.protobuf import duration_pb2, timestamp_pb2

from .errors import InvalidArgument

TimeLike = Union[str, _dt.datetime, pd.Timestamp, np.datetime64]
DurationLike = Union[str, _dt.timedelta, pd.Timedelta, int, float, None]

_NS = 1_000_000_000


#: The one accepted string form of a time, as the server's CLI and YAML
#: definitions have it (Go's ``definitions.ParseTime``): RFC 3339 with a
#: zone, where a space may replace the T, up to nanoseconds.
TIME_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})"
_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(Z|([+-])([0-9]{2}):([0-9]{2}))"
)
#: The years a time may have (pandas' nanosecond Timestamps end in 2262).
MIN_YEAR, MAX_YEAR = 1970, 2261
EXAMPLE = "2024-01-01T00:00:00Z"


def invalid_time(value: str) -> str:
    """The message for a string that is not a time of the accepted form;
    the server's words, plus a hint for a date or a time without a zone."""
    msg = f"invalid time {value!r}; expected RFC 3339 with a zone, like {EXAMPLE}"
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        msg += f" (a date alone is not a time: write {value}T00:00:00Z or {value}T23:59:59Z)"
    elif re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?", value):
        msg += " (add the zone: Z for UTC, or an offset like +02:00)"
    return msg


def parse_time(value: str, field: str = "time") -> pd.Timestamp:
    """Parses a time string by the rule of the server's CLI and definitions
    files: RFC 3339 with a zone (``Z`` or ``±hh:mm``), where a space may
    replace the ``T``, with up to nine fractional digits (kept), in the years
    1970 to 2261. Returns a UTC pandas Timestamp; anything else (a date
    alone, a time without a zone, ``03/02/2024 10:00``) raises
    :class:`~timefence.InvalidArgument`."""
    m = _TIME.fullmatch(value)
    if m is None:
        raise InvalidArgument(f"{field}: {invalid_time(value)}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac, zone, sign, zh, zm = m.group(7), m.group(8), m.group(9), m.group(10), m.group(11)
    try:
        # datetime checks the calendar (no February 30) and the clock (no 24:00, no leap second), as Go does.
        local = _dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise InvalidArgument(f"{field}: {invalid_time(value)}") from None
    offset = 0
    if zone != "Z":
        # Go accepts offset hours up to 24 and minutes up to 60.
        if int(zh) > 24 or int(zm) > 60:
            raise InvalidArgument(f"{field}: {invalid_time(value)}")
        offset = (int(zh) * 3600 + int(zm) * 60) * (1 if sign == "+" else -1)
    if not MIN_YEAR <= year <= MAX_YEAR:  # the year as written, as Go checks it
        raise InvalidArgument(f"{field}: time {value!r} is outside the supported years {MIN_YEAR} to {MAX_YEAR}")
    seconds = calendar.timegm(local.timetuple()) - offset
    nanos = int(frac.ljust(9, "0")) if frac else 0
    return pd.Timestamp(seconds * _NS + nanos, unit="ns", tz="UTC")


#: The form of a time in a table column (a spine's or a write's timestamp
#: column), as the CLI reads a CSV cell: the form above, or a time without a
#: zone (UTC), or a date alone (its midnight, UTC). Nothing is guessed: a
#: cell like 03/02/2024 is refused.
COLUMN_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NAIVE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?")


def parse_column_time(value: str, field: str = "time") -> pd.Timestamp:
    """Parses one cell of a timestamp column by the CLI's rule for CSV
    cells: what :func:`parse_time` accepts, or a time without a zone (UTC),
    or a date alone (midnight UTC). Anything else raises
    :class:`~timefence.InvalidArgument`."""
    if _DATE.fullmatch(value):
        return parse_time(value + "T00:00:00Z", field)
    if _NAIVE.fullmatch(value):
        return parse_time(value + "Z", field)
    if _TIME.fullmatch(value):
        return parse_time(value, field)
    raise InvalidArgument(
        f"{field}: invalid time {value!r}; expected RFC 3339 like {EXAMPLE}, or 2024-01-01 00:00:00 (UTC without a zone)"
    )


def to_timestamp(value: Any, field: str = "time") -> pd.Timestamp:
    """Converts a datetime, pandas Timestamp, numpy datetime64 or time string
    to a UTC pandas Timestamp. Naive datetimes are taken as UTC. A string
    must be RFC 3339 with a zone (see :func:`parse_time`); a date alone is
    refused, as it says nothing of the time of day."""
    if isinstance(value, str):
        return parse_time(value, field)
    if isinstance(value, pd.Timestamp):
        ts = value
    elif isinstance(value, (_dt.datetime, np.datetime64)):
        try:
            ts = pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError) as e:
            raise InvalidArgument(f"{field}: cannot read {value!r} as a time: {e}") from None
    elif isinstance(value, _dt.date):
        raise InvalidArgument(
            f"{field}: a date ({value.isoformat()}) is not a time; pass a datetime, or a string like "
            f"{value.isoformat()}T00:00:00Z or {value.isoformat()}T23:59:59Z"
        )
    elif isinstance(value, timestamp_pb2.Timestamp):
        return from_proto_timestamp(value)
    else:
        raise InvalidArgument(
            f"{field}: expected a datetime, pandas Timestamp or RFC 3339 string like {EXAMPLE}, got {type(value).__name__}"
        )
    if pd.isna(ts):
        raise InvalidArgument(f"{field}: missing time (NaT)")
    if ts.tzinfo is None:
        return ts.tz_localize("UTC")
    return ts.tz_convert("UTC")


def to_proto_timestamp(value: Any, field: str = "time") -> timestamp_pb2.Timestamp:
    ns = to_timestamp(value, field).value
    return timestamp_pb2.Timestamp(seconds=ns // _NS, nanos=ns % _NS)


def from_proto_timestamp(ts: timestamp_pb2.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(ts.seconds * _NS + ts.nanos, unit="ns", tz="UTC")


def optional_timestamp(msg: Any, field: str) -> Optional[pd.Timestamp]:
    """The timestamp field of a message, or None when unset."""
    if not msg.HasField(field):
        return None
    return from_proto_timestamp(getattr(msg, field))


_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC greek mu
    "ms": 1_000_000,
    "s": _NS,
    "m": 60 * _NS,
    "h": 3600 * _NS,
    "d": 86400 * _NS,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)")


def parse_duration(value: DurationLike, field: str = "ttl") -> Optional[_dt.timedelta]:
    """Parses a duration: a Go-style string ("90s", "1h30m", "1.5h", plus "7d"
    for days), a timedelta, or a number of seconds. 0, "0" and None mean
    "no limit" and give None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidArgument(f"{field}: expected a duration such as 24h, got {value!r}")
    if isinstance(value, (_dt.timedelta, pd.Timedelta)):
        td = pd.Timedelta(value)
        ns = int(td.value)
    elif isinstance(value, (int, float)):
        ns = int(round(value * _NS))
    elif isinstance(value, str):
        s = value.strip()
        if s in ("", "0"):
            return None
        if s.startswith("-"):
            raise InvalidArgument(f"{field}: duration {value!r} is negative")
        s = s.lstrip("+")
        pos, total = 0, 0.0
        while pos < len(s):
            m = _PART.match(s, pos)
            if m is None:
                raise InvalidArgument(
                    f"{field}: cannot read {value!r} as a duration; use e.g. 90s, 30m, 1h30m or 7d"
                )
            total += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        ns = int(round(total))
    else:
        raise InvalidArgument(f"{field}: expected a duration such as 24h, got {type(value).__name__}")
    if ns < 0:
        raise InvalidArgument(f"{field}: duration {value!r} is negative")
    if ns == 0:
        return None
    return _dt.timedelta(microseconds=ns / 1000)


def format_duration(td: Optional[_dt.timedelta]) -> str:
    """Formats a duration the Go way, with days: 1d2h30m, 90s -> 1m30s; None -> "0"."""
    if td is None:
        return "0"
    us = int(round(td.total_seconds() * 1_000_000))
    if us == 0:
        return "0"
    out = []
    for unit, size in (("d", 86400_000_000), ("h", 3600_000_000), ("m", 60_000_000)):
        n, us = divmod(us, size)
        if n:
            out.append(f"{n}{unit}")
    if us:
        secs = us / 1_000_000
        out.append(f"{secs:g}s" if us % 1_000_000 else f"{us // 1_000_000}s")
    return "".join(out)


def to_proto_duration(td: Optional[_dt.timedelta]) -> Optional[duration_pb2.Duration]:
    if td is None:
        return None
    d = duration_pb2.Duration()
    d.FromTimedelta(td)
    return d


def from_proto_duration(d: duration_pb2.Duration) -> Optional[_dt.timedelta]:
    if d.seconds == 0 and d.nanos == 0:
        return None
    return d.ToTimedelta()
