"""What both APIs share: dependency resolution (config, store, tenants), JSON shaping, errors.

A Lambda container resolves its dependencies once (config from ``EDF_CONFIG_URI``, the store from
the configured backend, the tenant registry from ``EDF_TENANT_REGISTRY`` or the config) and
reuses them across invocations. The local server and tests inject theirs with
:func:`set_dependencies`; the handlers' code path is otherwise identical.

Errors are mapped by the resolver's exception handlers, never left to Lambda (an unhandled
exception is a 502 and pages on-call through the API error alarms): the store's own
:class:`StoreError`, the AWS SDK's ``ClientError``/``BotoCoreError`` (DynamoDB throttling,
Timestream) and psycopg's errors (PostgreSQL) all become the documented 503 ``store_unavailable``
with ``Retry-After`` (``edf_serving.retry_after_seconds``); the message names no internal detail.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from botocore.exceptions import BotoCoreError, ClientError

from edf.config import EDFConfig
from edf.serving.params import ApiError
from edf.serving.tenants import CachedRegistry, RegistryUnavailable, TenantRegistry
from edf.serving.zones import TopologyZones
from edf.storage.base import ForecastStore, InvalidValueError, StoreError

log = logging.getLogger(__name__)


@dataclass
class Dependencies:
    cfg: EDFConfig
    store: ForecastStore
    registry: TenantRegistry | CachedRegistry  # a CachedRegistry re-reads its source now and then
    zones: TopologyZones | None = None  # residents' fallback time zones; None: no topology, UTC fallback

    def tenants(self) -> TenantRegistry:
        return self.registry.get() if isinstance(self.registry, CachedRegistry) else self.registry


_deps: Dependencies | None = None
_lock = threading.Lock()


def set_dependencies(deps: Dependencies | None) -> None:
    global _deps
    _deps = deps


def get_dependencies() -> Dependencies:
    global _deps
    with _lock:
        if _deps is None:
            from edf.config import load_config
            from edf.storage import open_store

            cfg = load_config(os.environ.get("EDF_CONFIG_URI") or None)
            serving = cfg.edf_serving
            uri = os.environ.get("EDF_TENANT_REGISTRY") or serving.tenant_registry_uri
            registry: TenantRegistry | CachedRegistry = (CachedRegistry(uri, serving.tenant_registry_cache_seconds, serving.metrics_namespace)
                             if uri else TenantRegistry({"tenants": []}))
            zones = TopologyZones(serving.topology_uri or cfg.s3_path("s3_raw_calendar_path"),
                                  serving.topology_cache_seconds)
            _deps = Dependencies(cfg, open_store(cfg), registry, zones)
        return _deps


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def num(value: float) -> float:
    return round(float(value), 4)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps(body, separators=(",", ":")),
                    headers={"Cache-Control": "no-store", **(headers or {})})


def unavailable(code: str, message: str) -> Response:
    """The documented 503: a fixed message and ``Retry-After``, nothing from the failure itself."""
    retry_after = getattr(getattr(getattr(_deps, "cfg", None), "edf_serving", None), "retry_after_seconds", 5)
    return json_response(503, {"error": {"code": code, "message": message}},
                         headers={"Retry-After": str(int(retry_after))})


def _store_unavailable() -> Response:
    return unavailable("store_unavailable", "the forecast store is unavailable; retry later")


def _driver_errors() -> tuple[type[BaseException], ...]:
    """Exception types of the store drivers: botocore always, psycopg when installed (RDS backend)."""
    try:
        import psycopg
    except ImportError:  # a zip without the RDS driver cannot raise its errors
        return (ClientError, BotoCoreError)
    return (ClientError, BotoCoreError, psycopg.Error)


def not_found_building() -> ApiError:
    # The same answer for "does not exist" and "not yours": no way to probe other tenants' ids.
    return ApiError(404, "not_found", "no such building")


def install_error_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return json_response(exc.status, exc.body())

    @app.exception_handler(InvalidValueError)
    def _invalid(exc: InvalidValueError) -> Response:
        return json_response(400, {"error": {"code": "invalid_parameter", "message": str(exc)}})

    @app.exception_handler(RegistryUnavailable)
    def _registry(exc: RegistryUnavailable) -> Response:
        log.error("tenant registry unavailable")
        return unavailable("service_unavailable", "the service is unavailable; retry later")

    @app.exception_handler(StoreError)
    def _store(exc: StoreError) -> Response:
        log.exception("forecast store failed")
        return _store_unavailable()

    @app.exception_handler(list(_driver_errors()))
    def _driver(exc: Exception) -> Response:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
        log.exception("forecast store driver error %s%s", type(exc).__name__, f" ({code})" if code else "")
        return _store_unavailable()

    @app.not_found
    def _not_found(exc: Exception) -> Response:
        return json_response(404, {"error": {"code": "not_found", "message": "no such resource"}})
