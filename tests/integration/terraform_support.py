"""Helpers for the Terraform tests: run the CLI offline, stage the stacks, point them at the emulator.

The stacks are applied from a staged copy (``terraform/``, ``pipelines/``, ``config/`` and the two
files Terraform reads from ``src/``) so the committed backend configuration is never touched: the
copy gets an ``emulator_override.tf`` with a local backend and a provider pointed at the emulated
AWS endpoint. Nothing is written into the checkout except by ``terraform fmt -check``/``validate``
(which write nothing with ``TF_DATA_DIR`` outside it and a committed lock file).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
STACKS = ("training_edf", "inference_edf")
PLUGIN_DIR = os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins")
# Provider endpoint keys of every service the stacks touch (aws provider 5.x names).
EMULATED_SERVICES = (
    "apigateway", "cloudwatch", "cognitoidp", "dynamodb", "ec2", "ecr", "events", "glue", "iam", "kms", "lambda",
    "logs", "rds", "s3", "sagemaker", "scheduler", "secretsmanager", "sfn", "sns", "sqs", "sts", "timestreamquery",
    "timestreamwrite",
)
# Files outside terraform/ that the stacks read (templatefile / file / jsondecode).
STAGED_FILES = ("src/edf/packaging/functions.json", "src/edf/serving/openapi.yaml", "src/edf/jobs/glue_features.py")
STAGED_DIRS = ("terraform", "pipelines", "config")


class TerraformError(AssertionError):
    """A terraform command failed; carries the tail of its output."""


def terraform_available() -> bool:
    return shutil.which("terraform") is not None and Path(PLUGIN_DIR).is_dir()


@pytest.fixture(autouse=True, scope="module")
def terraform_required():
    """The infrastructure checks are part of `make test`: a missing toolchain fails, never skips."""
    if not terraform_available():
        pytest.fail("terraform CLI or the AWS provider mirror (TF_PLUGIN_DIR) is missing; "
                    "`make test` needs both (see the README, Tests and benchmarks)")


def base_env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for terraform: no real credentials or profiles, no checkpoint calls, own data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    rc = data_dir.parent / "terraformrc"
    rc.parent.mkdir(parents=True, exist_ok=True)
    rc.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{PLUGIN_DIR}"\n  }}\n}}\n')
    env.update({
        "TF_DATA_DIR": str(data_dir), "TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1",
        "TF_CLI_CONFIG_FILE": str(rc),
    })
    env.update(extra or {})
    return env


def tf(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600, ok_codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    """Run ``terraform <args>``; raise :class:`TerraformError` with the output tail on an unexpected code."""
    proc = subprocess.run(["terraform", *args, "-no-color"] if args[0] not in ("fmt", "output") else ["terraform", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode not in ok_codes:
        tail = (proc.stdout + "\n" + proc.stderr)[-6000:]
        raise TerraformError(f"terraform {' '.join(args)} (in {cwd}) exited {proc.returncode}:\n{tail}")
    return proc


def stage(dst: Path) -> Path:
    """Copy what the stacks read into ``dst`` with the repository layout; return ``dst``."""
    for d in STAGED_DIRS:
        shutil.copytree(REPO / d, dst / d, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "__pycache__"))
    for f in STAGED_FILES:
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / f, dst / f)
    return dst


def emulator_override(endpoint_url: str, max_retries: int = 3) -> str:
    """HCL override: local backend and every provider endpoint on the emulator (fake credentials)."""
    endpoints = "\n".join(f'    {s} = "{endpoint_url}"' for s in EMULATED_SERVICES)
    return f"""terraform {{
  backend "local" {{}}
}}

provider "aws" {{
  access_key                  = "testing"
  secret_key                  = "testing"
  max_retries                 = {max_retries}
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true

  endpoints {{
{endpoints}
  }}
}}
"""


def tfvars_args(variables: dict[str, Any]) -> list[str]:
    """``-var`` arguments (lists/maps JSON-encoded, which Terraform accepts as HCL)."""
    out = []
    for key, value in variables.items():
        text = json.dumps(value) if isinstance(value, (list, dict, bool)) else str(value)
        out += ["-var", f"{key}={text}"]
    return out


def outputs(stack_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    proc = tf(["output", "-json"], stack_dir, env)
    return {k: v["value"] for k, v in json.loads(proc.stdout).items()}
