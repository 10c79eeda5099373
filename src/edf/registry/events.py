"""Event handling of the three registry Lambdas (the handler files only delegate here).

Events come from the Step Functions ``lambda:invoke`` tasks in ``pipelines/*.asl.json``. Names
that the event does not carry (group, role) come from the function's environment, set by
Terraform and by the local runtime from the same config: ``EDF_MODEL_PACKAGE_GROUP``,
``EDF_SAGEMAKER_ROLE_ARN``; failing that, from the config at ``EDF_CONFIG_URI``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from edf.registry import registry as reg


class EventError(ValueError):
    """The Lambda event lacks a field; the message names it (a wiring bug, not a transient error)."""


def _require(event: Mapping[str, Any], *names: str) -> list[Any]:
    missing = [n for n in names if not event.get(n)]
    if missing:
        raise EventError(f"event is missing {', '.join(missing)} (got keys: {', '.join(sorted(event)) or 'none'})")
    return [event[n] for n in names]


def model_package_group(event: Mapping[str, Any]) -> str:
    group = event.get("model_package_group_name") or os.environ.get("EDF_MODEL_PACKAGE_GROUP")
    if group:
        return str(group)
    from edf.config import load_config

    return load_config(os.environ.get("EDF_CONFIG_URI")).model_package_group


def register(event: Mapping[str, Any]) -> dict[str, Any]:
    """RegisterModelEDF: {model_data_url, image_uri, evaluation_report_uri, [execution_name, training_job_name]}."""
    model_data_url, image_uri, report_uri = _require(event, "model_data_url", "image_uri", "evaluation_report_uri")
    extra = {k: event[k] for k in ("execution_name", "training_job_name") if event.get(k)}
    return reg.register_model_package(model_package_group(event), image_uri, model_data_url, report_uri,
                                      extra_metadata=extra)


def get_approved(event: Mapping[str, Any]) -> dict[str, Any]:
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


def create_model(event: Mapping[str, Any]) -> dict[str, Any]:
    """CreateEDFSageMakerModel: {model_package_arn, model_name, [execution_role_arn]}."""
    package_arn, model_name = _require(event, "model_package_arn", "model_name")
    role = event.get("execution_role_arn") or os.environ.get("EDF_SAGEMAKER_ROLE_ARN")
    if not role:
        raise EventError("no execution role: pass execution_role_arn or set EDF_SAGEMAKER_ROLE_ARN")
    return reg.create_model_from_package(package_arn, model_name, role)
