"""The local runtime fails where AWS fails: each service limit, just under (passes) and just over (fails).

Step Functions payloads and history, SageMaker request fields and instance memory, Lambda payloads,
memory and timeout. No emulator is needed: every check runs before (or instead of) any AWS call.
"""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from edf_local import limits
from edf_local.errors import TaskFailed
from edf_local.lambdas import LocalLambdaInvoker
from edf_local.sagemaker_runner import LocalSageMakerRunner
from edf_local.stepfunctions import LocalStepFunctions

KB256 = limits.SFN_PAYLOAD_BYTES


def _blob(total_bytes: int) -> dict:
    """A JSON object whose compact encoding is exactly ``total_bytes`` long."""
    overhead = len(json.dumps({"x": ""}, separators=(",", ":")))
    return {"x": "a" * (total_bytes - overhead)}


def _sfn(dispatch=None) -> LocalStepFunctions:
    return LocalStepFunctions(dispatch or (lambda r, p, c: {}), printer=None, retry_time_scale=0)


def _task_machine(result_catch: bool = True) -> dict:
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
            "End": True}
    if result_catch:
        task["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
    return {"StartAt": "T", "States": {"T": task, "Caught": {"Type": "Succeed"}}}


# ------------------------------------------------------------------ Step Functions
def test_payload_size_is_measured_as_compact_utf8_json():
    assert limits.payload_bytes(_blob(1000)) == 1000
    assert limits.payload_bytes({"é": "€"}) == len('{"é":"€"}'.encode())


def test_state_output_at_the_limit_passes_and_one_byte_over_fails_uncaught():
    for size, ok in ((KB256, True), (KB256 + 1, False)):
        exe = _sfn(lambda r, p, c, n=size: _blob(n)).run(_task_machine())
        if ok:
            assert exe.status == "SUCCEEDED" and exe.max_payload_bytes == KB256
        else:
            # States.ALL never catches States.DataLimitExceeded: the execution fails, "Caught" is never entered
            assert exe.status == "FAILED" and exe.error == "States.DataLimitExceeded"
            assert "Caught" not in exe.states_entered()


def test_task_parameters_over_the_limit_fail_before_the_task_runs():
    called = []
    machine = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
        "Parameters": {"FunctionName": "f", "Payload.$": "$.big"}}}}
    sfn = _sfn(lambda r, p, c: called.append(1) or {})
    # the input itself must fit; Parameters duplicates it into an over-size payload
    exe = sfn.run(machine, {"big": _blob(KB256 // 2 + 100)["x"], "copy": _blob(KB256 // 2 - 200)["x"]})
    assert exe.status == "SUCCEEDED" and called == [1]
    machine["States"]["T"]["Parameters"]["Again.$"] = "$.big"
    exe = _sfn(lambda r, p, c: called.append(2) or {}).run(machine, {"big": _blob(KB256 // 2 + 100)["x"]})
    assert exe.error == "States.DataLimitExceeded" and 2 not in called


def test_execution_input_over_the_limit_is_refused():
    with pytest.raises(TaskFailed, match="DataLimitExceeded"):
        _sfn().run({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, _blob(KB256 + 1))


def test_pass_state_output_over_the_limit_fails():
    machine = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": _blob(KB256 + 1), "End": True}}}
    exe = _sfn().run(machine)
    assert exe.error == "States.DataLimitExceeded"


def test_history_over_25000_events_fails_the_execution():
    """A loop of 12,600 iterations writes more than 25,000 events; 12,000 stay under."""
    machine = {"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Result": {"n": 0}, "Next": "Loop"},
        "Loop": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)", "limit.$": "$$.Execution.Input.limit"},
                 "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThanPath": "$$.Execution.Input.limit",
                                                 "Next": "Loop"}], "Default": "Done"},
        "Done": {"Type": "Succeed"}}}
    assert _sfn().run(machine, {"limit": 6000}).status == "SUCCEEDED"  # ~24,000 events
    exe = _sfn().run(machine, {"limit": 6300})
    assert exe.status == "FAILED" and "25000 events" in exe.cause


# ------------------------------------------------------------------ SageMaker
def _processing_request(**overrides) -> dict:
    request = {"ProcessingJobName": "edf-limit-test", "RoleArn": "arn:aws:iam::123456789012:role/r",
               "AppSpecification": {"ImageUri": "local/image:1", "ContainerEntrypoint": [sys.executable, "-c", "pass"]},
               "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                         "VolumeSizeInGB": 1}}}
    request.update(overrides)
    return request


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    return LocalSageMakerRunner(workdir=tmp_path, printer=None)


@pytest.mark.parametrize(("field", "ok", "bad"), [
    ("name", "a" * 63, "a" * 64),
    ("argument", "a" * 256, "a" * 257),
    ("arguments", ["x"] * 100, ["x"] * 101),
    ("environment", {f"K{i}": "v" for i in range(48)}, {f"K{i}": "v" for i in range(49)}),
    ("environment_value", {"K": "v" * 256}, {"K": "v" * 257}),
])
def test_processing_job_request_limits(runner, field, ok, bad):
    def request(value, name):
        app = {"ImageUri": "local/image:1", "ContainerEntrypoint": [sys.executable, "-c", "pass"]}
        req = _processing_request(ProcessingJobName=name, AppSpecification=app)
        if field == "name":
            req["ProcessingJobName"] = value
        elif field == "argument":
            app["ContainerArguments"] = [value]
        elif field == "arguments":
            app["ContainerArguments"] = value
        else:
            req["Environment"] = value
        return req

    described = runner.create_processing_job(request(ok, "ok-job"))
    assert described["ProcessingJobStatus"] == "Completed"
    with pytest.raises(TaskFailed) as err:
        runner.create_processing_job(request(bad, "bad-job"))
    assert err.value.error == "SageMaker.AmazonSageMakerException" and "ValidationException" in err.value.cause


def test_hyperparameter_values_over_2500_characters_are_refused():
    limits.check_hyperparameters({"overrides": "x" * 2500})
    with pytest.raises(TaskFailed, match="2500"):
        limits.check_hyperparameters({"overrides": "x" * 2501})
    with pytest.raises(TaskFailed, match="at most 100"):
        limits.check_hyperparameters({f"k{i}": "v" for i in range(101)})


def test_a_job_over_its_instance_memory_is_killed(runner, monkeypatch):
    from edf_local import memory

    monkeypatch.setitem(memory.INSTANCE_MEMORY_GIB, "ml.test.tiny", 0.15)  # ~150 MiB
    grab = "import time; b = bytearray(400 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(5)"
    request = _processing_request(
        ProcessingJobName="edf-oom", ProcessingResources={"ClusterConfig": {
            "InstanceCount": 1, "InstanceType": "ml.test.tiny", "VolumeSizeInGB": 1}},
        AppSpecification={"ImageUri": "local/image:1", "ContainerEntrypoint": [sys.executable, "-c", grab]})
    with pytest.raises(TaskFailed) as err:
        runner.create_processing_job(request)
    assert "OutOfMemoryError" in err.value.cause and "ml.test.tiny" in err.value.cause
    small = _processing_request(ProcessingJobName="edf-fits", ProcessingResources={"ClusterConfig": {
        "InstanceCount": 1, "InstanceType": "ml.test.tiny", "VolumeSizeInGB": 1}})
    done = runner.create_processing_job(small)
    assert done["ProcessingJobStatus"] == "Completed" and 0 < done["LocalPeakRssMb"] < 150


# ------------------------------------------------------------------ Lambda
@pytest.fixture
def handlers(tmp_path):
    path = tmp_path / "handler.py"
    path.write_text(textwrap.dedent("""
        import time

        def handler(event, context):
            kind = event.get("kind")
            if kind == "big":
                return {"x": "a" * event["bytes"]}
            if kind == "grab":
                block = bytearray(event["mb"] * 2**20)
                block[::4096] = b"x" * len(block[::4096])
                time.sleep(1)
                return {"held": len(block)}
            if kind == "sleep":
                time.sleep(event["seconds"])
            if kind == "spin":
                end = time.process_time() + event["cpu_seconds"]
                while time.process_time() < end:
                    pass
            return {"ok": True, "memory": context.memory_limit_in_mb}
    """))
    return {"fn": path}


def _invoker(handlers, memory_mb=256, timeout_s=5) -> LocalLambdaInvoker:
    return LocalLambdaInvoker(handlers, function_limits={"fn": (memory_mb, timeout_s)}, isolation="process")


def test_lambda_request_over_6mb_is_refused(handlers):
    inv = _invoker(handlers)
    overhead = limits.payload_bytes({"kind": "ok", "pad": ""})
    assert inv.invoke("fn", {"kind": "ok", "pad": "a" * (limits.LAMBDA_PAYLOAD_BYTES - overhead)})["ok"]
    with pytest.raises(TaskFailed) as err:
        inv.invoke("fn", {"kind": "ok", "pad": "a" * (limits.LAMBDA_PAYLOAD_BYTES - overhead + 1)})
    assert err.value.error == "Lambda.RequestTooLargeException"


def test_lambda_response_over_6mb_fails(handlers):
    inv = _invoker(handlers)
    overhead = limits.payload_bytes({"x": ""})
    assert len(inv.invoke("fn", {"kind": "big", "bytes": limits.LAMBDA_PAYLOAD_BYTES - overhead})["x"]) > 0
    with pytest.raises(TaskFailed) as err:
        inv.invoke("fn", {"kind": "big", "bytes": limits.LAMBDA_PAYLOAD_BYTES - overhead + 1})
    assert err.value.error == "Function.ResponseSizeTooLarge"


def test_lambda_over_its_configured_memory_fails_out_of_memory(handlers):
    inv = _invoker(handlers, memory_mb=256, timeout_s=300)  # a loaded machine touches pages slowly
    assert inv.invoke("fn", {"kind": "grab", "mb": 40})["held"] == 40 * 2**20
    assert 0 < inv.invocations[-1]["peak_rss_mb"] < 256
    with pytest.raises(TaskFailed) as err:
        inv.invoke("fn", {"kind": "grab", "mb": 400})
    assert err.value.error == "Runtime.OutOfMemory"


def test_lambda_over_its_timeout_fails_timed_out(handlers):
    inv = _invoker(handlers, timeout_s=2)
    assert inv.invoke("fn", {"kind": "sleep", "seconds": 0.5})["memory"] == 256
    with pytest.raises(TaskFailed) as err:
        inv.invoke("fn", {"kind": "sleep", "seconds": 5})
    assert err.value.error == "Sandbox.Timedout"


def test_cpu_bound_work_is_held_to_the_cpu_share_of_the_configured_memory(handlers, monkeypatch):
    """At 128 MB Lambda gives 128/1769 of a vCPU: 1 CPU-second here is at least 13.8 s there.

    CPU time does not depend on how loaded this machine is, so the wall-clock timeout is stretched
    out of the way and the CPU rule alone decides.
    """
    from edf_local.lambdas import lambda_seconds

    monkeypatch.setenv("EDF_LOCAL_TIMEOUT_SCALE", "1000")
    assert lambda_seconds(1.0, 128) == pytest.approx(1769 / 128) and lambda_seconds(1.0, 3008) == 1.0
    full = _invoker(handlers, memory_mb=1769, timeout_s=60)
    assert full.invoke("fn", {"kind": "spin", "cpu_seconds": 1.0})["ok"]
    assert 1.0 <= full.invocations[-1]["lambda_seconds_at_least"] < 30
    small = _invoker(handlers, memory_mb=128, timeout_s=10)
    with pytest.raises(TaskFailed) as err:
        small.invoke("fn", {"kind": "spin", "cpu_seconds": 1.0})
    assert err.value.error == "Sandbox.Timedout" and "CPU-seconds" in err.value.cause
