"""The store's upkeep, in the background: pruning after each snapshot, and a periodic check
of the chunks the next snapshots will reuse."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import GpuGuard
from ..snapshot.model import SnapshotError

if TYPE_CHECKING:
    from ..snapshot.store import Store


class StoreUpkeep:
    def __init__(self, config: GpuGuard, store_of: Callable[[], Store], log: logging.Logger):
        self.config = config
        self._store_of = store_of  # opened on first use, as the scheduler's
        self.log = log
        self._scrub_task: asyncio.Task[Any] | None = None
        self._scrubbed_at = time.time()  # the first check waits a full interval
        self.last_scrub: dict[str, Any] | None = None
        self.last_prune_error: str | None = None

    @property
    def store(self) -> Store:
        return self._store_of()

    async def stop(self) -> None:
        if self._scrub_task is not None:
            self._scrub_task.cancel()
            await asyncio.gather(self._scrub_task, return_exceptions=True)

    def maybe_scrub(self) -> None:
        interval = self.config.scrub_interval
        if interval <= 0 or time.time() - self._scrubbed_at < interval:
            return
        if self._scrub_task is not None and not self._scrub_task.done():
            return
        self._scrubbed_at = time.time()
        self._scrub_task = asyncio.ensure_future(self.scrub())

    async def scrub(self) -> dict[str, Any]:
        """Re-hash the chunks of each notebook's newest snapshot (the ones the next snapshots
        reuse without reading them) and remove damaged ones, so that they are written again."""
        started = time.time()

        def check() -> dict[str, Any]:
            ids = self.store.newest_ids()
            checked = 0
            damaged: list[str] = []
            removed: list[str] = []
            for snapshot_id in ids:
                report = self.store.verify(snapshot_id)
                checked += report.chunks_checked
                damaged += [d.chunk for d in report.damaged if d.chunk not in damaged]
                removed += self.store.repair(report, wait=5.0)
            return {
                "snapshots": ids,
                "chunks_checked": checked,
                "damaged": damaged,
                "removed": removed,
            }

        try:
            result = await asyncio.get_running_loop().run_in_executor(None, check)
        except SnapshotError as err:
            result = {"error": str(err)}
            self.log.warning("jupyter_gpuguard: checking the snapshot store failed: %s", err)
        else:
            if result["damaged"]:
                self.log.warning(
                    "jupyter_gpuguard: %d damaged chunks in the snapshot store; removed %d so "
                    "that the next snapshots write them again",
                    len(result["damaged"]),
                    len(result["removed"]),
                )
        self.last_scrub = {**result, "started": started, "finished": time.time()}
        return self.last_scrub

    async def prune(self) -> None:
        max_bytes = self.config.snapshot_max_bytes or None
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                None, lambda: self.store.prune(self.config.snapshot_keep, max_bytes, wait=5.0)
            )
        except Exception as err:  # a background task: say it in the status, never drop it
            self.last_prune_error = f"{type(err).__name__}: {err}"[:500]
            self.log.warning("jupyter_gpuguard: pruning snapshots failed: %s", err)
        else:
            self.last_prune_error = None
