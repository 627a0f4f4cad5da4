"""A RunPod pod as the GraphQL API names it: its id, whether it is spot, the query for one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import graphql

POD_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# podType, in every spelling taken: a value in neither set is unknown, never on-demand.
SPOT_POD_TYPES = frozenset({"INTERRUPTABLE", "INTERRUPTIBLE", "BID"})
ON_DEMAND_POD_TYPES = frozenset({"RESERVED", "ON_DEMAND"})


@dataclass(frozen=True)
class ThisPod:
    """The pod this server runs in, as instance/ reads it from RunPod's environment;
    ``id`` is None off RunPod."""

    id: str | None
    data_center: str | None
    gpu_count: int = 0


def valid_pod_id(value: object) -> bool:
    return isinstance(value, str) and bool(POD_ID_PATTERN.match(value))


def interruptible(pod_type: object) -> bool | None:
    """True for a spot pod, False for an on-demand one, None for a type RunPod never named."""
    kind = pod_type.upper() if isinstance(pod_type, str) else ""
    if kind in SPOT_POD_TYPES:
        return True
    if kind in ON_DEMAND_POD_TYPES:
        return False
    return None


def pod_input(pod_id: str) -> str:
    """``{podId: "..."}``, the input of the pod query and of the stop and terminate mutations."""
    if not valid_pod_id(pod_id):
        raise graphql.LiteralError(f"{str(pod_id)[:80]!r} is not a valid pod id")
    return graphql.input_object({"podId": pod_id})


def query_pod(pod_id: str, fields: str, beside: str = "") -> str:
    """The query for ``fields`` of one pod, and the root fields ``beside`` in the same request."""
    return f"query GpuGuardPod {{ pod(input: {pod_input(pod_id)}) {{ {fields} }} {beside} }}"
