"""Drift checks that do not cry wolf: timefence's CompareStatistics against
naive checks, on synthetic production data with realistic noise and with
injected faults.

Each day is one window: a split of that day's versions. Every window is
compared with the week before it (a split of the 7 previous days), the way
a monitoring job would run daily. The data of one feature view:

- ``amount``: heavy-tailed (log-normal, sigma 1), higher in the evening;
- ``clicks``: Poisson counts whose rate follows the hour of the day;
- ``channel``: 5 categories with fixed shares;
- ``coupon``: a code, null 5% of the time;
- arrival lag (``available_at - event_time``): log-normal around 2 minutes,
  and on one day in ten a burst of late data (3% of the rows 2 hours late).

Faults, in the last days, each lasting 2 days and the next one starting
after a clean week, so that each is compared with a clean baseline:

- missing data: ``coupon`` null 60% of the time;
- schema change: ``channel`` written in capitals by a new producer;
- lag increase: the arrival lag around 30 minutes;
- distribution shift: ``amount`` multiplied by 3;
- vocabulary change: a new ``channel`` "partner" takes 30% of the rows.

A fault counts as detected when a window of its 2 days raises an alarm. The
false-alarm rate is the share of clean windows (no fault in the window or in
its baseline week) that raise one.

The naive baseline checks every feature of every window alone: a
two-sample Kolmogorov-Smirnov test at p < 0.01 for numbers (the lag too), and
fixed thresholds elsewhere (any category's share moving by 2 points, the null
rate by 1 point, a value never seen in the baseline).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

FAULTS = ("missing_data", "schema_change", "lag_increase", "distribution_shift", "vocabulary_change")
CHANNELS = ["web", "app", "store", "email", "phone"]
SHARES = [0.4, 0.3, 0.15, 0.1, 0.05]
START = pd.Timestamp("2025-01-01T00:00:00Z")
BASELINE_DAYS = 7


@dataclass
class Outcome:
    """What one detector did over every window."""

    clean_windows: int = 0
    false_alarms: int = 0
    detected: Dict[str, Optional[int]] = field(default_factory=dict)  # fault -> windows until detected (1 or 2), None if missed

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / max(self.clean_windows, 1)


FAULT_GAP = BASELINE_DAYS + 3  # days between faults: each one's baseline week is clean


def fault_days(days: int) -> Dict[str, int]:
    """The first day of each fault, in the last days, FAULT_GAP apart; the
    days before them are clean."""
    first = days - len(FAULTS) * FAULT_GAP
    if first < 2 * BASELINE_DAYS:
        raise ValueError(f"days: {days} is too few; at least {2 * BASELINE_DAYS + len(FAULTS) * FAULT_GAP}")
    return {f: first + i * FAULT_GAP for i, f in enumerate(FAULTS)}


def day_rows(day: int, n: int, rng: np.random.Generator, fault: Optional[str]) -> pd.DataFrame:
    """One day of versions, with the noise of every day and the fault of the day, if any."""
    start = START + pd.Timedelta(days=day)
    # Events spread over the day, more in the evening.
    hours = rng.choice(24, size=n, p=_hour_weights())
    event = start + pd.to_timedelta(hours * 3600 + rng.uniform(0, 3600, n), unit="s")
    evening = (hours >= 18).astype(float)
    amount = np.exp(rng.normal(3.0 + 0.3 * evening, 1.0))
    clicks = rng.poisson(2.0 + 3.0 * np.sin(np.pi * hours / 24.0))
    channel = rng.choice(CHANNELS, size=n, p=SHARES).astype(object)
    coupon = np.where(rng.random(n) < 0.05, None, rng.choice(["SAVE5", "SAVE10", "FREESHIP"], size=n)).astype(object)
    lag_s = np.exp(rng.normal(math.log(120.0), 0.5, n))
    if day % 10 == 3:  # a burst of late data
        late = rng.random(n) < 0.03
        lag_s[late] += 7200.0
    if fault == "missing_data":
        coupon[rng.random(n) < 0.6] = None
    elif fault == "schema_change":
        channel = np.array([c.upper() for c in channel], dtype=object)
    elif fault == "lag_increase":
        lag_s = np.exp(rng.normal(math.log(1800.0), 0.5, n))
    elif fault == "distribution_shift":
        amount = amount * 3.0
    elif fault == "vocabulary_change":
        channel[rng.random(n) < 0.3] = "partner"
    return pd.DataFrame({
        "order_id": np.arange(day * n, (day + 1) * n, dtype=np.int64),
        "event_timestamp": event,
        "available_at": event + pd.to_timedelta(lag_s, unit="s"),
        "amount": amount,
        "clicks": clicks.astype(np.int64),
        "channel": channel,
        "coupon": coupon,
    })


def _hour_weights() -> np.ndarray:
    w = 1.0 + 0.8 * np.sin(np.pi * (np.arange(24) - 6) / 12.0) ** 2
    return w / w.sum()


def ks_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov test, asymptotic p-value."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    d = np.max(np.abs(np.searchsorted(a, grid, side="right") / len(a) - np.searchsorted(b, grid, side="right") / len(b)))
    n = len(a) * len(b) / (len(a) + len(b))
    lam = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d
    p = 2.0 * sum((-1) ** (k - 1) * math.exp(-2.0 * k * k * lam * lam) for k in range(1, 101))
    return min(max(p, 0.0), 1.0)


def naive_alarm(base: pd.DataFrame, cur: pd.DataFrame) -> bool:
    """Every feature alone, as a naive monitor checks it."""
    for col in ("amount", "clicks"):
        if ks_pvalue(base[col].to_numpy(float), cur[col].to_numpy(float)) < 0.01:
            return True
    lag = lambda df: (df.available_at - df.event_timestamp).dt.total_seconds().to_numpy()  # noqa: E731
    if ks_pvalue(lag(base), lag(cur)) < 0.01:
        return True
    for col in ("channel", "coupon"):
        b, c = base[col], cur[col]
        if abs(b.isna().mean() - c.isna().mean()) > 0.01:
            return True
        bs, cs = b.dropna().value_counts(normalize=True), c.dropna().value_counts(normalize=True)
        if set(cs.index) - set(bs.index):
            return True
        if (cs.reindex(bs.index.union(cs.index), fill_value=0) - bs.reindex(bs.index.union(cs.index), fill_value=0)).abs().max() > 0.02:
            return True
    return False


def evaluate(client, view: str, days: int, rows: int, seed: int, split_prefix: str) -> Tuple[Outcome, Outcome, float]:
    """Writes the days into view (already defined), compares every window
    with its baseline week both ways, and returns timefence's outcome, the
    naive one, and the seconds timefence's comparisons took."""
    rng = np.random.default_rng(seed)
    starts = fault_days(days)
    fault_of = {}
    for f, d in starts.items():
        fault_of[d] = fault_of[d + 1] = f
    frames = []
    for day in range(days):
        df = day_rows(day, rows, rng, fault_of.get(day))
        client.write(view, df, backfill=True)
        frames.append(df)
        end = START + pd.Timedelta(days=day + 1) - pd.Timedelta(microseconds=1)
        client.create_split(f"{split_prefix}d{day}", start=START + pd.Timedelta(days=day), end=end)
        if day >= BASELINE_DAYS:
            client.create_split(f"{split_prefix}w{day}", start=START + pd.Timedelta(days=day - BASELINE_DAYS),
                                end=START + pd.Timedelta(days=day) - pd.Timedelta(microseconds=1))
    ours, naive = Outcome(), Outcome()
    seconds = 0.0
    for day in range(BASELINE_DAYS, days):
        t0 = time.perf_counter()
        anomalies = client.compare_statistics(view, f"{split_prefix}w{day}", f"{split_prefix}d{day}")
        seconds += time.perf_counter() - t0
        alarm = bool(anomalies)
        base = pd.concat(frames[day - BASELINE_DAYS:day])
        naive_hit = naive_alarm(base, frames[day])
        contaminated = any(d in fault_of for d in range(day - BASELINE_DAYS, day + 1))
        if not contaminated:
            for o, hit in ((ours, alarm), (naive, naive_hit)):
                o.clean_windows += 1
                o.false_alarms += int(hit)
        for f, d in starts.items():
            if day in (d, d + 1):
                for o, hit in ((ours, alarm), (naive, naive_hit)):
                    if hit and o.detected.get(f) is None:
                        o.detected[f] = day - d + 1
                    o.detected.setdefault(f, None)
    return ours, naive, seconds


def report(ours: Outcome, naive: Outcome, days: int, rows: int, seconds: float) -> str:
    lines = [
        f"{days} daily windows of {rows:,} versions, each compared with the week before; "
        f"{ours.clean_windows} clean windows; timefence's comparisons took {seconds:.1f} s",
        "",
        "| detector | false alarms | false-alarm rate | " + " | ".join(FAULTS) + " |",
        "|---|---:|---:|" + "---:|" * len(FAULTS),
    ]
    for name, o in (("timefence CompareStatistics", ours), ("naive (KS p < 0.01, fixed thresholds)", naive)):
        cells = [("window %d" % o.detected[f]) if o.detected.get(f) else "missed" for f in FAULTS]
        lines.append(f"| {name} | {o.false_alarms} | {100 * o.false_alarm_rate:.1f}% | " + " | ".join(cells) + " |")
    ratio = naive.false_alarms / ours.false_alarms if ours.false_alarms else float("inf")
    lines += ["", f"false alarms, naive / timefence: {'∞ (timefence raised none)' if ratio == float('inf') else f'{ratio:.1f}×'}"]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    import subprocess
    import tempfile

    import timefence

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", required=True, help="the timefence binary to serve with")
    ap.add_argument("--days", type=int, default=250)
    ap.add_argument("--rows", type=int, default=5000, help="versions per day")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--addr", default="127.0.0.1:7391")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen([args.binary, "serve", "--data", data, "--addr", args.addr, "--log-level", "warn"])
        try:
            client = timefence.Client(args.addr)
            for _ in range(100):
                try:
                    client.list_splits()
                    break
                except timefence.TimefenceError:
                    time.sleep(0.1)
            define(client, "orders", "order")
            ours, naive, seconds = evaluate(client, "orders", args.days, args.rows, args.seed, "")
            print(f"drift checks, {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.2f}, "
                  f"seed {args.seed}; command: python benchmarks/validation/evaluate.py --binary BIN --days {args.days} --rows {args.rows} --seed {args.seed}")
            print(report(ours, naive, args.days, args.rows, seconds))
        finally:
            proc.terminate()
            proc.wait()
    return 0


def define(client, view: str, entity: str) -> None:
    import timefence

    client.apply([
        timefence.Entity(entity, join_keys=[("order_id", "int64")]),
        timefence.FeatureView(view, entity=entity, features=[
            timefence.Feature("amount", "double"), timefence.Feature("clicks", "int64"),
            timefence.Feature("channel", "string"), timefence.Feature("coupon", "string"),
        ]),
    ])


if __name__ == "__main__":
    raise SystemExit(main())
