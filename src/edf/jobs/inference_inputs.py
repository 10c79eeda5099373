"""The inference features job's input checks: Spark summaries in, verdict and metric out.

Kept out of :mod:`edf.jobs.features` so the job calls one function: it summarises the processed
history (newest hour per building, one small Spark aggregation), runs the pure checks of
:mod:`edf.data.input_checks`, publishes the age of the newest processed hour as the CloudWatch
metric ``<edf_inference.alarms.metrics_namespace>/ProcessedDataAgeHours`` (dimension
``Environment``; the data-age alarm in terraform/modules/monitoring reads it), and only then
applies the fail/degrade policy, so a stale feed is both alarmed and refused.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from edf.data import contract as c
from edf.data.input_checks import (
    InputCheck,
    apply_policy,
    check_history_freshness,
    check_topology_completeness,
)

log = logging.getLogger("edf.jobs.inference_inputs")
METRIC_NAME = "ProcessedDataAgeHours"


def newest_hour_per_building(processed: Any, origin: dt.datetime) -> dict[str, Any]:
    """``{building_id: newest timestamp_hour before origin}`` of a Spark processed frame."""
    from pyspark.sql import functions as F

    before = processed.where(F.col(c.TIMESTAMP) < F.lit(origin).cast("timestamp"))
    rows = before.groupBy(c.BUILDING_ID).agg(F.max(c.TIMESTAMP).alias("newest")).collect()
    return {str(r[c.BUILDING_ID]): r["newest"] for r in rows if r[c.BUILDING_ID] is not None}


def publish_data_age(check: InputCheck, cfg: Any, cloudwatch: Any = None) -> bool:
    """Put the feed's age (hours) as a metric; False (logged) when CloudWatch cannot be reached.

    A failed publication must not fail the forecast: the alarm treats a missing day as breaching.
    """
    age = check.details.get("age_hours")
    if age is None:
        return False
    try:
        import boto3

        client = cloudwatch or boto3.client("cloudwatch")
        client.put_metric_data(Namespace=cfg.edf_inference.alarms.metrics_namespace, MetricData=[{
            "MetricName": METRIC_NAME, "Unit": "None", "Value": float(age),
            "Dimensions": [{"Name": "Environment", "Value": cfg.env_suffix}],
        }])
    except Exception as exc:  # noqa: BLE001 - best effort; logged with the reason
        log.warning("could not publish %s: %s", METRIC_NAME, exc)
        return False
    return True


def check_inference_inputs(processed: Any, topology: Any, origin: dt.datetime, cfg: Any,
                           cloudwatch: Any = None) -> dict[str, Any]:
    """Run the checks, publish the data age, apply the policy (raises StaleInputError on ``fail``)."""
    settings = cfg.edf_inference.input_checks
    newest = newest_hour_per_building(processed, origin)
    checks = [
        check_history_freshness(newest, origin, settings.history_max_age_hours),
        check_topology_completeness(newest.keys(), topology, settings.topology_required_fields),
    ]
    publish_data_age(checks[0], cfg, cloudwatch)
    record = apply_policy(checks, {"history_freshness": settings.on_stale_history,
                                   "topology_completeness": settings.on_incomplete_topology})
    for ch in checks:
        if ch.status != "ok":
            log.warning("input check %s %s: %s", ch.name, ch.status, ch.message)
    return record
