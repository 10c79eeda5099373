"""What both APIs share: dependency resolution (config, store, tenants), JSON shaping, errors.

A Lambda container resolves its dependencies once (config from ``EDF_CONFIG_URI``, the store from
the configured backend, the tenant registry from ``EDF_TENANT_REGISTRY`` or the config) and
reuses them across invocations. The local server and tests inject theirs with
:func:`set_dependencies`; the handlers' code path is otherwise identical.
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

from edf.config import EDFConfig
from edf.serving.params import ApiError
from edf.serving.tenants import CachedRegistry, TenantRegistry
from edf.storage.base import ForecastStore, InvalidValueError, StoreError

log = logging.getLogger(__name__)


@dataclass
class Dependencies:
    cfg: EDFConfig
    store: ForecastStore
    registry: TenantRegistry | CachedRegistry  # a CachedRegistry re-reads its source now and then

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
            uri = os.environ.get("EDF_TENANT_REGISTRY") or cfg.edf_serving.tenant_registry_uri
            registry: TenantRegistry | CachedRegistry = (
                CachedRegistry(uri, cfg.edf_serving.tenant_registry_cache_seconds) if uri
                else TenantRegistry({"tenants": []}))
            _deps = Dependencies(cfg, open_store(cfg), registry)
        return _deps


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def num(value: float) -> float:
    return round(float(value), 4)


def json_response(status: int, body: Any) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps(body, separators=(",", ":")), headers={"Cache-Control": "no-store"})


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

    @app.exception_handler(StoreError)
    def _store(exc: StoreError) -> Response:
        log.exception("forecast store failed")
        return json_response(503, {"error": {"code": "store_unavailable",
                                             "message": "the forecast store is unavailable; retry later"}})

    @app.not_found
    def _not_found(exc: Exception) -> Response:
        return json_response(404, {"error": {"code": "not_found", "message": "no such resource"}})
