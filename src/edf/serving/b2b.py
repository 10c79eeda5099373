"""B2B API (DSOs and suppliers; API key + usage plan). Lambda: ``lambdas/b2b_api/handler.py``.

Every request is mapped to a tenant from the API key the gateway validated; a tenant sees only
the buildings of its grid areas, and a building outside them answers exactly like an unknown one.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from edf.lambda_events import api_gateway_event
from edf.serving import params
from edf.serving.api import (
    get_dependencies,
    install_error_handlers,
    iso,
    json_response,
    not_found_building,
    num,
)
from edf.serving.pagination import fingerprint, page_limit, paginate
from edf.serving.params import ApiError
from edf.serving.tenants import Tenant
from edf.storage.base import SERIES

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

app = APIGatewayRestResolver()
install_error_handlers(app)

INTERVAL_METHOD = (
    "yhat is the sum of the buildings' forecasts. Quantiles do not add: yhat_lower/yhat_upper assume "
    "independent building errors (each side's half-widths combined in quadrature); the *_comonotonic "
    "bounds are the sums of the buildings' bounds (errors moving together). The true interval lies between.")


def _tenant() -> Tenant:
    identity = (app.current_event.request_context.identity)
    tenant = get_dependencies().tenants().lookup(identity.api_key_id if identity else None,
                                                 identity.api_key if identity else None)
    if tenant is None:
        raise ApiError(403, "forbidden", "the API key is not registered to a tenant")
    return tenant


def _q(name: str) -> str | None:
    return app.current_event.get_query_string_value(name)


def _page(items: list, tenant: Tenant, *filters: object) -> tuple[list, dict[str, Any]]:
    """One page of a list answer (``limit``/``cursor``), and the paging fields of the response."""
    limit = page_limit(_q("limit"), get_dependencies().cfg.edf_serving.page_limit_default)
    page, following = paginate(items, limit, _q("cursor"), fingerprint(tenant.tenant_id, *filters))
    return list(page), {"limit": limit, "total": len(items), "next_cursor": following}


def _areas(tenant: Tenant, requested: str | None) -> list[str]:
    if requested is None or requested == "":
        return list(tenant.grid_areas)
    area = params.grid_area(requested)
    if area not in tenant.grid_areas:
        raise ApiError(404, "not_found", "no such grid area")
    return [area]


@app.get("/v1/buildings")
def list_buildings() -> Response:
    tenant = _tenant()
    deps = get_dependencies()
    buildings = deps.store.list_buildings(tenant.grid_areas) if tenant.grid_areas else []
    visible = sorted((b for b in buildings if b.grid_area in tenant.grid_areas), key=lambda b: b.building_id)
    page, paging = _page(visible, tenant, "buildings")
    return json_response(200, {
        "tenant_id": tenant.tenant_id, "grid_areas": list(tenant.grid_areas), **paging,
        "buildings": [{"building_id": b.building_id, "grid_area": b.grid_area, "series": list(b.series)}
                      for b in page]})


@app.get("/v1/buildings/<building_id>/forecast")
def building_forecast(building_id: str) -> Response:
    tenant = _tenant()
    deps = get_dependencies()
    bid = params.building_id(building_id)
    start, end = params.time_range(_q("start"), _q("end"), deps.cfg.edf_serving.max_range_days)
    wanted = params.series(_q("series"), SERIES)
    info = deps.store.get_building(bid)
    if info is None or info.grid_area not in tenant.grid_areas:
        raise not_found_building()
    out: dict[str, Any] = {}
    for s in wanted:
        if s not in info.series:
            out[s] = []
            continue
        out[s] = [{"timestamp_hour": iso(p.timestamp_hour), "yhat": num(p.yhat), "yhat_lower": num(p.yhat_lower),
                   "yhat_upper": num(p.yhat_upper), "model_version": p.model_version,
                   "issue_time": iso(p.issue_time), "weather_source": p.weather_source}
                  for p in deps.store.building_series(bid, s, start, end)]
    return json_response(200, {"building_id": bid, "grid_area": info.grid_area, "start": iso(start),
                               "end": iso(end), "unit": "kWh", "series": out})


@app.get("/v1/portfolio/forecast")
def portfolio_forecast() -> Response:
    tenant = _tenant()
    deps = get_dependencies()
    areas = _areas(tenant, _q("grid_area"))
    start, end = params.time_range(_q("start"), _q("end"), deps.cfg.edf_serving.max_range_days)
    chosen = params.series(_q("series"), ("consumption",))
    if len(chosen) != 1:
        raise params.bad("series", "must be one series (consumption or solar) for a portfolio", _q("series"))
    (series,) = chosen
    points = deps.store.portfolio_series(areas, series, start, end) if areas else []
    return json_response(200, {
        "grid_areas": areas, "series": series, "start": iso(start), "end": iso(end), "unit": "kWh",
        "interval_method": INTERVAL_METHOD,
        "points": [{"timestamp_hour": iso(p.timestamp_hour), "buildings": p.buildings, "yhat": num(p.yhat),
                    "yhat_lower": num(p.yhat_lower), "yhat_upper": num(p.yhat_upper),
                    "yhat_lower_comonotonic": num(p.yhat_lower_comonotonic),
                    "yhat_upper_comonotonic": num(p.yhat_upper_comonotonic)} for p in points]})


@app.get("/v1/portfolio/recommendations")
def portfolio_recommendations() -> Response:
    tenant = _tenant()
    deps = get_dependencies()
    day = params.date(_q("date"))
    areas = _areas(tenant, _q("grid_area"))
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    rows = deps.store.recommendations(areas, start, start + dt.timedelta(days=1)) if areas else []
    visible = [r for r in rows if r.grid_area in areas]  # stores return them ordered (hour, building, kind, action)
    page, paging = _page(visible, tenant, "recommendations", day, areas)
    return json_response(200, {
        "date": day.isoformat(), "grid_areas": areas, **paging,
        "recommendations": [{"building_id": r.building_id, "grid_area": r.grid_area, "kind": r.kind,
                             "timestamp_hour": iso(r.timestamp_hour), "action": r.action, "kw": num(r.kw),
                             "expected_reduction_kwh": num(r.expected_reduction_kwh),
                             "expected_saving": num(r.expected_saving), "run_id": r.run_id,
                             "issue_time": iso(r.issue_time)} for r in page]})


def handle(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    """The Lambda's answer to one API Gateway REST proxy event (``InvalidEvent`` for anything else)."""
    return app.resolve(api_gateway_event(event), context)
