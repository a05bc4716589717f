"""The short form of benchmarks/validation/evaluate.py, on fixed seeds:
CompareStatistics raises no false alarm on noisy but stationary windows
where naive checks raise many, and detects every injected fault within 2
windows. No timing is asserted."""

from __future__ import annotations

import pathlib
import sys

import pytest

import timefence

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "benchmarks" / "validation"))
import evaluate  # noqa: E402


@pytest.mark.parametrize("seed", [1, 2])
def test_drift_checks_do_not_cry_wolf(client: timefence.Client, uid: str, seed: int) -> None:
    view = f"orders_{uid}"
    evaluate.define(client, view, f"order_{uid}")
    ours, naive, _ = evaluate.evaluate(client, view, days=100, rows=500, seed=seed, split_prefix=f"drift_{uid}_")
    print(evaluate.report(ours, naive, 100, 500, 0.0))
    assert ours.clean_windows >= 40
    assert ours.false_alarm_rate <= 0.01
    assert naive.false_alarms >= 10 * max(ours.false_alarms, 1), "at least 10 times fewer false alarms than the naive checks"
    assert ours.detected == {f: 1 for f in evaluate.FAULTS}, "every fault in its first window"
