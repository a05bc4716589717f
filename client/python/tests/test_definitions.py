"""Definition objects and durations: no server needed (the server parses
definitions files; see test_registry.py)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import timefence
from timefence import Split


@pytest.mark.parametrize(
    "text, want",
    [
        ("90s", dt.timedelta(seconds=90)),
        ("30m", dt.timedelta(minutes=30)),
        ("1h30m", dt.timedelta(hours=1, minutes=30)),
        ("1.5h", dt.timedelta(hours=1, minutes=30)),
        ("7d", dt.timedelta(days=7)),
        ("1d12h", dt.timedelta(days=1, hours=12)),
        ("250ms", dt.timedelta(milliseconds=250)),
        ("0", None),
        (0, None),
        (None, None),
        (3600, dt.timedelta(hours=1)),
        (dt.timedelta(minutes=5), dt.timedelta(minutes=5)),
    ],
)
def test_parse_duration(text, want) -> None:
    assert timefence.parse_duration(text) == want


@pytest.mark.parametrize("bad", ["-1h", "1x", "h", "1h 30m", "abc"])
def test_parse_duration_errors(bad: str) -> None:
    with pytest.raises(timefence.InvalidArgument):
        timefence.parse_duration(bad)


def test_split_times_are_utc() -> None:
    s = Split("s", start=dt.datetime(2024, 1, 1), end="2024-06-30T23:59:59+02:00")
    assert s.start == pd.Timestamp("2024-01-01", tz="UTC")
    assert s.end == pd.Timestamp("2024-06-30T21:59:59", tz="UTC")
    assert s.to_proto().end.seconds == int(s.end.timestamp())
