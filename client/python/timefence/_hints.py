"""Hints for training-side reads that find no data of a view under a split.

A join, export or statistics call that reads nothing of a view is most often
history written live: each row is then available from when it was written,
after the split's cutoff. The hints say so, using only what the server
already shows: the versions readable under the split (``statistics``), and
the view's total versions (``history_status``). That total counts versions
after the cutoff too, so the server shows it only to credentials not bounded
by splits (never to a trainer); without it the message gives no total.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Sequence

import pandas as pd

from ._proto.timefence.v1 import dataset_service_pb2
from .errors import TimefenceError

if TYPE_CHECKING:
    from .client import Client

__all__ = ["NoDataUnderSplit"]


class NoDataUnderSplit(UserWarning):
    """A point-in-time join, export or statistics call found no data of a
    feature view under its split.

    Rows written live are available from when they were written, so history
    written that way lies after a past split's cutoff and reads as nothing
    under it; load history with ``write(..., backfill=True)`` and an
    ``available_at`` column instead. The message says how many versions the
    view holds in all (when the credential may read ``history_status``) and
    the split's cutoff. Turn it into an error with
    ``warnings.simplefilter("error", timefence.NoDataUnderSplit)``.
    """

    __module__ = "timefence"


_LOAD_HISTORY = (
    "rows written live are available from when they were written, so load history with write(..., backfill=True)"
)


def plural(n: int, noun: str) -> str:
    return f"1 {noun}" if n == 1 else f"{n:,} {noun}s"


def format_time(ts: pd.Timestamp) -> str:
    """RFC 3339 in UTC with the fraction's trailing zeros dropped, as the
    server and the command line print times."""
    ts = ts.tz_convert("UTC") if ts.tzinfo is not None else ts.tz_localize("UTC")
    frac = ts.value % 1_000_000_000
    out = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        out += "." + f"{frac:09d}".rstrip("0")
    return out + "Z"


def empty(client: "Client", split: str, views: Sequence[str]) -> List[str]:
    """One message per view that has no version readable under split: how
    many versions the view holds and how to load history."""
    cutoff = ""
    try:
        end = client.get_split(split).end
        if end is not None:
            cutoff = f" ({format_time(end)})"
    except TimefenceError:
        pass
    total: Dict[str, int] = {}
    known = False
    try:
        status = client._call(client._datasets.GetHistoryStatus, dataset_service_pb2.GetHistoryStatusRequest())
        known = True
        for v in status.views:
            total[v.feature_view] = v.file_versions + v.tail_versions
    except TimefenceError:
        pass  # e.g. a trainer's credential, which may not read counts after the cutoff
    out = []
    for view in views:
        n = total.get(view, 0)
        if known and n == 0:
            out.append(f"{view} holds no versions yet; write some with write(...)")
        elif known:
            out.append(
                f"none of the {plural(n, 'version')} of {view} was available by the cutoff of split {split}{cutoff}; "
                + _LOAD_HISTORY
            )
        else:
            out.append(f"no version of {view} was available by the cutoff of split {split}{cutoff}; " + _LOAD_HISTORY)
    return out


def null_views(client: "Client", split: str, refs: Sequence[str], present: Sequence[int]) -> List[str]:
    """Messages for the views of a join whose features were null in every
    row; present counts the non-null values of each feature column, in the
    order refs name them."""
    if all(p > 0 for p in present):
        return []
    col_view: List[str] = []
    for ref in refs:
        view, _, feature = ref.partition(":")
        if feature:
            col_view.append(view)
            continue
        try:
            n = len(client.get_feature_view(view).features)
        except TimefenceError:
            return []
        col_view += [view] * n
    if len(col_view) != len(present):
        return []
    found: Dict[str, int] = {}  # in the order of refs
    for view, p in zip(col_view, present):
        found[view] = found.get(view, 0) + p
    out: List[str] = []
    no_data: List[str] = []
    for view, n in found.items():
        if n > 0:
            continue
        try:
            st = client._call(
                client._datasets.GetStatistics, dataset_service_pb2.GetStatisticsRequest(split=split, feature_view=view)
            )
        except TimefenceError:
            continue
        if st.versions == 0:
            no_data.append(view)
        else:
            out.append(
                f"every value of {view} is null although the split holds {plural(st.versions, 'version')} of it; "
                "check the spine's join keys and timestamps"
            )
    if no_data:
        out += empty(client, split, no_data)
    return out
