"""Semantics of the local Step Functions interpreter on small hand-written definitions."""

from __future__ import annotations

import json

import pytest

from edf_local.errors import TaskFailed
from edf_local.stepfunctions import InvalidDefinition, LocalStepFunctions


class Recorder:
    """A task_dispatch that records calls and answers from a table (or raises TaskFailed)."""

    def __init__(self, answers=None, fail_times=0, error="Custom.Transient"):
        self.calls = []
        self.answers = answers or {}
        self.fail_times = fail_times
        self.error = error

    def __call__(self, resource, params, context):
        self.calls.append((resource, params, context))
        if len(self.calls) <= self.fail_times:
            raise TaskFailed(self.error, f"attempt {len(self.calls)} failed")
        answer = self.answers.get(resource, {"echo": params})
        if isinstance(answer, Exception):
            raise answer
        return answer(params) if callable(answer) else answer


def run(definition, input_=None, dispatch=None, **kw):
    sfn = LocalStepFunctions(dispatch or Recorder(), retry_time_scale=0.0, printer=None, **kw)
    return sfn.run(definition, input_ or {}, execution_name="exec-1", state_machine_name="TestMachine")


def task(resource="arn:aws:states:::lambda:invoke", **extra):
    return {"Type": "Task", "Resource": resource, "End": True, **extra}


def one(state):
    return {"StartAt": "S", "States": {"S": state}}


# ---------------------------------------------------------------- data flow
def test_result_path_merges_result_into_input():
    d = Recorder({"arn:r": {"v": 1}})
    exe = run(one(task("arn:r", ResultPath="$.out.deep")), {"keep": True}, d)
    assert exe.status == "SUCCEEDED"
    assert exe.output == {"keep": True, "out": {"deep": {"v": 1}}}


def test_result_path_null_discards_result_and_default_replaces():
    d = Recorder({"arn:r": {"v": 1}})
    assert run(one(task("arn:r", ResultPath=None)), {"keep": 1}, d).output == {"keep": 1}
    assert run(one(task("arn:r")), {"keep": 1}, d).output == {"v": 1}


def test_input_path_parameters_with_paths_and_nesting():
    d = Recorder()
    state = task("arn:r", InputPath="$.cfg", Parameters={
        "Static": "x", "Name.$": "$.name", "Nested": {"List.$": "$.items[1]", "All.$": "$.items[*]"},
        "Exec.$": "$$.Execution.Name"})
    exe = run(one(state), {"cfg": {"name": "n1", "items": [10, 20, 30]}}, d)
    assert d.calls[0][1] == {"Static": "x", "Name": "n1", "Nested": {"List": 20, "All": [10, 20, 30]}, "Exec": "exec-1"}
    assert exe.output == {"echo": d.calls[0][1]}


def test_result_selector_then_output_path():
    d = Recorder({"arn:r": {"Payload": {"a": 1, "b": 2}, "StatusCode": 200}})
    state = task("arn:r", ResultSelector={"a.$": "$.Payload.a", "code.$": "$.StatusCode"}, ResultPath="$.r",
                 OutputPath="$.r")
    assert run(one(state), {"in": 1}, d).output == {"a": 1, "code": 200}


def test_pass_result_and_parameters():
    d = {"StartAt": "P1", "States": {
        "P1": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.fixed", "Next": "P2"},
        "P2": {"Type": "Pass", "Parameters": {"copy.$": "$.fixed.x", "lit": [1, {"k.$": "$.fixed"}]}, "End": True}}}
    assert run(d, {"a": 0}).output == {"copy": 1, "lit": [1, {"k": {"x": 1}}]}


def test_missing_path_is_a_runtime_error_not_caught_by_states_all():
    state = task("arn:r", Parameters={"x.$": "$.missing"},
                 Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}])
    state.pop("End")
    state["Next"] = "Caught"
    d = {"StartAt": "S", "States": {"S": state, "Caught": {"Type": "Succeed"}}}
    exe = run(d, {"present": 1})
    assert exe.status == "FAILED"
    assert exe.error == "States.Runtime"
    assert "$.missing" in exe.cause


def test_context_object():
    d = Recorder()
    state = task("arn:r", Parameters={"id.$": "$$.Execution.Id", "sm.$": "$$.StateMachine.Name",
                                      "state.$": "$$.State.Name", "input.$": "$$.Execution.Input",
                                      "start.$": "$$.Execution.StartTime", "entered.$": "$$.State.EnteredTime"})
    run(one(state), {"k": "v"}, d)
    params = d.calls[0][1]
    assert params["id"].endswith(":execution:TestMachine:exec-1")
    assert params["sm"] == "TestMachine" and params["state"] == "S" and params["input"] == {"k": "v"}
    assert params["start"].endswith("Z") and params["entered"] >= params["start"]
    assert d.calls[0][2]["Execution"]["Name"] == "exec-1"  # dispatch receives the context too


def test_intrinsic_functions():
    params = {
        "fmt.$": "States.Format('job-{}-{}', $.name, $.n)",
        "esc.$": "States.Format('a \\{literal\\} {}', $.name)",
        "json.$": "States.StringToJson($.text)",
        "str.$": "States.JsonToString($.obj)",
        "arr.$": "States.Array($.n, 'two', States.MathAdd($.n, 2))",
        "add.$": "States.MathAdd($.n, -1)",
        "uuid.$": "States.UUID()",
        "len.$": "States.ArrayLength($.list)",
        "part.$": "States.ArrayPartition($.list, 2)",
        "has.$": "States.ArrayContains($.list, 3)",
        "split.$": "States.StringSplit('a,b;c', ',;')",
        "item.$": "States.ArrayGetItem($.list, 0)",
        "merged.$": "States.JsonMerge($.obj, States.StringToJson('{\"b\": 2}'), false)",
    }
    d = Recorder()
    run(one(task("arn:r", Parameters=params)),
        {"name": "x", "n": 5, "text": '{"a": [1]}', "obj": {"a": 1}, "list": [1, 2, 3]}, d)
    p = d.calls[0][1]
    assert p["fmt"] == "job-x-5"
    assert p["esc"] == "a {literal} x"
    assert p["json"] == {"a": [1]}
    assert p["str"] == '{"a":1}'
    assert p["arr"] == [5, "two", 7]
    assert p["add"] == 4
    assert len(p["uuid"]) == 36 and p["uuid"].count("-") == 4
    assert p["len"] == 3 and p["part"] == [[1, 2], [3]] and p["has"] is True
    assert p["split"] == ["a", "b", "c"] and p["item"] == 1
    assert p["merged"] == {"a": 1, "b": 2}


def test_intrinsic_argument_errors_are_runtime_errors():
    exe = run(one(task("arn:r", Parameters={"x.$": "States.MathAdd($.s, 1)"})), {"s": "text"})
    assert exe.status == "FAILED" and exe.error == "States.Runtime" and "MathAdd" in exe.cause


# ---------------------------------------------------------------- Choice
@pytest.mark.parametrize(("rule", "expected"), [
    ({"Variable": "$.s", "StringEquals": "abc"}, True),
    ({"Variable": "$.s", "StringEquals": "abd"}, False),
    ({"Variable": "$.s", "StringEqualsPath": "$.s2"}, True),
    ({"Variable": "$.s", "StringLessThan": "abd"}, True),
    ({"Variable": "$.s", "StringGreaterThanEquals": "abc"}, True),
    ({"Variable": "$.s", "StringMatches": "a*c"}, True),
    ({"Variable": "$.s", "StringMatches": "a\\*c"}, False),
    ({"Variable": "$.n", "NumericEquals": 3}, True),
    ({"Variable": "$.n", "NumericGreaterThan": 3}, False),
    ({"Variable": "$.n", "NumericLessThanEquals": 3.0}, True),
    ({"Variable": "$.n", "NumericLessThanPath": "$.big"}, True),
    ({"Variable": "$.s", "NumericEquals": 3}, False),  # type mismatch is false, not an error
    ({"Variable": "$.b", "BooleanEquals": True}, True),
    ({"Variable": "$.b", "BooleanEqualsPath": "$.f"}, False),
    ({"Variable": "$.t", "TimestampLessThan": "2026-01-02T00:00:00Z"}, True),
    ({"Variable": "$.t", "TimestampEquals": "2026-01-01T00:00:00+00:00"}, True),
    ({"Variable": "$.nothing", "IsNull": True}, True),
    ({"Variable": "$.absent", "IsPresent": False}, True),
    ({"Variable": "$.n", "IsPresent": True}, True),
    ({"Variable": "$.n", "IsNumeric": True}, True),
    ({"Variable": "$.s", "IsString": True}, True),
    ({"Variable": "$.b", "IsBoolean": True}, True),
    ({"Variable": "$.t", "IsTimestamp": True}, True),
    ({"And": [{"Variable": "$.n", "NumericEquals": 3}, {"Variable": "$.b", "BooleanEquals": True}]}, True),
    ({"Or": [{"Variable": "$.n", "NumericEquals": 4}, {"Variable": "$.s", "StringEquals": "x"}]}, False),
    ({"Not": {"Variable": "$.n", "NumericEquals": 4}}, True),
])
def test_choice_operators(rule, expected):
    d = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}], "Default": "No"},
        "Yes": {"Type": "Pass", "Result": "yes", "End": True},
        "No": {"Type": "Pass", "Result": "no", "End": True}}}
    doc = {"s": "abc", "s2": "abc", "n": 3, "big": 10, "b": True, "f": False, "t": "2026-01-01T00:00:00Z",
           "nothing": None}
    assert run(d, doc).output == ("yes" if expected else "no")


def test_choice_without_match_or_default_fails():
    d = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "E"}]},
        "E": {"Type": "Succeed"}}}
    exe = run(d, {"n": 2})
    assert exe.status == "FAILED" and exe.error == "States.NoChoiceMatched"


def test_choice_on_missing_variable_is_runtime_error():
    d = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.passed", "BooleanEquals": True, "Next": "E"}],
              "Default": "E"},
        "E": {"Type": "Succeed"}}}
    exe = run(d, {})
    assert exe.error == "States.Runtime"


# ---------------------------------------------------------------- Retry / Catch / Fail
def _retry_machine(retry, catch=None):
    state = {"Type": "Task", "Resource": "arn:r", "Retry": retry, "Next": "Done"}
    states = {"T": state, "Done": {"Type": "Succeed"}}
    if catch:
        state["Catch"] = catch
        states["Handle"] = {"Type": "Pass", "End": True}
    return {"StartAt": "T", "States": states}


def test_retry_until_success_counts_attempts():
    d = Recorder(fail_times=2)
    exe = run(_retry_machine([{"ErrorEquals": ["Custom.Transient"], "MaxAttempts": 3}]), {}, d)
    assert exe.status == "SUCCEEDED"
    assert len(d.calls) == 3
    assert [e["attempt"] for e in exe.events("StateRetry")] == [1, 2]
    assert d.calls[2][2]["State"]["RetryCount"] == 2


def test_retry_exhausted_then_catch_routes_with_error_info():
    d = Recorder(fail_times=10)
    machine = _retry_machine([{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                             [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handle"}])
    exe = run(machine, {"orig": 1}, d)
    assert len(d.calls) == 3  # first try + 2 retries
    assert exe.status == "SUCCEEDED"
    assert exe.output == {"orig": 1, "error": {"Error": "Custom.Transient", "Cause": "attempt 3 failed"}}
    assert exe.states_entered() == ["T", "Handle"]


def test_retry_backoff_delays_and_max_delay():
    d = Recorder(fail_times=3)
    machine = _retry_machine([{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3, "IntervalSeconds": 2,
                               "BackoffRate": 3.0, "MaxDelaySeconds": 10}])
    exe = run(machine, {}, d)
    assert [e["delay_seconds"] for e in exe.events("StateRetry")] == [2.0, 6.0, 10.0]


def test_retry_wait_is_scaled():
    import time

    d = Recorder(fail_times=1)
    sfn = LocalStepFunctions(d, retry_time_scale=0.01, printer=None)
    t0 = time.perf_counter()
    sfn.run(_retry_machine([{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 20}]), {})
    assert 0.15 <= time.perf_counter() - t0 < 5  # 20 s x 0.01 = 0.2 s


def test_max_attempts_zero_and_non_matching_retrier():
    d = Recorder(fail_times=5, error="Other.Error")
    exe = run(_retry_machine([{"ErrorEquals": ["Custom.Transient"], "MaxAttempts": 5},
                              {"ErrorEquals": ["Other.Error"], "MaxAttempts": 0}]), {}, d)
    assert len(d.calls) == 1 and exe.status == "FAILED" and exe.error == "Other.Error"


def test_catch_default_result_path_replaces_input_and_first_match_wins():
    d = Recorder(fail_times=1, error="Lambda.ServiceException")
    machine = _retry_machine([], [{"ErrorEquals": ["Lambda.ServiceException"], "Next": "Handle"},
                                  {"ErrorEquals": ["States.ALL"], "Next": "Done"}])
    exe = run(machine, {"orig": 1}, d)
    assert exe.output == {"Error": "Lambda.ServiceException", "Cause": "attempt 1 failed"}
    assert exe.states_entered()[-1] == "Handle"


def test_fail_state_with_static_and_path_cause():
    d = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "EvaluationFailed", "CausePath": "$.why"}}}
    exe = run(d, {"why": "MAPE 40% > 25%"})
    assert (exe.status, exe.error, exe.cause) == ("FAILED", "EvaluationFailed", "MAPE 40% > 25%")
    d2 = {"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e",
                                           "CausePath": "States.Format('run {} failed', $.id)"}}}
    exe2 = run(d2, {"e": "X.Y", "id": 7})
    assert (exe2.error, exe2.cause) == ("X.Y", "run 7 failed")


def test_unexpected_dispatch_exception_becomes_task_failed():
    d = Recorder({"arn:r": RuntimeError("launcher bug")})
    exe = run(one(task("arn:r")), {}, d)
    assert exe.error == "States.TaskFailed" and "RuntimeError: launcher bug" in exe.cause


# ---------------------------------------------------------------- Parallel, Map, Wait, history
def test_parallel_and_map():
    d = Recorder({"arn:r": lambda p: {"sq": p["v"] * p["v"]}})
    machine = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "ResultPath": "$.par", "Next": "M", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "InputPath": "$.x", "End": True}}}]},
        "M": {"Type": "Map", "ItemsPath": "$.items", "ItemSelector": {"v.$": "$$.Map.Item.Value",
                                                                      "i.$": "$$.Map.Item.Index"},
              "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:r",
                                                                "End": True}}},
              "ResultPath": "$.squares", "End": True}}}
    exe = run(machine, {"x": "ex", "items": [2, 3]}, d)
    assert exe.output["par"] == [1, "ex"]
    assert exe.output["squares"] == [{"sq": 4}, {"sq": 9}]
    assert [c[1]["i"] for c in d.calls] == [0, 1]


def test_parallel_branch_failure_is_catchable():
    machine = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "Ok", "Catch": [{"ErrorEquals": ["Branch.Bad"], "Next": "Caught"}],
              "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Branch.Bad"}}}]},
        "Ok": {"Type": "Succeed"}, "Caught": {"Type": "Pass", "Result": "caught", "End": True}}}
    assert run(machine, {}).output == "caught"


def test_wait_state_scaled_and_history_durations():
    machine = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "Next": "T"},
                                          "T": task("arn:r")}}
    sfn = LocalStepFunctions(Recorder(), retry_time_scale=0.0, wait_time_scale=0.01, printer=None)
    exe = sfn.run(machine, {"a": 1}, execution_name="e", state_machine_name="m")
    assert exe.durations["W"] >= 0.09
    types = [e["type"] for e in exe.history]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert "WaitStateEntered" in types and "TaskScheduled" in types and "TaskSucceeded" in types
    assert all("timestamp" in e for e in exe.history)
    json.dumps([{k: v for k, v in e.items() if k != "timestamp"} for e in exe.history])


def test_printer_reports_each_state_enter_and_exit():
    lines = []
    sfn = LocalStepFunctions(Recorder(), retry_time_scale=0.0, printer=lines.append)
    sfn.run({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}, {})
    joined = "\n".join(lines)
    assert "> A (Pass)" in joined and "< A" in joined and "> B (Succeed)" in joined and "SUCCEEDED" in joined


def test_invalid_definition_is_rejected_before_running():
    d = Recorder()
    with pytest.raises(InvalidDefinition, match="Nowhere"):
        run({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:r", "Next": "Nowhere"}}}, {}, d)
    assert d.calls == []


def test_printed_failure_line_shows_the_failure_reason_not_the_whole_describe_json():
    lines = []
    cause = json.dumps({"TrainingJobName": "t", "HyperParameters": {"x": "y" * 500},
                        "FailureReason": "AlgorithmError: MAPE too high"})
    d = Recorder({"arn:r": TaskFailed("States.TaskFailed", cause)})
    sfn = LocalStepFunctions(d, retry_time_scale=0.0, printer=lines.append)
    exe = sfn.run(one(task("arn:r")), {})
    assert exe.cause == cause  # the execution keeps the full cause
    assert any("AlgorithmError: MAPE too high [FailureReason]" in line for line in lines)
    assert not any("yyyy" in line for line in lines)


def test_execution_to_dict_is_json():
    exe = run({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"r": 1}, "End": True}}}, {"i": 1})
    doc = json.loads(json.dumps(exe.to_dict()))
    assert doc["status"] == "SUCCEEDED" and doc["output"] == {"r": 1} and doc["input"] == {"i": 1}
    assert doc["states"][0]["state"] == "A" and doc["history"][0]["type"] == "ExecutionStarted"
    assert doc["startDate"].endswith("Z")


# ------------------------------------------------------------------ timeouts (issue 14, item 11)
class Slow:
    """A dispatcher whose calls take ``seconds`` (a hung Lambda or a .sync poll that never ends)."""

    def __init__(self, seconds: float, fast_after: int | None = None):
        self.seconds, self.fast_after, self.calls = seconds, fast_after, 0

    def __call__(self, resource, params, context):
        import time

        self.calls += 1
        if self.fast_after is None or self.calls <= self.fast_after:
            time.sleep(self.seconds)
        return {"done": self.calls}


def test_task_timeout_fails_the_attempt_with_states_timeout_and_is_caught_by_name():
    definition = {"StartAt": "Hang", "States": {
        "Hang": task(TimeoutSeconds=5, End=False, Next="Done",
                     Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "WrongHandler"},
                            {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "TimedOut"}]),
        "Done": {"Type": "Succeed"}, "WrongHandler": {"Type": "Fail", "Error": "Wrong"},
        "TimedOut": {"Type": "Pass", "End": True}}}
    exe = run(definition, dispatch=Slow(2.0), timeout_scale=0.02)  # 5 s -> 0.1 s
    assert exe.status == "SUCCEEDED", (exe.error, exe.cause)
    assert exe.output["error"]["Error"] == "States.Timeout" and "TimeoutSeconds" in exe.output["error"]["Cause"]
    assert exe.states_entered() == ["Hang", "TimedOut"]
    assert exe.events("TaskTimedOut")


def test_task_timeout_is_retried_by_a_states_timeout_retrier():
    definition = {"StartAt": "Hang", "States": {"Hang": task(
        TimeoutSeconds=5, Retry=[{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 2, "IntervalSeconds": 1}])}}
    dispatch = Slow(2.0, fast_after=1)  # the first attempt hangs, the retry answers at once
    exe = run(definition, dispatch=dispatch, timeout_scale=0.02)
    assert exe.status == "SUCCEEDED" and exe.output == {"done": 2}
    assert [e["error"] for e in exe.events("StateRetry")] == ["States.Timeout"]


def test_uncaught_task_timeout_fails_the_execution():
    exe = run({"StartAt": "Hang", "States": {"Hang": task(TimeoutSeconds=5)}}, dispatch=Slow(2.0), timeout_scale=0.02)
    assert exe.status == "FAILED" and exe.error == "States.Timeout"


def test_task_within_its_timeout_succeeds():
    exe = run({"StartAt": "T", "States": {"T": task(TimeoutSeconds=60)}}, dispatch=Slow(0.01), timeout_scale=1.0)
    assert exe.status == "SUCCEEDED" and exe.output == {"done": 1}


def test_timeout_seconds_path_is_read_from_the_input():
    exe = run({"StartAt": "Hang", "States": {"Hang": task(TimeoutSecondsPath="$.limit")}}, {"limit": 5},
              dispatch=Slow(2.0), timeout_scale=0.02)
    assert exe.error == "States.Timeout"


def test_execution_timeout_ends_as_timed_out_and_no_catch_sees_it():
    definition = {"StartAt": "Hang", "TimeoutSeconds": 5, "States": {
        "Hang": task(End=False, Next="Done", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Handler"}]),
        "Done": {"Type": "Succeed"}, "Handler": {"Type": "Pass", "End": True}}}
    exe = run(definition, dispatch=Slow(2.0), timeout_scale=0.02)
    assert exe.status == "TIMED_OUT" and exe.error == "States.Timeout"
    assert "Handler" not in exe.states_entered()
    assert exe.events("ExecutionTimedOut")


def test_execution_timeout_also_bounds_wait_states():
    definition = {"StartAt": "W", "TimeoutSeconds": 5, "States": {
        "W": {"Type": "Wait", "Seconds": 300, "Next": "Done"}, "Done": {"Type": "Succeed"}}}
    exe = run(definition, wait_time_scale=1.0, timeout_scale=0.02)
    assert exe.status == "TIMED_OUT" and exe.duration_s < 5
