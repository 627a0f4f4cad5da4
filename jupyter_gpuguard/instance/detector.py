"""Find out where the server runs, keep the answer fresh, and watch for preemption notices.

Everything here runs in the background on the server's event loop: the REST route only
reads the cached answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Protocol

from ..config import GpuGuard
from ..pods.key import api_key
from . import manual, nvml, runpod
from .aws import AwsMetadata
from .azure import AzureMetadata
from .gcp import GcpMetadata
from .model import InstanceInfo, PreemptionNotice
from .prices import lookup

CLOUD_NAMES = {"aws": "AWS", "gcp": "Google Cloud", "azure": "Azure"}
NoticeListener = Callable[[PreemptionNotice], None]


class CloudMetadata(Protocol):
    provider: str

    async def detect(self) -> InstanceInfo | None: ...

    async def wait_notice(self, poll_interval: float = 5.0) -> PreemptionNotice: ...


def system_uptime() -> float | None:
    """Seconds since this (virtual) machine booted: on a cloud VM, how long it has been billed."""
    try:
        with open("/proc/uptime", encoding="ascii") as handle:
            return float(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class InstanceDetector:
    def __init__(self, config: GpuGuard, log: logging.Logger | None = None) -> None:
        self.config = config
        self.log = log or logging.getLogger("jupyter_gpuguard")
        self.server_started = time.time()
        self.detecting = True
        self._info = InstanceInfo(provider="local", detail="Finding out where this server runs…")
        self._measured_at = time.time()
        self._cloud: CloudMetadata | None = None
        self._notice: PreemptionNotice | None = None
        self._listeners: list[NoticeListener] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._watch_task: asyncio.Task[None] | None = None
        self._first_detection = asyncio.Event()

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Start detection and periodic refresh as background tasks; returns at once."""
        self._tasks.append(asyncio.ensure_future(self._run()))

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._watch_task] if self._watch_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._watch_task = None

    async def wait_detected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._first_detection.wait(), timeout)

    def add_notice_listener(self, listener: NoticeListener) -> None:
        self._listeners.append(listener)

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:  # detection must never take the server down
                self.log.exception("jupyter_gpuguard: instance detection failed")
                self._info = InstanceInfo(
                    provider="local", detail="Instance detection failed; see the server log."
                )
            finally:
                self.detecting = False
                self._first_detection.set()
            await asyncio.sleep(max(self.config.refresh_interval, 1.0))

    # ---- detection -------------------------------------------------------------------
    async def refresh(self) -> InstanceInfo:
        info, cloud = await self._detect()
        if info.provider in CLOUD_NAMES and info.uptime_seconds is None:
            info.uptime_seconds = system_uptime()
        await self._add_gpu_facts(info)
        if info.provider in CLOUD_NAMES:
            self._add_prices(info)
        first = self.detecting
        self._info = info
        self._measured_at = time.time()
        if first:
            self.log.info("jupyter_gpuguard: %s", info.detail)
        if cloud is not None and info.interruptible is not False:
            self._watch(cloud)
        return info

    def _clouds(self) -> dict[str, CloudMetadata]:
        # AWS needs two round trips (token, then facts) inside the detection deadline.
        timeout = max(self.config.detect_timeout / 2, 0.05)
        return {
            "aws": AwsMetadata(self.config.aws_metadata_url, timeout=timeout),
            "gcp": GcpMetadata(self.config.gcp_metadata_url, timeout=timeout),
            "azure": AzureMetadata(self.config.azure_metadata_url, timeout=timeout),
        }

    async def _detect(self) -> tuple[InstanceInfo, CloudMetadata | None]:
        provider = self.config.provider
        if provider == "manual" or (provider == "auto" and self.config.manual_instance):
            return manual.from_settings(dict(self.config.manual_instance)), None
        pod_id = runpod.this_pod_id()
        if provider == "runpod" or (provider == "auto" and pod_id):
            return await self._detect_runpod(pod_id), None
        if provider in CLOUD_NAMES:
            cloud = self._cloud or self._clouds()[provider]
            info = await cloud.detect()
            if info is None:
                url = getattr(self.config, f"{provider}_metadata_url")
                return (
                    InstanceInfo(
                        provider=provider,  # type: ignore[arg-type]
                        detail=(
                            f"{CLOUD_NAMES[provider]} metadata service at {url} did not answer, "
                            "so the instance type, price and spot state are unknown."
                        ),
                    ),
                    None,
                )
            self._cloud = cloud
            return info, cloud
        if provider == "auto":
            if self._cloud is not None:
                info = await self._cloud.detect()
                if info is not None:
                    return info, self._cloud
            found = await self._first_cloud()
            if found is not None:
                self._cloud = found[1]
                return found
        return self._local(), None

    async def _first_cloud(self) -> tuple[InstanceInfo, CloudMetadata] | None:
        """Ask every cloud at once; the first that recognises itself wins; give up in time."""
        clouds = list(self._clouds().values())
        pending = {asyncio.ensure_future(cloud.detect()): cloud for cloud in clouds}
        deadline = time.monotonic() + max(self.config.detect_timeout, 0.05)
        try:
            while pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                done, _ = await asyncio.wait(
                    pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    return None
                for task in done:
                    cloud = pending.pop(task)
                    info = None if task.cancelled() or task.exception() else task.result()
                    if info is not None:
                        return info, cloud
            return None
        finally:
            for task in pending:
                task.cancel()

    async def _detect_runpod(self, pod_id: str | None) -> InstanceInfo:
        if not pod_id:
            return InstanceInfo(
                provider="runpod",
                detail="Provider is set to RunPod, but RUNPOD_POD_ID is not set: this does "
                "not look like a RunPod pod.",
            )
        key = api_key(self.config).value
        return await runpod.detect(pod_id, key, self.config.runpod_api_timeout)

    def _local(self) -> InstanceInfo:
        reason = (
            "no cloud metadata service answered"
            if self.config.provider == "auto"
            else "provider is set to local"
        )
        return InstanceInfo(
            provider="local",
            interruptible=False,
            price_source="none",
            detail=f"Local machine, no hourly price ({reason}).",
        )

    async def _add_gpu_facts(self, info: InstanceInfo) -> None:
        if not self.config.nvml or info.provider == "manual":
            return
        facts = await asyncio.get_running_loop().run_in_executor(None, nvml.read_gpus)
        if facts is None:
            return
        info.gpu_name = info.gpu_name or facts.name
        info.gpu_count = info.gpu_count or facts.count
        info.gpu_memory_gb = info.gpu_memory_gb or facts.memory_gb

    def _add_prices(self, info: InstanceInfo) -> None:
        name = CLOUD_NAMES[info.provider]
        try:
            row = lookup(info.provider, info.instance_type, info.region, dict(self.config.prices))
        except ValueError as err:
            info.detail = f"{info.detail} Price unknown: {err}".strip()
            return
        if row is None:
            if info.instance_type:
                info.detail = (
                    f"{info.detail} No price is known for {name} {info.instance_type}; "
                    "add it with c.GpuGuard.prices."
                ).strip()
            return
        info.gpu_name = info.gpu_name or row.gpu_name
        info.gpu_count = info.gpu_count or row.gpu_count
        info.gpu_memory_gb = info.gpu_memory_gb or row.gpu_memory_gb
        info.on_demand_price_per_hour = row.on_demand
        where = row.region if row.region != "*" else "list price"
        info.price_source = f"{row.source} ({where}, {row.date})"
        if info.interruptible is False:
            info.price_per_hour = row.on_demand
        elif info.interruptible and row.spot is not None:
            info.price_per_hour = row.spot
        elif info.interruptible:
            info.detail = (
                f"{info.detail} {name} does not publish a fixed spot price for "
                f"{info.instance_type}; set it with c.GpuGuard.prices."
            ).strip()

    # ---- preemption notices --------------------------------------------------------------
    def _watch(self, cloud: CloudMetadata) -> None:
        if self._watch_task is not None and not self._watch_task.done():
            return
        self._watch_task = asyncio.ensure_future(self._watch_notices(cloud))

    async def _watch_notices(self, cloud: CloudMetadata) -> None:
        notice = await cloud.wait_notice(self.config.notice_poll_interval)
        self.record_notice(notice)

    def record_notice(self, notice: PreemptionNotice) -> None:
        """Remember a preemption notice and tell every listener (e.g. the snapshot scheduler)."""
        self._notice = notice
        self.log.warning(
            "jupyter_gpuguard: preemption notice from %s, deadline %s",
            notice.source,
            notice.deadline or "not given",
        )
        for listener in list(self._listeners):
            try:
                listener(notice)
            except Exception:
                self.log.exception("jupyter_gpuguard: a preemption listener failed")

    # ---- the answer ------------------------------------------------------------------------
    def current(self) -> dict[str, object]:
        """The cached facts, with uptime and session cost brought up to this second."""
        info = dataclasses.replace(self._info)
        now = time.time()
        if info.uptime_seconds is not None:
            info.uptime_seconds = info.uptime_seconds + (now - self._measured_at)
            if info.provider == "runpod":
                info.session_cost_basis = "since the pod started (RunPod uptime)"
            else:
                info.session_cost_basis = "since the instance booted (system uptime)"
        else:
            info.session_cost_basis = "since the Jupyter server started"
        elapsed = (
            info.uptime_seconds if info.uptime_seconds is not None else now - (self.server_started)
        )
        if info.price_per_hour is not None:
            info.session_cost = round(info.price_per_hour * elapsed / 3600.0, 6)
        info.preemption_notice = self._notice
        answer = info.to_json()
        answer["detecting"] = self.detecting
        answer["detected_at"] = None if self.detecting else self._measured_at
        return answer
