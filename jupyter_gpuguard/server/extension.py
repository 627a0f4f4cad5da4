"""The server extension: settings, background detection, snapshots, routes, the wheelhouse,
shutdown."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

from jupyter_server.extension.application import ExtensionApp

from ..config import GpuGuard
from ..instance.detector import InstanceDetector
from ..pods.key import warn_of_unusable_key_file
from .idle import IdleTracker
from .idle_routes import idle_handlers
from .pods import pod_handlers
from .replica_routes import replica_handlers
from .replication import require_replicated
from .routes import handlers
from .scheduler import SnapshotScheduler
from .wheelhouse_refresh import WheelhouseRefresh


class GpuGuardApp(ExtensionApp):
    name = "jupyter_gpuguard"
    load_other_extensions = True

    def initialize_settings(self) -> None:
        # Parent is the server app so that `c.GpuGuard.*` in jupyter_server_config.py applies.
        self.gpuguard = GpuGuard(parent=self.serverapp)
        warn_of_unusable_key_file(self.gpuguard)
        log = self.serverapp.log
        self.detector = InstanceDetector(self.gpuguard, log=log)
        self.scheduler = SnapshotScheduler(self.gpuguard, self.serverapp, self.detector, log=log)
        # What every route takes: from the settings alone (server/handler.py).
        self.settings["gpuguard_config"] = self.gpuguard
        self.settings["gpuguard_detector"] = self.detector
        self.settings["gpuguard_scheduler"] = self.scheduler
        self.idle = IdleTracker(self.gpuguard, self.serverapp, self.scheduler, self.detector, log)
        self.settings["gpuguard_idle"] = self.idle
        self.idle.install()
        self.idle.before_stop.append(require_replicated)
        # Before any kernel starts: each loads the kernel side as it starts.
        self.scheduler.launcher.install()
        self._when_running(self.scheduler.launcher.probe_kernel_specs)
        # Detection talks to the network: it starts once the loop runs, never delaying start.
        self._when_running(self.detector.start)
        self._when_running(self.scheduler.start)
        self._when_running(self.idle.start)
        self.wheelhouse = WheelhouseRefresh(
            self.gpuguard, self.detector, self.scheduler.store_path, log
        )
        self._when_running(self.wheelhouse.start)
        self._install_sigterm_snapshot()

    def _when_running(self, callback: Any) -> None:
        """Run ``callback`` on the loop the server will serve on, once it runs."""
        try:
            asyncio.get_running_loop().call_soon(callback)
        except RuntimeError:  # `jupyter lab`: the loop starts after the extensions load
            from tornado.ioloop import IOLoop

            IOLoop.current().add_callback(callback)

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers())
        self.handlers.extend(pod_handlers())
        self.handlers.extend(replica_handlers())
        self.handlers.extend(idle_handlers())

    def current_activity(self) -> dict[str, str] | None:
        """What an idle server shutdown (``ServerApp.shutdown_no_activity_timeout``) must wait
        for: a busy GPU or kernel, or an idle stop under way; None when idle stop sees none."""
        return self.idle.current_activity()

    def _install_sigterm_snapshot(self) -> None:
        """Container platforms send SIGTERM before they stop a pod: snapshot, then stop."""
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous):
            return
        stopping = False

        def on_sigterm(signum: int, frame: Any) -> None:
            nonlocal stopping
            if stopping:  # a second SIGTERM: stop now
                previous(signum, frame)
                return
            stopping = True
            self.serverapp.io_loop.add_callback_from_signal(
                self._snapshot_then_stop, previous, signum, frame
            )

        signal.signal(signal.SIGTERM, on_sigterm)

    async def _snapshot_then_stop(self, previous: Any, signum: int, frame: Any) -> None:
        self.log.warning("jupyter_gpuguard: SIGTERM: snapshotting every kernel before stopping")
        timeout = self.gpuguard.sigterm_snapshot_timeout
        try:
            await asyncio.wait_for(
                self.scheduler.snapshot_all("SIGTERM", upload_by=time.time() + timeout - 1.0),
                timeout,
            )
        except asyncio.TimeoutError:
            self.log.error("jupyter_gpuguard: SIGTERM snapshots did not finish in time")
        except Exception:
            self.log.exception("jupyter_gpuguard: SIGTERM snapshots failed")
        previous(signum, frame)

    async def stop_extension(self) -> None:
        self.scheduler.launcher.uninstall()
        await self.idle.stop()
        await self.wheelhouse.stop()
        await self.scheduler.stop()
        await self.detector.stop()
