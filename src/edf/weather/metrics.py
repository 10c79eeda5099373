"""The fetcher's CloudWatch metrics as Embedded Metric Format documents (printed by the Lambda).

Namespace ``edf_weather.metrics_namespace`` (``EDF/Weather``), one dimension ``Environment`` (the
config's ``env_suffix``, so two environments in one account alarm separately). Per run:

=============================  =============================================================
metric                         meaning (alarm in terraform/modules/monitoring/weather.tf)
=============================  =============================================================
``FetchFailures``              1 when any cell failed or nothing was written, else 0
``CellsRequested/Fetched/      cells of the run, answered, failed
Failed``
``BuildingsWithoutLocation``   topology buildings without usable coordinates
``ForecastRows``               rows written
``ProviderRequests``           HTTP attempts (retries included)
``ProviderErrors``             failed attempts (429, 5xx, other 4xx, timeouts, bad bodies)
``ProviderLatencyMs``          one value per attempt (alarm: p90)
``NewestForecastAgeHours``     age of the newest issue under ``weather-forecast/`` after the run
=============================  =============================================================

EMF takes at most 100 values per metric in one document, so the latencies are spread over as
many extra documents as needed (CloudWatch computes percentiles over all of them).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from edf.weather.fetch import FetchResult

DIMENSION = "Environment"
LATENCY_CHUNK = 90  # below powertools' 100-value auto-flush


def _metrics(namespace: str, environment: str) -> EphemeralMetrics:
    m = EphemeralMetrics(namespace=namespace)
    m.service = None  # alarms query exactly {Environment}; powertools would add a service dimension
    m.add_dimension(name=DIMENSION, value=environment)
    return m


def fetch_emf_documents(result: FetchResult, namespace: str, environment: str,
                        now: pd.Timestamp | None = None) -> list[dict[str, Any]]:
    """The run's EMF documents: counters (and the age) first, then latency chunks."""
    now = now or pd.Timestamp.now(tz="UTC")
    m = _metrics(namespace, environment)
    counts = {
        "FetchFailures": 1 if result.failed else 0, "CellsRequested": result.cells,
        "CellsFetched": result.cells_fetched, "CellsFailed": len(result.failures),
        "BuildingsWithoutLocation": len(result.buildings_without_location), "ForecastRows": result.rows,
        "ProviderRequests": result.stats.attempts, "ProviderErrors": result.stats.errors,
    }
    for name, value in counts.items():
        m.add_metric(name=name, unit=MetricUnit.Count, value=float(value))
    age = result.newest_age_hours(now)
    if age is not None:
        m.add_metric(name="NewestForecastAgeHours", unit=MetricUnit.NoUnit, value=float(age))
    m.add_metadata(key="provider", value=result.provider)
    m.add_metadata(key="issue_time", value=result.issue_time.isoformat())
    docs = [m.serialize_metric_set()]
    latencies = result.stats.latencies_ms
    for i in range(0, len(latencies), LATENCY_CHUNK):
        lm = _metrics(namespace, environment)
        for value in latencies[i:i + LATENCY_CHUNK]:
            lm.add_metric(name="ProviderLatencyMs", unit=MetricUnit.Milliseconds, value=float(value))
        docs.append(lm.serialize_metric_set())
    return docs
