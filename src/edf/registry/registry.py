"""Model Registry calls (boto3 ``sagemaker`` + ``s3``), shared by the Lambdas and ``edf models``.

Design notes (why it looks like this):

* ``CustomerMetadataProperties`` only holds flat strings of at most 256 characters, so a package
  carries the headline metrics there (for ``list`` views and the console) and points at the full
  evaluation report in S3 through ``ModelMetrics.ModelQuality.Statistics``. Anything that needs
  more than the headline (``show``, ``compare``) reads that report.
* "Newest approved" is decided on the registry's own fields (``CreationTime``, then
  ``ModelPackageVersion`` as the tie-breaker), over every page of ``ListModelPackages``: a group
  accumulates packages for years and the first page is not the whole story.
* An approval or rejection always carries a description (who/why); the audit trail is the
  registry itself. The previous metadata is re-sent with the update plus a timestamp of the
  decision, so a status change never loses the package's metrics.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edf.evaluation.compare import METRICS, metric_table

log = logging.getLogger(__name__)

PENDING = "PendingManualApproval"
APPROVED = "Approved"
REJECTED = "Rejected"
STATUSES = (PENDING, APPROVED, REJECTED)

# Headline metrics of the evaluation report (demand target, medians over buildings); which direction
# is better is decided in edf.evaluation.compare (plain Python, no numpy: this module runs in Lambdas).
HEADLINE_METRICS = METRICS
METADATA_VALUE_MAX = 256
REPORT_FILE = "evaluation_report_edf.json"
DECISION_FILE = "evaluation_decision_edf.json"  # edf.evaluation.gate.DECISION_FILE (no numpy import here)


class RegistryError(RuntimeError):
    """A registry operation that cannot be done; the message says which package or group."""


class NoApprovedModelError(RegistryError):
    """The model package group has no ``Approved`` package (inference cannot run)."""

    def __init__(self, group: str):
        super().__init__(
            f"no Approved model package in model package group {group!r}; train a model and approve it "
            f"with `edf models approve ARN --description ...` (see `edf models list`)"
        )
        self.group = group


# ---------------------------------------------------------------------------------------------
# clients and S3 helpers
# ---------------------------------------------------------------------------------------------

def _client(service: str, client: Any | None) -> Any:
    if client is not None:
        return client
    import boto3  # imported lazily: the module is also imported by CLI help

    return boto3.client(service)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key) with a key; a RegistryError for anything else."""
    from edf.data.io import split_s3_uri as split

    try:
        bucket, key = split(uri)
    except ValueError as exc:
        raise RegistryError(str(exc)) from None
    if not key:
        raise RegistryError(f"malformed S3 URI {uri!r}; expected s3://bucket/key")
    return bucket, key


def read_report(uri: str, s3: Any | None = None) -> dict[str, Any]:
    """Read an evaluation report JSON from S3 (a prefix is completed with the report file name)."""
    if uri.endswith("/"):
        uri += REPORT_FILE
    bucket, key = split_s3_uri(uri)
    s3 = _client("s3", s3)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:  # botocore ClientError or a connection problem: say what we read
        raise RegistryError(f"cannot read evaluation report {uri}: {exc}") from exc
    try:
        report = json.loads(body)
    except json.JSONDecodeError as exc:
        raise RegistryError(f"evaluation report {uri} is not valid JSON: {exc}") from exc
    if not isinstance(report, dict):
        raise RegistryError(f"evaluation report {uri} must be a JSON object")
    return report


def sibling_uri(report_uri: str, name: str) -> str:
    """The URI of ``name`` in the same S3 folder as the report."""
    return report_uri.rsplit("/", 1)[0] + "/" + name


def download_plots(report_uri: str, dest: str | Path, s3: Any | None = None) -> list[Path]:
    """Download the PNGs next to a report into ``dest``; returns the local paths (sorted)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    s3 = _client("s3", s3)
    paths = []
    for uri in report_plots(report_uri, s3):
        bucket, key = split_s3_uri(uri)
        target = dest / key.rsplit("/", 1)[-1]
        try:
            s3.download_file(bucket, key, str(target))
        except Exception as exc:
            raise RegistryError(f"cannot download plot {uri}: {exc}") from exc
        paths.append(target)
    return sorted(paths)


def report_plots(report_uri: str, s3: Any | None = None) -> list[str]:
    """S3 URIs of the PNG plots written next to an evaluation report."""
    bucket, key = split_s3_uri(report_uri)
    prefix = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    s3 = _client("s3", s3)
    plots: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        plots += [f"s3://{bucket}/{o['Key']}" for o in page.get("Contents", []) if o["Key"].endswith(".png")]
    return sorted(plots)


# ---------------------------------------------------------------------------------------------
# metadata
# ---------------------------------------------------------------------------------------------

def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def metadata_from_report(report: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Flat string metadata (≤256 chars per value) from an evaluation report's top-level fields."""
    champion = report.get("champion") or {}
    meta: dict[str, Any] = {
        "strategy": report.get("strategy"),
        "target": report.get("target"),
        "passed": report.get("passed"),
        "passes_thresholds": report.get("passes_thresholds"),
        "beats_baselines": report.get("beats_baselines"),
        "champion_verdict": champion.get("verdict"),
        "champion_version": champion.get("model_package_version"),
        "weather": report.get("weather"),
    }
    headline = report.get("headline") or {}
    for name in HEADLINE_METRICS:
        if headline.get(name) is not None:
            meta[name] = headline[name]
    meta.update(extra or {})
    out: dict[str, str] = {}
    for key, value in meta.items():
        if value is None:
            continue
        text = _fmt(value)
        if len(text) > METADATA_VALUE_MAX:  # the registry rejects longer values; keep it readable
            log.warning("metadata %s truncated to %d characters", key, METADATA_VALUE_MAX)
            text = text[: METADATA_VALUE_MAX - 3] + "..."
        out[key] = text
    return out


def report_uri_of(package: Mapping[str, Any]) -> str | None:
    """The evaluation report S3 URI a package's ``ModelMetrics`` points at."""
    metrics = package.get("ModelMetrics") or {}
    return ((metrics.get("ModelQuality") or {}).get("Statistics") or {}).get("S3Uri")


# ---------------------------------------------------------------------------------------------
# registry operations
# ---------------------------------------------------------------------------------------------

def register_model_package(
    group: str,
    image_uri: str,
    model_data_url: str,
    report_uri: str,
    *,
    description: str | None = None,
    extra_metadata: Mapping[str, Any] | None = None,
    sagemaker: Any | None = None,
    s3: Any | None = None,
) -> dict[str, Any]:
    """Register a trained bundle as a ``PendingManualApproval`` package; returns ARN, version, metadata.

    The evaluation report is read first: a missing or unreadable report means the workflow wiring
    is wrong, and registering a package without its evidence would defeat the manual approval.
    """
    for name, value in (("group", group), ("image_uri", image_uri), ("model_data_url", model_data_url)):
        if not value:
            raise RegistryError(f"register_model_package: {name} is required")
    split_s3_uri(model_data_url)
    report = _decision_or_report(report_uri, s3)
    metadata = metadata_from_report(report, extra_metadata)
    sm = _client("sagemaker", sagemaker)
    execution = metadata.get("execution_name")
    if execution:  # a retried Lambda must not register the same training run twice
        for summary in list_packages(group, PENDING, sm):
            existing = describe_package(summary["ModelPackageArn"], sm)
            if (existing.get("CustomerMetadataProperties") or {}).get("execution_name") == execution:
                log.info("execution %s already registered as %s; not registering again", execution,
                         existing["ModelPackageArn"])
                return {"model_package_arn": existing["ModelPackageArn"],
                        "model_package_version": existing.get("ModelPackageVersion"),
                        "model_approval_status": existing.get("ModelApprovalStatus"),
                        "model_package_group_name": group, "metadata": metadata}
    desc = description or (
        f"EDF {metadata.get('strategy', '?')} model for {metadata.get('target', '?')}; "
        f"evaluation {report_uri}"
    )
    response = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelPackageDescription=desc[:1024],
        ModelApprovalStatus=PENDING,
        InferenceSpecification={
            "Containers": [{"Image": image_uri, "ModelDataUrl": model_data_url}],
            "SupportedContentTypes": ["application/x-parquet"],
            "SupportedResponseMIMETypes": ["application/x-parquet"],
        },
        ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": report_uri}}},
        CustomerMetadataProperties=metadata,
    )
    arn = response["ModelPackageArn"]
    described = sm.describe_model_package(ModelPackageName=arn)
    log.info("registered %s (version %s) in %s as %s", arn, described.get("ModelPackageVersion"), group, PENDING)
    return {
        "model_package_arn": arn,
        "model_package_version": described.get("ModelPackageVersion"),
        "model_approval_status": PENDING,
        "model_package_group_name": group,
        "metadata": metadata,
    }


def _decision_or_report(report_uri: str, s3: Any | None) -> dict[str, Any]:
    """The top-level fields for the package metadata: from the small decision document next to the
    report when there is one (the report grows with the portfolio; this Lambda has little memory),
    else from the report. The report itself must exist either way: it is the package's evidence."""
    s3 = _client("s3", s3)
    if report_uri.endswith("/"):
        report_uri += REPORT_FILE
    bucket, key = split_s3_uri(report_uri)
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        raise RegistryError(f"cannot read evaluation report {report_uri}: {exc}") from exc
    try:
        return read_report(sibling_uri(report_uri, DECISION_FILE), s3)
    except RegistryError:
        log.info("no %s next to %s; reading the report itself", DECISION_FILE, report_uri)
        return read_report(report_uri, s3)


def list_packages(group: str, status: str | None = None, sagemaker: Any | None = None) -> list[dict[str, Any]]:
    """Every package summary of a group (all pages), newest first; optionally one approval status."""
    if status is not None and status not in STATUSES:
        raise RegistryError(f"unknown approval status {status!r}; expected one of {', '.join(STATUSES)}")
    sm = _client("sagemaker", sagemaker)
    kwargs: dict[str, Any] = {"ModelPackageGroupName": group, "SortBy": "CreationTime", "SortOrder": "Descending"}
    if status:
        kwargs["ModelApprovalStatus"] = status
    summaries: list[dict[str, Any]] = []
    try:
        for page in sm.get_paginator("list_model_packages").paginate(**kwargs):
            summaries += page.get("ModelPackageSummaryList", [])
    except Exception as exc:
        raise RegistryError(f"cannot list model packages of group {group!r}: {exc}") from exc
    summaries.sort(key=lambda s: (s.get("CreationTime") or dt.datetime.min.replace(tzinfo=dt.UTC),
                                  s.get("ModelPackageVersion") or 0), reverse=True)
    return summaries


def describe_package(arn: str, sagemaker: Any | None = None) -> dict[str, Any]:
    sm = _client("sagemaker", sagemaker)
    try:
        return sm.describe_model_package(ModelPackageName=arn)
    except Exception as exc:
        raise RegistryError(f"model package {arn!r} not found or not readable: {exc}") from exc


def latest_approved(group: str, sagemaker: Any | None = None) -> dict[str, Any]:
    """The newest ``Approved`` package of ``group`` (full description) or :class:`NoApprovedModelError`."""
    approved = list_packages(group, APPROVED, sagemaker)
    if not approved:
        raise NoApprovedModelError(group)
    return describe_package(approved[0]["ModelPackageArn"], sagemaker)


def package_container(package: Mapping[str, Any]) -> dict[str, str]:
    """Image and ModelDataUrl of a package's (single) inference container."""
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if not containers:
        raise RegistryError(f"model package {package.get('ModelPackageArn')} has no inference container")
    return {"image_uri": containers[0].get("Image", ""), "model_data_url": containers[0].get("ModelDataUrl", "")}


def set_approval(arn: str, status: str, description: str, sagemaker: Any | None = None) -> dict[str, Any]:
    """Approve or reject a package; ``description`` (why / who) is required."""
    if status not in (APPROVED, REJECTED):
        raise RegistryError(f"status must be {APPROVED} or {REJECTED}, got {status!r}")
    if not description or not description.strip():
        raise RegistryError("an approval decision needs a description (who decided and why)")
    sm = _client("sagemaker", sagemaker)
    current = describe_package(arn, sm)
    metadata = dict(current.get("CustomerMetadataProperties") or {})
    metadata["approval_decided_at"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if status == APPROVED:  # kept through later rejections: `edf models rollback` finds former champions by it
        metadata["approved_at"] = metadata["approval_decided_at"]
    sm.update_model_package(
        ModelPackageArn=current.get("ModelPackageArn", arn),
        ModelApprovalStatus=status,
        ApprovalDescription=description.strip()[:1024],
        CustomerMetadataProperties=metadata,
    )
    log.info("model package %s: %s -> %s (%s)", arn, current.get("ModelApprovalStatus"), status, description)
    return {"model_package_arn": current.get("ModelPackageArn", arn), "previous_status": current.get("ModelApprovalStatus"),
            "model_approval_status": status, "approval_description": description.strip()}


def create_model_from_package(
    package_arn: str, model_name: str, role_arn: str, sagemaker: Any | None = None
) -> dict[str, Any]:
    """Create the SageMaker ``Model`` resource for an approved package (idempotent per name)."""
    sm = _client("sagemaker", sagemaker)
    package = describe_package(package_arn, sm)
    if package.get("ModelApprovalStatus") != APPROVED:
        raise RegistryError(f"model package {package_arn} is {package.get('ModelApprovalStatus')}, not {APPROVED}")
    container = package_container(package)
    from botocore.exceptions import ClientError

    try:
        existing = sm.describe_model(ModelName=model_name)
        log.info("SageMaker model %s already exists (a retried invocation); reusing it", model_name)
        model_arn = existing.get("ModelArn")
    except ClientError as exc:  # "Could not find model" is a ValidationException; anything else is real
        if exc.response.get("Error", {}).get("Code") not in ("ValidationException", "ResourceNotFound"):
            raise RegistryError(f"cannot check for SageMaker model {model_name}: {exc}") from exc
        model_arn = sm.create_model(
            ModelName=model_name,
            ExecutionRoleArn=role_arn,
            PrimaryContainer={"ModelPackageName": package_arn},
        ).get("ModelArn")
    return {"model_name": model_name, "model_arn": model_arn, "model_package_arn": package_arn, **container}


def _headline(report: Mapping[str, Any]) -> dict[str, float | None]:
    headline = report.get("headline") or {}
    return {k: (float(headline[k]) if headline.get(k) is not None else None) for k in HEADLINE_METRICS}


def _package_report(arn: str, sm: Any, s3: Any) -> tuple[dict[str, Any], str, dict[str, Any]]:
    package = describe_package(arn, sm)
    uri = report_uri_of(package)
    if not uri:
        raise RegistryError(f"model package {arn} has no evaluation report in ModelMetrics")
    return package, uri, read_report(uri, s3)


def same_window(report: Mapping[str, Any], champion_arn: str | None) -> dict[str, Any] | None:
    """The challenger evaluation's own comparison with ``champion_arn`` on the same rows, if it made one."""
    block = report.get("champion") or {}
    if champion_arn is None or block.get("status") != "compared" or block.get("model_package_arn") != champion_arn:
        return None
    targets = {}
    for target, comp in (block.get("targets") or {}).items():
        targets[target] = {k: comp.get(k) for k in ("verdict", "metric", "rows", "same_rows", "rows_fingerprint",
                                                    "rows_without_champion_forecast", "metrics", "reason")}
    return {"verdict": block.get("verdict"), "metric": block.get("metric"), "margin": block.get("margin"),
            "version": block.get("model_package_version"), "notes": block.get("notes") or [], "targets": targets}


def _data_notes(ch_report: Mapping[str, Any], cp_report: Mapping[str, Any]) -> tuple[bool | None, list[str]]:
    """Whether the two reports were scored on the same data, and what to tell the reader."""
    if not ch_report.get("data_fingerprint") or not cp_report.get("data_fingerprint"):
        return None, ["a report has no data fingerprint (written before it existed): cannot tell whether both "
                      "were evaluated on the same data"]
    differs = [f"{k} {ch_report.get(k)} vs {cp_report.get(k)}" for k in ("eval_start", "eval_end", "data_fingerprint")
               if ch_report.get(k) != cp_report.get(k)]
    if not differs:
        return True, []
    return False, ["the two packages were evaluated on different data (" + "; ".join(differs) + "): their "
                   "report-vs-report headline metrics are not directly comparable"]


def compare_packages(
    challenger_arn: str, champion_arn: str | None, sagemaker: Any | None = None, s3: Any | None = None
) -> dict[str, Any]:
    """Challenger vs champion: the same-window table when the challenger's evaluation scored this
    champion on its own rows (``same_window``), plus both reports' headline metrics (``metrics``).

    ``better`` per metric is ``"challenger"``, ``"champion"``, ``"equal"`` or ``None`` (not
    comparable: missing value, or coverage, which is judged against the nominal interval rather
    than by size). ``same_data`` says whether the two reports saw the same evaluation data
    (window and fingerprint); ``notes`` explain when they did not.
    """
    sm = _client("sagemaker", sagemaker)
    challenger, ch_uri, ch_report = _package_report(challenger_arn, sm, s3)
    result: dict[str, Any] = {
        "challenger": {"arn": challenger_arn, "status": challenger.get("ModelApprovalStatus"),
                       "version": challenger.get("ModelPackageVersion"), "strategy": ch_report.get("strategy"),
                       "report": ch_uri},
        "champion": None, "metrics": {}, "notes": [], "same_window": None, "same_data": None,
    }
    if champion_arn is None:
        result["metrics"] = metric_table(_headline(ch_report), None)
        result["notes"].append("no approved champion: nothing to compare against")
        return result
    champion, cp_uri, cp_report = _package_report(champion_arn, sm, s3)
    result["champion"] = {"arn": champion_arn, "status": champion.get("ModelApprovalStatus"),
                          "version": champion.get("ModelPackageVersion"), "strategy": cp_report.get("strategy"),
                          "report": cp_uri}
    result["metrics"] = metric_table(_headline(ch_report), _headline(cp_report))
    wins = {"challenger": 0, "champion": 0}
    for m in result["metrics"].values():
        if m["better"] in wins:
            wins[m["better"]] += 1
    result["wins"] = wins
    result["same_window"] = same_window(ch_report, champion_arn)
    result["same_data"], notes = _data_notes(ch_report, cp_report)
    result["notes"] += notes
    if result["same_window"] is None:
        scored = (ch_report.get("champion") or {}).get("model_package_arn")
        result["notes"].append(
            f"the challenger's evaluation scored {scored} on its rows, not this champion" if scored else
            "the challenger's evaluation did not score this champion on its rows: no same-window comparison")
    if "weather" in ch_report and "weather" in cp_report and ch_report["weather"] != cp_report["weather"]:
        result["notes"].append(f"weather differs ({ch_report['weather']} vs {cp_report['weather']})")
    return result
