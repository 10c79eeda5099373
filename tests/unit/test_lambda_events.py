"""One Lambda delegate shape: typed events, one InvalidEvent error, thin handlers (issue 17, item 4)."""

from __future__ import annotations

import ast
import json
import logging
import typing
from pathlib import Path

import pytest

from edf.lambda_events import InvalidEvent, LambdaEvent, api_gateway_event
from edf.logging import CORRELATION_ENV
from edf.monitoring.lambda_handler import AccuracyMonitorEvent
from edf.registry.events import CreateSageMakerModelEvent, GetApprovedModelEvent, RegisterModelEvent
from edf.storage.lambda_load import LoadForecastsEvent
from edf.storage.pg_bootstrap import BootstrapEvent
from edf.weather.lambda_handler import WeatherFetchEvent
from edf_local.errors import TaskFailed
from edf_local.lambdas import LocalLambdaInvoker

REPO = Path(__file__).resolve().parents[2]
HANDLERS = {p.parent.name: p for p in sorted((REPO / "lambdas").glob("*/handler.py"))}
WORKFLOW_MODELS = {"register_model": RegisterModelEvent, "get_approved_model": GetApprovedModelEvent,
                   "create_sagemaker_model": CreateSageMakerModelEvent, "load_forecasts": LoadForecastsEvent,
                   "accuracy_monitor": AccuracyMonitorEvent, "db_bootstrap": BootstrapEvent,
                   "weather_fetcher": WeatherFetchEvent}
API_LAMBDAS = {"b2b_api", "b2c_api"}


def test_every_lambda_is_a_workflow_or_an_api_lambda():
    assert set(HANDLERS) == set(WORKFLOW_MODELS) | API_LAMBDAS


def _lambda_tasks(states: dict):
    for name, state in states.items():
        if state.get("Type") == "Task" and state.get("Resource") == "arn:aws:states:::lambda:invoke":
            yield name, state["Parameters"]
        for branch in state.get("Branches", []):
            yield from _lambda_tasks(branch["States"])
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _lambda_tasks(state[key]["States"])


@pytest.mark.parametrize("template", ["training.asl.json", "inference.asl.json"])
def test_the_asl_payloads_fit_the_event_models(template):
    """Every key the ASL sends is a field of the Lambda's model, and every required field is sent."""
    definition = json.loads((REPO / "pipelines" / template).read_text())
    seen = 0
    for state, params in _lambda_tasks(definition["States"]):
        function = params["FunctionName"].removeprefix("${").removesuffix("_function_arn}")
        model = WORKFLOW_MODELS[function]
        # a JSONPath/intrinsic value is resolved at run time; a plausible string stands in for it
        payload = {key.removesuffix(".$"): (value if not key.endswith(".$") else f"run-{state.lower()}")
                   for key, value in params["Payload"].items()}
        event = model.parse(payload)
        assert set(payload) <= set(type(event).model_fields), state
        seen += 1
    assert seen >= 1


def test_parse_names_every_offending_field():
    with pytest.raises(InvalidEvent) as info:
        RegisterModelEvent.parse({"image_uri": "", "model_data_uri": "s3://b/m"})
    message = str(info.value)
    assert message.startswith("RegisterModelEvent: ")
    for part in ("model_data_url: missing", "evaluation_report_uri: missing", "image_uri:",
                 "model_data_uri: unknown key", "got keys: image_uri, model_data_uri"):
        assert part in message
    with pytest.raises(InvalidEvent, match="must be a JSON object, got list"):
        GetApprovedModelEvent.parse([1])
    with pytest.raises(InvalidEvent, match="run_id"):
        LoadForecastsEvent.parse({"forecasts_uri": "s3://b/k", "run_id": "no spaces allowed"})
    assert GetApprovedModelEvent.parse(None) == GetApprovedModelEvent()  # Lambda's "no payload"


def test_api_envelope_check():
    event = {"httpMethod": "GET", "path": "/v1/buildings", "headers": {}}
    assert api_gateway_event(event) == event
    with pytest.raises(InvalidEvent, match=r"httpMethod and path \(got date\)"):
        api_gateway_event({"date": "2026-11-20"})


def test_handlers_have_one_shape():
    """``handler(event, context)``: configure logging, then ``return handle(<Model>.parse(event), context)``."""
    for name, path in HANDLERS.items():
        source = path.read_text()
        assert len(source.splitlines()) <= 16, f"{name}: a handler stays thin"
        functions = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
        assert [f.name for f in functions] == ["handler"], name
        ret = functions[0].body[-1]
        assert isinstance(ret, ast.Return) and isinstance(ret.value, ast.Call), name
        call = ret.value
        assert ast.unparse(call.func) == "handle" and ast.unparse(call.args[1]) == "context", name
        expected = "event" if name in API_LAMBDAS else f"{WORKFLOW_MODELS[name].__name__}.parse(event)"
        assert ast.unparse(call.args[0]) == expected, name


@pytest.fixture()
def restore_logging(monkeypatch):
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    monkeypatch.delenv(CORRELATION_ENV, raising=False)
    monkeypatch.setenv("EDF_LOG_FORMAT", "text")
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_a_bad_event_is_the_error_invalid_event_for_step_functions(name, restore_logging):
    """Invoked the way the local Step Functions runtime invokes them, every Lambda fails alike."""
    invoker = LocalLambdaInvoker({name: HANDLERS[name]}, region="eu-central-1")
    with pytest.raises(TaskFailed) as info:
        invoker.invoke(name, {"execution_id": "exec-1", "unexpected": 1})
    assert info.value.error == "InvalidEvent"
    cause = json.loads(info.value.cause)
    assert cause["errorType"] == "InvalidEvent"
    assert ("unexpected: unknown key" if name not in API_LAMBDAS else "httpMethod and path") in cause["errorMessage"]


def test_serving_dependencies_are_typed():
    from edf.config import EDFConfig
    from edf.serving.api import Dependencies
    from edf.serving.tenants import CachedRegistry, TenantRegistry
    from edf.serving.zones import TopologyZones
    from edf.storage.base import ForecastStore

    hints = typing.get_type_hints(Dependencies)
    assert hints == {"cfg": EDFConfig, "store": ForecastStore, "registry": TenantRegistry | CachedRegistry,
                     "zones": TopologyZones | None}


def test_every_event_model_is_a_lambda_event():
    assert all(issubclass(m, LambdaEvent) for m in WORKFLOW_MODELS.values())
