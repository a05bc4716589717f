"""A Feast repository over the same Parquet files: a FileSource per view
(timestamp_field event_timestamp, created_timestamp_column available_at), the
local (Dask) offline store, and the SQLite online store for `feast serve`."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from .common import ONLINE_FEATURES, ONLINE_VIEW, VIEWS

YAML = """project: tfbench
registry: {dir}/registry.db
provider: local
online_store:
  type: sqlite
  path: {dir}/online.db
offline_store:
  type: file
entity_key_serialization_version: 3
"""


def _dtype(typ: str):
    from feast.types import Float64, Int64
    return Int64 if typ == "int64" else Float64


def setup(repo: Path, views: dict[str, Path], online: Path | None = None) -> None:
    """(Re)create the repository and apply the definitions."""
    import warnings
    warnings.filterwarnings("ignore")
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    (repo / "feature_store.yaml").write_text(YAML.format(dir=repo))
    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
    objs = [user]
    specs = {v: (p, VIEWS[v]) for v, p in views.items()}
    if online is not None:
        specs[ONLINE_VIEW] = (online, ONLINE_FEATURES)
    for name, (path, feats) in specs.items():
        src = FileSource(name=f"{name}_source", path=str(path), timestamp_field="event_timestamp",
                         created_timestamp_column="available_at" if name != ONLINE_VIEW else "")
        objs.append(FeatureView(name=name, entities=[user], ttl=timedelta(0), source=src, online=name == ONLINE_VIEW,
                                schema=[Field(name=f, dtype=_dtype(t)) for f, t in feats]))
    FeatureStore(repo_path=str(repo)).apply(objs)


def materialize(repo: Path, start, end) -> None:
    import warnings
    warnings.filterwarnings("ignore")
    from feast import FeatureStore
    FeatureStore(repo_path=str(repo)).materialize(start_date=start, end_date=end, feature_views=[ONLINE_VIEW])
