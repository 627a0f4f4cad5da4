"""RunPod's GraphQL API for pods: GPU types, network volumes, pods, launch, stop, terminate.

Built on ``transport.run_query``. Every user value reaches a query through
``graphql.literal``; every answer is checked field by field, and RunPod's errors are turned
into words a user can act on (``errors.explain``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import GpuGuard
from ..reported import positive_price
from . import graphql
from .errors import NO_KEY_MESSAGE, UNKNOWN_FIELD, PodError, explain, runpod_said
from .key import api_key
from .pod import interruptible, pod_input, query_pod, valid_pod_id
from .spec import LaunchSpec
from .template import TemplateSpec
from .transport import RunPodError, run_query

PROXY_URL = "https://{pod_id}-8888.proxy.runpod.net"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def pod_status(pod: dict[str, Any]) -> str:
    desired = str(pod.get("desiredStatus") or "").upper()
    if desired == "RUNNING":
        return "running" if isinstance(pod.get("runtime"), dict) else "starting"
    return {"EXITED": "stopped", "TERMINATED": "terminated", "CREATED": "starting"}.get(
        desired, desired.lower() or "unknown"
    )


def pod_summary(pod: dict[str, Any]) -> dict[str, Any] | None:
    pod_id = _text(pod.get("id"))
    if pod_id is None or not valid_pod_id(pod_id):
        return None
    machine = pod.get("machine") if isinstance(pod.get("machine"), dict) else {}
    runtime = pod.get("runtime") if isinstance(pod.get("runtime"), dict) else {}
    return {
        "id": pod_id,
        "name": _text(pod.get("name")) or pod_id,
        "status": pod_status(pod),
        "gpu": _text(machine.get("gpuDisplayName")),
        "gpu_count": _int(pod.get("gpuCount")),
        "cost_per_hour": positive_price(pod.get("costPerHr")),
        "interruptible": interruptible(pod.get("podType")),
        "image": _text(pod.get("imageName")),
        "uptime_seconds": _int(runtime.get("uptimeInSeconds")),
        "url": PROXY_URL.format(pod_id=pod_id),
    }


POD_FIELDS = """
    id name desiredStatus podType costPerHr gpuCount imageName
    machine { gpuDisplayName }
    runtime { uptimeInSeconds }
"""
GPU_TYPES_QUERY = """
query GpuGuardGpuTypes {
  gpuTypes {
    id displayName memoryInGb maxGpuCount secureCloud communityCloud
    securePrice communityPrice secureSpotPrice communitySpotPrice
    lowestPrice(input: {gpuCount: 1}) { stockStatus }
  }
}
"""
# The same without the fields RunPod's own SDK never asks for: used when the API no longer
# knows one of them, so that a schema change costs the stock level, not the launch form.
GPU_TYPES_QUERY_PLAIN = """
query GpuGuardGpuTypes {
  gpuTypes {
    id displayName memoryInGb maxGpuCount secureCloud communityCloud
    securePrice communityPrice secureSpotPrice communitySpotPrice
  }
}
"""
VOLUMES_QUERY = """
query GpuGuardVolumes { myself { networkVolumes { id name size dataCenterId } } }
"""
PODS_QUERY = f"""
query GpuGuardPods {{ myself {{ clientBalance pods {{ {POD_FIELDS} }} }} }}
"""
PODS_QUERY_PLAIN = f"""
query GpuGuardPods {{ myself {{ pods {{ {POD_FIELDS} }} }} }}
"""


def _checked(pod_id: str) -> str:
    """``pod_id``, or the request's fault (400): an id RunPod never gives."""
    if not valid_pod_id(pod_id):
        raise PodError(f"{str(pod_id)[:80]!r} is not a RunPod pod id.", "invalid", 400)
    return pod_id


@dataclass
class RunPodClient:
    api_key: str = field(repr=False)  # a repr may reach a log or a traceback
    timeout: float = 10.0
    launch_timeout: float = 60.0

    async def _query(
        self,
        query: str,
        action: str,
        timeout: float | None = None,
        about: LaunchSpec | TemplateSpec | None = None,
        plain: str | None = None,
    ) -> dict[str, Any]:
        """The answer's data, or PodError. ``plain``: what to send instead when RunPod no
        longer knows a field that ``query`` names."""
        if not self.api_key:
            raise PodError(NO_KEY_MESSAGE, "no-key", 409)
        try:
            answer = await run_query(query, self.api_key, timeout or self.timeout)
        except RunPodError as err:
            if plain is not None and runpod_said(err) == UNKNOWN_FIELD:
                return await self._query(plain, action, timeout, about)
            raise explain(err, action, about) from None
        return answer["data"]

    async def check_key(self) -> dict[str, Any]:
        data = await self._query("query GpuGuardMe { myself { id } }", "check the key")
        if not isinstance(data.get("myself"), dict):
            raise PodError("RunPod did not recognise this key.", "key-rejected", 409)
        return data["myself"]

    async def gpu_types(self) -> list[dict[str, Any]]:
        data = await self._query(GPU_TYPES_QUERY, "list GPU types", plain=GPU_TYPES_QUERY_PLAIN)
        types = []
        for item in data.get("gpuTypes") or []:
            if not isinstance(item, dict) or not _text(item.get("id")):
                continue
            lowest = item.get("lowestPrice") if isinstance(item.get("lowestPrice"), dict) else {}
            stock = _text(lowest.get("stockStatus"))
            types.append(
                {
                    "id": item["id"],
                    "name": _text(item.get("displayName")) or item["id"],
                    "memory_gb": positive_price(item.get("memoryInGb")),
                    "max_gpu_count": _int(item.get("maxGpuCount")),
                    "secure_cloud": item.get("secureCloud") is not False,
                    "community_cloud": item.get("communityCloud") is not False,
                    "secure_price": positive_price(item.get("securePrice")),
                    "community_price": positive_price(item.get("communityPrice")),
                    "secure_spot_price": positive_price(item.get("secureSpotPrice")),
                    "community_spot_price": positive_price(item.get("communitySpotPrice")),
                    "stock": stock.lower() if stock else None,
                }
            )
        types.sort(key=lambda t: (t["secure_price"] or t["community_price"] or 1e9, t["name"]))
        return types

    async def volumes(self) -> list[dict[str, Any]]:
        data = await self._query(VOLUMES_QUERY, "list network volumes")
        myself = data.get("myself") if isinstance(data.get("myself"), dict) else {}
        volumes = []
        for item in myself.get("networkVolumes") or []:
            if isinstance(item, dict) and _text(item.get("id")):
                volumes.append(
                    {
                        "id": item["id"],
                        "name": _text(item.get("name")) or item["id"],
                        "size_gb": _int(item.get("size")),
                        "data_center": _text(item.get("dataCenterId")),
                    }
                )
        return volumes

    async def pods(self) -> dict[str, Any]:
        data = await self._query(PODS_QUERY, "list your pods", plain=PODS_QUERY_PLAIN)
        myself = data.get("myself") if isinstance(data.get("myself"), dict) else {}
        pods = [
            summary
            for item in myself.get("pods") or []
            if isinstance(item, dict) and (summary := pod_summary(item)) is not None
        ]
        balance = myself.get("clientBalance")
        return {
            "pods": pods,
            "balance": balance if isinstance(balance, (int, float)) else None,
        }

    async def pod(self, pod_id: str, extra_fields: str = "") -> dict[str, Any]:
        query = query_pod(_checked(pod_id), f"{POD_FIELDS} {extra_fields}")
        data = await self._query(query, "read the pod")
        if not isinstance(data.get("pod"), dict):
            raise PodError(f"RunPod knows no pod {pod_id!r} for this key.", "not-found", 404)
        return data["pod"]

    async def launch(self, spec: LaunchSpec) -> dict[str, Any]:
        mutation = (
            "mutation GpuGuardLaunch { podFindAndDeployOnDemand(input: "
            f"{graphql.input_object(spec.graphql_input())}) {{ {POD_FIELDS} }} }}"
        )
        data = await self._query(mutation, "launch the pod", self.launch_timeout, spec)
        created = data.get("podFindAndDeployOnDemand")
        summary = pod_summary(created) if isinstance(created, dict) else None
        if summary is None:
            raise PodError(
                "RunPod accepted the launch but answered without a pod id: check your pods "
                "at https://www.runpod.io/console/pods before launching again.",
                "runpod-error",
                502,
            )
        return summary

    async def stop(self, pod_id: str) -> dict[str, Any]:
        mutation = (
            f"mutation GpuGuardStop {{ podStop(input: {pod_input(_checked(pod_id))}) "
            "{ id desiredStatus } }"
        )
        data = await self._query(mutation, "stop the pod", self.launch_timeout)
        stopped = data.get("podStop") if isinstance(data.get("podStop"), dict) else {}
        return {"id": pod_id, "status": pod_status(stopped) if stopped else "stopping"}

    async def terminate(self, pod_id: str) -> dict[str, Any]:
        mutation = (
            f"mutation GpuGuardTerminate {{ podTerminate(input: {pod_input(_checked(pod_id))}) }}"
        )
        await self._query(mutation, "terminate the pod", self.launch_timeout)
        return {"id": pod_id, "status": "terminated"}

    async def save_template(self, template: TemplateSpec) -> dict[str, Any]:
        """Save a pod template; a name RunPod refuses comes back as "template-name"."""
        mutation = (
            "mutation GpuGuardSaveTemplate { saveTemplate(input: "
            f"{graphql.input_object(template.graphql_input())}) {{ id name }} }}"
        )
        data = await self._query(mutation, "save the template", self.launch_timeout, template)
        saved = data.get("saveTemplate")
        template_id = _text(saved.get("id")) if isinstance(saved, dict) else None
        if template_id is None:
            raise PodError(
                "RunPod accepted the template but answered without its id: look for it at "
                "https://www.runpod.io/console/user/templates.",
                "runpod-error",
                502,
            )
        return {"id": template_id, "name": _text(saved.get("name")) or template.name}


def client_for(config: GpuGuard) -> RunPodClient:
    """A client with the key as it is now: the panel may have set or removed one."""
    key = api_key(config)
    return RunPodClient(
        key.value, timeout=config.runpod_api_timeout, launch_timeout=config.runpod_launch_timeout
    )
