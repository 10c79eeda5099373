"""Run one Lambda handler invocation in this (child) process, as the Lambda runtime would.

    python -m edf_local.lambda_child HANDLER_FILE HANDLER_NAME RESULT_FILE  < event.json

The parent (:class:`edf_local.lambdas.LocalLambdaInvoker`) watches this process's memory against the
function's configured MB and its wall time against the configured timeout, which an in-process call
cannot do. The event arrives on standard input; the handler's return value, or the error document
the Lambda runtime would return, is written as JSON to RESULT_FILE (standard output stays the
function's log stream, as in Lambda). Only the standard library is imported before the handler, so
the memory measured is the handler's. The file RESULT_FILE.ready marks the end of the init phase
(imports), after which the function's timeout runs, as in Lambda (its init phase has a budget of its own).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import traceback
import uuid
from pathlib import Path


class ChildContext:
    """The Lambda context object: the attributes and method handlers use (see edf_local.lambdas)."""

    def __init__(self, fields: dict) -> None:
        self.__dict__.update({k: v for k, v in fields.items() if k != "deadline_epoch"})
        self._deadline = float(fields["deadline_epoch"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _error_doc(exc: BaseException, request_id: str, message: str | None = None) -> dict:
    return {"errorMessage": f"{message}: {exc}" if message else str(exc), "errorType": type(exc).__name__,
            "requestId": request_id, "stackTrace": traceback.format_tb(exc.__traceback__)}


def main(argv: list[str]) -> int:
    handler_file, handler_name, result_file = argv
    request = json.loads(sys.stdin.read())
    context = ChildContext(request["context"])
    out: dict
    path = Path(handler_file)
    sys.path.insert(0, str(path.parent))  # Lambda puts the package root on sys.path
    spec = importlib.util.spec_from_file_location(f"lambda_{uuid.uuid4().hex}", path)
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - reported as the runtime reports it
        out = {"error": "Runtime.ImportModuleError",
               "doc": _error_doc(exc, context.aws_request_id, f"Unable to import module '{path.stem}'")}
    else:
        Path(result_file + ".ready").touch()  # init done: the function's timeout starts now, as in Lambda
        handler = getattr(module, handler_name, None)
        if not callable(handler):
            out = {"error": "Runtime.HandlerNotFound",
                   "doc": {"errorMessage": f"Handler '{handler_name}' missing on module '{path.stem}'",
                           "errorType": "Runtime.HandlerNotFound", "stackTrace": []}}
        else:
            try:
                out = {"result": handler(request["event"], context)}
            except Exception as exc:  # noqa: BLE001 - the handler's failure is the invocation's result
                out = {"error": type(exc).__name__, "doc": _error_doc(exc, context.aws_request_id)}
    try:
        text = json.dumps(out)
    except (TypeError, ValueError) as exc:
        text = json.dumps({"error": "Runtime.MarshalError", "doc": {
            "errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError",
            "requestId": context.aws_request_id, "stackTrace": []}})
    Path(result_file).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
