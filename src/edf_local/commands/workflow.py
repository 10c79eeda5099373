"""``edf workflow``: render the deployed state machines or run them locally on emulated AWS."""

from __future__ import annotations

import argparse
import json

from edf.cli import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("workflow", help="run or render the training/inference state machines locally",
                       description="The ASL templates in pipelines/ rendered with local values and run by the "
                       "local Step Functions interpreter on emulated AWS (bundled data uploaded first). "
                       "Each `run` starts a fresh emulator, so run training and inference in one call.")
    ws = p.add_subparsers(dest="workflow_command", metavar="ACTION", required=True)
    run = ws.add_parser("run", help="run one or more workflows in order on a fresh emulated AWS",
                        description="Run workflows in order, e.g. `edf workflow run training inference --approve "
                        "--input training='{\"strategy\": \"xgboost\"}'`. Prints every state and a timing table.")
    run.add_argument("workflows", nargs="+", choices=["training", "inference"], help="workflows, in order")
    run.add_argument("--input", action="append", default=[], metavar="WORKFLOW=JSON",
                     help="run input for a workflow (repeatable), e.g. inference='{\"inference_date\": \"2017-08-01\"}'")
    run.add_argument("--approve", action="store_true",
                     help="after a successful training run, approve its package (same code as `edf models approve`)")
    source = run.add_mutually_exclusive_group()
    source.add_argument("--buildings", nargs="+", default=None, help="upload only these bundled homes (faster)")
    source.add_argument("--data", default=None, metavar="PATH",
                        help="your portfolio instead of the bundled homes: processed_edf_data Parquet file or folder "
                        "(validated against the contract before anything runs; needs --topology)")
    source.add_argument("--synthetic", default=None, metavar="BUILDINGSxDAYS",
                        help="a labelled synthetic portfolio, e.g. 300x45 (ids synth-*; for scale runs)")
    run.add_argument("--topology", default=None, metavar="PATH",
                     help="topology CSV/Parquet (file or folder) of the --data portfolio")
    run.add_argument("--config", default=None, help="config file to deploy (default: repository config)")
    run.add_argument("--workdir", default=None, help="job directories and logs (default: a temporary folder)")
    run.set_defaults(func=_run)
    render = ws.add_parser("render", help="print a rendered definition (local values)",
                           description="Render pipelines/<workflow>.asl.json with the variables the local runtime "
                           "uses (the same names Terraform passes to templatefile) and print it.")
    render.add_argument("workflow", choices=["training", "inference"])
    render.add_argument("--config", default=None, help="config file (default: repository config)")
    render.set_defaults(func=_render)


def _parse_inputs(items: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in ("training", "inference"):
            raise CommandError(f"--input {item!r}: expected training=JSON or inference=JSON")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--input {name}: not valid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise CommandError(f"--input {name}: must be a JSON object")
        out[name] = value
    return out


def portfolio_from_args(args: argparse.Namespace):
    """The portfolio of a run (None = the bundled homes), checked before anything starts."""
    from edf_local.portfolio import PortfolioError, from_files, synthetic

    if args.topology and not args.data:
        raise CommandError("--topology goes with --data (the bundled and synthetic portfolios bring their own)")
    try:
        if args.data:
            return from_files(args.data, args.topology)
        if args.synthetic:
            return synthetic(args.synthetic)
    except PortfolioError as exc:
        raise CommandError(str(exc)) from None
    return None


def _run(args: argparse.Namespace) -> int:
    from edf_local.runtime import LocalRuntime

    inputs = _parse_inputs(args.input)
    portfolio = portfolio_from_args(args)
    failed = False
    with LocalRuntime(config_path=args.config, buildings=args.buildings, workdir=args.workdir,
                      portfolio=portfolio) as rt:
        for workflow in args.workflows:
            run_input = dict(inputs.get(workflow, {}))
            if workflow == "inference" and "inference_date" not in run_input and rt.processed_last_day:
                run_input["inference_date"] = rt.processed_last_day
            execution = rt.run(workflow, run_input)
            if not execution.succeeded:
                print(f"{workflow} FAILED: {execution.error}: {execution.cause}")
                failed = True
                break
            if workflow == "training" and args.approve:
                from edf.commands.models import decide

                arn = execution.output["registration"]["model_package_arn"]
                import boto3

                out = decide(arn, "Approved", "approved by `edf workflow run --approve` (local run)",
                             boto3.client("sagemaker", region_name=rt.region))
                print(f"approved {out['model_package_arn']} (code path of `edf models approve`)")
    return 1 if failed else 0


def _render(args: argparse.Namespace) -> int:
    from edf.config import ConfigError
    from edf_local.runtime import LocalRuntime

    try:
        runtime = LocalRuntime(config_path=args.config, printer=None)
    except (ConfigError, OSError) as exc:
        raise CommandError(str(exc)) from None
    print(json.dumps(runtime.definition(args.workflow), indent=2))
    return 0
