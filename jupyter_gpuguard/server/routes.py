"""REST handlers: thin, authenticated, JSON in and out, 4xx with a message on bad input."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import tornado
from jupyter_server.base.handlers import APIHandler

from ..instance.detector import InstanceDetector
from ..instance.runpod import this_pod_id
from ..snapshot.location import store_persistence
from ..snapshot.model import SnapshotError, StoreSecurityError, valid_snapshot_id
from .kernel_link import KernelLinkError
from .scheduler import SnapshotScheduler

SNAPSHOT_ID = r"(?P<snapshot_id>[^/]+)"
MAX_BODY_DEPTH = 32  # our bodies nest 3 deep at most; pod env dicts are flat
TOO_DEEP = (
    f"The request body nests too deep: at most {MAX_BODY_DEPTH} levels of objects and arrays."
)


def json_depth(value: Any) -> int:
    """How deep ``value`` nests, counted without recursion (a parsed body can be deeper
    than the interpreter's stack allows a recursive walk)."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_BODY_DEPTH:
            return deepest  # no need to walk the rest of a body already refused
        pending.extend((child, depth + 1) for child in children)
    return deepest


class GpuGuardHandler(APIHandler):
    def initialize(
        self, detector: InstanceDetector, scheduler: SnapshotScheduler | None = None
    ) -> None:
        self.detector = detector
        self.scheduler = scheduler

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(payload))

    def fail(self, status: int, message: str) -> None:
        self.write_json({"message": message}, status)

    def json_body(self) -> dict[str, Any] | None:
        """The request's JSON object, or None after answering 400."""
        try:
            body = json.loads(self.request.body or b"{}")
        except RecursionError:
            self.fail(400, TOO_DEEP)
            return None
        except ValueError:
            self.fail(400, "The request body is not valid JSON.")
            return None
        if not isinstance(body, dict):
            self.fail(400, "The request body must be a JSON object.")
            return None
        if json_depth(body) > MAX_BODY_DEPTH:
            # a value that parsed can still be too deep for the repr or the json.dumps of
            # an error message further on, which recurse
            self.fail(400, TOO_DEEP)
            return None
        return body

    def kernel_id(self, body: dict[str, Any]) -> str | None:
        kernel_id = body.get("kernel_id")
        if not isinstance(kernel_id, str) or not kernel_id:
            self.fail(400, "kernel_id must be a non-empty string.")
            return None
        assert self.scheduler is not None
        if kernel_id not in set(self.scheduler.kernel_manager.list_kernel_ids()):
            self.fail(404, f"There is no running kernel {kernel_id[:64]!r}.")
            return None
        return kernel_id

    def snapshot_id(self, snapshot_id: str) -> str | None:
        if not valid_snapshot_id(snapshot_id):
            self.fail(400, f"{snapshot_id[:80]!r} is not a snapshot id.")
            return None
        return snapshot_id

    async def in_thread(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, function, *args)

    _FAILED = object()

    async def from_store(self, method: str, snapshot_id: str) -> Any:
        """``store.<method>(snapshot_id)`` in a thread, for a well-formed id; ``_FAILED``
        once the request has been answered with the error."""
        assert self.scheduler is not None
        if not self.snapshot_id(snapshot_id):
            return self._FAILED
        try:
            return await self.in_thread(getattr(self.scheduler.store, method), snapshot_id)
        except SnapshotError as err:
            self.snapshot_error(err)
            return self._FAILED

    def snapshot_error(self, err: Exception) -> None:
        if isinstance(err, StoreSecurityError):
            self.fail(403, str(err))
        elif isinstance(err, SnapshotError) and "there is no snapshot" in str(err):
            self.fail(404, str(err))
        elif isinstance(err, KernelLinkError):
            self.fail(409, str(err))
        else:
            self.fail(500, str(err))


class InstanceHandler(GpuGuardHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        self.write_json(self.detector.current())


class SnapshotsHandler(GpuGuardHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        assert self.scheduler is not None
        notebook = self.get_query_argument("notebook", None)
        try:
            infos = await self.in_thread(self.scheduler.snapshots_of, notebook)
        except SnapshotError as err:
            self.snapshot_error(err)
            return
        self.write_json([info.to_json() for info in infos])

    @tornado.web.authenticated
    async def post(self) -> None:
        assert self.scheduler is not None
        body = self.json_body()
        kernel_id = body is not None and self.kernel_id(body)
        if not kernel_id:
            return
        try:
            info = await self.scheduler.snapshot(kernel_id)
        except (SnapshotError, KernelLinkError) as err:
            self.snapshot_error(err)
            return
        self.write_json(info.to_json(), 201)


class SnapshotHandler(GpuGuardHandler):
    @tornado.web.authenticated
    async def get(self, snapshot_id: str) -> None:
        info = await self.from_store("get", snapshot_id)
        if info is not self._FAILED:
            self.write_json(info.to_json())

    @tornado.web.authenticated
    async def delete(self, snapshot_id: str) -> None:
        if await self.from_store("delete", snapshot_id) is self._FAILED:
            return
        self.set_status(204)
        self.finish()


class RestoreHandler(GpuGuardHandler):
    @tornado.web.authenticated
    async def post(self, snapshot_id: str) -> None:
        assert self.scheduler is not None
        if not self.snapshot_id(snapshot_id):
            return
        body = self.json_body()
        kernel_id = body is not None and self.kernel_id(body)
        if not kernel_id:
            return
        assert body is not None
        rebuild = body.get("rebuild", False)
        if not isinstance(rebuild, bool):
            self.fail(400, "rebuild must be true or false.")
            return
        try:
            await self.in_thread(self.scheduler.store.get, snapshot_id)
            report = await self.scheduler.restore(kernel_id, snapshot_id, rebuild)
        except (SnapshotError, KernelLinkError) as err:
            self.snapshot_error(err)
            return
        self.write_json(report)


class PlanHandler(GpuGuardHandler):
    @tornado.web.authenticated
    async def get(self, snapshot_id: str) -> None:
        """What restoring this snapshot would re-run to rebuild what it could not save."""
        plan = await self.from_store("rebuild_plan", snapshot_id)
        if plan is not self._FAILED:
            self.write_json(plan.to_json())


class StatusHandler(GpuGuardHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        assert self.scheduler is not None
        store = self.scheduler.store
        size = await self.in_thread(store.disk_usage)
        problems = await self.in_thread(store.problems)
        # A pod is known from its environment before detection has said so.
        provider = "runpod" if this_pod_id() else str(self.detector.current()["provider"])
        persistent, why = store_persistence(store.path, provider)
        self.write_json(
            {
                **(await self.scheduler.status()),
                "store": {
                    "path": str(store.path),
                    "bytes": size,
                    "persistent": persistent,
                    "persistent_reason": why,
                    # manifests left out of the listing, pruning and scrubbing, with why
                    "problems": problems,
                },
            }
        )


def handlers(
    detector: InstanceDetector, scheduler: SnapshotScheduler
) -> list[tuple[str, type, dict[str, Any]]]:
    """Routes relative to the server's base URL (the extension app prefixes it)."""
    both = {"detector": detector, "scheduler": scheduler}
    return [
        (r"/gpuguard/instance", InstanceHandler, {"detector": detector}),
        (r"/gpuguard/status", StatusHandler, both),
        (r"/gpuguard/snapshots", SnapshotsHandler, both),
        (rf"/gpuguard/snapshots/{SNAPSHOT_ID}/restore", RestoreHandler, both),
        (rf"/gpuguard/snapshots/{SNAPSHOT_ID}/plan", PlanHandler, both),
        (rf"/gpuguard/snapshots/{SNAPSHOT_ID}", SnapshotHandler, both),
    ]
