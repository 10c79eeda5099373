"""Building the configured provider (``edf_weather.provider``): the one place that knows them all."""

from __future__ import annotations

import os
from typing import Any

from edf.config import EDFConfig
from edf.weather.file_provider import FileProvider
from edf.weather.http import HttpClient
from edf.weather.open_meteo import OpenMeteoProvider
from edf.weather.providers import SECRET_ENV, ProviderConfigError, WeatherProvider, read_api_key


def build_provider(cfg: EDFConfig, http: HttpClient, secrets_client: Any | None = None) -> WeatherProvider:
    """The configured provider. Keyed providers read the key now, so a missing key fails the run early."""
    w = cfg.edf_weather
    if w.provider == "open_meteo":
        return OpenMeteoProvider(w.open_meteo.base_url, http, settings=w.open_meteo, name="open_meteo")
    if w.provider == "open_meteo_customer":
        secret_id = os.environ.get(SECRET_ENV) or w.api_key_secret_id
        if not secret_id:
            raise ProviderConfigError("provider open_meteo_customer needs a key: set edf_weather.api_key_secret_id "
                                      f"or {SECRET_ENV} (Terraform sets it to the weather secret)")
        key = read_api_key(secret_id, secrets_client)
        http.add_secret(key)
        return OpenMeteoProvider(w.open_meteo.customer_base_url, http, settings=w.open_meteo, api_key=key,
                                 name="open_meteo_customer")
    if w.provider == "file":
        return FileProvider(w.file.uri or "", grid_degrees=w.grid_degrees, replay=w.file.replay)
    raise ProviderConfigError(f"unknown weather provider {w.provider!r}")
