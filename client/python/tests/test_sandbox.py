"""Client.create_sandbox against a server of its own: the sandbox, restored
and served by the real binary, answers joins under its split as production
does, holds nothing after the cutoff, and refuses writes."""

from __future__ import annotations

import json
import pathlib
import subprocess

import pandas as pd
import pytest
from conftest import REPO_ROOT, start_server, stop_server

import timefence


def test_sandbox_answers_as_production(binary: pathlib.Path, tmp_path: pathlib.Path) -> None:
    proc, address = start_server(binary, tmp_path / "prod", tmp_path / "prod.log")
    try:
        with timefence.Client(address) as prod:
            prod.apply(REPO_ROOT / "examples" / "definitions.yaml")
            history = pd.read_csv(REPO_ROOT / "examples" / "user_stats_history.csv")
            prod.write("user_stats", history, backfill=True)
            # A version after the cutoff (2024-01-31T23:59:59Z), with a marker.
            prod.write("user_stats", pd.DataFrame({
                "user_id": [1], "event_timestamp": ["2024-02-20T00:00:00Z"], "available_at": ["2024-02-20T00:00:00Z"],
                "country": ["after-cutoff-51ab"], "is_subscriber": [True]}), backfill=True)
            spine = pd.read_csv(REPO_ROOT / "examples" / "spine.csv")
            want = prod.get_historical_features(spine, ["user_stats"], split="train", as_arrow=True)

            info = prod.create_sandbox("train", tmp_path / "train.sandbox")
            assert info["split"] == "train" and info["splits"] == ["train"]
            assert info["cutoff"] == pd.Timestamp("2024-01-31T23:59:59Z")
            assert (info["versions"], info["left_out"]) == (8, 6)
            with pytest.raises(timefence.UnknownSplit):
                prod.create_sandbox("nope", tmp_path / "nope.sandbox")
            assert not (tmp_path / "nope.sandbox").exists() and not (tmp_path / "nope.sandbox.partial").exists()
    finally:
        stop_server(proc)

    sandbox = tmp_path / "sandbox"
    subprocess.run([str(binary), "restore", "--data", str(sandbox), str(tmp_path / "train.sandbox")], check=True,
                   capture_output=True)
    proc, address = start_server(binary, sandbox, tmp_path / "sandbox.log")
    try:
        with timefence.Client(address) as sb:
            got = sb.get_historical_features(spine, ["user_stats"], split="train", as_arrow=True)
            assert got.equals(want)
            meta = lambda t: json.loads(t.schema.metadata[b"timefence"])  # noqa: E731
            assert meta(got)["checksum"] == meta(want)["checksum"]
            with pytest.raises(timefence.ReadOnly, match='cut from store .* at split "train"'):
                sb.write("user_stats", pd.DataFrame({"user_id": [9], "event_timestamp": ["2024-01-10T00:00:00Z"],
                                                     "clicks": [1]}))
            with pytest.raises(timefence.ReadOnly):
                sb.create_split("mine", start="2024-01-01T00:00:00Z", end="2024-01-15T00:00:00Z")
            assert [s.name for s in sb.list_splits()] == ["train"]
    finally:
        stop_server(proc)
    # Nothing after the cutoff is in its files (read in blocks: Badger's
    # logs are preallocated to a gigabyte).
    marker = b"after-cutoff-51ab"
    for f in sandbox.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                tail = b""
                while block := fh.read(1 << 20):
                    assert marker not in tail + block, f
                    tail = block[-len(marker):]
