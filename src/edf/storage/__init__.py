"""Forecast stores: one ``ForecastStore`` protocol, three backends (Timestream, DynamoDB, PostgreSQL).

``open_store(cfg)`` picks the backend: env ``EDF_FORECAST_DB_TYPE`` wins, then (for local runs)
``edf_storage.local_backend``, then ``edf_inference.forecast_db_type``. Backends import their
drivers lazily, so the API Lambdas only load what their backend needs (no pandas on the hot path).
"""

from __future__ import annotations

import os
from typing import Any

from edf.storage.base import (
    BACKENDS,
    BuildingInfo,
    ForecastPoint,
    ForecastRow,
    ForecastStore,
    InvalidValueError,
    PortfolioPoint,
    RecommendationRow,
    RejectedRecordsError,
    StoreError,
    WriteResult,
)

__all__ = [
    "BACKENDS", "BuildingInfo", "ForecastPoint", "ForecastRow", "ForecastStore", "InvalidValueError",
    "PortfolioPoint", "RecommendationRow", "RejectedRecordsError", "StoreError", "WriteResult",
    "open_store", "resolve_backend",
]


def resolve_backend(cfg: Any, local: bool = False, backend: str | None = None) -> str:
    """The backend to use: explicit argument > env EDF_FORECAST_DB_TYPE > local default > config."""
    chosen = (backend or os.environ.get("EDF_FORECAST_DB_TYPE")
              or (cfg.edf_storage.local_backend if local else cfg.edf_inference.forecast_db_type))
    chosen = str(chosen).strip().upper()
    if chosen not in BACKENDS:
        raise StoreError(f"unknown forecast store backend {chosen!r}; expected one of {', '.join(BACKENDS)}")
    return chosen


def _region(cfg: Any) -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or cfg.aws_region


def open_store(cfg: Any, backend: str | None = None, local: bool = False) -> ForecastStore:
    """Build the configured store (no network I/O until first use)."""
    name = resolve_backend(cfg, local=local, backend=backend)
    st = cfg.edf_storage
    if name == "DYNAMODB":
        from edf.storage.dynamodb import DynamoDBForecastStore, table_name

        return DynamoDBForecastStore(table_name(cfg), st.ttl_days, region=_region(cfg),
                                     write_threads=st.dynamodb_write_threads)
    if name == "RDS":
        from edf.storage.postgres import PostgresForecastStore, dsn_provider_from_config

        return PostgresForecastStore(dsn_provider_from_config(cfg), schema=st.postgres.schema_name)
    import boto3

    from edf.storage.timestream import TimestreamForecastStore

    return TimestreamForecastStore(
        cfg.name(cfg.forecast_db_base), cfg.forecast_table_name, st.timestream_recommendations_table,
        max_lead_hours=st.max_lead_hours, retention_days=st.ttl_days, threads=st.timestream_write_threads,
        max_retries=st.timestream_max_retries, boto3_session=boto3.Session(region_name=_region(cfg)))
