"""Origin-aware feature engineering on Spark: one code path for training and inference.

A forecast is made at an *origin* ``o`` (the first hour not yet measured) for target hours
``t = o + L`` with lead ``L = 0 .. H-1`` hours. A row of features is keyed by
``(building_id, origin_time, timestamp_hour)`` and may use only:

* measurements strictly before ``o`` — a lag of ``k`` hours is therefore null when ``k <= L``
  (the reference config's 24 h lag with a 72 h horizon would otherwise read the future);
  trailing windows cover ``[o - w, o)``; the "same hour, previous 7 days" profile uses the seven
  most recent same-hour values before ``o``;
* *known* covariates for ``t``: calendar and holidays in the building's local time, solar
  geometry (pvlib), topology, and weather — a forecast at inference, the observation in training
  (the usual perfect-forecast assumption, stated in every evaluation report).

Training builds rows for one origin per day; inference for a single origin. Both call
:func:`features_for_origins`, which is why a building-hour gets identical features either way.

Scaling: everything is window functions over a per-building hourly grid plus two equi-joins, so
it runs unchanged on SageMaker Processing with more instances, EMR or Glue.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from edf.config import FeatureEngConfig
from edf.data import contract as c
from edf.data.feature_names import (
    KEY_COLUMNS,
    LEAD,
    MEASURED,
    ORIGIN,
    PROFILE_DAYS,
    TOPOLOGY_FEATURES,
    lag_name,
    profile_names,
    roll_name,
    seasonal_naive_name,
)
from edf.data.holidays import holiday_table

log = logging.getLogger(__name__)

_AGG = {"avg": F.avg, "stddev": F.stddev_samp, "min": F.min, "max": F.max, "sum": F.sum}

PROCESSED_SCHEMA = T.StructType([
    T.StructField(c.BUILDING_ID, T.StringType(), False),
    T.StructField(c.TIMESTAMP, T.TimestampType(), False),
    T.StructField(c.CONSUMPTION, T.DoubleType(), True),
    T.StructField(c.SOLAR, T.DoubleType(), True),
    T.StructField(c.TEMPERATURE, T.DoubleType(), True),
    T.StructField(c.GHI, T.DoubleType(), True),
    T.StructField(c.HUMIDITY, T.DoubleType(), True),
    T.StructField(c.HOLIDAY, T.IntegerType(), True),
])


def cast_processed(df: DataFrame, covariates: Sequence[str] = ()) -> DataFrame:
    """Project and cast to the contract's Spark types (tolerates absent optional columns).

    ``covariates`` (``edf_feature_eng.covariates``) are kept as doubles; a file without one gets a
    null column, so the same plan serves files with and without them.
    """
    fields = [*PROCESSED_SCHEMA.fields, *[T.StructField(name, T.DoubleType(), True) for name in covariates]]
    out = []
    for field in fields:
        col = F.col(field.name) if field.name in df.columns else F.lit(None)
        out.append(col.cast(field.dataType).alias(field.name))
    return df.select(*out)


def _topology_frame(spark: SparkSession, topology: pd.DataFrame) -> DataFrame:
    cols = [c.BUILDING_ID, *[t for t in TOPOLOGY_FEATURES if t in topology.columns]]
    topo = topology[cols].copy()
    schema = T.StructType([T.StructField(c.BUILDING_ID, T.StringType(), False)] + [
        T.StructField(name, T.DoubleType() if name in ("pv_capacity_kw", "battery_capacity_kwh", "latitude",
                                                         "longitude") else T.StringType(), True)
        for name in cols[1:]
    ])
    rows = [tuple(None if pd.isna(v) else (float(v) if isinstance(schema[i].dataType, T.DoubleType) else str(v))
                  for i, v in enumerate(rec)) for rec in topo.itertuples(index=False)]
    return spark.createDataFrame(rows, schema)


def _solar_geometry(spark: SparkSession, topology: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> DataFrame:
    """Sun elevation and clear-sky GHI (pvlib) at mid-hour for every distinct location and hour.

    Computed once per location rather than per building (buildings of one site share it), on the
    executors via ``mapInPandas``.
    """
    locations = topology[["latitude", "longitude"]].dropna().drop_duplicates()
    schema = "latitude double, longitude double, timestamp_hour timestamp, solar_elevation_deg double, clearsky_ghi double"
    if locations.empty:
        return spark.createDataFrame([], schema)
    hours = spark.range(0, int((end - start) / pd.Timedelta(hours=1)) + 1).select(
        (F.lit(start.tz_convert("UTC").tz_localize(None)).cast("timestamp")
         + F.make_dt_interval(F.lit(0), F.col("id").cast("int"))).alias(c.TIMESTAMP))
    locs = spark.createDataFrame([(float(a), float(b)) for a, b in locations.itertuples(index=False)],
                                 "latitude double, longitude double")

    def compute(batches):
        import pvlib

        for pdf in batches:
            out = []
            for (lat, lon), grp in pdf.groupby(["latitude", "longitude"], sort=False):
                times = pd.DatetimeIndex(grp[c.TIMESTAMP]).tz_localize("UTC") + pd.Timedelta(minutes=30)
                pos = pvlib.solarposition.get_solarposition(times, lat, lon)
                clear = pvlib.clearsky.haurwitz(pos["apparent_zenith"])
                out.append(grp.assign(solar_elevation_deg=pos["apparent_elevation"].to_numpy(),
                                      clearsky_ghi=clear["ghi"].fillna(0.0).to_numpy()))
            if out:
                yield pd.concat(out)

    return locs.crossJoin(hours).mapInPandas(compute, schema)


def _hourly_grid(source: DataFrame, end_by_building: DataFrame) -> DataFrame:
    """A complete hourly grid per building (missing hours become rows with null values, never zeros)."""
    spans = source.groupBy(c.BUILDING_ID).agg(F.min(c.TIMESTAMP).alias("_first")).join(
        end_by_building, c.BUILDING_ID)
    grid = spans.select(c.BUILDING_ID, F.explode(F.sequence("_first", "_last", F.expr("interval 1 hour"))).alias(c.TIMESTAMP))
    values = [col for col in source.columns if col not in (c.BUILDING_ID, c.TIMESTAMP)]
    return grid.join(source.select(c.BUILDING_ID, c.TIMESTAMP, *values), [c.BUILDING_ID, c.TIMESTAMP], "left")


def features_for_origins(
    spark: SparkSession,
    series: DataFrame,
    origins: DataFrame,
    topology: pd.DataFrame,
    fe: FeatureEngConfig,
    horizon_hours: int,
) -> DataFrame:
    """Features for every (building, origin) in ``origins`` and leads ``0 .. horizon_hours-1``.

    ``series`` holds measurements and weather per building-hour (contract columns plus the
    declared covariates). Measured columns at or after an origin may be present (training); they
    are never read for that origin's features — only as the row's actuals.
    """
    series = cast_processed(series, fe.covariate_names)
    span = _target_span(origins, horizon_hours)
    grid = _hourly_grid(series, _grid_end(series, origins, horizon_hours))
    row_cols, roll_cols = _row_level_columns(fe, horizon_hours)
    grid = grid.select("*", *row_cols, *roll_cols)

    # origin-level: trailing windows read at o-1 cover [o-w, o)
    roll_names = [roll_name(col, a, w) for col, a, w in _roll_specs(fe)]
    at_origin = grid.select(c.BUILDING_ID, (F.col(c.TIMESTAMP) + F.expr("interval 1 hour")).alias(ORIGIN), *roll_names)

    # targets: (building, origin) x lead
    targets = origins.select(c.BUILDING_ID, ORIGIN, F.explode(F.sequence(F.lit(0), F.lit(horizon_hours - 1))).alias(LEAD))
    targets = targets.withColumn(c.TIMESTAMP, F.col(ORIGIN) + F.make_dt_interval(F.lit(0), F.col(LEAD)))
    rows = targets.join(grid.drop(*roll_names), [c.BUILDING_ID, c.TIMESTAMP], "left").join(
        at_origin, [c.BUILDING_ID, ORIGIN], "left")
    selects, lag_cols = _origin_aware_selects(fe, horizon_hours)
    rows = rows.select(*selects, *[F.col(n) for n in roll_names])

    if fe.imputation_value is not None:
        rows = rows.fillna(float(fe.imputation_value), subset=lag_cols + roll_names)

    _warn_unknown_buildings(origins, topology)
    return _add_known_covariates(spark, rows, topology, fe, *span)


def _target_span(origins: DataFrame, horizon_hours: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last target hour. Read from the (small) origins frame, so the known covariates can
    be prepared without running the feature plan itself."""
    first_origin, max_origin = origins.agg(F.min(ORIGIN), F.max(ORIGIN)).first()
    if max_origin is None:
        raise ValueError("no forecast origins to build features for (too little history?)")
    return (pd.Timestamp(first_origin, tz="UTC"),
            pd.Timestamp(max_origin, tz="UTC") + pd.Timedelta(hours=horizon_hours - 1))


def _grid_end(series: DataFrame, origins: DataFrame, horizon_hours: int) -> DataFrame:
    """Per building, the last grid hour: its last target hour or its last measurement, whichever is later."""
    last = origins.groupBy(c.BUILDING_ID).agg(
        (F.max(ORIGIN) + F.make_dt_interval(F.lit(0), F.lit(horizon_hours - 1))).alias("_last"))
    return last.join(series.groupBy(c.BUILDING_ID).agg(F.max(c.TIMESTAMP).alias("_seen")), c.BUILDING_ID).select(
        c.BUILDING_ID, F.greatest("_last", "_seen").alias("_last"))


def _lag_specs(fe: FeatureEngConfig) -> dict[str, list[int]]:
    """Lags per source column: the configured ones plus those of the declared covariates."""
    lags = {col: list(ks) for col, ks in fe.lag_features.items()}
    for name, spec in fe.covariates.items():
        lags[name] = list(spec.lags)
    return {col: ks for col, ks in lags.items() if ks}


def _roll_specs(fe: FeatureEngConfig) -> list[tuple[str, str, int]]:
    """(column, aggregate, window) of every trailing window: configured, then covariate means."""
    specs = [(col, a, w) for col, spec in fe.rolling_window_features.items() for w in spec.windows for a in spec.aggs]
    specs += [(name, "avg", w) for name, spec in fe.covariates.items() for w in spec.rolling_windows]
    return specs


def _row_level_columns(fe: FeatureEngConfig, horizon_hours: int) -> tuple[list, list]:
    """Lag values, same-hour profiles (as seen from each grid row) and trailing windows ending at it."""
    by_time = Window.partitionBy(c.BUILDING_ID).orderBy(c.TIMESTAMP)
    same_hour = Window.partitionBy(c.BUILDING_ID, F.hour(c.TIMESTAMP)).orderBy(c.TIMESTAMP)
    row_cols = []
    for col, lags in _lag_specs(fe).items():
        row_cols += [F.lag(col, k).over(by_time).alias(lag_name(col, k)) for k in lags]
    max_back = (horizon_hours - 1) // 24 + 1
    for target in MEASURED:
        row_cols.append(F.lag(target, 168).over(by_time).alias(seasonal_naive_name(target)))
        for m in range(1, max_back + 1):
            frame = same_hour.rowsBetween(-(m + PROFILE_DAYS - 1), -m)
            row_cols += [F.avg(target).over(frame).alias(f"_pmean_{target}_{m}"),
                         F.stddev_samp(target).over(frame).alias(f"_pstd_{target}_{m}"),
                         F.count(target).over(frame).alias(f"_pcnt_{target}_{m}")]
    # trailing windows ending at the grid row (inclusive); read at row o-1 they cover [o-w, o)
    roll_cols = [_AGG[a](col).over(by_time.rowsBetween(-(w - 1), 0)).alias(roll_name(col, a, w))
                 for col, a, w in _roll_specs(fe)]
    return row_cols, roll_cols


def _origin_aware_selects(fe: FeatureEngConfig, horizon_hours: int) -> tuple[list, list[str]]:
    """The feature row's columns under the no-look-ahead rule: a lag k of a measured column (target
    or measured covariate) is usable only for leads L < k; profiles read the m-th week back for the
    lead's day; weather and known-ahead covariates are read at the target hour."""
    lead = F.col(LEAD)
    measured = {*MEASURED, *[n for n, spec in fe.covariates.items() if spec.availability == "measured"]}
    selects = [F.col(k) for k in KEY_COLUMNS] + [F.col(t) for t in MEASURED]
    lag_cols = []
    for col, lags in _lag_specs(fe).items():
        for k in lags:
            name = lag_name(col, k)
            lag_cols.append(name)
            selects.append(F.when(lead < k, F.col(name)).alias(name) if col in measured else F.col(name))
    max_back = (horizon_hours - 1) // 24 + 1
    for target in MEASURED:
        selects.append(F.when(lead < 168, F.col(seasonal_naive_name(target))).alias(seasonal_naive_name(target)))
        bucket = F.floor(lead / 24) + 1
        for kind, out in zip(("pmean", "pstd", "pcnt"), profile_names(target), strict=True):
            expr = F.lit(None)
            for m in range(max_back, 0, -1):
                expr = F.when(bucket == m, F.col(f"_{kind}_{target}_{m}")).otherwise(expr)
            selects.append(expr.alias(out))
    selects += [F.col(col) for col in (*c.WEATHER_COLUMNS, *fe.known_ahead_covariates)]
    return selects, lag_cols


def _warn_unknown_buildings(origins: DataFrame, topology: pd.DataFrame) -> None:
    known = topology[c.BUILDING_ID].tolist()
    unknown = origins.select(c.BUILDING_ID).distinct().where(~F.col(c.BUILDING_ID).isin(known)).limit(5).collect()
    if unknown:
        log.warning("buildings without topology (UTC calendar, no holidays, no solar geometry): %s",
                    [r[0] for r in unknown])


def _add_known_covariates(spark: SparkSession, rows: DataFrame, topology: pd.DataFrame, fe: FeatureEngConfig,
                          start: pd.Timestamp, end: pd.Timestamp) -> DataFrame:
    """Calendar (local time), holidays, topology and solar geometry for each target hour in [start, end]."""
    topo = _topology_frame(spark, topology)
    rows = rows.join(F.broadcast(topo), c.BUILDING_ID, "left")
    local = F.from_utc_timestamp(F.col(c.TIMESTAMP), F.coalesce(F.col("timezone"), F.lit("UTC")))
    calendar = {
        "hour_of_day": F.hour(local),
        "day_of_week": (F.dayofweek(local) + 5) % 7,  # Monday = 0
        "day_of_month": F.dayofmonth(local),
        "month_of_year": F.month(local),
        "is_weekend": ((F.dayofweek(local) + 5) % 7 >= 5).cast("int"),
        "day_of_year": F.dayofyear(local),
    }
    rows = rows.select("*", *[calendar[name].alias(name) for name in fe.time_features],
                       F.to_date(local).alias("_local_date"))

    hol_df = _holiday_frame(spark, topology, start, end)
    if hol_df is None:
        rows = rows.withColumn(c.HOLIDAY, F.lit(0))
    else:
        rows = rows.join(F.broadcast(hol_df), [c.BUILDING_ID, "_local_date"], "left").withColumn(
            c.HOLIDAY, F.coalesce(F.col("_hol"), F.lit(0))).drop("_hol")
    rows = rows.drop("_local_date")

    geometry = _solar_geometry(spark, topology, start, end)
    rows = rows.join(F.broadcast(geometry) if geometry.rdd.getNumPartitions() <= 64 else geometry,
                     ["latitude", "longitude", c.TIMESTAMP], "left")
    leading = [*KEY_COLUMNS, *MEASURED]
    return rows.select(*leading, *[col for col in rows.columns if col not in leading])


def _holiday_frame(spark: SparkSession, topology: pd.DataFrame, start: pd.Timestamp,
                   end: pd.Timestamp) -> DataFrame | None:
    """(building_id, _local_date, _hol=1) for the holidays in [start - 1 day, end + 1 day].

    The calendar is computed once per location (country, subdivision) on the driver - a few dozen
    dates each - and joined to the buildings in Spark, so the driver never builds a buildings x
    holidays table (500,000 Python tuples at 10,000 buildings over a few years).
    """
    cols = [col for col in ("country", "subdivision") if col in topology.columns]
    if "country" not in cols:
        return None
    places = topology[[c.BUILDING_ID, *cols]].drop_duplicates(subset=cols)
    first, last = (start - pd.Timedelta(days=1)).date(), (end + pd.Timedelta(days=1)).date()
    dates = []
    for rec in places.itertuples(index=False):
        sub = getattr(rec, "subdivision", None)
        one = pd.DataFrame({c.BUILDING_ID: [rec.building_id], "country": [rec.country], "subdivision": [sub]})
        for _, day in holiday_table(one, start, end).itertuples(index=False):
            if first <= day.date() <= last:
                dates.append((_text(rec.country), _text(sub), day.date()))
    if not dates:
        return None
    by_place = spark.createDataFrame(dates, "_country string, _sub string, _local_date date")
    buildings = spark.createDataFrame(
        [(str(b), _text(cn), _text(sb)) for b, cn, sb in topology.reindex(
            columns=[c.BUILDING_ID, "country", "subdivision"]).itertuples(index=False)],
        f"{c.BUILDING_ID} string, _country string, _sub string")
    return buildings.join(by_place, [buildings["_country"].eqNullSafe(by_place["_country"]),
                                     buildings["_sub"].eqNullSafe(by_place["_sub"])]).select(
        c.BUILDING_ID, "_local_date", F.lit(1).alias("_hol"))


def _text(value) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA else str(value)


# ---------------------------------------------------------------------------------------------
# Training and inference entry points
# ---------------------------------------------------------------------------------------------

@dataclass
class TrainingFeatures:
    train: DataFrame
    eval: DataFrame
    split_time: dt.datetime  # first evaluation origin; no training target is at or after it
    rows: DataFrame | None = None  # persisted rows both sets filter; release() once they are written

    def release(self) -> None:
        if self.rows is not None:
            self.rows.unpersist()


def training_origins(series: DataFrame, fe: FeatureEngConfig, horizon_hours: int) -> DataFrame:
    """One origin per building and day at ``origin_hour_utc`` with at least ``min_history_days`` before it."""
    spans = series.where(F.col(fe.target_column).isNotNull() | F.col(c.SOLAR).isNotNull() | F.col(c.CONSUMPTION).isNotNull()) \
        .groupBy(c.BUILDING_ID).agg(F.min(c.TIMESTAMP).alias("_first"), F.max(c.TIMESTAMP).alias("_last"))
    first_origin = F.date_trunc("day", F.col("_first") + F.make_dt_interval(F.lit(fe.min_history_days), F.lit(fe.origin_hour_utc)))
    # the whole horizon of an origin must lie inside the data, so every target hour can be scored
    last_origin = F.col("_last") - F.make_dt_interval(F.lit(0), F.lit(horizon_hours - 1))
    origins = spans.where(first_origin <= last_origin).select(
        c.BUILDING_ID, F.explode(F.sequence(first_origin, last_origin, F.expr("interval 1 day"))).alias(ORIGIN))
    return origins.where(F.hour(ORIGIN) == fe.origin_hour_utc)


def build_training_features(
    spark: SparkSession,
    processed: DataFrame,
    topology: pd.DataFrame,
    fe: FeatureEngConfig,
    horizon_hours: int | None = None,
) -> TrainingFeatures:
    """Train/eval feature sets split by time: evaluation origins are the last ``eval_days`` days."""
    horizon = horizon_hours or fe.training_horizon_hours
    series = cast_processed(processed, fe.covariate_names).cache()
    origins = training_origins(series, fe, horizon)
    last_origin = origins.agg(F.max(ORIGIN)).first()[0]
    if last_origin is None:
        raise ValueError(f"too little history: every building needs more than {fe.min_history_days} days "
                         "before its first forecast origin")
    split = last_origin - dt.timedelta(days=fe.eval_days - 1)
    # persisted: the train and eval writes would otherwise each run the whole feature plan
    rows = features_for_origins(spark, series, origins, topology, fe, horizon).persist(StorageLevel.MEMORY_AND_DISK)
    split_lit = F.lit(split).cast("timestamp")
    train = rows.where((F.col(ORIGIN) < split_lit) & (F.col(c.TIMESTAMP) < split_lit))
    evaluation = rows.where(F.col(ORIGIN) >= split_lit)
    return TrainingFeatures(train=train, eval=evaluation, split_time=split, rows=rows)


def latest_weather_forecast(weather_forecast: DataFrame, origin: dt.datetime, extra: Sequence[str] = ()) -> DataFrame:
    """Per building-hour, the newest forecast issued at or before the origin.

    ``extra``: known-ahead covariates; the feed's column of the same name is their forecast (null
    when the feed does not carry it — the models treat it as missing, never as zero).
    """
    issued = weather_forecast.where(F.col(c.FORECAST_ISSUE_TIME) <= F.lit(origin).cast("timestamp"))
    newest = Window.partitionBy(c.BUILDING_ID, c.TIMESTAMP).orderBy(F.col(c.FORECAST_ISSUE_TIME).desc())
    absent = [name for name in extra if name not in weather_forecast.columns]
    if absent:
        log.warning("the weather forecast feed has no column for known-ahead covariate(s) %s: null for the horizon",
                    absent)
    values = [(F.col(w) if w in weather_forecast.columns else F.lit(None)).cast("double").alias(w)
              for w in (*c.WEATHER_COLUMNS, *extra)]
    return issued.withColumn("_rank", F.row_number().over(newest)).where("_rank = 1").select(
        c.BUILDING_ID, c.TIMESTAMP, *values)


def build_inference_features(
    spark: SparkSession,
    history: DataFrame,
    topology: pd.DataFrame,
    fe: FeatureEngConfig,
    origin: dt.datetime,
    horizon_hours: int,
    weather_forecast: DataFrame | None = None,
    lookback_days: int = 14,
    recalibration_days: int = 0,
) -> DataFrame:
    """Features for one origin: history strictly before it, weather forecasts for the horizon.

    ``recalibration_days`` > 0 adds the daily origins of the previous days: their target hours
    before ``origin`` carry actuals, so the forecast job can score the model's most recent errors
    and recalibrate the interval (``edf.models.calibration``). They read only history before
    ``origin`` and are not forecasts of this run.
    """
    origin_lit = F.lit(origin).cast("timestamp")
    start = F.lit(origin - dt.timedelta(days=lookback_days)).cast("timestamp")
    covs = fe.covariate_names
    past = cast_processed(history, covs).where((F.col(c.TIMESTAMP) < origin_lit) & (F.col(c.TIMESTAMP) >= start))
    buildings = past.select(c.BUILDING_ID).distinct()
    if weather_forecast is not None:
        future = latest_weather_forecast(weather_forecast, origin, fe.known_ahead_covariates).where(
            (F.col(c.TIMESTAMP) >= origin_lit)
            & (F.col(c.TIMESTAMP) < F.lit(origin + dt.timedelta(hours=horizon_hours)).cast("timestamp"))
        ).join(buildings, c.BUILDING_ID)
        series = past.unionByName(cast_processed(future, covs))
    else:
        series = past
    stamps = [origin - dt.timedelta(days=d) for d in range(recalibration_days, -1, -1)]
    origins = functools.reduce(DataFrame.unionByName, [
        buildings.select(c.BUILDING_ID, F.lit(t).cast("timestamp").alias(ORIGIN)) for t in stamps])
    return features_for_origins(spark, series, origins, topology, fe, horizon_hours)
