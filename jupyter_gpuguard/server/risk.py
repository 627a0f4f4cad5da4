"""What a preemption would cost now: per kernel, the work since its last snapshot, and what
restoring that snapshot would rebuild by re-running cells, with their recorded run times."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..snapshot.model import SnapshotError
from .scheduler import SnapshotScheduler

# A kernel's iopub settles a moment after the cell that a snapshot followed: within this,
# its last activity is the snapshot's own cell, not work after it.
SETTLE = 1.0


def _timestamp(value: Any) -> float | None:
    stamp = getattr(value, "timestamp", None)
    return float(stamp()) if callable(stamp) else None


def _rebuild(scheduler: SnapshotScheduler, snapshot_id: str) -> dict[str, Any]:
    """Read from the manifest alone (a thread's work: it reads the store)."""
    try:
        plan = scheduler.store.rebuild_plan(snapshot_id)
    except SnapshotError as err:
        return {"variables": [], "cells": 0, "seconds": None, "lost": [], "error": str(err)}
    timed = [c.seconds for c in plan.cells if c.seconds is not None]
    return {
        "variables": plan.rebuildable,
        "cells": len(plan.cells),
        # recorded run times of the cells that have one; untimed counts the others
        "seconds": round(sum(timed), 1) if timed else None,
        "untimed_cells": len(plan.cells) - len(timed),
        "lost": sorted(plan.unrebuildable),
    }


async def preemption_risk(scheduler: SnapshotScheduler) -> dict[str, Any]:
    now = time.time()
    manager = scheduler.kernel_manager
    loop = asyncio.get_running_loop()
    kernels = []
    for kernel_id in list(manager.list_kernel_ids()):
        state = scheduler.kernels.get(kernel_id)
        if state is not None and state.supported is False:
            continue
        try:
            kernel = manager.get_kernel(kernel_id)
        except KeyError:
            continue
        busy = getattr(kernel, "execution_state", None) == "busy"
        activity = _timestamp(getattr(kernel, "last_activity", None))
        snapshot = state.last_snapshot if state else None
        since = (state.last_snapshot_at or state.attached_at) if state else None
        end = now if busy else activity
        work = None
        if since is not None and end is not None:
            work = end - since if end - since > SETTLE else 0.0
        rebuild = (
            await loop.run_in_executor(None, _rebuild, scheduler, snapshot.id)
            if snapshot is not None
            else None
        )
        kernels.append(
            {
                "kernel_id": kernel_id,
                "notebook": state.notebook if state else None,
                "last_snapshot_at": state.last_snapshot_at if state else None,
                "busy": busy,
                "work_seconds": round(work, 1) if work is not None else None,
                "rebuild": rebuild,
            }
        )
    works = [k["work_seconds"] for k in kernels if k["work_seconds"] is not None]
    rebuilds = [k["rebuild"] for k in kernels if k["rebuild"]]
    seconds = [r["seconds"] for r in rebuilds if r["seconds"] is not None]
    return {
        "kernels": kernels,
        # kernels work side by side: what is lost is the longest unsaved stretch
        "work_seconds": max(works) if works else None,
        "unsnapshotted": sum(1 for k in kernels if k["last_snapshot_at"] is None),
        "rebuild_variables": sum(len(r["variables"]) for r in rebuilds),
        "rebuild_cells": sum(r["cells"] for r in rebuilds),
        "rebuild_seconds": round(sum(seconds), 1) if seconds else None,
        "lost_variables": sum(len(r["lost"]) for r in rebuilds),
    }
