"""The ``file`` provider: replays a recorded Open-Meteo forecast document through the real parser.

The document (local path or ``s3://``) is one Open-Meteo ``/v1/forecast`` answer or a JSON list of
them (the API's own multi-location shape), each with its ``latitude``/``longitude``. A cell is served
by the recorded location nearest to its centre, if that lies within one grid step in both
directions; any other cell fails as ``not_recorded`` (counted like any provider failure; those
buildings are then forecast without weather, or the run fails, per the freshness rule).

``replay=True`` re-anchors the recording onto the issue day: its hours move by whole days so that
its first day becomes the issue day (the diurnal cycle stays in place). What is replayed is a
recording, not a forecast made for that day; every row says so in ``weather_provider``
(``file:<document name>``). The local runtime uses this for ``make demo``; operators can use it to
backfill from archived answers.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from edf.weather.open_meteo import parse_forecast
from edf.weather.providers import CellForecast, GridCell, ProviderConfigError, ProviderResponseError


def _read_text(uri: str) -> str:
    if uri.startswith("s3://"):
        from edf.data.io import s3_client, split_s3_uri

        bucket, key = split_s3_uri(uri)
        return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    path = Path(uri)
    if not path.is_file():
        raise ProviderConfigError(f"recorded weather document {uri} does not exist")
    return path.read_text(encoding="utf-8")


def shift_days(doc: dict[str, Any], days: int) -> dict[str, Any]:
    """A copy of an Open-Meteo document whose ``hourly.time`` moved by ``days`` whole days."""
    out = dict(doc)
    hourly = dict(doc["hourly"])
    times = pd.to_datetime(hourly["time"], format="%Y-%m-%dT%H:%M") + pd.Timedelta(days=days)
    hourly["time"] = [t.strftime("%Y-%m-%dT%H:%M") for t in times]
    out["hourly"] = hourly
    return out


class FileProvider:
    """A :class:`~edf.weather.providers.WeatherProvider` over a recorded document."""

    def __init__(self, uri: str, grid_degrees: float, replay: bool = True):
        if not uri:
            raise ProviderConfigError("the file provider needs edf_weather.file.uri")
        self.uri = uri
        self.grid_degrees = grid_degrees
        self.replay = replay
        self.name = f"file:{uri.rstrip('/').rsplit('/', 1)[-1]}"
        self._docs: list[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    @property
    def documents(self) -> list[dict[str, Any]]:
        with self._lock:
            if self._docs is None:
                try:
                    loaded = json.loads(_read_text(self.uri))
                except ValueError as exc:
                    raise ProviderConfigError(f"recorded weather document {self.uri} is not JSON: {exc}") from None
                docs = loaded if isinstance(loaded, list) else [loaded]
                if not docs or not all(isinstance(d, dict) and "latitude" in d and "longitude" in d for d in docs):
                    raise ProviderConfigError(f"{self.uri}: expected Open-Meteo answers with latitude/longitude")
                self._docs = docs
            return self._docs

    def _nearest(self, cell: GridCell) -> dict[str, Any]:
        def distance(d: dict[str, Any]) -> float:
            return max(abs(float(d["latitude"]) - cell.latitude), abs(float(d["longitude"]) - cell.longitude))

        best = min(self.documents, key=distance)
        if distance(best) > self.grid_degrees:
            raise ProviderResponseError(f"{self.name}: no recorded answer within {self.grid_degrees} degrees of "
                                        f"cell {cell.key}", kind="not_recorded")
        return best

    def fetch(self, cell: GridCell, issue_time: pd.Timestamp, hours: int) -> CellForecast:
        doc = self._nearest(cell)
        if self.replay:
            try:
                first = pd.Timestamp(doc["hourly"]["time"][0])
            except (KeyError, IndexError, TypeError, ValueError):
                raise ProviderResponseError(f"{self.name}: recorded answer has no hourly.time", kind="bad_response") from None
            offset = pd.Timedelta(seconds=int(doc.get("utc_offset_seconds") or 0))
            first_utc_day = (first - offset).normalize()
            doc = shift_days(doc, (issue_time.tz_convert("UTC").tz_localize(None).normalize() - first_utc_day).days)
        return parse_forecast(doc, cell, issue_time, hours, what=f"{self.name} cell {cell.key}")
