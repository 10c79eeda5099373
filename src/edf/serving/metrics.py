"""Operational metrics of the API Lambdas as CloudWatch Embedded Metric Format lines on stdout.

CloudWatch turns each printed EMF document into metrics without a PutMetricData call (no extra
latency, no extra IAM). The metrics carry no dimension so the alarms in
``terraform/modules/monitoring`` match them exactly; powertools would otherwise add a ``service``
dimension from ``POWERTOOLS_SERVICE_NAME``, which goes in as a property instead.
"""

from __future__ import annotations

import json
import logging

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

log = logging.getLogger(__name__)
NAMESPACE = "EDF/Serving"  # the default of edf_serving.metrics_namespace


def emit_metrics(namespace: str, counts: dict[str, float]) -> dict:
    """Print one EMF document with ``counts`` (unit Count); returns it (tests read it back)."""
    metrics = EphemeralMetrics(namespace=namespace)
    service, metrics.service = metrics.service, None
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=float(value))
    if service:
        metrics.add_metadata(key="service", value=str(service))
    document = metrics.serialize_metric_set()
    print(json.dumps(document, separators=(",", ":")), flush=True)
    return document
