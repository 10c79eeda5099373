"""The ``processed_edf_data`` contract: one row per building and hour (ARCHITECTURE.md).

Declared once here and used by the validator, the bundled-data converter, the synthetic
generator and the feature pipeline, so a change to the contract is a change in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BUILDING_ID = "building_id"
TIMESTAMP = "timestamp_hour"
CONSUMPTION = "consumption_kwh"
SOLAR = "solar_generation_kwh"
TEMPERATURE = "temperature_c"
GHI = "solar_irradiance_ghi"
HUMIDITY = "humidity"
HOLIDAY = "is_holiday_flag"

BUILDING_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
WEATHER_COLUMNS = (TEMPERATURE, GHI, HUMIDITY)
TARGET_COLUMNS = (CONSUMPTION, SOLAR)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "string" | "timestamp" | "double" | "int01"
    nullable: bool
    meaning: str


PROCESSED_COLUMNS: tuple[Column, ...] = (
    Column(BUILDING_ID, "string", False, "building identifier, [A-Za-z0-9_-]{1,64}"),
    Column(TIMESTAMP, "timestamp", False, "start of the hour, UTC"),
    Column(CONSUMPTION, "double", False, "energy drawn in the hour, kWh (target)"),
    Column(SOLAR, "double", True, "PV energy produced in the hour, kWh (second target)"),
    Column(TEMPERATURE, "double", True, "outdoor air temperature, degC"),
    Column(GHI, "double", True, "global horizontal irradiance, W/m2, hourly mean"),
    Column(HUMIDITY, "double", True, "relative humidity, %"),
    Column(HOLIDAY, "int01", False, "public holiday at the building's location, 0/1"),
)
COLUMN_NAMES = tuple(c.name for c in PROCESSED_COLUMNS)

# Physically possible ranges (inclusive). A value outside is a unit or sensor error, never weather:
# the lowest and highest air temperatures ever measured are -89.2 and 56.7 degC; hourly-mean GHI
# cannot exceed ~2000 W/m2 (solar constant 1361 W/m2 plus brief cloud-edge enhancement), and
# pyranometers read a few W/m2 below zero at night (thermal offset), hence -10.
PHYSICAL_RANGES: dict[str, tuple[float, float]] = {
    TEMPERATURE: (-90.0, 60.0),
    GHI: (-10.0, 2000.0),
    HUMIDITY: (0.0, 100.0),
}
# An hour-to-hour change in consumption larger than this many times the building's own 95th
# percentile of |consumption| is implausible (a meter reset, a unit change, a spike). It is a
# warning, not an error: a large new load (an EV charger) can be real, so it is counted and shown.
CONSUMPTION_JUMP_FACTOR = 10.0
CONSUMPTION_JUMP_MIN_HOURS = 24  # fewer hours per building give no stable percentile


def required_columns(target: str = CONSUMPTION) -> set[str]:
    """Columns that must be non-null. The trained target is required; the other target may be null.

    A demand dataset must carry consumption; a PV-only dataset (e.g. a research array with no
    building load) is validated with ``target=solar_generation_kwh`` and may leave consumption null.
    """
    if target not in TARGET_COLUMNS:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(TARGET_COLUMNS)}")
    base = {c.name for c in PROCESSED_COLUMNS if not c.nullable} - {CONSUMPTION}
    return base | {target}


# Weather forecast feed (weather-forecast/): its schema, units and validation are in
# edf.data.weather_forecast; the issue-time column name is shared with the feature code.
FORECAST_ISSUE_TIME = "forecast_issue_time"

# Building topology (calendar-topology/).
TOPOLOGY_COLUMNS = (
    BUILDING_ID,
    "building_type",
    "pv_capacity_kw",
    "battery_capacity_kwh",
    "battery_power_kw",
    "battery_efficiency",
    "floor_area_m2",
    "latitude",
    "longitude",
    "timezone",
    "country",
    "subdivision",
    "grid_area",
    "dr_max_participation",
    "dr_comfort_budget_kwh",
)
