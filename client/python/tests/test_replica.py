"""A read replica, served by the real binary, against its primary: a write
read back on the replica with the write's last seq as min_watermark, the
same joins as the primary, writes refused naming the primary, and
ReplicaBehind when the replica cannot reach a watermark in time."""

from __future__ import annotations

import pathlib

import pandas as pd
import pytest
from conftest import REPO_ROOT, start_server, stop_server

import timefence


def test_replica_reads_its_primarys_writes(binary: pathlib.Path, tmp_path: pathlib.Path) -> None:
    primary, paddr = start_server(binary, tmp_path / "primary", tmp_path / "primary.log")
    replica = None
    try:
        with timefence.Client(paddr) as prod:
            prod.apply(REPO_ROOT / "examples" / "definitions.yaml")
            history = pd.read_csv(REPO_ROOT / "examples" / "user_stats_history.csv")
            prod.write("user_stats", history, backfill=True)
            replica, raddr = start_server(binary, tmp_path / "replica", tmp_path / "replica.log", "--replica-of", paddr)
            with timefence.Client(raddr) as rep:
                res = prod.write("user_stats", pd.DataFrame({
                    "user_id": [7], "event_timestamp": [pd.Timestamp.now(tz="UTC")], "clicks": [41],
                    "spend": [1.5], "country": ["FR"], "is_subscriber": [False]}))
                got = rep.get_online_features({"user_id": [7]}, ["user_stats:clicks"], min_watermark=res["last_seq"])
                assert got["clicks"].tolist() == [41]
                assert got.attrs["timefence"]["watermark"] >= res["last_seq"]

                spine = pd.read_csv(REPO_ROOT / "examples" / "spine.csv")
                want = prod.get_historical_features(spine, ["user_stats"], split="train", as_arrow=True)
                mine = rep.get_historical_features(spine, ["user_stats"], split="train", as_arrow=True)
                assert mine.equals(want)

                with pytest.raises(timefence.ReadOnly, match=f"write to its primary at {paddr}"):
                    rep.write("user_stats", history.head(1), backfill=True)
                with timefence.Client(raddr, timeout=1.0) as hurried:
                    with pytest.raises(timefence.ReplicaBehind, match="behind min_watermark"):
                        hurried.get_online_features({"user_id": [7]}, ["user_stats:clicks"], min_watermark=res["last_seq"] + 1_000)
                with pytest.raises(timefence.InvalidArgument, match="min_watermark"):
                    prod.get_online_features({"user_id": [7]}, ["user_stats:clicks"], min_watermark=res["last_seq"] + 1_000)
    finally:
        if replica is not None:
            stop_server(replica)
        stop_server(primary)
