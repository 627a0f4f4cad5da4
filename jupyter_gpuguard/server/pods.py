"""REST routes for RunPod pods: the API key, GPU types, volumes, pods, launch, move.

Every answer is built from what RunPod said, filtered to named fields: the API key is
never among them, and RunPod's errors arrive scrubbed of it (``pods.transport.scrub``).
A RunPod or launch-request error leaves a route as ``tornado.web.HTTPError`` with its
reason (``answered``), which jupyter_server renders as ``{"message", "reason"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tornado

from ..config import GpuGuard
from ..instance.runpod import this_pod, this_pod_id
from ..pods.key import api_key, key_file_path, remove_key_file, valid_key, write_key_file
from .handler import GpuGuardHandler, invalid

if TYPE_CHECKING:
    from ..pods.client import RunPodClient

# RunPod's client and the launch, move and template code are imported by the first request
# that needs them, not as the server starts: most servers never see a pod request.

POD_ID = r"(?P<pod_id>[^/]+)"


@contextlib.contextmanager
def answered() -> Iterator[None]:
    """RunPod and launch-request errors raised inside, as the HTTP errors that answer them."""
    from ..pods.errors import PodError
    from ..pods.spec import SpecError

    try:
        yield
    except PodError as err:
        raise tornado.web.HTTPError(err.status, str(err), reason=err.reason) from None
    except SpecError as err:
        raise invalid(str(err)) from None


class PodRoute(GpuGuardHandler):
    @property
    def gpuguard(self) -> GpuGuard:
        config: GpuGuard = self.settings["gpuguard_config"]
        return config

    @property
    def client(self) -> RunPodClient:
        from ..pods.client import client_for

        return client_for(self.gpuguard)

    def key_state(self) -> dict[str, Any]:
        return api_key(self.gpuguard).describe()

    @property
    def store_path(self) -> Path:
        """This server's store: a pod started from here finds the wheelhouse beside it."""
        return self.scheduler.store_path

    def not_this_pod(self, pod_id: str, verb: str) -> None:
        if pod_id == this_pod_id():
            from ..pods.errors import PodError

            raise PodError(
                f"This is the pod this JupyterLab runs on: {verb} it from RunPod.", "this-pod", 409
            )


class KeyHandler(PodRoute):
    @tornado.web.authenticated
    def get(self) -> None:
        self.write_json(self.key_state())

    @tornado.web.authenticated
    async def put(self) -> None:
        key = self.json_body().get("key")
        if not isinstance(key, str) or not valid_key(key.strip()):
            raise invalid(
                "That is not a RunPod API key: expected 8 to 256 letters, digits, '-', '_' or '.'."
            )
        from ..pods.client import RunPodClient
        from ..pods.errors import PodError

        key = key.strip()
        checked, warning = True, None
        try:
            await RunPodClient(key, timeout=self.gpuguard.runpod_api_timeout).check_key()
        except PodError as err:
            if err.reason == "key-rejected":
                raise tornado.web.HTTPError(
                    400, "RunPod rejected this key; it was not saved.", reason=err.reason
                ) from None
            checked, warning = False, f"Saved, but not checked: {err}"
        try:
            await self.in_thread(write_key_file, key_file_path(self.gpuguard), key)
        except OSError as err:
            raise tornado.web.HTTPError(500, f"Could not save the key: {err.strerror}.") from None
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


class GpuTypesHandler(PodRoute):
    @tornado.web.authenticated
    async def get(self) -> None:
        with answered():
            self.write_json({"gpu_types": await self.client.gpu_types()})


class VolumesHandler(PodRoute):
    @tornado.web.authenticated
    async def get(self) -> None:
        with answered():
            self.write_json({"volumes": await self.client.volumes()})


class LaunchDefaultsHandler(PodRoute):
    @tornado.web.authenticated
    async def get(self) -> None:
        from ..pods import launch

        with answered():
            defaults, _env = await launch.launch_defaults(
                self.gpuguard, self.client, this_pod(), self.store_path
            )
        self.write_json(defaults)  # this pod's environment stays on the server


class PodsHandler(PodRoute):
    @tornado.web.authenticated
    async def get(self) -> None:
        with answered():
            answer = await self.client.pods()
        self.write_json({**answer, "this_pod": this_pod_id()})

    @tornado.web.authenticated
    async def post(self) -> None:
        from ..pods import launch

        body = self.json_body()
        with answered():
            launched = await launch.launch(self.gpuguard, self.client, body, self.store_path)
        self.log.info("jupyter_gpuguard: launched on-demand pod %s", launched["pod"]["id"])
        self.write_json(launched, 201)


class OnePodHandler(PodRoute):
    @tornado.web.authenticated
    async def get(self, pod_id: str) -> None:
        from ..pods.client import pod_summary
        from ..pods.errors import PodError

        with answered():
            summary = pod_summary(await self.client.pod(pod_id))
            if summary is None:
                raise PodError(
                    "RunPod answered with a pod without a valid id.", "runpod-error", 502
                )
        self.write_json(summary)

    @tornado.web.authenticated
    async def delete(self, pod_id: str) -> None:
        with answered():
            self.not_this_pod(pod_id, "terminate")
            answer = await self.client.terminate(pod_id)
        self.log.info("jupyter_gpuguard: terminated pod %s", pod_id)
        self.write_json(answer)


class StopPodHandler(PodRoute):
    @tornado.web.authenticated
    async def post(self, pod_id: str) -> None:
        with answered():
            self.not_this_pod(pod_id, "stop")
            answer = await self.client.stop(pod_id)
        self.write_json(answer)


class MoveSessionHandler(PodRoute):
    @tornado.web.authenticated
    async def post(self) -> None:
        from ..pods import move

        body = self.json_body()
        with answered():
            moved = await move.move_session(
                self.gpuguard, self.client, this_pod(), self.scheduler, self.store_path, body
            )
        self.log.info("jupyter_gpuguard: session moved to on-demand pod %s", moved["pod"]["id"])
        self.write_json(moved, 201)


class TemplatesHandler(PodRoute):
    @tornado.web.authenticated
    async def post(self) -> None:
        from ..pods import launch

        body = self.json_body()
        with answered():
            saved = await launch.save_template(
                self.gpuguard, self.client, this_pod(), body, self.store_path
            )
        self.log.info("jupyter_gpuguard: saved RunPod template %s", saved["template"]["id"])
        self.write_json(saved, 201)


class MovedHandler(PodRoute):
    @tornado.web.authenticated
    def get(self) -> None:
        """On a pod a session was moved to: the notebooks its frontend opens once."""
        from ..pods import move

        self.write_json(move.moved_session())


def pod_handlers() -> list[tuple[str, type]]:
    """Routes relative to the server's base URL (the extension app prefixes it)."""
    return [
        (r"/gpuguard/runpod/key", KeyHandler),
        (r"/gpuguard/runpod/gpu-types", GpuTypesHandler),
        (r"/gpuguard/runpod/volumes", VolumesHandler),
        (r"/gpuguard/runpod/launch-defaults", LaunchDefaultsHandler),
        (r"/gpuguard/runpod/pods", PodsHandler),
        (rf"/gpuguard/runpod/pods/{POD_ID}/stop", StopPodHandler),
        (rf"/gpuguard/runpod/pods/{POD_ID}", OnePodHandler),
        (r"/gpuguard/runpod/move-session", MoveSessionHandler),
        (r"/gpuguard/runpod/templates", TemplatesHandler),
        (r"/gpuguard/runpod/moved", MovedHandler),
    ]
