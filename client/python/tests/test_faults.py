"""Faults the server refuses cleanly, caused for real against the binary."""

from __future__ import annotations

import os
import pathlib

import pandas as pd
import pytest
from conftest import start_server, stop_server
from helpers import define_user_view, utc

import timefence


def test_storage_full_refuses_writes(binary: pathlib.Path, tmp_path: pathlib.Path) -> None:
    # A reserve of 1.5x the free space: batches need the whole reserve free,
    # so they are refused; the small registry records may use half of it.
    st = os.statvfs(tmp_path)
    reserve = st.f_bavail * st.f_frsize * 3 // 2
    proc, address = start_server(binary, tmp_path / "data", tmp_path / "log", "--reserve", str(reserve))
    try:
        with timefence.Client(address) as c:
            names = define_user_view(c, "full")
            df = pd.DataFrame({"user_id": [1], "event_timestamp": [utc("2024-01-01T00:00:00Z")], "clicks": [1], "score": [0.5]})
            with pytest.raises(timefence.StorageFull) as e:
                c.write(names["view"], df)
            assert e.value.reason == "STORAGE_FULL"
            assert str(tmp_path / "data") in str(e.value)
            assert "reserve" in str(e.value)
    finally:
        stop_server(proc)
