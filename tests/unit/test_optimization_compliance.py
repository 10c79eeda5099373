"""Compliance model: base rates, direction of every effect, bounds and input errors."""

from __future__ import annotations

import numpy as np
import pytest

from edf.optimization.compliance import base_rates, compliance_probability, time_of_day_shift


@pytest.fixture()
def params(cfg):
    return cfg.edf_optimization


def _neutral_hour(params) -> int:
    return next(h for h in range(24) if time_of_day_shift(np.array([h]), params.compliance_time_of_day_coef)[0] == 0)


def test_reference_conditions_give_the_base_rate(params):
    hour = _neutral_hour(params)
    p = compliance_probability(["residential", None, "spaceship"], [params.compliance_size_reference_kwh] * 3,
                               params.compliance_depth_reference, np.array([hour]), params)
    assert p.shape == (3, 1)
    assert p[0, 0] == pytest.approx(params.compliance_base_rates["residential"])
    assert p[1, 0] == pytest.approx(0.363)  # unknown type -> 0.363
    assert p[2, 0] == pytest.approx(params.compliance_unknown_rate)


def test_effects_have_the_configured_direction(params):
    hour = _neutral_hour(params)
    ref = params.compliance_size_reference_kwh
    shallow = compliance_probability(["office"], [ref], 0.05, np.array([hour]), params)
    deep = compliance_probability(["office"], [ref], 0.6, np.array([hour]), params)
    assert deep[0, 0] < shallow[0, 0]  # depth_coef < 0
    small = compliance_probability(["office"], [ref / 4], 0.2, np.array([hour]), params)
    big = compliance_probability(["office"], [ref * 4], 0.2, np.array([hour]), params)
    assert big[0, 0] > small[0, 0]  # size_coef > 0
    comfy = compliance_probability(["office"], [ref], 0.2, np.array([hour]), params,
                                   temperature_c=np.array([params.compliance_temperature_comfort_c]))
    hot = compliance_probability(["office"], [ref], 0.2, np.array([hour]), params,
                                 temperature_c=np.array([params.compliance_temperature_comfort_c + 15]))
    assert hot[0, 0] < comfy[0, 0]
    missing_temp = compliance_probability(["office"], [ref], 0.2, np.array([hour]), params,
                                          temperature_c=np.array([np.nan]))
    assert missing_temp[0, 0] == pytest.approx(comfy[0, 0])  # NaN temperature has no effect


def test_time_of_day_periods_wrap_around_midnight(params):
    shifts = time_of_day_shift(np.arange(24), {6: 1.0, 18: -1.0})
    assert shifts[5] == -1.0 and shifts[6] == 1.0 and shifts[17] == 1.0 and shifts[18] == -1.0 and shifts[0] == -1.0


def test_bounds_hold_for_extreme_inputs(params):
    lo, hi = params.compliance_bounds
    hours = np.tile(np.arange(24), (4, 1))
    p = compliance_probability(["industrial", "residential", None, "pv_array"], [1e6, 1e-6, np.nan, 0.0],
                               np.array([0.0, 1.0, 0.5, 1.0]), hours, params,
                               temperature_c=np.full((4, 24), 60.0))
    assert p.shape == (4, 24)
    assert p.min() >= lo and p.max() <= hi
    assert p.min() == pytest.approx(lo)  # the very deep, tiny, hot request is clipped to the floor


def test_bad_inputs_are_rejected(params):
    with pytest.raises(ValueError, match="depth"):
        compliance_probability(["office"], [1.0], 1.5, np.array([12]), params)
    with pytest.raises(ValueError, match="size_kwh"):
        compliance_probability(["office", "office"], [1.0], 0.2, np.array([12]), params)
    with pytest.raises(ValueError, match="local_hour"):
        compliance_probability(["office"], [1.0], 0.2, np.array([25]), params)


def test_base_rates_are_case_insensitive(params):
    assert base_rates(["Residential", "RESIDENTIAL"], params).tolist() == [params.compliance_base_rates["residential"]] * 2
