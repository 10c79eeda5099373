"""Compliance model: the probability that a building follows a demand-response request.

A DR request is only worth its *expected* effect: a building asked to shed 1 kWh delivers
``compliance x 1 kWh`` on average. The model is a logistic adjustment of a per-type base rate:

    logit(p) = logit(base_rate[building_type])                 # 0.363 when the type is unknown
             + size_coef        * ln(size_kwh / size_reference_kwh)
             + depth_coef       * (depth - depth_reference)
             + time_of_day_coef[period of the local hour]
             + temperature_coef * max(|T - comfort_c| - band_c, 0)
    p = clip(sigmoid(logit(p)), low, high)                       # bounds [0.1, 0.8] by default

The base rate is thus the compliance of a reference building (mean demand = reference size)
asked for the reference depth in a neutral period at a comfortable temperature. The logit scale
keeps every adjustment multiplicative on the odds and the result inside (0, 1) before clipping.
Missing inputs (no temperature, no size) contribute nothing rather than guessing. Every
coefficient lives in ``edf_optimization`` in the config; the defaults are starting values to be
calibrated on a programme's own event data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edf.config import OptimizationConfig


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def time_of_day_shift(local_hour: np.ndarray, coefs: dict[int, float]) -> np.ndarray:
    """Logit shift per local hour: each key is the start hour of a period that lasts until the next key.

    Hours before the first key belong to the last period (the periods wrap around midnight).
    """
    hours = np.asarray(local_hour, dtype="int64")
    if hours.size and (hours.min() < 0 or hours.max() > 23):
        raise ValueError("local_hour must be in 0..23")
    starts = sorted(coefs)
    table = np.empty(24)
    for h in range(24):
        earlier = [s for s in starts if s <= h]
        table[h] = coefs[earlier[-1] if earlier else starts[-1]]
    return table[hours]


def base_rates(building_types: Sequence[str | None], params: OptimizationConfig) -> np.ndarray:
    """Per-building base rate by type (case-insensitive); unknown or missing types get the unknown rate."""
    rates = {str(k).lower(): v for k, v in params.compliance_base_rates.items()}
    out = np.empty(len(building_types))
    for i, t in enumerate(building_types):
        key = str(t).strip().lower() if t is not None and t == t else ""  # t == t is False for NaN
        out[i] = rates.get(key, params.compliance_unknown_rate)
    return out


def compliance_probability(
    building_types: Sequence[str | None],
    size_kwh: Sequence[float] | np.ndarray,
    depth: float | Sequence[float] | np.ndarray,
    local_hour: np.ndarray,
    params: OptimizationConfig,
    temperature_c: np.ndarray | None = None,
) -> np.ndarray:
    """Compliance per building and hour, shape ``(buildings, hours)``, within ``params.compliance_bounds``.

    ``size_kwh``: the building's mean hourly demand (kWh) — the size measure every building has
    (floor area is mostly missing in practice); NaN or non-positive means "unknown, no effect".
    ``depth``: the requested curtailment as a share of demand, scalar, per building ``(B,)`` or
    per building and hour ``(B, T)``. ``local_hour``: the hour of day at the building, ``(B, T)``
    or ``(T,)`` when all buildings share a time zone. ``temperature_c``: ``(B, T)``, ``(T,)`` or
    None; NaN entries contribute nothing.
    """
    n = len(building_types)
    hours = np.asarray(local_hour)
    if hours.ndim == 1:
        hours = np.broadcast_to(hours, (n, hours.shape[0]))
    if hours.ndim != 2 or hours.shape[0] != n:
        raise ValueError(f"local_hour must have shape (hours,) or ({n}, hours), got {np.shape(local_hour)}")
    shape = hours.shape

    size = np.asarray(size_kwh, dtype="float64").reshape(-1)
    if size.shape[0] != n:
        raise ValueError(f"size_kwh has {size.shape[0]} values for {n} buildings")
    with np.errstate(divide="ignore", invalid="ignore"):
        size_term = params.compliance_size_coef * np.log(size / params.compliance_size_reference_kwh)
    size_term = np.where(np.isfinite(size_term), size_term, 0.0)

    d = np.asarray(depth, dtype="float64")
    if d.ndim == 1:
        d = d[:, None]
    d = np.broadcast_to(d, shape)
    if np.any(~np.isfinite(d)) or np.any(d < 0) or np.any(d > 1):
        raise ValueError("depth must be a share of demand between 0 and 1")

    z = (_logit(base_rates(building_types, params))[:, None] + size_term[:, None]
         + params.compliance_depth_coef * (d - params.compliance_depth_reference)
         + time_of_day_shift(hours, params.compliance_time_of_day_coef))
    if temperature_c is not None:
        temp = np.broadcast_to(np.asarray(temperature_c, dtype="float64"), shape)
        excess = np.clip(np.abs(temp - params.compliance_temperature_comfort_c)
                         - params.compliance_temperature_band_c, 0.0, None)
        z = z + params.compliance_temperature_coef * np.where(np.isfinite(excess), excess, 0.0)
    lo, hi = params.compliance_bounds
    return np.clip(1.0 / (1.0 + np.exp(-z)), lo, hi)
