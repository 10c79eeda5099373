"""Accuracy monitor Lambda logic (``lambdas/accuracy_monitor/handler.py`` delegates here).

Event (all optional; the EventBridge schedule sends ``{}``):
``{"date": "YYYY-MM-DD"}`` — the UTC day of target hours to score (default: yesterday, UTC);
``{"dry_run": true}`` — judge and log the drift rule but start nothing;
``{"correlation_id": "..."}`` — id logged on every line (default: the scheduler event id or the
Lambda request id).

Environment: ``EDF_CONFIG_URI`` (config), ``EDF_TRAINING_STATE_MACHINE_ARN``,
``EDF_ALERTS_TOPIC_ARN`` (override the config), ``EDF_FORECAST_DB_TYPE`` (store source only).
Returns the run summary (window, counts, overall metrics, Parquet URI, drift decision). EMF
documents go to stdout, where CloudWatch Logs extracts the metrics.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from edf.config import load_config
from edf.logging import configure_logging, correlation_id_from_event, get_logger
from edf.monitoring.service import run_daily

log = get_logger(__name__)


class InvalidEventError(ValueError):
    """An event the monitor cannot act on (bad date, wrong types)."""


def parse_event(event: Any, today: dt.date | None = None) -> tuple[dt.date, bool]:
    if event is None:
        event = {}
    if not isinstance(event, dict):
        raise InvalidEventError(f"event must be a JSON object, got {type(event).__name__}")
    today = today or dt.datetime.now(dt.UTC).date()
    raw = event.get("date")
    if raw in (None, ""):
        day = today - dt.timedelta(days=1)
    else:
        try:
            day = dt.date.fromisoformat(str(raw))
        except ValueError:
            raise InvalidEventError(f"date must be an ISO date YYYY-MM-DD, got {raw!r}") from None
        if day >= today:
            raise InvalidEventError(f"date {day} has not finished yet (today is {today} UTC); "
                                    "its actuals cannot have landed")
    dry_run = event.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise InvalidEventError(f"dry_run must be true or false, got {dry_run!r}")
    return day, dry_run


def handle(event: Any, context: Any = None) -> dict[str, Any]:
    configure_logging(correlation_id_from_event(event, context), service="edf-accuracy-monitor")
    day, dry_run = parse_event(event)
    cfg = load_config(os.environ.get("EDF_CONFIG_URI") or None)
    result = run_daily(cfg, day, dry_run=dry_run)
    summary = result.summary()
    log.info("accuracy monitor finished for %s", day, extra={"summary": summary})
    return summary
