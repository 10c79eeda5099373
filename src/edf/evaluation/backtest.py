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
from edf.data.feature_names import ORIGIN
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
    rows: pd.DataFrame | None = None  # every daily origin's rows up to the last backtest origin (refits)

    def train_before(self, when: pd.Timestamp) -> pd.DataFrame:
        """Training rows for a fit at ``when``: origin and target hour both before it."""
        if when == self.first_origin or self.rows is None:
            return self.train
        origin, ts = pd.to_datetime(self.rows[ORIGIN], utc=True), pd.to_datetime(self.rows[c.TIMESTAMP], utc=True)
        return self.rows[(origin < when) & (ts < when)]


def backtest_origins(data: pd.DataFrame, target: str, horizon_hours: int, days: int) -> list[pd.Timestamp]:
    """00:00 UTC of the last ``days`` days whose horizon ends inside the data."""
    known = pd.to_datetime(data.loc[data[target].notna(), c.TIMESTAMP], utc=True)
    if known.empty:
        raise BacktestError(f"the data has no {target} values")
    last_origin = (known.max() - pd.Timedelta(hours=horizon_hours - 1)).floor("D")
    return [last_origin - pd.Timedelta(days=d) for d in range(days - 1, -1, -1)]


def target_series(data: pd.DataFrame, target: str) -> pd.DataFrame:
    """The hourly series of the buildings that measure ``target``. Hours whose target is null (meter
    gaps) stay, with their weather: they are skipped in training and counted as missing, never scored."""
    series = data.copy()
    series[c.TIMESTAMP] = pd.to_datetime(series[c.TIMESTAMP], utc=True)
    measuring = series.loc[series[target].notna(), c.BUILDING_ID].unique()
    series = series[series[c.BUILDING_ID].isin(measuring)]
    return series.sort_values([c.BUILDING_ID, c.TIMESTAMP]).reset_index(drop=True)


def prepare(spark, data: pd.DataFrame, topology: pd.DataFrame, target: str, horizon_hours: int, days: int,
            cfg: EDFConfig) -> BacktestData:
    """Build training and backtest feature rows with the shared feature pipeline (one plan for both)."""
    from pyspark.sql import functions as F

    from edf.features.pipeline import features_for_origins, training_origins
    from edf.features.spark_session import from_pandas, to_pandas_utc

    if horizon_hours < 1 or horizon_hours > 168:
        raise BacktestError("--horizon-hours must be between 1 and 168")
    if days < 1:
        raise BacktestError("--days must be at least 1")
    fe = cfg.edf_feature_eng.model_copy(update={"target_column": target})
    series = target_series(data, target)
    origins = backtest_origins(series, target, horizon_hours, days)
    first, last = origins[0], origins[-1]
    before = series[(series[c.TIMESTAMP] < first) & series[target].notna()]
    if before.empty:
        raise BacktestError(f"no {target} history before the first backtest origin {first.isoformat()}; "
                            "use fewer --days")
    sdf_all = from_pandas(spark, series)
    candidates = training_origins(sdf_all.where(F.col(target).isNotNull()), fe, horizon_hours)
    first_lit, last_lit = (F.lit(t.tz_convert("UTC").tz_localize(None).to_pydatetime()).cast("timestamp")
                           for t in (first, last))
    n_train_origins = candidates.where(F.col(ORIGIN) + F.make_dt_interval(F.lit(0), F.lit(horizon_hours - 1))
                                       < first_lit).count()
    if n_train_origins == 0:
        span = (first - before[c.TIMESTAMP].min()) / pd.Timedelta(days=1)
        raise BacktestError(
            f"too little history for the protocol: {span:.1f} days before the first origin "
            f"{first.isoformat()}, but training needs more than {fe.min_history_days} days plus the "
            f"{horizon_hours} h horizon; use fewer --days or a shorter --horizon-hours")
    buildings = sorted(before[c.BUILDING_ID].unique())
    origin_rows = [(b, o.tz_convert("UTC").tz_localize(None).to_pydatetime()) for b in buildings for o in origins]
    backtest_sdf = spark.createDataFrame(origin_rows, f"{c.BUILDING_ID} string, {ORIGIN} timestamp")
    all_origins = candidates.where(F.col(ORIGIN) < last_lit).unionByName(backtest_sdf).distinct()
    rows = to_pandas_utc(features_for_origins(spark, sdf_all, all_origins, topology, fe, horizon_hours))
    origin_ts, ts = pd.to_datetime(rows[ORIGIN], utc=True), pd.to_datetime(rows[c.TIMESTAMP], utc=True)
    train = rows[(origin_ts < first) & (ts < first)].reset_index(drop=True)
    evaluation = rows[origin_ts.isin(origins) & rows[c.BUILDING_ID].isin(buildings)].reset_index(drop=True)
    log.info("backtest features: %d train rows (%d origins), %d eval rows", len(train), n_train_origins, len(evaluation))
    return BacktestData(train=train, eval=evaluation, series=series, origins=origins, first_origin=first, rows=rows)


def fit_and_forecast(bt: BacktestData, target: str, strategy: str, cfg: EDFConfig,
                     refit_every_days: int | None = None) -> tuple[pd.DataFrame, float, float, int]:
    """One strategy over the backtest: a single fit before the first origin, or a refit every
    ``refit_every_days`` origins on everything before that block (a production retraining cadence).
    Returns the forecasts, fit and predict seconds, and the number of fits."""
    step = refit_every_days or len(bt.origins)
    origin_ts = pd.to_datetime(bt.eval[ORIGIN], utc=True)
    parts, fit_s, predict_s = [], 0.0, 0.0
    blocks = [bt.origins[i:i + step] for i in range(0, len(bt.origins), step)]
    for block in blocks:
        start = block[0]
        history = bt.series[(bt.series[c.TIMESTAMP] < start) & bt.series[target].notna()]
        train = bt.train_before(start)
        if start != bt.first_origin:  # a refit obeys the training job's row cap too
            from edf.models.sampling import sample_origins

            train, _ = sample_origins(train, cfg.edf_training.max_training_rows, cfg.edf_training.training_sample_seed)
        model = make_model(strategy, target, cfg)
        t0 = time.perf_counter()
        model.fit(train, history)
        t1 = time.perf_counter()
        parts.append(model.predict(bt.eval[origin_ts.isin(block)].reset_index(drop=True), bt.series))
        predict_s += time.perf_counter() - t1
        fit_s += t1 - t0
    return pd.concat(parts, ignore_index=True), fit_s, predict_s, len(blocks)


def run_strategies(bt: BacktestData, target: str, strategies: list[str], cfg: EDFConfig,
                   refit_every_days: int | None = None) -> dict:
    """Fit each strategy on the training rows, forecast every origin, score; baselines always included."""
    wanted = list(dict.fromkeys([*strategies, *BASELINES]))
    unknown = [s for s in wanted if s not in ALL_STRATEGIES]
    if unknown:
        raise BacktestError(f"unknown strategy {unknown[0]!r}; expected one of {', '.join(ALL_STRATEGIES)} or all")
    width = cfg.edf_training.interval_width
    share = cfg.edf_evaluation.mape_min_actual_share
    bucket_hours = cfg.edf_training.calibration.bucket_hours
    results: dict[str, dict] = {}
    for strategy in wanted:
        pred, fit_s, predict_s, fits = fit_and_forecast(bt, target, strategy, cfg, refit_every_days)
        scored = evaluate_forecasts(pred, bt.eval, target, width, share, bucket_hours)
        results[strategy] = {**scored, "train_seconds": round(fit_s, 2), "predict_seconds": round(predict_s, 2),
                             "fits": fits}
        log.info("%s: cv_rmse_pct %.1f coverage %.2f (train %.1fs, predict %.1fs)", strategy,
                 scored["aggregate"]["cv_rmse_pct"], scored["aggregate"]["coverage"], fit_s, predict_s)
    for res in results.values():
        for base in BASELINES:
            res["aggregate"][f"skill_vs_{base}"] = skill(res["aggregate"], results[base]["aggregate"])
    return results


def run_backtest(spark, data: pd.DataFrame, topology: pd.DataFrame, target: str, strategies: list[str],
                 horizon_hours: int, days: int, cfg: EDFConfig, refit_every_days: int | None = None) -> dict:
    """The whole protocol; returns the JSON document ``edf backtest`` writes."""
    from edf.models.sampling import sample_origins

    bt = prepare(spark, data, topology, target, horizon_hours, days, cfg)
    # the training job's row cap applies here too, so a backtest shows what the cap costs
    bt.train, sample = sample_origins(bt.train, cfg.edf_training.max_training_rows, cfg.edf_training.training_sample_seed)
    results = run_strategies(bt, target, strategies, cfg, refit_every_days)
    return {
        "target": target,
        "horizon_hours": horizon_hours,
        "refit_every_days": refit_every_days,
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
    return "\n".join([*lines, "", *render_buckets(doc)])


def render_buckets(doc: dict) -> list[str]:
    """Coverage and pinball loss per lead bucket (medians over buildings), one row per strategy."""
    buckets = list(dict.fromkeys(b for res in doc["results"].values() for b in res.get("by_lead_bucket", {})))
    if not buckets:
        return []
    head = f"{'lead bucket (h)':<16}" + "".join(f"{b + ' cov':>14}{b + ' pinball':>16}" for b in buckets)
    lines = [head, "-" * len(head)]
    for name, res in doc["results"].items():
        per = res.get("by_lead_bucket", {})
        lines.append(f"{name:<16}" + "".join(f"{_fmt(per.get(b, {}).get('coverage')):>14}"
                                             f"{_fmt(per.get(b, {}).get('pinball')):>16}" for b in buckets))
    missing = {name: res["aggregate"].get("missing_hours", 0) for name, res in doc["results"].items()}
    if any(missing.values()):
        lines.append(f"hours without an actual (meter gaps, never scored): {max(missing.values())}")
    return lines


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
