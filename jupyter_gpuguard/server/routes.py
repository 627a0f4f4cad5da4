"""REST handlers for the machine and its snapshots: thin, authenticated, JSON in and out.

Each refuses with ``tornado.web.HTTPError(status, message, reason=...)``: a snapshot error
keeps its reason, and its kind picks the status.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import tornado

from ..instance.runpod import this_pod_id
from ..snapshot.identity import of_notebook
from ..snapshot.location import store_persistence
from ..snapshot.model import (
    SnapshotError,
    SnapshotNotFound,
    StoreSecurityError,
    valid_snapshot_id,
)
from ..snapshot.replica.errors import ReplicaConfigError, ReplicaError, ReplicaNotInstalled
from . import handler
from .handler import invalid
from .kernel_link import KernelLinkError
from .replication import located

SNAPSHOT_ID = r"(?P<snapshot_id>[^/]+)"
# A fresh machine's first listing of the replica: the restore prompt asks right after start.
LISTING_WAIT = 15.0


def status_of(err: SnapshotError | KernelLinkError) -> int:
    """403 for a store someone else could have changed, 404 for a snapshot that is not there,
    409 for a kernel that cannot be reached or refuses, 400 for replica settings that cannot
    work, 502 for a replica that fails, 500 for anything else."""
    if isinstance(err, KernelLinkError):
        return 409
    if isinstance(err, ReplicaError):
        # the settings as given, or a service this server cannot use right now
        return 400 if isinstance(err, ReplicaConfigError | ReplicaNotInstalled) else 502
    if isinstance(err, StoreSecurityError):
        return 403
    if isinstance(err, SnapshotNotFound):
        return 404
    return 500


@contextlib.contextmanager
def answered() -> Iterator[None]:
    """Snapshot and kernel errors raised inside, as the HTTP errors that answer them."""
    try:
        yield
    except (SnapshotError, KernelLinkError) as err:
        raise tornado.web.HTTPError(status_of(err), str(err), reason=err.reason) from err


def checked_snapshot_id(snapshot_id: str) -> str:
    if not valid_snapshot_id(snapshot_id):
        raise invalid(f"{snapshot_id[:80]!r} is not a snapshot id.")
    return snapshot_id


class SnapshotRoute(handler.GpuGuardHandler):
    async def on_this_disk(self, snapshot_id: str) -> None:
        """Download the snapshot from the replica when only the replica has it: restoring
        reads the local store alone, where every chunk is checked against its hash."""
        try:
            await self.in_thread(self.scheduler.store.get, snapshot_id)
        except SnapshotNotFound:
            replication = self.scheduler.replication
            await replication.listing(wait=LISTING_WAIT)
            if replication.replica_only(snapshot_id) is None:
                raise  # on neither tier: this store's answer says so
            await self.in_thread(replication.pull, snapshot_id)

    def running_kernel(self, body: dict[str, Any]) -> str:
        """The body's ``kernel_id``, of a kernel that runs."""
        kernel_id = body.get("kernel_id")
        if not isinstance(kernel_id, str) or not kernel_id:
            raise invalid("kernel_id must be a non-empty string.")
        if kernel_id not in set(self.scheduler.kernel_manager.list_kernel_ids()):
            raise tornado.web.HTTPError(
                404, f"There is no running kernel {kernel_id[:64]!r}.", reason="no-such-kernel"
            )
        return kernel_id


class InstanceHandler(handler.GpuGuardHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        self.write_json(self.detector.current())


class SnapshotsHandler(SnapshotRoute):
    @tornado.web.authenticated
    async def get(self) -> None:
        """The snapshots of a notebook (or all) and those of the kernel ``kernel_id`` (taken
        before a rename), on this disk and on the replica, newest first, each saying where
        it lives."""
        notebook = self.get_query_argument("notebook", None)
        kernel_id = self.get_query_argument("kernel_id", None)
        with answered():
            local = await self.in_thread(self.scheduler.snapshots_of, notebook, kernel_id)
        replication = self.scheduler.replication
        remote = list((await replication.listing(wait=LISTING_WAIT)).values())
        if notebook is not None:
            remote = of_notebook(remote, self.scheduler.notebook_identity(notebook))
        self.write_json(located(local, remote))

    @tornado.web.authenticated
    async def post(self) -> None:
        kernel_id = self.running_kernel(self.json_body())
        with answered():
            info = await self.scheduler.snapshot(kernel_id)
        self.write_json(info.to_json(), 201)


class SnapshotHandler(SnapshotRoute):
    @tornado.web.authenticated
    async def get(self, snapshot_id: str) -> None:
        snapshot_id = checked_snapshot_id(snapshot_id)
        with answered():
            try:
                info = await self.in_thread(self.scheduler.store.get, snapshot_id)
            except SnapshotNotFound:
                remote = self.scheduler.replication.replica_only(snapshot_id)
                if remote is None:
                    raise
                info = remote
        self.write_json(info.to_json())

    @tornado.web.authenticated
    async def delete(self, snapshot_id: str) -> None:
        snapshot_id = checked_snapshot_id(snapshot_id)
        with answered():
            await self.in_thread(self.scheduler.store.delete, snapshot_id)
        self.set_status(204)
        self.finish()


class RestoreHandler(SnapshotRoute):
    @tornado.web.authenticated
    async def post(self, snapshot_id: str) -> None:
        snapshot_id = checked_snapshot_id(snapshot_id)
        body = self.json_body()
        kernel_id = self.running_kernel(body)
        rebuild = body.get("rebuild", False)
        if not isinstance(rebuild, bool):
            raise invalid("rebuild must be true or false.")
        with answered():
            await self.on_this_disk(snapshot_id)
            report = await self.scheduler.restore(kernel_id, snapshot_id, rebuild)
        self.write_json(report)


class PlanHandler(SnapshotRoute):
    @tornado.web.authenticated
    async def get(self, snapshot_id: str) -> None:
        """What restoring this snapshot would re-run to rebuild what it could not save."""
        snapshot_id = checked_snapshot_id(snapshot_id)
        with answered():
            await self.on_this_disk(snapshot_id)
            plan = await self.in_thread(self.scheduler.store.rebuild_plan, snapshot_id)
        self.write_json(plan.to_json())


class StatusHandler(SnapshotRoute):
    @tornado.web.authenticated
    async def get(self) -> None:
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
                "replica": self.scheduler.replication.status(),
            }
        )


def handlers() -> list[tuple[str, type]]:
    """Routes relative to the server's base URL (the extension app prefixes it)."""
    return [
        (r"/gpuguard/instance", InstanceHandler),
        (r"/gpuguard/status", StatusHandler),
        (r"/gpuguard/snapshots", SnapshotsHandler),
        (rf"/gpuguard/snapshots/{SNAPSHOT_ID}/restore", RestoreHandler),
        (rf"/gpuguard/snapshots/{SNAPSHOT_ID}/plan", PlanHandler),
        (rf"/gpuguard/snapshots/{SNAPSHOT_ID}", SnapshotHandler),
    ]
