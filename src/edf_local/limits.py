"""The AWS service limits the deployed workflows meet, enforced by the local runtime as AWS enforces them.

A local run that AWS would reject is a bug: it hid a 318 KB evaluation report passing through a state
(Step Functions caps state data at 256 KB) and a 305-character grid event in a container argument
(SageMaker caps each at 256). Every launcher checks its requests here and fails with the error name
the service uses, so the same Retry/Catch blocks see the same failure locally and in the cloud.

Sources (service quotas and API references, checked 2026-11):

* Step Functions: 256 KiB per state input/output/task payload (UTF-8), ``States.DataLimitExceeded``,
  a terminal error ``States.ALL`` does not catch; 25,000 events per execution history.
* SageMaker ``CreateProcessingJob``/``CreateTrainingJob``: job names of 1-63 characters;
  ``ContainerArguments``/``ContainerEntrypoint`` at most 100 entries of at most 256 characters;
  ``Environment`` at most 48 entries whose keys and values are at most 256 characters (the API
  reference of processing jobs lists 100 entries; the stricter figure of the training and model
  APIs is enforced so one definition is valid for every job type); ``HyperParameters`` at most 100
  entries, keys of 256 and values of 2,500 characters.
* Lambda: 6 MB (6,291,456 bytes) synchronous request and response payloads; the function's
  configured memory and timeout (from ``edf.config``, the values Terraform deploys).
"""

from __future__ import annotations

import json
from typing import Any

from edf_local.errors import TaskFailed

SFN_PAYLOAD_BYTES = 256 * 1024
SFN_HISTORY_EVENTS = 25_000
SFN_DATA_LIMIT_ERROR = "States.DataLimitExceeded"

SAGEMAKER_JOB_NAME_CHARS = 63
SAGEMAKER_LIST_ENTRIES = 100
SAGEMAKER_LIST_ENTRY_CHARS = 256
SAGEMAKER_ENV_ENTRIES = 48
SAGEMAKER_ENV_CHARS = 256
SAGEMAKER_HYPERPARAMETERS = 100
SAGEMAKER_HYPERPARAMETER_KEY_CHARS = 256
SAGEMAKER_HYPERPARAMETER_VALUE_CHARS = 2500
SAGEMAKER_API_ERROR = "SageMaker.AmazonSageMakerException"

LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024
LAMBDA_MAX_TIMEOUT_S = 900


def payload_bytes(value: Any) -> int:
    """Size of ``value`` as Step Functions measures it: its JSON text, UTF-8 encoded."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8"))


def check_state_payload(value: Any, what: str) -> int:
    """Fail with ``States.DataLimitExceeded`` when ``value`` exceeds 256 KiB; return its size."""
    size = payload_bytes(value)
    if size > SFN_PAYLOAD_BYTES:
        raise TaskFailed(SFN_DATA_LIMIT_ERROR, f"The {what} has {size} bytes, which exceeds the maximum "
                         f"{SFN_PAYLOAD_BYTES} bytes allowed for a state's input or output. Keep large data "
                         "in S3 and pass its location.")
    return size


def _validation(message: str) -> TaskFailed:
    return TaskFailed(SAGEMAKER_API_ERROR, f"ValidationException: {message}")


def check_string_list(values: Any, field: str) -> None:
    """``ContainerArguments``/``ContainerEntrypoint``: at most 100 strings of at most 256 characters."""
    if values is None:
        return
    if not isinstance(values, list):
        raise _validation(f"{field} must be a list of strings")
    if len(values) > SAGEMAKER_LIST_ENTRIES:
        raise _validation(f"{field}: {len(values)} entries; at most {SAGEMAKER_LIST_ENTRIES} are allowed")
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise _validation(f"{field}[{i}] must be a string, got {type(value).__name__}")
        if len(value) > SAGEMAKER_LIST_ENTRY_CHARS:
            raise _validation(f"Value '{value[:80]}...' at '{field}.{i + 1}.member' failed to satisfy "
                              f"constraint: Member must have length less than or equal to "
                              f"{SAGEMAKER_LIST_ENTRY_CHARS} (it has {len(value)})")


def check_environment(env: Any) -> None:
    """``Environment``: at most 48 entries, keys and values of at most 256 characters."""
    if env is None:
        return
    if not isinstance(env, dict):
        raise _validation("Environment must be a map of strings")
    if len(env) > SAGEMAKER_ENV_ENTRIES:
        raise _validation(f"Environment: {len(env)} entries; at most {SAGEMAKER_ENV_ENTRIES} are allowed")
    for key, value in env.items():
        if not isinstance(value, str):
            raise _validation(f"Environment[{key!r}] must be a string, got {type(value).__name__}")
        if len(key) > SAGEMAKER_ENV_CHARS or len(value) > SAGEMAKER_ENV_CHARS:
            raise _validation(f"Environment entry {key[:60]!r}: keys and values must have length less than "
                              f"or equal to {SAGEMAKER_ENV_CHARS} (key {len(key)}, value {len(value)})")


def check_hyperparameters(hyper: Any) -> None:
    """``HyperParameters``: at most 100 string entries, keys of 256 and values of 2,500 characters."""
    if hyper is None:
        return
    if not isinstance(hyper, dict):
        raise _validation("HyperParameters must be a map of strings")
    if len(hyper) > SAGEMAKER_HYPERPARAMETERS:
        raise _validation(f"HyperParameters: {len(hyper)} entries; at most {SAGEMAKER_HYPERPARAMETERS} are allowed")
    bad = sorted(k for k, v in hyper.items() if not isinstance(v, str))
    if bad:
        raise _validation(f"HyperParameters values must be strings (not: {', '.join(bad)})")
    for key, value in hyper.items():
        if len(key) > SAGEMAKER_HYPERPARAMETER_KEY_CHARS or len(value) > SAGEMAKER_HYPERPARAMETER_VALUE_CHARS:
            raise _validation(f"HyperParameters entry {key[:60]!r}: key must be at most "
                              f"{SAGEMAKER_HYPERPARAMETER_KEY_CHARS} and value at most "
                              f"{SAGEMAKER_HYPERPARAMETER_VALUE_CHARS} characters (value has {len(value)})")


def check_lambda_request(payload: Any) -> int:
    """A synchronous invocation's request payload must be at most 6 MB."""
    size = payload_bytes(payload)
    if size > LAMBDA_PAYLOAD_BYTES:
        raise TaskFailed("Lambda.RequestTooLargeException", f"Request must be smaller than "
                         f"{LAMBDA_PAYLOAD_BYTES} bytes for the InvokeFunction operation (it has {size})")
    return size


def lambda_response_error(size: int, request_id: str) -> TaskFailed:
    """What Lambda returns when a synchronous response is over 6 MB (the function ran; its answer is lost)."""
    return TaskFailed("Function.ResponseSizeTooLarge", json.dumps({
        "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
                        f"({LAMBDA_PAYLOAD_BYTES} bytes).",
        "errorType": "Function.ResponseSizeTooLarge", "requestId": request_id}))
