"""The snapshot store on the persistent volume: content-addressed chunks and manifests.

    <store>/chunks/ab/abcdef...   written once, named by their BLAKE3 hash, checked on read
    <store>/snapshots/<id>.json   a manifest: metadata, and variables -> chunks
    <store>/lock                  writers hold it shared, chunk collection holds it exclusive

A snapshot exists once its manifest is renamed into place, after all of its chunks are
durable: killed at any instant, the store lists only complete snapshots.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import json
import os
import secrets
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from blake3 import blake3

from . import capture as capture_module
from . import release as release_module
from . import restore as restore_module
from .model import (
    DamagedChunk,
    LoadResult,
    PruneReport,
    SnapshotError,
    SnapshotInfo,
    StoreSecurityError,
    VerifyReport,
    valid_snapshot_id,
)
from .rebuild import RebuildPlan, make_plan

CHUNK_SIZE = 4 * 1024 * 1024
FORMAT = 1
WRITER_THREADS = max(2, min(4, os.cpu_count() or 2))
STALE_TEMP_SECONDS = 3600
T = TypeVar("T")
R = TypeVar("R")
KEY_PACKAGES = ("numpy", "pandas", "torch", "dill", "ipykernel", "IPython", "jupyter_gpuguard")


def default_store_path() -> Path:
    """``$GPUGUARD_STORE``, else ``/workspace/.gpuguard`` (RunPod's volume), else Jupyter's
    data dir."""
    configured = os.environ.get("GPUGUARD_STORE")
    if configured:
        return Path(configured).expanduser()
    workspace = Path("/workspace")
    if workspace.is_dir() and os.access(workspace, os.W_OK):
        return workspace / ".gpuguard"
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "gpuguard"


def _now_id() -> tuple[str, str]:
    now = datetime.now(timezone.utc)
    stamp = now.strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{stamp}-{secrets.token_hex(4)}", now.isoformat(timespec="microseconds")


def _explain_os_error(err: OSError, path: Path) -> str:
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the snapshot store at {path} is full ({err.strerror})"
    if err.errno == errno.EFBIG:
        return f"a file in the snapshot store at {path} exceeds the size limit ({err.strerror})"
    if err.errno == errno.EROFS:
        return f"the snapshot store at {path} is on a read-only file system"
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"no permission to write the snapshot store at {path}"
    return f"cannot write the snapshot store at {path}: {err.strerror or err}"


def _package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in KEY_PACKAGES:
        if name in sys.modules:
            try:
                found[name] = version(name)
            except PackageNotFoundError:
                continue
    return found


def parallel_map(function: Callable[[T], R], items: Sequence[T], threads: int) -> list[R]:
    """``[function(item) for item in items]`` on a few threads, in order.

    Plain threads and a lock created here, not concurrent.futures: this runs in a forked
    child, where a lock some other thread of the parent held at the fork would stay locked.
    """
    results: list[Any] = [None] * len(items)
    errors: list[BaseException] = []
    next_index = iter(range(len(items)))
    lock = threading.Lock()

    def work() -> None:
        while not errors:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            try:
                results[index] = function(items[index])
            except BaseException as err:
                errors.append(err)

    workers = [threading.Thread(target=work, daemon=True) for _ in range(min(threads, len(items)))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return results


def _manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return json.dumps(manifest, indent=1).encode()


DIRECT_ALIGNMENT = 4096
_DIRECT_IO = {"supported": hasattr(os, "O_DIRECT")}
_BOUNCE = threading.local()


def _open_for_writing(path: Path, direct: bool) -> int:
    """A new private file, with O_DIRECT where the file system takes it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    if direct and _DIRECT_IO["supported"]:
        try:
            return os.open(path, flags | os.O_DIRECT, 0o600)
        except OSError as err:
            if err.errno != errno.EINVAL:  # EINVAL: this file system has no direct I/O
                raise
            _DIRECT_IO["supported"] = False
    return os.open(path, flags, 0o600)


def _is_direct(fd: int) -> bool:
    return bool(_DIRECT_IO["supported"] and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)


def _bounce_buffer() -> memoryview:
    """A page-aligned chunk-sized buffer of this thread (anonymous memory is page-aligned)."""
    buffer = getattr(_BOUNCE, "view", None)
    if buffer is None:
        import mmap

        _BOUNCE.memory = mmap.mmap(-1, CHUNK_SIZE)
        buffer = _BOUNCE.view = memoryview(_BOUNCE.memory)
    return buffer


def _start_writeback(fd: int) -> None:
    """Ask the kernel to write the file out now (and to drop clean pages from the cache)."""
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store:
    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self.chunks_dir = self.path / "chunks"
        self.snapshots_dir = self.path / "snapshots"

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # ---- layout and safety -------------------------------------------------------------
    def _ensure(self) -> None:
        for directory in (self.path, self.chunks_dir, self.snapshots_dir):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)

    def check_private(self, path: Path) -> None:
        """Refuse anything another user could have written: unpickling it would run their code."""
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return
        if info.st_uid != os.getuid():
            raise StoreSecurityError(
                f"Refusing to read {path}: it belongs to another user (uid {info.st_uid})."
            )
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise StoreSecurityError(
                f"Refusing to read {path}: other users can write to it "
                f"(mode {stat.S_IMODE(info.st_mode):o}); run chmod 700 on the store."
            )

    @contextlib.contextmanager
    def _lock(self, exclusive: bool, wait: float = 30.0) -> Iterator[None]:
        self._ensure()
        fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise SnapshotError(
                            f"the snapshot store at {self.path} is busy (locked)"
                        ) from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)

    def chunk_path(self, chunk_id: str) -> Path:
        return self.chunks_dir / chunk_id[:2] / chunk_id

    # ---- writing -----------------------------------------------------------------------
    def _write_chunk(
        self, data: memoryview, created: list[Path]
    ) -> tuple[str, int, int, Path | None]:
        """Write one chunk to a temporary file unless the store has it.

        Returns (id, size, bytes written, temporary file). The temporary file becomes the
        chunk in ``_make_durable``: one fsync pass after all writes lets the disk work on
        every chunk at once instead of waiting for each in turn.
        """
        chunk_id = blake3(data).hexdigest()
        final = self.chunk_path(chunk_id)
        try:
            if os.stat(final).st_size == data.nbytes:
                return chunk_id, data.nbytes, 0, None
            os.unlink(final)  # a truncated copy: write it again
        except FileNotFoundError:
            pass
        final.parent.mkdir(mode=0o700, exist_ok=True)
        temp = final.parent / f".tmp-{chunk_id[:16]}-{secrets.token_hex(4)}"
        fd = _open_for_writing(temp, direct=data.nbytes % DIRECT_ALIGNMENT == 0)
        created.append(temp)
        try:
            if _is_direct(fd):
                # Straight to the disk from a reused, aligned buffer: the page cache would
                # need as much fresh memory as the snapshot, which is slow on many VMs.
                bounce = _bounce_buffer()[: data.nbytes]
                bounce[:] = data
                view = bounce
            else:
                view = data
            while view.nbytes:
                written = os.write(fd, view)
                view = view[written:]
            _start_writeback(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        os.close(fd)
        return chunk_id, data.nbytes, data.nbytes, temp

    def _make_durable(self, item: tuple[Path, str]) -> None:
        temp, chunk_id = item
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
            _start_writeback(fd)  # written and synced: drop it from the page cache
        finally:
            os.close(fd)
        os.replace(temp, self.chunk_path(chunk_id))

    @staticmethod
    def _slices(data: memoryview) -> list[memoryview]:
        return [data[o : o + CHUNK_SIZE] for o in range(0, data.nbytes, CHUNK_SIZE)] or [data]

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
    ) -> SnapshotInfo:
        """Snapshot ``namespace`` synchronously and return what was saved.

        ``release_written`` is for a forked writer only: it hands each buffer's pages back
        once written (``snapshot.release``), which would zero them in any other process.
        """
        started = time.monotonic()
        variables, modules = capture_module.user_variables(namespace, hidden)
        captured = capture_module.capture(variables, host_copies, skip)
        snapshot_id, created = _now_id()
        try:
            with self._lock(exclusive=False):
                manifest, written = self._write_groups(captured, release_written)
                sizes = captured.sizes
                manifest.update(
                    format=FORMAT,
                    id=snapshot_id,
                    created=created,
                    notebook=notebook,
                    kernel_id=kernel_id,
                    modules=modules,
                    python=sys.version.split()[0],
                    packages=_package_versions(),
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
                    total = written + len(_manifest_bytes(manifest))
                    if manifest["bytes_written"] == total:
                        break
                    manifest["bytes_written"] = total
                self._commit_manifest(manifest)
        except OSError as err:
            raise SnapshotError(_explain_os_error(err, self.path)) from err
        return SnapshotInfo.from_manifest(manifest)

    def _write_groups(
        self, captured: capture_module.Captured, release_written: bool = False
    ) -> tuple[dict[str, Any], int]:
        layout = []
        pieces: list[memoryview] = []
        # where each piece lives in memory, for the ones the writer may hand back once written
        addresses: list[int | None] = []
        whole = [b.cast("B") for g in captured.groups for b in g.buffers]
        starts = iter(release_module.releasable(whole) if release_written else [None] * len(whole))
        for group in captured.groups:
            stream = self._slices(memoryview(group.stream))
            buffers = [self._slices(buffer.cast("B")) for buffer in group.buffers]
            layout.append((group, len(stream), [len(b) for b in buffers]))
            pieces.extend(stream)
            addresses.extend([None] * len(stream))
            for buffer in buffers:
                start = next(starts)
                pieces.extend(buffer)
                offsets = itertools.accumulate((p.nbytes for p in buffer[:-1]), initial=0)
                addresses.extend(None if start is None else start + offset for offset in offsets)
        created: list[Path] = []

        def write(index: int) -> tuple[str, int, int, Path | None]:
            result = self._write_chunk(pieces[index], created)
            address = addresses[index]
            if address is not None:
                release_module.release(address, pieces[index].nbytes)
            return result

        try:
            written_chunks = parallel_map(write, range(len(pieces)), WRITER_THREADS)
            fresh = [(temp, chunk_id) for chunk_id, _s, _n, temp in written_chunks if temp]
            parallel_map(self._make_durable, fresh, WRITER_THREADS)
        except BaseException:
            for temp in created:  # renamed ones are complete chunks: only temps go
                with contextlib.suppress(OSError):
                    temp.unlink()
            raise
        results = iter(written_chunks)
        groups = []
        written = 0
        touched: set[Path] = set()
        for group, stream_count, buffer_counts in layout:
            stream = [next(results) for _ in range(stream_count)]
            buffers = [[next(results) for _ in range(count)] for count in buffer_counts]
            for chunk_id, _size, new, _temp in itertools.chain(stream, *buffers):
                written += new
                if new:
                    touched.add(self.chunk_path(chunk_id).parent)
            groups.append(
                {
                    "names": group.names,
                    "pickler": group.pickler,
                    "stream": [[c, s] for c, s, _, _ in stream],
                    "buffers": [[[c, s] for c, s, _, _ in chunks] for chunks in buffers],
                }
            )
        for directory in touched:
            _fsync_dir(directory)
        if touched:
            _fsync_dir(self.chunks_dir)
        return {"groups": groups}, written

    def _commit_manifest(self, manifest: dict[str, Any]) -> int:
        data = _manifest_bytes(manifest)
        final = self.snapshots_dir / f"{manifest['id']}.json"
        temp = self.snapshots_dir / f".tmp-{manifest['id']}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view.nbytes:  # a full disk can accept part of a write
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        os.close(fd)
        os.replace(temp, final)
        _fsync_dir(self.snapshots_dir)
        return len(data)

    # ---- reading -----------------------------------------------------------------------
    def _manifest(self, snapshot_id: str) -> dict[str, Any]:
        if not valid_snapshot_id(snapshot_id):
            raise SnapshotError(f"{str(snapshot_id)[:80]!r} is not a snapshot id")
        path = self.snapshots_dir / f"{snapshot_id}.json"
        for guarded in (self.path, self.snapshots_dir, self.chunks_dir, path):
            self.check_private(guarded)
        try:
            manifest = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise SnapshotError(f"there is no snapshot {snapshot_id} in {self.path}") from None
        except (ValueError, OSError) as err:
            raise SnapshotError(
                f"the manifest of snapshot {snapshot_id} is damaged: {err}"
            ) from err
        if not isinstance(manifest, dict) or manifest.get("id") != snapshot_id:
            raise SnapshotError(f"the manifest of snapshot {snapshot_id} is damaged")
        return manifest

    def get(self, snapshot_id: str) -> SnapshotInfo:
        try:
            return SnapshotInfo.from_manifest(self._manifest(snapshot_id))
        except (KeyError, TypeError, ValueError) as err:
            raise SnapshotError(f"the manifest of snapshot {snapshot_id} is damaged") from err

    def rebuild_plan(self, snapshot_id: str) -> RebuildPlan:
        """The cells that would rebuild what the snapshot skipped, read from its manifest
        alone: what a user sees before choosing to restore with or without them."""
        manifest = self._manifest(snapshot_id)
        try:
            available = [v["name"] for v in manifest["variables"]]
            available += list(manifest.get("modules", {}))
            targets = [s["name"] for s in manifest.get("skipped", [])]
            count = manifest.get("execution_count")
            return make_plan(
                [c for c in manifest.get("cells", []) if isinstance(c, dict)],
                available,
                targets,
                count if isinstance(count, int) else None,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise SnapshotError(f"the manifest of snapshot {snapshot_id} is damaged") from err

    def ids(self) -> list[str]:
        """Ids of complete snapshots, newest first."""
        try:
            names = os.listdir(self.snapshots_dir)
        except FileNotFoundError:
            return []
        found = [n[:-5] for n in names if n.endswith(".json") and valid_snapshot_id(n[:-5])]
        return sorted(found, reverse=True)

    def list(self, notebook: str | None = None) -> list[SnapshotInfo]:
        """Complete snapshots, newest first; damaged manifests are left out."""
        infos = []
        for snapshot_id in self.ids():
            try:
                info = self.get(snapshot_id)
            except StoreSecurityError:
                raise
            except SnapshotError:
                continue
            if notebook is None or info.notebook == notebook:
                infos.append(info)
        return infos

    def read_chunk(self, chunk_id: str, size: int, into: memoryview | None = None) -> bytes | None:
        """Read and verify one chunk; raises SnapshotError naming the problem."""
        path = self.chunk_path(chunk_id)
        try:
            with open(path, "rb", buffering=0) as handle:
                if into is not None:
                    got = handle.readinto(into)
                    data: Any = into[:got]
                    extra = handle.read(1)
                else:
                    data = handle.read()
                    extra = b""
        except FileNotFoundError:
            raise SnapshotError(f"chunk {chunk_id[:12]} is missing") from None
        except OSError as err:
            raise SnapshotError(f"chunk {chunk_id[:12]} cannot be read: {err.strerror}") from err
        if len(data) != size or extra:
            raise SnapshotError(f"chunk {chunk_id[:12]} is damaged (wrong size)")
        if blake3(data).hexdigest() != chunk_id:
            raise SnapshotError(
                f"chunk {chunk_id[:12]} is damaged (content does not match its hash)"
            )
        return None if into is not None else bytes(data)

    def load(self, snapshot_id: str | None = None, names: list[str] | None = None) -> LoadResult:
        """Read a snapshot (the newest when no id is given), verifying every chunk."""
        if snapshot_id is None:
            ids = self.ids()
            if not ids:
                raise SnapshotError(f"there are no snapshots in {self.path}")
            snapshot_id = ids[0]
        manifest = self._manifest(snapshot_id)
        try:
            return restore_module.load_manifest(self, manifest, names)
        except (KeyError, TypeError, ValueError) as err:
            raise SnapshotError(
                f"the manifest of snapshot {snapshot_id} is damaged: {err}"
            ) from err

    # ---- maintenance ---------------------------------------------------------------------
    def delete(self, snapshot_id: str) -> None:
        """Remove one snapshot's manifest; its chunks go at the next prune."""
        if not valid_snapshot_id(snapshot_id):
            raise SnapshotError(f"{str(snapshot_id)[:80]!r} is not a snapshot id")
        try:
            os.unlink(self.snapshots_dir / f"{snapshot_id}.json")
        except FileNotFoundError:
            raise SnapshotError(f"there is no snapshot {snapshot_id} in {self.path}") from None
        _fsync_dir(self.snapshots_dir)

    @staticmethod
    def _chunks_of(manifest: Mapping[str, Any]) -> Iterator[tuple[str, int, list[str]]]:
        for group in manifest["groups"]:
            for chunk_id, size in group["stream"]:
                yield chunk_id, size, group["names"]
            for buffer in group["buffers"]:
                for chunk_id, size in buffer:
                    yield chunk_id, size, group["names"]

    def verify(self, snapshot_id: str | None = None) -> VerifyReport:
        """Re-hash every chunk of one snapshot, or of all; report what is damaged."""
        ids = [snapshot_id] if snapshot_id is not None else self.ids()
        damaged: dict[str, DamagedChunk] = {}
        problems: list[str] = []
        checked: set[str] = set()
        for current in ids:
            try:
                manifest = self._manifest(current)
                chunks = list(self._chunks_of(manifest))
            except SnapshotError as err:
                problems.append(f"{current}: {err}")
                continue
            except (KeyError, TypeError, ValueError) as err:
                problems.append(f"{current}: the manifest is damaged ({type(err).__name__}: {err})")
                continue
            for chunk_id, size, names in chunks:
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
                    damaged[chunk_id] = DamagedChunk(chunk_id, str(err), list(names))
        return VerifyReport(ids, len(checked), list(damaged.values()), problems)

    def repair(self, report: VerifyReport, wait: float = 30.0) -> list[str]:
        """Remove the chunks ``report`` found damaged, checking each again under the writers'
        lock; answers the ids removed.

        A damaged chunk of the right size would otherwise be reused by every later snapshot
        of the same data. Once it is gone, the next snapshot of a kernel that still holds
        that data writes it again under the same name, which mends the older snapshots that
        share it too.
        """
        removed = []
        damaged = [d for d in report.damaged if "missing" not in d.problem]
        if not damaged:
            return removed
        with self._lock(exclusive=True, wait=wait):
            for chunk in damaged:
                path = self.chunk_path(chunk.chunk)
                try:
                    size = os.stat(path).st_size
                    self.read_chunk(chunk.chunk, size)
                    continue  # rewritten since the report: intact now
                except FileNotFoundError:
                    continue
                except SnapshotError:
                    pass
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                    removed.append(chunk.chunk)
        return removed

    def newest_ids(self) -> list[str]:
        """The newest snapshot of each notebook (and of snapshots without one)."""
        newest: dict[str | None, str] = {}
        for info in self.list():
            newest.setdefault(info.notebook, info.id)
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
        remove the chunks no manifest references."""
        if keep < 1:
            raise SnapshotError("prune must keep at least one snapshot")
        if not self.path.exists():
            return PruneReport([], 0, 0)
        self.check_private(self.path)
        infos = self.list()
        removed: list[str] = []
        kept_per_notebook: dict[str | None, int] = {}
        survivors = []
        for info in infos:  # newest first
            count = kept_per_notebook.get(info.notebook, 0)
            if count >= keep:
                removed.append(info.id)
            else:
                kept_per_notebook[info.notebook] = count + 1
                survivors.append(info)
        for snapshot_id in removed:
            with contextlib.suppress(SnapshotError):
                self.delete(snapshot_id)
        with self._lock(exclusive=True, wait=wait):
            if max_bytes is not None:
                removed += self._shrink(survivors, max_bytes)
            removed_chunks, freed = self._collect_chunks()
        return PruneReport(removed, removed_chunks, freed)

    def _referenced(self) -> dict[str, int]:
        referenced: dict[str, int] = {}
        for snapshot_id in self.ids():
            try:
                manifest = self._manifest(snapshot_id)
                for chunk_id, size, _names in self._chunks_of(manifest):
                    referenced[chunk_id] = size
            except (SnapshotError, KeyError, TypeError, ValueError):
                continue
        return referenced

    def _shrink(self, survivors: list[SnapshotInfo], max_bytes: int) -> list[str]:
        """Drop the oldest snapshots (never the newest one) until the chunks fit ``max_bytes``."""
        removed = []
        while len(survivors) > 1 and sum(self._referenced().values()) > max_bytes:
            oldest = survivors.pop()
            with contextlib.suppress(SnapshotError):
                self.delete(oldest.id)
                removed.append(oldest.id)
        return removed

    def _collect_chunks(self) -> tuple[int, int]:
        referenced = self._referenced()
        removed = freed = 0
        now = time.time()
        try:
            prefixes = os.listdir(self.chunks_dir)
        except FileNotFoundError:
            return 0, 0
        for prefix in prefixes:
            directory = self.chunks_dir / prefix
            for name in os.listdir(directory):
                path = directory / name
                if name.startswith(".tmp-"):
                    with contextlib.suppress(OSError):
                        if now - path.stat().st_mtime > STALE_TEMP_SECONDS:
                            path.unlink()
                    continue
                if name not in referenced:
                    with contextlib.suppress(OSError):
                        freed += path.stat().st_size
                        path.unlink()
                        removed += 1
        for name in os.listdir(self.snapshots_dir):
            path = self.snapshots_dir / name
            if name.startswith(".tmp-"):
                with contextlib.suppress(OSError):
                    if now - path.stat().st_mtime > STALE_TEMP_SECONDS:
                        path.unlink()
        return removed, freed
