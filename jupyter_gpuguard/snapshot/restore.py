"""Manifest -> namespace: read verified chunks, unpickle each group, re-import modules."""

from __future__ import annotations

import ast
import importlib
import mmap
import pickle
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

import dill

from . import capture
from .model import FailedVariable, LoadResult, SkippedVariable, SnapshotError, SnapshotInfo

if TYPE_CHECKING:
    from .store import Store


def _read_stream(store: Store, chunks: list[list[Any]]) -> bytes:
    return b"".join(store.read_chunk(chunk_id, size) or b"" for chunk_id, size in chunks)


def _read_buffer(store: Store, chunks: list[list[Any]]) -> Any:
    """One out-of-band buffer, read straight into its final memory.

    Anonymous memory rather than a bytearray: no pass to zero gigabytes that are about to be
    overwritten. Chunks are read and verified on a few threads: reading and hashing both
    release the GIL, so the disk and the CPUs work at once.
    """
    from .store import WRITER_THREADS, parallel_map

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
    try:
        parallel_map(lambda p: store.read_chunk(p[0], p[1], into=p[2]), pieces, WRITER_THREADS)
    finally:
        for _chunk, _size, piece in pieces:
            piece.release()
        view.release()
    return data


def _unpickle(group: dict[str, Any], stream: bytes, buffers: list[Any]) -> dict[str, Any]:
    if group["pickler"] == "dill":
        values = dill.loads(stream, buffers=buffers)
    else:
        values = pickle.loads(stream, buffers=buffers)
    if not isinstance(values, dict):
        raise SnapshotError("the group did not unpickle to a dict of variables")
    return values


def load_manifest(store: Store, manifest: dict[str, Any], names: list[str] | None) -> LoadResult:
    wanted = set(names) if names is not None else None
    variables: dict[str, Any] = {}
    failed: list[FailedVariable] = []
    notes: list[str] = []
    capture.CUDA_NOTES.clear()
    for group in manifest["groups"]:
        group_names = list(group["names"])
        if wanted is not None and not wanted.intersection(group_names):
            continue
        try:
            stream = _read_stream(store, group["stream"])
            buffers = [_read_buffer(store, chunks) for chunks in group["buffers"]]
            values = _unpickle(group, stream, buffers)
        except SnapshotError as err:
            failed.extend(FailedVariable(n, str(err)) for n in group_names)
            continue
        except Exception as err:  # unpickling runs library code: contain whatever it raises
            message = f"cannot be unpickled: {type(err).__name__}: {str(err)[:300]}"
            failed.extend(FailedVariable(n, message) for n in group_names)
            continue
        for name in group_names:
            if wanted is None or name in wanted:
                variables[name] = values.get(name)
    notes.extend(dict.fromkeys(capture.CUDA_NOTES))
    capture.CUDA_NOTES.clear()
    skipped = [SkippedVariable(**s) for s in manifest.get("skipped", [])]
    return LoadResult(
        variables=variables,
        skipped=skipped,
        failed=failed,
        modules=dict(manifest.get("modules", {})),
        notes=notes,
        snapshot=SnapshotInfo.from_manifest(manifest),
        history=[str(cell) for cell in manifest.get("history", [])],
    )


def _names_bound(tree: ast.AST) -> set[str]:
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return bound


def defining_cell(name: str, history: list[str]) -> dict[str, Any] | None:
    """The last cell of ``history`` that assigned ``name``: where to look to rebuild it."""
    for index in range(len(history) - 1, 0, -1):
        try:
            tree = ast.parse(history[index])
        except SyntaxError:  # magics and shell escapes
            continue
        if name in _names_bound(tree):
            return {"execution_count": index, "source": history[index]}
    return None


def apply(result: LoadResult, namespace: MutableMapping[str, Any]) -> dict[str, Any]:
    """Put a loaded snapshot into ``namespace``: modules first, then variables.

    Returns the restore report: restored names, skipped (with reasons), failed (with errors).
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
    }
