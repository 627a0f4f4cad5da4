from __future__ import annotations

import dataclasses
import datetime
import json
import math
from importlib import resources

import pytest

from jupyter_gpuguard.instance.prices import (
    OVERRIDE_SOURCE,
    PriceRow,
    load_table,
    lookup,
    table_currency,
    validate_table,
)

REQUIRED = {
    "aws": [
        "p3.2xlarge",
        "p3.8xlarge",
        "p3.16xlarge",
        "p3dn.24xlarge",
        "p4d.24xlarge",
        "p4de.24xlarge",
        "p5.48xlarge",
        *(
            f"g4dn.{size}"
            for size in ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "metal")
        ),
        *(
            f"{family}.{size}"
            for family in ("g5", "g6")
            for size in (
                "xlarge",
                "2xlarge",
                "4xlarge",
                "8xlarge",
                "12xlarge",
                "16xlarge",
                "24xlarge",
                "48xlarge",
            )
        ),
    ],
    "gcp": [
        *(f"a2-highgpu-{n}g" for n in (1, 2, 4, 8)),
        "a2-megagpu-16g",
        *(f"a2-ultragpu-{n}g" for n in (1, 2, 4, 8)),
        *(f"a3-highgpu-{n}g" for n in (1, 2, 4, 8)),
        "a3-megagpu-8g",
        *(f"g2-standard-{n}" for n in (4, 8, 12, 16, 24, 32, 48, 96)),
    ],
    "azure": [
        "Standard_NC6s_v3",
        "Standard_NC12s_v3",
        "Standard_NC24s_v3",
        "Standard_NC4as_T4_v3",
        "Standard_NC8as_T4_v3",
        "Standard_NC16as_T4_v3",
        "Standard_NC64as_T4_v3",
        "Standard_NC24ads_A100_v4",
        "Standard_NC48ads_A100_v4",
        "Standard_NC96ads_A100_v4",
        "Standard_NC40ads_H100_v5",
        "Standard_NC80adis_H100_v5",
        "Standard_ND96asr_v4",
        "Standard_ND96amsr_A100_v4",
        "Standard_ND96isr_H100_v5",
    ],
}

TODAY = datetime.date.today().isoformat()


def _raw_document() -> dict:
    text = (resources.files("jupyter_gpuguard.instance") / "prices.json").read_text("utf-8")
    return json.loads(text)


def _good_row(**changes) -> dict:
    row = {
        "provider": "aws",
        "instance_type": "g5.xlarge",
        "region": "*",
        "gpu_name": "NVIDIA A10G",
        "gpu_count": 1,
        "gpu_memory_gb": 24,
        "on_demand": 1.006,
        "spot": None,
        "date": "2025-01-15",
        "source": "https://aws.amazon.com/ec2/pricing/on-demand/",
    }
    row.update(changes)
    return row


# --- the shipped table ---------------------------------------------------------------------


def test_prices_json_ships_inside_the_package():
    path = resources.files("jupyter_gpuguard.instance") / "prices.json"
    assert path.is_file()
    document = _raw_document()
    assert document["currency"] == "USD"
    assert table_currency() == "USD"
    assert len(document["rows"]) == len(load_table())


def test_shipped_table_validates():
    validate_table(load_table())
    validate_table(_raw_document()["rows"])  # the JSON as written, before any conversion


def test_every_row_has_a_dated_sourced_figure():
    for row in load_table():
        datetime.date.fromisoformat(row.date)
        assert row.source.startswith("https://"), row
        assert row.region == "*" or row.on_demand is not None, row


@pytest.mark.parametrize(
    ("provider", "instance_type"),
    [(provider, itype) for provider, types in REQUIRED.items() for itype in types],
)
def test_required_instance_type_has_a_default_row(provider, instance_type):
    row = lookup(provider, instance_type, None)
    assert row is not None
    assert row.region == "*"
    assert row.instance_type == instance_type
    assert row.gpu_count >= 1
    assert row.gpu_name and row.gpu_name.startswith("NVIDIA ")
    assert row.gpu_memory_gb is not None


@pytest.mark.parametrize(
    ("provider", "instance_type", "gpu_name", "count", "memory"),
    [
        ("aws", "p3dn.24xlarge", "NVIDIA V100 32GB", 8, 32),
        ("aws", "p4d.24xlarge", "NVIDIA A100 40GB", 8, 40),
        ("aws", "p4de.24xlarge", "NVIDIA A100 80GB", 8, 80),
        ("aws", "p5.48xlarge", "NVIDIA H100 80GB", 8, 80),
        ("aws", "g4dn.12xlarge", "NVIDIA T4", 4, 16),
        ("aws", "g4dn.metal", "NVIDIA T4", 8, 16),
        ("aws", "g5.24xlarge", "NVIDIA A10G", 4, 24),
        ("aws", "g6.48xlarge", "NVIDIA L4", 8, 24),
        ("aws", "g6.16xlarge", "NVIDIA L4", 1, 24),
        ("gcp", "a2-megagpu-16g", "NVIDIA A100 40GB", 16, 40),
        ("gcp", "a2-ultragpu-8g", "NVIDIA A100 80GB", 8, 80),
        ("gcp", "a3-highgpu-8g", "NVIDIA H100 80GB", 8, 80),
        ("gcp", "g2-standard-24", "NVIDIA L4", 2, 24),
        ("gcp", "g2-standard-96", "NVIDIA L4", 8, 24),
        ("azure", "Standard_NC24s_v3", "NVIDIA V100", 4, 16),
        ("azure", "Standard_NC64as_T4_v3", "NVIDIA T4", 4, 16),
        ("azure", "Standard_NC24ads_A100_v4", "NVIDIA A100 80GB PCIe", 1, 80),
        ("azure", "Standard_NC80adis_H100_v5", "NVIDIA H100 NVL", 2, 94),
        ("azure", "Standard_ND96asr_v4", "NVIDIA A100 40GB", 8, 40),
        ("azure", "Standard_ND96isr_H100_v5", "NVIDIA H100 80GB", 8, 80),
    ],
)
def test_gpu_facts(provider, instance_type, gpu_name, count, memory):
    row = lookup(provider, instance_type, None)
    assert row is not None
    assert (row.gpu_name, row.gpu_count, row.gpu_memory_gb) == (gpu_name, count, memory)


def test_prices_per_gpu_are_plausible():
    """Catches a misplaced decimal point: no GPU in the table rents for under $0.10 or over $20."""
    for row in load_table():
        for price in (row.on_demand, row.spot):
            if price is not None:
                assert 0.1 <= price / row.gpu_count <= 20, row


def test_sizes_of_a_family_cost_more_with_more_gpus():
    for family in ("a2-highgpu-{}g", "a2-ultragpu-{}g"):
        prices = [lookup("gcp", family.format(n), None).on_demand for n in (1, 2, 4, 8)]
        assert prices == sorted(prices)
        assert prices[-1] == pytest.approx(8 * prices[0], rel=1e-3)


def test_spot_figures_exist_only_where_published():
    with_spot = {(r.provider, r.instance_type, r.region) for r in load_table() if r.spot}
    assert ("gcp", "g2-standard-4", "*") in with_spot
    assert ("gcp", "a2-highgpu-1g", "*") in with_spot
    assert not any(provider == "aws" for provider, _, _ in with_spot)
    assert not any(provider == "azure" for provider, _, _ in with_spot)


# --- lookup --------------------------------------------------------------------------------


def test_region_row_wins_over_default():
    tokyo = lookup("aws", "g5.xlarge", "ap-northeast-1")
    assert tokyo.region == "ap-northeast-1"
    assert tokyo.on_demand == 1.459
    ireland = lookup("aws", "g5.xlarge", "eu-west-1")
    assert ireland.region == "eu-west-1"
    assert ireland.on_demand == 1.123


def test_default_row_when_region_has_no_row():
    row = lookup("aws", "g5.xlarge", "us-east-1")
    assert row.region == "*"
    assert row.on_demand == 1.006
    assert row.gpu_name == "NVIDIA A10G"
    assert lookup("aws", "g5.xlarge", None).on_demand == 1.006
    assert lookup("aws", "g5.xlarge", "").on_demand == 1.006


def test_gcp_zone_falls_back_to_its_region():
    row = lookup("gcp", "g2-standard-8", "europe-west4-b")
    assert row.region == "europe-west4"
    assert row.on_demand == 0.89661
    assert row.spot == 0.3341
    default = lookup("gcp", "a2-highgpu-1g", "us-central1-a")
    assert default.region == "*"
    assert default.on_demand == 3.67339
    assert default.spot == 1.443


def test_aws_availability_zone_falls_back_to_its_region():
    assert lookup("aws", "p3.2xlarge", "eu-west-1b").on_demand == 3.305
    assert lookup("aws", "p3.2xlarge", "us-east-1a").on_demand == 3.06


def test_matching_is_case_insensitive():
    row = lookup("Azure", "STANDARD_NC24ADS_A100_V4", "WestUS")
    assert row.region == "westus"
    assert row.on_demand == 4.775
    assert row.instance_type == "Standard_NC24ads_A100_v4"
    assert lookup("azure", "standard_nc24ads_a100_v4", "eastus").on_demand == 3.673
    assert lookup("AWS", "G5.XLarge", "EU-WEST-1").on_demand == 1.123


def test_gcp_machine_type_url_is_accepted():
    row = lookup("gcp", "projects/123/machineTypes/g2-standard-4", "us-central1-a")
    assert row.on_demand == 0.70683


def test_unknown_instances_are_none():
    assert lookup("aws", "x9.enormous", "us-east-1") is None
    assert lookup("aws", None, "us-east-1") is None
    assert lookup("aws", "  ", None) is None
    assert lookup("runpod", "g5.xlarge", None) is None
    assert lookup("", "g5.xlarge", None) is None


def test_rows_without_a_public_price_keep_gpu_facts():
    row = lookup("gcp", "a3-megagpu-8g", "us-central1-a")
    assert row.on_demand is None
    assert (row.gpu_name, row.gpu_count) == ("NVIDIA H100 80GB", 8)


# --- overrides -----------------------------------------------------------------------------


def test_override_merges_over_shipped_row():
    row = lookup("aws", "g5.xlarge", "us-east-1", {"aws:g5.xlarge": {"on_demand": 0.9}})
    assert row.on_demand == 0.9
    assert row.gpu_name == "NVIDIA A10G"
    assert row.gpu_count == 1
    assert row.date == TODAY
    assert row.source.startswith(OVERRIDE_SOURCE)
    assert "aws.amazon.com" in row.source


def test_override_of_one_type_leaves_others_alone():
    row = lookup("aws", "g5.2xlarge", "us-east-1", {"aws:g5.xlarge": {"on_demand": 0.9}})
    assert row.on_demand == 1.212
    assert row.date == "2025-01-15"


def test_override_creates_a_row():
    overrides = {
        "manual:my-box": {
            "on_demand": 2.5,
            "spot": "1.25",
            "gpu_name": "NVIDIA RTX 4090",
            "gpu_count": 2,
            "gpu_memory_gb": 24,
        }
    }
    row = lookup("manual", "my-box", None, overrides)
    assert row == PriceRow(
        provider="manual",
        instance_type="my-box",
        region="*",
        gpu_name="NVIDIA RTX 4090",
        gpu_count=2,
        gpu_memory_gb=24,
        on_demand=2.5,
        spot=1.25,
        date=TODAY,
        source=OVERRIDE_SOURCE,
    )


def test_override_created_row_without_gpu_facts():
    row = lookup("aws", "x9.enormous", "us-east-1", {"aws:x9.enormous": {"on_demand": 7}})
    assert (row.on_demand, row.gpu_name, row.gpu_count, row.source) == (
        7,
        None,
        0,
        OVERRIDE_SOURCE,
    )


def test_region_override_beats_general_override():
    overrides = {
        "aws:g5.xlarge": {"on_demand": 0.9, "spot": 0.3},
        "aws:g5.xlarge:eu-west-1": {"on_demand": 1.5},
    }
    ireland = lookup("aws", "g5.xlarge", "eu-west-1", overrides)
    assert ireland.on_demand == 1.5
    assert ireland.spot == 0.3  # the general entry still applies where the regional one is silent
    assert ireland.region == "eu-west-1"
    virginia = lookup("aws", "g5.xlarge", "us-east-1", overrides)
    assert virginia.on_demand == 0.9
    assert virginia.region == "*"


def test_region_override_matches_zone_and_any_case():
    overrides = {"GCP:G2-Standard-4:US-Central1": {"on_demand": 0.5}}
    row = lookup("gcp", "g2-standard-4", "us-central1-c", overrides)
    assert row.on_demand == 0.5
    assert row.region == "us-central1"
    assert row.spot == 0.2818
    assert lookup("gcp", "g2-standard-4", "europe-west4-a", overrides).on_demand == 0.70683


@pytest.mark.parametrize("bad", [0, 0.0, -1, float("nan"), float("inf"), "0", None])
def test_non_positive_override_price_is_none(bad):
    row = lookup(
        "aws", "g5.xlarge", "us-east-1", {"aws:g5.xlarge": {"on_demand": bad, "spot": bad}}
    )
    assert row.on_demand is None
    assert row.spot is None
    assert row.gpu_name == "NVIDIA A10G"


def test_returned_prices_are_never_zero_or_nan():
    for row in load_table():
        found = lookup(row.provider, row.instance_type, None if row.region == "*" else row.region)
        assert found == row
        for price in (found.on_demand, found.spot):
            assert price is None or (price > 0 and math.isfinite(price))


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"aws:g5.xlarge": 0.9}, "aws:g5.xlarge"),
        ({"aws:g5.xlarge": {"on_demand": "cheap"}}, "aws:g5.xlarge"),
        ({"aws:g5.xlarge": {"on_demand": [1]}}, "aws:g5.xlarge"),
        ({"aws:g5.xlarge": {"spot": True}}, "aws:g5.xlarge"),
        ({"aws:g5.xlarge": {"gpu_count": "two"}}, "aws:g5.xlarge"),
        ({"aws:g5.xlarge": {"gpu_count": 1.5}}, "aws:g5.xlarge"),
        ({"aws:g5.xlarge": {"gpu_count": -1}}, "aws:g5.xlarge"),
        ({"aws:g5.xlarge": {"gpu_name": 5}}, "aws:g5.xlarge"),
        ({"aws:g5.xlarge": {"ondemand": 1.0}}, "aws:g5.xlarge"),
        ({"aws": {"on_demand": 1.0}}, "'aws'"),
        ({"aws::eu-west-1": {"on_demand": 1.0}}, "aws::eu-west-1"),
        ({"a:b:c:d": {"on_demand": 1.0}}, "a:b:c:d"),
        ({5: {"on_demand": 1.0}}, "5"),
    ],
)
def test_bad_override_raises_naming_the_key(overrides, named):
    with pytest.raises(ValueError, match=named):
        lookup("aws", "g5.xlarge", "us-east-1", overrides)


def test_bad_override_raises_even_for_another_instance():
    with pytest.raises(ValueError, match="gcp:g2-standard-4"):
        lookup("aws", "g5.xlarge", None, {"gcp:g2-standard-4": {"on_demand": "x"}})


def test_overrides_must_be_a_dict():
    with pytest.raises(ValueError, match="c.GpuGuard.prices"):
        lookup("aws", "g5.xlarge", None, ["aws:g5.xlarge"])  # type: ignore[arg-type]


def test_lookup_does_not_change_the_table():
    before = list(load_table())
    lookup("aws", "g5.xlarge", "eu-west-1", {"aws:g5.xlarge:eu-west-1": {"on_demand": 9}})
    assert load_table() == before
    assert lookup("aws", "g5.xlarge", "eu-west-1").on_demand == 1.123


# --- validate_table ------------------------------------------------------------------------


def test_validate_accepts_a_good_row():
    validate_table([_good_row()])
    validate_table([PriceRow(**_good_row())])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"on_demand": 0}, "on_demand"),
        ({"on_demand": -1.0}, "on_demand"),
        ({"spot": float("nan")}, "spot"),
        ({"on_demand": "1.0"}, "on_demand"),
        ({"spot": 2.0}, "above on_demand"),
        ({"date": ""}, "date"),
        ({"date": "15/01/2025"}, "date"),
        ({"date": "2025-02-30"}, "real date"),
        ({"date": "2999-01-01"}, "future"),
        ({"source": " "}, "source"),
        ({"gpu_count": 0}, "gpu_count"),
        ({"gpu_count": True}, "gpu_count"),
        ({"gpu_memory_gb": 0}, "gpu_memory_gb"),
        ({"gpu_name": ""}, "gpu_name"),
        ({"instance_type": ""}, "instance_type"),
    ],
)
def test_validate_rejects_bad_rows(change, message):
    with pytest.raises(ValueError, match=message):
        validate_table([_good_row(**change)])


def test_validate_rejects_missing_fields():
    row = _good_row()
    del row["date"]
    with pytest.raises(ValueError, match="missing"):
        validate_table([row])


def test_validate_rejects_duplicates_and_orphan_region_rows():
    with pytest.raises(ValueError, match="duplicate"):
        validate_table([_good_row(), _good_row(instance_type="G5.XLARGE")])
    with pytest.raises(ValueError, match="no '\\*' row"):
        validate_table([_good_row(region="eu-west-1")])


def test_table_rows_are_immutable():
    row = load_table()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.on_demand = 1.0  # type: ignore[misc]
