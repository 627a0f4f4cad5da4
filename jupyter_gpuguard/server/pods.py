"""REST routes for RunPod pods: the API key, GPU types, volumes, pods, launch, move.

Every answer is built from what RunPod said, filtered to named fields: the API key is
never among them, and RunPod's errors arrive scrubbed of it (``pods.transport.scrub``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import tornado

from ..config import GpuGuard
from ..instance.detector import InstanceDetector
from ..instance.runpod import this_pod, this_pod_id
from ..pods import launch, move
from ..pods.client import PodError, RunPodClient, client_for, pod_summary
from ..pods.key import api_key, key_file_path, remove_key_file, valid_key, write_key_file
from ..pods.spec import SpecError
from .routes import GpuGuardHandler
from .scheduler import SnapshotScheduler

POD_ID = r"(?P<pod_id>[^/]+)"
T = TypeVar("T")


class PodHandler(GpuGuardHandler):
    def initialize(  # type: ignore[override]
        self,
        detector: InstanceDetector,
        scheduler: SnapshotScheduler,
        config: GpuGuard,
    ) -> None:
        super().initialize(detector, scheduler)
        self.gpuguard = config

    def pod_error(self, err: Exception) -> None:
        if isinstance(err, PodError):
            self.write_json({"message": str(err), "reason": err.reason}, err.status)
        elif isinstance(err, SpecError):
            self.write_json({"message": str(err), "reason": "invalid"}, 400)
        else:
            raise err

    async def runpod(self, work: Awaitable[T]) -> T | None:
        """``work``'s answer, or None once its error has been answered in words."""
        try:
            return await work
        except (PodError, SpecError) as err:
            self.pod_error(err)
            return None

    @property
    def client(self) -> RunPodClient:
        return client_for(self.gpuguard)

    def key_state(self) -> dict[str, Any]:
        return api_key(self.gpuguard).describe()

    @property
    def store_path(self) -> Path | None:
        """This server's store: a pod started from here finds the wheelhouse beside it."""
        return self.scheduler.store.path if self.scheduler is not None else None


class KeyHandler(PodHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        self.write_json(self.key_state())

    @tornado.web.authenticated
    async def put(self) -> None:
        body = self.json_body()
        if body is None:
            return
        key = body.get("key")
        if not isinstance(key, str) or not valid_key(key.strip()):
            self.fail(
                400,
                "That is not a RunPod API key: expected 8 to 256 letters, digits, '-', '_' or '.'.",
            )
            return
        key = key.strip()
        checked, warning = True, None
        try:
            await RunPodClient(key, timeout=self.gpuguard.runpod_api_timeout).check_key()
        except PodError as err:
            if err.reason == "key-rejected":
                self.write_json(
                    {
                        "message": "RunPod rejected this key; it was not saved.",
                        "reason": err.reason,
                    },
                    400,
                )
                return
            checked, warning = False, f"Saved, but not checked: {err}"
        try:
            await self.in_thread(write_key_file, key_file_path(self.gpuguard), key)
        except OSError as err:
            self.fail(500, f"Could not save the key: {err.strerror}.")
            return
        self._refresh_instance()
        self.write_json({**self.key_state(), "checked": checked, "warning": warning})

    @tornado.web.authenticated
    async def delete(self) -> None:
        removed = await self.in_thread(remove_key_file, key_file_path(self.gpuguard))
        self._refresh_instance()
        self.write_json({**self.key_state(), "removed": removed})

    def _refresh_instance(self) -> None:
        """The instance facts (price, spot) on RunPod depend on the key: look again."""
        task = asyncio.ensure_future(self.detector.refresh())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())


class GpuTypesHandler(PodHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        types = await self.runpod(self.client.gpu_types())
        if types is not None:
            self.write_json({"gpu_types": types})


class VolumesHandler(PodHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        volumes = await self.runpod(self.client.volumes())
        if volumes is not None:
            self.write_json({"volumes": volumes})


class LaunchDefaultsHandler(PodHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        found = await self.runpod(
            launch.launch_defaults(self.gpuguard, self.client, this_pod(), self.store_path)
        )
        if found is not None:
            defaults, _env = found  # this pod's environment stays on the server
            self.write_json(defaults)


class PodsHandler(PodHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        answer = await self.runpod(self.client.pods())
        if answer is not None:
            self.write_json({**answer, "this_pod": this_pod_id()})

    @tornado.web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        if body is None:
            return
        launched = await self.runpod(
            launch.launch(self.gpuguard, self.client, body, self.store_path)
        )
        if launched is not None:
            self.log.info("jupyter_gpuguard: launched on-demand pod %s", launched["pod"]["id"])
            self.write_json(launched, 201)


class OnePodHandler(PodHandler):
    @tornado.web.authenticated
    async def get(self, pod_id: str) -> None:
        pod = await self.runpod(self.client.pod(pod_id))
        if pod is None:
            return
        summary = pod_summary(pod)
        if summary is None:
            self.fail(502, "RunPod answered with a pod without a valid id.")
            return
        self.write_json(summary)

    @tornado.web.authenticated
    async def delete(self, pod_id: str) -> None:
        if pod_id == this_pod_id():
            self.fail(409, "This is the pod this JupyterLab runs on: terminate it from RunPod.")
            return
        answer = await self.runpod(self.client.terminate(pod_id))
        if answer is not None:
            self.log.info("jupyter_gpuguard: terminated pod %s", pod_id)
            self.write_json(answer)


class StopPodHandler(PodHandler):
    @tornado.web.authenticated
    async def post(self, pod_id: str) -> None:
        if pod_id == this_pod_id():
            self.fail(409, "This is the pod this JupyterLab runs on: stop it from RunPod.")
            return
        answer = await self.runpod(self.client.stop(pod_id))
        if answer is not None:
            self.write_json(answer)


class MoveSessionHandler(PodHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        if body is None:
            return
        assert self.scheduler is not None
        moved = await self.runpod(
            move.move_session(
                self.gpuguard,
                self.client,
                this_pod(),
                self.scheduler,
                self.scheduler.store.path,
                body,
            )
        )
        if moved is not None:
            self.log.info("jupyter_gpuguard: session moved to on-demand pod %s", moved["pod"]["id"])
            self.write_json(moved, 201)


class TemplatesHandler(PodHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        body = self.json_body()
        if body is None:
            return
        saved = await self.runpod(
            launch.save_template(self.gpuguard, self.client, this_pod(), body, self.store_path)
        )
        if saved is not None:
            self.log.info("jupyter_gpuguard: saved RunPod template %s", saved["template"]["id"])
            self.write_json(saved, 201)


class MovedHandler(PodHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        """On a pod a session was moved to: the notebooks its frontend opens once."""
        self.write_json(move.moved_session())


def pod_handlers(
    detector: InstanceDetector, scheduler: SnapshotScheduler, config: GpuGuard
) -> list[tuple[str, type, dict[str, Any]]]:
    kwargs = {"detector": detector, "scheduler": scheduler, "config": config}
    return [
        (r"/gpuguard/runpod/key", KeyHandler, kwargs),
        (r"/gpuguard/runpod/gpu-types", GpuTypesHandler, kwargs),
        (r"/gpuguard/runpod/volumes", VolumesHandler, kwargs),
        (r"/gpuguard/runpod/launch-defaults", LaunchDefaultsHandler, kwargs),
        (r"/gpuguard/runpod/pods", PodsHandler, kwargs),
        (rf"/gpuguard/runpod/pods/{POD_ID}/stop", StopPodHandler, kwargs),
        (rf"/gpuguard/runpod/pods/{POD_ID}", OnePodHandler, kwargs),
        (r"/gpuguard/runpod/move-session", MoveSessionHandler, kwargs),
        (r"/gpuguard/runpod/templates", TemplatesHandler, kwargs),
        (r"/gpuguard/runpod/moved", MovedHandler, kwargs),
    ]
