"""Small DataFrames assembled from pandas blocks.

``pd.DataFrame(data)`` checks and infers every column, about 12 us a column:
most of a 1 x 50 online lookup. A frame built from blocks skips that: the
float columns share one 2-D block, and the nullable integer and boolean
columns are made without pandas' checks of what this package already knows.

The block constructors used are pandas internals. At import, a frame built
through them is compared with the frame ``pd.DataFrame`` builds; if they
differ or the internals moved, frames are built with pandas' public block
API (pandas >= 3), or column by column.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import pandas as pd

# Index caches are cleared past this many entries.
CACHE_MAX = 256


def frame(data: Dict[Any, Any], blocks: List[Tuple[np.ndarray, List[str]]], n: int) -> pd.DataFrame:
    """``pd.DataFrame(data)`` with a RangeIndex of n rows: each array of
    ``blocks`` holds, one per row, the columns it names (None in ``data``,
    which gives the order); every other column is a block of its own. A
    frame with a column that is not a 1-D array (a Series) is built column
    by column."""
    grouped = {name: (arr, i) for arr, names in blocks for i, name in enumerate(names)}
    if _build is None or not all(name in grouped or _blockable(v) for name, v in data.items()):
        for name, (arr, i) in grouped.items():
            data[name] = arr[i]
        return pd.DataFrame(data, index=None if data else pd.RangeIndex(n), copy=False)
    # Each part: (values, the positions of its columns), a single column's
    # position as an int.
    pos = {name: i for i, name in enumerate(data)}
    parts: List[Tuple[Any, Any]] = [(arr, [pos[name] for name in names]) for arr, names in blocks]
    for name, v in data.items():
        if name not in grouped:
            parts.append((v.reshape(1, -1) if isinstance(v, np.ndarray) else v, pos[name]))
    return _build(parts, range_index(n), column_index(tuple(data)))


def integer_array(values: np.ndarray, mask: np.ndarray) -> Any:
    """``pd.arrays.IntegerArray(values, mask)`` for a 1-D int64 or int32
    array and a bool mask of its length, unchecked where that is safe."""
    return _integer(values, mask)


def boolean_array(values: np.ndarray, mask: np.ndarray) -> Any:
    """``pd.arrays.BooleanArray(values, mask)``, as :func:`integer_array`."""
    return _boolean(values, mask)


def range_index(n: int) -> pd.RangeIndex:
    """pd.RangeIndex(n), shared for small n: an Index is immutable."""
    if n >= len(_RANGES):
        return pd.RangeIndex(n)
    return _RANGES[n]


def column_index(names: Tuple[Any, ...]) -> pd.Index:
    """The columns Index of names, cached: pandas infers its dtype, which
    costs more than the rest of a small frame."""
    idx = _INDEXES.get(names)
    if idx is None:
        idx = pd.Index(list(names))
        with _INDEXES_LOCK:
            if len(_INDEXES) >= CACHE_MAX:
                _INDEXES.clear()
            _INDEXES[names] = idx
    return idx


_RANGES = [pd.RangeIndex(n) for n in range(128)]
_INDEXES: Dict[Tuple[Any, ...], pd.Index] = {}
_INDEXES_LOCK = threading.Lock()
_ARRAY_TYPES: Dict[type, bool] = {}


def _blockable(v: Any) -> bool:
    """True for a 1-D numpy array or extension array."""
    ok = _ARRAY_TYPES.get(type(v))
    if ok is None:
        ok = _ARRAY_TYPES[type(v)] = isinstance(v, (np.ndarray, pd.api.extensions.ExtensionArray))
    return ok and v.ndim == 1


# A builder takes [(values, positions)], where positions is an int or a list
# of ints, the index and the columns.
Build = Callable[[List[Tuple[Any, Any]], pd.Index, pd.Index], pd.DataFrame]


def _internal_builder() -> Optional[Tuple[Build, Callable[..., Any], Callable[..., Any]]]:
    """The frame builder and masked-array constructors on pandas' internals,
    or None when this pandas does not have them as expected."""
    try:
        from pandas._libs.internals import BlockPlacement
        from pandas.core.arrays import BooleanArray, IntegerArray
        from pandas.core.internals import BlockManager
        from pandas.core.internals.blocks import new_block
        try:
            from pandas.core.internals.api import _make_block as any_block  # pandas >= 3
        except ImportError:
            from pandas.core.internals.api import make_block as any_block  # pandas 2
    except ImportError:
        return None
    if not all(hasattr(c, "_simple_new") for c in (IntegerArray, BooleanArray)) or not hasattr(pd.DataFrame, "_from_mgr"):
        return None
    direct = {IntegerArray, BooleanArray}

    def build(parts: List[Tuple[Any, Any]], index: pd.Index, columns: pd.Index) -> pd.DataFrame:
        blocks = []
        for values, positions in parts:
            # new_block takes values as a block holds them: masked arrays as
            # they are, numpy arrays 2-D and of a kind pandas keeps as numpy.
            if type(values) in direct or (type(values) is np.ndarray and values.dtype.kind in "biufO"):
                placement = BlockPlacement(slice(positions, positions + 1) if type(positions) is int
                                           else np.array(positions, dtype=np.intp))
                blocks.append(new_block(values, placement, ndim=2))
            else:
                blocks.append(any_block(values, _positions(positions)))
        mgr = BlockManager(blocks, [columns, index])
        return pd.DataFrame._from_mgr(mgr, axes=mgr.axes)

    def integer(values: np.ndarray, mask: np.ndarray) -> Any:
        return IntegerArray._simple_new(values, mask)

    def boolean(values: np.ndarray, mask: np.ndarray) -> Any:
        return BooleanArray._simple_new(values, mask)

    return build, integer, boolean


def _public_builder() -> Optional[Build]:
    try:
        from pandas.api.internals import create_dataframe_from_blocks  # pandas >= 3
    except ImportError:
        return None

    def build(parts: List[Tuple[Any, Any]], index: pd.Index, columns: pd.Index) -> pd.DataFrame:
        return create_dataframe_from_blocks([(v, _positions(p)) for v, p in parts], index, columns)

    return build


def _positions(positions: Any) -> np.ndarray:
    return np.array([positions] if type(positions) is int else positions, dtype=np.intp)


def _sample() -> Tuple[Dict[Any, Any], List[Tuple[np.ndarray, List[str]]]]:
    """Columns of every kind frame() is given, as (data, blocks)."""
    floats = np.array([[1.5, np.nan], [-0.0, 2.0]])
    ints = np.array([[7, -1], [0, 3]], dtype=np.int64)
    masks = np.array([[False, True], [False, False]])
    data = {
        "k": np.array([1, 2], dtype=np.int64),
        "a": None,
        "i": _integer(ints[0], masks[0]),
        "i32": _integer(np.array([1, 2], dtype=np.int32), masks[0]),
        "ok": _boolean(np.array([True, False]), masks[0]),
        "s": pd.array(["x", None], dtype=pd.StringDtype()),
        "t": pd.DatetimeIndex(np.array([0, 1], dtype=np.int64).view("M8[ns]")).tz_localize("UTC").array,
        "raw": np.array([b"\x00", None], dtype=object),
        "f32": np.array([0.5, np.nan], dtype=np.float32),
        "b": None,
        "j": _integer(ints[1], masks[1]),
    }
    return data, [(floats, ["a", "b"])]


def _checked(build: Optional[Build]) -> Optional[Build]:
    """build, if the frame it makes of _sample() is pandas' own; else None."""
    if build is None:
        return None
    data, blocks = _sample()
    want = dict(data)
    for arr, names in blocks:
        for i, name in enumerate(names):
            want[name] = arr[i]
    want["i"] = pd.arrays.IntegerArray(np.array([7, -1]), np.array([False, True]))
    want["j"] = pd.arrays.IntegerArray(np.array([0, 3]), np.array([False, False]))
    want["i32"] = pd.arrays.IntegerArray(np.array([1, 2], dtype=np.int32), np.array([False, True]))
    want["ok"] = pd.arrays.BooleanArray(np.array([True, False]), np.array([False, True]))
    try:
        global _build
        _build, saved = build, _build
        try:
            got = frame(dict(data), blocks, 2)
        finally:
            _build = saved
        pd.testing.assert_frame_equal(got, pd.DataFrame(want), check_exact=True)
        if got._mgr.nblocks != len(data) - 1:
            return None
        got.loc[0, "a"] = 9.0  # the frame can be written to
    except Exception:  # noqa: BLE001 - any failure means: not this builder
        return None
    return build


_build: Optional[Build] = None
_integer: Callable[..., Any] = pd.arrays.IntegerArray
_boolean: Callable[..., Any] = pd.arrays.BooleanArray
_internals = _internal_builder()
if _internals is not None:
    _integer, _boolean = _internals[1], _internals[2]
_build = _checked(_internals[0] if _internals else None)
if _build is None:
    _integer, _boolean = pd.arrays.IntegerArray, pd.arrays.BooleanArray
    _build = _checked(_public_builder())
# Which builder frames use: "internals", "public" or None (column by column).
BUILDER = None if _build is None else ("internals" if _internals and _build is _internals[0] else "public")
