from __future__ import annotations

import pytest

from jupyter_gpuguard.instance import manual
from tests.helpers.machines import SPOT


def test_manual_spot_machine():
    info = manual.from_settings(SPOT)
    assert info.provider == "manual"
    assert info.interruptible is True
    assert info.price_per_hour == 0.23
    assert info.on_demand_price_per_hour == 0.49
    assert info.gpu_name == "RTX A6000"
    assert info.gpu_memory_gb == 48
    assert info.region == "EU-RO-1"
    assert info.price_source == manual.SOURCE
    assert info.detail == "Manually configured spot machine."


def test_on_demand_price_defaults_to_the_price():
    info = manual.from_settings({"interruptible": False, "price_per_hour": 2.5})
    assert info.on_demand_price_per_hour == 2.5
    assert info.gpu_count == 0


def test_no_price_is_said():
    info = manual.from_settings({"gpu_name": "A100"})
    assert info.price_per_hour is None
    assert info.gpu_count == 1
    assert info.interruptible is None
    assert "no hourly price" in info.detail


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"price_per_hour": 0}, "price_per_hour must be a positive number"),
        ({"price_per_hour": "cheap"}, "price_per_hour must be a positive number"),
        ({"gpu_count": -1}, "gpu_count must be a whole number"),
        ({"gpu_count": True}, "gpu_count must be a whole number"),
        ({"interruptible": "yes"}, "interruptible must be true or false"),
        ({"gpu_name": 5}, "gpu_name must be text"),
        ({"gpu_memory_gb": "lots"}, "gpu_memory_gb must be a positive number"),
        ({"colour": "red"}, "unknown keys colour"),
    ],
)
def test_bad_settings_are_explained_not_raised(settings, problem):
    info = manual.from_settings(settings)
    assert problem in info.detail
    assert info.price_per_hour is None
