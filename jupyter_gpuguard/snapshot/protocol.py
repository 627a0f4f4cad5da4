"""What the server and a kernel's side say to each other, imported by both ends.

Two ways in. A silent execute calls a function of ``KERNEL_MODULE`` and shows its JSON text:
it sets up a kernel that did not load the kernel side as it started, and it restores, which
must run in the kernel's main thread, between cells. The control socket carries one JSON
line each way and is answered from a thread of its own, while a cell runs.

A kernel's environment may hold an older jupyter-gpuguard than the server's: names here are
only ever added, never renamed, and each end ignores the keys it does not know.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypedDict

from .model import SnapshotError, SnapshotNotFound, StoreBusy, StoreSecurityError

# Kernels with any version of the package are called at this path: it must not move.
KERNEL_MODULE = "jupyter_gpuguard.snapshot.kernel"
# Its functions that a silent execute calls; each answers JSON text.
ATTACH_FUNCTION = "attach"
RESTORE_FUNCTION = "restore_json"

# The control socket's ops.
SNAPSHOT = "snapshot"
STATUS = "status"
ATTACH = "attach"
Op = Literal["snapshot", "status", "attach"]

# Why a request got an error answer, besides the reasons of SnapshotError and its kinds.
INVALID = "invalid"
UNKNOWN_OP = "unknown-op"

_KINDS: dict[str, type[SnapshotError]] = {
    kind.reason: kind for kind in (SnapshotNotFound, StoreBusy, StoreSecurityError)
}


# ---- requests ----------------------------------------------------------------------------
class Request(TypedDict):
    op: str


class NotebookFields(TypedDict, total=False):
    """The notebook file, whatever root the server has (``identity.NotebookIdentity``)."""

    notebook: str | None
    notebook_path: str | None
    notebook_volume_path: str | None
    server_root: str | None


class SnapshotRequest(Request, NotebookFields, total=False):
    urgent: bool


class AttachRequest(Request, NotebookFields, total=False):
    store: str
    kernel_id: str
    cuda_host_memory_margin: str


def status_request() -> Request:
    return {"op": STATUS}


def snapshot_request(notebook: NotebookFields, urgent: bool) -> SnapshotRequest:
    return {"op": SNAPSHOT, "urgent": urgent, **notebook}


def attach_request(
    store: str, kernel_id: str, notebook: NotebookFields, cuda_host_memory_margin: str = ""
) -> AttachRequest:
    request: AttachRequest = {"op": ATTACH, "store": store, "kernel_id": kernel_id, **notebook}
    if cuda_host_memory_margin:
        request["cuda_host_memory_margin"] = cuda_host_memory_margin
    return request


class RequestError(SnapshotError):
    """A control request this side cannot answer."""

    reason = INVALID


def parse_request(line: str) -> dict[str, Any]:
    """A control request from its line: a JSON object, or the bare op word the first servers
    sent. RequestError when it is neither."""
    if not line.startswith("{"):
        return {"op": line}
    try:
        request = json.loads(line)
    except ValueError:
        raise RequestError("the request is not JSON") from None
    if not isinstance(request, dict):
        raise RequestError("the request is not JSON")
    return request


def unknown_op(op: object) -> RequestError:
    return RequestError(f"unknown request {str(op)[:40]!r}", UNKNOWN_OP)


# ---- answers -----------------------------------------------------------------------------
class JobAnswer(TypedDict):
    """One snapshot in flight or done: the answer to ``snapshot``."""

    started: float
    finished: float | None
    pause_seconds: float
    in_flight: bool
    snapshot: dict[str, Any] | None  # the manifest's SnapshotInfo
    error: str | None


class StatusAnswer(TypedDict):
    """The answer to ``status`` and ``attach``, and what ``attach()`` shows."""

    store: str
    kernel_id: str | None
    notebook: str | None
    notebook_path: str | None
    control_socket: str | None
    execution_count: int | None  # the number of the next cell: 1 means nothing ran yet
    pid: int
    last: JobAnswer | None
    last_good: JobAnswer | None


class ErrorAnswer(TypedDict):
    """Any request that failed. Older kernel sides send ``error`` alone."""

    error: str
    reason: str


def error_answer(err: SnapshotError) -> ErrorAnswer:
    return {"error": str(err), "reason": err.reason}


def error_of(answer: dict[str, Any]) -> SnapshotError | None:
    """The error an answer carries, of the kind its reason names; None when it carries none."""
    message = answer.get("error")
    if not message:
        return None
    reason = answer.get("reason")
    reason = reason if isinstance(reason, str) and reason else None
    kind = _KINDS.get(reason or "")
    return kind(str(message)) if kind is not None else SnapshotError(str(message), reason)
