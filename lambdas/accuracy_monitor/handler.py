"""AccuracyMonitor (scheduled daily): score yesterday's forecasts, emit EMF, apply the drift policy.

Thin handler: the logic is `edf.monitoring.lambda_handler.handle` (unit-tested there).
"""

from __future__ import annotations

from typing import Any

from edf.logging import configure_logging, correlation_id_from_event
from edf.monitoring.lambda_handler import AccuracyMonitorEvent, handle


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    configure_logging(correlation_id_from_event(event, context), service="edf-accuracy-monitor")
    return handle(AccuracyMonitorEvent.parse(event), context)
