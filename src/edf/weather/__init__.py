"""Weather forecasts for inference: provider adapters, the fetcher and its metrics (docs/weather.md).

``providers`` (the adapter interface and errors), ``factory`` (the configured provider), ``open_meteo`` (Open-Meteo, free or keyed),
``file_provider`` (replays a recorded Open-Meteo document), ``http`` (timeouts, bounded retries with
backoff, the per-run request budget), ``grid`` (buildings to provider grid cells), ``fetch`` (one run:
cells -> validated Parquet under ``weather-forecast/``), ``metrics`` (EMF) and ``lambda_handler``
(the scheduled Lambda). The contract of what is written is ``edf.data.weather_forecast``.
"""
