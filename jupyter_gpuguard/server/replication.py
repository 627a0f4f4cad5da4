"""The server's side of the replica: every committed snapshot is uploaded in the background,
one at a time, on a thread of its own; the kernel and the server's loop never wait for the
network. What the panel needs (is it reachable, how far behind, which snapshots are there)
is kept here and answered without a request to the bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import GpuGuard
from ..formatting import format_bytes
from ..snapshot.model import SnapshotError, SnapshotInfo, SnapshotNotFound

if TYPE_CHECKING:
    from ..snapshot.replica import Replica
    from ..snapshot.replica.settings import ReplicaSettings
    from ..snapshot.store import Store

RETRY_SECONDS = (10.0, 30.0, 60.0, 300.0)  # after a failure: the endpoint may come back
RELIST_SECONDS = 300.0  # the bucket's listing is read again this often (other machines write)
PRUNE_SECONDS = 3600.0
PRUNE_GRACE_SECONDS = 3 * 3600.0


def _timeouts() -> Any:
    from ..snapshot.replica import Timeouts

    # one request at most a minute, all of it: a dead endpoint must show soon in the panel
    return Timeouts(connect=3.0, request=60.0, retries=2, total=60.0)


class Replication:
    """Uploads to the configured replica, and remembers what it holds."""

    def __init__(
        self, config: GpuGuard, store_of: Callable[[], Store], log: logging.Logger
    ) -> None:
        self.config = config
        self._store_of = store_of  # opened on first use, as the scheduler's
        self.log = log
        self.settings: ReplicaSettings | None = None
        self._replica: Replica | None = None
        self._wake = threading.Condition()
        self._queue: list[str] = []
        self._committed_at: dict[str, float] = {}
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._generation = 0  # bumped by each reconfigure: a worker's stale results are dropped
        self._replica_generation = -1
        # what the panel is told; written by the worker, read by the loop (whole values only)
        self.state = "off"
        self.error: dict[str, Any] | None = None
        self.current: dict[str, Any] | None = None
        self.last_upload: dict[str, Any] | None = None
        self.remote: dict[str, SnapshotInfo] | None = None  # None: not listed yet
        self.listed_at: float | None = None
        self.pulling: dict[str, Any] | None = None
        self._listed = threading.Event()
        self._pruned_at = 0.0

    @property
    def store(self) -> Store:
        return self._store_of()

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Read the settings and start the worker (reading the panel's file is disk I/O: the
        extension calls this once the server runs)."""
        self.reconfigure()

    def reconfigure(self) -> None:
        """Use the replica the settings name now (after the panel changed them)."""
        from ..snapshot.replica.settings import configured

        try:
            settings = configured(self.config)
        except SnapshotError as err:
            settings = None
            self.log.warning("jupyter_gpuguard: the replica setting is not usable: %s", err)
        with self._wake:
            self._generation += 1
            self.settings = settings
            self._replica = None
            self.remote, self.listed_at, self.error, self.current = None, None, None, None
            self._listed.clear()
            self.state = "connecting" if settings else "off"
            self._wake.notify_all()
        if settings is not None and self._thread is None:
            self._thread = threading.Thread(target=self._work, name="gpuguard-replica", daemon=True)
            self._thread.start()

    async def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()

    # ---- what the scheduler tells ----------------------------------------------------------
    def committed(self, info: SnapshotInfo) -> None:
        """A snapshot is complete in the local store: upload it."""
        if self.settings is None:
            return
        with self._wake:
            self._committed_at[info.id] = time.time()
            if info.id not in self._queue:
                self._queue.append(info.id)
            self._wake.notify_all()

    async def flush(self, timeout: float, on_progress: Callable[[dict[str, Any]], None]) -> bool:
        """Wait until every committed snapshot is on the replica, or ``timeout`` passed;
        ``on_progress(status)`` is called as the bytes left go down."""
        deadline, since = time.monotonic() + timeout, time.time()
        with self._wake:
            self._wake.notify_all()  # a worker waiting out a failure tries again now
        while True:
            status = self.status()
            on_progress(status)
            if self.settings is None or (not status["pending"] and self.current is None):
                return self.settings is not None and self.error is None
            failed = self.error is not None and self.error["at"] >= since
            if failed or time.monotonic() >= deadline:
                return False  # a failure waits a while before its retry: too late here
            await asyncio.sleep(0.2)

    # ---- the worker --------------------------------------------------------------------
    def _work(self) -> None:
        failures = 0
        while True:
            with self._wake:
                if self._stopping:
                    return
                generation, settings = self._generation, self.settings
            if settings is None:
                self._sleep(None, generation)
                continue
            try:
                self._step(generation, settings)
                failures = 0
            except SnapshotError as err:
                if generation != self._generation:
                    continue
                reason = getattr(err, "reason", "replica")
                self.error = {"reason": reason, "message": str(err), "at": time.time()}
                self.state, self.current = "error", None
                self._listed.set()  # who waits for a listing gets the error instead
                self.log.warning("jupyter_gpuguard: the replica %s: %s", settings.url, err)
                self._sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)], generation)
                failures += 1

    def _sleep(self, seconds: float | None, generation: int) -> None:
        with self._wake:
            if not self._stopping and generation == self._generation:
                self._wake.wait(seconds)

    def _step(self, generation: int, settings: ReplicaSettings) -> None:
        with self._wake:
            replica = self._replica if self._replica_generation == generation else None
        if replica is None:
            replica = self._connect(settings)
            with self._wake:
                if generation != self._generation:
                    return  # connected to what the settings named before they changed
                self._replica, self._replica_generation = replica, generation
        if self.remote is None or time.time() - (self.listed_at or 0) > RELIST_SECONDS:
            self._relist(replica, generation)
        with self._wake:
            if generation != self._generation or self._stopping:
                return  # the settings changed while the bucket was asked: start again
            todo = self._queue[0] if self._queue else None
            if todo is None:
                self.state = "ok"
                self._wake.wait(RELIST_SECONDS)
                return
        self._upload(replica, todo, generation)
        if time.time() - self._pruned_at > PRUNE_SECONDS:
            self._pruned_at = time.time()
            replica.prune(max(self.config.snapshot_keep, 1), PRUNE_GRACE_SECONDS)
            self._relist(replica, generation)

    def _connect(self, settings: ReplicaSettings) -> Replica:
        from ..snapshot.replica import Replica

        replica = Replica(
            settings.url,
            endpoint_url=settings.endpoint_url,
            region=settings.region,
            credentials=settings.credentials,
            timeouts=_timeouts(),
        )
        replica.check()
        return replica

    def _relist(self, replica: Replica, generation: int) -> None:
        infos = {info.id: info for info in replica.list()}
        if generation != self._generation:
            return
        self.remote, self.listed_at = infos, time.time()
        self.error = None
        self._listed.set()
        # what this store holds and the replica lacks: the newest of each notebook first
        missing = [i for i in self.store.newest_ids() if i not in infos]
        missing += [i for i in self.store.ids() if i not in infos and i not in missing]
        with self._wake:
            self._queue += [i for i in missing if i not in self._queue]

    def _upload(self, replica: Replica, snapshot_id: str, generation: int) -> None:
        self.state = "uploading"
        started = time.time()
        self.current = {"id": snapshot_id, "bytes_left": None, "started": started}

        def progress(left: int) -> None:
            self.current = {"id": snapshot_id, "bytes_left": left, "started": started}

        try:
            report = replica.upload(self.store, snapshot_id, progress=progress)
        except SnapshotNotFound:
            report = None  # pruned here before it went up: nothing to upload
        except SnapshotError:
            if snapshot_id in self.store.ids():
                raise
            report = None
        with self._wake:
            if snapshot_id in self._queue:
                self._queue.remove(snapshot_id)
            committed_at = self._committed_at.pop(snapshot_id, None)
            self.current = None
            if generation == self._generation:
                self.state = "uploading" if self._queue else "ok"
        if report is None or generation != self._generation:
            return
        finished = time.time()
        if self.remote is not None:
            with contextlib.suppress(SnapshotError):
                self.remote[snapshot_id] = self.store.get(snapshot_id)
        self.error = None
        self.last_upload = {
            "id": snapshot_id,
            "at": finished,
            "bytes": report.bytes_uploaded,
            "seconds": report.seconds,
            # from the local commit to the replica's: what the panel calls "behind"
            "lag_seconds": finished - committed_at if committed_at else None,
        }

    # ---- what the routes ask -----------------------------------------------------------
    def status(self) -> dict[str, Any]:
        settings = self.settings
        if settings is None:
            return {"configured": False, "state": "off"}
        with self._wake:
            pending = list(self._queue)
            oldest = min((self._committed_at.get(i, time.time()) for i in pending), default=None)
        current = self.current
        left = sum(self._bytes_of(i) for i in pending if not current or i != current["id"])
        if current and current.get("bytes_left") is not None:
            left += current["bytes_left"]
        elif current:
            left += self._bytes_of(current["id"])
        return {
            "configured": True,
            **settings.describe(),
            "endpoint": self._replica.endpoint if self._replica else settings.endpoint_url,
            "state": self.state,
            "error": self.error,
            "pending": len(pending),
            "bytes_left": left,
            "behind_seconds": (time.time() - oldest) if oldest is not None else 0.0,
            "uploading": current,
            "last_upload": self.last_upload,
            "snapshots": len(self.remote) if self.remote is not None else None,
            "listed_at": self.listed_at,
            "pulling": self.pulling,
        }

    def _bytes_of(self, snapshot_id: str) -> int:
        """What uploading it could send at most: its new bytes (the rest was shared)."""
        try:
            return self.store.get(snapshot_id).bytes_written
        except SnapshotError:
            return 0

    def replicated(self) -> set[str]:
        return set(self.remote or ())

    async def listing(self, wait: float) -> dict[str, SnapshotInfo]:
        """The replica's snapshots, waiting up to ``wait`` s for the first listing."""
        if self.settings is None:
            return {}
        if self.remote is None:
            await asyncio.get_running_loop().run_in_executor(None, self._listed.wait, wait)
        return dict(self.remote or {})

    def replica_only(self, snapshot_id: str) -> SnapshotInfo | None:
        """A snapshot this disk lacks, as the replica's listing describes it."""
        return (self.remote or {}).get(snapshot_id)

    def pull(self, snapshot_id: str) -> None:
        """Download a snapshot only the replica has into the local store (in a thread)."""
        replica = self._replica
        if replica is None or self.replica_only(snapshot_id) is None:
            raise SnapshotNotFound(f"there is no snapshot {snapshot_id} on the replica")
        started = time.time()
        self.pulling = {"id": snapshot_id, "bytes_left": None, "started": started}

        def progress(left: int) -> None:
            self.pulling = {"id": snapshot_id, "bytes_left": left, "started": started}

        try:
            replica.pull(self.store, snapshot_id, progress=progress)
        finally:
            self.pulling = None

    async def check(self, settings: ReplicaSettings) -> None:
        """Raise the ReplicaError that keeps ``settings`` from working, if any (in a
        thread: it asks the endpoint)."""
        from ..snapshot.replica import Replica

        def probe() -> None:
            Replica(
                settings.url,
                endpoint_url=settings.endpoint_url,
                region=settings.region,
                credentials=settings.credentials,
                timeouts=_timeouts(),
            ).check()

        await asyncio.get_running_loop().run_in_executor(None, probe)


def located(local: list[SnapshotInfo], remote: list[SnapshotInfo]) -> list[dict[str, Any]]:
    """Both tiers' snapshots as one list, newest first, each with ``where`` it lives:
    ``["disk"]``, ``["replica"]`` or both."""
    on_replica = {info.id for info in remote}
    merged = {info.id: {**info.to_json(), "where": ["disk"]} for info in local}
    for snapshot_id, entry in merged.items():
        if snapshot_id in on_replica:
            entry["where"] = ["disk", "replica"]
    for info in remote:
        merged.setdefault(info.id, {**info.to_json(), "where": ["replica"]})
    return [merged[i] for i in sorted(merged, reverse=True)]


async def require_replicated(run: dict[str, Any]) -> None:
    """Refuse to let the machine go (an idle stop) while what ``snapshot_all`` saved is not
    on the replica: on a disk that dies with the machine, it would be lost."""
    upload = run.get("replica")
    if upload is None or upload.get("done"):
        return
    why = upload.get("error") or f"{format_bytes(upload.get('bytes_left') or 0)} left to upload"
    raise SnapshotError(f"the snapshots did not reach the replica {upload.get('url')} ({why})")
