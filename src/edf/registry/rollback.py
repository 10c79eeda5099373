"""Roll back to the previous champion: re-approve it and reject the current one.

Inference uses the newest ``Approved`` package (:func:`edf.registry.latest_approved`, by creation
time). The *current* champion is that package. The *previous* champion is the newest package created
before it that is still ``Approved``, or failing that the newest one that was approved once
(``approved_at`` in its metadata, written by :func:`edf.registry.set_approval`) and rejected
since. ``to`` names another package explicitly.

Order matters: the previous champion is (re-)approved *before* the current one is rejected, so at
no moment is there no approved package for a scheduled inference run to find. Both decisions carry
the operator's description, prefixed with what the rollback did, as ``ApprovalDescription``.
"""

from __future__ import annotations

from typing import Any

from edf.registry.registry import (
    APPROVED,
    REJECTED,
    NoApprovedModelError,
    RegistryError,
    describe_package,
    latest_approved,
    list_packages,
    package_container,
    set_approval,
)


def _summary(package: dict[str, Any]) -> dict[str, Any]:
    meta = package.get("CustomerMetadataProperties") or {}
    return {"arn": package["ModelPackageArn"], "version": package.get("ModelPackageVersion"),
            "status": package.get("ModelApprovalStatus"), "strategy": meta.get("strategy"),
            "created": str(package.get("CreationTime")), **package_container(package)}


def previous_champion(group: str, current: dict[str, Any], sagemaker: Any) -> dict[str, Any]:
    """The package to roll back to (see the module docstring); RegistryError when there is none."""
    summaries = list_packages(group, sagemaker=sagemaker)  # newest first, the order latest_approved uses
    arns = [s["ModelPackageArn"] for s in summaries]
    older = summaries[arns.index(current["ModelPackageArn"]) + 1:] if current["ModelPackageArn"] in arns else []
    for summary in older:
        if summary.get("ModelApprovalStatus") == APPROVED:
            return describe_package(summary["ModelPackageArn"], sagemaker)
    for summary in older:
        package = describe_package(summary["ModelPackageArn"], sagemaker)
        if (package.get("CustomerMetadataProperties") or {}).get("approved_at"):
            return package
    raise RegistryError(
        f"no previous champion in {group!r}: version {current.get('ModelPackageVersion')} is the only package "
        "that was ever approved (reject it with `edf models reject` to stop inference, or approve another)")


def rollback(group: str, description: str, sagemaker: Any, to: str | None = None) -> dict[str, Any]:
    """Re-approve the previous champion (or ``to``), reject the current one; say what inference uses next."""
    if not description or not description.strip():
        raise RegistryError("a rollback needs a description (who decided and why)")
    try:
        current = latest_approved(group, sagemaker)
    except NoApprovedModelError as exc:
        raise RegistryError(f"nothing to roll back: {exc}") from None
    target = describe_package(to, sagemaker) if to else previous_champion(group, current, sagemaker)
    if target["ModelPackageArn"] == current["ModelPackageArn"]:
        raise RegistryError(f"version {current.get('ModelPackageVersion')} is the current champion already")
    cur_v, tgt_v = current.get("ModelPackageVersion"), target.get("ModelPackageVersion")
    set_approval(target["ModelPackageArn"], APPROVED,
                 f"rollback from version {cur_v} to version {tgt_v}: {description.strip()}", sagemaker)
    set_approval(current["ModelPackageArn"], REJECTED,
                 f"rolled back to version {tgt_v}: {description.strip()}", sagemaker)
    following = latest_approved(group, sagemaker)
    result = {
        "rejected": _summary(describe_package(current["ModelPackageArn"], sagemaker)),
        "approved": _summary(describe_package(target["ModelPackageArn"], sagemaker)),
        "next_inference": _summary(following),
        "notes": [],
    }
    if following["ModelPackageArn"] != target["ModelPackageArn"]:
        result["notes"].append(
            f"version {following.get('ModelPackageVersion')} is approved and newer than version {tgt_v}: the next "
            "inference run uses it, not the package rolled back to")
    return result
