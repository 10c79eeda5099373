"""Schemas of what the inference workflow writes to S3 between its steps.

``GenerateForecastsEDF`` writes forecasts, ``OptimizePortfolioEDF`` writes recommendations next
to them, ``LoadForecastsToDB`` loads both into the forecast store, and the APIs serve them. The
column lists live here once so the writer, the loader and the tests agree.
"""

from __future__ import annotations

import re

SERIES_VALUES = ("consumption", "solar")  # consumption_kwh -> "consumption", solar_generation_kwh -> "solar"
SERIES_OF_TARGET = {"consumption_kwh": "consumption", "solar_generation_kwh": "solar"}

# forecasts.parquet: one row per building, series and target hour
FORECAST_COLUMNS = {
    "building_id": "string",
    "grid_area": "string",
    "series": "string",  # consumption | solar
    "timestamp_hour": "timestamp[us, UTC]",  # target hour (start)
    "origin_time": "timestamp[us, UTC]",  # forecast origin: no measurement at or after it was used
    "lead_hours": "int32",
    "yhat": "double",  # kWh in the hour
    "yhat_lower": "double",  # lower bound of the central interval (interval_width from config)
    "yhat_upper": "double",
    "strategy": "string",  # prophet | xgboost | lstm | ...
    "model_version": "string",  # model package ARN (or version) that produced it
    "issue_time": "timestamp[us, UTC]",  # when the run produced it
    "run_id": "string",  # workflow execution name; re-running a run replaces its rows
    "weather_source": "string",  # forecast | stale:<age>h | none (| unknown: written before it was recorded)
}

# recommendations.parquet: demand-response and resident actions per building and hour
RECOMMENDATION_COLUMNS = {
    "building_id": "string",
    "grid_area": "string",
    "kind": "string",  # demand_response | resident
    "timestamp_hour": "timestamp[us, UTC]",
    "action": "string",  # curtail | charge_battery | discharge_battery | run_flexible_load | ...
    "kw": "double",  # average power of the action in the hour
    "expected_reduction_kwh": "double",  # expected (compliance-weighted) demand reduction
    "expected_saving": "double",  # currency units, resident cost + carbon objective
    "run_id": "string",
    "issue_time": "timestamp[us, UTC]",
}


# weather_source of a forecast row: which weather the inference features used for the building
# (edf.features.weather_inputs decides it; docs/weather.md).
WEATHER_SOURCE_FORECAST = "forecast"  # a fresh forecast covering the whole horizon
WEATHER_SOURCE_NONE = "none"  # no usable forecast: calendar and history only
WEATHER_SOURCE_UNKNOWN = "unknown"  # rows written before the source was recorded (older job images)
WEATHER_SOURCE_RE = re.compile(r"^(forecast|none|unknown|stale:\d{1,4}h)$")


def stale_source(age_hours: float) -> str:
    """``stale:<age>h`` for a forecast issued ``age_hours`` before the origin (whole hours, rounded down)."""
    return f"stale:{int(age_hours)}h"


def weather_source_kind(source: str) -> str:
    """``forecast`` | ``stale`` | ``none`` | ``unknown``: the label without the age (metric dimension)."""
    return "stale" if source.startswith("stale:") else source
