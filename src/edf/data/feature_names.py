"""The feature-row naming contract: key columns and the names of lag, window and profile features.

Models, baselines and evaluation read feature rows by these names; the Spark pipeline
(:mod:`edf.features.pipeline`) writes them. Keeping the names here, free of Spark, lets
``import edf.models`` work in an environment without pyspark (the training image's model code and
the tests of the models need no JVM).
"""

from __future__ import annotations

from edf.config import FeatureEngConfig
from edf.data import contract as c

ORIGIN = "origin_time"
LEAD = "lead_hours"
KEY_COLUMNS = (c.BUILDING_ID, ORIGIN, c.TIMESTAMP, LEAD)
MEASURED = (c.CONSUMPTION, c.SOLAR)  # only known up to the origin
KNOWN_AHEAD = c.WEATHER_COLUMNS  # known for the horizon through the weather forecast
TOPOLOGY_FEATURES = ("building_type", "pv_capacity_kw", "battery_capacity_kwh", "latitude", "longitude",
                     "timezone", "grid_area")
PROFILE_DAYS = 7
_PREFIX = {c.CONSUMPTION: "consumption", c.SOLAR: "solar", c.TEMPERATURE: "temperature",
           c.GHI: "solar_irradiance_ghi", c.HUMIDITY: "humidity"}


def prefix(column: str) -> str:
    """Name stem of a source column; a declared covariate (``edf_feature_eng.covariates``) is its own stem."""
    return _PREFIX.get(column, column)


def lag_name(column: str, k: int) -> str:
    return f"{prefix(column)}_lag_{k}h"


def roll_name(column: str, agg: str, w: int) -> str:
    return f"{prefix(column)}_roll_{agg}_{w}h"


def profile_names(target: str) -> tuple[str, str, str]:
    p = prefix(target)
    return f"{p}_profile_mean_7d", f"{p}_profile_std_7d", f"{p}_profile_count_7d"


def seasonal_naive_name(target: str) -> str:
    return f"{prefix(target)}_same_hour_last_week"


def feature_columns(fe: FeatureEngConfig) -> list[str]:
    """Every model-usable column the pipeline emits (keys and actuals excluded)."""
    cols = list(fe.time_features) + [c.HOLIDAY, *c.WEATHER_COLUMNS, LEAD, "solar_elevation_deg",
                                      "clearsky_ghi", "pv_capacity_kw", "battery_capacity_kwh"]
    for col, lags in fe.lag_features.items():
        cols += [lag_name(col, k) for k in lags]
    for col, spec in fe.rolling_window_features.items():
        cols += [roll_name(col, a, w) for w in spec.windows for a in spec.aggs]
    cols += covariate_feature_names(fe)
    for target in MEASURED:
        cols += [*profile_names(target), seasonal_naive_name(target)]
    return list(dict.fromkeys(cols))


def covariate_feature_names(fe: FeatureEngConfig) -> list[str]:
    """Feature columns the declared covariates add: a known-ahead one's value at the target hour,
    then each covariate's lags and trailing means (a measured one's own value is never a feature)."""
    cols = list(fe.known_ahead_covariates)
    for name, spec in fe.covariates.items():
        cols += [lag_name(name, k) for k in spec.lags]
        cols += [roll_name(name, "avg", w) for w in spec.rolling_windows]
    return cols
