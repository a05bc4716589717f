"""The online DataFrame is assembled from pandas blocks; it must be the frame
``pd.DataFrame(data)`` builds, on pandas 3 (.venv) and pandas 2 (.venv-feast,
which scripts/test-python.sh runs this file in too)."""

import numpy as np
import pandas as pd
import pytest

from timefence import _online


def _columns(n: int):
    floats = np.arange(3 * n, dtype=np.float64).reshape(3, n)
    floats[1, 0] = np.nan
    stamps = pd.DatetimeIndex(np.arange(n, dtype=np.int64).view("M8[ns]")).tz_localize("UTC").array
    data = {
        "user_id": np.arange(n, dtype=np.int64),
        "a": floats[0],
        "i": pd.arrays.IntegerArray(np.arange(n, dtype=np.int64), np.arange(n) % 2 == 0),
        "b": floats[1],
        "s": pd.array(["x", None, "é"][:n] + ["y"] * max(0, n - 3), dtype=pd.StringDtype()),
        "ok": pd.arrays.BooleanArray(np.ones(n, dtype=bool), np.zeros(n, dtype=bool)),
        "raw": np.array([b"\x00", None][:n] + [b""] * max(0, n - 2), dtype=object),
        "t": stamps,
        "f32": np.full(n, 0.5, dtype=np.float32),
        "c": floats[2],
    }
    return data, [(floats, ["a", "b", "c"])]


@pytest.mark.parametrize("n", [1, 2, 5])
def test_frame_is_the_column_by_column_frame(n: int) -> None:
    data, blocks = _columns(n)
    want = pd.DataFrame(dict(data))
    for name in blocks[0][1]:
        data[name] = None  # as to_frame leaves the places of block columns
    got = _online.frame(data, blocks, n)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.index.equals(pd.RangeIndex(n))
    assert list(got.columns) == list(data)
    if _online._from_blocks is not None:
        assert got._mgr.nblocks == len(data) - 2, "the three float columns share one block"
    # The frame is the caller's to change.
    got.loc[0, "a"] = -1.0
    assert got["a"].iloc[0] == -1.0
    pd.testing.assert_series_equal(got["b"], want["b"])


def test_frame_falls_back_with_blocks() -> None:
    # A column the block API cannot take: the block columns are put in place.
    floats = np.array([[1.0, 2.0], [3.0, 4.0]])
    data = {"user_id": pd.Series([7, 8]), "a": None, "s": np.array(["x", "y"], dtype=object), "b": None}
    got = _online.frame(data, [(floats, ["a", "b"])], 2)
    want = pd.DataFrame({"user_id": [7, 8], "a": [1.0, 2.0], "s": ["x", "y"], "b": [3.0, 4.0]})
    pd.testing.assert_frame_equal(got, want)


def test_frame_without_blocks() -> None:
    # Columns the block API cannot take as they are: built column by column.
    data = {"user_id": pd.Series([3, 4]), "a": np.array([1.0, 2.0])}
    pd.testing.assert_frame_equal(_online.frame(data, [], 2), pd.DataFrame({"user_id": [3, 4], "a": [1.0, 2.0]}))
    empty = _online.frame({}, [], 3)
    assert empty.shape == (3, 0) and empty.index.equals(pd.RangeIndex(3))
