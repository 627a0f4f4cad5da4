"""The server extension: settings, background detection, routes, clean shutdown."""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp

from ..config import GpuGuard
from ..instance.detector import InstanceDetector
from .routes import handlers


class GpuGuardApp(ExtensionApp):
    name = "jupyter_gpuguard"
    load_other_extensions = True

    def initialize_settings(self) -> None:
        # Parent is the server app so that `c.GpuGuard.*` in jupyter_server_config.py applies.
        self.gpuguard = GpuGuard(parent=self.serverapp)
        self.detector = InstanceDetector(self.gpuguard, log=self.serverapp.log)
        self.settings["gpuguard_detector"] = self.detector
        # Detection talks to the network: it starts once the loop runs, never delaying start.
        self.serverapp.io_loop.add_callback(self.detector.start)

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers(self.detector))

    async def stop_extension(self) -> None:
        await self.detector.stop()
