"""REST routes for idle stop and for what a preemption would cost now."""

from __future__ import annotations

import math

import tornado

from .handler import GpuGuardHandler, invalid
from .idle import LONGEST, IdleTracker
from .risk import preemption_risk


class IdleRoute(GpuGuardHandler):
    @property
    def idle(self) -> IdleTracker:
        tracker: IdleTracker = self.settings["gpuguard_idle"]
        return tracker


class IdleHandler(IdleRoute):
    @tornado.web.authenticated
    def get(self) -> None:
        self.write_json(self.idle.state())


class KeepRunningHandler(IdleRoute):
    @tornado.web.authenticated
    def post(self) -> None:
        self.idle.keep_running()
        self.write_json(self.idle.state())


class IdleSettingsHandler(IdleRoute):
    @tornado.web.authenticated
    def post(self) -> None:
        """``{"stop_after": seconds}``; 0 or null turns idle stop off. Kept for the server's
        life: c.GpuGuard.idle_stop_after is what a restart starts from."""
        body = self.json_body()
        if "stop_after" not in body:
            raise invalid("stop_after is missing: seconds of idleness, or null for off.")
        seconds = body["stop_after"]
        if seconds is not None and (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not math.isfinite(seconds)
            or seconds < 0
            or seconds > LONGEST
        ):
            raise invalid(
                f"stop_after must be a number of seconds from 0 to {LONGEST:.0f}, or null."
            )
        self.idle.set_stop_after(float(seconds) if seconds else None)
        self.log.info("jupyter_gpuguard: idle stop after set to %s from the panel", seconds)
        self.write_json(self.idle.state())


class RiskHandler(IdleRoute):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.write_json(await preemption_risk(self.scheduler))


def idle_handlers() -> list[tuple[str, type]]:
    return [
        (r"/gpuguard/idle", IdleHandler),
        (r"/gpuguard/idle/keep-running", KeepRunningHandler),
        (r"/gpuguard/idle/settings", IdleSettingsHandler),
        (r"/gpuguard/risk", RiskHandler),
    ]
