"""Accuracy metrics as CloudWatch Embedded Metric Format (aws-lambda-powertools ``EphemeralMetrics``).

One EMF document per (grid area, lead bucket) of the watched series: namespace
``edf_monitoring.metrics_namespace`` (``EDF/Accuracy``), dimension set ``[GridArea, LeadBucket]``
(``GridArea=ALL`` is the whole portfolio; ``LeadBucket`` is ``0-24`` / ``24-48`` / ``48-72`` /
``all``), metrics ``mape_pct``, ``rmse``, ``cv_rmse_pct``, ``nmbe_pct``, ``coverage``, ``pinball``,
``skill_vs_seasonal_naive`` plus ``n_scored`` and ``n_missing_actual``. A metric with no value
(no scored hour) is left out rather than sent as 0; CloudWatch then sees *missing data*, which the
alarms treat as such. The scored day, series and model versions ride along as properties, so
Logs Insights can find the document. Printed to stdout in a Lambda, CloudWatch turns each line
into metrics without any PutMetricData call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import pandas as pd
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

EMF_DIMENSIONS = ("GridArea", "LeadBucket")
EMF_METRICS: dict[str, MetricUnit] = {
    "mape_pct": MetricUnit.Percent,
    "rmse": MetricUnit.Count,  # kWh; CloudWatch has no energy unit
    "cv_rmse_pct": MetricUnit.Percent,
    "nmbe_pct": MetricUnit.Percent,
    "coverage": MetricUnit.NoUnit,
    "pinball": MetricUnit.Count,  # kWh, next to coverage: a wide interval covers but costs pinball
    "skill_vs_seasonal_naive": MetricUnit.NoUnit,
    "n_scored": MetricUnit.Count,
    "n_missing_actual": MetricUnit.Count,
}


def emf_documents(table: pd.DataFrame, namespace: str, series: Iterable[str] = ("consumption",),
                  day: str | None = None) -> list[dict[str, Any]]:
    """EMF JSON documents (dicts) for the grid-area and overall rows of the accuracy table."""
    wanted = set(series)
    rows = table[table["level"].isin(["grid_area", "overall"]) & table["series"].isin(wanted)]
    docs = []
    for row in rows.itertuples(index=False):
        metrics = EphemeralMetrics(namespace=namespace)
        # powertools adds a "service" dimension from POWERTOOLS_SERVICE_NAME (Terraform sets it on the
        # Lambda); the alarms query exactly {GridArea, LeadBucket}, so the service goes in as a property.
        service, metrics.service = metrics.service, None
        metrics.add_dimension(name="GridArea", value=str(row.grid_area))
        metrics.add_dimension(name="LeadBucket", value=str(row.lead_bucket))
        added = 0
        for name, unit in EMF_METRICS.items():
            value = getattr(row, name)
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                continue
            metrics.add_metric(name=name, unit=unit, value=float(value))
            added += 1
        if not added:
            continue
        metrics.add_metadata(key="series", value=str(row.series))
        if service:
            metrics.add_metadata(key="service", value=str(service))
        metrics.add_metadata(key="status", value=str(row.status))
        metrics.add_metadata(key="model_versions", value=str(row.model_versions))
        if day:
            metrics.add_metadata(key="scored_day", value=day)
        docs.append(metrics.serialize_metric_set())
        metrics.clear_metrics()
    return docs


def emf_lines(docs: Iterable[dict[str, Any]]) -> list[str]:
    """One compact JSON line per document (what goes to stdout / CloudWatch Logs)."""
    return [json.dumps(doc, separators=(",", ":"), default=str) for doc in docs]


# The parts of the EMF specification the documents must satisfy
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
EMF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array", "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 1024},
                            "Dimensions": {"type": "array", "items": {
                                "type": "array", "maxItems": 30, "items": {"type": "string", "minLength": 1}}},
                            "Metrics": {"type": "array", "minItems": 1, "maxItems": 100, "items": {
                                "type": "object", "required": ["Name"],
                                "properties": {"Name": {"type": "string", "minLength": 1, "maxLength": 1024},
                                               "Unit": {"type": "string"}}}},
                        },
                    },
                },
            },
        },
    },
}


def validate_emf(doc: dict[str, Any]) -> None:
    """Raise ``ValueError`` unless ``doc`` is valid EMF (schema + every referenced member present)."""
    import jsonschema

    try:
        jsonschema.validate(doc, EMF_SCHEMA)
    except jsonschema.ValidationError as exc:
        raise ValueError(f"invalid EMF document: {exc.message}") from None
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        for dims in directive["Dimensions"]:
            for dim in dims:
                if not isinstance(doc.get(dim), str):
                    raise ValueError(f"EMF dimension {dim!r} must be a string member of the document")
        for metric in directive["Metrics"]:
            value = doc.get(metric["Name"])
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
                raise ValueError(f"EMF metric {metric['Name']!r} must be a finite number, got {value!r}")


def weather_source_documents(forecasts: pd.DataFrame, namespace: str, day: str | None = None) -> list[dict[str, Any]]:
    """One EMF document per weather-source kind of the scored forecasts (issue 15).

    Metric ``forecast_rows``, dimension ``WeatherSource`` (``forecast`` / ``stale`` / ``none`` /
    ``unknown``): how many of the day's scored forecast rows were made with which weather. A
    separate dimension set, so the accuracy alarms' ``SCHEMA(ns, GridArea, LeadBucket)`` ignore it.
    """
    from edf.data.outputs import weather_source_kind

    docs = []
    for kind, n in sorted(weather_source_counts(forecasts, by_kind=True).items()):
        metrics = EphemeralMetrics(namespace=namespace)
        metrics.service = None
        metrics.add_dimension(name="WeatherSource", value=weather_source_kind(kind))
        metrics.add_metric(name="forecast_rows", unit=MetricUnit.Count, value=float(n))
        if day:
            metrics.add_metadata(key="scored_day", value=day)
        docs.append(metrics.serialize_metric_set())
        metrics.clear_metrics()
    return docs


def weather_source_counts(forecasts: pd.DataFrame, by_kind: bool = False) -> dict[str, int]:
    """Forecast rows per ``weather_source`` label (or per kind); rows without the column are ``unknown``."""
    from edf.data.outputs import WEATHER_SOURCE_UNKNOWN, weather_source_kind

    if "weather_source" not in forecasts.columns:
        return {WEATHER_SOURCE_UNKNOWN: len(forecasts)} if len(forecasts) else {}
    labels = forecasts["weather_source"].fillna(WEATHER_SOURCE_UNKNOWN).astype(str)
    if by_kind:
        labels = labels.map(weather_source_kind)
    return {str(k): int(v) for k, v in labels.value_counts().sort_index().items()}
