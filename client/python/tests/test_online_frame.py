"""The online DataFrame is assembled from pandas blocks; it must be the frame
``pd.DataFrame(data)`` builds, on pandas 3 (.venv) and pandas 2 (.venv-feast,
which scripts/test-python.sh runs this file in too), whichever builder
timefence._frames chose."""

import numpy as np
import pandas as pd
import pytest

from timefence import _frames


def _columns(n: int):
    floats = np.arange(3 * n, dtype=np.float64).reshape(3, n)
    floats[1, :1] = np.nan
    stamps = pd.DatetimeIndex(np.arange(n, dtype=np.int64).view("M8[ns]")).tz_localize("UTC").array
    data = {
        "user_id": np.arange(n, dtype=np.int64),
        "a": floats[0],
        "i": _frames.integer_array(np.arange(n, dtype=np.int64), np.arange(n) % 2 == 0),
        "b": floats[1],
        "s": pd.array(["x", None, "é"][:n] + ["y"] * max(0, n - 3), dtype=pd.StringDtype()),
        "ok": _frames.boolean_array(np.ones(n, dtype=bool), np.zeros(n, dtype=bool)),
        "i32": pd.arrays.IntegerArray(np.full(n, -7, dtype=np.int32), np.zeros(n, dtype=bool)),
        "raw": np.array([b"\x00", None][:n] + [b""] * max(0, n - 2), dtype=object),
        "t": stamps,
        "f32": np.full(n, 0.5, dtype=np.float32),
        "c": floats[2],
    }
    return data, [(floats, ["a", "b", "c"])]


def test_a_block_builder_is_used() -> None:
    # Both pandas of the tests have their internals as _frames expects;
    # a pandas that moved them would fall back, slower, and fail here.
    assert _frames.BUILDER == "internals"


@pytest.fixture(params=["internals", "public"])
def builder(request, monkeypatch) -> str:
    """Each builder this pandas has, its check at import passed."""
    build = _frames._internal_builder()[0] if request.param == "internals" else _frames._public_builder()
    if build is None:
        pytest.skip(f"pandas {pd.__version__} has no {request.param} block API")
    assert _frames._checked(build) is build
    monkeypatch.setattr(_frames, "_build", build)
    return request.param


@pytest.mark.parametrize("n", [0, 1, 2, 5, 200])
def test_frame_is_the_column_by_column_frame(n: int, builder: str) -> None:
    data, blocks = _columns(n)
    want = pd.DataFrame(dict(data))
    for name in blocks[0][1]:
        data[name] = None  # as to_frame leaves the places of block columns
    got = _frames.frame(data, blocks, n)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.index.equals(pd.RangeIndex(n))
    assert list(got.columns) == list(data)
    assert got._mgr.nblocks == len(data) - 2, "the three float columns share one block"
    if n == 0:
        return
    # The frame is the caller's to change, column by column.
    got.loc[0, "a"] = -1.0
    got.loc[0, "i"] = 41
    assert got["a"].iloc[0] == -1.0 and got["i"].iloc[0] == 41
    pd.testing.assert_series_equal(got["b"], want["b"])
    got["extra"] = 1
    got = got.drop(columns=["c", "s"])
    assert list(got.columns) == [c for c in data if c not in ("c", "s")] + ["extra"]
    pd.testing.assert_series_equal(got["i32"], want["i32"])


def test_masked_arrays_are_pandas_own() -> None:
    values, mask = np.array([3, -2, 0], dtype=np.int64), np.array([False, True, False])
    for got, want in [
        (_frames.integer_array(values, mask), pd.arrays.IntegerArray(values, mask)),
        (_frames.integer_array(values.astype(np.int32), mask), pd.arrays.IntegerArray(values.astype(np.int32), mask)),
        (_frames.boolean_array(values > 0, mask), pd.arrays.BooleanArray(values > 0, mask)),
    ]:
        assert type(got) is type(want) and got.dtype == want.dtype
        pd.testing.assert_extension_array_equal(got, want)


def test_a_wrong_builder_is_refused() -> None:
    # The check at import turns away a builder whose frame is not pandas'
    # own, and one that fails.
    def empty(parts, index, columns):
        return pd.DataFrame(index=index)

    def failing(parts, index, columns):
        raise TypeError("moved")

    def one_block_a_column(parts, index, columns):  # the right frame, but slow
        split = []
        for values, positions in parts:
            if isinstance(positions, int):
                split.append((values, positions))
            else:
                split.extend((values[i:i + 1], p) for i, p in enumerate(positions))
        return _frames._internal_builder()[0](split, index, columns)

    assert _frames._checked(empty) is None
    assert _frames._checked(failing) is None
    assert _frames._checked(None) is None
    assert _frames._checked(one_block_a_column) is None


def test_frame_falls_back_with_blocks() -> None:
    # A column the block API cannot take: the block columns are put in place.
    floats = np.array([[1.0, 2.0], [3.0, 4.0]])
    data = {"user_id": pd.Series([7, 8]), "a": None, "s": np.array(["x", "y"], dtype=object), "b": None}
    got = _frames.frame(data, [(floats, ["a", "b"])], 2)
    want = pd.DataFrame({"user_id": [7, 8], "a": [1.0, 2.0], "s": ["x", "y"], "b": [3.0, 4.0]})
    pd.testing.assert_frame_equal(got, want)


def test_frame_without_blocks() -> None:
    # Columns the block API cannot take as they are: built column by column.
    data = {"user_id": pd.Series([3, 4]), "a": np.array([1.0, 2.0])}
    pd.testing.assert_frame_equal(_frames.frame(data, [], 2), pd.DataFrame({"user_id": [3, 4], "a": [1.0, 2.0]}))
    empty = _frames.frame({}, [], 3)
    assert empty.shape == (3, 0) and empty.index.equals(pd.RangeIndex(3))
