"""The server keeps the volume's wheelhouse current by itself.

A pod started from the panel, or from a template it saved, installs the extension from
``<store>/wheels``. After an upgrade that directory holds only older versions, so once the
server runs, and when the store is on a persistent volume, the installed version's wheels
are written there. It happens in a thread (it reads every installed file and may run pip
for minutes), never on the start path; a failure is logged, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ..instance.runpod import this_pod_id
from ..snapshot.location import store_persistence

if TYPE_CHECKING:
    from ..config import GpuGuard
    from ..instance.detector import InstanceDetector

# Detection settles within seconds; a store on RunPod's volume is known without it.
DETECTION_WAIT_S = 30.0


def on_volume(store_path: Path, provider: str) -> bool:
    """Whether the store outlives this machine on a volume another machine mounts: a cloud
    machine's persistent store, not a laptop's disk (which keeps the extension anyway)."""
    # A pod is known from its environment, whatever provider is configured or detected.
    persistent, _why = store_persistence(store_path, "runpod" if this_pod_id() else provider)
    return persistent is True and provider not in ("local", "manual")


class WheelhouseRefresh:
    def __init__(
        self,
        config: GpuGuard,
        detector: InstanceDetector,
        store_path: Path,
        log: logging.Logger,
    ) -> None:
        self.config = config
        self.detector = detector
        self.store_path = store_path
        self.log = log
        self._task: asyncio.Future[None] | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Called on the running loop; returns at once."""
        if self.config.wheelhouse_refresh is not False:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        if self.config.wheelhouse_refresh is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await self.detector.wait_detected(DETECTION_WAIT_S)
            provider = str(self.detector.current().get("provider"))
            if not on_volume(self.store_path, provider):
                return
        # Daemon: a pip still downloading must not hold the server's exit.
        self.thread = threading.Thread(target=self.write, name="gpuguard-wheelhouse", daemon=True)
        self.thread.start()

    def write(self) -> None:
        from ..wheelhouse import default_dir, has_installed_version, write_wheelhouse

        directory = default_dir(self.store_path)
        try:
            if has_installed_version(directory):
                return
            report = write_wheelhouse(directory)
        except Exception as err:  # a wheelhouse must never cost the server
            self.log.warning(
                "jupyter_gpuguard: could not write the wheelhouse in %s: %s", directory, err
            )
            return
        lacks = f"; it lacks Python {', '.join(report.lacks)}" if report.lacks else ""
        self.log.info(
            "jupyter_gpuguard: wrote jupyter-gpuguard %s and its dependencies to the wheelhouse "
            "%s for Python %s%s",
            report.version,
            directory,
            ", ".join(report.covers) or "none of RunPod's",
            lacks,
        )
