"""Accuracy monitor Lambda logic (``lambdas/accuracy_monitor/handler.py`` delegates here).

Event (:class:`AccuracyMonitorEvent`, all optional; the EventBridge schedule sends ``{}``; a bad
event raises ``edf.lambda_events.InvalidEvent``):
``{"date": "YYYY-MM-DD"}`` — the UTC day of target hours to score (default: yesterday, UTC);
``{"dry_run": true}`` — judge and log the drift rule but start nothing;
``{"correlation_id": "..."}`` — id logged on every line (default: the Lambda request id).
Unknown keys are rejected: EventBridge Scheduler sends exactly the target's ``input`` (``{}``).

Environment: ``EDF_CONFIG_URI`` (config), ``EDF_TRAINING_STATE_MACHINE_ARN``,
``EDF_ALERTS_TOPIC_ARN`` (override the config), ``EDF_FORECAST_DB_TYPE`` (store source only).
Returns the run summary (window, counts, overall metrics, Parquet URI, drift decision). EMF
documents go to stdout, where CloudWatch Logs extracts the metrics.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING, Any

from pydantic import StrictBool, field_validator

from edf.config import load_config
from edf.lambda_events import InvalidEvent, LambdaEvent
from edf.logging import get_logger
from edf.monitoring.service import run_daily

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger(__name__)


class AccuracyMonitorEvent(LambdaEvent):
    """The accuracy monitor's event: all optional (the EventBridge schedule sends ``{}``)."""

    date: dt.date | None = None  # the UTC day of target hours to score; default: yesterday
    dry_run: StrictBool = False  # judge and log the drift rule but start nothing

    @field_validator("date", mode="before")
    @classmethod
    def _iso_date(cls, raw: Any) -> dt.date | None:
        if raw is None or raw == "":
            return None
        try:
            return dt.date.fromisoformat(str(raw))
        except ValueError:
            raise ValueError(f"must be an ISO date YYYY-MM-DD, got {raw!r}") from None

    def day(self, today: dt.date | None = None) -> dt.date:
        """The day to score: a finished UTC day (its actuals can have landed)."""
        today = today or dt.datetime.now(dt.UTC).date()
        if self.date is None:
            return today - dt.timedelta(days=1)
        if self.date >= today:
            raise InvalidEvent(f"AccuracyMonitorEvent: date {self.date} has not finished yet (today is {today} UTC); "
                               "its actuals cannot have landed")
        return self.date


def handle(event: AccuracyMonitorEvent, context: LambdaContext | None = None) -> dict[str, Any]:
    day = event.day()
    cfg = load_config(os.environ.get("EDF_CONFIG_URI") or None)
    result = run_daily(cfg, day, dry_run=event.dry_run)
    summary = result.summary()
    log.info("accuracy monitor finished for %s", day, extra={"summary": summary})
    return summary
