"""The snapshot store on the persistent volume: content-addressed chunks and manifests.

    <store>/chunks/ab/abcdef...   written once, named by their BLAKE3 hash, checked on read
    <store>/snapshots/<id>.json   a manifest: metadata, and variables -> chunks
    <store>/lock                  writers hold it shared, chunk collection holds it exclusive

A snapshot exists once its manifest is renamed into place, after all of its chunks are
durable: killed at any instant, the store lists only complete snapshots.

``Store`` is the store's one face: it holds the lock, and each operation runs under it.
Chunk files are ``chunks``' job, manifests ``manifests``', the checked opens of everything
read back ``trust``'s, and the system calls ``disk``'s.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from . import capture, chunks, manifests
from .chunks import CHUNK_SIZE, CHUNKS, valid_chunk_id
from .disk import explain_write_error, fsync_dir, make_private_dirs, tighten
from .identity import group_key
from .location import store_path_for
from .manifests import SNAPSHOTS
from .model import (
    ChunkMissing,
    DamagedChunk,
    LoadResult,
    PruneReport,
    SnapshotError,
    SnapshotInfo,
    SnapshotNotFound,
    StoreBusy,
    VerifyReport,
    valid_snapshot_id,
)
from .rebuild import RebuildPlan, plan_of
from .restore import load_manifest
from .trust import check_private, open_dir, open_dirs, trusted
from .writing import write_groups


class Store:
    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = store_path_for(path)
        self.chunks_dir = self.path / CHUNKS
        self.snapshots_dir = self.path / SNAPSHOTS

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # ---- layout and safety -------------------------------------------------------------
    def _ensure(self) -> None:
        for directory in (self.path, self.chunks_dir, self.snapshots_dir):
            make_private_dirs(directory)
            tighten(directory, follow=directory == self.path)

    def check_private(self, path: Path) -> None:
        """Refuse anything another user could have written: unpickling it would run their code.

        The store root may be reached through a link (the user's choice of path); nothing
        inside it may be a link.
        """
        check_private(path, self.path)

    def _dirs(self, *names: str) -> contextlib.AbstractContextManager[list[int | None]]:
        """The named directories of the store (``snapshots``, ``chunks``), opened and checked;
        None for one that does not exist, all None when the store does not."""
        return open_dirs(self.path, *names)

    @staticmethod
    def _acquire(fd: int, exclusive: bool, wait: float, path: Path) -> None:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreBusy(f"the snapshot store at {path} is busy (locked)") from None
                time.sleep(0.05)

    @contextlib.contextmanager
    def _lock(self, exclusive: bool, wait: float = 30.0) -> Iterator[None]:
        self._ensure()
        fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self._acquire(fd, exclusive, wait, self.path)
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _reading(self, wait: float = 30.0) -> Iterator[None]:
        """The writers' shared lock, for a reader: prune, which takes it exclusive, removes
        nothing while a snapshot is being read. Creates no store; a read-only store without
        a lock file is read unlocked, since nothing can remove anything from it."""
        flags = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            root = open_dir(None, self.path, self.path)
        except FileNotFoundError:
            yield
            return
        fd: int | None
        try:
            try:
                fd = os.open("lock", os.O_RDWR | os.O_CREAT | flags, 0o600, dir_fd=root)
            except OSError as err:
                if err.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                    raise SnapshotError(
                        f"cannot lock the snapshot store at {self.path}: {err.strerror}"
                    ) from err
                try:
                    fd = os.open("lock", os.O_RDONLY | flags, dir_fd=root)
                except FileNotFoundError:
                    if err.errno != errno.EROFS:
                        raise SnapshotError(
                            f"cannot lock the snapshot store at {self.path}: {err.strerror}"
                        ) from err
                    fd = None
                except OSError as again:
                    raise SnapshotError(
                        f"cannot lock the snapshot store at {self.path}: {again.strerror}"
                    ) from again
        finally:
            os.close(root)
        if fd is None:
            yield
            return
        try:
            self._acquire(fd, False, wait, self.path)
            yield
        finally:
            os.close(fd)

    def chunk_path(self, chunk_id: str) -> Path:
        return chunks.chunk_path(self.path, chunk_id)

    # ---- writing -----------------------------------------------------------------------
    def save(
        self,
        namespace: Mapping[str, Any],
        notebook: str | None = None,
        kernel_id: str | None = None,
        *,
        hidden: Any = (),
        history: list[str] | None = None,
        cells: list[dict[str, Any]] | None = None,
        execution_count: int | None = None,
        host_copies: Mapping[int, Any] | None = None,
        skip: Mapping[str, str] | None = None,
        notes: list[str] | None = None,
        release_written: bool = False,
        notebook_path: str | None = None,
        notebook_volume_path: str | None = None,
        server_root: str | None = None,
    ) -> SnapshotInfo:
        """Snapshot ``namespace`` synchronously and return what was saved.

        ``notebook`` is the notebook's path as the server names it; ``notebook_path``,
        ``notebook_volume_path`` and ``server_root`` name the file whatever the server's root
        (``identity``).

        ``release_written`` is for a forked writer only: it hands each buffer's pages back
        once written (``snapshot.release``), which would zero them in any other process.
        """
        started = time.monotonic()
        variables, modules = capture.user_variables(namespace, hidden)
        captured = capture.capture(variables, host_copies, skip)
        snapshot_id, created = manifests.new_id()
        try:
            with self._lock(exclusive=False):
                manifest, written = write_groups(self.path, captured, release_written)
                sizes = captured.sizes
                manifest.update(
                    format=manifests.FORMAT,
                    id=snapshot_id,
                    created=created,
                    notebook=notebook,
                    notebook_path=notebook_path,
                    notebook_volume_path=notebook_volume_path,
                    server_root=server_root,
                    kernel_id=kernel_id,
                    modules=modules,
                    python=sys.version.split()[0],
                    packages=manifests.package_versions(),
                    history=list(history or []),
                    cells=list(cells or []),
                    execution_count=execution_count,
                    chunk_size=CHUNK_SIZE,
                    variables=[
                        {"name": n, "type": captured.types[n], "bytes": sizes[n]}
                        for g in captured.groups
                        for n in g.names
                    ],
                    skipped=[s.__dict__ for s in captured.skipped],
                    bytes_total=sum(g.nbytes for g in captured.groups),
                    notes=[*(notes or []), *captured.notes],
                )
                manifest["duration_seconds"] = round(time.monotonic() - started, 4)
                # bytes_written counts the manifest too, whose size depends on that number
                manifest["bytes_written"] = written
                for _ in range(3):
                    total = written + len(manifests.manifest_bytes(manifest))
                    if manifest["bytes_written"] == total:
                        break
                    manifest["bytes_written"] = total
                self._commit_manifest(manifest)
        except OSError as err:
            raise SnapshotError(explain_write_error(err, self.path)) from err
        return SnapshotInfo.from_manifest(manifest)

    def _commit_manifest(self, manifest: dict[str, Any]) -> int:
        return manifests.commit(self.snapshots_dir, manifest)

    # ---- reading -----------------------------------------------------------------------
    def _manifest(self, snapshot_id: str, groups: bool = False) -> dict[str, Any]:
        if not valid_snapshot_id(snapshot_id):
            raise SnapshotError(f"{str(snapshot_id)[:80]!r} is not a snapshot id")
        with self._dirs(SNAPSHOTS, CHUNKS) as (snapshots, _chunks):
            return manifests.read_checked(self.path, snapshots, snapshot_id, groups)

    def get(self, snapshot_id: str) -> SnapshotInfo:
        return manifests.info_of(self._manifest(snapshot_id))

    def rebuild_plan(self, snapshot_id: str) -> RebuildPlan:
        """The cells that would rebuild what the snapshot skipped, read from its manifest
        alone: what a user sees before choosing to restore with or without them."""
        return plan_of(self._manifest(snapshot_id))

    def ids(self) -> list[str]:
        """Ids of complete snapshots, newest first (manifests that cannot be read included)."""
        with self._dirs(SNAPSHOTS, CHUNKS) as (snapshots, _chunks):
            return manifests.ids_in(snapshots)

    def list(self, notebook: str | None = None) -> list[SnapshotInfo]:
        """Complete snapshots, newest first; manifests that cannot be read are left out (see
        ``problems``). ``notebook``: only those that recorded that name; ``identity.of_notebook``
        finds a notebook file's, whatever root the servers that took them had."""
        infos, _problems = manifests.scan(self.path)
        return [info for info in infos if notebook is None or info.notebook == notebook]

    def problems(self) -> list[str]:
        """Each manifest that ``list`` leaves out, as ``"<id>: why"``: damaged, of another
        user, writable by others, a link. Every other snapshot stays listed and pruned."""
        return manifests.scan(self.path)[1]

    def open_chunk(self, chunk_id: str) -> int:
        """A read-only descriptor of the chunk file, opened and checked (``chunks.open_chunk``):
        for anything that opens chunks other than ``read_chunk`` (read-ahead hints)."""
        return chunks.open_chunk(self.path, chunk_id)

    def read_chunk(self, chunk_id: str, size: int, into: memoryview | None = None) -> bytes | None:
        """Read and verify one chunk; raises SnapshotError naming the problem."""
        return chunks.read_chunk(self.path, chunk_id, size, into)

    def load(self, snapshot_id: str | None = None, names: list[str] | None = None) -> LoadResult:
        """Read a snapshot (the newest that can be read when no id is given), verifying every
        chunk, under the shared lock: no prune removes it meanwhile."""
        if snapshot_id is not None and not valid_snapshot_id(snapshot_id):
            raise SnapshotError(f"{str(snapshot_id)[:80]!r} is not a snapshot id")
        with self._reading():
            if snapshot_id is None:
                infos, problems = manifests.scan(self.path)
                if not infos:
                    unread = (
                        f" that can be read ({len(problems)} cannot: see `jupyter gpuguard verify`)"
                        if problems
                        else ""
                    )
                    raise SnapshotNotFound(f"there are no snapshots in {self.path}{unread}")
                snapshot_id = infos[0].id
            manifest = self._manifest(snapshot_id, groups=True)
            try:
                return load_manifest(self, manifest, names)
            except (KeyError, TypeError, ValueError) as err:
                raise SnapshotError(
                    f"the manifest of snapshot {snapshot_id} is damaged: {err}"
                ) from err

    # ---- copies kept elsewhere (a replica) ------------------------------------------------
    def export_manifest(self, snapshot_id: str) -> bytes:
        """The manifest of a snapshot as the store writes it, checked, its chunks included:
        what a copy of the snapshot elsewhere stores beside the chunks."""
        return manifests.manifest_bytes(self._manifest(snapshot_id, groups=True))

    def import_chunk(self, chunk_id: str, data: bytes | memoryview) -> bool:
        """Add a chunk fetched from elsewhere as ``chunk_id``, refused unless its content has
        that hash; written as ``save`` writes its own (private, durable, its directory
        synced), under the writers' lock. False when the store had it already."""
        view = memoryview(data).cast("B")
        if not valid_chunk_id(chunk_id) or not chunks.valid_chunk_size(view.nbytes):
            raise SnapshotError(f"{str(chunk_id)[:80]!r} is not a chunk this store could hold")
        created: list[Path] = []
        try:
            with self._lock(exclusive=False):
                try:
                    got, _size, _new, temp = chunks.write_chunk(self.path, view, created)
                    if got != chunk_id:
                        raise SnapshotError(
                            f"chunk {chunk_id[:12]} is damaged (content does not match its hash)"
                        )
                    if temp is not None:
                        chunks.make_durable(self.path, temp, chunk_id)
                        fsync_dir(self.chunk_path(chunk_id).parent)
                        fsync_dir(self.chunks_dir)
                except BaseException:
                    for path in created:  # a renamed one is gone from here: only temps go
                        with contextlib.suppress(OSError):
                            path.unlink()
                    raise
        except OSError as err:
            raise SnapshotError(explain_write_error(err, self.path)) from err
        return temp is not None

    def import_manifest(self, data: bytes) -> SnapshotInfo:
        """Add a snapshot fetched from elsewhere once every chunk it names is here
        (``import_chunk``): its manifest, checked as every manifest read is, goes in last, so
        the store lists only complete snapshots. A snapshot the store has already is kept."""
        try:
            manifest = json.loads(data)
            snapshot_id = manifest["id"] if isinstance(manifest, dict) else None
            if not valid_snapshot_id(snapshot_id):
                raise ValueError("it names no snapshot id")
            manifests._check_fields(manifest)
            manifests._check_groups(manifest)
        except (ValueError, TypeError, KeyError, RecursionError) as err:
            raise SnapshotError(f"the manifest to import is damaged: {str(err)[:200]}") from err
        try:
            with self._lock(exclusive=False):
                for chunk_id, size, _names in manifests.chunks_of(manifest):
                    try:
                        info = os.lstat(self.chunk_path(chunk_id))
                    except FileNotFoundError:
                        raise SnapshotError(
                            f"chunk {chunk_id[:12]} of snapshot {snapshot_id} is missing"
                        ) from None
                    if info.st_size != size or not trusted(info):
                        raise SnapshotError(f"chunk {chunk_id[:12]} is damaged (wrong size)")
                if not (self.snapshots_dir / f"{snapshot_id}.json").exists():
                    self._commit_manifest(manifest)
        except OSError as err:
            raise SnapshotError(explain_write_error(err, self.path)) from err
        return manifests.info_of(manifest)

    # ---- maintenance ---------------------------------------------------------------------
    def delete(self, snapshot_id: str) -> None:
        """Remove one snapshot's manifest; its chunks go at the next prune."""
        if not valid_snapshot_id(snapshot_id):
            raise SnapshotError(f"{str(snapshot_id)[:80]!r} is not a snapshot id")
        with self._dirs(SNAPSHOTS) as (snapshots,):
            try:
                if snapshots is None:
                    raise FileNotFoundError(errno.ENOENT, "no snapshots directory")
                os.unlink(f"{snapshot_id}.json", dir_fd=snapshots)
            except FileNotFoundError:
                raise SnapshotNotFound(
                    f"there is no snapshot {snapshot_id} in {self.path}"
                ) from None
            os.fsync(snapshots)

    def verify(self, snapshot_id: str | None = None) -> VerifyReport:
        """Re-hash every chunk of one snapshot, or of all; report what is damaged, and each
        manifest that cannot be read, as a problem."""
        ids = [snapshot_id] if snapshot_id is not None else self.ids()
        damaged: dict[str, DamagedChunk] = {}
        problems: list[str] = []
        checked: set[str] = set()
        for current in ids:
            try:
                listed = list(manifests.chunks_of(self._manifest(current, groups=True)))
            except SnapshotError as err:
                problems.append(f"{current}: {err}")
                continue
            for chunk_id, size, names in listed:
                if chunk_id in damaged:
                    damaged[chunk_id].variables.extend(
                        n for n in names if n not in damaged[chunk_id].variables
                    )
                    continue
                if chunk_id in checked:
                    continue
                checked.add(chunk_id)
                try:
                    self.read_chunk(chunk_id, size)
                except SnapshotError as err:
                    missing = isinstance(err, ChunkMissing)
                    damaged[chunk_id] = DamagedChunk(chunk_id, str(err), list(names), missing)
        return VerifyReport(ids, len(checked), list(damaged.values()), problems)

    def repair(self, report: VerifyReport, wait: float = 30.0) -> list[str]:
        """Remove the chunks ``report`` found damaged, checking each again under the writers'
        lock; answers the ids removed.

        A damaged chunk of the right size would otherwise be reused by every later snapshot
        of the same data. Once it is gone, the next snapshot of a kernel that still holds
        that data writes it again under the same name, which mends the older snapshots that
        share it too. Only entries of the store's own checked chunk directories are removed
        (a link there goes, not what it points to).
        """
        removed: list[str] = []
        damaged = [d for d in report.damaged if not d.missing and valid_chunk_id(d.chunk)]
        if not damaged:
            return removed
        with self._lock(exclusive=True, wait=wait), self._dirs(CHUNKS) as (directory,):
            if directory is None:
                return removed
            for chunk in damaged:
                path = self.chunks_dir / chunk.chunk[:2] / chunk.chunk
                try:
                    prefix = open_dir(directory, chunk.chunk[:2], path.parent)
                except (FileNotFoundError, SnapshotError):
                    continue  # gone, or a directory this store does not remove through
                try:
                    try:
                        size = os.stat(chunk.chunk, dir_fd=prefix, follow_symlinks=False).st_size
                        self.read_chunk(chunk.chunk, size)
                        continue  # rewritten since the report: intact now
                    except FileNotFoundError:
                        continue
                    except SnapshotError:
                        pass
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(chunk.chunk, dir_fd=prefix)
                        removed.append(chunk.chunk)
                finally:
                    os.close(prefix)
        return removed

    def newest_ids(self) -> list[str]:
        """The newest snapshot of each notebook (and of snapshots without one)."""
        newest: dict[tuple[str, str | None], str] = {}
        for info in self.list():
            newest.setdefault(group_key(info), info.id)
        return list(newest.values())

    def disk_usage(self) -> int:
        total = 0
        for root, _dirs, files in os.walk(self.path):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(root, name)).st_size
        return total

    def prune(
        self, keep: int = 10, max_bytes: int | None = None, wait: float = 30.0
    ) -> PruneReport:
        """Keep the newest ``keep`` snapshots of each notebook, within ``max_bytes``; then
        remove the chunks no manifest references.

        Everything is removed under the exclusive lock: a save and a load hold it shared, so
        nothing they use goes while they run. Manifests that cannot be read are not counted,
        kept or removed: ``problems`` names them.
        """
        if keep < 1:
            raise SnapshotError("prune must keep at least one snapshot")
        if not self.path.exists():
            return PruneReport([], 0, 0)
        self.check_private(self.path)
        with self._lock(exclusive=True, wait=wait):
            removed: list[str] = []
            kept_per_notebook: dict[tuple[str, str | None], int] = {}
            survivors = []
            for info in self.list():  # newest first
                key = group_key(info)
                count = kept_per_notebook.get(key, 0)
                if count >= keep:
                    removed.append(info.id)
                else:
                    kept_per_notebook[key] = count + 1
                    survivors.append(info)
            for snapshot_id in removed:
                with contextlib.suppress(SnapshotError):
                    self.delete(snapshot_id)
            if max_bytes is not None:
                removed += self._shrink(survivors, max_bytes)
            removed_chunks, freed = self._collect_chunks()
        return PruneReport(removed, removed_chunks, freed)

    def _referenced(self) -> tuple[dict[str, int], set[str]]:
        """(chunk -> size for every snapshot that can be read; the chunks named by manifests
        that cannot).

        A manifest that cannot be read still keeps every chunk id it names, found in its raw
        text, whether it is damaged, another user's or writable by others: removing a chunk
        cannot be undone, the manifest may be a real snapshot that a chmod or an edit makes
        readable again, and keeping a chunk only keeps a file of this store's own. A link or
        a special file in place of a manifest names nothing: the store never wrote one.
        """
        sizes: dict[str, int] = {}
        held: set[str] = set()
        with self._dirs(SNAPSHOTS, CHUNKS) as (snapshots, _chunks):
            for snapshot_id in manifests.ids_in(snapshots):
                try:
                    manifest = manifests.read_checked(
                        self.path, snapshots, snapshot_id, groups=True
                    )
                except SnapshotError:
                    held.update(manifests.named_chunks(snapshots, snapshot_id))
                    continue
                for chunk_id, size, _names in manifests.chunks_of(manifest):
                    sizes[chunk_id] = size
        return sizes, held

    def _shrink(self, survivors: list[SnapshotInfo], max_bytes: int) -> list[str]:
        """Drop the oldest snapshots (never the newest one) until the chunks fit ``max_bytes``.

        Only the chunks of snapshots that can be read count: dropping readable snapshots
        would not free what an unreadable manifest holds.
        """
        removed = []
        while len(survivors) > 1 and sum(self._referenced()[0].values()) > max_bytes:
            oldest = survivors.pop()
            with contextlib.suppress(SnapshotError):
                self.delete(oldest.id)
                removed.append(oldest.id)
        return removed

    def _collect_chunks(self) -> tuple[int, int]:
        """Remove unreferenced chunks and every temporary file, under the exclusive lock.

        Writers hold the shared lock from their first temporary file to their manifest's
        rename, so under the exclusive one every ``.tmp-*`` is a killed writer's, whatever
        its age. Nothing is removed through a link or a directory that is not private.
        """
        sizes, held = self._referenced()
        referenced = held.union(sizes)
        removed = freed = 0
        with self._dirs(SNAPSHOTS, CHUNKS) as (snapshots, chunks_fd):
            for prefix in os.listdir(chunks_fd) if chunks_fd is not None else []:
                try:
                    directory = open_dir(chunks_fd, prefix, self.chunks_dir / prefix)
                except (FileNotFoundError, SnapshotError):
                    continue
                try:
                    for name in os.listdir(directory):
                        if name.startswith(".tmp-"):
                            with contextlib.suppress(OSError):
                                os.unlink(name, dir_fd=directory)
                            continue
                        if name not in referenced:
                            with contextlib.suppress(OSError):
                                size = os.stat(name, dir_fd=directory, follow_symlinks=False)
                                os.unlink(name, dir_fd=directory)
                                freed += size.st_size
                                removed += 1
                finally:
                    os.close(directory)
            for name in os.listdir(snapshots) if snapshots is not None else []:
                if name.startswith(".tmp-"):
                    with contextlib.suppress(OSError):
                        os.unlink(name, dir_fd=snapshots)
        return removed, freed
