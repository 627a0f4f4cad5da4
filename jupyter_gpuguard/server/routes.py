"""REST handlers: thin, authenticated, JSON in and out."""

from __future__ import annotations

import json
from typing import Any

import tornado
from jupyter_server.base.handlers import APIHandler

from ..instance.detector import InstanceDetector


class GpuGuardHandler(APIHandler):
    def initialize(self, detector: InstanceDetector) -> None:
        self.detector = detector

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(payload))


class InstanceHandler(GpuGuardHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        self.write_json(self.detector.current())


def handlers(detector: InstanceDetector) -> list[tuple[str, type, dict[str, Any]]]:
    """Routes relative to the server's base URL (the extension app prefixes it)."""
    return [(r"/gpuguard/instance", InstanceHandler, {"detector": detector})]
