"""The authorization matrix and injection attempts, over HTTP against the local API Gateway stand-in."""

from __future__ import annotations

import pytest
import requests
from api_env import DAY, WEATHER_SOURCES, start_api_env
from moto.server import ThreadedMotoServer

pytestmark = pytest.mark.slow
RANGE = {"start": "2026-06-01T00:00:00Z", "end": "2026-06-02T00:00:00Z"}


@pytest.fixture(scope="module")
def env(cfg):
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    e = start_api_env(cfg, f"http://{host}:{port}")
    yield e
    e.server.shutdown()
    moto.stop()


def b2b(env, path, area=None, key=None, **params):
    headers = {"x-api-key": key if key is not None else env.keys[area]} if (area or key is not None) else {}
    return requests.get(env.base_url + path, headers=headers, params=params, timeout=30)


def me(env, building=None, token=None, **params):
    tok = token if token is not None else env.tokens[building]
    return requests.get(env.base_url + "/v1/me/solar-vs-demand", headers={"Authorization": f"Bearer {tok}"},
                        params=params, timeout=30)


OWN = {"north": ["n-1", "n-2"], "south": ["s-1"]}
OTHER = {"north": "south", "south": "north"}


@pytest.mark.parametrize("area", ["north", "south"])
def test_tenant_sees_only_its_buildings(env, area):
    r = b2b(env, "/v1/buildings", area)
    assert r.status_code == 200
    assert [b["building_id"] for b in r.json()["buildings"]] == OWN[area]


@pytest.mark.parametrize("area", ["north", "south"])
def test_building_forecast_matrix(env, area):
    for b in OWN[area]:
        r = b2b(env, f"/v1/buildings/{b}/forecast", area, **RANGE)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["series"]["consumption"]) == 24 and len(body["series"]["solar"]) == 24
        assert body["series"]["consumption"][0]["issue_time"] == "2026-05-31T05:00:00Z"
        assert {p["weather_source"] for s in ("consumption", "solar") for p in body["series"][s]} == {WEATHER_SOURCES[b]}
    foreign = OWN[OTHER[area]][0]
    r_foreign = b2b(env, f"/v1/buildings/{foreign}/forecast", area, **RANGE)
    r_missing = b2b(env, "/v1/buildings/does-not-exist/forecast", area, **RANGE)
    assert r_foreign.status_code == r_missing.status_code == 404
    assert r_foreign.json() == r_missing.json()  # indistinguishable


@pytest.mark.parametrize("area", ["north", "south"])
def test_portfolio_matrix(env, area):
    r = b2b(env, "/v1/portfolio/forecast", area, **RANGE)
    assert r.status_code == 200
    pts = r.json()["points"]
    assert len(pts) == 24 and {p["buildings"] for p in pts} == {len(OWN[area])}
    own = b2b(env, "/v1/portfolio/forecast", area, grid_area=area, **RANGE)
    assert own.json()["points"] == pts
    foreign = b2b(env, "/v1/portfolio/forecast", area, grid_area=OTHER[area], **RANGE)
    missing = b2b(env, "/v1/portfolio/forecast", area, grid_area="nowhere", **RANGE)
    assert foreign.status_code == missing.status_code == 404 and foreign.json() == missing.json()


@pytest.mark.parametrize("area", ["north", "south"])
def test_recommendations_matrix(env, area):
    r = b2b(env, "/v1/portfolio/recommendations", area, date=DAY.isoformat())
    assert r.status_code == 200
    assert {x["building_id"] for x in r.json()["recommendations"]} == set(OWN[area]) & {"n-1", "s-1"}
    assert b2b(env, "/v1/portfolio/recommendations", area, grid_area=OTHER[area], date="2026-06-01").status_code == 404


@pytest.mark.parametrize("path", ["/v1/buildings", "/v1/buildings/n-1/forecast", "/v1/portfolio/forecast",
                                  "/v1/portfolio/recommendations"])
def test_b2b_needs_a_registered_key(env, path):
    params = dict(RANGE, date="2026-06-01")
    assert b2b(env, path, **params).status_code == 403
    assert b2b(env, path, key="edf-local-elsewhere", **params).status_code == 403
    # a resident token is not an API key
    r = requests.get(env.base_url + path, headers={"Authorization": f"Bearer {env.tokens['n-1']}"},
                     params=params, timeout=30)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("building", ["n-1", "s-1"])
def test_resident_sees_own_home_only(env, building):
    r = me(env, building, date=DAY.isoformat())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["building_id"] == building and len(body["hours"]) == 24
    assert len(body["best_hours"]) == 3
    # naming another building in the query changes nothing
    other = "s-1" if building == "n-1" else "n-1"
    r2 = me(env, building, date=DAY.isoformat(), building_id=other)
    assert r2.json()["building_id"] == building


def test_resident_auth_failures(env):
    assert me(env, token="", date="2026-06-01").status_code == 401
    tampered = env.tokens["n-1"][:-3] + ("AAA" if not env.tokens["n-1"].endswith("AAA") else "BBB")
    assert me(env, token=tampered, date="2026-06-01").status_code == 401
    r = requests.get(env.base_url + "/v1/me/solar-vs-demand", headers={"x-api-key": env.keys["north"]},
                     params={"date": "2026-06-01"}, timeout=30)
    assert r.status_code == 401
    assert me(env, "ghost-9", date="2026-06-01").status_code == 404  # valid token, no data


def test_b2c_solar_vs_demand_figures(env):
    body = me(env, "n-1", date=DAY.isoformat()).json()
    s = body["summary"]
    assert s["solar_kwh"] > 0 and 0 < s["self_consumption_share"] <= 1
    surplus = [h for h in body["hours"] if h["solar_kwh"] > h["demand_kwh"]]
    assert [h["timestamp_hour"] for h in surplus] == s["surplus_hours"]
    # best hours are the ones with the most spare PV (flat price): all surplus hours rank first
    if len(surplus) >= 3:
        assert all(b["surplus_kwh"] > 0 for b in body["best_hours"])


INJECTIONS = ["' OR '1'='1", "n-1' --", "\"; DROP TABLE forecasts; --", "../../etc/passwd", "n-1\x00",
              "<script>alert(1)</script>", "${jndi:ldap://x/a}", "n-1 UNION SELECT 1", "é" * 10, "x" * 5000,
              "n-1\n", "2026-06-01\n", "2026-06-01T00:00:00Z\n"]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_in_every_parameter(env, payload):
    ok_range = dict(RANGE)
    cases = [
        ("/v1/buildings/n-1/forecast", {**ok_range, "start": payload}),
        ("/v1/buildings/n-1/forecast", {**ok_range, "end": payload}),
        ("/v1/buildings/n-1/forecast", {**ok_range, "series": payload}),
        ("/v1/portfolio/forecast", {**ok_range, "grid_area": payload}),
        ("/v1/portfolio/forecast", {**ok_range, "series": payload}),
        ("/v1/portfolio/forecast", {**ok_range, "series": "consumption,solar"}),
        ("/v1/portfolio/forecast", {**ok_range, "start": payload}),
        ("/v1/portfolio/recommendations", {"date": payload}),
        ("/v1/portfolio/recommendations", {"date": "2026-06-01", "grid_area": payload}),
    ]
    for path, params in cases:
        r = b2b(env, path, "north", **params)
        assert r.status_code == 400, (path, params, r.status_code, r.text)
        err = r.json()["error"]
        assert err["code"].startswith(("invalid_", "missing_")) and err["message"]
    r = requests.get(env.base_url + "/v1/buildings/" + requests.utils.quote(payload, safe="") + "/forecast",
                     headers={"x-api-key": env.keys["north"]}, params=ok_range, timeout=30)
    assert r.status_code in (400, 403, 404) and "error" in r.json()
    assert me(env, "n-1", date=payload).status_code == 400


@pytest.mark.parametrize("params,code", [
    ({"start": "2026-06-01T00:00:00", "end": "2026-06-02T00:00:00Z"}, "invalid_start"),  # naive
    ({"start": "2026-06-02T00:00:00Z", "end": "2026-06-01T00:00:00Z"}, "invalid_range"),
    ({"start": "2026-06-01T00:00:00Z", "end": "2026-06-01T00:00:00Z"}, "invalid_range"),
    ({"start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "range_too_long"),
    ({"start": "2026-06-01", "end": "2026-06-02T00:00:00Z"}, "invalid_start"),
    ({"end": "2026-06-02T00:00:00Z"}, "missing_start"),
    ({**RANGE, "series": "wind"}, "invalid_series"),
    ({**RANGE, "start": "2026-02-30T00:00:00Z"}, "invalid_start"),
])
def test_bad_parameters_answer_400(env, params, code):
    r = b2b(env, "/v1/buildings/n-1/forecast", "north", **params)
    assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text


def test_offsets_are_converted_to_utc(env):
    r = b2b(env, "/v1/buildings/n-1/forecast", "north", start="2026-06-01T02:00:00+02:00",
            end="2026-06-01T05:00:00+02:00", series="consumption")
    pts = r.json()["series"]["consumption"]
    assert [p["timestamp_hour"] for p in pts] == ["2026-06-01T00:00:00Z", "2026-06-01T01:00:00Z",
                                                  "2026-06-01T02:00:00Z"]
    assert "solar" not in r.json()["series"]


def test_gateway_stand_in_routes(env):
    r = requests.get(env.base_url + "/", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"] == "/app/"
    page = requests.get(env.base_url + "/app/", timeout=30)
    assert page.status_code == 200 and "<svg" in page.text
    assert "connect-src 'self'" in page.headers["Content-Security-Policy"]
    assert "openapi: 3.0.1" in requests.get(env.base_url + "/openapi.yaml", timeout=30).text
    assert requests.get(env.base_url + "/app/../../etc/passwd", timeout=30).status_code == 404
    unknown = requests.get(env.base_url + "/v1/nothing", headers={"x-api-key": env.keys["north"]}, timeout=30)
    assert unknown.status_code == 403 and unknown.json()["error"]["code"] == "forbidden"
    post = requests.post(env.base_url + "/v1/buildings", headers={"x-api-key": env.keys["north"]}, timeout=30)
    assert post.status_code == 403


def test_print_usage_gives_working_curls(env, capsys):
    import shlex

    from edf_local.gateway import print_usage

    print_usage(env.base_url, server=env.server, grid_area="north", date=DAY)
    out = capsys.readouterr().out
    curls = [line.strip() for line in out.splitlines() if line.strip().startswith("curl ")]
    assert len(curls) == 5
    for line in curls:
        argv = shlex.split(line)
        headers = dict(h.split(": ", 1) for h in argv[argv.index("-H") + 1:argv.index("-H") + 2])
        r = requests.get(argv[-1], headers=headers, timeout=30)
        assert r.status_code == 200, (line, r.text)
    assert f"{env.base_url}/app/#date={DAY.isoformat()}&token=" in out
