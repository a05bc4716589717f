"""Shared constants, paths, sizes and measurement helpers."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BENCH_DIR.parent
DATA_DIR = Path(os.environ.get("TFBENCH_DATA", BENCH_DIR / "data"))
OUT_DIR = Path(os.environ.get("TFBENCH_OUT", BENCH_DIR / "out"))

US = 1_000  # ns per microsecond
SEC = 1_000_000_000
DAY = 86_400 * SEC
# All synthetic history lies in [T0, T0 + 30 days]; the split "bench" covers
# [T0 - 1 day, T0 + 30 days] so late versions (available after the cutoff)
# exist and are kept out by the guard.
T0 = 1_735_689_600 * SEC  # 2025-01-01T00:00:00Z
SPAN = 30 * DAY
SPLIT = "bench"
SPLIT_START = T0 - DAY
SPLIT_END = T0 + SPAN

# The three join views: name -> [(feature, arrow type name)].
VIEWS = {
    "user_activity": [("clicks", "int64"), ("spend", "double"), ("sessions", "int64")],
    "user_risk": [("risk", "double"), ("chargebacks", "int64"), ("score", "double")],
    "user_profile": [("age_days", "int64"), ("ltv", "double"), ("tier", "int64")],
}
FEATURES = [f for feats in VIEWS.values() for f, _ in feats]
ONLINE_VIEW = "user_online50"
ONLINE_FEATURES = [(f"f{i:02d}", "int64" if i % 2 == 0 else "double") for i in range(50)]


@dataclass(frozen=True)
class Dataset:
    """A generated history: entities and versions over the 3 views."""

    name: str
    entities: int
    versions: int  # total over the 3 views, before corrections
    online_entities: int
    seed: int = 20250101


@dataclass(frozen=True)
class Size:
    """One join size: a spine over a dataset."""

    name: str
    dataset: Dataset
    spine_rows: int


DATASETS = {
    "tiny": Dataset("tiny", entities=400, versions=6_000, online_entities=500),
    "d100k": Dataset("d100k", entities=100_000, versions=1_000_000, online_entities=20_000),
    "d1m": Dataset("d1m", entities=1_000_000, versions=10_000_000, online_entities=20_000),
}
# 1m is the reference workload: 1M spine rows x 3 views over 10M versions.
# 10m joins a 10M-row spine over the same 10M versions.
SIZES = {
    "smoke": Size("smoke", DATASETS["tiny"], 3_000),
    "100k": Size("100k", DATASETS["d100k"], 100_000),
    "1m": Size("1m", DATASETS["d1m"], 1_000_000),
    "10m": Size("10m", DATASETS["d1m"], 10_000_000),
}


def dataset_dir(ds: Dataset) -> Path:
    return DATA_DIR / ds.name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS/VmHWM etc. of a process, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k.startswith("Vm") or k.startswith("Rss"):
                out[k] = int(v.split()[0])
    return out


def reset_hwm(pid: int | str = "self") -> None:
    """Reset the process' peak RSS (VmHWM) to its current RSS (Linux >= 4.0)."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def hwm_mib(pid: int | str = "self") -> float:
    return proc_status(pid)["VmHWM"] / 1024


def disk_bytes(path: Path) -> int:
    """Bytes allocated on disk to a file, or to the files under a directory
    (as `du` counts them: a sparse file counts what it uses); 0 when it does
    not exist."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_blocks * 512
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0


def log(*args) -> None:
    print(time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


def emit(result: dict) -> None:
    """A child's result: one JSON line on stdout, last."""
    print("TFBENCH_RESULT " + json.dumps(result), flush=True)
