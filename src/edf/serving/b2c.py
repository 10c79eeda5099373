"""B2C API (residents; Cognito user pool). Lambda: ``lambdas/b2c_api/handler.py``.

The building comes only from the token's claims (``edf_serving.building_claim``, default
``custom:building_id``) that the Cognito authorizer put in ``requestContext.authorizer.claims``;
a resident cannot name another building. The day is the resident's local day: the token's OIDC
``zoneinfo`` claim when it is a valid IANA zone, else the building's topology time zone, else UTC
(:mod:`edf.serving.zones`; the answer's ``timezone_source`` and ``timezone_note`` say which and
why). Without ``date`` it is tomorrow.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from edf.lambda_events import api_gateway_event
from edf.optimization.resident import rank_appliance_hours
from edf.serving import params
from edf.serving.api import (
    get_dependencies,
    install_error_handlers,
    iso,
    json_response,
    not_found_building,
    num,
)
from edf.serving.params import ApiError
from edf.serving.zones import ResolvedZone, resolve_zone
from edf.storage.base import BUILDING_ID_RE

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

app = APIGatewayRestResolver()
install_error_handlers(app)


def _claims() -> dict[str, Any]:
    authorizer = app.current_event.request_context.authorizer
    claims = (authorizer.raw_event.get("claims") if authorizer is not None else None) or {}
    if not isinstance(claims, dict) or not claims:
        raise ApiError(401, "unauthorized", "a resident token is required")
    return claims


def solar_vs_demand(building_id: str, day: dt.date, zone: ZoneInfo, deps: Any) -> dict[str, Any]:
    """The resident's day: hourly demand vs solar, self-consumption, surplus and best hours."""
    info = deps.store.get_building(building_id)
    if info is None:
        raise not_found_building()
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(dt.UTC)
    demand = {p.timestamp_hour: p for p in deps.store.building_series(building_id, "consumption", start, end)}
    solar = ({p.timestamp_hour: p for p in deps.store.building_series(building_id, "solar", start, end)}
             if "solar" in info.series else {})
    hours_out, d_vals, s_vals = [], [], []
    for h in sorted(demand):
        d = demand[h]
        s = solar.get(h)
        s_y = s.yhat if s else 0.0
        hours_out.append({
            "timestamp_hour": iso(h), "local_time": h.astimezone(zone).strftime("%H:%M"),
            "demand_kwh": num(d.yhat), "demand_lower": num(d.yhat_lower), "demand_upper": num(d.yhat_upper),
            "solar_kwh": num(s_y), "solar_lower": num(s.yhat_lower if s else 0.0),
            "solar_upper": num(s.yhat_upper if s else 0.0),
            "net_kwh": num(d.yhat - s_y), "surplus_kwh": num(max(s_y - d.yhat, 0.0))})
        d_vals.append(max(d.yhat, 0.0))
        s_vals.append(max(s_y, 0.0))
    total_d, total_s = sum(d_vals), sum(s_vals)
    self_used = sum(min(d, s) for d, s in zip(d_vals, s_vals, strict=True))
    cfg = deps.cfg.edf_serving
    best = rank_appliance_hours(d_vals, s_vals, top_n=cfg.appliance_hours,
                                appliance_kwh=cfg.appliance_kwh) if d_vals else []
    newest = max(demand.values(), key=lambda p: p.issue_time, default=None)
    return {
        "building_id": building_id, "date": day.isoformat(), "timezone": str(zone.key), "unit": "kWh",
        "hours": hours_out,
        "summary": {
            "demand_kwh": num(total_d), "solar_kwh": num(total_s), "self_consumed_kwh": num(self_used),
            # share of the day's expected PV used at home, and of the demand PV covers
            "self_consumption_share": num(self_used / total_s) if total_s > 0 else None,
            "self_sufficiency_share": num(self_used / total_d) if total_d > 0 else None,
            "surplus_hours": [h["timestamp_hour"] for h in hours_out if h["surplus_kwh"] > 0],
        },
        "best_hours": [{"rank": i + 1, "timestamp_hour": hours_out[k]["timestamp_hour"],
                        "local_time": hours_out[k]["local_time"], "surplus_kwh": hours_out[k]["surplus_kwh"]}
                       for i, k in enumerate(best)],
        "model_version": newest.model_version if newest else None,
        "issue_time": iso(newest.issue_time) if newest else None,
    }


@app.get("/v1/me/solar-vs-demand")
def me_solar_vs_demand() -> Response:
    deps = get_dependencies()
    claims = _claims()
    building_id = claims.get(deps.cfg.edf_serving.building_claim)
    if not isinstance(building_id, str) or not BUILDING_ID_RE.fullmatch(building_id):
        raise ApiError(403, "forbidden", "the token is not linked to a building")
    resolved: ResolvedZone = resolve_zone(claims.get("zoneinfo"), building_id, deps.zones)
    raw = app.current_event.get_query_string_value("date")
    day = params.date(raw) if raw is not None else dt.datetime.now(resolved.zone).date() + dt.timedelta(days=1)
    body = solar_vs_demand(building_id, day, resolved.zone, deps)
    body.update(timezone_source=resolved.source, timezone_note=resolved.note)
    return json_response(200, body)


def handle(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    """The Lambda's answer to one API Gateway REST proxy event (``InvalidEvent`` for anything else)."""
    return app.resolve(api_gateway_event(event), context)
