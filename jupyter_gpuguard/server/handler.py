"""What every gpuguard route shares: the server's objects, JSON in and out, and errors
answered as ``{"message", "reason"}``, the body the frontend reads.

A handler refuses a request by raising ``tornado.web.HTTPError(status, message,
reason=...)``; jupyter_server's ``APIHandler.write_error`` renders it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

import tornado
from jupyter_server.base.handlers import APIHandler

from ..instance.detector import InstanceDetector
from .scheduler import SnapshotScheduler

MAX_BODY_DEPTH = 32  # our bodies nest 3 deep at most; pod env dicts are flat
TOO_DEEP = (
    f"The request body nests too deep: at most {MAX_BODY_DEPTH} levels of objects and arrays."
)
INVALID = "invalid"
T = TypeVar("T")


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


def invalid(message: str) -> tornado.web.HTTPError:
    """A request refused for what it says: 400."""
    return tornado.web.HTTPError(400, message, reason=INVALID)


class GpuGuardHandler(APIHandler):
    """The extension's objects come from the server's settings (``extension.py`` puts
    them there), never from route arguments."""

    @property
    def detector(self) -> InstanceDetector:
        detector: InstanceDetector = self.settings["gpuguard_detector"]
        return detector

    @property
    def scheduler(self) -> SnapshotScheduler:
        scheduler: SnapshotScheduler = self.settings["gpuguard_scheduler"]
        return scheduler

    def set_default_headers(self) -> None:
        super().set_default_headers()
        # Answers change from one call to the next, errors included: none may be reused.
        self.set_header("Cache-Control", "no-store")

    def update_api_activity(self) -> None:
        """An open panel polls our GET routes: that is not activity, for jupyter_server's
        /api/status and idle shutdown as for idle stop. What a user asks for is."""
        if self.request.method != "GET":
            super().update_api_activity()

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = _message(error) if isinstance(error, tornado.web.HTTPError) else None
        if not message:
            super().write_error(status_code, **kwargs)
            return
        # APIHandler's own renders ``log_message``, which tornado 6.5 and later escape for
        # their log ('%' becomes '%%'): the same body, with the message as it was written.
        self.log.warning("wrote error: %r", message)
        self.finish(json.dumps({"message": message, "reason": error.reason}))

    def json_body(self) -> dict[str, Any]:
        """The request's JSON object; HTTPError 400 for anything else."""
        try:
            body = json.loads(self.request.body or b"{}")
        except RecursionError:
            raise invalid(TOO_DEEP) from None
        except ValueError:
            raise invalid("The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise invalid("The request body must be a JSON object.")
        if json_depth(body) > MAX_BODY_DEPTH:
            # a value that parsed can still be too deep for the repr or the json.dumps of
            # an error message further on, which recurse
            raise invalid(TOO_DEEP)
        return body

    async def in_thread(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, function, *args)


def _message(error: tornado.web.HTTPError) -> str | None:
    get_message = getattr(error, "get_message", None)  # tornado 6.5 and later
    return get_message() if get_message is not None else error.log_message
