"""``edf demo`` (what ``make demo`` runs): the whole system on the bundled real data, locally.

Starts the local runtime (emulated AWS, the deployed ASL in the local Step Functions interpreter,
jobs as subprocesses with the SageMaker layout, Lambdas in-process), runs the training workflow,
shows the evaluation and the pending package, approves it through the code path of
``edf models approve``, runs the inference workflow for the day after the data ends, prints a
summary with per-state durations, then serves the APIs until Ctrl-C (``--no-serve`` exits).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from typing import Any

from edf.cli import CommandError

DEMO_STRATEGY = "xgboost"  # the fastest strategy keeps `make demo` under 10 minutes on 2 cores
# Training window of the demo: 0 = the whole bundled year (measured: training -> approval ->
# inference in 7.5 min on the 2-core machine while it was heavily loaded); `--days N` trains on
# the last N days only, for a quicker look.
DEMO_DAYS = 0


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser(
        "demo", help="train, approve and forecast locally on the bundled real data, then serve the APIs",
        description="Run the training workflow, show the evaluation and the pending model package, approve it "
        "(same code as `edf models approve`), run the inference workflow for the day after the data ends, print "
        "a summary, then serve the B2B/B2C APIs locally until Ctrl-C. Everything runs on emulated AWS: no "
        "account or Docker needed.")
    d.add_argument("--strategy", default=DEMO_STRATEGY, choices=["prophet", "xgboost", "lstm"],
                   help=f"demand model strategy (default: {DEMO_STRATEGY}, the fastest)")
    d.add_argument("--buildings", nargs="+", default=None, help="only these bundled homes (default: all 17)")
    d.add_argument("--days", type=int, default=DEMO_DAYS,
                   help="train on the last N days of the data only (default 0 = the whole bundled year)")
    d.add_argument("--workdir", default=None, help="keep job directories and logs here (default: a temporary folder)")
    d.add_argument("--no-serve", action="store_true", help="exit after the summary (no local API server)")
    d.add_argument("--host", default="127.0.0.1", help="API server host (default 127.0.0.1)")
    d.add_argument("--port", type=int, default=8080, help="API server port (default 8080; 0 = any free port)")
    d.set_defaults(func=_demo)


def _banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def _demo(args: argparse.Namespace) -> int:
    import boto3

    from edf.commands.models import decide, render_evaluation, show_package
    from edf_local.progress import WorkflowProgress
    from edf_local.runtime import LocalRuntime, format_timings
    from edf_local.weather import weather_summary_line

    started = time.perf_counter()
    timings: dict[str, Any] = {}
    progress = WorkflowProgress()  # states done: a bar on a terminal, '[progress]' lines otherwise
    with LocalRuntime(buildings=args.buildings, workdir=args.workdir, printer=progress.print,
                      state_listener=progress.state) as rt:
        sm = boto3.client("sagemaker", region_name=rt.region)
        s3 = boto3.client("s3", region_name=rt.region)

        _banner(f"1/4 training workflow ({rt.cfg.name(rt.cfg.edf_training_sfn_base)}, strategy {args.strategy})")
        training_input: dict[str, Any] = {"strategy": args.strategy}
        if args.days and args.days > 0:
            end = dt.date.fromisoformat(rt.processed_last_day)
            training_input["start_date"] = (end - dt.timedelta(days=args.days)).isoformat()
            print(f"training window: the last {args.days} days of data (from {training_input['start_date']}); "
                  "evaluation on the final days of it")
        with progress.run("training", rt.definition("training")):
            training = rt.run("training", training_input, execution_name=f"demo-training-{_stamp()}")
        timings["training"] = training
        if not training.succeeded:
            print(f"training failed: {training.error}: {training.cause}")
            report = _failed_report(rt, training.name, s3) if training.error == "EDF.EvaluationFailed" else None
            if report:
                print(render_evaluation(report))
                print("nothing was registered; try the whole year (--days 0) or another --strategy")
            return 1
        arn = training.output["registration"]["model_package_arn"]

        _banner("2/4 evaluation and the pending model package")
        info = show_package(arn, sm, s3)
        print(f"package {arn} (version {info['version']}): {info['status']}")
        if info["evaluation"]:
            print(render_evaluation(info["evaluation"]))
        print(f"  report {info['evaluation_report']}; {len(info['plots'])} plot(s) next to it")

        _banner("3/4 approval")
        print("approving through edf.commands.models.decide - the same code path as "
              f"`edf models approve {info['version']} --description ...`")
        decision = decide(arn, "Approved", "approved by edf demo after reviewing the evaluation above", sm)
        print(f"{decision['model_package_arn']}: {decision['previous_status']} -> {decision['model_approval_status']}")

        inference_date = rt.processed_last_day
        _banner(f"4/4 inference workflow ({rt.cfg.name(rt.cfg.edf_inference_sfn_base)}) for {inference_date}, "
                "the day after the data ends")
        with progress.run("inference", rt.definition("inference")):
            inference = rt.run("inference", {"inference_date": inference_date},
                               execution_name=f"demo-inference-{_stamp()}")
        timings["inference"] = inference
        if not inference.succeeded:
            print(f"inference failed: {inference.error}: {inference.cause}")
            return 1

        _banner("summary")
        for name, execution in timings.items():
            print(f"{name}: {execution.status}, {len(execution.state_durations)} states, "
                  f"{execution.duration_s:.1f}s")
            print(format_timings(execution))
        headline = (info["evaluation"] or {}).get("headline") or {}
        print("model: " + f"{info['metadata'].get('strategy')} v{info['version']}; "
              + ", ".join(f"{k}={v:.3g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in headline.items()))
        load = inference.output.get("load", {})
        print(f"forecasts stored: {load.get('forecasts_written')} rows, recommendations: "
              f"{load.get('recommendations_written')} rows, backend {load.get('backend')}, run_id {load.get('run_id')}")
        print(weather_summary_line(rt, inference_date))
        print(f"training -> approval -> inference took {time.perf_counter() - started:.1f}s in total; "
              f"job logs under {rt.workdir / 'jobs'}")
        follow_up = f"edf local monitor --strategy {args.strategy}"
        follow_up += f" --buildings {' '.join(args.buildings)}" if args.buildings else ""
        follow_up += f" --train-days {args.days}" if args.days else ""
        print(f"accuracy report (forecast the last 3 days, scored once their actuals are released): {follow_up}")
        if args.no_serve:
            return 0
        return _serve(rt, args, inference_date)


def _failed_report(rt: Any, execution_name: str, s3: Any) -> dict | None:
    """The evaluation report of a training execution that ended in EvaluationFailedEDF."""
    from edf.registry import RegistryError, read_report

    uri = rt.cfg.s3_path("s3_eval_report_base", sfn_name=rt.cfg.name(rt.cfg.edf_training_sfn_base),
                         exec_id=execution_name)
    try:
        return read_report(uri, s3)
    except RegistryError:
        return None


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")


def _serve(rt: Any, args: argparse.Namespace, inference_date: str) -> int:
    from edf_local.cognito import write_state
    from edf_local.gateway import print_usage, start_server

    try:
        server, base_url = start_server(rt.cfg, args.host, args.port, endpoint_url=rt.emulator.endpoint_url)
    except OSError as exc:
        raise CommandError(f"cannot serve on {args.host}:{args.port}: {exc} (try --port 0)") from None
    write_state(rt.cfg.edf_serving.local_state_path, server.user_pool, base_url)
    _banner("serving (Ctrl-C to stop)")
    print_usage(base_url, server=server, cfg=rt.cfg, date=dt.date.fromisoformat(inference_date))
    print(f"Model registry on the emulator: edf models list --endpoint-url {rt.emulator.endpoint_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping")
    finally:
        server.shutdown()
    return 0
