"""The NoDataUnderSplit warnings, against a fresh server with the example data.

History written live is available from when it was written, after a past
split's cutoff: joins, exports and statistics under the split then read
nothing, and say so with a warning that points at backfill.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import warnings
from typing import Iterator, List, Tuple

import pandas as pd
import pytest
from conftest import REPO_ROOT, start_server, stop_server

import timefence
from timefence import _hints

EXAMPLES = REPO_ROOT / "examples"
ADMIN, TRAINER = "admin-token", "trainer-token"

TRAIN_CUTOFF = "(2024-01-31T23:59:59Z)"
TEST_CUTOFF = "(2024-02-14T23:59:59Z)"
LOAD_HISTORY = "rows written live are available from when they were written, so load history with write(..., backfill=True)"
# The live file holds 7 rows, all events of January and early February 2024.
LIVE_TRAIN = f"none of the 7 versions of user_stats was available by the cutoff of split train {TRAIN_CUTOFF}; {LOAD_HISTORY}"
LIVE_TEST = f"none of the 7 versions of user_stats was available by the cutoff of split test {TEST_CUTOFF}; {LOAD_HISTORY}"


@pytest.fixture
def clients(binary: pathlib.Path, tmp_path: pathlib.Path) -> Iterator[Tuple[timefence.Client, timefence.Client]]:
    """An admin and a trainer (scoped to train and test) on a fresh server
    with auth, the example definitions applied."""
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"credentials": [
        {"name": "ops", "token_sha256": hashlib.sha256(ADMIN.encode()).hexdigest(), "role": "admin"},
        {"name": "notebook", "token_sha256": hashlib.sha256(TRAINER.encode()).hexdigest(), "role": "trainer",
         "splits": ["train", "test"]},
    ]}))
    proc, address = start_server(binary, tmp_path / "data", tmp_path / "server.log", "--auth-file", str(auth))
    admin = timefence.Client(address, token=ADMIN)
    trainer = timefence.Client(address, token=TRAINER)
    try:
        admin.apply(str(EXAMPLES / "definitions.yaml"))
        yield admin, trainer
    finally:
        admin.close()
        trainer.close()
        stop_server(proc)


def spine() -> pd.DataFrame:
    return pd.read_csv(EXAMPLES / "spine.csv", parse_dates=["event_timestamp"])


def write_live(c: timefence.Client) -> None:
    c.write("user_stats", pd.read_csv(EXAMPLES / "user_stats.csv"))


def write_history(c: timefence.Client) -> None:
    history = pd.read_csv(EXAMPLES / "user_stats_history.csv", parse_dates=["event_timestamp", "available_at"])
    c.write("user_stats", history, backfill=True)


def messages(record: "pytest.WarningsRecorder") -> List[str]:
    return [str(w.message) for w in record if issubclass(w.category, timefence.NoDataUnderSplit)]


def test_warning_category() -> None:
    assert issubclass(timefence.NoDataUnderSplit, UserWarning)
    assert "NoDataUnderSplit" in timefence.__all__


def test_live_history_warns_backfill_does_not(clients: Tuple[timefence.Client, timefence.Client]) -> None:
    admin, _ = clients
    write_live(admin)

    with pytest.warns(timefence.NoDataUnderSplit) as rec:
        df = admin.get_historical_features(spine(), ["user_stats"], split="train")
    assert messages(rec) == [LIVE_TRAIN]
    assert df["clicks"].isna().all()  # the read itself is unchanged: nothing was available

    with pytest.warns(timefence.NoDataUnderSplit) as rec:
        tables = admin.export("train", ["user_stats"])
    assert messages(rec) == [LIVE_TRAIN]
    assert tables["user_stats"].num_rows == 0

    with pytest.warns(timefence.NoDataUnderSplit) as rec:
        stats = admin.statistics("train", "user_stats")
    assert messages(rec) == [LIVE_TRAIN]
    assert stats.attrs["versions"] == 0

    # Both sides empty: no anomaly is found, which must not pass for "no change".
    with pytest.warns(timefence.NoDataUnderSplit) as rec:
        anomalies = admin.compare_statistics("user_stats", "train", "test")
    assert anomalies == []
    assert messages(rec) == [LIVE_TEST, LIVE_TRAIN]  # current side first, then the baseline

    # The warning is raised at the caller's line.
    with pytest.warns(timefence.NoDataUnderSplit) as rec:
        admin.statistics("train", "user_stats")
    assert rec[0].filename == __file__

    write_history(admin)
    with warnings.catch_warnings():
        warnings.simplefilter("error", timefence.NoDataUnderSplit)
        df = admin.get_historical_features(spine(), ["user_stats"], split="train")
        assert df["clicks"].notna().any()
        assert admin.export("train", ["user_stats"])["user_stats"].num_rows == 8
        assert admin.statistics("train", "user_stats").attrs["versions"] == 8
        admin.compare_statistics("user_stats", "train", "test")


def test_one_empty_side_of_a_comparison(clients: Tuple[timefence.Client, timefence.Client]) -> None:
    admin, _ = clients
    # Only February's history: the test split holds versions, train none.
    history = pd.read_csv(EXAMPLES / "user_stats_history.csv", parse_dates=["event_timestamp", "available_at"])
    feb = history[history["event_timestamp"] >= pd.Timestamp("2024-02-01", tz="UTC")]
    admin.write("user_stats", feb, backfill=True)
    with pytest.warns(timefence.NoDataUnderSplit) as rec:
        admin.compare_statistics("user_stats", "train", "test")
    assert messages(rec) == [
        f"none of the {len(feb)} versions of user_stats was available by the cutoff of split train {TRAIN_CUTOFF}; {LOAD_HISTORY}"
    ]


def test_trainer_is_warned_without_the_total(clients: Tuple[timefence.Client, timefence.Client]) -> None:
    admin, trainer = clients
    write_live(admin)
    # A trainer may not read history_status (it counts versions after the
    # cutoff too): the warning then has no total.
    with pytest.raises(timefence.PermissionDenied):
        trainer.history_status()
    expected = f"no version of user_stats was available by the cutoff of split train {TRAIN_CUTOFF}; {LOAD_HISTORY}"
    with pytest.warns(timefence.NoDataUnderSplit) as rec:
        trainer.get_historical_features(spine(), ["user_stats:clicks", "user_stats:spend"], split="train")
    assert messages(rec) == [expected]
    with pytest.warns(timefence.NoDataUnderSplit) as rec:
        trainer.export("train", "user_stats")
    assert messages(rec) == [expected]


def test_null_views_of_a_join(clients: Tuple[timefence.Client, timefence.Client]) -> None:
    admin, _ = clients
    write_history(admin)
    # Keys the views have no version of: every value is null although the
    # split holds versions; store_sales holds none at all.
    s = pd.DataFrame({
        "user_id": [98, 99],
        "store_id": [1, 2],
        "region": ["eu", "us"],
        "event_timestamp": pd.to_datetime(["2024-01-10", "2024-01-20"], utc=True),
    })
    with pytest.warns(timefence.NoDataUnderSplit) as rec:
        admin.get_historical_features(s, ["user_stats", "store_sales:revenue"], split="train")
    assert messages(rec) == [
        "every value of user_stats is null although the split holds 8 versions of it; check the spine's join keys and timestamps",
        "store_sales holds no versions yet; write some with write(...)",
    ]
    # One row that meets user_stats is enough: only store_sales is named.
    s.loc[0, "user_id"] = 1
    with pytest.warns(timefence.NoDataUnderSplit) as rec:
        admin.get_historical_features(s, ["user_stats", "store_sales"], split="train", full_feature_names=True)
    assert messages(rec) == ["store_sales holds no versions yet; write some with write(...)"]


def test_format_time_and_plural() -> None:
    assert _hints.format_time(pd.Timestamp("2024-01-31T23:59:59Z")) == "2024-01-31T23:59:59Z"
    assert _hints.format_time(pd.Timestamp("2024-01-31T23:59:59.120Z")) == "2024-01-31T23:59:59.12Z"
    assert _hints.format_time(pd.Timestamp("2024-01-31 23:59:59.000000001")) == "2024-01-31T23:59:59.000000001Z"
    assert _hints.format_time(pd.Timestamp("2024-02-01T01:00:00+01:00")) == "2024-02-01T00:00:00Z"
    assert [_hints.plural(n, "version") for n in (0, 1, 2, 1234567)] == [
        "0 versions", "1 version", "2 versions", "1,234,567 versions"]
