"""In-process Lambda invocation for the local runtime.

The same ``lambdas/<function>/handler.py`` files that are zipped and deployed are imported here and
called with a realistic context object. Failures are reported the way Step Functions' Lambda
integration reports them, so ``Retry``/``Catch`` blocks behave as in AWS: a handler exception
becomes error = the exception's class name and cause = the JSON document Lambda returns
(``errorMessage``, ``errorType``, ``requestId``, ``stackTrace``); unknown functions are
``Lambda.ResourceNotFoundException``; import problems are ``Runtime.ImportModuleError`` /
``Runtime.HandlerNotFound``; a result that is not JSON is ``Runtime.MarshalError``.

AWS's limits apply (:mod:`edf_local.limits`): requests and responses over 6 MB fail as Lambda fails
them. With ``isolation="process"`` (what the local runtime uses) each invocation runs in a fresh
child process (:mod:`edf_local.lambda_child`) whose memory is watched against the function's
configured MB (``Runtime.OutOfMemory``) and whose wall time against its timeout
(``Sandbox.Timedout``); ``"inprocess"`` calls the handler directly (fast, for unit tests with an
in-process AWS mock) and can enforce neither.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil

from edf_local import limits
from edf_local.errors import TaskFailed
from edf_local.memory import MemoryWatch, tree_cpu_seconds

DEFAULT_ACCOUNT = "123456789012"


class LambdaContext:
    """The attributes and method the Python Lambda runtime's context object offers."""

    def __init__(self, function_name: str, region: str, account: str, memory_mb: int, timeout_s: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def function_name_from(name_or_arn: str) -> str:
    """``arn:aws:lambda:r:a:function:NAME[:qualifier]`` or ``NAME[:qualifier]`` -> ``NAME``."""
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        if len(parts) < 7 or parts[5] != "function":
            raise TaskFailed("Lambda.InvalidParameterValueException", f"{name_or_arn!r} is not a Lambda function ARN")
        return parts[6]
    return name_or_arn.split(":")[0]


class LocalLambdaInvoker:
    """Invoke Lambda handlers in-process by function name.

    ``functions`` maps a function name (what follows ``function:`` in its ARN) to the handler file.
    ``environment`` optionally maps a function name to the environment variables it is deployed
    with; they are set for the duration of the call only. ``function_limits`` maps a function name to
    its configured ``(memory_mb, timeout_s)`` (default ``memory_mb``/``timeout_s`` for all).
    """

    _env_lock = threading.Lock()

    def __init__(
        self,
        functions: dict[str, str | Path],
        environment: dict[str, dict[str, str]] | None = None,
        region: str | None = None,
        account: str = DEFAULT_ACCOUNT,
        memory_mb: int = 512,
        timeout_s: int = 900,
        handler_name: str = "handler",
        function_limits: Mapping[str, tuple[int, int]] | None = None,
        isolation: str = "inprocess",
    ) -> None:
        if isolation not in ("inprocess", "process"):
            raise ValueError(f"isolation must be 'inprocess' or 'process', got {isolation!r}")
        self.functions = {name: Path(path) for name, path in functions.items()}
        self.environment = environment or {}
        self.region = region
        self.account = account
        self.memory_mb = memory_mb
        self.timeout_s = timeout_s
        self.handler_name = handler_name
        self.function_limits = dict(function_limits or {})
        self.isolation = isolation
        self._modules: dict[Path, ModuleType] = {}
        self.invocations: list[dict[str, Any]] = []

    def _load(self, path: Path) -> ModuleType:
        path = path.resolve()
        if path in self._modules:
            return self._modules[path]
        if not path.is_file():
            raise TaskFailed("Runtime.ImportModuleError", json.dumps(
                {"errorMessage": f"Unable to import module: no handler file at {path}",
                 "errorType": "Runtime.ImportModuleError", "stackTrace": []}))
        module_name = f"edf_local_lambda_{abs(hash(str(path))):x}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        # Lambda puts the package root on sys.path: sibling modules of the handler import normally.
        sys.path.insert(0, str(path.parent))
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise TaskFailed("Runtime.ImportModuleError", _error_doc(exc, f"Unable to import module '{path.stem}'")) from exc
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(path.parent))
        self._modules[path] = module
        return module

    @contextlib.contextmanager
    def _function_env(self, name: str) -> Iterator[None]:
        env = {"AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.limits_of(name)[0]),
               **self.environment.get(name, {})}
        with self._env_lock:
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                yield
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v

    def limits_of(self, name: str) -> tuple[int, int]:
        """The function's configured (memory MB, timeout seconds)."""
        return self.function_limits.get(name, (self.memory_mb, self.timeout_s))

    @staticmethod
    def timeout_scale() -> float:
        """``EDF_LOCAL_TIMEOUT_SCALE`` (default 1): stretch timeouts on a machine far slower than Lambda.

        Only for a laptop shared with heavy work (a load average many times its cores); CI runs at 1.
        """
        value = float(os.environ.get("EDF_LOCAL_TIMEOUT_SCALE", "1") or 1)
        return max(1.0, value)

    def invoke(self, function_name_or_arn: str, payload: Any = None) -> Any:
        """Call the function's handler with ``payload`` and return what it returns (JSON round-tripped)."""
        name = function_name_from(function_name_or_arn)
        if name not in self.functions:
            raise TaskFailed("Lambda.ResourceNotFoundException",
                             f"Function not found: {name} (known locally: {', '.join(sorted(self.functions)) or 'none'})")
        try:
            event = json.loads(json.dumps({} if payload is None else payload))
        except (TypeError, ValueError) as exc:
            raise TaskFailed("Lambda.InvalidRequestContentException", f"payload is not JSON: {exc}") from exc
        limits.check_lambda_request(event)
        memory_mb, timeout_s = self.limits_of(name)
        region = self.region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        context = LambdaContext(name, region, self.account, memory_mb, timeout_s)
        record: dict[str, Any] = {"function": name, "request_id": context.aws_request_id, "event": event}
        self.invocations.append(record)
        started = time.perf_counter()
        try:
            if self.isolation == "process":
                result = self._invoke_in_child(name, event, context, record)
            else:
                result = self._invoke_in_process(name, event, context)
        except TaskFailed as exc:
            record.update(status="error", error=exc.error, seconds=time.perf_counter() - started)
            raise
        size = limits.payload_bytes(result)
        record.update(status="ok", seconds=time.perf_counter() - started, response_bytes=size)
        if size > limits.LAMBDA_PAYLOAD_BYTES:
            record.update(status="error", error="Function.ResponseSizeTooLarge")
            raise limits.lambda_response_error(size, context.aws_request_id)
        return result

    def _handler(self, name: str) -> Any:
        module = self._load(self.functions[name])
        handler = getattr(module, self.handler_name, None)
        if not callable(handler):
            raise TaskFailed("Runtime.HandlerNotFound", json.dumps(
                {"errorMessage": f"Handler '{self.handler_name}' missing on module '{self.functions[name].stem}'",
                 "errorType": "Runtime.HandlerNotFound", "stackTrace": []}))
        return handler

    def _invoke_in_process(self, name: str, event: Any, context: LambdaContext) -> Any:
        handler = self._handler(name)
        try:
            with self._function_env(name):
                result = handler(event, context)
        except Exception as exc:
            raise TaskFailed(type(exc).__name__, _error_doc(exc, request_id=context.aws_request_id)) from exc
        try:
            return json.loads(json.dumps(result))
        except (TypeError, ValueError) as exc:
            raise TaskFailed("Runtime.MarshalError", json.dumps(
                {"errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError",
                 "requestId": context.aws_request_id, "stackTrace": []})) from exc

    def _child_env(self, name: str, memory_mb: int) -> dict[str, str]:
        env = {**os.environ, "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
               **self.environment.get(name, {})}
        # the child imports what this process imports (editable installs, test paths)
        paths = [p for p in sys.path if p and Path(p).is_dir()]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([*paths, *filter(None, [env.get("PYTHONPATH")])]))
        return env

    def _invoke_in_child(self, name: str, event: Any, context: LambdaContext, record: dict[str, Any]) -> Any:
        memory_mb, timeout_s = self.limits_of(name)
        path = self.functions[name].resolve()
        if not path.is_file():
            raise TaskFailed("Runtime.ImportModuleError", json.dumps(
                {"errorMessage": f"Unable to import module: no handler file at {path}",
                 "errorType": "Runtime.ImportModuleError", "stackTrace": []}))
        request = {"event": event, "context": {
            "function_name": context.function_name, "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn, "memory_limit_in_mb": memory_mb,
            "aws_request_id": context.aws_request_id, "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name, "identity": None, "client_context": None,
            "deadline_epoch": time.time() + timeout_s}}
        with tempfile.TemporaryDirectory(prefix="edf-lambda-") as tmp:
            result_file = Path(tmp) / "result.json"
            proc = subprocess.Popen([sys.executable, "-m", "edf_local.lambda_child", str(path), self.handler_name,
                                     str(result_file)], stdin=subprocess.PIPE, env=self._child_env(name, memory_mb))
            timed_out = False
            with MemoryWatch(proc.pid, memory_mb, interval=0.05) as watch:
                proc.stdin.write(json.dumps(request).encode())
                proc.stdin.close()
                _wait_for_init(proc, Path(f"{result_file}.ready"))
                init_cpu = tree_cpu_seconds(psutil.Process(proc.pid)) if proc.poll() is None else 0.0
                # CPU share of the configured memory: the work may use at most timeout / factor CPU-seconds
                watch.cpu_limit_s = init_cpu + timeout_s * memory_mb / max(memory_mb, LAMBDA_MB_PER_VCPU)
                try:
                    proc.wait(timeout=timeout_s * self.timeout_scale())
                except subprocess.TimeoutExpired:
                    timed_out = True
                    proc.kill()
                    proc.wait()
            record["peak_rss_mb"] = round(watch.peak_mb, 1)
            work_cpu = max(0.0, watch.cpu_seconds - init_cpu)  # Lambda's timeout excludes the init phase
            record["cpu_seconds"] = round(work_cpu, 2)
            record["lambda_seconds_at_least"] = round(lambda_seconds(work_cpu, memory_mb), 1)
            if not timed_out and (watch.cpu_exceeded or record["lambda_seconds_at_least"] > timeout_s):
                raise TaskFailed("Sandbox.Timedout", json.dumps({
                    "errorMessage": f"RequestId: {context.aws_request_id} Error: Task timed out after {timeout_s:.2f} "
                                    f"seconds (locally it used {work_cpu:.1f} CPU-seconds; at {memory_mb} MB "
                                    f"Lambda gives {min(1.0, memory_mb / LAMBDA_MB_PER_VCPU):.2f} vCPU, so it would run "
                                    f"for at least {record['lambda_seconds_at_least']:.0f} s)",
                    "errorType": "Sandbox.Timedout", "requestId": context.aws_request_id}))
            if timed_out:
                raise TaskFailed("Sandbox.Timedout", json.dumps({
                    "errorMessage": f"RequestId: {context.aws_request_id} Error: Task timed out after "
                                    f"{timeout_s:.2f} seconds", "errorType": "Sandbox.Timedout",
                    "requestId": context.aws_request_id}))
            return self._child_outcome(proc.returncode, watch, result_file, context, memory_mb)

    @staticmethod
    def _child_outcome(code: int | None, watch: MemoryWatch, result_file: Path, context: LambdaContext,
                       memory_mb: int) -> Any:
        rid = context.aws_request_id
        if watch.exceeded:
            raise TaskFailed("Runtime.OutOfMemory", json.dumps({
                "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed "
                                f"(memory above the configured {memory_mb} MB; peak seen {watch.peak_mb:.0f} MB)",
                "errorType": "Runtime.OutOfMemory", "requestId": rid}))
        if not result_file.is_file():
            raise TaskFailed("Runtime.ExitError", json.dumps({
                "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status {code}",
                "errorType": "Runtime.ExitError", "requestId": rid}))
        out = json.loads(result_file.read_text())
        if "error" in out:
            raise TaskFailed(out["error"], json.dumps({**out["doc"], "requestId": rid}))
        return out["result"]


LAMBDA_MB_PER_VCPU = 1769  # Lambda allocates CPU in proportion to memory: one full vCPU at 1,769 MB


def lambda_seconds(cpu_seconds: float, memory_mb: int) -> float:
    """The shortest wall time Lambda could need for work that used ``cpu_seconds`` here.

    Below 1,769 MB a function gets that fraction of one vCPU, so CPU-bound work is slower in Lambda
    than on a laptop core; above it, more vCPUs help only parallel code, so one core is assumed.
    """
    return cpu_seconds * max(1.0, LAMBDA_MB_PER_VCPU / memory_mb)


INIT_BUDGET_S = 120  # Lambda gives the init phase 10 s; a loaded laptop needs more to import pandas


def _wait_for_init(proc: subprocess.Popen, ready: Path) -> None:
    """Wait until the child finished importing the handler (or exited): the invocation timeout starts then."""
    deadline = time.monotonic() + INIT_BUDGET_S
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)


def _error_doc(exc: BaseException, message: str | None = None, request_id: str = "") -> str:
    """The JSON error document the Lambda Python runtime returns for an unhandled exception."""
    return json.dumps({
        "errorMessage": f"{message}: {exc}" if message else str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    })
