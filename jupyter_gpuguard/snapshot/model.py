"""What a snapshot is, as the store, the kernel side, the server and the CLI see it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

SNAPSHOT_ID = re.compile(r"^[0-9]{8}T[0-9]{6}\.[0-9]{6}Z-[0-9a-f]{8}$")


class SnapshotError(Exception):
    """A snapshot could not be taken or read; the message is meant for the user, the
    ``reason`` for code: it crosses the kernel's JSON answers and reaches the REST body."""

    reason: str = "failed"

    def __init__(self, message: str = "", reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class SnapshotNotFound(SnapshotError):
    """There is no such snapshot in the store, or none at all."""

    reason = "not-found"


class ChunkMissing(SnapshotError):
    """A chunk a manifest names is not in the store (nothing to remove: a later snapshot of the
    same data writes it again)."""

    reason = "chunk-missing"


class StoreBusy(SnapshotError):
    """Another process held the store's lock for longer than this one would wait."""

    reason = "busy"


class StoreSecurityError(SnapshotError):
    """The store or a manifest could have been changed by someone else: nothing is unpickled."""

    reason = "forbidden"


def valid_snapshot_id(snapshot_id: str) -> bool:
    return isinstance(snapshot_id, str) and SNAPSHOT_ID.fullmatch(snapshot_id) is not None


@dataclass
class VariableInfo:
    name: str
    type: str
    bytes: int


@dataclass
class SkippedVariable:
    name: str
    type: str
    reason: str


@dataclass
class FailedVariable:
    name: str
    error: str


@dataclass
class SnapshotInfo:
    id: str
    created: str
    notebook: str | None
    kernel_id: str | None
    variables: list[VariableInfo]
    skipped: list[SkippedVariable]
    bytes_total: int
    bytes_written: int
    modules: dict[str, str] = field(default_factory=dict)
    execution_count: int | None = None
    duration_seconds: float | None = None
    notes: list[str] = field(default_factory=list)
    # The notebook file, whatever root the server had (see ``identity``); None in snapshots
    # taken before they were recorded, or where the server's contents are not files.
    notebook_path: str | None = None
    notebook_volume_path: str | None = None
    server_root: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> SnapshotInfo:
        return cls(
            id=manifest["id"],
            created=manifest["created"],
            notebook=manifest.get("notebook"),
            kernel_id=manifest.get("kernel_id"),
            variables=[VariableInfo(**v) for v in manifest.get("variables", [])],
            skipped=[SkippedVariable(**s) for s in manifest.get("skipped", [])],
            bytes_total=int(manifest.get("bytes_total", 0)),
            bytes_written=int(manifest.get("bytes_written", 0)),
            modules=dict(manifest.get("modules", {})),
            execution_count=manifest.get("execution_count"),
            duration_seconds=manifest.get("duration_seconds"),
            notes=list(manifest.get("notes", [])),
            notebook_path=manifest.get("notebook_path"),
            notebook_volume_path=manifest.get("notebook_volume_path"),
            server_root=manifest.get("server_root"),
        )


@dataclass
class LoadResult:
    variables: dict[str, Any]
    skipped: list[SkippedVariable]
    failed: list[FailedVariable]
    modules: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    snapshot: SnapshotInfo | None = None
    history: list[str] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)
    execution_count: int | None = None


@dataclass
class DamagedChunk:
    chunk: str
    problem: str
    variables: list[str]
    missing: bool = False  # not there at all, rather than there with other bytes


@dataclass
class VerifyReport:
    snapshots: list[str]
    chunks_checked: int
    damaged: list[DamagedChunk]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damaged and not self.problems

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


@dataclass
class PruneReport:
    removed_snapshots: list[str]
    removed_chunks: int
    freed_bytes: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
