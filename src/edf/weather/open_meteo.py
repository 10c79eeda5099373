"""Open-Meteo forecast API adapter (https://open-meteo.com/en/docs, ``/v1/forecast``).

Request: one cell per call, ``hourly=temperature_2m,relative_humidity_2m,shortwave_radiation,
wind_speed_10m,cloud_cover``, ``timezone=GMT``, ``timeformat=iso8601``, ``wind_speed_unit=ms``,
``temperature_unit=celsius``, ``forecast_days`` enough to cover the hours asked for (the API's
hourly series starts at 00:00 of the current day), ``cell_selection`` and optionally ``models``
from the config; the keyed (commercial) server is ``customer-api.open-meteo.com`` with ``apikey``.

Response (documented format): ``latitude``, ``longitude`` (the grid cell actually used),
``utc_offset_seconds``, ``hourly_units`` (unit per variable) and ``hourly`` (``time`` plus one
array per variable, ``null`` where the model has no value). An error is HTTP 400 with
``{"error": true, "reason": "..."}``.

Mapping to the contract (``edf.data.weather_forecast``):

==========================  =========================  =====================================================
Open-Meteo hourly           contract column            note
==========================  =========================  =====================================================
``temperature_2m`` (°C)     ``temperature_c``          instant value at the start of the hour
``relative_humidity_2m``    ``humidity`` (%)           instant
``shortwave_radiation``     ``solar_irradiance_ghi``   "preceding hour mean": the value stamped ``T`` is the
(W/m²)                                                 mean over ``[T-1h, T)``, i.e. EDF's hour ``T-1h``
``wind_speed_10m`` (m/s)    ``wind_speed_ms``          optional covariate
``cloud_cover`` (%)         ``cloud_cover_pct``        optional covariate
==========================  =========================  =====================================================

The first three are required: an answer without one of them, or with a unit other than the one
asked for, is a :class:`ProviderResponseError` (not retried; the same request gives the same
answer). A missing optional variable is a warning and a null column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from edf.data import contract as c
from edf.data.weather_forecast import CLOUD_COVER, WIND_SPEED
from edf.weather.http import HttpClient
from edf.weather.providers import CellForecast, GridCell, ProviderResponseError


@dataclass(frozen=True)
class Variable:
    column: str
    units: tuple[str, ...]  # accepted spellings of the unit asked for
    required: bool
    preceding_hour: bool = False  # stamped at the end of the hour it describes


HOURLY: dict[str, Variable] = {
    "temperature_2m": Variable(c.TEMPERATURE, ("°C",), True),
    "relative_humidity_2m": Variable(c.HUMIDITY, ("%",), True),
    "shortwave_radiation": Variable(c.GHI, ("W/m²", "W/m2"), True, preceding_hour=True),
    "wind_speed_10m": Variable(WIND_SPEED, ("m/s",), False),
    "cloud_cover": Variable(CLOUD_COVER, ("%",), False),
}
MAX_FORECAST_DAYS = 16


def forecast_days(issue_time: pd.Timestamp, hours: int) -> int:
    """Days from 00:00 UTC of the issue day that reach ``floor(issue) + hours`` (+1 h for radiation)."""
    start = issue_time.tz_convert("UTC").floor("h")
    needed = start.hour + hours + 1
    days = math.ceil(needed / 24)
    if days > MAX_FORECAST_DAYS:
        raise ValueError(f"{hours} hours from {start} need {days} forecast days; Open-Meteo serves at most 16")
    return days


def _fail(what: str, message: str, kind: str = "bad_response") -> ProviderResponseError:
    return ProviderResponseError(f"{what}: {message}", kind=kind)


def _hourly_arrays(doc: Any, what: str) -> tuple[dict[str, Any], dict[str, Any], pd.DatetimeIndex]:
    """``hourly``, ``hourly_units`` and the UTC time index of a document; format errors raise."""
    if not isinstance(doc, dict):
        raise _fail(what, f"expected a JSON object, got {type(doc).__name__}")
    if doc.get("error"):
        raise _fail(what, f"provider error: {str(doc.get('reason'))[:300]}")
    hourly, units = doc.get("hourly"), doc.get("hourly_units") or {}
    if not isinstance(hourly, dict) or not isinstance(hourly.get("time"), list):
        raise _fail(what, "no hourly.time array")
    try:
        local = pd.to_datetime(hourly["time"], format="%Y-%m-%dT%H:%M")
    except (ValueError, TypeError):
        raise _fail(what, "hourly.time is not ISO 8601 (YYYY-MM-DDTHH:MM)") from None
    offset = pd.Timedelta(seconds=int(doc.get("utc_offset_seconds") or 0))
    return hourly, units, pd.DatetimeIndex(local - offset).tz_localize("UTC")


def parse_forecast(doc: Any, cell: GridCell, issue_time: pd.Timestamp, hours: int,
                   what: str = "open-meteo") -> CellForecast:
    """Contract-shaped hourly rows ``[floor(issue), +hours)`` from one Open-Meteo forecast document."""
    hourly, units, times = _hourly_arrays(doc, what)
    start = issue_time.tz_convert("UTC").floor("h")
    index = pd.date_range(start, periods=hours, freq="h")
    frame = pd.DataFrame({c.TIMESTAMP: index})
    warnings = []
    for name, var in HOURLY.items():
        values = hourly.get(name)
        if values is None:
            if var.required:
                raise _fail(what, f"required variable {name} is missing from the answer", "missing_variable")
            warnings.append(f"{name} missing: {var.column} left null")
            frame[var.column] = np.nan
            continue
        if not isinstance(values, list) or len(values) != len(times):
            raise _fail(what, f"hourly.{name} has {len(values) if isinstance(values, list) else 'no'} values "
                        f"for {len(times)} times")
        unit = units.get(name)
        if unit not in var.units:
            raise _fail(what, f"hourly.{name} is in {unit!r}, expected {var.units[0]!r}", "wrong_unit")
        series = pd.Series(pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").to_numpy(dtype="float64"),
                           index=times - pd.Timedelta(hours=1) if var.preceding_hour else times)
        series = series[~series.index.duplicated(keep="last")]
        frame[var.column] = series.reindex(index).to_numpy()
    covered = frame[[v.column for v in HOURLY.values() if v.required]].notna().any(axis=1)
    if not covered.any():
        raise _fail(what, f"no value for any hour of {start:%Y-%m-%dT%H:%MZ} + {hours} h", "no_coverage")
    if not covered.all():
        warnings.append(f"{int((~covered).sum())} of {hours} hours have no value")
    return CellForecast(cell=cell, frame=frame, warnings=warnings)


class OpenMeteoProvider:
    """``/v1/forecast`` over :class:`HttpClient`; ``api_key`` selects the commercial (customer) server."""

    def __init__(self, base_url: str, http: HttpClient, settings: Any | None = None, api_key: str | None = None,
                 name: str = "open_meteo"):
        self.base_url = base_url
        self.http = http
        self.cell_selection = getattr(settings, "cell_selection", "land")
        self.models = getattr(settings, "models", None)
        self.api_key = api_key
        self.name = name
        if api_key:
            http.add_secret(api_key)

    def params(self, cell: GridCell, issue_time: pd.Timestamp, hours: int) -> dict[str, str]:
        params = {
            "latitude": f"{cell.latitude:.4f}", "longitude": f"{cell.longitude:.4f}",
            "hourly": ",".join(HOURLY), "timezone": "GMT", "timeformat": "iso8601",
            "wind_speed_unit": "ms", "temperature_unit": "celsius",
            "forecast_days": str(forecast_days(issue_time, hours)), "cell_selection": self.cell_selection,
        }
        if self.models:
            params["models"] = self.models
        if self.api_key:
            params["apikey"] = self.api_key
        return params

    def fetch(self, cell: GridCell, issue_time: pd.Timestamp, hours: int) -> CellForecast:
        what = f"{self.name} cell {cell.key}"
        doc = self.http.get_json(self.base_url, self.params(cell, issue_time, hours), what=what)
        return parse_forecast(doc, cell, issue_time, hours, what=what)
