"""One timestamp rule: Python reads a time written as a string exactly as the
server's CLI and definitions files do (Go's ``definitions.ParseTime``): RFC
3339 with a zone, a space allowed for the T, nanoseconds kept, years 1970 to
2261. A timestamp column of strings is read as the CLI reads a CSV file's
cells: that form, or no zone (UTC), or a date alone. Anything else is
refused, never guessed."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from helpers import define_user_view

import timefence
from timefence import Feature, Split, parse_time
from timefence._arrow import ensure_timestamp

EXPECTED = "expected RFC 3339 with a zone, like 2024-01-01T00:00:00Z"

# (string, Unix nanoseconds or None when refused), as Go's definitions.ParseTime
# answered them (go test of definitions, run by hand when this table was written).
GO_CASES = [
    ("2024-01-01T00:00:00Z", 1704067200000000000),
    ("2024-01-01 00:00:00Z", 1704067200000000000),
    ("2024-01-01t00:00:00Z", None),
    ("2024-01-01T00:00:00z", None),
    ("2024-06-30", None),
    ("2024-06-30T23:59:59", None),
    ("2024-06-30 23:59", None),
    ("03/02/2024 10:00", None),
    ("25/02/2024 10:00", None),
    ("2024-01-01T00:00:00.123456789Z", 1704067200123456789),
    ("2024-01-01T00:00:00.1234567891Z", None),
    ("2024-01-01T00:00:00.Z", None),
    ("2024-01-01T00:00:00+02:00", 1704060000000000000),
    ("2024-01-01T00:00:00-05:30", 1704087000000000000),
    ("2024-01-01T00:00:00+0200", None),
    ("2024-01-01T00:00:00+02", None),
    ("2024-01-01T24:00:00Z", None),
    ("2024-01-01T23:60:00Z", None),
    ("2024-01-01T23:59:60Z", None),
    ("2024-02-30T00:00:00Z", None),
    ("2024-02-29T00:00:00Z", 1709164800000000000),
    ("2023-02-29T00:00:00Z", None),
    ("2024-13-01T00:00:00Z", None),
    ("2024-00-01T00:00:00Z", None),
    ("2024-01-00T00:00:00Z", None),
    ("2024-01-01T00:00:00+24:00", 1703980800000000000),  # Go takes offset hours up to 24
    ("2024-01-01T00:00:00+23:59", 1703980860000000000),
    ("2024-01-01T00:00:00+23:60", 1703980800000000000),  # and offset minutes up to 60
    ("2024-01-01T00:00:00-00:00", 1704067200000000000),
    ("1970-01-01T00:00:00Z", 0),
    ("1969-12-31T23:59:59Z", None),
    ("1970-01-01T00:30:00+01:00", -1800000000000),  # the year as written counts
    ("2261-12-31T23:59:59Z", 9214646399000000000),
    ("2262-01-01T00:00:00Z", None),
    ("2261-12-31T23:00:00-05:00", 9214660800000000000),
    (" 2024-01-01T00:00:00Z", None),
    ("2024-01-01T00:00:00Z ", None),
    ("2024-01-01T00:00:00Z\n", None),
    ("", None),
    ("2024-01-01T00:00:00,5Z", None),
    ("2024-1-01T00:00:00Z", None),
    ("2024-01-01T0:00:00Z", None),
    ("+2024-01-01T00:00:00Z", None),
    ("2024-01-01T00:00:00.000000001+01:00", 1704063600000000001),
    ("\uff12024-01-01T00:00:00Z", None),  # a fullwidth digit
]


# A table column (spine or write) is read as the CLI reads a CSV cell (Go's
# tableio.parseCSVTime): the form above, or no zone (UTC), or a date alone
# (midnight UTC); never a guess. Answers of Go, as above.
COLUMN_CASES = [
    ("2024-06-30", 1719705600000000000),
    ("2024-06-30T23:59:59", 1719791999000000000),
    ("2024-06-30 23:59:59", 1719791999000000000),
    ("2024-06-30 23:59:59.123456789", 1719791999123456789),
    ("2024-06-30T23:59:59.5", 1719791999500000000),
    ("2024-06-30 23:59:59+02:00", 1719784799000000000),
    ("2024-06-30T23:59:59+02:00", 1719784799000000000),
    ("2024-06-30 23:59", None),
    ("03/02/2024 10:00", None),
    ("25/02/2024 10:00", None),
    ("2024-02-30", None),
    ("2024-06-30t23:59:59", None),
]
_NAIVE_OK = {t for t, n in COLUMN_CASES if n is not None}


@pytest.mark.parametrize("text, nanos", GO_CASES)
def test_strings_read_as_go_reads_them(text: str, nanos: int) -> None:
    if nanos is None:
        with pytest.raises(timefence.InvalidArgument):
            parse_time(text)
        if text not in _NAIVE_OK:
            with pytest.raises(timefence.InvalidArgument):
                ensure_timestamp(pa.table({"t": [text]}), "t", "spine")
        return
    got = parse_time(text)
    assert str(got.tz) == "UTC" and got.value == nanos
    col = ensure_timestamp(pa.table({"t": pa.array([text, None], pa.string())}), "t", "spine").column("t")
    assert col.type == pa.timestamp("ns", "UTC")
    assert col[0].value == nanos and col[1].as_py() is None


@pytest.mark.parametrize("text, nanos", COLUMN_CASES)
def test_column_strings_read_as_the_cli_reads_csv(text: str, nanos: int) -> None:
    table = pa.table({"t": [text]})
    if nanos is None:
        with pytest.raises(timefence.InvalidArgument, match=f"spine: column 't': row 0: invalid time"):
            ensure_timestamp(table, "t", "spine")
        return
    assert ensure_timestamp(table, "t", "spine").column("t")[0].value == nanos


def test_go_cases_as_one_column() -> None:
    """The column fast path (pandas) and the value-by-value path agree with Go."""
    ok = [(t, n) for t, n in GO_CASES + COLUMN_CASES if n is not None]
    col = ensure_timestamp(pa.table({"t": [t for t, _ in ok]}), "t", "spine").column("t")
    assert [v.value for v in col] == [n for _, n in ok]


@pytest.mark.parametrize("text", ["03/02/2024 10:00", "25/02/2024 10:00"])
def test_ambiguous_strings_refused(client: timefence.Client, uid: str, text: str) -> None:
    """pandas read one as March 2 and the other as February 25: both are
    refused now, everywhere a time can be a string."""
    want = f"invalid time '{text}'; {EXPECTED}"
    with pytest.raises(timefence.InvalidArgument, match=want) as ei:
        client.create_split(f"amb_{uid}", end=text)
    assert isinstance(ei.value, ValueError)
    assert str(ei.value) == f"split 'amb_{uid}': end: {want}"
    with pytest.raises(timefence.InvalidArgument, match=want):
        client.create_split(f"amb_{uid}", start=text, end="2024-06-30T23:59:59Z")
    with pytest.raises(timefence.InvalidArgument, match=f"as_of: {want}"):
        client.get_online_features({"user_id": [1]}, ["v"], as_of=text, split="s")
    spine = pd.DataFrame({"user_id": [1, 2], "event_timestamp": ["2024-02-01T00:00:00Z", text]})
    with pytest.raises(timefence.InvalidArgument, match=f"spine: column 'event_timestamp': row 1: invalid time '{text}'"):
        client.get_historical_features(spine, ["v"], split="s")
    with pytest.raises(timefence.InvalidArgument, match=want):
        Split("s", end=text)


def test_date_only_end_refused(client: timefence.Client, uid: str) -> None:
    """A date alone could mean its first or its last instant; the CLI
    refuses it, and so does Python, saying what it expects."""
    with pytest.raises(timefence.InvalidArgument) as ei:
        client.create_split(f"h1_{uid}", start="2024-01-01T00:00:00Z", end="2024-06-30")
    msg = str(ei.value)
    assert msg.startswith(f"split 'h1_{uid}': end: invalid time '2024-06-30'; {EXPECTED}")
    assert "2024-06-30T00:00:00Z or 2024-06-30T23:59:59Z" in msg
    with pytest.raises(timefence.UnknownSplit):
        client.get_split(f"h1_{uid}")  # nothing was created
    # A zone-less time is refused the same way, with a hint about the zone.
    with pytest.raises(timefence.InvalidArgument, match="add the zone"):
        client.create_split(f"h1_{uid}", end="2024-06-30T23:59:59")
    # So is a date object: it is no more a time than the string.
    with pytest.raises(timefence.InvalidArgument, match=r"a date \(2024-06-30\) is not a time"):
        client.create_split(f"h1_{uid}", end=dt.date(2024, 6, 30))


def test_datetimes_keep_working() -> None:
    """datetime, pandas and numpy values are taken as they are; naive = UTC."""
    want = pd.Timestamp("2024-06-30 23:59:59", tz="UTC")
    for value in (
        dt.datetime(2024, 6, 30, 23, 59, 59),
        dt.datetime(2024, 7, 1, 1, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        pd.Timestamp("2024-06-30 23:59:59"),
        pd.Timestamp("2024-06-30 19:59:59", tz="America/New_York"),
        np.datetime64("2024-06-30T23:59:59"),
    ):
        assert Split("s", end=value).end == want, value


def test_offsets_converted_to_utc(client: timefence.Client, uid: str) -> None:
    sp = client.create_split(f"off_{uid}", start="2024-01-01 02:00:00+02:00", end="2024-06-30T18:29:59-05:30")
    assert sp.start == pd.Timestamp("2024-01-01T00:00:00", tz="UTC")
    assert sp.end == pd.Timestamp("2024-06-30T23:59:59", tz="UTC")
    assert str(sp.end.tz) == "UTC"
    # The same bounds in UTC are the same split.
    assert client.create_split(f"off_{uid}", start="2024-01-01T00:00:00Z", end="2024-06-30T23:59:59Z") == sp
    # A spine column with mixed offsets becomes one UTC column.
    col = ensure_timestamp(
        pa.table({"t": ["2024-03-01T10:00:00+01:00", "2024-03-01 09:00:00Z", "2024-03-01T04:00:00-05:00"]}), "t", "spine"
    ).column("t")
    assert {v.value for v in col} == {pd.Timestamp("2024-03-01T09:00:00Z").value}


def test_nanoseconds_preserved(client: timefence.Client, uid: str) -> None:
    """A bound or an as-of time written to the nanosecond is read to the
    nanosecond: through create_split/get_split, an online read as of a time,
    and a spine of strings."""
    n = define_user_view(client, uid, features=[Feature("value", "int64")])
    split = f"ns_{uid}"
    sp = client.create_split(split, start="2024-01-01T00:00:00.000000001Z", end="2024-03-01T12:00:00.123456789Z")
    assert sp.start.value % 1_000_000_000 == 1
    assert sp.end.value % 1_000_000_000 == 123456789
    again = client.get_split(split)
    assert (again.start, again.end) == (sp.start, sp.end)
    assert again.end == pd.Timestamp("2024-03-01T12:00:00.123456789Z")

    # A value that arrived at ...000000005: visible at that nanosecond, not one before.
    arrived = "2024-02-01T10:00:00.000000005Z"
    client.write(
        n["view"],
        pd.DataFrame({"user_id": [1], "event_timestamp": [parse_time("2024-02-01T09:00:00Z")],
                      "available_at": [parse_time(arrived)], "value": [7]}),
        backfill=True,
    )
    before = "2024-02-01 11:00:00.000000004+01:00"  # one nanosecond earlier, written with an offset
    at = client.get_online_features({"user_id": [1]}, [n["view"]], as_of=arrived, split=split, output="dict")
    early = client.get_online_features({"user_id": [1]}, [n["view"]], as_of=before, split=split, output="dict")
    assert at["value"] == [7] and early["value"] == [None]
    spine = pd.DataFrame({"user_id": [1, 1], "event_timestamp": [before, arrived]})
    out = client.get_historical_features(spine, [n["view"]], split=split)
    assert out["value"].tolist() == [pd.NA, 7]
    assert [t.value for t in out["event_timestamp"]] == [parse_time(before).value, parse_time(arrived).value]
    # The split's end is inclusive to the nanosecond, and one past it is refused.
    ok = pd.DataFrame({"user_id": [1], "event_timestamp": ["2024-03-01T12:00:00.123456789Z"]})
    assert client.get_historical_features(ok, [n["view"]], split=split)["value"].tolist() == [7]
    with pytest.raises(timefence.CutoffExceeded):
        client.get_historical_features(ok.assign(event_timestamp="2024-03-01T12:00:00.12345679Z"), [n["view"]], split=split)
