"""The provider adapter interface, the errors every adapter raises, and building one from the config.

An adapter turns one grid cell into an hourly frame in the contract's units
(``edf.data.weather_forecast``): ``timestamp_hour`` (UTC, start of hour) plus the weather columns it
has. The fetcher knows nothing else about a provider, so adding one is one class here and one
``edf_weather.provider`` value.

A provider that needs a key gets it from Secrets Manager (:func:`read_api_key`), never from the
config, the event or the environment itself: only the secret's *id* travels (Terraform sets
``EDF_WEATHER_SECRET_ID``). The key is never logged; the HTTP client masks it in urllib3's debug
lines and in every error message.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

SECRET_ENV = "EDF_WEATHER_SECRET_ID"


class ProviderError(Exception):
    """A cell could not be fetched. ``kind`` is a short, metric-friendly reason."""

    kind = "provider_error"

    def __init__(self, message: str, kind: str | None = None):
        super().__init__(message)
        if kind:
            self.kind = kind


class ProviderUnavailable(ProviderError):
    """Retries exhausted on 429, 5xx, timeouts, broken connections or unreadable bodies."""

    kind = "unavailable"


class ProviderRequestError(ProviderError):
    """The provider refused the request (4xx other than 429): retrying cannot help."""

    kind = "rejected"


class ProviderResponseError(ProviderError):
    """A 200 answer that breaks the provider's documented format (missing variable, wrong unit...)."""

    kind = "bad_response"


class BudgetExhausted(ProviderError):
    """The run's request budget (``edf_weather.max_requests_per_run``) is spent."""

    kind = "budget_exhausted"


class ProviderConfigError(ValueError):
    """The provider cannot be built (unknown name, no key where one is needed)."""


@dataclass(frozen=True, order=True)
class GridCell:
    """A provider grid cell: buildings inside it share one request and one forecast."""

    latitude: float
    longitude: float

    @property
    def key(self) -> str:
        return f"{self.latitude:.4f},{self.longitude:.4f}"


@dataclass
class CellForecast:
    """What an adapter returns for one cell: hourly rows and what it had to tell about them."""

    cell: GridCell
    frame: pd.DataFrame  # timestamp_hour + weather columns (contract names and units)
    warnings: list[str] = field(default_factory=list)


class WeatherProvider(Protocol):
    """The adapter interface. ``name`` goes into every row's ``weather_provider``."""

    name: str

    def fetch(self, cell: GridCell, issue_time: pd.Timestamp, hours: int) -> CellForecast:
        """Hours ``[floor(issue_time), +hours)`` for ``cell``; raises :class:`ProviderError`."""


@contextlib.contextmanager
def _botocore_bodies_unlogged() -> Iterator[None]:
    """botocore logs whole response bodies at DEBUG (``botocore.parsers``): the secret's, too."""
    loggers = [logging.getLogger(name) for name in ("botocore.parsers", "botocore.endpoint")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.getEffectiveLevel(), logging.INFO))
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def read_api_key(secret_id: str, client: Any | None = None) -> str:
    """The provider key from Secrets Manager: a plain string, or JSON with ``api_key``/``apikey``."""
    import boto3

    sm = client or boto3.client("secretsmanager")
    try:
        with _botocore_bodies_unlogged():
            text = sm.get_secret_value(SecretId=secret_id)["SecretString"]
    except Exception as exc:  # noqa: BLE001 - any failure is a configuration problem, named without the value
        raise ProviderConfigError(f"cannot read the weather provider key from secret {secret_id!r}: "
                                  f"{type(exc).__name__}") from None
    try:
        doc = json.loads(text)
    except ValueError:
        doc = text
    key = doc.get("api_key") or doc.get("apikey") if isinstance(doc, dict) else doc
    if not isinstance(key, str) or not key.strip():
        raise ProviderConfigError(f"secret {secret_id!r} holds no API key (set it with put-secret-value)")
    return key.strip()
