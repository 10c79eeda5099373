"""Schemathesis against the OpenAPI document, on the local server: no 5xx, every response matches.

Both generation modes (valid and invalid data per the schema) with a bounded number of examples
per operation, sent with a valid API key and a valid resident token so requests reach the Lambdas.
"""

from __future__ import annotations

import pytest
import schemathesis
from api_env import start_api_env
from hypothesis import HealthCheck, given, settings
from moto.server import ThreadedMotoServer
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from edf_local.gateway import OPENAPI_PATH

pytestmark = pytest.mark.slow
EXAMPLES = 20
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def env(cfg):
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    e = start_api_env(cfg, f"http://{host}:{port}")
    yield e
    e.server.shutdown()
    moto.stop()


def _operations():
    schema = schemathesis.openapi.from_path(OPENAPI_PATH)
    ops = [result.ok() for result in schema.get_all_operations()]
    assert len(ops) == 5
    return ops


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
@pytest.mark.parametrize("operation", _operations(), ids=lambda op: op.label)
def test_openapi_conformance(env, operation, mode):
    headers = {"x-api-key": env.keys["north"], "Authorization": f"Bearer {env.tokens['n-1']}"}
    seen: set[int] = set()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def run(case):
        case.headers = {**(case.headers or {}), **headers}
        response = case.call(base_url=env.base_url, timeout=30)
        seen.add(response.status_code)
        case.validate_response(response, checks=CHECKS)

    run()
    assert seen and max(seen) < 500


GOOD = {
    "GET /v1/buildings": {},
    "GET /v1/buildings/{building_id}/forecast": {"path_parameters": {"building_id": "n-1"},
                                                 "query": {"start": "2026-06-01T00:00:00Z",
                                                           "end": "2026-06-02T00:00:00Z"}},
    "GET /v1/portfolio/forecast": {"query": {"start": "2026-06-01T00:00:00Z", "end": "2026-06-02T00:00:00Z"}},
    "GET /v1/portfolio/recommendations": {"query": {"date": "2026-06-01"}},
    "GET /v1/me/solar-vs-demand": {"query": {"date": "2026-06-01"}},
}


@pytest.mark.parametrize("operation", _operations(), ids=lambda op: op.label)
def test_answers_with_data_match_the_schema(env, operation):
    """Random data rarely hits a stored window: check a populated 200 of every operation too."""
    case = operation.Case(**GOOD[operation.label])
    case.headers = {"x-api-key": env.keys["north"], "Authorization": f"Bearer {env.tokens['n-1']}"}
    response = case.call(base_url=env.base_url, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert any(isinstance(v, list) and v for v in body.values()) or body.get("series") or body.get("hours")
    case.validate_response(response, checks=CHECKS)


def test_schema_check_catches_a_wrong_body(env):
    """The conformance check is not a tautology: a body missing a required field fails it."""
    import json

    import requests

    op = next(o for o in _operations() if o.label == "GET /v1/portfolio/forecast")
    case = op.Case(**GOOD[op.label])
    response = requests.get(env.base_url + "/v1/portfolio/forecast", params=GOOD[op.label]["query"],
                            headers={"x-api-key": env.keys["north"]}, timeout=30)
    case.validate_response(response, checks=CHECKS)  # the real answer conforms
    body = response.json()
    del body["points"][0]["yhat_upper"]
    response._content = json.dumps(body).encode()
    with pytest.raises(BaseException) as info:  # schemathesis raises a (Base)ExceptionGroup of failures
        case.validate_response(response, checks=CHECKS)
    failures = getattr(info.value, "exceptions", [info.value])
    assert any("yhat_upper" in str(f) for f in failures)
