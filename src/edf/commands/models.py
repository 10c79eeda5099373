"""``edf models``: review and decide on model packages (list, show, compare, explain, approve, reject, rollback).

The MLOps engineer's side of the manual approval gate. Every subcommand uses the same
``edf.registry`` calls as the workflow Lambdas, against real AWS (your normal credentials and
region) or an emulated endpoint (``--endpoint-url``, e.g. the one ``edf demo`` prints while it
serves).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from edf.cli import CommandError

HEADLINE_COLUMNS = ("mape_pct", "rmse", "cv_rmse_pct", "coverage")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models", help="list, inspect, compare, explain, approve, reject or roll back model packages",
        description="Review the EDF model package group (SageMaker Model Registry) and decide on pending "
        "packages. Works against real AWS (default credentials) or an emulated endpoint (--endpoint-url). "
        "A package is referenced by its ARN or its version number in the group.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=None, help="config path or s3:// URI (default: repository config); "
                        "gives the group name and region")
    common.add_argument("--group", default=None, help="model package group (default: from the config)")
    common.add_argument("--endpoint-url", default=None,
                        help="AWS endpoint to use instead of AWS (e.g. the local emulator URL `edf demo` prints)")
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ms = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    ls = ms.add_parser("list", parents=[common], help="packages with status and headline metrics, newest first",
                       description="List the packages of the group, newest first, with approval status and the "
                       "headline evaluation metrics (demand target, median over buildings).")
    ls.add_argument("--status", choices=["PendingManualApproval", "Approved", "Rejected"], default=None,
                    help="only packages with this approval status")
    ls.set_defaults(func=_list)

    show = ms.add_parser("show", parents=[common], help="one package: container, metadata, full evaluation, plots",
                         description="Show one package with its container, approval history, the full evaluation "
                         "report (thresholds, baselines, per target) and the S3 location of its plots.")
    show.add_argument("package", help="package ARN or version number")
    show.add_argument("--plots", metavar="DIR", default=None, help="download the report's PNG plots into DIR and "
                      "print their paths")
    show.set_defaults(func=_show)

    cmp_ = ms.add_parser("compare", parents=[common], help="challenger vs the approved champion (same window)",
                         description="Compare a challenger (default: the newest pending package) with the champion "
                         "(default: the newest approved package). When the challenger's evaluation scored this "
                         "champion on its own rows, that same-window table is shown; the two reports' headline "
                         "metrics follow, with a note when they come from different data.")
    cmp_.add_argument("challenger", nargs="?", default=None, help="challenger ARN or version (default: newest pending)")
    cmp_.add_argument("--champion", default=None, help="champion ARN or version (default: newest approved)")
    cmp_.add_argument("--plots", metavar="DIR", default=None, help="download both reports' PNG plots into "
                      "DIR/challenger-vN and DIR/champion-vM and print their paths")
    cmp_.set_defaults(func=_compare)

    ex = ms.add_parser("explain", parents=[common], help="top contributing features of a stored forecast",
                       description="Explain a package's stored forecast for one building and UTC day: the run is "
                       "found under forecast-output/<inference machine>/ (latest origin covering the day), its "
                       "feature rows are read from features/edf/inference/<machine>/<run>/, the package's model "
                       "re-predicts them (checked against the stored numbers) and XGBoost's SHAP contributions "
                       "(pred_contribs) are summed over the day's hours.")
    ex.add_argument("package", help="package ARN or version number")
    ex.add_argument("--building", required=True, help="building id")
    ex.add_argument("--date", required=True, help="UTC day, YYYY-MM-DD")
    ex.add_argument("--run", default=None, help="inference execution name (default: search every stored run)")
    ex.add_argument("--state-machine", default=None,
                    help="inference state machine name (default: from the config, e.g. EDFInferenceWorkflow-dev)")
    ex.add_argument("--top", type=int, default=10, help="features to print per series (default 10)")
    ex.set_defaults(func=_explain)

    rb = ms.add_parser("rollback", parents=[common], help="re-approve the previous champion, reject the current one",
                       description="Roll back to the previous champion: re-approve it (the newest older package "
                       "that is approved, or was approved once) and reject the current champion (the newest "
                       "approved package, what inference uses). Both get the description. Prints what the next "
                       "inference run will use.")
    rb.add_argument("--description", required=True, help="why (and who): stored on both decisions")
    rb.add_argument("--to", default=None, help="package ARN or version to roll back to (default: previous champion)")
    rb.set_defaults(func=_rollback)

    for action, status in (("approve", "Approved"), ("reject", "Rejected")):
        a = ms.add_parser(action, parents=[common], help=f"set a package to {status} (description required)",
                          description=f"Set a package's approval status to {status}. The description is recorded "
                          "in the registry as the reason (who decided and why).")
        a.add_argument("package", help="package ARN or version number")
        a.add_argument("--description", required=True, help="why (and who): stored as ApprovalDescription")
        a.set_defaults(func=_decide, status=status)


# ------------------------------------------------------------------ helpers
def _setup(args: argparse.Namespace) -> tuple[str, Any, Any]:
    import boto3

    from edf.config import ConfigError, load_config

    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
        if boto3.Session().get_credentials() is None:
            # an emulator accepts any credentials; real endpoints still need yours
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or cfg.aws_region
    return args.group or cfg.model_package_group, boto3.client("sagemaker", region_name=region), \
        boto3.client("s3", region_name=region)


def resolve_package(ref: str, group: str, sm: Any) -> str:
    """ARN as given, or the ARN of version ``ref`` in ``group``."""
    from edf.registry import list_packages

    if ref.startswith("arn:"):
        return ref
    if not ref.isdigit():
        raise CommandError(f"{ref!r} is neither a model package ARN nor a version number")
    for summary in list_packages(group, sagemaker=sm):
        if str(summary.get("ModelPackageVersion")) == ref:
            return summary["ModelPackageArn"]
    raise CommandError(f"no version {ref} in model package group {group!r} (see `edf models list`)")


def _registry_call(fn, *a, **kw):
    from edf.registry import RegistryError

    try:
        return fn(*a, **kw)
    except RegistryError as exc:
        raise CommandError(str(exc)) from None


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    try:
        return f"{float(value):.3g}"
    except (TypeError, ValueError):
        return str(value)


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, default=str))


# ------------------------------------------------------------------ actions
def _list(args: argparse.Namespace) -> int:
    from edf.registry import describe_package, list_packages

    group, sm, _ = _setup(args)
    rows = []
    for summary in _registry_call(list_packages, group, args.status, sagemaker=sm):
        pkg = _registry_call(describe_package, summary["ModelPackageArn"], sagemaker=sm)
        meta = pkg.get("CustomerMetadataProperties") or {}
        rows.append({"version": pkg.get("ModelPackageVersion"), "status": pkg.get("ModelApprovalStatus"),
                     "created": str(pkg.get("CreationTime", ""))[:19], "strategy": meta.get("strategy"),
                     **{k: meta.get(k) for k in HEADLINE_COLUMNS}, "passed": meta.get("passed"),
                     "arn": pkg.get("ModelPackageArn")})
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print(f"no model packages in group {group}" + (f" with status {args.status}" if args.status else ""))
        return 0
    header = ["ver", "status", "created", "strategy", *HEADLINE_COLUMNS, "passed"]
    table = [[str(r["version"]), r["status"] or "-", r["created"], r["strategy"] or "-",
              *[_fmt(r[k]) for k in HEADLINE_COLUMNS], r["passed"] or "-"] for r in rows]
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(header)]
    print(f"model package group {group}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for t in table:
        print("  ".join(c.ljust(w) for c, w in zip(t, widths, strict=True)))
    print("ARNs: " + ", ".join(f"v{r['version']}={r['arn']}" for r in rows[:3]) + (" ..." if len(rows) > 3 else ""))
    return 0


def show_package(arn: str, sm: Any, s3: Any) -> dict[str, Any]:
    """Package description plus its evaluation report and plot locations (for show and the demo)."""
    from edf.registry import describe_package, read_report
    from edf.registry.registry import package_container, report_plots, report_uri_of

    pkg = _registry_call(describe_package, arn, sagemaker=sm)
    uri = report_uri_of(pkg)
    report = _registry_call(read_report, uri, s3) if uri else None
    return {"arn": pkg.get("ModelPackageArn"), "version": pkg.get("ModelPackageVersion"),
            "status": pkg.get("ModelApprovalStatus"), "approval_description": pkg.get("ApprovalDescription"),
            "created": str(pkg.get("CreationTime")), "description": pkg.get("ModelPackageDescription"),
            "container": package_container(pkg), "metadata": pkg.get("CustomerMetadataProperties") or {},
            "evaluation_report": uri, "plots": report_plots(uri, s3) if uri else [], "evaluation": report}


def render_evaluation(report: dict[str, Any]) -> str:
    """Human-readable evaluation summary: verdict, headline, thresholds, baselines per target."""
    lines = [f"  verdict: passed={report.get('passed')} passes_thresholds={report.get('passes_thresholds')} "
             f"beats_baselines={report.get('beats_baselines')} (strategy {report.get('strategy')}, "
             f"target {report.get('target')}, weather {report.get('weather')})"]
    headline = report.get("headline") or {}
    lines.append("  headline (median over buildings): " + ", ".join(f"{k}={_fmt(v)}" for k, v in headline.items()))
    if report.get("thresholds"):
        lines.append("  thresholds: " + ", ".join(f"{k}={v}" for k, v in report["thresholds"].items()))
    keys = ("rmse", "cv_rmse_pct", "mape_pct", "coverage")

    def _metrics(block: Any) -> str:
        block = block.get("aggregate", block) if isinstance(block, dict) else {}
        return ", ".join(f"{k}={_fmt(block.get(k))}" for k in keys if k in block)

    for target, body in (report.get("targets") or {}).items():
        if not isinstance(body, dict):
            continue
        parts = [f"model: {_metrics(body)}"] if _metrics(body) else []
        for name, block in (body.get("baselines") or {}).items():
            parts.append(f"baseline {name}: {_metrics(block)}")
        if "beats_baselines" in body:
            parts.append(f"beats baselines: {body['beats_baselines']}")
        if parts:
            lines.append(f"  {target}: " + "; ".join(parts))
    if report.get("threshold_failures"):
        lines.append("  threshold failures: " + "; ".join(map(str, report["threshold_failures"])))
    lines += _render_gate(report)
    return "\n".join(lines)


def _render_gate(report: dict[str, Any]) -> list[str]:
    """Failed targets, the champion verdict, the evaluation window and the top features per target."""
    lines = []
    if report.get("failed_targets"):
        lines.append("  FAILED targets: " + ", ".join(report["failed_targets"]))
    for text in report.get("failures") or []:
        lines.append(f"    - {text}")
    for text in report.get("advisories") or []:
        lines.append(f"    (not blocking) {text}")
    champion = report.get("champion") or {}
    if champion:
        who = f"v{champion.get('model_package_version')}" if champion.get("model_package_version") else "none"
        lines.append(f"  champion {who}: {champion.get('verdict')} ({champion.get('status')}"
                     + (f"; {champion['reason']}" if champion.get("reason") else "") + ")")
        for target, comp in (champion.get("targets") or {}).items():
            same = "identical rows" if comp.get("same_rows") else "rows, NOT identical"
            lines.append(f"    {target}: {comp.get('verdict')} - {comp.get('metric')} {_fmt(comp.get('challenger'))} "
                         f"vs {_fmt(comp.get('champion'))} on {comp.get('rows')} {same}"
                         if comp.get("rows") else f"    {target}: {comp.get('verdict')} ({comp.get('reason')})")
    if report.get("eval_start"):
        lines.append(f"  evaluation window {report['eval_start']} .. {report.get('eval_end')}, data fingerprint "
                     f"{report.get('data_fingerprint')}")
    for target, body in (report.get("targets") or {}).items():
        imp = (body or {}).get("importance") or {}
        if imp.get("supported"):
            top = list(imp["mean_abs_shap"].items())[:5]
            lines.append(f"  {target} top features (mean |SHAP| kWh): " + ", ".join(f"{k}={v:.3g}" for k, v in top))
    return lines


def _show(args: argparse.Namespace) -> int:
    group, sm, s3 = _setup(args)
    info = show_package(resolve_package(args.package, group, sm), sm, s3)
    if args.json:
        _print_json(info)
        return 0
    print(f"model package {info['arn']} (version {info['version']}): {info['status']}")
    if info["approval_description"]:
        print(f"  approval description: {info['approval_description']}")
    print(f"  created {info['created']}; image {info['container']['image_uri']}")
    print(f"  model data {info['container']['model_data_url']}")
    print("  metadata: " + ", ".join(f"{k}={v}" for k, v in sorted(info["metadata"].items())))
    print(f"  evaluation report: {info['evaluation_report']}")
    if info["evaluation"]:
        print(render_evaluation(info["evaluation"]))
    print("  plots: " + (", ".join(info["plots"]) if info["plots"] else "none found next to the report"))
    if args.plots:
        _download_plots(info["evaluation_report"], args.plots, s3)
    return 0


def _download_plots(report_uri: str | None, dest: str, s3: Any) -> list[str]:
    from edf.registry.registry import download_plots

    if not report_uri:
        print(f"  no evaluation report: no plots to download into {dest}")
        return []
    paths = [str(p) for p in _registry_call(download_plots, report_uri, dest, s3)]
    print(f"  downloaded {len(paths)} plot(s) into {dest}:")
    for path in paths:
        print(f"    {path}")
    return paths


def _compare(args: argparse.Namespace) -> int:
    from edf.registry import APPROVED, PENDING, compare_packages, list_packages

    group, sm, s3 = _setup(args)
    if args.challenger:
        challenger = resolve_package(args.challenger, group, sm)
    else:
        pending = _registry_call(list_packages, group, PENDING, sagemaker=sm)
        if not pending:
            raise CommandError(f"no PendingManualApproval package in group {group!r} to compare")
        challenger = pending[0]["ModelPackageArn"]
    if args.champion:
        champion = resolve_package(args.champion, group, sm)
    else:
        approved = _registry_call(list_packages, group, APPROVED, sagemaker=sm)
        champion = approved[0]["ModelPackageArn"] if approved else None
    result = _registry_call(compare_packages, challenger, champion, sagemaker=sm, s3=s3)
    if args.json:
        _print_json(result)
        return 0
    print(f"challenger {result['challenger']['arn']} (v{result['challenger']['version']}, "
          f"{result['challenger']['strategy']})")
    print(f"champion   {result['champion']['arn']} (v{result['champion']['version']}, {result['champion']['strategy']})"
          if result["champion"] else "champion   none approved yet")
    window = result.get("same_window")
    if window:
        print(f"same window: the challenger's evaluation scored this champion on its own rows "
              f"(verdict {window['verdict']}, {window['metric']}, margin {window['margin']})")
        for target, comp in window["targets"].items():
            same = "identical rows" if comp.get("same_rows") else "DIFFERENT rows"
            print(f"  {target}: {comp.get('verdict')}, {comp.get('rows')} {same}")
            _print_metric_table(comp.get("metrics") or {}, indent="    ")
    print("report vs report (headline, each on its own evaluation data):" if window else "headline metrics:")
    _print_metric_table(result["metrics"], indent="  ")
    if result.get("wins"):
        print(f"  wins: challenger {result['wins']['challenger']}, champion {result['wins']['champion']} "
              "(lower is better; nmbe by magnitude; coverage judged against the nominal interval)")
    if result.get("same_data") is True:
        print("  both reports were evaluated on the same data (window and fingerprint match)")
    for note in result["notes"]:
        print(f"  note: {note}")
    if args.plots:
        from pathlib import Path

        for role in ("challenger", "champion"):
            if result[role]:
                _download_plots(result[role]["report"], str(Path(args.plots) / f"{role}-v{result[role]['version']}"), s3)
    return 0


def _print_metric_table(metrics: dict[str, Any], indent: str) -> None:
    print(f"{indent}{'metric'.ljust(12)} {'challenger':>11} {'champion':>11} {'delta':>9}  better")
    for name, m in metrics.items():
        print(f"{indent}{name.ljust(12)} {_fmt(m.get('challenger')):>11} {_fmt(m.get('champion')):>11} "
              f"{_fmt(m.get('delta')):>9}  {m.get('better') or '-'}")


def decide(package_arn: str, status: str, description: str, sm: Any) -> dict[str, Any]:
    """Approve/reject: the one code path for ``edf models approve|reject`` and ``edf demo``."""
    from edf.registry import set_approval

    return _registry_call(set_approval, package_arn, status, description, sagemaker=sm)


def _decide(args: argparse.Namespace) -> int:
    group, sm, _ = _setup(args)
    out = decide(resolve_package(args.package, group, sm), args.status, args.description, sm)
    if args.json:
        _print_json(out)
    else:
        print(f"{out['model_package_arn']}: {out['previous_status']} -> {out['model_approval_status']} "
              f"({out['approval_description']})")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from edf.registry.rollback import rollback

    group, sm, _ = _setup(args)
    to = resolve_package(args.to, group, sm) if args.to else None
    out = _registry_call(rollback, group, args.description, sm, to)
    if args.json:
        _print_json(out)
        return 0
    rejected, approved, following = out["rejected"], out["approved"], out["next_inference"]
    print(f"rejected    v{rejected['version']} {rejected['arn']} ({rejected['strategy']})")
    print(f"re-approved v{approved['version']} {approved['arn']} ({approved['strategy']})")
    print(f"the next inference run will use v{following['version']} {following['arn']} "
          f"({following['strategy']}; model data {following['model_data_url']})")
    for note in out["notes"]:
        print(f"note: {note}")
    return 0


def _explain(args: argparse.Namespace) -> int:
    import datetime as dt

    from edf.config import load_config
    from edf.evaluation.stored import ExplainError, explain_day, feature_rows, find_forecast
    from edf.models.bundle import fetch_bundle
    from edf.registry import describe_package
    from edf.registry.registry import package_container

    try:
        day = dt.date.fromisoformat(args.date)
    except ValueError:
        raise CommandError(f"--date {args.date!r} is not a YYYY-MM-DD day") from None
    if args.top < 1:
        raise CommandError("--top must be at least 1")
    group, sm, _ = _setup(args)
    cfg = load_config(args.config)
    arn = resolve_package(args.package, group, sm)
    package = _registry_call(describe_package, arn, sagemaker=sm)
    machine = args.state_machine or cfg.name(cfg.edf_inference_sfn_base)
    try:
        stored = find_forecast(cfg, machine, arn, args.building, day, args.run)
        rows, series = feature_rows(cfg, machine, stored, args.building, day)
        _, models = fetch_bundle(package_container(package)["model_data_url"])
        out = explain_day(models, stored, rows, series, args.top)
    except ExplainError as exc:
        raise CommandError(str(exc)) from None
    result = {"package": arn, "version": package.get("ModelPackageVersion"), "building": args.building,
              "date": day.isoformat(), "run": stored.execution, "origin": stored.origin.isoformat(),
              "forecasts": stored.forecasts_uri, "runs_searched": stored.runs_searched, "targets": out}
    if args.json:
        _print_json(result)
        return 0
    print(render_explanation(result))
    return 0


def render_explanation(result: dict[str, Any]) -> str:
    """Top contributing features per series of one building-day, largest mean |contribution| first."""
    lines = [f"building {result['building']} on {result['date']} (UTC): forecast of package v{result['version']} "
             f"from run {result['run']} (origin {result['origin']})"]
    for target, body in result["targets"].items():
        if not body.get("supported"):
            lines.append(f"  {target}: {body['reason']}")
            continue
        lines.append(f"  {target} ({body['strategy']}, {body['hours']} h): stored total {body['stored_total']:.3f} kWh;"
                     f" model raw total {body['raw_total']:.3f} = expected value {body['bias_total']:.3f} + contributions "
                     f"(re-predicted vs stored: max diff {_fmt(body['recomputed_max_abs_diff'])} kWh)")
        lines.append(f"    {'feature'.ljust(36)} {'sum kWh':>9} {'mean|kWh|':>10} {'value':>10}")
        for name, f in body["features"].items():
            lines.append(f"    {name.ljust(36)} {f['sum_kwh']:>+9.3f} {f['mean_abs_kwh']:>10.3f} {_fmt(f['value']):>10}")
    return "\n".join(lines)
