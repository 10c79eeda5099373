"""Structured JSON-lines logging shared by jobs, Lambdas, the local runtime and the CLI.

Every record becomes one JSON object on one line (aws-lambda-powertools' ``LambdaPowertoolsFormatter``),
carrying ``service`` and ``correlation_id``. The correlation id is the Step Functions execution id
(or, failing that, the run id): the scheduler starts an execution, the execution passes its id to
each job (argument or env ``EDF_CORRELATION_ID``) and Lambda, and each of them logs it — so one
``correlation_id`` filter in CloudWatch Logs Insights follows a run from the schedule to the API.

Usage (docs/monitoring.md has the adoption guide for each area)::

    from edf.logging import configure_logging, get_logger
    configure_logging(correlation_id=execution_id, service="edf-forecast")  # once, at the entrypoint
    log = get_logger(__name__)
    log.info("forecasts written", extra={"rows": 1234})  # extra keys become JSON fields

Modules keep using ``logging.getLogger(__name__)``: the handler is installed on the root logger,
so their records are JSON too. ``EDF_LOG_FORMAT=text`` keeps human-readable lines (local shells).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import IO, Any

CORRELATION_ENV = "EDF_CORRELATION_ID"
# Env vars consulted, in order, when no correlation id is passed explicitly.
CORRELATION_ENV_FALLBACKS = (CORRELATION_ENV, "EDF_EXECUTION_ID", "EDF_RUN_ID")
FORMAT_ENV = "EDF_LOG_FORMAT"
LEVEL_ENV = "EDF_LOG_LEVEL"
_HANDLER_FLAG = "_edf_structured_handler"
_EXECUTION_ARN_RE = re.compile(r"^arn:aws[\w-]*:states:[\w-]+:\d{12}:execution:[^:]+:[^:]+$")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s]: %(message)s"


class _CorrelationFilter(logging.Filter):
    """Adds ``correlation_id`` to every record (the text format and third-party handlers need it)."""

    def __init__(self, correlation_id: str | None) -> None:
        super().__init__()
        self.correlation_id = correlation_id

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "correlation_id"):
            record.correlation_id = self.correlation_id or "-"
        return True


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at emit time (Lambda, pytest capture, redirections)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return sys.stdout

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def _resolve_correlation_id(correlation_id: str | None) -> str | None:
    if correlation_id:
        return str(correlation_id)
    for name in CORRELATION_ENV_FALLBACKS:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _installed_handler() -> logging.Handler | None:
    for handler in logging.getLogger().handlers:
        if getattr(handler, _HANDLER_FLAG, False):
            return handler
    return None


STREAM_ENV = "EDF_LOG_STREAM"  # "stderr": log there instead of stdout


def configure_logging(
    correlation_id: str | None = None,
    service: str = "edf",
    level: int | str | None = None,
    json_format: bool | None = None,
    stream: IO[str] | None = None,
    propagate_env: bool = True,
) -> logging.Logger:
    """Install the EDF handler on the root logger (idempotent) and return the root logger.

    ``correlation_id`` defaults to env ``EDF_CORRELATION_ID`` (then ``EDF_EXECUTION_ID``,
    ``EDF_RUN_ID``). With ``propagate_env`` the id is exported as ``EDF_CORRELATION_ID`` so
    subprocesses (the local SageMaker job runner, Spark workers) log the same id. Any handler the
    root logger already has (``logging.basicConfig``, the Lambda runtime's) is replaced, so every
    record is written exactly once, as one line.
    """
    cid = _resolve_correlation_id(correlation_id)
    if propagate_env and cid:
        os.environ[CORRELATION_ENV] = cid
    if json_format is None:
        json_format = os.environ.get(FORMAT_ENV, "json").strip().lower() != "text"
    level = level if level is not None else os.environ.get(LEVEL_ENV, "INFO")
    if isinstance(level, str):
        level = logging.getLevelName(level.strip().upper())
        if not isinstance(level, int):
            raise ValueError(f"unknown log level in {LEVEL_ENV}; expected DEBUG, INFO, WARNING or ERROR")

    if stream is None and os.environ.get(STREAM_ENV, "").strip().lower() == "stderr":
        stream = sys.stderr  # tools whose stdout is data (the benchmarks' JSON lines) log to stderr
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StdoutHandler()
    setattr(handler, _HANDLER_FLAG, True)
    handler.addFilter(_CorrelationFilter(cid))
    if json_format:
        from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

        formatter: logging.Formatter = LambdaPowertoolsFormatter(service=service, correlation_id=cid)
    else:
        formatter = logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return root


def set_correlation_id(correlation_id: str | None) -> None:
    """Change the correlation id of the installed handler (e.g. per Lambda invocation)."""
    handler = _installed_handler()
    if handler is None:
        configure_logging(correlation_id)
        return
    for flt in handler.filters:
        if isinstance(flt, _CorrelationFilter):
            flt.correlation_id = correlation_id
    if hasattr(handler.formatter, "append_keys"):
        handler.formatter.append_keys(correlation_id=correlation_id)  # type: ignore[union-attr]
    if correlation_id:
        os.environ[CORRELATION_ENV] = correlation_id
    else:
        os.environ.pop(CORRELATION_ENV, None)


def get_logger(name: str) -> logging.Logger:
    """A module logger; configure_logging() decides how it is written."""
    return logging.getLogger(name)


def correlation_id_from_event(event: Any, context: Any = None) -> str | None:
    """The correlation id a Lambda should log, from its event (or the request id as a last resort).

    Workflow Lambdas receive ``execution_id`` (``$$.Execution.Id``) or ``correlation_id`` in their
    payload; scheduled invocations (EventBridge) carry an event ``id``; API Gateway proxies carry
    the header ``X-Correlation-Id`` when a client sends one.
    """
    if isinstance(event, Mapping):
        for key in ("correlation_id", "execution_id", "execution_arn", "run_id"):
            value = event.get(key)
            if isinstance(value, str) and value:
                return value
        headers = event.get("headers")
        if isinstance(headers, Mapping):
            for key, value in headers.items():
                if str(key).lower() == "x-correlation-id" and value:
                    return str(value)
        if isinstance(event.get("id"), str) and event.get("source"):
            return str(event["id"])
    request_id = getattr(context, "aws_request_id", None)
    return str(request_id) if request_id else None


def is_execution_arn(value: str) -> bool:
    """True for a Step Functions execution ARN (the preferred correlation id)."""
    return bool(_EXECUTION_ARN_RE.match(value or ""))
