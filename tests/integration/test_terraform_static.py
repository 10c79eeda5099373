"""Terraform checks that need no AWS: fmt, validate (offline provider mirror), checkov, and the
contracts between the stacks and the files they template (ASL placeholders, OpenAPI placeholders,
config names)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from terraform_support import (  # noqa: F401 - terraform_required is an autouse fixture
    PLUGIN_DIR,
    REPO,
    STACKS,
    TERRAFORM_DIR,
    base_env,
    terraform_required,
    tf,
)

from edf_local.templates import template_variables

CHECKOV_VENV = REPO / ".venv-checkov"


def _templatefile_keys(stack: str, template: str) -> set[str]:
    """Keys of the map literal passed to templatefile(".../<template>", { ... }) in a stack."""
    text = (TERRAFORM_DIR / "stacks" / stack / "main.tf").read_text()
    start = text.index(template)
    body = text[text.index("{", start) + 1:]
    depth, end = 1, 0
    for i, ch in enumerate(body):
        depth += ch == "{"
        depth -= ch == "}"
        if depth == 0:
            end = i
            break
    return set(re.findall(r"^\s*([a-z_][a-z0-9_]*)\s*=", body[:end], flags=re.M))


def test_fmt_is_clean():
    proc = subprocess.run(["terraform", "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"terraform fmt would change files:\n{proc.stdout}{proc.stderr}"


@pytest.mark.parametrize("stack", STACKS)
def test_validate(stack, tmp_path):
    env = base_env(tmp_path / "data")
    cwd = TERRAFORM_DIR / "stacks" / stack
    # -lockfile=readonly: the committed lock file must already match the mirrored provider.
    tf(["init", "-backend=false", f"-plugin-dir={PLUGIN_DIR}", "-lockfile=readonly"], cwd, env, timeout=300)
    proc = tf(["validate", "-json"], cwd, env, timeout=300)
    result = json.loads(proc.stdout)
    assert result["valid"], result
    assert result["warning_count"] == 0, result["diagnostics"]


@pytest.mark.parametrize(("stack", "template"), [("training_edf", "training.asl.json"),
                                                  ("inference_edf", "inference.asl.json")])
def test_stack_supplies_exactly_the_asl_placeholders(stack, template):
    wanted = template_variables((REPO / "pipelines" / template).read_text())
    readme = (REPO / "pipelines" / "README.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", readme, flags=re.M))
    assert wanted <= documented, f"placeholders missing from pipelines/README.md: {wanted - documented}"
    given = _templatefile_keys(stack, f"pipelines/{template}")
    assert given == wanted, f"{stack}: missing {sorted(wanted - given)}, unused {sorted(given - wanted)}"


def test_api_supplies_exactly_the_openapi_placeholders():
    wanted = template_variables((REPO / "src/edf/serving/openapi.yaml").read_text())
    given = _templatefile_keys("inference_edf", "openapi_template_vars")
    module_text = (TERRAFORM_DIR / "modules/rest_api/main.tf").read_text()
    given |= set(re.findall(r"^\s*(cognito_user_pool_arn)\s*=", module_text, flags=re.M))
    assert given == wanted, f"missing {sorted(wanted - given)}, unused {sorted(given - wanted)}"


def test_templates_render_with_terraform_templatefile(tmp_path):
    """Terraform itself (not our renderer) accepts every template: a stray "${" in a comment of the
    OpenAPI document or the ASL is a template error only Terraform's parser reports."""
    templates = {"openapi": REPO / "src/edf/serving/openapi.yaml",
                 "training": REPO / "pipelines/training.asl.json",
                 "inference": REPO / "pipelines/inference.asl.json"}
    exprs = []
    for path in templates.values():
        names = sorted(template_variables(path.read_text()))
        mapping = ", ".join(f'{n} = "x"' for n in names)
        exprs.append(f'length(templatefile("{path}", {{ {mapping} }}))')
    proc = subprocess.run(["terraform", "console"], input="[" + ", ".join(exprs) + "]\n", capture_output=True, text=True,
                          cwd=tmp_path, env=base_env(tmp_path / "data"), timeout=120)
    assert proc.returncode == 0 and "Error" not in proc.stderr, proc.stderr[-3000:]
    lengths = [int(n) for n in re.findall(r"\d+", proc.stdout)]
    assert len(lengths) == len(templates) and all(n > 1000 for n in lengths), proc.stdout


def test_no_config_name_is_hard_coded():
    """Every *_base name comes from config/edf_config.yaml, never a literal in the .tf files."""
    cfg = yaml.safe_load((REPO / "config/edf_config.yaml").read_text())
    bases = {k: v for k, v in cfg.items() if k.endswith("_base") and isinstance(v, str)}
    bases["forecast_table_name"] = cfg["forecast_table_name"]
    bases.update({f"edf_storage.{k}": v for k, v in cfg["edf_storage"].items() if k.endswith(("_base", "_table"))})
    offenders = []
    for path in TERRAFORM_DIR.rglob("*.tf"):
        if ".terraform" in path.parts:
            continue
        text = path.read_text()
        # A name literal is a quoted string that is, or starts, the name (descriptions may mention it).
        offenders += [f"{path.relative_to(REPO)}: {value}" for value in bases.values()
                      if re.search(rf'"{re.escape(value)}(-|")', text)]
    assert not offenders, offenders


def test_no_iam_statement_grants_star_action():
    for path in TERRAFORM_DIR.rglob("*.tf"):
        if ".terraform" in path.parts:
            continue
        text = path.read_text()
        assert not re.search(r'Action\s*=\s*"\*"', text), path
        assert not re.search(r'actions\s*=\s*\[\s*"\*"', text), path
        assert not re.search(r'Action\s*=\s*\[[^\]]*"\*"', text), path


def _checkov() -> Path:
    exe = CHECKOV_VENV / "bin" / "checkov"
    if not exe.exists():
        proc = subprocess.run(["make", ".venv-checkov"], cwd=REPO, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0 or not exe.exists():
            pytest.fail(f"cannot create .venv-checkov (`make .venv-checkov`): {proc.stderr[-500:]}")
    return exe


@pytest.mark.slow
def test_checkov_zero_failed_checks():
    exe = _checkov()
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false", "LOG_LEVEL": "ERROR"}
    proc = subprocess.run([str(exe), "-d", str(TERRAFORM_DIR), "--framework", "terraform", "--skip-download",
                           "-o", "json", "--quiet"], capture_output=True, text=True, timeout=600, env=env)
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
              for r in reports for c in r["results"].get("failed_checks", [])]
    assert not failed, "\n".join(failed)
    assert sum(r["summary"]["passed"] for r in reports) > 100  # it really scanned the stacks
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports)


def test_every_checkov_skip_has_a_reason():
    for path in TERRAFORM_DIR.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                m = re.search(r"checkov:skip=(CKV2?_AWS_\d+):\s*(.+)", line)
                assert m and len(m.group(2).split()) >= 4, f"{path}: skip without a reason: {line.strip()}"


def test_dynamodb_store_roles_may_read_building_areas():
    """The DynamoDB store reads buildings' current areas with BatchGetItem (issue 14, item 7): the load
    before moving a building, the APIs to keep recommendations in the current area. (The policies
    hold the table ARN, unknown at plan time, so the actions are read from the stack.)"""
    text = (TERRAFORM_DIR / "stacks" / "inference_edf" / "main.tf").read_text()
    block = text[text.index("DYNAMODB = {"):]
    block = block[:block.index("}")]
    for role in ("write", "read"):
        actions = re.search(rf"{role}\s*=\s*\[([^\]]*)\]", block).group(1)
        assert '"dynamodb:BatchGetItem"' in actions, role

