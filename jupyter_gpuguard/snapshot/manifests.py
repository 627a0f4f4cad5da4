"""Manifests: ``<store>/snapshots/<id>.json``, the metadata of a snapshot and its variables
-> chunks.

A snapshot exists once its manifest is renamed into place, after all of its chunks are
durable. A manifest is read from the checked ``snapshots`` directory and each field is checked
for the type this store writes before anything uses it; one that fails is listed as a
problem, and every other snapshot stays listed.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .chunks import CHUNKS, valid_chunk_id, valid_chunk_size
from .disk import fsync_dir, kept_or_removed, read_at_most, write_all
from .identity import IDENTITY_FIELDS
from .model import SnapshotError, SnapshotInfo, SnapshotNotFound, valid_snapshot_id
from .trust import is_count, open_dirs, open_file, shown

SNAPSHOTS = "snapshots"  # the directory of the store that holds them
FORMAT = 1
# Far above any manifest a kernel writes (its cell history included), far below memory.
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
KEY_PACKAGES = ("numpy", "pandas", "torch", "dill", "ipykernel", "IPython", "jupyter_gpuguard")
_CHUNK_ID_IN_TEXT = re.compile(rb'"([0-9a-f]{64})"')


class _NoSuchSnapshot(SnapshotNotFound):
    """The manifest is not there (a listing raced a delete)."""


# ---- writing ---------------------------------------------------------------------------------
def new_id() -> tuple[str, str]:
    """(a new snapshot id, its creation time): the id sorts by time."""
    now = datetime.now(timezone.utc)
    stamp = now.strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{stamp}-{secrets.token_hex(4)}", now.isoformat(timespec="microseconds")


def package_versions() -> dict[str, str]:
    """The versions of the key packages this process imported: what a restore may need."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in KEY_PACKAGES:
        if name in sys.modules:
            try:
                found[name] = version(name)
            except PackageNotFoundError:
                continue
    return found


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return json.dumps(manifest, indent=1).encode()


def commit(snapshots_dir: Path, manifest: dict[str, Any]) -> int:
    """Write the manifest durably and rename it into place: the snapshot exists from then on.
    Answers its size."""
    data = manifest_bytes(manifest)
    final = snapshots_dir / f"{manifest['id']}.json"
    temp = snapshots_dir / f".tmp-{manifest['id']}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with kept_or_removed(fd, temp):
        write_all(fd, memoryview(data))
        os.fsync(fd)
    os.replace(temp, final)
    fsync_dir(snapshots_dir)
    return len(data)


# ---- checking --------------------------------------------------------------------------------
def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number this store writes")


def _check_fields(manifest: Mapping[str, Any]) -> None:
    """Raise ValueError naming the first listed field that this store would not have written:
    each must be of the type the server, the CLI and the restore expect, so that one odd
    manifest is refused here rather than failing a listing further on."""

    def need(ok: bool, name: str) -> None:
        if not ok:
            raise ValueError(f"{name!r} is missing or has the wrong type")

    def strings(value: object) -> bool:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)

    def records(value: object, fields: dict[str, Callable[[object], bool]]) -> bool:
        return isinstance(value, list) and all(
            isinstance(item, dict)
            and item.keys() == fields.keys()
            and all(check(item[key]) for key, check in fields.items())
            for item in value
        )

    def text(value: object) -> bool:
        return isinstance(value, str)

    need(isinstance(manifest.get("created"), str), "created")
    for key in ("notebook", "kernel_id", *IDENTITY_FIELDS):
        need(manifest.get(key) is None or isinstance(manifest.get(key), str), key)
    for key in ("bytes_total", "bytes_written"):
        need(is_count(manifest.get(key, 0)), key)
    need(
        records(manifest.get("variables", []), {"name": text, "type": text, "bytes": is_count}),
        "variables",
    )
    need(
        records(manifest.get("skipped", []), {"name": text, "type": text, "reason": text}),
        "skipped",
    )
    modules = manifest.get("modules", {})
    need(isinstance(modules, dict) and all(map(text, modules.values())), "modules")
    count = manifest.get("execution_count")
    need(count is None or is_count(count), "execution_count")
    duration = manifest.get("duration_seconds")
    need(
        duration is None
        or (
            isinstance(duration, (int, float))
            and not isinstance(duration, bool)
            and math.isfinite(duration)
        ),
        "duration_seconds",
    )
    need(strings(manifest.get("notes", [])), "notes")


def _check_groups(manifest: Mapping[str, Any]) -> None:
    """Raise ValueError unless every group is well formed and every chunk it names is a
    valid id with a size a chunk can have: only then do ids become paths and sizes reads."""
    groups = manifest.get("groups")
    if not isinstance(groups, list):
        raise ValueError("'groups' is missing or not a list")

    def check_chunks(chunks: object) -> None:
        if not isinstance(chunks, list):
            raise ValueError("a chunk list is not a list")
        for pair in chunks:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError("a chunk is not an [id, size] pair")
            chunk_id, size = pair
            if not valid_chunk_id(chunk_id):
                raise ValueError(f"{shown(chunk_id)} is not a chunk id")
            if not valid_chunk_size(size):
                raise ValueError(f"chunk {chunk_id[:12]} has an impossible size {shown(size)}")

    for group in groups:
        if not isinstance(group, dict):
            raise ValueError("a group is not an object")
        names = group.get("names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError("the names of a group are missing or not strings")
        if not isinstance(group.get("pickler"), str):
            raise ValueError("the pickler of a group is missing")
        check_chunks(group.get("stream"))
        buffers = group.get("buffers")
        if not isinstance(buffers, list):
            raise ValueError("the buffers of a group are missing")
        for chunks in buffers:
            check_chunks(chunks)


# ---- reading ---------------------------------------------------------------------------------
def _read(root: Path, snapshots: int | None, snapshot_id: str) -> dict[str, Any]:
    """The parsed manifest of ``snapshot_id`` from the checked ``snapshots`` directory of the
    store at ``root``."""
    name = f"{snapshot_id}.json"
    path = root / SNAPSHOTS / name
    if snapshots is None:
        raise _NoSuchSnapshot(f"there is no snapshot {snapshot_id} in {root}")
    try:
        fd, info = open_file(snapshots, name, path)
    except FileNotFoundError:
        raise _NoSuchSnapshot(f"there is no snapshot {snapshot_id} in {root}") from None
    except OSError as err:
        raise SnapshotError(
            f"the manifest of snapshot {snapshot_id} cannot be read: {err.strerror or err}"
        ) from err
    try:
        if info.st_size > MAX_MANIFEST_BYTES:
            raise SnapshotError(
                f"the manifest of snapshot {snapshot_id} is damaged: it is larger than "
                f"{MAX_MANIFEST_BYTES} bytes"
            )
        data = read_at_most(fd, MAX_MANIFEST_BYTES + 1)
    except OSError as err:
        raise SnapshotError(
            f"the manifest of snapshot {snapshot_id} cannot be read: {err.strerror or err}"
        ) from err
    finally:
        os.close(fd)
    try:
        if len(data) > MAX_MANIFEST_BYTES:
            raise ValueError(f"it is larger than {MAX_MANIFEST_BYTES} bytes")
        manifest = json.loads(data, parse_constant=_refuse_constant)
    except RecursionError:
        raise SnapshotError(
            f"the manifest of snapshot {snapshot_id} is damaged: it is nested too deeply"
        ) from None
    except ValueError as err:
        raise SnapshotError(
            f"the manifest of snapshot {snapshot_id} is damaged: {str(err)[:200]}"
        ) from err
    if not isinstance(manifest, dict) or manifest.get("id") != snapshot_id:
        raise SnapshotError(
            f"the manifest of snapshot {snapshot_id} is damaged: it is not the manifest of "
            "this snapshot"
        )
    return manifest


def read_checked(
    root: Path, snapshots: int | None, snapshot_id: str, groups: bool = False
) -> dict[str, Any]:
    """A manifest whose listed fields (and, with ``groups``, chunks) have the types this
    store writes; SnapshotError naming the first that does not."""
    manifest = _read(root, snapshots, snapshot_id)
    try:
        _check_fields(manifest)
        if groups:
            _check_groups(manifest)
    except ValueError as err:
        raise SnapshotError(f"the manifest of snapshot {snapshot_id} is damaged: {err}") from err
    return manifest


def info_of(manifest: dict[str, Any]) -> SnapshotInfo:
    try:
        return SnapshotInfo.from_manifest(manifest)
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise SnapshotError(f"the manifest of snapshot {manifest.get('id')} is damaged") from err


def chunks_of(manifest: Mapping[str, Any]) -> Iterator[tuple[str, int, list[str]]]:
    """(chunk id, size, the names of its group) for every chunk of a checked manifest."""
    for group in manifest["groups"]:
        for chunk_id, size in group["stream"]:
            yield chunk_id, size, group["names"]
        for buffer in group["buffers"]:
            for chunk_id, size in buffer:
                yield chunk_id, size, group["names"]


def named_chunks(snapshots: int | None, snapshot_id: str) -> set[str]:
    """The chunk ids in the raw text of a manifest that cannot be parsed or trusted."""
    if snapshots is None:
        return set()
    try:
        fd = os.open(
            f"{snapshot_id}.json",
            os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
            dir_fd=snapshots,
        )
    except OSError:
        return set()
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return set()
        data = read_at_most(fd, MAX_MANIFEST_BYTES)
    except OSError:
        return set()
    finally:
        os.close(fd)
    return {match.decode() for match in _CHUNK_ID_IN_TEXT.findall(data)}


# ---- listing ---------------------------------------------------------------------------------
def ids_in(snapshots: int | None) -> list[str]:
    """The snapshot ids in the checked ``snapshots`` directory, newest first."""
    if snapshots is None:
        return []
    names = os.listdir(snapshots)
    found = [n[:-5] for n in names if n.endswith(".json") and valid_snapshot_id(n[:-5])]
    return sorted(found, reverse=True)


def scan(root: Path) -> tuple[list[SnapshotInfo], list[str]]:
    """(the snapshots of the store at ``root`` that can be listed, newest first;
    ``"<id>: why"`` for each manifest that cannot). A store that is not private raises:
    that is no one manifest's fault."""
    infos = []
    problems = []
    with open_dirs(root, SNAPSHOTS, CHUNKS) as (snapshots, _chunks):
        for snapshot_id in ids_in(snapshots):
            try:
                infos.append(info_of(read_checked(root, snapshots, snapshot_id)))
            except _NoSuchSnapshot:
                continue  # deleted while listing
            except SnapshotError as err:
                problems.append(f"{snapshot_id}: {err}")
    return infos, problems
