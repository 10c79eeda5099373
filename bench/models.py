"""Benchmark the forecasting strategies: accuracy, interval calibration per lead bucket, cost.

Prints one JSON line per measured case on stdout (``bench/_report.py``) and progress on stderr;
never part of the pass/fail test run.

    .venv/bin/python bench/models.py                                   # both bundled sets, xgboost + ensemble
    .venv/bin/python bench/models.py --strategies prophet,xgboost,lstm,ensemble --horizon-hours 72
    .venv/bin/python bench/models.py --ablation                       # the cost and effect of each change
    .venv/bin/python bench/models.py --dataset synth --buildings 1000 --days 365 --strategies xgboost,prophet
    .venv/bin/python bench/models.py --prophet-scaling --dataset synth --buildings 40 --days 120
    .venv/bin/python bench/models.py --xgb-intervals                  # conformal vs quantile intervals

Protocol = ``edf backtest`` (``edf.evaluation.backtest``): last ``--days-backtest`` daily origins,
trained once before the first origin. Each line carries CV(RMSE), pinball loss and coverage overall
and per lead bucket, and the fit/predict seconds. ``--ablation`` adds the changes of issue 13 one
at a time to the XGBoost model — tuning on a validation slice with early stopping, residuals scaled
by a local volatility, online recalibration — so each line shows what that change costs and buys.
``--prophet-scaling`` re-runs the Prophet fit in fresh processes with 1 and 2 local Spark executors.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from _report import emit, note


def load(dataset: str, buildings: int, days: int):
    from edf.data import bundled

    if dataset == "bundled":
        return bundled.load_homes(), bundled.load_topology()
    if dataset == "bundled-solar":
        return bundled.load_solar(), bundled.load_topology()
    from edf.data import synth

    ds = synth.generate(buildings, days)
    return ds.processed, ds.topology


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="both", choices=["both", "bundled", "bundled-solar", "synth"])
    p.add_argument("--buildings", type=int, default=1000, help="synthetic buildings")
    p.add_argument("--days", type=int, default=365, help="synthetic days")
    p.add_argument("--days-backtest", type=int, default=28)
    p.add_argument("--horizon-hours", type=int, default=24)
    p.add_argument("--strategies", default="xgboost,ensemble")
    p.add_argument("--ablation", action="store_true", help="XGBoost with each change of issue 13 added in turn")
    p.add_argument("--prophet-scaling", action="store_true", help="Prophet fit time with 1 vs 2 Spark executors")
    p.add_argument("--xgb-intervals", action="store_true", help="XGBoost conformal vs quantile intervals")
    p.add_argument("--prophet-fit-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.prophet_scaling and not args.prophet_fit_only:
        return prophet_scaling(args)

    from edf.config import load_config
    from edf.evaluation.backtest import prepare
    from edf.features.spark_session import get_spark

    cfg = load_config()
    spark = get_spark(app_name="edf-bench-models")
    datasets = ["bundled", "bundled-solar"] if args.dataset == "both" else [args.dataset]
    for dataset in datasets:
        target = "solar_generation_kwh" if dataset == "bundled-solar" else "consumption_kwh"
        data, topology = load(dataset, args.buildings, args.days)
        t0 = time.perf_counter()
        bt = prepare(spark, data, topology, target, args.horizon_hours, args.days_backtest, cfg)
        emit("models", f"{dataset}/features", buildings=int(data["building_id"].nunique()),
             train_rows=len(bt.train), eval_rows=len(bt.eval), seconds=round(time.perf_counter() - t0, 1))
        common = {"dataset": dataset, "target": target, "horizon_hours": args.horizon_hours}
        if args.prophet_fit_only:
            return prophet_fit_only(bt, target, cfg)
        if args.xgb_intervals:
            xgb_intervals(bt, target, cfg, common)
        elif args.ablation:
            ablation(bt, target, cfg, common)
        else:
            strategies(bt, target, cfg, common, args.strategies.split(","))
    return 0


def scored(pred, bt, target: str, cfg) -> dict:
    """CV(RMSE), pinball and coverage overall and per lead bucket (medians over buildings)."""
    from edf.evaluation.metrics import clean, evaluate_forecasts

    res = evaluate_forecasts(pred, bt.eval, target, cfg.edf_training.interval_width,
                             cfg.edf_evaluation.mape_min_actual_share, cfg.edf_training.calibration.bucket_hours)
    agg = res["aggregate"]
    return clean({"cv_rmse_pct": agg["cv_rmse_pct"], "pinball": agg["pinball"], "coverage": agg["coverage"],
                  "by_lead_bucket": {b: {k: v[k] for k in ("coverage", "pinball", "cv_rmse_pct")}
                                     for b, v in res.get("by_lead_bucket", {}).items()}})


def strategies(bt, target: str, cfg, common: dict, names: list[str]) -> None:
    from edf.evaluation.backtest import fit_and_forecast
    from edf.models import BASELINES

    for name in dict.fromkeys([*names, *BASELINES]):
        pred, fit_s, predict_s, _ = fit_and_forecast(bt, target, name, cfg)
        emit("models", f"{common['dataset']}/{name}", **common, strategy=name, **scored(pred, bt, target, cfg),
             train_s=round(fit_s, 1), predict_s=round(predict_s, 1))


ABLATION = (  # (case, XGBoost overrides, calibration overrides, refit?)
    ("before: 150 rounds, residuals scaled by level only, no online step",
     {"xgb_tuning_grid": [], "xgb_validation_days": 0, "xgb_num_boost_round": 150},
     {"volatility_scaling": False, "online": False}, True),
    ("+ tuning: validation slice, early stopping, depth/eta grid", {},
     {"volatility_scaling": False, "online": False}, True),
    ("+ residuals scaled by local volatility", {}, {"volatility_scaling": True, "online": False}, True),
    ("+ online recalibration (quantile tracker)", {}, {"volatility_scaling": True, "online": True}, False),
)


def ablation(bt, target: str, cfg, common: dict) -> None:
    """Each change of issue 13 added in turn; the online step needs no refit (it acts at predict time)."""
    from edf.models import make_model

    history = bt.series[(bt.series["timestamp_hour"] < bt.first_origin) & bt.series[target].notna()]
    model, fit_s = None, 0.0
    for case, xgb_over, cal_over, refit in ABLATION:
        if refit:
            model = make_model("xgboost", target, cfg)
            model.params.update(xgb_over)
            model.params["calibration"].update(cal_over)
            t0 = time.perf_counter()
            model.fit(bt.train, history)
            fit_s = time.perf_counter() - t0
        model.params["calibration"].update(cal_over)
        t0 = time.perf_counter()
        pred = model.predict(bt.eval, bt.series)
        note(f"{common['dataset']}: {case}")
        emit("models", f"{common['dataset']}/ablation/{case.split(':')[0]}", **common, change=case,
             **scored(pred, bt, target, cfg), train_s=round(fit_s, 1), predict_s=round(time.perf_counter() - t0, 1),
             tuned={k: v for k, v in model.params.get("tuned", {}).items() if k != "validation_score"})


def xgb_intervals(bt, target: str, cfg, common: dict) -> None:
    from edf.models import make_model

    history = bt.series[(bt.series["timestamp_hour"] < bt.first_origin) & bt.series[target].notna()]
    for method in ("conformal", "quantile"):
        model = make_model("xgboost", target, cfg)
        model.params["xgb_interval_method"] = method
        t0 = time.perf_counter()
        model.fit(bt.train, history)
        fit_s = time.perf_counter() - t0
        emit("models", f"{common['dataset']}/xgboost_{method}_intervals", **common, method=method,
             **scored(model.predict(bt.eval, bt.series), bt, target, cfg), train_s=round(fit_s, 1))


def prophet_fit_only(bt, target: str, cfg) -> int:
    from edf.models import make_model

    history = bt.series[bt.series["timestamp_hour"] < bt.first_origin]
    t0 = time.perf_counter()
    make_model("prophet", target, cfg).fit(bt.train, history)
    print(json.dumps({"prophet_fit_seconds": round(time.perf_counter() - t0, 2)}))
    return 0


def prophet_scaling(args: argparse.Namespace) -> int:
    """Fit Prophet in fresh processes with 1 and 2 local executors and print the speed-up."""
    dataset = "bundled" if args.dataset == "both" else args.dataset
    base = [sys.executable, __file__, "--prophet-scaling", "--prophet-fit-only", "--dataset", dataset,
            "--buildings", str(args.buildings), "--days", str(args.days), "--days-backtest", str(args.days_backtest)]
    seconds = {}
    for n in (1, 2):
        env = {**os.environ, "EDF_SPARK_MASTER": f"local[{n}]"}
        out = subprocess.run(base, env=env, capture_output=True, text=True, check=True).stdout
        seconds[n] = json.loads(out.strip().splitlines()[-1])["prophet_fit_seconds"]
        emit("models", f"{dataset}/prophet_fit_local[{n}]", seconds=seconds[n], executors=n)
    note(f"speed-up of 2 executors over 1: {seconds[1] / seconds[2]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
