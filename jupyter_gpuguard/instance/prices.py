"""Hourly prices of cloud GPU instance types, and the user's corrections to them.

The shipped table (``prices.json`` next to this module) holds public list prices: one row per
provider and instance type with ``region`` ``"*"`` (the default, usually the provider's
cheapest US region) plus region-specific rows where the price differs. Every row says where its
figure comes from and when it was published or checked. Clouds change prices; the table is a
fallback, and ``c.GpuGuard.prices`` lets users put their real rate in.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ..reported import positive_price

DEFAULT_REGION = "*"
OVERRIDE_SOURCE = "your c.GpuGuard.prices setting"
OVERRIDE_FIELDS = frozenset({"on_demand", "spot", "gpu_name", "gpu_count", "gpu_memory_gb"})

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# An AWS availability zone is its region plus one letter: "us-east-1a" -> "us-east-1".
_AWS_ZONE_RE = re.compile(r"^([a-z]+(?:-[a-z]+)+-\d+)[a-z]$")


@dataclass(frozen=True)
class PriceRow:
    provider: str
    instance_type: str
    region: str
    """A region name (``"eu-west-1"``, ``"europe-west4"``, ``"westeurope"``) or ``"*"``."""
    gpu_name: str | None
    gpu_count: int
    """GPUs in the instance; 0 only in a row made from an override that does not say."""
    gpu_memory_gb: float | None
    """Memory of one GPU."""
    on_demand: float | None
    """USD per hour; None when no trustworthy figure is known."""
    spot: float | None
    """USD per hour for the provider's spot/preemptible offer, where a public figure exists."""
    date: str
    """YYYY-MM-DD on which the figure was published or checked."""
    source: str
    """The public page the figure comes from and what it shows."""


@functools.cache
def _load_document() -> dict[str, Any]:
    text = (resources.files(__package__) / "prices.json").read_text(encoding="utf-8")
    document = json.loads(text)
    if not isinstance(document, dict) or not isinstance(document.get("rows"), list):
        raise ValueError("prices.json must be an object with a 'rows' list")
    return document


def table_currency() -> str:
    """The currency of every price in the shipped table."""
    return str(_load_document().get("currency", "USD"))


@functools.cache
def load_table() -> list[PriceRow]:
    """The shipped price table, read from the package once. Do not modify the returned list."""
    return [_row_from_mapping(raw) for raw in _load_document()["rows"]]


def _row_from_mapping(raw: Mapping[str, Any]) -> PriceRow:
    names = [f.name for f in dataclasses.fields(PriceRow)]
    missing = [n for n in names if n not in raw]
    extra = sorted(set(raw) - set(names))
    if missing or extra:
        raise ValueError(f"price row {dict(raw)!r}: missing {missing}, unexpected {extra}")
    values = {n: raw[n] for n in names}
    for name in ("on_demand", "spot", "gpu_memory_gb"):
        value = values[name]
        if isinstance(value, int) and not isinstance(value, bool):
            values[name] = float(value)
    return PriceRow(**values)


def validate_table(rows: Iterable[PriceRow | Mapping[str, Any]]) -> None:
    """Raise ValueError listing every problem in a price table; return None when it is sound.

    Every row needs a YYYY-MM-DD date that is not in the future, a non-empty source, prices
    that are positive numbers or null (spot not above on-demand), at least one GPU, and a
    unique (provider, instance type, region) key; a region-specific row needs a "*" row.
    """
    problems: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    defaults: set[tuple[str, str]] = set()
    regional: list[tuple[str, str, str]] = []
    today = datetime.date.today()
    for index, item in enumerate(rows):
        try:
            row = item if isinstance(item, PriceRow) else _row_from_mapping(item)
        except (TypeError, ValueError) as err:
            problems.append(f"row {index}: {err}")
            continue
        label = f"row {index} ({row.provider}:{row.instance_type}:{row.region})"
        for name in ("provider", "instance_type", "region"):
            value = getattr(row, name)
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{label}: {name} must be a non-empty string")
        if not isinstance(row.date, str) or not _DATE_RE.match(row.date):
            problems.append(f"{label}: date {row.date!r} is not YYYY-MM-DD")
        else:
            try:
                if datetime.date.fromisoformat(row.date) > today:
                    problems.append(f"{label}: date {row.date} is in the future")
            except ValueError:
                problems.append(f"{label}: date {row.date!r} is not a real date")
        if not isinstance(row.source, str) or not row.source.strip():
            problems.append(f"{label}: source must be a non-empty string")
        for name in ("on_demand", "spot"):
            value = getattr(row, name)
            if value is not None and not _is_positive_number(value):
                problems.append(f"{label}: {name} {value!r} must be a positive number or null")
        if (
            _is_positive_number(row.on_demand)
            and _is_positive_number(row.spot)
            and row.spot > row.on_demand  # type: ignore[operator]
        ):
            problems.append(f"{label}: spot {row.spot} is above on_demand {row.on_demand}")
        if isinstance(row.gpu_count, bool) or not isinstance(row.gpu_count, int):
            problems.append(f"{label}: gpu_count {row.gpu_count!r} must be an integer")
        elif row.gpu_count < 1:
            problems.append(f"{label}: gpu_count {row.gpu_count} must be at least 1")
        if row.gpu_memory_gb is not None and not _is_positive_number(row.gpu_memory_gb):
            problems.append(f"{label}: gpu_memory_gb {row.gpu_memory_gb!r} must be positive")
        if row.gpu_name is not None and (
            not isinstance(row.gpu_name, str) or not row.gpu_name.strip()
        ):
            problems.append(f"{label}: gpu_name must be a non-empty string or null")
        if not all(isinstance(v, str) for v in (row.provider, row.instance_type, row.region)):
            continue
        key = (row.provider.lower(), row.instance_type.lower(), row.region.lower())
        if key in seen:
            problems.append(f"{label}: duplicate of an earlier row")
        seen.add(key)
        if row.region == DEFAULT_REGION:
            defaults.add(key[:2])
        else:
            regional.append(key)
    for provider, instance_type, region in regional:
        if (provider, instance_type) not in defaults:
            problems.append(f"{provider}:{instance_type}:{region} has no '*' row to fall back to")
    if problems:
        raise ValueError("invalid price table:\n  " + "\n  ".join(problems))


def _is_positive_number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


@functools.cache
def _index() -> dict[tuple[str, str, str], PriceRow]:
    return {
        (row.provider.lower(), row.instance_type.lower(), row.region.lower()): row
        for row in load_table()
    }


def _normalize_region(region: str) -> str:
    return region.strip().lower().replace(" ", "")


def _region_candidates(region: str | None) -> list[str]:
    """The region as given, then the region its zone belongs to."""
    if not region or not region.strip():
        return []
    exact = _normalize_region(region)
    candidates = [exact]
    aws_zone = _AWS_ZONE_RE.match(exact)
    if aws_zone:
        candidates.append(aws_zone.group(1))
    elif "-" in exact:
        # A GCP zone ("us-central1-a") is its region plus a "-x" suffix.
        parent = exact.rsplit("-", 1)[0]
        if parent[-1:].isdigit():
            candidates.append(parent)
    return candidates


def _normalize_type(instance_type: str) -> str:
    # GCP reports "projects/<n>/machineTypes/<type>"; accept that as well as the bare name.
    return instance_type.strip().rsplit("/", 1)[-1].lower()


def lookup(
    provider: str,
    instance_type: str | None,
    region: str | None,
    overrides: dict | None = None,
) -> PriceRow | None:
    """The price row for an instance, or None when neither the table nor overrides know it.

    Looks for a row of the region first (a GCP zone such as ``us-central1-a`` or an AWS zone
    such as ``us-east-1a`` falls back to its region), then for the ``"*"`` row. Provider,
    instance type and region match case-insensitively. ``overrides`` is ``c.GpuGuard.prices``:
    ``{"<provider>:<instance_type>[:<region>]": {"on_demand": ..., "spot": ..., ...}}``; an
    entry merges over the shipped row, or makes a row when the table has none, and an entry for
    the region beats one without a region. Every entry is checked on each call: one of the
    wrong shape raises ValueError naming its key. Prices that are 0, negative or not finite
    come back as None.
    """
    parsed = _parse_overrides(overrides)
    if not provider or not provider.strip() or not instance_type or not instance_type.strip():
        return None
    prov = provider.strip().lower()
    itype = _normalize_type(instance_type)
    if not itype:
        return None
    regions = _region_candidates(region)
    table = _index()

    base = next((table[(prov, itype, r)] for r in regions if (prov, itype, r) in table), None)
    if base is None:
        base = table.get((prov, itype, DEFAULT_REGION))
    general = parsed.get((prov, itype, None))
    regional = next(
        ((r, parsed[(prov, itype, r)]) for r in regions if (prov, itype, r) in parsed), None
    )
    if base is None and general is None and regional is None:
        return None

    if base is None:
        row = PriceRow(
            provider=prov,
            instance_type=instance_type.strip().rsplit("/", 1)[-1],
            region=DEFAULT_REGION,
            gpu_name=None,
            gpu_count=0,
            gpu_memory_gb=None,
            on_demand=None,
            spot=None,
            date=datetime.date.today().isoformat(),
            source=OVERRIDE_SOURCE,
        )
    else:
        row = base
        if general is not None or regional is not None:
            row = dataclasses.replace(
                row,
                date=datetime.date.today().isoformat(),
                source=f"{OVERRIDE_SOURCE}, over the shipped figure from: {base.source}",
            )
    if general is not None:
        row = dataclasses.replace(row, **general)
    if regional is not None:
        region_name, values = regional
        row = dataclasses.replace(row, region=region_name, **values)
    return dataclasses.replace(
        row, on_demand=positive_price(row.on_demand), spot=positive_price(row.spot)
    )


def _parse_overrides(
    overrides: Mapping[Any, Any] | None,
) -> dict[tuple[str, str, str | None], dict[str, Any]]:
    if not overrides:
        return {}
    if not isinstance(overrides, Mapping):
        raise ValueError("c.GpuGuard.prices must be a dict of '<provider>:<instance_type>' keys")
    parsed: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    for key, values in overrides.items():
        if not isinstance(key, str):
            raise ValueError(
                f"c.GpuGuard.prices key {key!r}: keys are strings, "
                "'<provider>:<instance_type>' or '<provider>:<instance_type>:<region>'"
            )
        parts = [part.strip() for part in key.split(":")]
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(
                f"c.GpuGuard.prices key {key!r}: expected '<provider>:<instance_type>' "
                "or '<provider>:<instance_type>:<region>'"
            )
        if not isinstance(values, Mapping):
            raise ValueError(
                f"c.GpuGuard.prices[{key!r}] must be a dict with any of "
                f"{', '.join(sorted(OVERRIDE_FIELDS))}, not {type(values).__name__}"
            )
        unknown = sorted(str(name) for name in values if name not in OVERRIDE_FIELDS)
        if unknown:
            raise ValueError(
                f"c.GpuGuard.prices[{key!r}]: unknown field(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(OVERRIDE_FIELDS))}"
            )
        region = _normalize_region(parts[2]) if len(parts) == 3 else None
        parsed_key = (parts[0].lower(), _normalize_type(parts[1]), region)
        parsed[parsed_key] = {name: _override_value(key, name, v) for name, v in values.items()}
    return parsed


def _override_value(key: str, name: str, value: Any) -> Any:
    where = f"c.GpuGuard.prices[{key!r}][{name!r}]"
    if value is None:
        return 0 if name == "gpu_count" else None
    if name == "gpu_name":
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string, not {type(value).__name__}")
        return value.strip() or None
    if name == "gpu_count":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{where} must be a whole number of GPUs, not {value!r}")
        return value
    # on_demand, spot, gpu_memory_gb: numbers (or numeric strings); 0, negative and NaN mean
    # "unknown" and become None.
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{where} must be a number, not {type(value).__name__}")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{where} must be a number, not {value!r}") from None
    return positive_price(value)
