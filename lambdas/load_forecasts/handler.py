"""LoadForecastsToDB: load a run's forecasts and recommendations from S3 into the forecast store.

Thin handler: the logic is `edf.storage.lambda_load.handle` (unit-tested there).
"""

from __future__ import annotations

from typing import Any

from edf.logging import configure_logging, correlation_id_from_event
from edf.storage.lambda_load import LoadForecastsEvent, handle


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    configure_logging(correlation_id_from_event(event, context), service="edf-load-forecasts")
    return handle(LoadForecastsEvent.parse(event), context)
