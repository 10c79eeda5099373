"""Benchmark the forecasting strategies: train/forecast time and backtest accuracy.

Prints one JSON line per measured case on stdout (the feature preparation, each strategy, each
interval method, each executor count) and the tables on stderr; never part of the pass/fail test run.

    .venv/bin/python bench/models.py                                   # 17 bundled homes, all strategies
    .venv/bin/python bench/models.py --dataset bundled-solar --target solar_generation_kwh
    .venv/bin/python bench/models.py --dataset synth --buildings 1000 --days 365 --strategies xgboost,prophet
    .venv/bin/python bench/models.py --prophet-scaling --dataset synth --buildings 40 --days 120
    .venv/bin/python bench/models.py --xgb-intervals                  # conformal vs quantile intervals

Protocol = ``edf backtest`` (``edf.evaluation.backtest``): 24 h horizon, last ``--days-backtest``
daily origins, trained once before the first origin. ``--prophet-scaling`` re-runs the Prophet fit
in fresh processes with 1 and 2 local Spark executors (``EDF_SPARK_MASTER=local[N]``) and prints
the speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from _report import emit, note, peak_rss_mb


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
    p.add_argument("--dataset", default="bundled", choices=["bundled", "bundled-solar", "synth"])
    p.add_argument("--target", default="consumption_kwh")
    p.add_argument("--buildings", type=int, default=1000, help="synthetic buildings")
    p.add_argument("--days", type=int, default=365, help="synthetic days")
    p.add_argument("--days-backtest", type=int, default=28)
    p.add_argument("--horizon-hours", type=int, default=24)
    p.add_argument("--strategies", default="prophet,xgboost,lstm")
    p.add_argument("--prophet-scaling", action="store_true", help="Prophet fit time with 1 vs 2 Spark executors")
    p.add_argument("--xgb-intervals", action="store_true", help="XGBoost conformal vs quantile intervals")
    p.add_argument("--prophet-fit-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.prophet_scaling and not args.prophet_fit_only:
        return prophet_scaling(args)

    from edf.config import load_config
    from edf.evaluation.backtest import prepare, render_table, run_strategies
    from edf.features.spark_session import get_spark

    cfg = load_config()
    data, topology = load(args.dataset, args.buildings, args.days)
    spark = get_spark(app_name="edf-bench-models")
    t0 = time.perf_counter()
    bt = prepare(spark, data, topology, args.target, args.horizon_hours, args.days_backtest, cfg)
    feat_s = time.perf_counter() - t0
    note(f"dataset={args.dataset} buildings={data['building_id'].nunique()} rows={len(data)} "
         f"features: {len(bt.train)} train rows, {len(bt.eval)} eval rows in {feat_s:.1f}s")
    case = f"{args.dataset}_{data['building_id'].nunique()}b/{args.target}"
    if not args.prophet_fit_only:
        emit("models", f"{case}/features", seconds=round(feat_s, 2), input_rows=len(data), train_rows=len(bt.train),
             eval_rows=len(bt.eval), peak_rss_mb=peak_rss_mb(children=True))

    if args.prophet_fit_only:
        from edf.models import make_model

        history = bt.series[bt.series["timestamp_hour"] < bt.first_origin]
        t0 = time.perf_counter()
        make_model("prophet", args.target, cfg).fit(bt.train, history)
        print(json.dumps({"prophet_fit_seconds": round(time.perf_counter() - t0, 2)}))
        return 0

    if args.xgb_intervals:
        from edf.evaluation.metrics import evaluate_forecasts
        from edf.models import make_model

        history = bt.series[bt.series["timestamp_hour"] < bt.first_origin]
        for method in ("conformal", "quantile"):
            model = make_model("xgboost", args.target, cfg)
            model.params["xgb_interval_method"] = method
            t0 = time.perf_counter()
            model.fit(bt.train, history)
            fit_s = time.perf_counter() - t0
            agg = evaluate_forecasts(model.predict(bt.eval, bt.series), bt.eval, args.target)["aggregate"]
            note(f"xgboost {method:9s}: fit {fit_s:6.1f}s  cv_rmse_pct {agg['cv_rmse_pct']:.2f}  "
                 f"coverage {agg['coverage']:.3f}  pinball {agg['pinball']:.4f}")
            emit("models", f"{case}/xgboost_{method}_intervals", seconds=round(fit_s, 2),
                 cv_rmse_pct=agg["cv_rmse_pct"], coverage=agg["coverage"], pinball=agg["pinball"],
                 peak_rss_mb=peak_rss_mb(children=True))
        return 0

    results = run_strategies(bt, args.target, args.strategies.split(","), cfg)
    for strategy, res in results.items():
        emit("models", f"{case}/{strategy}", seconds=round(res["train_seconds"] + res["predict_seconds"], 2),
             train_seconds=res["train_seconds"], predict_seconds=res["predict_seconds"],
             horizon_hours=args.horizon_hours, origins=len(bt.origins), **res["aggregate"])
    doc = {"target": args.target, "horizon_hours": args.horizon_hours,
           "origins": [o.isoformat() for o in bt.origins], "results": results}
    note(render_table(doc))
    return 0


def prophet_scaling(args: argparse.Namespace) -> int:
    """Fit Prophet in fresh processes with 1 and 2 local executors and print the speed-up."""
    base = [sys.executable, __file__, "--prophet-scaling", "--prophet-fit-only", "--dataset", args.dataset,
            "--buildings", str(args.buildings), "--days", str(args.days), "--target", args.target,
            "--days-backtest", str(args.days_backtest)]
    seconds = {}
    for n in (1, 2):
        env = {**os.environ, "EDF_SPARK_MASTER": f"local[{n}]"}
        out = subprocess.run(base, env=env, capture_output=True, text=True, check=True).stdout
        seconds[n] = json.loads(out.strip().splitlines()[-1])["prophet_fit_seconds"]
        note(f"prophet fit with local[{n}]: {seconds[n]:.1f}s")
        emit("models", f"{args.dataset}/{args.target}/prophet_fit_local[{n}]", seconds=seconds[n], executors=n)
    note(f"speed-up of 2 executors over 1: {seconds[1] / seconds[2]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
