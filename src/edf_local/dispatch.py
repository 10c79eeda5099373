"""Route Step Functions task ``Resource`` ARNs to the local launchers.

============================================================  =========================================
Resource                                                      local implementation
============================================================  =========================================
``arn:aws:states:::sagemaker:createProcessingJob.sync``       :meth:`LocalSageMakerRunner.create_processing_job`
``arn:aws:states:::sagemaker:createTrainingJob.sync``         :meth:`LocalSageMakerRunner.create_training_job`
``arn:aws:states:::sagemaker:createModel``                    :meth:`LocalSageMakerRunner.create_model`
``arn:aws:states:::glue:startJobRun.sync``                    :meth:`LocalGlueRunner.start_job_run`
``arn:aws:states:::lambda:invoke``                            :meth:`LocalLambdaInvoker.invoke`, wrapped as
                                                              ``{"Payload", "StatusCode", ...}``
``arn:aws:lambda:<region>:<acct>:function:<name>``            the same, result = the payload (legacy form)
``arn:aws:states:::sns:publish``                              boto3 ``sns.publish`` (emulated endpoint)
``arn:aws:states:::aws-sdk:<service>:<action>``               boto3 ``<service>.<snake_case(action)>``
============================================================  =========================================

Errors are named as Step Functions names them (``SageMaker.AmazonSageMakerException``,
``SNS.AmazonSNSException``, ``<Service>.<ErrorCode>`` for SDK integrations) so Retry/Catch blocks
written for AWS match locally too. Any other resource is a clear ``States.TaskFailed``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from edf_local.errors import TaskFailed

# Step Functions service names in aws-sdk integration error names, e.g. "SageMaker.ResourceNotFoundException"
_SERVICE_ERROR_PREFIX = {"sagemaker": "SageMaker", "s3": "S3", "sns": "Sns", "sqs": "Sqs", "dynamodb": "DynamoDb",
                         "lambda": "Lambda", "sfn": "Sfn", "timestreamwrite": "TimestreamWrite",
                         "cloudwatch": "CloudWatch", "eventbridge": "EventBridge", "ssm": "Ssm"}
# aws-sdk integration service names that differ from boto3's
_BOTO_SERVICE = {"sfn": "stepfunctions", "timestreamwrite": "timestream-write", "timestreamquery": "timestream-query",
                 "eventbridge": "events", "cloudwatchlogs": "logs", "secretsmanager": "secretsmanager"}


def snake_case(action: str) -> str:
    """``createModelPackage`` / ``CreateModelPackage`` -> ``create_model_package``."""
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", action)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))


def make_dispatch(runner: Any, invoker: Any, session: boto3.Session | None = None,
                  glue: Any = None) -> Callable[[str, Any, dict], Any]:
    """Build the ``task_dispatch(resource, parameters, context)`` callable for :class:`LocalStepFunctions`.

    ``runner`` is a :class:`~edf_local.sagemaker_runner.LocalSageMakerRunner` (or None if the
    definition has no SageMaker tasks), ``invoker`` a :class:`~edf_local.lambdas.LocalLambdaInvoker`
    (or None), ``glue`` a :class:`~edf_local.glue_runner.LocalGlueRunner` (or None); ``session`` supplies boto3 clients for SNS and SDK integrations (default session,
    i.e. the emulator when ``AWS_ENDPOINT_URL`` is set); ``glue`` a
    :class:`~edf_local.glue_runner.LocalGlueRunner` (or None).
    """
    return Dispatcher(runner, invoker, session, glue).dispatch


class Dispatcher:
    """One launcher per kind of task Resource (see the module table)."""

    def __init__(self, runner: Any, invoker: Any, session: boto3.Session | None = None, glue: Any = None) -> None:
        self.runner, self.invoker, self.session, self.glue = runner, invoker, session, glue
        self._clients: dict[tuple[str, str | None, str | None], Any] = {}

    def client(self, service: str) -> Any:
        key = (service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_DEFAULT_REGION"))
        if key not in self._clients:
            self._clients[key] = (self.session or boto3.Session()).client(service)
        return self._clients[key]

    @staticmethod
    def need(component: Any, what: str, resource: str) -> Any:
        if component is None:
            raise TaskFailed("States.TaskFailed", f"{resource}: no local {what} was configured for this run")
        return component

    def lambda_invoke(self, params: dict[str, Any], resource: str) -> dict[str, Any]:
        inv = self.need(self.invoker, "Lambda invoker", resource)
        if "FunctionName" not in params:
            raise TaskFailed("Lambda.InvalidParameterValueException", "lambda:invoke needs 'FunctionName'")
        payload = params.get("Payload")
        if isinstance(payload, str):
            try:
                payload = json.loads(payload)
            except ValueError as exc:
                raise TaskFailed("Lambda.InvalidRequestContentException", f"Payload is not JSON: {exc}") from exc
        result = inv.invoke(params["FunctionName"], payload)
        return {"ExecutedVersion": "$LATEST", "Payload": result, "StatusCode": 200,
                "SdkHttpMetadata": {"HttpStatusCode": 200}, "SdkResponseMetadata": {"RequestId": "local"}}

    def sns_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        params = dict(params)
        if "Message" in params and not isinstance(params["Message"], str):
            params["Message"] = json.dumps(params["Message"])  # Step Functions serialises JSON messages
        try:
            response = self.client("sns").publish(**params)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise TaskFailed("SNS.AmazonSNSException", f"{err.get('Code')}: {err.get('Message')}") from exc
        except (BotoCoreError, ParamValidationError) as exc:
            raise TaskFailed("SNS.AmazonSNSException", str(exc)) from exc
        return {"MessageId": response["MessageId"], "SdkHttpMetadata": {"HttpStatusCode": 200}}

    def aws_sdk(self, service: str, action: str, params: dict[str, Any]) -> Any:
        boto_service = _BOTO_SERVICE.get(service, service)
        prefix = _SERVICE_ERROR_PREFIX.get(service, service[:1].upper() + service[1:])
        try:
            method = getattr(self.client(boto_service), snake_case(action))
        except (BotoCoreError, AttributeError) as exc:
            raise TaskFailed("States.TaskFailed", f"aws-sdk:{service}:{action} is not a known API call: {exc}") from exc
        try:
            response = method(**(params or {}))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            name = code if code.endswith("Exception") else f"{code}Exception"
            raise TaskFailed(f"{prefix}.{name}", exc.response.get("Error", {}).get("Message", str(exc))) from exc
        except (ParamValidationError, BotoCoreError) as exc:
            raise TaskFailed(f"{prefix}.ValidationException", str(exc)) from exc
        response = dict(response)
        response.pop("ResponseMetadata", None)
        for key, value in list(response.items()):
            if hasattr(value, "read"):  # streaming payloads (s3:getObject Body) arrive as text in Step Functions
                response[key] = value.read().decode("utf-8", errors="replace")
        return _jsonable(response)

    def sagemaker(self, resource: str, params: dict[str, Any]) -> Any:
        action = resource.split(":")[-1]
        sm = self.need(self.runner, "SageMaker job runner", resource)
        if action == "createProcessingJob.sync":
            return sm.create_processing_job(params)
        if action == "createTrainingJob.sync":
            return sm.create_training_job(params)
        if action == "createModel":
            return sm.create_model(params)
        raise TaskFailed("States.TaskFailed", f"unsupported SageMaker integration {resource!r} "
                         "(local: createProcessingJob.sync, createTrainingJob.sync, createModel)")

    def dispatch(self, resource: str, parameters: Any, context: dict) -> Any:
        params = parameters if isinstance(parameters, dict) else {}
        if resource.startswith("arn:aws:states:::sagemaker:"):
            return self.sagemaker(resource, params)
        if resource == "arn:aws:states:::glue:startJobRun.sync":
            return self.need(self.glue, "Glue job runner", resource).start_job_run(params)
        if resource == "arn:aws:states:::lambda:invoke":
            return self.lambda_invoke(params, resource)
        if re.match(r"^arn:aws:lambda:[^:]*:[^:]*:function:", resource):
            return self.need(self.invoker, "Lambda invoker", resource).invoke(resource, parameters)
        if resource == "arn:aws:states:::sns:publish":
            return self.sns_publish(params)
        m = re.match(r"^arn:aws:states:::aws-sdk:([a-z0-9-]+):([A-Za-z0-9]+)$", resource)
        if m:
            return self.aws_sdk(m.group(1), m.group(2), params)
        raise TaskFailed("States.TaskFailed", f"no local implementation for task resource {resource!r} "
                         "(supported: sagemaker createProcessingJob.sync/createTrainingJob.sync/createModel, "
                         "glue:startJobRun.sync, lambda:invoke, sns:publish, aws-sdk:<service>:<action>)")
