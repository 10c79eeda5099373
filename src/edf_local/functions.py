"""Which handler file serves which Lambda function name, derived from the config's names.

Terraform deploys ``lambdas/<dir>/handler.py`` under the names ``<config base>-<env_suffix>``;
the local runtime maps the same names to the same files, so a state machine rendered with local
values invokes exactly the code that would run in AWS.
"""

from __future__ import annotations

from pathlib import Path

from edf.config import EDFConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDAS_DIR = REPO_ROOT / "lambdas"

# config field holding the function's base name -> directory under lambdas/
WORKFLOW_FUNCTIONS = {
    "lambda_register_edf_func_base": "register_model",
    "lambda_get_model_func_base": "get_approved_model",
    "lambda_create_sm_model_func_base": "create_sagemaker_model",
    "lambda_load_forecasts_func_base": "load_forecasts",
}


def function_name(cfg: EDFConfig, base_field: str) -> str:
    """Deployed function name for a config field (``RegisterEDFModelFunction-dev``)."""
    return cfg.name(getattr(cfg, base_field))


def workflow_functions(cfg: EDFConfig, lambdas_dir: Path = LAMBDAS_DIR) -> dict[str, Path]:
    """Function name -> handler file for every Lambda the two state machines invoke."""
    return {function_name(cfg, field): lambdas_dir / directory / "handler.py"
            for field, directory in WORKFLOW_FUNCTIONS.items()}


def workflow_function_limits(cfg: EDFConfig) -> dict[str, tuple[int, int]]:
    """Function name -> (memory MB, timeout s) as Terraform deploys them (both read the config)."""
    shared, inf = cfg.lambda_shared, cfg.edf_inference
    by_field = {
        "lambda_register_edf_func_base": (shared.register_model_memory, shared.register_model_timeout),
        "lambda_get_model_func_base": (shared.get_model_memory, shared.get_model_timeout),
        "lambda_create_sm_model_func_base": (shared.create_sm_model_memory, shared.create_sm_model_timeout),
        "lambda_load_forecasts_func_base": (inf.load_forecasts_lambda_memory, inf.load_forecasts_lambda_timeout),
    }
    return {function_name(cfg, field): by_field[field] for field in WORKFLOW_FUNCTIONS}


def function_arn(cfg: EDFConfig, base_field: str, account: str, region: str | None = None) -> str:
    return f"arn:aws:lambda:{region or cfg.aws_region}:{account}:function:{function_name(cfg, base_field)}"
