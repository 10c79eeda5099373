"""LoadForecastsToDB Lambda logic (``lambdas/load_forecasts/handler.py`` delegates here).

Event: ``{"forecasts_uri": "s3://.../forecasts.parquet", "recommendations_uri": "s3://..." | null,
"run_id": "...", "model_version": "..."}`` -> ``{"run_id", "forecasts_written",
"recommendations_written", "backend"}`` (plus the stale rows removed). Idempotent per run_id, and
atomic for readers (the store commits the run at the end), so the state machine retries a failed
load (``States.TaskFailed``); a SageMaker Processing wrapper would call the same ``load_run``.
A bad event (:class:`LoadForecastsEvent`) raises ``edf.lambda_events.InvalidEvent``.
Backend: env ``EDF_FORECAST_DB_TYPE`` or config ``edf_inference.forecast_db_type``; config from env
``EDF_CONFIG_URI`` (local path or s3://). Tables are created only when
``edf_storage.create_missing`` is true or env ``EDF_STORAGE_CREATE_MISSING=1`` (local runs).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from pydantic import field_validator

from edf.config import load_config
from edf.lambda_events import LambdaEvent, Required
from edf.storage import open_store
from edf.storage.base import check_run_id
from edf.storage.loader import load_run

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = logging.getLogger(__name__)


class LoadForecastsEvent(LambdaEvent):
    """LoadForecastsToDB: where the run's outputs are and which run and model they belong to."""

    forecasts_uri: Required
    recommendations_uri: str | None = None  # null: the run made no recommendations
    run_id: Required
    model_version: str | None = None

    @field_validator("run_id")
    @classmethod
    def _run_id(cls, value: str) -> str:
        return check_run_id(value)


def handle(event: LoadForecastsEvent, context: LambdaContext | None = None) -> dict[str, Any]:
    run_id = event.run_id
    cfg = load_config(os.environ.get("EDF_CONFIG_URI") or None)
    store = open_store(cfg)
    create = cfg.edf_storage.create_missing or os.environ.get("EDF_STORAGE_CREATE_MISSING") == "1"
    store.ensure_schema(create=create)
    result = load_run(store, event.forecasts_uri, event.recommendations_uri or None, run_id, event.model_version,
                      chunk_rows=cfg.edf_storage.load_chunk_rows)
    return {"run_id": run_id, "forecasts_written": result.forecasts_written,
            "recommendations_written": result.recommendations_written, "backend": result.backend,
            "forecasts_removed": result.forecasts_removed,
            "recommendations_removed": result.recommendations_removed}
