"""The in-process Lambda invoker: context object, environment and Step Functions error mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edf_local.dispatch import make_dispatch, snake_case
from edf_local.errors import TaskFailed
from edf_local.lambdas import LocalLambdaInvoker, function_name_from
from edf_local.stepfunctions import LocalStepFunctions

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "local_runtime" / "lambdas"


@pytest.fixture()
def invoker():
    return LocalLambdaInvoker({"echo": FIX / "echo" / "handler.py", "flaky": FIX / "flaky" / "handler.py",
                               "missing": FIX / "nope" / "handler.py"},
                              environment={"echo": {"EDF_TEST_LAMBDA_ENV": "from-config"}}, region="eu-central-1")


def test_invoke_by_name_and_arn_with_realistic_context(invoker, monkeypatch):
    monkeypatch.delenv("EDF_TEST_LAMBDA_ENV", raising=False)
    out = invoker.invoke("arn:aws:lambda:eu-central-1:123456789012:function:echo", {"a": 1})
    assert out["event"] == {"a": 1}
    assert out["function_name"] == "echo"
    assert out["arn"] == "arn:aws:lambda:eu-central-1:123456789012:function:echo"
    assert out["log_group"] == "/aws/lambda/echo"
    assert 0 < out["remaining_ms"] <= 900_000 and out["memory"] == 512 and len(out["request_id"]) == 36
    assert out["env_value"] == "from-config"
    import os

    assert "EDF_TEST_LAMBDA_ENV" not in os.environ  # restored after the call
    assert invoker.invoke("echo:$LATEST", {})["function_name"] == "echo"


def test_handler_exception_maps_to_error_name_and_lambda_cause(invoker):
    with pytest.raises(TaskFailed) as info:
        invoker.invoke("echo", {"raise": "EDFBuildingDemandForecaster-dev"})
    assert info.value.error == "ModelNotApprovedError"
    cause = json.loads(info.value.cause)
    assert cause["errorType"] == "ModelNotApprovedError"
    assert "EDFBuildingDemandForecaster-dev" in cause["errorMessage"]
    assert cause["stackTrace"] and "requestId" in cause


@pytest.mark.parametrize(("name", "payload", "error"), [
    ("unknown", {}, "Lambda.ResourceNotFoundException"),
    ("missing", {}, "Runtime.ImportModuleError"),
    ("echo", {"bad_result": True}, "Runtime.MarshalError"),
    ("arn:aws:sns:x:1:topic", {}, "Lambda.InvalidParameterValueException"),
])
def test_platform_errors(invoker, name, payload, error):
    with pytest.raises(TaskFailed) as info:
        invoker.invoke(name, payload)
    assert info.value.error == error


def test_function_name_from():
    assert function_name_from("arn:aws:lambda:r:1:function:f:prod") == "f"
    assert function_name_from("f") == "f"


def test_lambda_invoke_integration_shape_and_retry_on_custom_error(invoker):
    definition = {"StartAt": "L", "States": {"L": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "flaky", "Payload": {"fail_times.$": "$.n"}},
        "Retry": [{"ErrorEquals": ["TransientError"], "MaxAttempts": 3, "IntervalSeconds": 1}],
        "End": True}}}
    sfn = LocalStepFunctions(make_dispatch(None, invoker), retry_time_scale=0.0, printer=None)
    exe = sfn.run(definition, {"n": 2})
    assert exe.status == "SUCCEEDED", exe.cause
    assert exe.output["StatusCode"] == 200
    assert exe.output["Payload"]["calls"] >= 3
    assert len(exe.events("StateRetry")) == 2


def test_dispatch_rejects_unknown_resources_and_missing_components():
    dispatch = make_dispatch(None, None)
    with pytest.raises(TaskFailed, match="no local implementation"):
        dispatch("arn:aws:states:::batch:submitJob.sync", {}, {})
    with pytest.raises(TaskFailed, match="no local SageMaker job runner"):
        dispatch("arn:aws:states:::sagemaker:createTrainingJob.sync", {}, {})


def test_snake_case():
    assert snake_case("createModelPackage") == "create_model_package"
    assert snake_case("ListModelPackages") == "list_model_packages"
    assert snake_case("describeDBInstances") == "describe_db_instances"
