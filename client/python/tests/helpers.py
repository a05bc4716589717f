"""Shared helpers of the tests."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pandas as pd

import timefence
from timefence import Feature


def utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def define_user_view(
    client: timefence.Client,
    uid: str,
    features: Optional[List[Any]] = None,
    ttl: Any = None,
    key_type: str = "int64",
) -> Dict[str, str]:
    """Applies an entity and a view named after uid; returns their names."""
    entity = f"user_{uid}"
    view = f"stats_{uid}"
    key = f"user_id_{uid}" if key_type != "int64" else "user_id"
    client.apply(
        [
            timefence.Entity(entity, join_keys=[timefence.JoinKey(key, key_type)]),
            timefence.FeatureView(
                view,
                entity=entity,
                ttl=ttl,
                features=features or [timefence.Feature("clicks", "int64"), timefence.Feature("score", "double")],
            ),
        ]
    )
    return {"entity": entity, "view": view, "key": key}


def open_split(client: timefence.Client, uid: str, days: int = 2) -> str:
    """A split around now, so that live writes (available at their commit
    time) are readable at spine times just after them."""
    now = pd.Timestamp.now(tz="UTC")
    name = f"now_{uid}"
    client.create_split(name, start=now - pd.Timedelta(days=days), end=now + pd.Timedelta(days=days))
    return name


# One feature of every value type.
ALL_TYPES = [
    Feature("i", "int64"),
    Feature("d", "double"),
    Feature("f", "float"),
    Feature("s", "string"),
    Feature("b", "bool"),
    Feature("raw", "bytes"),
    Feature("emb", "float_list"),
]
