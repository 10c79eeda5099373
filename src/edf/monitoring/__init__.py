"""Forecast accuracy monitoring: tracker, EMF metrics, drift-triggered retraining (docs/monitoring.md).

* :mod:`edf.monitoring.tracker` — scores forecasts against actuals and the seasonal-naive baseline;
* :mod:`edf.monitoring.sources` — reads stored forecasts (run Parquet or the forecast store) and actuals;
* :mod:`edf.monitoring.emf` — CloudWatch Embedded Metric Format documents (namespace ``EDF/Accuracy``);
* :mod:`edf.monitoring.drift` — the drift rule, its persisted state and the retraining trigger;
* :mod:`edf.monitoring.service` — the daily run (accuracy monitor Lambda) and the local report;
* :mod:`edf.monitoring.lambda_handler` — the Lambda's event handling.
"""
