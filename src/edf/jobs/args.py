"""Arguments every SageMaker job shares, and JSON arguments that may live in S3.

SageMaker caps each ``ContainerArguments`` entry at 256 characters (and training hyperparameter
values at 2,500), so anything that grows with the run input — config overrides, grid conditions —
reaches a job as a *reference*: the workflow writes the JSON to S3 and passes its ``s3://`` URI. For
hand runs the same argument also takes inline JSON or a local file path.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edf.config import EDFConfig, load_config


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config`` and ``--overrides``, as every job entrypoint takes them."""
    parser.add_argument("--config", default=None, help="config path or s3:// URI (default: repository config)")
    parser.add_argument("--overrides", default=None,
                        help="config overrides from the workflow input: an s3:// URI of a JSON document "
                        "(what the workflows pass), a local JSON file, or inline JSON")


def read_json_argument(value: str | None, what: str) -> Any:
    """The JSON document ``value`` holds or points at (s3:// URI, local file or inline JSON)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.startswith("s3://"):
        from edf.data.io import s3_client, split_s3_uri

        bucket, key = split_s3_uri(text)
        text = s3_client().get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    elif not text.startswith(("{", "[")) and Path(text).is_file():
        text = Path(text).read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not valid JSON ({exc}): {value[:200]!r}") from None


def job_config(args: argparse.Namespace) -> EDFConfig:
    """The config of this run: the deployed file plus the run's overrides."""
    overrides = read_json_argument(getattr(args, "overrides", None), "--overrides")
    if overrides is not None and not isinstance(overrides, dict):
        raise ValueError("--overrides must be a JSON object in the config's shape")
    return load_config(getattr(args, "config", None), overrides)
