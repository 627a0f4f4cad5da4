"""Manifest -> namespace: read verified chunks, unpickle each group, re-import modules."""

from __future__ import annotations

import importlib
import mmap
import os
import pickle
import threading
from collections.abc import MutableMapping
from typing import Any, Protocol

import dill

from . import cuda, notebook_code
from .disk import WRITER_THREADS, parallel_map
from .history import analyse
from .model import FailedVariable, LoadResult, SkippedVariable, SnapshotError, SnapshotInfo
from .rebuild import RebuildPlan, make_plan

READ_AHEAD_CHUNKS = 32


class ChunkReader(Protocol):
    """Where a restore reads its chunks from (a ``Store``): verified reads, and checked opens
    for read-ahead hints."""

    def read_chunk(
        self, chunk_id: str, size: int, into: memoryview | None = None
    ) -> bytes | None: ...

    def open_chunk(self, chunk_id: str) -> int: ...


class ReadAhead:
    """Asks the kernel to start reading the next chunk files before anyone reads them.

    Chunks are separate files, so the kernel's per-file readahead never looks past the file
    being read: with only a reader thread or two, the disk idles between requests. Hinting
    ``POSIX_FADV_WILLNEED`` a bounded window ahead keeps its queue full (about a quarter
    faster on a virtual disk) without pulling a snapshot larger than memory into the cache.
    """

    def __init__(
        self, reader: ChunkReader, chunk_ids: list[str], window: int = READ_AHEAD_CHUNKS
    ) -> None:
        self._reader = reader
        self._chunk_ids = chunk_ids
        self._window = window
        self._consumed = 0
        self._stopped = False
        self._progress = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="gpuguard-readahead", daemon=True)

    def __enter__(self) -> ReadAhead:
        if hasattr(os, "posix_fadvise") and len(self._chunk_ids) > 1:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._progress:
            self._stopped = True
            self._progress.notify_all()
        if self._thread.is_alive():
            self._thread.join()

    def consumed(self, count: int = 1) -> None:
        with self._progress:
            self._consumed += count
            self._progress.notify_all()

    def reached(self, position: int) -> None:
        """Everything before ``position`` is done with, read or not (a group that failed)."""
        with self._progress:
            self._consumed = max(self._consumed, position)
            self._progress.notify_all()

    def _run(self) -> None:
        for index, chunk_id in enumerate(self._chunk_ids):
            with self._progress:
                while not self._stopped and index >= self._consumed + self._window:
                    self._progress.wait()
                if self._stopped:
                    return
            try:
                # checked like every read: never through a link, never blocking on a FIFO
                fd = self._reader.open_chunk(chunk_id)
            except (OSError, SnapshotError):
                continue  # the reader reports a missing or refused chunk with its own message
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
            except OSError:
                pass
            finally:
                os.close(fd)


def _read_stream(reader: ChunkReader, chunks: list[list[Any]], ahead: ReadAhead) -> bytes:
    parts = []
    for chunk_id, size in chunks:
        parts.append(reader.read_chunk(chunk_id, size) or b"")
        ahead.consumed()
    return b"".join(parts)


def _read_buffer(reader: ChunkReader, chunks: list[list[Any]], ahead: ReadAhead) -> Any:
    """One out-of-band buffer, read straight into its final memory.

    Anonymous memory rather than a bytearray: no pass to zero gigabytes that are about to be
    overwritten. Chunks are read and verified on a few threads: reading and hashing both
    release the GIL, so the disk and the CPUs work at once.
    """
    total = sum(size for _chunk, size in chunks)
    if total == 0:
        return bytearray()
    data = mmap.mmap(-1, total)
    view = memoryview(data)
    pieces = []
    offset = 0
    for chunk_id, size in chunks:
        pieces.append((chunk_id, size, view[offset : offset + size]))
        offset += size

    def read(piece: tuple[str, int, memoryview]) -> None:
        try:
            reader.read_chunk(piece[0], piece[1], into=piece[2])
        finally:
            ahead.consumed()

    try:
        parallel_map(read, pieces, WRITER_THREADS)
    finally:
        for _chunk, _size, piece in pieces:
            piece.release()
        view.release()
    return data


def _unpickle(group: dict[str, Any], stream: bytes, buffers: list[Any]) -> dict[str, Any]:
    if group["pickler"] == "dill":
        values = dill.loads(stream, buffers=buffers)
    elif group["pickler"] == "pickle+code":
        table, data = notebook_code.unframe(stream)
        with notebook_code.loading(dill.loads(table)):
            values = pickle.loads(data, buffers=buffers)
    else:
        values = pickle.loads(stream, buffers=buffers)
    if not isinstance(values, dict):
        raise SnapshotError("the group did not unpickle to a dict of variables")
    return values


def _chunk_ids_in_read_order(groups: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for group in groups:
        ids.extend(chunk_id for chunk_id, _size in group["stream"])
        for chunks in group["buffers"]:
            ids.extend(chunk_id for chunk_id, _size in chunks)
    return ids


def _load_group(
    reader: ChunkReader,
    group: dict[str, Any],
    wanted: set[str] | None,
    ahead: ReadAhead,
    variables: dict[str, Any],
    failed: list[FailedVariable],
) -> None:
    group_names = list(group["names"])
    try:
        stream = _read_stream(reader, group["stream"], ahead)
        buffers = [_read_buffer(reader, chunks, ahead) for chunks in group["buffers"]]
        values = _unpickle(group, stream, buffers)
    except SnapshotError as err:
        failed.extend(FailedVariable(n, str(err)) for n in group_names)
        return
    except Exception as err:  # unpickling runs library code: contain whatever it raises
        message = f"cannot be unpickled: {type(err).__name__}: {str(err)[:300]}"
        failed.extend(FailedVariable(n, message) for n in group_names)
        return
    for name in group_names:
        if wanted is None or name in wanted:
            variables[name] = values.get(name)


def load_manifest(
    reader: ChunkReader, manifest: dict[str, Any], names: list[str] | None
) -> LoadResult:
    wanted = set(names) if names is not None else None
    variables: dict[str, Any] = {}
    failed: list[FailedVariable] = []
    notes: list[str] = []
    cuda.CUDA_NOTES.clear()
    groups = [
        group
        for group in manifest["groups"]
        if wanted is None or wanted.intersection(group["names"])
    ]
    with ReadAhead(reader, _chunk_ids_in_read_order(groups)) as ahead:
        position = 0
        for group in groups:
            position += len(_chunk_ids_in_read_order([group]))
            try:
                _load_group(reader, group, wanted, ahead, variables, failed)
            finally:
                ahead.reached(position)
    notes.extend(dict.fromkeys(cuda.CUDA_NOTES))
    cuda.CUDA_NOTES.clear()
    skipped = [SkippedVariable(**s) for s in manifest.get("skipped", [])]
    return LoadResult(
        variables=variables,
        skipped=skipped,
        failed=failed,
        modules=dict(manifest.get("modules", {})),
        notes=notes,
        snapshot=SnapshotInfo.from_manifest(manifest),
        history=[str(cell) for cell in manifest.get("history", [])],
        cells=[c for c in manifest.get("cells", []) if isinstance(c, dict)],
        execution_count=(
            manifest.get("execution_count")
            if isinstance(manifest.get("execution_count"), int)
            else None
        ),
    )


def defining_cell(name: str, history: list[str]) -> dict[str, Any] | None:
    """The last cell of ``history`` that assigned ``name``, as the rebuild reads cells
    (``history.analyse``): where to look to rebuild it."""
    for index in range(len(history) - 1, 0, -1):
        try:
            _reads, writes, _touches, _kind = analyse(history[index])
        except (RecursionError, ValueError, MemoryError):  # pathological code: no analysis
            continue
        if name in writes:
            return {"execution_count": index, "source": history[index]}
    return None


def plan_for(result: LoadResult, restored: list[str], modules: list[str]) -> RebuildPlan:
    """The cells that rebuild what the snapshot skipped or could not load."""
    targets = [s.name for s in result.skipped] + [f.name for f in result.failed]
    return make_plan(result.cells, [*restored, *modules], targets, result.execution_count)


def apply(result: LoadResult, namespace: MutableMapping[str, Any]) -> dict[str, Any]:
    """Put a loaded snapshot into ``namespace``: modules first, then variables.

    Returns the restore report: restored names, skipped (with reasons), failed (with errors),
    and the plan that would rebuild the skipped and failed ones (``rebuilt`` stays empty
    until it runs).
    """
    failed = [{"name": f.name, "error": f.error} for f in result.failed]
    imported = []
    for name, module_name in result.modules.items():
        try:
            namespace[name] = importlib.import_module(module_name)
            imported.append(name)
        except Exception as err:
            failed.append({"name": name, "error": f"cannot import {module_name}: {err}"})
    namespace.update(result.variables)
    return {
        "snapshot": result.snapshot.id if result.snapshot else None,
        "restored": sorted(result.variables),
        "modules": sorted(imported),
        "skipped": [
            {
                "name": s.name,
                "type": s.type,
                "reason": s.reason,
                "defined_in": defining_cell(s.name, result.history),
            }
            for s in result.skipped
        ],
        "failed": failed,
        "notes": list(result.notes),
        "plan": plan_for(result, sorted(result.variables), sorted(imported)).to_json(),
        "rebuilt": [],
        "replayed": [],
        "removed": [],
    }
