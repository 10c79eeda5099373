"""Shared helpers of the tests that run against a deployed environment (``make test-deployed-*``).

They only run when ``EDF_DEPLOYED_ENV`` names the environment (CD sets it); otherwise they skip, so
``make test`` never reaches a real account.
"""

from __future__ import annotations

import os
import time
from typing import Any

import boto3
import pytest

from edf.config import load_config

ENV = os.environ.get("EDF_DEPLOYED_ENV")
requires_deployment = pytest.mark.skipif(not ENV, reason="set EDF_DEPLOYED_ENV=<env> (CD does) to test a deployment")


def deployed_config() -> Any:
    return load_config(None, {"env_suffix": ENV})


def state_machine_arn(name: str) -> str:
    sfn = boto3.client("stepfunctions")
    for page in sfn.get_paginator("list_state_machines").paginate():
        for m in page["stateMachines"]:
            if m["name"] == name:
                return m["stateMachineArn"]
    raise AssertionError(f"state machine {name} is not deployed")


def wait_for_execution(arn: str, timeout_s: float, poll_s: float = 30) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while True:
        desc = sfn.describe_execution(executionArn=arn)
        if desc["status"] != "RUNNING":
            return desc
        if time.monotonic() > deadline:
            raise AssertionError(f"{arn} still running after {timeout_s:.0f}s")
        time.sleep(poll_s)
