"""Weather fetcher Lambda logic (``lambdas/weather_fetcher/handler.py`` delegates here).

Event (:class:`WeatherFetchEvent`, all optional; the EventBridge schedule sends ``{}``; a bad event
raises ``edf.lambda_events.InvalidEvent``):
``{"issue_time": "2026-11-20T23:30:00Z"}`` — stamp the run with this issue time instead of now
(backfills and replays of a recorded document; never a time in the future);
``{"correlation_id": "..."}`` — id logged on every line (default: the Lambda request id).
Unknown keys are rejected: EventBridge Scheduler sends exactly the target's ``input`` (``{}``).

Environment: ``EDF_CONFIG_URI`` (config), ``EDF_WEATHER_SECRET_ID`` (the provider key's secret, for
keyed providers), ``EDF_ENVIRONMENT`` (metric dimension, default the config's ``env_suffix``).

The run writes ``<s3_raw_weather_fcst_path>issue_date=.../weather_forecast_<issue>.parquet``, prints
its EMF metrics, logs a summary and returns it. It raises — so the Lambda ``Errors`` alarm and the
scheduler's retry see it — when the provider cannot be set up or no cell at all could be fetched;
partial runs succeed and say which cells failed (``FetchFailures`` = 1 raises the alarm).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import field_validator

from edf.config import load_config
from edf.data.topology import read_topology
from edf.lambda_events import InvalidEvent, LambdaEvent
from edf.logging import get_logger
from edf.monitoring.emf import emf_lines
from edf.weather.factory import build_provider
from edf.weather.fetch import FetchResult, WeatherFetchError, run_fetch
from edf.weather.http import HttpClient, RequestStats
from edf.weather.metrics import fetch_emf_documents

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger(__name__)
ENVIRONMENT_ENV = "EDF_ENVIRONMENT"
FUTURE_TOLERANCE = pd.Timedelta(minutes=5)  # clock skew between the caller and the Lambda


class WeatherFetchEvent(LambdaEvent):
    """The fetcher's event: all optional (the EventBridge schedule sends ``{}``)."""

    issue_time: pd.Timestamp | None = None  # stamp the run with this UTC time instead of now (backfill, replay)

    model_config = {**LambdaEvent.model_config, "arbitrary_types_allowed": True}

    @field_validator("issue_time", mode="before")
    @classmethod
    def _iso_time(cls, raw: Any) -> pd.Timestamp | None:
        if raw is None or raw == "":
            return None
        try:
            issue = pd.Timestamp(str(raw))
        except ValueError:
            raise ValueError(f"must be an ISO 8601 time with offset, got {raw!r}") from None
        if issue.tzinfo is None:
            raise ValueError(f"{raw!r} must carry a UTC offset (e.g. 2026-11-20T23:30:00Z)")
        return issue.tz_convert("UTC")

    def issue(self, now: pd.Timestamp | None = None) -> pd.Timestamp:
        """The run's issue time: the event's (not in the future) or now, UTC, whole seconds."""
        now = now or pd.Timestamp.now(tz="UTC")
        if self.issue_time is None:
            return now.floor("s")
        if self.issue_time > now + FUTURE_TOLERANCE:
            raise InvalidEvent(f"WeatherFetchEvent: issue_time {self.issue_time.isoformat()} is in the future: a "
                               "forecast cannot be issued later than it is fetched")
        return self.issue_time


def parse_event(event: Any, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """The issue time of a raw event (``edf weather fetch`` and tests); :class:`InvalidEvent` when bad."""
    return WeatherFetchEvent.parse(event).issue(now)


def fetch_once(cfg: Any, issue_time: pd.Timestamp, emit: Callable[[str], Any] | None = print,
               environment: str | None = None, secrets_client: Any = None) -> FetchResult:
    """Build the provider, run the fetch, print the EMF lines; raise when nothing was fetched."""
    w = cfg.edf_weather
    stats = RequestStats()
    http = HttpClient.from_config(w, stats=stats)
    environment = environment or os.environ.get(ENVIRONMENT_ENV) or cfg.env_suffix or "default"
    prefix = cfg.s3_path("s3_raw_weather_fcst_path")
    result = FetchResult(issue_time=issue_time, provider=w.provider, stats=stats,
                         requests_budget=w.max_requests_per_run)
    try:
        provider = build_provider(cfg, http, secrets_client)
        topology = read_topology(cfg.s3_path("s3_raw_calendar_path"))
        result = run_fetch(cfg, provider, topology, issue_time, prefix, stats, w.max_requests_per_run)
    finally:
        if emit is not None:
            for line in emf_lines(fetch_emf_documents(result, w.metrics_namespace, environment)):
                emit(line)
    if result.uri is None:
        raise WeatherFetchError(f"no weather forecast written for issue {issue_time.isoformat()}: "
                                f"{result.cells} cell(s), {len(result.failures)} failed "
                                f"({dict(result.failure_kinds)}), {len(result.buildings_without_location)} "
                                "building(s) without location")
    return result


def handle(event: WeatherFetchEvent, context: LambdaContext | None = None) -> dict[str, Any]:
    issue_time = event.issue()
    cfg = load_config(os.environ.get("EDF_CONFIG_URI") or None)
    result = fetch_once(cfg, issue_time)
    summary = result.summary()
    if result.failed:
        log.warning("weather fetch partly failed", extra={"summary": summary})
    else:
        log.info("weather fetch finished", extra={"summary": summary})
    return summary
