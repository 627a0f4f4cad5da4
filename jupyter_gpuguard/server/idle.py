"""Idle stop: watch what the server sees of the user's work, count down once nothing
happens, then snapshot every kernel and, only when every snapshot committed, stop the
machine.

Activity is what costs the user something to lose: a kernel busy or a cell run (the kernel
manager's ``execution_state`` and ``last_activity``, which JupyterLab's own kernel_info
requests do not move), terminal input and output (``terminal_last_activity``), a file saved
(the contents manager's post-save hooks), a GPU busier than ``idle_gpu_percent``, and the
panel's Keep running. Requests of an open browser tab are not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from ..config import GpuGuard
from ..instance.detector import InstanceDetector
from ..instance.gpu_use import NvmlUtilisation, UtilisationReader, no_gpus
from ..pods.storage_cost import STORAGE_FIELDS, stopped_pod_cost
from .idle_stop import StopFailed, stop_machine, stop_method
from .scheduler import SnapshotScheduler

# Awaited in order once every snapshot committed, before the machine stops; one that raises
# stops nothing (its message is shown). The snapshot run (``snapshot_all``'s answer) is passed.
BeforeStop = Callable[[dict[str, Any]], Awaitable[None]]
STORAGE_EVERY = 600.0  # seconds between reads of the pod's disks, for the stopped cost
LONGEST = 7 * 86400.0  # the longest idle time the panel may set


def _timestamp(value: Any) -> float | None:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    return None


class IdleTracker:
    def __init__(
        self,
        config: GpuGuard,
        server_app: Any,
        scheduler: SnapshotScheduler,
        detector: InstanceDetector,
        log: logging.Logger | None = None,
        gpu_reader: UtilisationReader | None = None,
    ) -> None:
        self.config = config
        self.server_app = server_app
        self.scheduler = scheduler
        self.detector = detector
        self.log = log or logging.getLogger("jupyter_gpuguard")
        # The seam tests inject readings through; the server reads NVML.
        self.gpu_reader: UtilisationReader = gpu_reader or (
            NvmlUtilisation() if config.nvml else no_gpus
        )
        configured = config.idle_stop_after
        # 0, unset or a negative number: off (a past deadline would stop at once).
        self.stop_after: float | None = configured if configured and configured > 0 else None
        self.setting_source = "configuration"
        now = time.time()
        self.idle_since = now
        self.reason = "the server started"
        self.armed_at = now  # the countdown never starts before the setting was chosen
        self.phase = "watching"
        self.active_now: list[str] = []
        self.gpu: list[float] | None = None
        self.last_stop: dict[str, Any] | None = None
        self.before_stop: list[BeforeStop] = []
        self.stopped_cost: dict[str, Any] | None = None
        self._storage_read = 0.0
        self._kernels_seen: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._storage_task: asyncio.Task[None] | None = None

    # ---- lifecycle -------------------------------------------------------------------
    def install(self) -> None:
        """Saves reach us through the contents manager's post-save hooks."""
        contents = getattr(self.server_app, "contents_manager", None)
        register = getattr(contents, "register_post_save_hook", None)
        if register is not None:
            register(self._on_save)
        self._publish()

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        tasks = [t for t in (self._task, self._stop_task, self._storage_task) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        close = getattr(self.gpu_reader, "close", None)
        if close is not None:
            close()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("jupyter_gpuguard: idle check failed")
            await asyncio.sleep(max(self.config.idle_check_interval, 0.1))

    # ---- activity ---------------------------------------------------------------------
    def record(self, reason: str, at: float | None = None) -> None:
        """Activity at ``at`` (now): the idle time counts from there."""
        at = time.time() if at is None else at
        if at < self.idle_since:
            return
        self.idle_since, self.reason = at, reason
        if self.phase in ("warning", "stopped"):
            self.phase = "watching"
        self._publish()

    def _publish(self) -> None:
        """jupyter_server counts every ``*_last_activity`` setting in /api/status's
        last_activity: ours is there too, so the server's answer is never older than ours."""
        settings = getattr(getattr(self.server_app, "web_app", None), "settings", None)
        if isinstance(settings, dict):
            settings["gpuguard_last_activity"] = datetime.fromtimestamp(
                self.idle_since, tz=timezone.utc
            )

    def _on_save(self, model: Any = None, os_path: str = "", **_: Any) -> None:
        path = model.get("path") if isinstance(model, dict) else None
        self.record(f"a file was saved ({path or os_path})")

    def keep_running(self) -> None:
        self.record("Keep running was chosen in the panel")
        if self.last_stop and not self.last_stop.get("ok"):
            self.last_stop = None

    def set_stop_after(self, seconds: float | None) -> None:
        self.stop_after = seconds or None
        self.setting_source = "panel"
        self.armed_at = time.time()
        if self.phase in ("warning", "stopped"):
            self.phase = "watching"

    def _notebook(self, kernel_id: str) -> str:
        state = self.scheduler.kernels.get(kernel_id)
        return (state.notebook if state else None) or f"kernel {kernel_id[:8]}"

    async def observe(self, kernels: bool = True) -> None:
        """Look at everything that counts as activity once. ``kernels``: off while our own
        snapshots talk to the kernels."""
        now = time.time()
        active: list[str] = []
        manager = self.scheduler.kernel_manager
        for kernel_id in list(manager.list_kernel_ids()):
            try:
                kernel = manager.get_kernel(kernel_id)
            except KeyError:
                continue
            seen = _timestamp(getattr(kernel, "last_activity", None))
            before = self._kernels_seen.get(kernel_id)
            if seen is not None:
                self._kernels_seen[kernel_id] = seen
            if not kernels:
                continue
            if getattr(kernel, "execution_state", None) == "busy":
                active.append(f"{self._notebook(kernel_id)} is running a cell")
            elif seen is not None and (before is None or seen > before):
                self.record(f"a cell ran in {self._notebook(kernel_id)}", seen)
        for gone in set(self._kernels_seen) - set(manager.list_kernel_ids()):
            del self._kernels_seen[gone]
        settings = getattr(getattr(self.server_app, "web_app", None), "settings", {})
        terminal = _timestamp(settings.get("terminal_last_activity"))
        if terminal is not None:
            self.record("a terminal was used", terminal)
        readings = await asyncio.get_running_loop().run_in_executor(None, self.gpu_reader)
        self.gpu = [round(float(r), 1) for r in readings] if readings is not None else None
        for index, percent in enumerate(self.gpu or []):
            if percent >= self.config.idle_gpu_percent:
                active.append(f"GPU {index} is at {percent:.0f}% utilisation")
        self.active_now = active
        for reason in active:
            self.record(reason, now)

    # ---- the countdown ----------------------------------------------------------------
    def deadline(self) -> float | None:
        if not self.stop_after:
            return None
        return max(self.idle_since, self.armed_at) + self.stop_after

    async def tick(self) -> None:
        if self.phase in ("snapshotting", "stopping"):
            await self.observe(kernels=False)  # the stop checks what happened once done
            return
        await self.observe()
        self._maybe_read_storage()
        deadline = self.deadline()
        method = stop_method(self.config)
        if deadline is None or method.kind == "none" or self.phase == "stopped":
            if self.phase != "stopped":
                self.phase = "watching"
            return
        left = deadline - time.time()
        if left <= 0:
            self.phase = "snapshotting"
            self._stop_task = asyncio.ensure_future(self.idle_stop())
        elif left <= self.config.idle_warn_before:
            self.phase = "warning"
        else:
            self.phase = "watching"

    def _not_stopped(self, message: str, run: dict[str, Any] | None) -> None:
        self.log.warning("jupyter_gpuguard: idle stop: %s", message)
        self.last_stop = {"at": time.time(), "ok": False, "message": message, "snapshots": run}
        self.phase = "watching"
        self.armed_at = time.time()  # the next try waits a full idle time again

    async def idle_stop(self) -> None:
        """Snapshot every kernel; only if each committed, run ``before_stop`` and stop."""
        started = time.time()
        self.phase = "snapshotting"
        method = stop_method(self.config)
        self.log.warning(
            "jupyter_gpuguard: idle for %.0f s: snapshotting every kernel, then stopping",
            started - self.idle_since,
        )
        run: dict[str, Any] | None = None
        try:
            manager = self.scheduler.kernel_manager
            for kernel_id in manager.list_kernel_ids():
                state = self.scheduler.state_of(kernel_id)
                if state.supported is False:
                    return self._not_stopped(
                        f"Not stopped: {self._notebook(kernel_id)} cannot be snapshotted "
                        f"({state.reason}). Shut that kernel down, or turn idle stop off.",
                        None,
                    )
            try:
                run = await asyncio.wait_for(
                    self.scheduler.snapshot_all(
                        "idle stop",
                        announce=False,
                        upload_by=started + self.config.idle_snapshot_timeout - 5.0,
                    ),
                    self.config.idle_snapshot_timeout,
                )
            except asyncio.TimeoutError:
                return self._not_stopped(
                    "Not stopped: the snapshots did not finish within "
                    f"{self.config.idle_snapshot_timeout:.0f} s.",
                    None,
                )
            failed = {k: r for k, r in run["kernels"].items() if not r.get("snapshot")}
            if failed:
                words = "; ".join(
                    f"{self._notebook(k)}: {r.get('error') or 'nothing saved'}"
                    for k, r in failed.items()
                )
                return self._not_stopped(f"Not stopped: a snapshot failed ({words}).", run)
            if await self._called_off(started):
                return None
            for hook in list(self.before_stop):
                try:
                    await hook(run)
                except Exception as err:
                    return self._not_stopped(f"Not stopped: {err}", run)
            if self.before_stop and await self._called_off(started):
                return None  # an upload can take minutes: look again
            self.phase = "stopping"
            try:
                said = await stop_machine(method, self.config, self.log)
            except StopFailed as err:
                return self._not_stopped(str(err), run)
            self.log.warning("jupyter_gpuguard: idle stop: %s", said)
            self.last_stop = {"at": time.time(), "ok": True, "message": said, "snapshots": run}
            self.phase = "stopped"
        except asyncio.CancelledError:
            raise
        except Exception as err:  # never leave the phase stuck at snapshotting
            self.log.exception("jupyter_gpuguard: idle stop failed")
            self._not_stopped(f"Not stopped: {type(err).__name__}: {err}", run)
        return None

    async def _called_off(self, started: float) -> bool:
        """Keep running, a new setting, a cell started or any other activity since the
        snapshots began calls the stop off."""
        await self.observe(kernels=False)
        manager = self.scheduler.kernel_manager
        busy = any(
            getattr(manager.get_kernel(k), "execution_state", "") == "busy"
            for k in manager.list_kernel_ids()
        )
        if self.idle_since > started or self.armed_at > started or busy or not self.stop_after:
            self.phase = "watching"
            self.armed_at = time.time()
            self.log.info("jupyter_gpuguard: idle stop called off: activity resumed")
            return True
        return False

    # ---- what a stopped pod costs -------------------------------------------------------
    def _maybe_read_storage(self) -> None:
        method = stop_method(self.config)
        if method.kind != "runpod" or not method.pod_id:
            return
        if time.time() - self._storage_read < STORAGE_EVERY:
            return
        if self._storage_task is not None and not self._storage_task.done():
            return
        self._storage_read = time.time()
        self._storage_task = asyncio.ensure_future(self._read_storage(method.pod_id))

    async def _read_storage(self, pod_id: str) -> None:
        # RunPod's client and its errors: only on a pod, after start
        from ..pods.client import client_for
        from ..pods.errors import PodError

        client = client_for(self.config)
        try:
            pod = await client.pod(pod_id, STORAGE_FIELDS)
            network_gb = None
            if pod.get("networkVolumeId"):
                volumes = await client.volumes()
                network_gb = next(
                    (v["size_gb"] for v in volumes if v["id"] == pod["networkVolumeId"]), None
                )
            self.stopped_cost = stopped_pod_cost(pod, network_gb)
        except PodError as err:
            self.stopped_cost = {"error": str(err)}

    # ---- answers ------------------------------------------------------------------------
    def current_activity(self) -> dict[str, Any] | None:
        """jupyter_server's question to every extension (``any_activity``): what is going on
        now that an idle server shutdown must not interrupt."""
        if self.phase in ("snapshotting", "stopping"):
            return {"gpuguard": f"idle stop: {self.phase}"}
        if self.active_now:
            return {"gpuguard": "; ".join(self.active_now)}
        return None

    def state(self) -> dict[str, Any]:
        now = time.time()
        info = self.detector.current()
        price = info.get("price_per_hour")
        idle_seconds = max(now - self.idle_since, 0.0)
        method = stop_method(self.config)
        deadline = self.deadline() if method.kind != "none" else None
        counting = deadline is not None and self.phase in ("watching", "warning")
        return {
            "now": now,
            "enabled": bool(self.stop_after),
            "stop_after": self.stop_after,
            "setting_source": self.setting_source,
            "warn_before": self.config.idle_warn_before,
            "gpu_percent": self.config.idle_gpu_percent,
            "phase": self.phase if self.stop_after or self.phase == "stopped" else "off",
            "idle_since": self.idle_since,
            "idle_seconds": idle_seconds,
            "last_activity": self.reason,
            "active_now": list(self.active_now),
            "deadline": deadline if counting else None,
            "seconds_left": max(deadline - now, 0.0) if counting and deadline else None,
            "action": method.kind,
            "action_text": method.text,
            "price_per_hour": price if isinstance(price, (int, float)) else None,
            "currency": info.get("currency") or "USD",
            "idle_cost": (
                round(price * idle_seconds / 3600.0, 4) if isinstance(price, (int, float)) else None
            ),
            "stopped_cost": self.stopped_cost,
            "gpu_utilisation": self.gpu,
            "last_stop": self.last_stop,
        }
