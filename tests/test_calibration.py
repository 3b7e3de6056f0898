"""Subnet intervals calibrated on a LUT's validation: a record that says the LUT is off by more than
a factor of three is refused, and an interval always holds its own point and never goes below zero
(synthetic LUT and validation records, so every figure is exact and fast)."""

from __future__ import annotations

import pytest

from search.nas.budget import Pricer, one_device
from search.nas.lut import LUTError
from search.nas.predictor import LatencyPredictor
from search.space import load_space
from tests.lut_factory import sized_lut
from tests.test_search import spread_configs, validation_of

TINY = load_space("tiny")


@pytest.fixture(scope="module")
def predictor() -> LatencyPredictor:
    return LatencyPredictor(sized_lut(TINY), TINY)


@pytest.fixture(scope="module")
def configs() -> list:
    return spread_configs(TINY, 20)


def priced(predictor, validation) -> Pricer:
    """A 10 ms budget on the predictor's LUT, its intervals calibrated on `validation`."""
    return one_device(predictor.lut.with_validation(validation), TINY, {"latency": 10.0})


def calibration(pricer: Pricer):
    return pricer.only.prices["latency"].calibration


def test_a_validation_whose_subnets_measured_a_thousandth_of_their_predictions_is_refused(predictor, configs):
    with pytest.raises(LUTError, match=(
        rf"^LUT {predictor.lut.id}'s validation of 2026-11-25 measured its subnets at 0.001x their predicted latency \(median\), "
        r"beyond the 3x a LUT of the device they ran on is within; profile the device again \(`bench profile`\)"
    )):
        priced(predictor, validation_of(predictor, configs, [0.001] * 20))


@pytest.mark.parametrize("ratio, refused", [(2.9, False), (3.1, True), (1 / 2.9, False), (1 / 3.1, True)])
def test_a_validation_is_refused_once_its_median_subnet_is_off_by_more_than_three_times(predictor, configs, ratio, refused):
    validation = validation_of(predictor, configs, [ratio] * 20)
    if refused:
        with pytest.raises(LUTError, match=f"measured its subnets at {ratio:.3g}x their predicted latency"):
            priced(predictor, validation)
    else:
        assert calibration(priced(predictor, validation)).points == 20


def test_a_biased_predictors_calibrated_interval_is_stretched_to_hold_its_own_point(predictor, configs):
    pricer = priced(predictor, validation_of(predictor, configs, [1.07, 1.09] * 10))
    point = predictor.predict(configs[0])
    low, high = pricer.only.interval("latency", configs[0])
    assert calibration(pricer).centre > calibration(pricer).spread  # unstretched, the interval would lie wholly above the point
    assert low == pytest.approx(point) and high > point * 1.07


def test_a_calibrated_interval_never_goes_below_zero(predictor, configs):
    pricer = priced(predictor, validation_of(predictor, configs, [0.4, 2.5] * 10))
    assert calibration(pricer).centre - calibration(pricer).spread < -50  # unclipped, the low end would be far below zero
    low, high = pricer.only.interval("latency", configs[0])
    assert low == 0.0 and high > predictor.predict(configs[0])
