"""Event handling of the three registry Lambdas (the handler files only delegate here).

Events come from the Step Functions ``lambda:invoke`` tasks in ``pipelines/*.asl.json``; each
Lambda has its event model, and :func:`handle` acts on whichever it is given. Names that the
event does not carry (group, role) come from the function's environment, set by Terraform and by
the local runtime from the same config: ``EDF_MODEL_PACKAGE_GROUP``, ``EDF_SAGEMAKER_ROLE_ARN``;
failing that, from the config at ``EDF_CONFIG_URI``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from edf.lambda_events import InvalidEvent, LambdaEvent, Required
from edf.registry import registry as reg

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


class _GroupEvent(LambdaEvent):
    model_package_group_name: str | None = None  # default: env EDF_MODEL_PACKAGE_GROUP, then the config


class RegisterModelEvent(_GroupEvent):
    """RegisterModelEDF: the evaluated bundle, its image and its evaluation report."""

    model_data_url: Required
    image_uri: Required
    evaluation_report_uri: Required
    execution_name: str | None = None
    training_job_name: str | None = None


class GetApprovedModelEvent(_GroupEvent):
    """GetApprovedEDFModelPackage: nothing but the group (optional)."""


class CreateSageMakerModelEvent(LambdaEvent):
    """CreateEDFSageMakerModel: the approved package and the Model resource's name."""

    model_package_arn: Required
    model_name: Required
    execution_role_arn: str | None = None  # default: env EDF_SAGEMAKER_ROLE_ARN


RegistryEvent = RegisterModelEvent | GetApprovedModelEvent | CreateSageMakerModelEvent


def handle(event: RegistryEvent, context: LambdaContext | None = None) -> dict[str, Any]:
    """The registry Lambda the event's type names."""
    if isinstance(event, RegisterModelEvent):
        return register(event)
    if isinstance(event, GetApprovedModelEvent):
        return get_approved(event)
    return create_model(event)


def model_package_group(event: _GroupEvent) -> str:
    group = event.model_package_group_name or os.environ.get("EDF_MODEL_PACKAGE_GROUP")
    if group:
        return str(group)
    from edf.config import load_config

    return load_config(os.environ.get("EDF_CONFIG_URI")).model_package_group


def register(event: RegisterModelEvent) -> dict[str, Any]:
    """RegisterModelEDF -> the PendingManualApproval package (the same one on a retried invocation)."""
    extra = {k: v for k in ("execution_name", "training_job_name") if (v := getattr(event, k))}
    return reg.register_model_package(model_package_group(event), event.image_uri, event.model_data_url,
                                      event.evaluation_report_uri, extra_metadata=extra)


def get_approved(event: GetApprovedModelEvent) -> dict[str, Any]:
    """GetApprovedEDFModelPackage: newest Approved package -> ARN, version, image, model data, strategy."""
    group = model_package_group(event)
    package = reg.latest_approved(group)
    container = reg.package_container(package)
    meta = package.get("CustomerMetadataProperties") or {}
    return {
        "model_package_arn": package["ModelPackageArn"],
        "model_package_version": package.get("ModelPackageVersion"),
        "model_package_group_name": group,
        "strategy": meta.get("strategy", "unknown"),
        "evaluation_report_uri": reg.report_uri_of(package),
        **container,
    }


def create_model(event: CreateSageMakerModelEvent) -> dict[str, Any]:
    """CreateEDFSageMakerModel -> the SageMaker Model of the approved package (reused on a retry)."""
    role = event.execution_role_arn or os.environ.get("EDF_SAGEMAKER_ROLE_ARN")
    if not role:
        raise InvalidEvent("CreateSageMakerModelEvent: no execution role: pass execution_role_arn "
                           "or set EDF_SAGEMAKER_ROLE_ARN")
    return reg.create_model_from_package(event.model_package_arn, event.model_name, role)
