"""What the extension knows about the machine it runs on."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Provider = Literal["runpod", "aws", "gcp", "azure", "local", "manual"]


@dataclass
class PreemptionNotice:
    deadline: str | None
    """ISO 8601 time by which the instance will be taken away, when the cloud says."""
    source: str
    """Where the notice came from, e.g. "AWS spot/instance-action (terminate)"."""


@dataclass
class InstanceInfo:
    provider: Provider
    instance_type: str | None = None
    gpu_name: str | None = None
    gpu_count: int = 0
    gpu_memory_gb: float | None = None
    region: str | None = None
    interruptible: bool | None = None
    price_per_hour: float | None = None
    on_demand_price_per_hour: float | None = None
    currency: str = "USD"
    price_source: str = ""
    uptime_seconds: float | None = None
    session_cost: float | None = None
    session_cost_basis: str = ""
    preemption_notice: PreemptionNotice | None = None
    detail: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
