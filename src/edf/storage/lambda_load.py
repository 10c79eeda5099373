"""LoadForecastsToDB Lambda logic (``lambdas/load_forecasts/handler.py`` delegates here).

Event: ``{"forecasts_uri": "s3://.../forecasts.parquet", "recommendations_uri": "s3://..." | null,
"run_id": "...", "model_version": "..."}`` -> ``{"run_id", "forecasts_written",
"recommendations_written", "backend"}`` (plus the stale rows removed). Idempotent per run_id, and
atomic for readers (the store commits the run at the end), so the state machine retries a failed
load (``States.TaskFailed``); a SageMaker Processing wrapper would call the same ``load_run``.
Backend: env ``EDF_FORECAST_DB_TYPE`` or config ``edf_inference.forecast_db_type``; config from env
``EDF_CONFIG_URI`` (local path or s3://). Tables are created only when
``edf_storage.create_missing`` is true or env ``EDF_STORAGE_CREATE_MISSING=1`` (local runs).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from edf.config import load_config
from edf.storage import open_store
from edf.storage.base import InvalidValueError, check_run_id
from edf.storage.loader import load_run

log = logging.getLogger(__name__)


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidValueError(f"event must be a JSON object, got {type(event).__name__}")
    missing = [k for k in ("forecasts_uri", "run_id") if not event.get(k)]
    if missing:
        raise InvalidValueError(f"event is missing {', '.join(missing)}; expected forecasts_uri, "
                                "recommendations_uri (or null), run_id, model_version")
    run_id = check_run_id(str(event["run_id"]))
    cfg = load_config(os.environ.get("EDF_CONFIG_URI") or None)
    store = open_store(cfg)
    create = cfg.edf_storage.create_missing or os.environ.get("EDF_STORAGE_CREATE_MISSING") == "1"
    store.ensure_schema(create=create)
    result = load_run(store, str(event["forecasts_uri"]), event.get("recommendations_uri") or None, run_id,
                      event.get("model_version"))
    return {"run_id": run_id, "forecasts_written": result.forecasts_written,
            "recommendations_written": result.recommendations_written, "backend": result.backend,
            "forecasts_removed": result.forecasts_removed,
            "recommendations_removed": result.recommendations_removed}
