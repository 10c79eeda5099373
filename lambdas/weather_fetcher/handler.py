"""WeatherFetcher (scheduled): fetch the provider's hourly forecast for every grid cell of the topology.

Thin handler: the logic is `edf.weather.lambda_handler.handle` (unit-tested there).
"""

from __future__ import annotations

from typing import Any

from edf.logging import configure_logging, correlation_id_from_event
from edf.weather.lambda_handler import WeatherFetchEvent, handle


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    configure_logging(correlation_id_from_event(event, context), service="edf-weather-fetcher")
    return handle(WeatherFetchEvent.parse(event), context)
