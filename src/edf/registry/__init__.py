"""SageMaker Model Registry operations for EDF (register, latest approved, approve/reject, compare).

One implementation used by the workflow Lambdas (``lambdas/register_model``,
``lambdas/get_approved_model``, ``lambdas/create_sagemaker_model``) and by ``edf models``, so an
approval from the command line is exactly the call the workflows see.
"""

from edf.registry.registry import (
    APPROVED,
    PENDING,
    REJECTED,
    NoApprovedModelError,
    RegistryError,
    compare_packages,
    create_model_from_package,
    describe_package,
    latest_approved,
    list_packages,
    metadata_from_report,
    read_report,
    register_model_package,
    set_approval,
)

__all__ = [
    "APPROVED",
    "PENDING",
    "REJECTED",
    "NoApprovedModelError",
    "RegistryError",
    "compare_packages",
    "create_model_from_package",
    "describe_package",
    "latest_approved",
    "list_packages",
    "metadata_from_report",
    "read_report",
    "register_model_package",
    "set_approval",
]
