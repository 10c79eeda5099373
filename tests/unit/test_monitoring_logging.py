"""Structured logging: JSON lines carrying the correlation id (edf.logging)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from edf.logging import (
    CORRELATION_ENV,
    configure_logging,
    correlation_id_from_event,
    get_logger,
    is_execution_arn,
    set_correlation_id,
)

EXEC = "arn:aws:states:eu-central-1:123456789012:execution:EDFInferenceWorkflow-dev:run-2026-11-21"


@pytest.fixture()
def restore_root(monkeypatch):
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    monkeypatch.delenv(CORRELATION_ENV, raising=False)
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def test_json_lines_with_correlation_id(restore_root, monkeypatch):
    buf = io.StringIO()
    configure_logging(EXEC, service="edf-test", stream=buf, json_format=True)
    get_logger("edf.some.module").info("forecasts written", extra={"rows": 12})
    logging.getLogger("third.party").warning("plain stdlib logger")
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert len(lines) == 2
    assert lines[0]["correlation_id"] == EXEC and lines[0]["service"] == "edf-test"
    assert lines[0]["message"] == "forecasts written" and lines[0]["rows"] == 12
    assert lines[0]["level"] == "INFO"
    assert lines[1]["correlation_id"] == EXEC and lines[1]["level"] == "WARNING"
    import os

    assert os.environ[CORRELATION_ENV] == EXEC  # inherited by job subprocesses


def test_idempotent_and_switchable(restore_root):
    buf = io.StringIO()
    configure_logging("a", stream=buf, json_format=True)
    configure_logging("b", stream=buf, json_format=True)
    set_correlation_id("c")
    get_logger("x").info("once")
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["correlation_id"] == "c"


def test_text_format_and_env_fallback(restore_root, monkeypatch):
    monkeypatch.setenv("EDF_EXECUTION_ID", "exec-42")
    buf = io.StringIO()
    configure_logging(stream=buf, json_format=False)
    get_logger("y").info("hello")
    assert "[exec-42]: hello" in buf.getvalue()


def test_correlation_id_from_event():
    assert correlation_id_from_event({"execution_id": EXEC}) == EXEC
    assert correlation_id_from_event({"headers": {"X-Correlation-Id": "abc"}}) == "abc"
    assert correlation_id_from_event({"id": "evt-1", "source": "aws.scheduler"}) == "evt-1"

    class Ctx:
        aws_request_id = "req-1"

    assert correlation_id_from_event({}, Ctx()) == "req-1"
    assert correlation_id_from_event(None) is None
    assert is_execution_arn(EXEC) and not is_execution_arn("run-1")


def test_stderr_stream_keeps_stdout_for_data(restore_root, monkeypatch, capsys):
    """Benchmarks print JSON lines on stdout; EDF_LOG_STREAM=stderr moves the log lines away."""
    monkeypatch.setenv("EDF_LOG_STREAM", "stderr")
    configure_logging(json_format=False)
    logging.getLogger("edf.bench").info("a log line")
    captured = capsys.readouterr()
    assert "a log line" in captured.err and captured.out == ""
