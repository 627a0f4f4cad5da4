"""The snapshot store on the persistent volume: content-addressed chunks and manifests.

    <store>/chunks/ab/abcdef...   written once, named by their BLAKE3 hash, checked on read
    <store>/snapshots/<id>.json   a manifest: metadata, and variables -> chunks
    <store>/lock                  writers hold it shared, chunk collection holds it exclusive

A snapshot exists once its manifest is renamed into place, after all of its chunks are
durable: killed at any instant, the store lists only complete snapshots.

Everything read back is opened without following links, from directories opened the same way
from the checked store root, and the opened file itself is checked (``fstat``): ours, a plain
file or directory, writable by nobody else. A check by path and an open by path are two lookups
that a rename from a writable parent can tell apart; one open cannot be. Chunk ids and sizes
from a manifest are checked before they name a file or size a read.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import json
import math
import os
import re
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
from .identity import IDENTITY_FIELDS, group_key
from .location import default_store_path
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
# Far above any manifest a kernel writes (its cell history included), far below memory.
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
FORMAT = 1
WRITER_THREADS = max(2, min(4, os.cpu_count() or 2))
CHUNK_ID = re.compile(r"[0-9a-f]{64}")  # BLAKE3's hexdigest
_CHUNK_ID_IN_TEXT = re.compile(rb'"([0-9a-f]{64})"')
T = TypeVar("T")
R = TypeVar("R")
KEY_PACKAGES = ("numpy", "pandas", "torch", "dill", "ipykernel", "IPython", "jupyter_gpuguard")


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


def _make_private_dirs(path: Path) -> None:
    """``mkdir -p`` where every directory made is 0700 whatever the umask; existing ones
    are left as they are."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return
    except FileNotFoundError:
        if path.parent == path:
            raise
        _make_private_dirs(path.parent)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            return
    _tighten(path)


def _tighten(path: Path, follow: bool = False) -> None:
    """chmod 700 the directory at ``path``; what a link there points to only if ``follow``."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags if follow else flags | os.O_NOFOLLOW)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            return  # a link or a file: readers refuse it, with a message saying which
        raise
    try:
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


def valid_chunk_id(chunk_id: object) -> bool:
    """Whether ``chunk_id`` is a name this store could have given a chunk, and so a safe
    file name: nothing from a manifest becomes a path before passing this."""
    return isinstance(chunk_id, str) and CHUNK_ID.fullmatch(chunk_id) is not None


def _shown(value: object) -> str:
    """``value`` for a message: text and numbers shortened, anything else by its type alone
    (the repr of a structure nested thousands deep would itself fail)."""
    if isinstance(value, (str, bytes)):
        return repr(value[:80])
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return repr(value) if value.bit_length() < 128 else "a very large int"
    return f"a {type(value).__name__}"


class _NoSuchSnapshot(SnapshotError):
    """The manifest is not there (a listing raced a delete)."""


def _count(value: object, limit: int | None = None) -> bool:
    """A non-negative int (bool is not a count), at most ``limit``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return False
    return limit is None or value <= limit


def _refuse_stat(info: os.stat_result, path: Path | str, directory: bool) -> None:
    """Raise StoreSecurityError unless ``info`` is a directory (or a plain file) of ours that
    nobody else can write."""
    if directory and not stat.S_ISDIR(info.st_mode):
        raise StoreSecurityError(f"Refusing to read {path}: it is not a directory.")
    if not directory and not stat.S_ISREG(info.st_mode):
        raise StoreSecurityError(f"Refusing to read {path}: it is not a regular file.")
    if info.st_uid != os.getuid():
        raise StoreSecurityError(
            f"Refusing to read {path}: it belongs to another user (uid {info.st_uid})."
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        fix = "chmod 700 on the store" if directory else "chmod 600 on it"
        raise StoreSecurityError(
            f"Refusing to read {path}: other users can write to it "
            f"(mode {stat.S_IMODE(info.st_mode):o}); run {fix}."
        )


def _refuse_link(err: OSError, dir_fd: int, name: str, path: Path) -> None:
    """Turn the error of an ``O_NOFOLLOW`` open into the reason it was refused, if it was."""
    if err.errno not in (errno.ELOOP, errno.ENOTDIR):
        return
    with contextlib.suppress(OSError):
        if stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            raise StoreSecurityError(f"Refusing to read {path}: it is a symbolic link.") from None
    if err.errno == errno.ENOTDIR:
        raise StoreSecurityError(f"Refusing to read {path}: it is not a directory.") from None


def _open_dir(dir_fd: int | None, name: str | Path, path: Path) -> int:
    """Open and check one directory: the store root by its path (a link there is the user's
    choice), anything inside it by name from its checked parent, never through a link."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    try:
        if dir_fd is None:
            fd = os.open(name, flags)
        else:
            fd = os.open(name, flags | os.O_NOFOLLOW, dir_fd=dir_fd)
    except FileNotFoundError:
        raise
    except OSError as err:
        if dir_fd is not None:
            _refuse_link(err, dir_fd, str(name), path)
        if err.errno == errno.ENOTDIR:
            raise SnapshotError(f"the snapshot store at {path} is not a directory") from None
        raise SnapshotError(f"cannot read {path}: {err.strerror or err}") from err
    try:
        _refuse_stat(os.fstat(fd), path, directory=True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_file(dir_fd: int, name: str, path: Path) -> tuple[int, os.stat_result]:
    """Open and check one file in a checked directory, never through a link; O_NONBLOCK so
    that a FIFO planted under the name is refused rather than waited on."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as err:
        _refuse_link(err, dir_fd, name, path)
        raise
    try:
        info = os.fstat(fd)
        _refuse_stat(info, path, directory=False)
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def _trusted(info: os.stat_result) -> bool:
    try:
        _refuse_stat(info, "", directory=False)
    except StoreSecurityError:
        return False
    return True


def _read_at_most(fd: int, limit: int) -> bytes:
    parts = []
    while limit > 0:
        data = os.read(fd, min(limit, 1 << 20))
        if not data:
            break
        parts.append(data)
        limit -= len(data)
    return b"".join(parts)


def _fill(handle: Any, view: memoryview) -> int:
    """Read into ``view`` until it is full or the file ends; answers the bytes read."""
    got = 0
    while got < view.nbytes:
        count = handle.readinto(view[got:])
        if not count:
            break
        got += count
    return got


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
        need(_count(manifest.get(key, 0)), key)
    need(
        records(manifest.get("variables", []), {"name": text, "type": text, "bytes": _count}),
        "variables",
    )
    need(
        records(manifest.get("skipped", []), {"name": text, "type": text, "reason": text}),
        "skipped",
    )
    modules = manifest.get("modules", {})
    need(isinstance(modules, dict) and all(map(text, modules.values())), "modules")
    count = manifest.get("execution_count")
    need(count is None or _count(count), "execution_count")
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
                raise ValueError(f"{_shown(chunk_id)} is not a chunk id")
            if not _count(size, CHUNK_SIZE):
                raise ValueError(f"chunk {chunk_id[:12]} has an impossible size {_shown(size)}")

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
            _make_private_dirs(directory)
            _tighten(directory, follow=directory == self.path)

    def check_private(self, path: Path) -> None:
        """Refuse anything another user could have written: unpickling it would run their code.

        The store root may be reached through a link (the user's choice of path); nothing
        inside it may be a link.
        """
        try:
            info = os.stat(path) if Path(path) == self.path else os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(info.st_mode):
            raise StoreSecurityError(f"Refusing to read {path}: it is a symbolic link.")
        _refuse_stat(info, path, directory=stat.S_ISDIR(info.st_mode))

    @contextlib.contextmanager
    def _dirs(self, *names: str) -> Iterator[list[int | None]]:
        """The named directories of the store (``snapshots``, ``chunks``), each opened from the
        checked root without following links and checked; None for one that does not exist,
        all None when the store does not."""
        opened: list[int] = []
        try:
            try:
                root = _open_dir(None, self.path, self.path)
            except FileNotFoundError:
                found: list[int | None] = [None] * len(names)
            else:
                opened.append(root)
                found = []
                for name in names:
                    try:
                        fd = _open_dir(root, name, self.path / name)
                    except FileNotFoundError:
                        found.append(None)
                        continue
                    opened.append(fd)
                    found.append(fd)
            yield found
        finally:
            for fd in opened:
                os.close(fd)

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
                    raise SnapshotError(f"the snapshot store at {path} is busy (locked)") from None
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
            root = _open_dir(None, self.path, self.path)
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
        if not valid_chunk_id(chunk_id):
            raise SnapshotError(f"{_shown(chunk_id)} is not a chunk id")
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
            info = os.lstat(final)
            if info.st_size == data.nbytes and _trusted(info):
                return chunk_id, data.nbytes, 0, None
            os.unlink(final)  # a truncated copy, or one no reader accepts: write it again
        except FileNotFoundError:
            pass
        _make_private_dirs(final.parent)
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
                    notebook_path=notebook_path,
                    notebook_volume_path=notebook_volume_path,
                    server_root=server_root,
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
    def _read_manifest(self, snapshots: int | None, snapshot_id: str) -> dict[str, Any]:
        """The parsed manifest of ``snapshot_id`` from the checked ``snapshots`` directory."""
        name = f"{snapshot_id}.json"
        path = self.snapshots_dir / name
        if snapshots is None:
            raise _NoSuchSnapshot(f"there is no snapshot {snapshot_id} in {self.path}")
        try:
            fd, info = _open_file(snapshots, name, path)
        except FileNotFoundError:
            raise _NoSuchSnapshot(f"there is no snapshot {snapshot_id} in {self.path}") from None
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
            data = _read_at_most(fd, MAX_MANIFEST_BYTES + 1)
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

    def _checked(
        self, snapshots: int | None, snapshot_id: str, groups: bool = False
    ) -> dict[str, Any]:
        """A manifest whose listed fields (and, with ``groups``, chunks) have the types this
        store writes; SnapshotError naming the first that does not."""
        manifest = self._read_manifest(snapshots, snapshot_id)
        try:
            _check_fields(manifest)
            if groups:
                _check_groups(manifest)
        except ValueError as err:
            raise SnapshotError(
                f"the manifest of snapshot {snapshot_id} is damaged: {err}"
            ) from err
        return manifest

    def _manifest(self, snapshot_id: str, groups: bool = False) -> dict[str, Any]:
        if not valid_snapshot_id(snapshot_id):
            raise SnapshotError(f"{str(snapshot_id)[:80]!r} is not a snapshot id")
        with self._dirs("snapshots", "chunks") as (snapshots, _chunks):
            return self._checked(snapshots, snapshot_id, groups)

    def get(self, snapshot_id: str) -> SnapshotInfo:
        return self._info(self._manifest(snapshot_id))

    @staticmethod
    def _info(manifest: dict[str, Any]) -> SnapshotInfo:
        try:
            return SnapshotInfo.from_manifest(manifest)
        except (KeyError, TypeError, ValueError, OverflowError) as err:
            raise SnapshotError(
                f"the manifest of snapshot {manifest.get('id')} is damaged"
            ) from err

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
        except (KeyError, TypeError, ValueError, RecursionError) as err:
            raise SnapshotError(f"the manifest of snapshot {snapshot_id} is damaged") from err

    @staticmethod
    def _ids_in(snapshots: int | None) -> list[str]:
        if snapshots is None:
            return []
        names = os.listdir(snapshots)
        found = [n[:-5] for n in names if n.endswith(".json") and valid_snapshot_id(n[:-5])]
        return sorted(found, reverse=True)

    def ids(self) -> list[str]:
        """Ids of complete snapshots, newest first (manifests that cannot be read included)."""
        with self._dirs("snapshots", "chunks") as (snapshots, _chunks):
            return self._ids_in(snapshots)

    def _scan(self) -> tuple[list[SnapshotInfo], list[str]]:
        """(the snapshots that can be listed, newest first; ``"<id>: why"`` for each manifest
        that cannot). A store that is not private raises: that is no one manifest's fault."""
        infos = []
        problems = []
        with self._dirs("snapshots", "chunks") as (snapshots, _chunks):
            for snapshot_id in self._ids_in(snapshots):
                try:
                    infos.append(self._info(self._checked(snapshots, snapshot_id)))
                except _NoSuchSnapshot:
                    continue  # deleted while listing
                except SnapshotError as err:
                    problems.append(f"{snapshot_id}: {err}")
        return infos, problems

    def list(self, notebook: str | None = None) -> list[SnapshotInfo]:
        """Complete snapshots, newest first; manifests that cannot be read are left out (see
        ``problems``). ``notebook``: only those that recorded that name; ``identity.of_notebook``
        finds a notebook file's, whatever root the servers that took them had."""
        infos, _problems = self._scan()
        return [info for info in infos if notebook is None or info.notebook == notebook]

    def problems(self) -> list[str]:
        """Each manifest that ``list`` leaves out, as ``"<id>: why"``: damaged, of another
        user, writable by others, a link. Every other snapshot stays listed and pruned."""
        return self._scan()[1]

    def open_chunk(self, chunk_id: str) -> int:
        """A read-only descriptor of the chunk file, opened from the checked root through
        checked directories, never through a link, never blocking on a special file: for
        anything that opens chunks other than ``read_chunk`` (read-ahead hints)."""
        if not valid_chunk_id(chunk_id):
            raise SnapshotError(f"{_shown(chunk_id)} is not a chunk id")
        path = self.chunks_dir / chunk_id[:2] / chunk_id
        with self._dirs("chunks") as (chunks,):
            if chunks is None:
                raise FileNotFoundError(errno.ENOENT, "no chunks directory")
            prefix = _open_dir(chunks, chunk_id[:2], path.parent)
            try:
                fd, _info = _open_file(prefix, chunk_id, path)
            finally:
                os.close(prefix)
        return fd

    def read_chunk(self, chunk_id: str, size: int, into: memoryview | None = None) -> bytes | None:
        """Read and verify one chunk; raises SnapshotError naming the problem.

        Reads at most ``size`` + 1 bytes, whatever the file holds.
        """
        if not valid_chunk_id(chunk_id):
            raise SnapshotError(f"{_shown(chunk_id)} is not a chunk id")
        if not _count(size, CHUNK_SIZE) or (into is not None and into.nbytes != size):
            raise SnapshotError(f"chunk {chunk_id[:12]} has an impossible size {_shown(size)}")
        try:
            fd = self.open_chunk(chunk_id)
        except FileNotFoundError:
            raise SnapshotError(f"chunk {chunk_id[:12]} is missing") from None
        except OSError as err:
            raise SnapshotError(f"chunk {chunk_id[:12]} cannot be read: {err.strerror}") from err
        target = into if into is not None else memoryview(bytearray(size))
        try:
            with open(fd, "rb", buffering=0) as handle:
                got = _fill(handle, target)
                extra = handle.read(1) if got == size else b""
        except OSError as err:
            raise SnapshotError(f"chunk {chunk_id[:12]} cannot be read: {err.strerror}") from err
        if got != size or extra:
            raise SnapshotError(f"chunk {chunk_id[:12]} is damaged (wrong size)")
        if blake3(target).hexdigest() != chunk_id:
            raise SnapshotError(
                f"chunk {chunk_id[:12]} is damaged (content does not match its hash)"
            )
        return None if into is not None else bytes(target)

    def load(self, snapshot_id: str | None = None, names: list[str] | None = None) -> LoadResult:
        """Read a snapshot (the newest that can be read when no id is given), verifying every
        chunk, under the shared lock: no prune removes it meanwhile."""
        if snapshot_id is not None and not valid_snapshot_id(snapshot_id):
            raise SnapshotError(f"{str(snapshot_id)[:80]!r} is not a snapshot id")
        with self._reading():
            if snapshot_id is None:
                infos, problems = self._scan()
                if not infos:
                    unread = (
                        f" that can be read ({len(problems)} cannot: see `jupyter gpuguard verify`)"
                        if problems
                        else ""
                    )
                    raise SnapshotError(f"there are no snapshots in {self.path}{unread}")
                snapshot_id = infos[0].id
            manifest = self._manifest(snapshot_id, groups=True)
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
        with self._dirs("snapshots") as (snapshots,):
            try:
                if snapshots is None:
                    raise FileNotFoundError(errno.ENOENT, "no snapshots directory")
                os.unlink(f"{snapshot_id}.json", dir_fd=snapshots)
            except FileNotFoundError:
                raise SnapshotError(f"there is no snapshot {snapshot_id} in {self.path}") from None
            os.fsync(snapshots)

    @staticmethod
    def _chunks_of(manifest: Mapping[str, Any]) -> Iterator[tuple[str, int, list[str]]]:
        for group in manifest["groups"]:
            for chunk_id, size in group["stream"]:
                yield chunk_id, size, group["names"]
            for buffer in group["buffers"]:
                for chunk_id, size in buffer:
                    yield chunk_id, size, group["names"]

    def verify(self, snapshot_id: str | None = None) -> VerifyReport:
        """Re-hash every chunk of one snapshot, or of all; report what is damaged, and each
        manifest that cannot be read, as a problem."""
        ids = [snapshot_id] if snapshot_id is not None else self.ids()
        damaged: dict[str, DamagedChunk] = {}
        problems: list[str] = []
        checked: set[str] = set()
        for current in ids:
            try:
                chunks = list(self._chunks_of(self._manifest(current, groups=True)))
            except SnapshotError as err:
                problems.append(f"{current}: {err}")
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
        share it too. Only entries of the store's own checked chunk directories are removed
        (a link there goes, not what it points to).
        """
        removed: list[str] = []
        damaged = [
            d for d in report.damaged if "missing" not in d.problem and valid_chunk_id(d.chunk)
        ]
        if not damaged:
            return removed
        with self._lock(exclusive=True, wait=wait), self._dirs("chunks") as (chunks,):
            if chunks is None:
                return removed
            for chunk in damaged:
                path = self.chunks_dir / chunk.chunk[:2] / chunk.chunk
                try:
                    prefix = _open_dir(chunks, chunk.chunk[:2], path.parent)
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
        with self._dirs("snapshots", "chunks") as (snapshots, _chunks):
            for snapshot_id in self._ids_in(snapshots):
                try:
                    manifest = self._checked(snapshots, snapshot_id, groups=True)
                except SnapshotError:
                    held.update(self._named_chunks(snapshots, snapshot_id))
                    continue
                for chunk_id, size, _names in self._chunks_of(manifest):
                    sizes[chunk_id] = size
        return sizes, held

    def _named_chunks(self, snapshots: int | None, snapshot_id: str) -> set[str]:
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
            data = _read_at_most(fd, MAX_MANIFEST_BYTES)
        except OSError:
            return set()
        finally:
            os.close(fd)
        return {match.decode() for match in _CHUNK_ID_IN_TEXT.findall(data)}

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
        with self._dirs("snapshots", "chunks") as (snapshots, chunks):
            for prefix in os.listdir(chunks) if chunks is not None else []:
                try:
                    directory = _open_dir(chunks, prefix, self.chunks_dir / prefix)
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
