"""timefence: a leakage-safe, time-travel feature store — the Python client.

>>> import timefence
>>> client = timefence.Client("localhost:7070")
>>> client.apply("features.yaml")
>>> client.write("user_stats", df)
>>> client.create_split("train", end="2024-06-30T23:59:59Z")
>>> training = client.get_historical_features(spine, ["user_stats"], split="train")
>>> online = client.get_online_features({"user_id": [1, 2]}, ["user_stats:clicks"])
>>> row = client.get_online_features({"user_id": 1}, ["user_stats:clicks"], output="dict")
>>> # Feast's call shapes work too:
>>> client.get_historical_features(entity_df=spine, features=["user_stats:clicks"], split="train").to_df()
>>> client.get_online_features(features=["user_stats:clicks"], entity_rows=[{"user_id": 1}]).to_dict()
"""

from ._hints import NoDataUnderSplit
from ._time import parse_duration, parse_time
from .client import ApplyResult, Change, Client, HistoricalFeatures, OnlineFeatures, SkewReport, ValidationReport
from .definitions import VALUE_TYPES, Entity, Expectation, Feature, FeatureView, JoinKey, Split
from .errors import (
    BatchConflict,
    Cancelled,
    CutoffExceeded,
    DatasetMismatch,
    DeadlineExceeded,
    ExpectationFailed,
    FutureTime,
    Internal,
    InvalidArgument,
    LimitExceeded,
    PermissionDenied,
    ReadOnly,
    ReplicaBehind,
    SchemaMismatch,
    SplitExists,
    SplitRequired,
    StreamIdle,
    StorageFull,
    DataLoss,
    TimefenceError,
    Unauthenticated,
    Unavailable,
    UnknownEntity,
    UnknownFeature,
    UnknownFeatureView,
    UnknownDataset,
    UnknownSplit,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "Client",
    "ApplyResult",
    "Change",
    "HistoricalFeatures",
    "OnlineFeatures",
    "SkewReport",
    "ValidationReport",
    "Entity",
    "JoinKey",
    "Feature",
    "Expectation",
    "FeatureView",
    "Split",
    "VALUE_TYPES",
    "parse_duration",
    "parse_time",
    "TimefenceError",
    "InvalidArgument",
    "UnknownEntity",
    "UnknownFeatureView",
    "UnknownFeature",
    "UnknownSplit",
    "SchemaMismatch",
    "SplitExists",
    "BatchConflict",
    "SplitRequired",
    "CutoffExceeded",
    "FutureTime",
    "PermissionDenied",
    "Unauthenticated",
    "Unavailable",
    "UnknownDataset",
    "DatasetMismatch",
    "LimitExceeded",
    "StreamIdle",
    "ReadOnly",
    "ReplicaBehind",
    "ExpectationFailed",
    "StorageFull",
    "DataLoss",
    "DeadlineExceeded",
    "Cancelled",
    "Internal",
    "NoDataUnderSplit",
    "__version__",
]
