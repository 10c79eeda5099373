"""A local interpreter for the Amazon States Language, so the deployed ASL runs unchanged on a laptop.

AWS offers no supported way to run a state machine with SageMaker ``.sync`` tasks offline (moto's
interpreter rejects them; Step Functions Local is unsupported). This interpreter implements the
parts of the language our definitions use, with the service's semantics:

* states: Task, Choice, Pass, Wait, Succeed, Fail, Parallel, Map (iterations run sequentially);
* data flow: InputPath -> Parameters -> (task) -> ResultSelector -> ResultPath -> OutputPath, with
  ``"key.$"`` paths, intrinsic functions (see :mod:`edf_local.intrinsics`) and the context object
  (``$$.Execution.*``, ``$$.StateMachine.*``, ``$$.State.*``, ``$$.Map.Item.*``);
* errors: Retry (ErrorEquals incl. ``States.ALL``/``States.TaskFailed``, IntervalSeconds x
  BackoffRate^n capped by MaxDelaySeconds, MaxAttempts) and Catch (ResultPath with {Error, Cause});
  ``States.Runtime`` (bad paths, no Choice matched is ``States.NoChoiceMatched``) is never retried
  or caught, as in AWS;
* timeouts: a Task's ``TimeoutSeconds``/``TimeoutSecondsPath`` fails the attempt with
  ``States.Timeout`` (retriable and catchable by name or ``States.ALL``, never by
  ``States.TaskFailed``); the machine's top-level ``TimeoutSeconds`` ends the execution as
  ``TIMED_OUT`` with ``States.Timeout``, which no Catch sees. ``timeout_scale`` multiplies both
  (1.0 = AWS seconds). A timed-out task's work cannot be killed in-process: it is abandoned on
  its daemon thread, as Step Functions abandons (but does not stop) an integration call.

AWS's limits are enforced (:mod:`edf_local.limits`): every state input and output, task parameters and
task result at most 256 KiB (``States.DataLimitExceeded``, which ``States.ALL`` does not catch), and at
most 25,000 history events per execution.

Not implemented (rejected by :func:`edf_local.asl.validate_asl` or ignored as noted): JSONata,
``.waitForTaskToken`` callbacks, ``HeartbeatSeconds`` (not enforced), distributed Map
(ItemReader/ResultWriter).

Tasks are executed by a ``task_dispatch(resource, parameters, context) -> result`` callable (see
:mod:`edf_local.dispatch`); it raises :class:`TaskFailed` to fail the task.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from edf_local import intrinsics, jsonpath
from edf_local.choice import COMPARATORS, COMPARISON_OPERATORS, TYPE_TESTS, parse_ts, string_matches
from edf_local.errors import ASLRuntimeError, TaskFailed
from edf_local.limits import SFN_DATA_LIMIT_ERROR, SFN_HISTORY_EVENTS, check_state_payload

__all__ = ["Execution", "InvalidDefinition", "LocalStepFunctions", "TaskFailed"]

TaskDispatch = Callable[[str, Any, dict], Any]
DEFAULT_ACCOUNT = "123456789012"  # moto's default account, so ARNs match what the emulator issues


class InvalidDefinition(ValueError):
    """The definition would be rejected by CreateStateMachine; the message lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid state machine definition:\n  - " + "\n  - ".join(problems))
        self.problems = problems


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


@dataclass
class Execution:
    """The record of one run: final status, output or error, and the full event history."""

    name: str
    execution_arn: str
    state_machine_name: str
    input: Any
    start_time: datetime
    status: str = "RUNNING"  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT
    output: Any = None
    error: str | None = None
    cause: str | None = None
    end_time: datetime | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    state_durations: list[tuple[str, float]] = field(default_factory=list)
    max_payload_bytes: int = 0  # the largest state input/output/task payload seen (AWS caps it at 256 KiB)
    max_payload_state: str | None = None

    def note_payload(self, state: str, size: int) -> None:
        if size > self.max_payload_bytes:
            self.max_payload_bytes, self.max_payload_state = size, state

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def duration_s(self) -> float:
        end = self.end_time or _now()
        return (end - self.start_time).total_seconds()

    @property
    def durations(self) -> dict[str, float]:
        """Total seconds spent per state name (a state visited twice is summed)."""
        out: dict[str, float] = {}
        for name, secs in self.state_durations:
            out[name] = out.get(name, 0.0) + secs
        return out

    def states_entered(self) -> list[str]:
        """State names in the order they were entered (nested branch states included)."""
        return [e["state"] for e in self.history if e["type"].endswith("StateEntered")]

    def events(self, type_: str) -> list[dict[str, Any]]:
        """History events of one type, e.g. ``"TaskFailed"``."""
        return [e for e in self.history if e["type"] == type_]

    def last_state(self) -> str | None:
        entered = self.states_entered()
        return entered[-1] if entered else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able record (DescribeExecution-like fields plus history and per-state seconds)."""
        def ts(value: datetime | None) -> str | None:
            return _iso(value) if value else None

        return {
            "name": self.name, "executionArn": self.execution_arn, "stateMachineName": self.state_machine_name,
            "status": self.status, "startDate": ts(self.start_time), "stopDate": ts(self.end_time),
            "input": self.input, "output": self.output, "error": self.error, "cause": self.cause,
            "seconds": round(self.duration_s, 3),
            "states": [{"state": n, "seconds": round(sec, 3)} for n, sec in self.state_durations],
            "history": [{**e, "timestamp": ts(e["timestamp"])} for e in self.history],
        }


def error_matches(names: list[str], error: str) -> bool:
    """True if a Retry/Catch ``ErrorEquals`` list covers ``error`` (AWS wildcard rules)."""
    if error == "States.Runtime":
        return False
    if error == SFN_DATA_LIMIT_ERROR:  # terminal: only an explicit name matches, never a wildcard
        return error in names
    for name in names:
        if name == error or name == "States.ALL":
            return True
        if name == "States.TaskFailed" and error != "States.Timeout":
            return True
    return False


class LocalStepFunctions:
    """Runs ASL definitions in-process with a pluggable task dispatcher.

    ``retry_time_scale`` multiplies every Retry interval (0.01 turns AWS's seconds into
    hundredths); ``wait_time_scale`` does the same for Wait states (defaults to the retry scale).
    ``printer`` receives one line per state entered and left (``None`` to stay quiet).
    """

    def __init__(
        self,
        task_dispatch: TaskDispatch,
        retry_time_scale: float = 0.01,
        printer: Callable[[str], Any] | None = print,
        wait_time_scale: float | None = None,
        region: str | None = None,
        account: str = DEFAULT_ACCOUNT,
        max_transitions: int = SFN_HISTORY_EVENTS,
        validate: bool = True,
        timeout_scale: float = 1.0,
    ) -> None:
        self.task_dispatch = task_dispatch
        self.retry_time_scale = retry_time_scale
        self.wait_time_scale = retry_time_scale if wait_time_scale is None else wait_time_scale
        self.printer = printer
        self.region = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.account = account
        self.max_transitions = max_transitions
        self.validate = validate
        self.timeout_scale = timeout_scale
        self._execution: Execution | None = None
        self._transitions = 0
        self._deadline: float | None = None  # time.monotonic() at which the execution times out

    # ------------------------------------------------------------------ public API
    def run(
        self,
        definition: dict[str, Any] | str,
        input: Any = None,  # noqa: A002 - mirrors StartExecution's "input"
        execution_name: str | None = None,
        state_machine_name: str = "LocalStateMachine",
        role_arn: str | None = None,
    ) -> Execution:
        """Execute ``definition`` on ``input`` to completion and return the :class:`Execution`.

        Workflow failures (a Fail state, an uncaught task error) give ``status == "FAILED"`` with
        ``error``/``cause``; an invalid definition raises :class:`InvalidDefinition` instead, as
        CreateStateMachine would refuse it.
        """
        if isinstance(definition, str):
            definition = json.loads(definition)
        if self.validate:
            from edf_local.asl import validate_asl

            problems = validate_asl(definition, for_local=True)
            if problems:
                raise InvalidDefinition(problems)
        input = {} if input is None else copy.deepcopy(input)
        json.dumps(input)  # StartExecution takes JSON; fail early on anything else
        check_state_payload(input, "execution input")  # StartExecution refuses it before anything runs
        start = _now()
        name = execution_name or f"local-{start.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        sm_arn = f"arn:aws:states:{self.region}:{self.account}:stateMachine:{state_machine_name}"
        exe = Execution(
            name=name,
            execution_arn=f"arn:aws:states:{self.region}:{self.account}:execution:{state_machine_name}:{name}",
            state_machine_name=state_machine_name,
            input=input,
            start_time=start,
        )
        self._execution = exe
        self._transitions = 0
        limit = definition.get("TimeoutSeconds")
        self._deadline = None if limit is None else time.monotonic() + float(limit) * self.timeout_scale
        context = {
            "Execution": {"Id": exe.execution_arn, "Name": name, "StartTime": _iso(start), "Input": input,
                          "RoleArn": role_arn or f"arn:aws:iam::{self.account}:role/local-sfn"},
            "StateMachine": {"Id": sm_arn, "Name": state_machine_name},
            "State": {},
            "Task": {},
        }
        self._event("ExecutionStarted", None, input=input)
        self._print(f"[sfn] execution {name} of {state_machine_name} started")
        try:
            exe.output = self._run_machine(definition, input, context, depth=0)
            exe.status = "SUCCEEDED"
            self._event("ExecutionSucceeded", None, output=exe.output)
        except _ExecutionTimedOut as exc:
            exe.status, exe.error, exe.cause = "TIMED_OUT", exc.error, exc.cause
            self._event("ExecutionTimedOut", None, error=exc.error, cause=exc.cause)
        except TaskFailed as exc:
            exe.status, exe.error, exe.cause = "FAILED", exc.error, exc.cause
            self._event("ExecutionFailed", None, error=exc.error, cause=exc.cause)
        exe.end_time = _now()
        summary = f"[sfn] execution {name} {exe.status} in {exe.duration_s:.2f}s"
        if exe.error:
            summary += f" ({exe.error}: {_short(exe.cause)})"
        self._print(summary)
        return exe

    # ------------------------------------------------------------------ machinery
    def _print(self, line: str) -> None:
        if self.printer is not None:
            self.printer(line)

    def _event(self, type_: str, state: str | None, **fields: Any) -> None:
        assert self._execution is not None
        if len(self._execution.history) >= self.max_transitions and not type_.startswith("Execution"):
            raise TaskFailed("States.Runtime", f"the execution history reached {self.max_transitions} events "
                             "(the Step Functions quota per execution); the execution fails")
        event = {"id": len(self._execution.history) + 1, "type": type_, "state": state, "timestamp": _now()}
        event.update({k: copy.deepcopy(v) for k, v in fields.items()})
        self._execution.history.append(event)

    def _run_machine(self, machine: dict, data: Any, context: dict, depth: int) -> Any:
        states = machine["States"]
        current = machine["StartAt"]
        indent = "  " * depth
        while True:
            self._transitions += 1
            self._check_deadline()
            state = states[current]
            stype = state["Type"]
            entered = _now()
            ctx = copy.deepcopy(context)
            ctx["State"] = {"Name": current, "EnteredTime": _iso(entered), "RetryCount": 0}
            self._print(f"[sfn] {indent}> {current} ({stype})")
            t0 = time.perf_counter()
            try:
                self._check_payload(current, data, "state input")
                self._event(f"{stype}StateEntered", current, input=data)
                output, nxt = self._run_state(current, state, data, ctx, depth)
                self._check_payload(current, output, "state output")
            except TaskFailed as exc:
                secs = time.perf_counter() - t0
                assert self._execution is not None
                self._execution.state_durations.append((current, secs))
                self._event(f"{stype}StateFailed", current, error=exc.error, cause=exc.cause)
                self._print(f"[sfn] {indent}x {current} failed after {secs:.2f}s: {exc.error}: {_short(exc.cause)}")
                raise
            secs = time.perf_counter() - t0
            assert self._execution is not None
            self._execution.state_durations.append((current, secs))
            self._event(f"{stype}StateExited", current, output=output)
            self._print(f"[sfn] {indent}< {current} {secs:.2f}s" + (f" -> {nxt}" if nxt else ""))
            if nxt is None:
                return output
            data, current = output, nxt

    def _run_state(self, name: str, state: dict, raw: Any, ctx: dict, depth: int) -> tuple[Any, str | None]:
        stype = state["Type"]
        nxt = None if state.get("End") else state.get("Next")
        if stype == "Pass":
            effective = self._input_path(state, raw, ctx)
            if "Parameters" in state:
                effective = self._template(state["Parameters"], effective, ctx)
            result = copy.deepcopy(state["Result"]) if "Result" in state else effective
            return self._output_path(state, self._result_path(state, raw, result), ctx), nxt
        if stype in ("Task", "Parallel", "Map"):
            return self._with_retry_catch(name, state, raw, ctx, depth)
        if stype == "Choice":
            effective = self._input_path(state, raw, ctx)
            for rule in state.get("Choices", []):
                if self._rule(rule, effective, ctx):
                    return self._output_path(state, effective, ctx), rule["Next"]
            if "Default" in state:
                return self._output_path(state, effective, ctx), state["Default"]
            raise TaskFailed("States.NoChoiceMatched", f"No Choice rule in state {name!r} matched and it has no Default")
        if stype == "Wait":
            effective = self._input_path(state, raw, ctx)
            self._sleep(self._wait_seconds(state, effective, ctx) * self.wait_time_scale)
            return self._output_path(state, effective, ctx), nxt
        if stype == "Succeed":
            return self._output_path(state, self._input_path(state, raw, ctx), ctx), None
        if stype == "Fail":
            error = self._dynamic(state, "Error", raw, ctx) or "States.Fail"
            cause = self._dynamic(state, "Cause", raw, ctx) or ""
            raise _FailState(str(error), str(cause))
        raise ASLRuntimeError(f"state {name!r}: unsupported Type {stype!r}")

    def _dynamic(self, state: dict, field_: str, raw: Any, ctx: dict) -> Any:
        if field_ in state:
            return state[field_]
        path = state.get(f"{field_}Path")
        if path is None:
            return None
        if intrinsics.is_intrinsic(path):
            return intrinsics.evaluate(path, raw, ctx)
        return self._get(raw, path, ctx)

    def _check_payload(self, state: str, value: Any, what: str) -> None:
        assert self._execution is not None
        self._execution.note_payload(state, check_state_payload(value, f"{what} of state {state!r}"))

    # ---- Task / Parallel / Map with Retry and Catch
    def _with_retry_catch(self, name: str, state: dict, raw: Any, ctx: dict, depth: int) -> tuple[Any, str | None]:
        nxt = None if state.get("End") else state.get("Next")
        attempts: dict[int, int] = {}
        while True:
            try:
                effective = self._input_path(state, raw, ctx)
                result = self._body(name, state, effective, ctx, depth)
                if "ResultSelector" in state:
                    result = self._template(state["ResultSelector"], result, ctx)
                return self._output_path(state, self._result_path(state, raw, result), ctx), nxt
            except TaskFailed as exc:
                if exc.error == "States.Runtime" or isinstance(exc, _ExecutionTimedOut):
                    raise  # AWS never retries or catches runtime errors or the execution's own timeout
                retry_index = next((i for i, r in enumerate(state.get("Retry", []))
                                    if error_matches(r.get("ErrorEquals", []), exc.error)), None)
                if retry_index is not None:
                    retrier = state["Retry"][retry_index]
                    done = attempts.get(retry_index, 0)
                    if done < int(retrier.get("MaxAttempts", 3)):
                        delay = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** done
                        if "MaxDelaySeconds" in retrier:
                            delay = min(delay, float(retrier["MaxDelaySeconds"]))
                        attempts[retry_index] = done + 1
                        ctx["State"]["RetryCount"] = ctx["State"].get("RetryCount", 0) + 1
                        self._event("StateRetry", name, error=exc.error, cause=exc.cause, attempt=done + 1,
                                    delay_seconds=delay)
                        self._print(f"[sfn] {'  ' * depth}  {name}: {exc.error}; retry {done + 1}/"
                                    f"{retrier.get('MaxAttempts', 3)} in {delay:g}s (x{self.retry_time_scale:g})")
                        self._sleep(delay * self.retry_time_scale)
                        continue
                for catcher in state.get("Catch", []):
                    if error_matches(catcher.get("ErrorEquals", []), exc.error):
                        info = {"Error": exc.error, "Cause": exc.cause}
                        path = catcher.get("ResultPath", "$")
                        out = raw if path is None else self._put(raw, path, info)
                        self._event("StateCaught", name, error=exc.error, cause=exc.cause, next=catcher["Next"])
                        self._print(f"[sfn] {'  ' * depth}  {name}: {exc.error} caught -> {catcher['Next']}")
                        return out, catcher["Next"]
                raise

    def _body(self, name: str, state: dict, effective: Any, ctx: dict, depth: int) -> Any:
        stype = state["Type"]
        if stype == "Task":
            params = self._template(state["Parameters"], effective, ctx) if "Parameters" in state else effective
            resource = state["Resource"]
            self._check_payload(name, params, "task input after Parameters")
            self._event("TaskScheduled", name, resource=resource, parameters=params)
            try:
                result = self._dispatch_with_timeout(name, state, resource, params, effective, ctx)
            except TaskFailed as exc:
                self._event("TaskFailed", name, error=exc.error, cause=exc.cause)
                raise
            except Exception as exc:  # a launcher bug or an unexpected library error: still a task failure
                cause = f"{type(exc).__name__}: {exc}"
                self._event("TaskFailed", name, error="States.TaskFailed", cause=cause)
                raise TaskFailed("States.TaskFailed", cause) from exc
            try:
                result = json.loads(json.dumps(result, default=_json_default))
            except (TypeError, ValueError) as exc:
                raise TaskFailed("States.Runtime", f"task result is not JSON: {exc}") from exc
            self._check_payload(name, result, "task result")
            self._event("TaskSucceeded", name, output=result)
            return result
        if stype == "Parallel":
            if "Parameters" in state:
                effective = self._template(state["Parameters"], effective, ctx)
            results = []
            for i, branch in enumerate(state["Branches"]):
                self._print(f"[sfn] {'  ' * depth}  {name}: branch {i + 1}/{len(state['Branches'])}")
                results.append(self._run_machine(branch, copy.deepcopy(effective), ctx, depth + 1))
            return results
        if stype == "Map":
            items = self._get(effective, state.get("ItemsPath", "$"), ctx)
            if not isinstance(items, list):
                raise ASLRuntimeError(f"Map state {name!r}: ItemsPath did not select an array")
            processor = state.get("ItemProcessor") or state.get("Iterator")
            selector = state.get("ItemSelector", state.get("Parameters"))
            results = []
            for index, item in enumerate(items):
                item_ctx = copy.deepcopy(ctx)
                item_ctx["Map"] = {"Item": {"Index": index, "Value": item}}
                item_input = self._template(selector, effective, item_ctx) if selector is not None else item
                results.append(self._run_machine(processor, item_input, item_ctx, depth + 1))
            return results
        raise ASLRuntimeError(f"state {name!r}: unsupported Type {stype!r}")

    # ---- data flow helpers
    def _get(self, doc: Any, path: str, ctx: dict) -> Any:
        try:
            return jsonpath.get(doc, path, ctx)
        except jsonpath.PathError as exc:
            raise ASLRuntimeError(str(exc)) from None

    def _put(self, doc: Any, path: str, value: Any) -> Any:
        try:
            return jsonpath.put(doc, path, value)
        except jsonpath.PathError as exc:
            raise ASLRuntimeError(str(exc)) from None

    def _input_path(self, state: dict, raw: Any, ctx: dict) -> Any:
        if "InputPath" not in state:
            return raw
        return {} if state["InputPath"] is None else self._get(raw, state["InputPath"], ctx)

    def _output_path(self, state: dict, data: Any, ctx: dict) -> Any:
        if "OutputPath" not in state:
            return data
        return {} if state["OutputPath"] is None else self._get(data, state["OutputPath"], ctx)

    def _result_path(self, state: dict, raw: Any, result: Any) -> Any:
        if "ResultPath" not in state:
            return result
        if state["ResultPath"] is None:
            return raw
        return self._put(raw, state["ResultPath"], result)

    def _template(self, template: Any, doc: Any, ctx: dict) -> Any:
        """Evaluate a payload template (Parameters, ResultSelector, ItemSelector)."""
        if isinstance(template, dict):
            out: dict[str, Any] = {}
            for key, value in template.items():
                if key.endswith(".$"):
                    if not isinstance(value, str):
                        raise ASLRuntimeError(f"field {key!r} must hold a path or intrinsic function string")
                    if intrinsics.is_intrinsic(value):
                        out[key[:-2]] = intrinsics.evaluate(value, doc, ctx)
                    else:
                        out[key[:-2]] = self._get(doc, value, ctx)
                else:
                    out[key] = self._template(value, doc, ctx)
            return out
        if isinstance(template, list):
            return [self._template(v, doc, ctx) for v in template]
        return copy.deepcopy(template)

    def _wait_seconds(self, state: dict, effective: Any, ctx: dict) -> float:
        if "Seconds" in state:
            return float(state["Seconds"])
        if "SecondsPath" in state:
            value = self._get(effective, state["SecondsPath"], ctx)
            if not isinstance(value, (int, float)) or value < 0:
                raise ASLRuntimeError(f"SecondsPath selected {value!r}, not a non-negative number")
            return float(value)
        ts_value = state.get("Timestamp")
        if ts_value is None and "TimestampPath" in state:
            ts_value = self._get(effective, state["TimestampPath"], ctx)
        ts = parse_ts(ts_value)
        if ts is None:
            raise ASLRuntimeError(f"Wait timestamp {ts_value!r} is not an RFC 3339 timestamp")
        return max(0.0, (ts - _now()).total_seconds())

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            remaining = self._remaining()
            time.sleep(seconds if remaining is None else max(0.0, min(seconds, remaining)))
        self._check_deadline()

    # ---- timeouts
    def _remaining(self) -> float | None:
        return None if self._deadline is None else self._deadline - time.monotonic()

    def _check_deadline(self) -> None:
        remaining = self._remaining()
        if remaining is not None and remaining <= 0:
            raise _ExecutionTimedOut("States.Timeout", "The execution exceeded its TimeoutSeconds")

    def _task_timeout(self, state: dict, effective: Any, ctx: dict) -> float | None:
        if "TimeoutSecondsPath" in state:
            value = self._get(effective, state["TimeoutSecondsPath"], ctx)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ASLRuntimeError(f"TimeoutSecondsPath selected {value!r}, not a positive integer")
            return float(value) * self.timeout_scale
        if "TimeoutSeconds" in state:
            return float(state["TimeoutSeconds"]) * self.timeout_scale
        return None

    def _dispatch_with_timeout(self, name: str, state: dict, resource: str, params: Any, effective: Any,
                               ctx: dict) -> Any:
        """Run the dispatcher, bounded by the task's and the execution's remaining time.

        Without either limit the call runs inline; with one it runs on a daemon thread that is
        abandoned at the limit (Python cannot kill a thread; AWS likewise stops waiting, not working).
        """
        task_limit, remaining = self._task_timeout(state, effective, ctx), self._remaining()
        if task_limit is None and remaining is None:
            return self.task_dispatch(resource, copy.deepcopy(params), copy.deepcopy(ctx))
        limit = min(x for x in (task_limit, remaining) if x is not None)
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["result"] = self.task_dispatch(resource, copy.deepcopy(params), copy.deepcopy(ctx))
            except BaseException as exc:  # noqa: BLE001 - re-raised on the interpreter's thread
                box["error"] = exc

        worker = threading.Thread(target=work, name=f"sfn-task-{name}", daemon=True)
        worker.start()
        worker.join(max(0.0, limit))
        if worker.is_alive():
            if task_limit is not None and task_limit <= (remaining if remaining is not None else task_limit):
                self._event("TaskTimedOut", name, error="States.Timeout")
                raise TaskFailed("States.Timeout", f"Task {name!r} exceeded its TimeoutSeconds ({state.get('TimeoutSeconds', 'path')})")
            self._check_deadline()
            raise _ExecutionTimedOut("States.Timeout", "The execution exceeded its TimeoutSeconds")
        if "error" in box:
            raise box["error"]
        return box["result"]

    # ---- Choice rules
    def _rule(self, rule: dict, doc: Any, ctx: dict) -> bool:
        if "And" in rule:
            return all(self._rule(r, doc, ctx) for r in rule["And"])
        if "Or" in rule:
            return any(self._rule(r, doc, ctx) for r in rule["Or"])
        if "Not" in rule:
            return not self._rule(rule["Not"], doc, ctx)
        var = rule["Variable"]
        ops = [k for k in rule if k in COMPARISON_OPERATORS]
        if len(ops) != 1:
            raise ASLRuntimeError(f"Choice rule on {var!r} needs exactly one comparison operator")
        op = ops[0]
        expected = rule[op]
        if op == "IsPresent":
            return jsonpath.exists(doc, var, ctx) == bool(expected)
        value = self._get(doc, var, ctx)
        if op.startswith("Is"):
            tests = {"IsNull": lambda v: v is None, "IsNumeric": TYPE_TESTS["Numeric"],
                     "IsString": TYPE_TESTS["String"], "IsBoolean": TYPE_TESTS["Boolean"],
                     "IsTimestamp": TYPE_TESTS["Timestamp"]}
            return tests[op](value) == bool(expected)
        if op.endswith("Path"):
            expected = self._get(doc, expected, ctx)
            op = op[:-4]
        if op == "StringMatches":
            return isinstance(value, str) and string_matches(value, str(expected))
        kind = next(t for t in ("String", "Numeric", "Boolean", "Timestamp") if op.startswith(t))
        cmp = COMPARATORS[op[len(kind):]]
        check = TYPE_TESTS[kind]
        if not (check(value) and check(expected)):
            return False  # AWS: a type mismatch makes the comparison false, not an error
        if kind == "Timestamp":
            return cmp(parse_ts(value), parse_ts(expected))
        return cmp(value, expected)


class _FailState(TaskFailed):
    """Raised by a Fail state: ends the (sub-)machine; inside Parallel/Map it fails that state."""


class _ExecutionTimedOut(TaskFailed):
    """The machine's TimeoutSeconds elapsed: ends the execution as TIMED_OUT; never retried or caught."""


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _short(text: str | None, limit: int = 300) -> str:
    """One printable line for a cause: the FailureReason/errorMessage inside JSON causes, else the text."""
    text = text or ""
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        for key in ("FailureReason", "errorMessage", "Cause", "message"):
            if isinstance(doc.get(key), str) and doc[key]:
                text = f"{doc[key]} [{key}]"
                break
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ += ["COMPARISON_OPERATORS", "error_matches"]
