"""Rolling-origin backtest: the protocol behind ``edf backtest``.

* Forecast origins are 00:00 UTC on each of the last ``days`` days whose whole horizon lies
  inside the data.
* Every strategy is trained once, on feature rows whose origin and target hour are both before the
  first origin (the raw history it may read is cut there too).
* Each origin forecasts the next ``horizon_hours`` hours from features built by the one feature
  pipeline (``features_for_origins``), which uses no measurement at or after the origin. The
  data's own weather columns act as a perfect weather forecast (stated as ``"weather":
  "observed"`` in the output).
* Only hours with an actual are scored; metrics are per building, aggregated as the median.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import pandas as pd

from edf.config import EDFConfig
from edf.data import contract as c
from edf.evaluation.metrics import evaluate_forecasts, skill
from edf.models import ALL_STRATEGIES, BASELINES, make_model

log = logging.getLogger(__name__)


class BacktestError(ValueError):
    """The data cannot support the protocol; the message says what is missing."""


@dataclass
class BacktestData:
    train: pd.DataFrame  # feature rows for training (origins and targets before the first origin)
    eval: pd.DataFrame  # feature rows for the backtest origins
    series: pd.DataFrame  # the full hourly series (models read only what precedes each origin)
    origins: list[pd.Timestamp]
    first_origin: pd.Timestamp


def backtest_origins(data: pd.DataFrame, target: str, horizon_hours: int, days: int) -> list[pd.Timestamp]:
    """00:00 UTC of the last ``days`` days whose horizon ends inside the data."""
    known = pd.to_datetime(data.loc[data[target].notna(), c.TIMESTAMP], utc=True)
    if known.empty:
        raise BacktestError(f"the data has no {target} values")
    last_origin = (known.max() - pd.Timedelta(hours=horizon_hours - 1)).floor("D")
    return [last_origin - pd.Timedelta(days=d) for d in range(days - 1, -1, -1)]


def prepare(spark, data: pd.DataFrame, topology: pd.DataFrame, target: str, horizon_hours: int, days: int,
            cfg: EDFConfig) -> BacktestData:
    """Build training and backtest feature rows with the shared feature pipeline."""
    from pyspark.sql import functions as F

    from edf.data.feature_names import ORIGIN
    from edf.features.pipeline import features_for_origins, training_origins
    from edf.features.spark_session import from_pandas, to_pandas_utc

    if horizon_hours < 1 or horizon_hours > 168:
        raise BacktestError("--horizon-hours must be between 1 and 168")
    if days < 1:
        raise BacktestError("--days must be at least 1")
    fe = cfg.edf_feature_eng.model_copy(update={"target_column": target})
    series = data.copy()
    series[c.TIMESTAMP] = pd.to_datetime(series[c.TIMESTAMP], utc=True)
    series = series[series[target].notna()].sort_values([c.BUILDING_ID, c.TIMESTAMP]).reset_index(drop=True)
    origins = backtest_origins(series, target, horizon_hours, days)
    first = origins[0]
    before = series[series[c.TIMESTAMP] < first]
    if before.empty:
        raise BacktestError(f"no {target} history before the first backtest origin {first.isoformat()}; "
                            "use fewer --days")
    sdf_all = from_pandas(spark, series)
    sdf_before = from_pandas(spark, before)
    train_origins = training_origins(sdf_before, fe, horizon_hours)
    n_train_origins = train_origins.count()
    if n_train_origins == 0:
        span = (first - before[c.TIMESTAMP].min()) / pd.Timedelta(days=1)
        raise BacktestError(
            f"too little history for the protocol: {span:.1f} days before the first origin "
            f"{first.isoformat()}, but training needs more than {fe.min_history_days} days plus the "
            f"{horizon_hours} h horizon; use fewer --days or a shorter --horizon-hours")
    train = to_pandas_utc(features_for_origins(spark, sdf_before, train_origins, topology, fe, horizon_hours))
    buildings = sorted(before[c.BUILDING_ID].unique())
    origin_rows = [(b, o.tz_convert("UTC").tz_localize(None).to_pydatetime()) for b in buildings for o in origins]
    origin_sdf = spark.createDataFrame(origin_rows, f"{c.BUILDING_ID} string, {ORIGIN} timestamp")
    origin_sdf = origin_sdf.withColumn(ORIGIN, F.col(ORIGIN).cast("timestamp"))
    evaluation = to_pandas_utc(features_for_origins(spark, sdf_all, origin_sdf, topology, fe, horizon_hours))
    log.info("backtest features: %d train rows (%d origins), %d eval rows", len(train), n_train_origins, len(evaluation))
    return BacktestData(train=train, eval=evaluation, series=series, origins=origins, first_origin=first)


def run_strategies(bt: BacktestData, target: str, strategies: list[str], cfg: EDFConfig) -> dict:
    """Fit each strategy on the training rows, forecast every origin, score; baselines always included."""
    wanted = list(dict.fromkeys([*strategies, *BASELINES]))
    unknown = [s for s in wanted if s not in ALL_STRATEGIES]
    if unknown:
        raise BacktestError(f"unknown strategy {unknown[0]!r}; expected one of {', '.join(ALL_STRATEGIES)} or all")
    history = bt.series[bt.series[c.TIMESTAMP] < bt.first_origin]
    width = cfg.edf_training.interval_width
    share = cfg.edf_evaluation.mape_min_actual_share
    results: dict[str, dict] = {}
    for strategy in wanted:
        model = make_model(strategy, target, cfg)
        t0 = time.perf_counter()
        model.fit(bt.train, history)
        t1 = time.perf_counter()
        pred = model.predict(bt.eval, bt.series)
        t2 = time.perf_counter()
        scored = evaluate_forecasts(pred, bt.eval, target, width, share)
        results[strategy] = {**scored, "train_seconds": round(t1 - t0, 2), "predict_seconds": round(t2 - t1, 2)}
        log.info("%s: cv_rmse_pct %.1f coverage %.2f (train %.1fs, predict %.1fs)", strategy,
                 scored["aggregate"]["cv_rmse_pct"], scored["aggregate"]["coverage"], t1 - t0, t2 - t1)
    for res in results.values():
        for base in BASELINES:
            res["aggregate"][f"skill_vs_{base}"] = skill(res["aggregate"], results[base]["aggregate"])
    return results


def run_backtest(spark, data: pd.DataFrame, topology: pd.DataFrame, target: str, strategies: list[str],
                 horizon_hours: int, days: int, cfg: EDFConfig) -> dict:
    """The whole protocol; returns the JSON document ``edf backtest`` writes."""
    from edf.models.sampling import sample_origins

    bt = prepare(spark, data, topology, target, horizon_hours, days, cfg)
    # the training job's row cap applies here too, so a backtest shows what the cap costs
    bt.train, sample = sample_origins(bt.train, cfg.edf_training.max_training_rows, cfg.edf_training.training_sample_seed)
    results = run_strategies(bt, target, strategies, cfg)
    return {
        "target": target,
        "horizon_hours": horizon_hours,
        "origins": [o.isoformat().replace("+00:00", "Z") for o in bt.origins],
        "weather": "observed",
        "weather_note": "the data's own weather columns were used as a perfect weather forecast",
        "interval_width": cfg.edf_training.interval_width,
        "training_sample": sample.to_dict(),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "results": results,
    }


def render_table(doc: dict) -> str:
    """A fixed-width table of the aggregate metrics, one row per strategy."""
    cols = ["cv_rmse_pct", "mape_pct", "rmse", "mae", "nmbe_pct", "pinball", "coverage"]
    head = f"{'strategy':<16}" + "".join(f"{k:>13}" for k in cols) + f"{'train_s':>10}{'predict_s':>11}"
    lines = [f"backtest: target={doc['target']} horizon={doc['horizon_hours']}h origins={len(doc['origins'])} "
             f"({doc['origins'][0]} .. {doc['origins'][-1]}), weather=observed (perfect forecast); "
             f"medians over buildings", head, "-" * len(head)]
    for name, res in doc["results"].items():
        agg = res["aggregate"]
        cells = "".join(f"{_fmt(agg.get(k)):>13}" for k in cols)
        lines.append(f"{name:<16}{cells}{res['train_seconds']:>10.1f}{res['predict_seconds']:>11.1f}")
    return "\n".join(lines)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
